import { assertEquals } from "../assert.ts";
import { changes, createJobBridge } from "../../src/cluster/bridge.ts";
import { createEventHub, type RunnerEvent } from "../../src/runner/events.ts";
import type { Job } from "../../src/engine/job.ts";
import { newJob, pipeline } from "../engine/fixtures.ts";
import { waitFor } from "../runner/support.ts";

const definition = pipeline({ tasks: { a: {}, b: { dependsOn: ["a"] } } });

function types(events: { type: string; task?: { name: string } }[]): string[] {
  return events.map((event) => event.task ? `${event.type}:${event.task.name}` : event.type);
}

Deno.test("changes: a job seen for the first time is scheduled", () => {
  const job = newJob(definition, 100);
  assertEquals(types(changes(undefined, job)), ["job_scheduled"]);
});

Deno.test("changes: a start, a task's start and end, and the job's end, each once", () => {
  const job = newJob(definition, 100);
  const seen = (j: Job) => ({
    start: j.start,
    completed: j.completed,
    tasks: new Map(j.tasks.map((t) => [t.name, `${t.status}/${t.attempt ?? 1}`])),
  });
  const before = seen(job);
  job.start = 200;
  job.tasks[0].status = "running";
  job.tasks[0].start = 200;
  assertEquals(types(changes(before, job)), ["job_started", "task_started:a"]);
  const running = seen(job);
  assertEquals(changes(running, job), []);
  job.tasks[0].status = "done";
  job.tasks[1].status = "done";
  job.tasks[1].start = 300;
  job.completed = true;
  // b started and ended between two looks: both are told.
  assertEquals(types(changes(running, job)), [
    "task_finished:a",
    "task_started:b",
    "task_finished:b",
    "job_completed",
  ]);
});

Deno.test("changes: a failed attempt that waits for its retry has finished", () => {
  const job = newJob(definition, 100);
  job.start = 200;
  job.tasks[0].status = "running";
  job.tasks[0].start = 200;
  const before = {
    start: 200,
    completed: false,
    tasks: new Map([["a", "running/1"], ["b", "waiting/1"]]),
  };
  job.tasks[0].status = "waiting";
  job.tasks[0].retryAt = 900;
  assertEquals(types(changes(before, job)), ["task_finished:a"]);
});

Deno.test("the bridge publishes other nodes' changes marked remote, reading each job", async () => {
  const events = createEventHub();
  const seen: RunnerEvent[] = [];
  events.subscribe((event) => seen.push(event));
  const job = newJob(definition, 100);
  const stored = new Map([[job.id, job]]);
  let reads = 0;
  const bridge = createJobBridge({
    events,
    read: (ids) => {
      reads++;
      return Promise.resolve(
        ids.flatMap((id) => stored.has(id) ? [structuredClone(stored.get(id)!)] : []),
      );
    },
    gatherMs: 1,
  });
  bridge.changed([job.id, job.id]);
  await waitFor("the scheduled job's event", () => seen.length === 1);
  assertEquals(reads, 1, "notifications of the same moment read the job once");
  assertEquals(seen[0].remote, true);
  job.start = 200;
  job.completed = true;
  job.canceled = true;
  bridge.changed([job.id]);
  await waitFor("the job's end", () => seen.some((event) => event.type === "job_completed"));
  assertEquals(types(seen), ["job_scheduled", "job_started", "job_completed"]);
  bridge.changed(["unknown"]);
  bridge.stop();
});

Deno.test("the bridge reads the jobs changed while it reads, together in its next read", async () => {
  const events = createEventHub();
  const seen: RunnerEvent[] = [];
  events.subscribe((event) => seen.push(event));
  const jobs = [1, 2, 3, 4].map((i) => ({ ...newJob(definition, 100 * i), id: `job-${i}` }));
  const reads: string[][] = [];
  const { promise: release, resolve } = Promise.withResolvers<void>();
  const bridge = createJobBridge({
    events,
    read: async (ids) => {
      reads.push([...ids]);
      if (reads.length === 1) await release;
      return ids.map((id) => structuredClone(jobs.find((job) => job.id === id)!));
    },
    gatherMs: 1,
  });
  bridge.changed([jobs[0].id]);
  await waitFor("the first read", () => reads.length === 1);
  // Further than the gathering time apart.
  bridge.changed([jobs[1].id]);
  await new Promise((resolve) => setTimeout(resolve, 20));
  bridge.changed([jobs[2].id, jobs[3].id]);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assertEquals(reads.length, 1, "no second read while the first one runs");
  resolve();
  await waitFor("every job's event", () => seen.length === 4);
  assertEquals(reads, [[jobs[0].id], [jobs[1].id, jobs[2].id, jobs[3].id]]);
  assertEquals(seen.map((event) => "job" in event && event.job.id), jobs.map((job) => job.id));
  bridge.stop();
});

Deno.test("the bridge reads nothing while no listener takes other nodes' events", async () => {
  const events = createEventHub();
  const local: RunnerEvent[] = [];
  events.subscribe((event) => local.push(event), { remote: false });
  const job = newJob(definition, 100);
  const reads: string[][] = [];
  const bridge = createJobBridge({
    events,
    read: (ids) => {
      reads.push([...ids]);
      return Promise.resolve([structuredClone(job)]);
    },
    gatherMs: 1,
  });
  assertEquals(events.followsRemote(), false);
  bridge.changed([job.id]);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assertEquals(reads, [], "nobody follows: nothing is read");
  const remote: RunnerEvent[] = [];
  const unsubscribe = events.subscribe((event) => remote.push(event));
  assertEquals(events.followsRemote(), true);
  job.start = 200;
  bridge.changed([job.id]);
  await waitFor("the job's events", () => remote.length > 0);
  assertEquals(reads, [[job.id]]);
  // First seen now: scheduled and started.
  assertEquals(types(remote), ["job_scheduled", "job_started"]);
  assertEquals(local, [], "a listener of local events gets no remote one");
  unsubscribe();
  unsubscribe();
  assertEquals(events.followsRemote(), false, "unsubscribing twice counts once");
  bridge.stop();
});
