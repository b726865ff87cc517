/**
 * Timeouts: which running tasks of a job are out of time, decided from the job record, its
 * definition and the time. Pure: it marks the tasks to stop and returns their names; the
 * caller stops them and later reports their outcomes to `finishTask`, which fails them with
 * the timeout as error.
 *
 * - A task's `timeout` limits each attempt, from the attempt's start.
 * - The pipeline's `timeout` limits the job, from its start: when it passes, running tasks are
 *   stopped, waiting ones are canceled, tasks waiting out a retry delay fail, and `lastError`
 *   names the pipeline timeout. The `on_error` task is not limited by it, only by its own
 *   `on_error.timeout`, so it can still report the timeout.
 *
 * @module
 */
import { formatDurationShort } from "../definition/duration.ts";
import type { PipelineDefinition } from "../definition/types.ts";
import type { Job, Task } from "./job.ts";
import { ON_ERROR_TASK } from "./task_graph.ts";

/** The limits that matter for deadlines. */
export type TimeLimits = Pick<PipelineDefinition, "timeoutMs" | "tasks" | "onError">;

/** What {@linkcode checkDeadlines} decided. */
export interface DeadlineDecision {
  /** Running tasks whose time is up, to stop now; each has its `timeout` set. */
  readonly stop: string[];
  /** When the next deadline of a running or waiting task passes, epoch ms; `null` for none. */
  readonly nextAt: number | null;
}

/** The error of a task whose own timeout passed, e.g. `timed out after 10m`. */
export function taskTimeoutError(limitMs: number): string {
  return `timed out after ${formatDurationShort(limitMs)}`;
}

/** The error of a job (and of its stopped tasks) whose pipeline timeout passed. */
export function pipelineTimeoutError(limitMs: number): string {
  return `pipeline timed out after ${formatDurationShort(limitMs)}`;
}

/**
 * Applies the deadlines that have passed at `now` to the job and says which tasks to stop and
 * when to check again. Calling it again at the same time changes nothing.
 *
 * @example
 * ```ts
 * const { stop, nextAt } = checkDeadlines(job, definition, Date.now());
 * for (const name of stop) runs.get(name)?.kill();
 * if (nextAt !== null) setTimeout(check, nextAt - Date.now());
 * ```
 */
export function checkDeadlines(job: Job, limits: TimeLimits, now: number): DeadlineDecision {
  const stop: string[] = [];
  let nextAt: number | null = null;
  const later = (at: number) => {
    nextAt = nextAt === null ? at : Math.min(nextAt, at);
  };

  if (limits.timeoutMs !== null && job.start !== null) {
    const deadline = job.start + limits.timeoutMs;
    const limited = job.tasks.filter((t) => t.name !== ON_ERROR_TASK && isUnfinished(t));
    if (deadline <= now) {
      if (limited.length > 0) {
        const error = pipelineTimeoutError(limits.timeoutMs);
        for (const task of limited) {
          if (task.status === "running") {
            stop.push(task.name);
            task.timeout = { by: "pipeline", error };
          } else if (task.retryAt !== undefined) {
            delete task.retryAt;
            task.status = "error";
            task.errored = true;
          } else {
            task.status = "canceled";
          }
        }
        job.errored = true;
        job.lastError = error;
      }
    } else if (limited.length > 0) {
      later(deadline);
    }
  }

  for (const task of job.tasks) {
    if (task.status !== "running" || task.start === null || task.timeout !== undefined) continue;
    const limit = taskLimit(limits, task.name);
    if (limit === null) continue;
    const deadline = task.start + limit;
    if (deadline <= now) {
      stop.push(task.name);
      task.timeout = { by: "task", error: taskTimeoutError(limit) };
    } else {
      later(deadline);
    }
  }
  return { stop, nextAt };
}

/** A waiting or running task that is not already being stopped. */
function isUnfinished(task: Task): boolean {
  return task.status === "waiting" || (task.status === "running" && task.timeout === undefined);
}

function taskLimit(limits: TimeLimits, name: string): number | null {
  if (name === ON_ERROR_TASK) return limits.onError?.timeoutMs ?? null;
  return limits.tasks[name]?.timeoutMs ?? null;
}
