/**
 * `GET /job/logs/stream` in a cluster: a task whose job another node runs is followed in the
 * shared log store (here an in-memory one), from the offset sent on, woken by its notices.
 */
import { assert, assertEquals } from "../assert.ts";
import type { Job } from "../../src/engine/job.ts";
import { followLog, type TaskEnd } from "../../src/server/log_follow.ts";
import type { LogStore, LogStream } from "../../src/store/types.ts";
import { fakeRunner, makeJob, makeTask, startTestServer, type TestServer } from "./support.ts";
import { readSse, type SseMessage } from "./sse.ts";
import { waitFor } from "../runner/support.ts";

const encoder = new TextEncoder();

/** A shared log store in memory, as the follower uses it. */
interface MemoryLogs extends Pick<LogStore, "read" | "watchOutput"> {
  /** Stores more output of an attempt and, unless `quiet`, tells the job's watchers. */
  append(
    jobId: string,
    task: string,
    stream: LogStream,
    text: string,
    options?: { attempt?: number; quiet?: boolean },
  ): void;
  /** Reads asked for so far. */
  reads: number;
  /** While set, reads reject with it. */
  failing: Error | null;
  /** How many watchers listen. */
  watchers(): number;
}

function memoryLogs(): MemoryLogs {
  const streams = new Map<string, Uint8Array>();
  const watchers = new Map<string, Set<() => void>>();
  const key = (jobId: string, task: string, stream: LogStream, attempt: number) =>
    JSON.stringify([jobId, task, stream, attempt]);
  const logs: MemoryLogs = {
    reads: 0,
    failing: null,
    append(jobId, task, stream, text, { attempt = 1, quiet = false } = {}) {
      const k = key(jobId, task, stream, attempt);
      const before = streams.get(k) ?? new Uint8Array(0);
      streams.set(k, new Uint8Array([...before, ...encoder.encode(text)]));
      if (!quiet) { for (const listener of watchers.get(jobId) ?? []) listener(); }
    },
    read(jobId, task, stream, attempt, offset, maxBytes) {
      logs.reads++;
      if (logs.failing) return Promise.reject(logs.failing);
      const bytes = streams.get(key(jobId, task, stream, attempt)) ?? new Uint8Array(0);
      return Promise.resolve(bytes.slice(offset, offset + maxBytes));
    },
    watchOutput(jobId, listener) {
      let set = watchers.get(jobId);
      if (!set) watchers.set(jobId, set = new Set());
      const own = () => listener();
      set.add(own);
      return () => set.delete(own);
    },
    watchers: () => [...watchers.values()].reduce((sum, set) => sum + set.size, 0),
  };
  return logs;
}

/** A running task of a job that node `b` runs. */
function remoteJob(node = "b"): Job {
  return makeJob({
    start: 1_000,
    node,
    tasks: [makeTask({ name: "build", status: "running", start: 1_000 })],
  });
}

/** Marks the task ended and tells the event hub, as the bridge of other nodes' events does. */
function finish(server: TestServer, job: Job, status: "done" | "error" = "done", exitCode = 0) {
  const task = job.tasks[0];
  Object.assign(task, { status, exitCode, errored: status === "error" });
  server.runner.events.emit({ type: "task_finished", job, task });
}

function summarize(messages: SseMessage[]) {
  const summary = { stdout: "", stderr: "", end: null as unknown };
  for (const message of messages) {
    if (message.event === "stdout" || message.event === "stderr") {
      summary[message.event] += JSON.parse(message.data).text;
    } else if (message.event === "end") {
      summary.end = JSON.parse(message.data);
    }
  }
  return summary;
}

/** Messages until the collected ones hold `text` on stdout. */
async function untilStdout(sse: ReturnType<typeof readSse>, text: string) {
  const got: SseMessage[] = [];
  await sse.collect((m) => {
    got.push(m);
    return summarize(got).stdout.includes(text);
  });
  return got;
}

async function cluster(
  job: Job,
  logs: MemoryLogs,
  streams: { logStorePollMs?: number; logSettleMs?: number } = {},
) {
  const server = await startTestServer(
    fakeRunner([job]),
    {
      logPollMs: 10,
      logStorePollMs: 60_000,
      logSettleMs: 50,
      ...streams,
    },
    undefined,
    { node: "a", logs },
  );
  // A file of the same name here is another node's business: it must not be read.
  const path = server.runner.logPath(job.id, "build", "stdout");
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(path, "not this node's output\n");
  return server;
}

Deno.test("a task another node runs is followed in the store, step by step, then end", async () => {
  const job = remoteJob();
  const logs = memoryLogs();
  await using server = await cluster(job, logs);
  logs.append(job.id, "build", "stdout", "one\n");
  const sse = readSse(await server.request(`/job/logs/stream?id=${job.id}&task=build`));
  const all: SseMessage[] = [];
  // Every read a minute apart without a notice: only the notices bring the steps.
  all.push(...await untilStdout(sse, "one\n"));
  logs.append(job.id, "build", "stderr", "warning\n");
  logs.append(job.id, "build", "stdout", "two\n");
  all.push(...await untilStdout(sse, "two\n"));
  assertEquals(summarize(all).end, null, "no end while the task runs");
  logs.append(job.id, "build", "stdout", "three\n");
  finish(server, job, "error", 3);
  all.push(...await sse.collect());
  assertEquals(summarize(all), {
    stdout: "one\ntwo\nthree\n",
    stderr: "warning\n",
    end: { status: "error", exitCode: 3 },
  });
  assertEquals(all.at(-1)?.event, "end");
  await waitFor("the follower to stop watching the store", () => logs.watchers() === 0);
});

Deno.test("without notices the store is read again now and then", async () => {
  const job = remoteJob();
  const logs = memoryLogs();
  await using server = await cluster(job, logs, { logStorePollMs: 20 });
  const sse = readSse(await server.request(`/job/logs/stream?id=${job.id}&task=build`));
  logs.append(job.id, "build", "stdout", "missed notice\n", { quiet: true });
  await untilStdout(sse, "missed notice\n");
  logs.append(job.id, "build", "stdout", "last\n", { quiet: true });
  finish(server, job);
  assertEquals(summarize(await sse.collect()), {
    stdout: "last\n",
    stderr: "",
    end: { status: "done", exitCode: 0 },
  });
});

Deno.test("output another node stores after the task's end is still sent before end", async () => {
  const job = remoteJob();
  const logs = memoryLogs();
  await using server = await cluster(job, logs, { logSettleMs: 3000 });
  const sse = readSse(await server.request(`/job/logs/stream?id=${job.id}&task=build`));
  logs.append(job.id, "build", "stdout", "first\n");
  await untilStdout(sse, "first\n");
  const reads = logs.reads;
  finish(server, job);
  // The follower looks at both streams after the end and finds nothing; then the last ship
  // commits.
  await waitFor("the store to be read after the end", () => logs.reads >= reads + 2);
  logs.append(job.id, "build", "stdout", "late\n");
  assertEquals(summarize(await sse.collect()), {
    stdout: "late\n",
    stderr: "",
    end: { status: "done", exitCode: 0 },
  });
});

Deno.test("a job that starts on another node after the stream began is followed there", async () => {
  const job = makeJob({ tasks: [makeTask({ name: "build" })] });
  const logs = memoryLogs();
  await using server = await cluster(job, logs);
  await server.runner.removeLogs();
  const sse = readSse(await server.request(`/job/logs/stream?id=${job.id}&task=build`));
  await waitFor("the follower to watch the task", () => server.runner.listeners() > 0);
  assertEquals(logs.reads, 0, "a job no node runs yet is not looked for in the store");

  const task = job.tasks[0];
  Object.assign(job, { node: "b", start: 1_000 });
  Object.assign(task, { status: "running", start: 1_000, attempt: 1 });
  server.runner.events.emit({ type: "task_started", job, task });
  logs.append(job.id, "build", "stdout", "attempt one\n");
  await untilStdout(sse, "attempt one\n");

  // The attempt fails and is retried: the follower goes on with the second attempt's output.
  Object.assign(task, { status: "waiting", exitCode: 1, errored: true, retryAt: Date.now() });
  server.runner.events.emit({ type: "task_finished", job, task });
  logs.append(job.id, "build", "stdout", "one's last words\n");
  Object.assign(task, { status: "running", attempt: 2, exitCode: 0, errored: false });
  delete task.retryAt;
  server.runner.events.emit({ type: "task_started", job, task });
  logs.append(job.id, "build", "stdout", "attempt two\n", { attempt: 2 });
  finish(server, job);
  assertEquals(summarize(await sse.collect()), {
    stdout: "one's last words\nattempt two\n",
    stderr: "",
    end: { status: "done", exitCode: 0 },
  });
});

Deno.test("a task this node runs is followed in its files, never in the store", async () => {
  const job = remoteJob("a");
  const logs = memoryLogs();
  logs.append(job.id, "build", "stdout", "stored\n");
  await using server = await cluster(job, logs);
  const sse = readSse(await server.request(`/job/logs/stream?id=${job.id}&task=build`));
  await untilStdout(sse, "not this node's output\n");
  finish(server, job);
  assertEquals(summarize(await sse.collect()).end, { status: "done", exitCode: 0 });
  assertEquals(logs.reads, 0);
});

Deno.test("a failing store is reported once, read again, and the stream goes on", async () => {
  const logs = memoryLogs();
  const jobId = crypto.randomUUID();
  const ended = Promise.withResolvers<TaskEnd>();
  const errors: unknown[] = [];
  logs.append(jobId, "build", "stdout", "before\n");
  logs.failing = new Error("the database is away");
  const body = followLog({
    paths: () => ({ stdout: "/nonexistent/stdout", stderr: "/nonexistent/stderr" }),
    watch: () => ({ ended: ended.promise, attempt: () => 1, node: () => "b" }),
    stored: {
      node: "a",
      read: (stream, attempt, offset, maxBytes) =>
        logs.read(jobId, "build", stream, attempt, offset, maxBytes),
      watch: (listener) => logs.watchOutput!(jobId, listener),
    },
    storePollMs: 10,
    settleMs: 10,
    keepaliveMs: 60_000,
    onError: (error) => errors.push(error),
  });
  const sse = readSse(new Response(body));
  const pending = sse.collect();
  await waitFor("several failed reads", () => logs.reads >= 10);
  // The task ends meanwhile: without a working store, the follower cannot know it sent all.
  ended.resolve({ status: "done", exitCode: 0 });
  await waitFor("more failed reads", () => logs.reads >= 20);
  assertEquals(errors.length, 1, "reported once until a read works");
  assert(errors[0] instanceof Error && errors[0].message === "the database is away");
  logs.failing = null;
  assertEquals(summarize(await pending), {
    stdout: "before\n",
    stderr: "",
    end: { status: "done", exitCode: 0 },
  });
});
