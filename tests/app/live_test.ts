/**
 * The live API against a real prunner process: events of real jobs, following real task
 * output, reconnecting, retention, paging and shutting down with streams open.
 */
import { assert, assertEquals } from "../assert.ts";
import { readSse, type SseMessage, type SseReader } from "../server/sse.ts";
import { bearer, type PrunnerProcess, startPrunner, workspace } from "./support.ts";

const PIPELINES = `
pipelines:
  steps:
    tasks:
      first:
        script:
          - echo one
          - echo two >&2
      second:
        depends_on: [first]
        script:
          - sleep 0.5
          - echo three
          - sleep 0.5
          - echo four
  failing:
    tasks:
      fail:
        script:
          - echo about to fail
          - exit 7
  kept:
    retention_count: 1
    tasks:
      quick:
        script:
          - "true"
  slow:
    concurrency: 1
    tasks:
      wait:
        script:
          - sleep 1
  flaky:
    tasks:
      retried:
        retries: 1
        retry_delay: 0s
        script:
          - "test -f failed-once || { echo first; while [ ! -f go ]; do sleep 0.05; done; touch failed-once; exit 1; }"
          - echo second
`;

async function open(
  prunner: PrunnerProcess,
  path: string,
  headers: Record<string, string> = {},
): Promise<SseReader> {
  const response = await fetch(prunner.url + path, {
    headers: { authorization: await bearer(), ...headers },
  });
  assertEquals(response.status, 200, path);
  return readSse(response);
}

/** Events (not comments) until one of `jobId` named `type` arrived. */
async function eventsUntil(sse: SseReader, type: string, jobId: string): Promise<SseMessage[]> {
  const messages = await sse.collect((m) =>
    m.event === type && JSON.parse(m.data).job?.id === jobId
  );
  return messages.filter((m) => m.event !== null);
}

function summarize(messages: SseMessage[]) {
  const summary = { stdout: "", stderr: "", end: null as unknown };
  for (const m of messages) {
    if (m.event === "stdout" || m.event === "stderr") summary[m.event] += JSON.parse(m.data).text;
    if (m.event === "end") summary.end = JSON.parse(m.data);
  }
  return summary;
}

Deno.test("events and log streams follow a real job from schedule to completion", async () => {
  await using ws = await workspace(PIPELINES);
  await using prunner = await startPrunner(ws);
  const events = await open(prunner, "/events");
  const id = await prunner.schedule("steps", { big: "x".repeat(10_000) });
  const second = await open(prunner, `/job/logs/stream?id=${id}&task=second`);

  const seen = await eventsUntil(events, "job_completed", id);
  const mine = seen.filter((m) => JSON.parse(m.data).job?.id === id);
  assertEquals(mine.map((m) => [m.event, JSON.parse(m.data).task ?? null]), [
    ["job_scheduled", null],
    ["job_started", null],
    ["task_started", "first"],
    ["task_finished", "first"],
    ["task_started", "second"],
    ["task_finished", "second"],
    ["job_completed", null],
  ]);
  assert(mine.every((m) => !m.data.includes("variables")), "no variables in events");
  const completed = JSON.parse(mine.at(-1)!.data).job;
  assertEquals([completed.completed, completed.canceled, completed.errored], [true, false, false]);
  assertEquals(completed.tasks.map((t: { status: string }) => t.status), ["done", "done"]);

  assertEquals(summarize(await second.collect()), {
    stdout: "three\nfour\n",
    stderr: "",
    end: { status: "done", exitCode: 0 },
  });
  const first = await open(prunner, `/job/logs/stream?id=${id}&task=first`);
  assertEquals(summarize(await first.collect()), {
    stdout: "one\n",
    stderr: "two\n",
    end: { status: "done", exitCode: 0 },
  });

  const failing = await prunner.schedule("failing");
  const fail = await open(prunner, `/job/logs/stream?id=${failing}&task=fail`);
  assertEquals(summarize(await fail.collect()), {
    stdout: "about to fail\n",
    stderr: "",
    end: { status: "error", exitCode: 7 },
  });
  const raw = await prunner.request("GET", `/job/logs/raw?id=${failing}&task=fail&stream=stdout`);
  assertEquals(await raw.text(), "about to fail\n");
  await events.cancel();
});

Deno.test("a log stream follows a retried task into its next attempt", async () => {
  await using ws = await workspace(PIPELINES);
  await using prunner = await startPrunner(ws);
  const id = await prunner.schedule("flaky");
  const follower = await open(prunner, `/job/logs/stream?id=${id}&task=retried`);
  const [first] = await follower.collect((m) => m.event === "stdout");
  assertEquals(JSON.parse(first.data), { text: "first\n" });
  await Deno.writeTextFile(`${ws.root}/go`, "");
  const rest = summarize(await follower.collect());
  assertEquals(rest, { stdout: "second\n", stderr: "", end: { status: "done", exitCode: 0 } });
  const job = await prunner.completed(id);
  assertEquals(job.tasks[0].status, "done");
});

Deno.test("a client reconnecting with Last-Event-ID gets what it missed; retention is an event", async () => {
  await using ws = await workspace(PIPELINES);
  await using prunner = await startPrunner(ws);
  const events = await open(prunner, "/events");
  const old = await prunner.schedule("kept");
  const seen = await eventsUntil(events, "job_completed", old);
  await events.cancel();
  const lastId = seen.at(-1)!.id!;

  const missed = await prunner.schedule("kept");
  await prunner.completed(missed);
  const again = await open(prunner, "/events", { "last-event-id": lastId });
  const replayed = await eventsUntil(again, "job_completed", missed);
  assertEquals(replayed[0].event, "job_scheduled", "replay starts right after the last id");
  assertEquals(JSON.parse(replayed[0].data).job.id, missed);
  const removed = await again.collect((m) => m.event === "jobs_removed");
  assertEquals(JSON.parse(removed.at(-1)!.data), { ids: [old] }, "retention removed the old job");
  await again.cancel();

  const stale = await open(prunner, "/events", { "last-event-id": "00000000.1" });
  assertEquals((await stale.next())?.event, "reload");
  await stale.cancel();
});

Deno.test("paging and pipeline status against real jobs", async () => {
  await using ws = await workspace(PIPELINES);
  await using prunner = await startPrunner(ws);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push(await prunner.schedule("failing"));
  for (const id of ids) await prunner.completed(id);
  const steps = await prunner.schedule("steps");
  await prunner.completed(steps);

  const all = await prunner.json<{ jobs: { id: string }[] }>("GET", "/pipelines/jobs");
  const walked: string[] = [];
  let path = "/pipelines/jobs?limit=2";
  while (true) {
    const page = await prunner.json<{ jobs: { id: string }[]; next?: string }>("GET", path);
    walked.push(...page.jobs.map((job) => job.id));
    if (!page.next) break;
    path = `/pipelines/jobs?limit=2&before=${page.next}`;
  }
  assertEquals(walked, all.jobs.map((job) => job.id));
  const failing = await prunner.json<{ jobs: { id: string }[] }>(
    "GET",
    "/pipelines/jobs?pipeline=failing",
  );
  assertEquals(failing.jobs.map((job) => job.id).sort(), [...ids].sort());

  const slow = await prunner.schedule("slow");
  await prunner.schedule("slow");
  const status = await prunner.json<{ pipelines: Record<string, unknown>[] }>(
    "GET",
    "/pipelines/status",
  );
  const row = status.pipelines.find((p) => p.pipeline === "slow");
  assertEquals(row, {
    pipeline: "slow",
    schedulable: true,
    running: true,
    runningJobs: 1,
    waitingJobs: 1,
  });
  await prunner.completed(slow);
});

Deno.test("prunner stops on SIGINT while event and log streams are open", async () => {
  await using ws = await workspace(PIPELINES);
  await using prunner = await startPrunner(ws);
  const events = await open(prunner, "/events");
  const running = await prunner.schedule("slow");
  const waiting = await prunner.schedule("slow");
  const follower = await open(prunner, `/job/logs/stream?id=${waiting}&task=wait`);
  await eventsUntil(events, "job_started", running);
  assertEquals(await prunner.stop("SIGINT"), 0);
  const rest = await events.collect();
  assert(
    rest.some((m) => m.event === "job_completed" && JSON.parse(m.data).job.id === running),
    "the running job's completion was sent before the stream ended",
  );
  assertEquals(summarize(await follower.collect()).end, null, "the waiting task did not end");
});
