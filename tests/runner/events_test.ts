import type { RunnerEvent } from "../../src/runner/events.ts";
import { createEventHub } from "../../src/runner/events.ts";
import { assertEquals } from "../assert.ts";
import { pipeline } from "../engine/fixtures.ts";
import { completed, testRunner, waitFor } from "./support.ts";

const schedule = (pipeline: string) => ({
  pipeline,
  variables: null,
  user: "tester",
  queuePartition: null,
});

/** `type` or `type:task`, with the job's status flags where they matter. */
function describe(event: RunnerEvent): string {
  switch (event.type) {
    case "task_started":
    case "task_finished":
      return `${event.type}:${event.task.name}:${event.task.status}`;
    case "job_completed":
      return `${event.type}:${
        event.job.canceled ? "canceled" : event.job.errored ? "error" : "ok"
      }`;
    default:
      return event.type;
  }
}

Deno.test("events: a job's changes are published in order", async () => {
  await using t = await testRunner([pipeline({
    name: "build",
    tasks: { a: { script: ["true"] }, b: { script: ["false"], dependsOn: ["a"] } },
    onError: { script: ["true"], env: {}, timeoutMs: null },
  })]);
  const seen: string[] = [];
  t.runner.events.subscribe((event) => seen.push(describe(event)));
  const job = await t.runner.schedule(schedule("build"));
  await completed(t.runner, job.id);
  await waitFor("job_completed", () => seen.includes("job_completed:error"));
  assertEquals(seen, [
    "job_scheduled",
    "job_started",
    "task_started:a:running",
    "task_finished:a:done",
    "task_started:b:running",
    "task_finished:b:error",
    "task_started:on_error:running",
    "task_finished:on_error:done",
    "job_completed:error",
  ]);
});

Deno.test("events: canceling a waiting job completes it without starting it", async () => {
  await using t = await testRunner([pipeline({
    name: "slow",
    concurrency: 1,
    queueLimit: 5,
    tasks: { wait: { script: ["sleep 60"] } },
  })]);
  const seen: string[] = [];
  t.runner.events.subscribe((event) => seen.push(`${describe(event)}@${jobOf(event)}`));
  const first = await t.runner.schedule(schedule("slow"));
  const second = await t.runner.schedule(schedule("slow"));
  await t.runner.cancel(second.id);
  await t.runner.cancel(first.id);
  await completed(t.runner, first.id);
  await waitFor(
    "both completions",
    () => seen.filter((e) => e.startsWith("job_completed")).length === 2,
  );
  assertEquals(seen.filter((e) => e.endsWith(second.id)), [
    `job_scheduled@${second.id}`,
    `job_completed:canceled@${second.id}`,
  ]);
  assertEquals(seen.filter((e) => e.endsWith(first.id)), [
    `job_scheduled@${first.id}`,
    `job_started@${first.id}`,
    `task_started:wait:running@${first.id}`,
    `task_finished:wait:canceled@${first.id}`,
    `job_completed:canceled@${first.id}`,
  ]);
});

Deno.test("events: reloading definitions is published", async () => {
  await using t = await testRunner([pipeline({ name: "a", tasks: { x: { script: ["true"] } } })]);
  const seen: string[] = [];
  t.runner.events.subscribe((event) => seen.push(event.type));
  t.runner.setDefinitions(new Map());
  assertEquals(seen, ["pipelines_reloaded"]);
});

Deno.test("events: a failing listener does not stop the others, unsubscribe stops delivery", () => {
  const hub = createEventHub();
  const seen: string[] = [];
  hub.subscribe(() => {
    throw new Error("listener bug");
  });
  const unsubscribe = hub.subscribe((event) => seen.push(event.type));
  hub.emit({ type: "pipelines_reloaded" });
  unsubscribe();
  hub.emit({ type: "jobs_removed", ids: ["x"] });
  assertEquals(seen, ["pipelines_reloaded"]);
});

function jobOf(event: RunnerEvent): string {
  return "job" in event ? event.job.id : "";
}
