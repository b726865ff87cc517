import { checkDeadlines } from "../../src/engine/deadlines.ts";
import type { Job } from "../../src/engine/job.ts";
import {
  cancelJobTasks,
  canResume,
  finishTask,
  isSettled,
  markJobInterrupted,
  markJobStarted,
  markTaskStarted,
  nextRetryAt,
  readyTasks,
  type RetryPolicy,
} from "../../src/engine/task_graph.ts";
import type { TaskDefinition } from "../../src/definition/types.ts";
import { assert, assertEquals } from "../assert.ts";
import { newJob, pipeline } from "./fixtures.ts";

const OK = { exitCode: 0, error: null, killed: false };
const FAIL = { exitCode: 42, error: "exit status 42", killed: false };
const KILLED = { exitCode: -1, error: null, killed: true };

function jobOf(tasks: Record<string, Partial<TaskDefinition>>, timeoutMs: number | null = null) {
  const definition = pipeline({ tasks, timeoutMs });
  return { job: newJob(definition), definition };
}

function task(job: Job, name: string) {
  return job.tasks.find((t) => t.name === name)!;
}

function retry(retries: number, retryDelayMs = 0, retryOnTimeout = false): RetryPolicy {
  return { retries, retryDelayMs, retryOnTimeout };
}

Deno.test("a failed task waits out its retry delay, then is ready for its next attempt", () => {
  const { job } = jobOf({ a: {}, b: { dependsOn: ["a"] } });
  markTaskStarted(task(job, "a"), 100);
  assertEquals(task(job, "a").attempt, 1);
  assertEquals(finishTask(job, task(job, "a"), FAIL, false, 200, retry(2, 5000)), []);
  const a = task(job, "a");
  assertEquals([a.status, a.retryAt, a.error, a.exitCode], ["waiting", 5200, "exit status 42", 42]);
  assertEquals([a.errored, job.errored, job.lastError], [false, false, null]);
  assertEquals(task(job, "b").status, "waiting", "dependents keep waiting");
  assertEquals(isSettled(job), false);
  assertEquals(nextRetryAt(job), 5200);
  assertEquals(readyTasks(job, 5199), []);
  assertEquals(readyTasks(job, 5200).map((t) => t.name), ["a"]);

  markTaskStarted(a, 5300);
  assertEquals([a.attempt, a.start, a.end, a.error, a.retryAt], [2, 5300, null, null, undefined]);
  assertEquals(nextRetryAt(job), null);
  finishTask(job, a, OK, false, 5400, retry(2, 5000));
  assertEquals([a.status, a.attempt], ["done", 2]);
  assertEquals(readyTasks(job, 5400).map((t) => t.name), ["b"]);
});

Deno.test("once its retries are used up a task fails as without retries: fail-fast applies", () => {
  const { job } = jobOf({ a: {}, b: {}, c: { dependsOn: ["a"] } });
  markTaskStarted(task(job, "b"), 0);
  for (let attempt = 1; attempt <= 2; attempt++) {
    markTaskStarted(task(job, "a"), attempt * 10);
    finishTask(job, task(job, "a"), FAIL, false, attempt * 10 + 1, retry(1));
  }
  const a = task(job, "a");
  assertEquals([a.status, a.attempt, a.errored, a.retryAt], ["error", 2, true, undefined]);
  assertEquals(job.lastError, 'task "a" failed: exit status 42');
  assertEquals(task(job, "c").status, "skipped");
  assertEquals(task(job, "b").status, "running");
});

Deno.test("a killed task is not retried, and canceling a job cancels a retry wait", () => {
  const { job } = jobOf({ a: {}, b: {} });
  markTaskStarted(task(job, "a"), 0);
  markTaskStarted(task(job, "b"), 0);
  finishTask(job, task(job, "a"), KILLED, false, 1, retry(3));
  assertEquals(task(job, "a").status, "canceled");
  finishTask(job, task(job, "b"), FAIL, true, 1, retry(3, 1000));
  assertEquals(task(job, "b").status, "waiting");
  assertEquals(cancelJobTasks(job), []);
  assertEquals([task(job, "b").status, task(job, "b").retryAt], ["canceled", undefined]);
  assert(isSettled(job));
});

Deno.test("a failure in a canceled job is not retried", () => {
  const { job } = jobOf({ a: {} });
  markTaskStarted(task(job, "a"), 0);
  cancelJobTasks(job);
  finishTask(job, task(job, "a"), FAIL, false, 1, retry(3));
  assertEquals(task(job, "a").status, "error");
});

Deno.test("a task timeout fails the task with the limit in its error", () => {
  const { job, definition } = jobOf({ a: { timeoutMs: 600_000 }, b: { dependsOn: ["a"] } });
  markJobStarted(job, 0);
  markTaskStarted(task(job, "a"), 1000);
  assertEquals(checkDeadlines(job, definition, 2000), { stop: [], nextAt: 601_000 });
  assertEquals(checkDeadlines(job, definition, 601_000), { stop: ["a"], nextAt: null });
  assertEquals(checkDeadlines(job, definition, 601_001), { stop: [], nextAt: null }, "only once");
  finishTask(job, task(job, "a"), KILLED, false, 601_500, retry(2));
  const a = task(job, "a");
  assertEquals([a.status, a.errored, a.error], ["error", true, "timed out after 10m"]);
  assertEquals(a.timeout, undefined);
  assertEquals(job.lastError, 'task "a" failed: timed out after 10m');
  assertEquals(task(job, "b").status, "skipped");
});

Deno.test("a timed-out attempt is retried only with retry_on_timeout, with a fresh limit", () => {
  const { job, definition } = jobOf({ a: { timeoutMs: 1000 } });
  markJobStarted(job, 0);
  const a = task(job, "a");
  markTaskStarted(a, 0);
  assertEquals(checkDeadlines(job, definition, 1000).stop, ["a"]);
  finishTask(job, a, KILLED, false, 1100, retry(1, 0, true));
  assertEquals([a.status, a.error], ["waiting", "timed out after 1s"]);
  markTaskStarted(a, 1200);
  assertEquals(checkDeadlines(job, definition, 1300).nextAt, 2200);
  assertEquals(checkDeadlines(job, definition, 2200).stop, ["a"]);
  finishTask(job, a, KILLED, false, 2300, retry(1, 0, true));
  assertEquals([a.status, a.attempt], ["error", 2]);
});

Deno.test("a pipeline timeout stops the job's tasks and names itself in lastError", () => {
  const { job, definition } = jobOf({
    a: {},
    b: { timeoutMs: 60_000 },
    c: { dependsOn: ["a"] },
    d: {},
  }, 3_600_000);
  markJobStarted(job, 1000);
  markTaskStarted(task(job, "a"), 1000);
  markTaskStarted(task(job, "b"), 1000);
  markTaskStarted(task(job, "d"), 1000);
  finishTask(job, task(job, "d"), FAIL, true, 2000, retry(1, 10_000_000));
  assertEquals(checkDeadlines(job, definition, 2000), { stop: [], nextAt: 61_000 });
  // b's own limit passes first, then the pipeline's.
  assertEquals(checkDeadlines(job, definition, 61_000).stop, ["b"]);
  assertEquals(checkDeadlines(job, definition, 61_000).nextAt, 3_601_000);
  const decision = checkDeadlines(job, definition, 3_601_000);
  assertEquals(decision, { stop: ["a"], nextAt: null });
  assertEquals(job.lastError, "pipeline timed out after 1h");
  assertEquals(job.errored, true);
  assertEquals(task(job, "c").status, "canceled");
  assertEquals([task(job, "d").status, task(job, "d").errored], ["error", true], "retry wait ends");
  finishTask(job, task(job, "a"), KILLED, true, 3_602_000, retry(5, 0, true));
  assertEquals([task(job, "a").status, task(job, "a").error], [
    "error",
    "pipeline timed out after 1h",
  ]);
  finishTask(job, task(job, "b"), KILLED, true, 3_602_000);
  assertEquals(task(job, "b").error, "timed out after 1m");
  assert(isSettled(job));
  assertEquals(job.lastError, "pipeline timed out after 1h", "the pipeline timeout stays named");
});

Deno.test("on_error has its own timeout and outlives the pipeline timeout", () => {
  const definition = pipeline({
    tasks: { a: {} },
    timeoutMs: 1000,
    onError: { script: [], env: {}, timeoutMs: 5000 },
  });
  const job = newJob(definition);
  markJobStarted(job, 0);
  job.tasks.push({ ...job.tasks[0], name: "on_error", status: "waiting" });
  job.tasks[0].status = "error";
  const onError = job.tasks[1];
  markTaskStarted(onError, 2000);
  assertEquals(checkDeadlines(job, definition, 3000), { stop: [], nextAt: 7000 });
  assertEquals(job.lastError, null, "nothing left for the pipeline timeout to stop");
  assertEquals(checkDeadlines(job, definition, 7000).stop, ["on_error"]);
});

Deno.test("a job waiting out a retry delay can resume after a restart; a running one cannot", () => {
  const { job } = jobOf({ a: {}, b: {} });
  assertEquals(canResume(job), false, "not started");
  markJobStarted(job, 0);
  markTaskStarted(task(job, "a"), 0);
  finishTask(job, task(job, "a"), FAIL, true, 1, retry(1, 1000));
  assertEquals(canResume(job), true);
  markTaskStarted(task(job, "b"), 2);
  assertEquals(canResume(job), false, "b's outcome is lost");
  markJobInterrupted(job, "interrupted", 3);
  assertEquals([task(job, "a").status, task(job, "a").retryAt], ["canceled", undefined]);
});
