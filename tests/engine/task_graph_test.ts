import type { Job } from "../../src/engine/job.ts";
import {
  addOnErrorTask,
  cancelJobTasks,
  finishTask,
  firstFailedTask,
  isSettled,
  markJobInterrupted,
  markTaskStarted,
  needsOnError,
  readyTasks,
} from "../../src/engine/task_graph.ts";
import type { TaskDefinition } from "../../src/definition/types.ts";
import { assert, assertEquals } from "../assert.ts";
import { newJob, pipeline } from "./fixtures.ts";

const OK = { exitCode: 0, error: null, killed: false };
const FAIL = { exitCode: 42, error: "exit status 42", killed: false };
const KILLED = { exitCode: -1, error: null, killed: true };

function jobOf(tasks: Record<string, Partial<TaskDefinition>>): Job {
  return newJob(pipeline({ tasks }), 1000);
}

function task(job: Job, name: string) {
  return job.tasks.find((t) => t.name === name)!;
}

function statuses(job: Job): Record<string, string> {
  return Object.fromEntries(job.tasks.map((t) => [t.name, t.status]));
}

Deno.test("createJob orders tasks topologically, ties by name", () => {
  const job = jobOf({
    deploy: { dependsOn: ["test", "build"] },
    test: { dependsOn: ["build"] },
    build: {},
    lint: {},
    a_docs: {},
  });
  assertEquals(job.tasks.map((t) => t.name), ["a_docs", "build", "lint", "test", "deploy"]);
  assert(job.tasks.every((t) => t.status === "waiting"));
  assertEquals(job.created, 1000);
  assertEquals(job.completed, false);
});

Deno.test("a task is ready once all its dependencies are done", () => {
  const job = jobOf({ a: {}, b: {}, c: { dependsOn: ["a", "b"] } });
  assertEquals(readyTasks(job, 0).map((t) => t.name), ["a", "b"]);
  markTaskStarted(task(job, "a"), 1);
  markTaskStarted(task(job, "b"), 1);
  assertEquals(readyTasks(job, 0), []);
  finishTask(job, task(job, "a"), OK, false, 2);
  assertEquals(readyTasks(job, 0), []);
  finishTask(job, task(job, "b"), OK, false, 3);
  assertEquals(readyTasks(job, 0).map((t) => t.name), ["c"]);
});

Deno.test("fail-fast: a failure cancels waiting tasks and asks to kill running ones", () => {
  const job = jobOf({ a: {}, b: {}, c: {}, d: { dependsOn: ["a"] } });
  for (const name of ["a", "b"]) markTaskStarted(task(job, name), 1);
  const toKill = finishTask(job, task(job, "a"), FAIL, false, 2);
  assertEquals(toKill, ["b"]);
  assertEquals(statuses(job), { a: "error", b: "running", c: "canceled", d: "skipped" });
  assertEquals(task(job, "a").exitCode, 42);
  assertEquals(task(job, "a").error, "exit status 42");
  assertEquals(job.errored, true);
  assertEquals(job.lastError, 'task "a" failed: exit status 42');
  finishTask(job, task(job, "b"), KILLED, false, 3);
  assertEquals(task(job, "b").status, "canceled");
  assertEquals(task(job, "b").errored, false);
  assert(isSettled(job));
});

Deno.test("continue after failure: only dependents of the failed task are skipped", () => {
  const job = jobOf({ a: {}, b: {}, c: { dependsOn: ["a"] }, d: { dependsOn: ["c"] }, e: {} });
  markTaskStarted(task(job, "a"), 1);
  markTaskStarted(task(job, "b"), 1);
  assertEquals(finishTask(job, task(job, "a"), FAIL, true, 2), []);
  assertEquals(statuses(job), {
    a: "error",
    b: "running",
    c: "skipped",
    d: "skipped",
    e: "waiting",
  });
  assertEquals(readyTasks(job, 0).map((t) => t.name), ["e"]);
});

Deno.test("allow_failure: a task that succeeds with a failing line's code lets dependents run", () => {
  const job = jobOf({ a: { allowFailure: true }, b: { dependsOn: ["a"] } });
  markTaskStarted(task(job, "a"), 1);
  finishTask(job, task(job, "a"), { exitCode: 3, error: null, killed: false }, false, 2);
  assertEquals(task(job, "a").status, "done");
  assertEquals(task(job, "a").exitCode, 3);
  assertEquals(job.errored, false);
  assertEquals(job.lastError, null);
  assertEquals(readyTasks(job, 0).map((t) => t.name), ["b"]);
});

Deno.test("canceling a job cancels waiting tasks and names running ones", () => {
  const job = jobOf({ a: {}, b: { dependsOn: ["a"] } });
  markTaskStarted(task(job, "a"), 1);
  assertEquals(cancelJobTasks(job), ["a"]);
  assertEquals(job.canceled, true);
  assertEquals(task(job, "b").status, "canceled");
  assertEquals(isSettled(job), false);
  finishTask(job, task(job, "a"), KILLED, false, 2);
  assert(isSettled(job));
  assertEquals(job.errored, false);
  assertEquals(needsOnError(job, true), false);
});

Deno.test("on_error runs once after a failed job has settled, not after a cancel", () => {
  const job = jobOf({ a: {}, b: {} });
  markTaskStarted(task(job, "a"), 1);
  markTaskStarted(task(job, "b"), 1);
  finishTask(job, task(job, "b"), FAIL, true, 5);
  assertEquals(needsOnError(job, true), false, "a task still runs");
  finishTask(job, task(job, "a"), FAIL, true, 7);
  assertEquals(needsOnError(job, false), false, "no on_error defined");
  assertEquals(needsOnError(job, true), true);
  assertEquals(firstFailedTask(job)?.name, "b");
  addOnErrorTask(job);
  assertEquals(job.tasks.at(-1)?.name, "on_error");
  assertEquals(needsOnError(job, true), false, "on_error already added");
});

Deno.test("an interrupted job is canceled with its reason", () => {
  const job = jobOf({ a: {}, b: { dependsOn: ["a"] } });
  markTaskStarted(task(job, "a"), 1);
  markJobInterrupted(job, "interrupted by a restart", 9);
  assertEquals(statuses(job), { a: "canceled", b: "canceled" });
  assertEquals(job.canceled, true);
  assertEquals(job.completed, true);
  assertEquals(job.end, 9);
  assertEquals(job.lastError, "interrupted by a restart");
});
