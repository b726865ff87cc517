/**
 * Task state transitions within one job: which tasks may start, what a finished task means for
 * the others, cancellation and completion. Pure: mutates the job record only.
 *
 * @module
 */
import type { Job, Task } from "./job.ts";
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
}

/** Waiting tasks whose dependencies have all finished successfully, in job order. */
export function readyTasks(job: Job): Task[] {
  const done = new Set(job.tasks.filter((t) => t.status === "done").map((t) => t.name));
  return job.tasks.filter((t) => t.status === "waiting" && t.dependsOn.every((d) => done.has(d)));
}

/** Marks a task as running. */
export function markTaskStarted(task: Task, now: number): void {
  task.status = "running";
  task.start = now;
}

/**
 * Records a task's outcome. A failed task skips every task that depends on it, directly or not;
 * without `continueAfterFailure` (fail-fast) the job's other waiting tasks are canceled and the
 * names of its other running tasks are returned, for the caller to kill.
 */
export function finishTask(
  job: Job,
  task: Task,
  outcome: TaskOutcome,
  continueAfterFailure: boolean,
  now: number,
): string[] {
  task.end = now;
  task.exitCode = outcome.exitCode;
  if (outcome.killed) {
    task.status = "canceled";
    return [];
  }
  if (outcome.error === null) {
    task.status = "done";
    return [];
  }
  task.status = "error";
  task.errored = true;
  task.error = outcome.error;
  job.errored = true;
  job.lastError ??= `task "${task.name}" failed: ${outcome.error}`;
  skipDependents(job, task.name);
  if (continueAfterFailure) return [];
  for (const other of job.tasks) {
    if (other.status === "waiting") other.status = "canceled";
  }
  return job.tasks.filter((t) => t.status === "running").map((t) => t.name);
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
  for (const task of job.tasks) {
    if (task.status === "waiting") task.status = "canceled";
  }
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
    if (task.status === "waiting" || task.status === "running") {
      task.status = "canceled";
      task.end ??= task.start === null ? null : now;
    }
  }
  job.canceled = true;
  job.lastError = reason;
  markJobCompleted(job, now);
}
