/**
 * Task state transitions within one job: which tasks may start, what a finished task means for
 * the others, cancellation and completion. Pure: mutates the job record only.
 *
 * @module
 */
import type { TaskDefinition } from "../definition/types.ts";
import type { DroppedOutput, Job, Task, TaskTimeout } from "./job.ts";
import { newTask } from "./create_job.ts";

/** Name of the extra task that runs a pipeline's `on_error` script. */
export const ON_ERROR_TASK = "on_error";

/** How a task's run ended, as the executor reports it. */
export interface TaskOutcome {
  /** Exit code of the failing line (or of the last line), -1 when there was none. */
  exitCode: number;
  /** Why the task failed, e.g. `exit status 42`; `null` when it succeeded. */
  error: string | null;
  /** True when prunner stopped the task (cancel, fail-fast or shutdown). */
  killed: boolean;
  /** Output that could not be written to the task's log files; omitted when none. */
  dropped?: DroppedOutput;
  /**
   * The streams the task wrote to, which got a log file; omitted when not known (then any
   * stream may have one).
   */
  logged?: readonly ("stdout" | "stderr")[];
}

/** How a task is retried after it failed: its pipeline definition's settings. */
export type RetryPolicy = Pick<TaskDefinition, "retries" | "retryDelayMs" | "retryOnTimeout">;

/**
 * Waiting tasks whose dependencies have all finished successfully, in job order. A task waiting
 * out a retry delay is ready once `now` has reached its retry time.
 */
export function readyTasks(job: Job, now: number): Task[] {
  const done = new Set(job.tasks.filter((t) => t.status === "done").map((t) => t.name));
  return job.tasks.filter((t) =>
    t.status === "waiting" && (t.retryAt === undefined || t.retryAt <= now) &&
    t.dependsOn.every((d) => done.has(d))
  );
}

/** When the first task waiting out a retry delay may start again, or `null`. */
export function nextRetryAt(job: Job): number | null {
  let next: number | null = null;
  for (const task of job.tasks) {
    if (task.status !== "waiting" || task.retryAt === undefined) continue;
    next = next === null ? task.retryAt : Math.min(next, task.retryAt);
  }
  return next;
}

/** Marks a task as running: its first attempt, or the next one after a failed attempt. */
export function markTaskStarted(task: Task, now: number): void {
  task.status = "running";
  task.start = now;
  task.end = null;
  task.exitCode = 0;
  task.error = null;
  task.attempt = (task.attempt ?? 0) + 1;
  delete task.retryAt;
}

/**
 * Records a task's outcome. A task stopped because its time was up (see `checkDeadlines`) fails
 * with its timeout as error; one stopped otherwise (cancel, fail-fast, shutdown) is canceled.
 *
 * A failed task with attempts left under `retry` goes back to waiting, with `retryAt` set to
 * when the next attempt may start, unless the job is canceled or the task timed out (a task
 * timeout is retried with `retryOnTimeout`, a pipeline timeout never). Once it has no attempts
 * left, it skips every task that depends on it, directly or not; without
 * `continueAfterFailure` (fail-fast) the job's other waiting tasks are canceled and the names
 * of its other running tasks are returned, for the caller to kill.
 */
export function finishTask(
  job: Job,
  task: Task,
  outcome: TaskOutcome,
  continueAfterFailure: boolean,
  now: number,
  retry: RetryPolicy | null = null,
): string[] {
  task.end = now;
  task.exitCode = outcome.exitCode;
  // Of this attempt: each attempt has its own log files.
  if (outcome.dropped) task.droppedOutput = outcome.dropped;
  else delete task.droppedOutput;
  const timeout = task.timeout;
  delete task.timeout;
  const error = timeout?.error ?? outcome.error;
  if (outcome.killed && timeout === undefined) {
    task.status = "canceled";
    return [];
  }
  if (error === null) {
    task.status = "done";
    return [];
  }
  if (retry !== null && mayRetry(job, task, retry, timeout?.by ?? null)) {
    task.status = "waiting";
    task.error = error;
    task.retryAt = now + retry.retryDelayMs;
    return [];
  }
  return failTask(job, task, error, continueAfterFailure);
}

function mayRetry(
  job: Job,
  task: Task,
  retry: RetryPolicy,
  timedOutBy: TaskTimeout["by"] | null,
): boolean {
  if (job.canceled || (task.attempt ?? 1) > retry.retries) return false;
  return timedOutBy === null || (timedOutBy === "task" && retry.retryOnTimeout);
}

/** Fails a task for good: see {@linkcode finishTask}. */
function failTask(job: Job, task: Task, error: string, continueAfterFailure: boolean): string[] {
  delete task.retryAt;
  task.status = "error";
  task.errored = true;
  task.error = error;
  job.errored = true;
  job.lastError ??= `task "${task.name}" failed: ${error}`;
  skipDependents(job, task.name);
  if (continueAfterFailure) return [];
  cancelWaiting(job);
  return job.tasks.filter((t) => t.status === "running").map((t) => t.name);
}

/** Cancels the waiting tasks, those waiting out a retry delay included. */
function cancelWaiting(job: Job): void {
  for (const task of job.tasks) {
    if (task.status !== "waiting") continue;
    task.status = "canceled";
    delete task.retryAt;
  }
}

function skipDependents(job: Job, failed: string): void {
  const failedNames = new Set([failed]);
  for (const task of job.tasks) {
    if (task.status === "waiting" && task.dependsOn.some((d) => failedNames.has(d))) {
      task.status = "skipped";
      failedNames.add(task.name);
    }
  }
}

/**
 * Cancels a job: waiting tasks become canceled, and the names of running tasks are returned for
 * the caller to kill.
 */
export function cancelJobTasks(job: Job): string[] {
  job.canceled = true;
  cancelWaiting(job);
  return job.tasks.filter((t) => t.status === "running").map((t) => t.name);
}

/** True when no task of the job waits or runs. */
export function isSettled(job: Job): boolean {
  return job.tasks.every((t) => t.status !== "waiting" && t.status !== "running");
}

/** The failed task that ended first, or `undefined`. */
export function firstFailedTask(job: Job): Task | undefined {
  let first: Task | undefined;
  for (const task of job.tasks) {
    if (
      task.errored && task.name !== ON_ERROR_TASK && (!first || (task.end ?? 0) < (first.end ?? 0))
    ) {
      first = task;
    }
  }
  return first;
}

/**
 * Whether the job should run its pipeline's `on_error` script now: a task failed it, it was not
 * canceled, all its tasks stopped, and `on_error` has not run yet.
 */
export function needsOnError(job: Job, hasOnError: boolean): boolean {
  return hasOnError && job.errored && !job.canceled && isSettled(job) &&
    !job.tasks.some((t) => t.name === ON_ERROR_TASK);
}

/** Appends the waiting `on_error` task to the job and returns it. */
export function addOnErrorTask(job: Job): Task {
  const task = newTask(ON_ERROR_TASK, []);
  job.tasks.push(task);
  return task;
}

/** Marks the job as started. */
export function markJobStarted(job: Job, now: number): void {
  job.start = now;
}

/** Marks the job as ended. */
export function markJobCompleted(job: Job, now: number): void {
  job.completed = true;
  job.end = now;
}

/**
 * Marks a job that was interrupted (running when prunner stopped, or whose pipeline is gone) as
 * canceled with a reason.
 */
export function markJobInterrupted(job: Job, reason: string, now: number): void {
  for (const task of job.tasks) {
    if (task.status === "running") {
      task.status = "canceled";
      task.end ??= task.start === null ? null : now;
    }
  }
  cancelWaiting(job);
  job.canceled = true;
  job.lastError = reason;
  markJobCompleted(job, now);
}

/**
 * Whether a job found unfinished at startup can go on where it stopped: it had started, none of
 * its tasks was running (a running task's process is gone, so its outcome is unknown), and at
 * least one task was waiting out a retry delay. Its waiting tasks can then simply run.
 *
 * @example
 * ```ts
 * if (job.start !== null && !canResume(job)) markJobInterrupted(job, "interrupted", now);
 * ```
 */
export function canResume(job: Job): boolean {
  return job.start !== null && !job.completed && !job.tasks.some((t) => t.status === "running") &&
    nextRetryAt(job) !== null;
}
