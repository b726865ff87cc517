/**
 * The JSON that prunner's HTTP API sends for jobs and tasks. Optional fields are left out when
 * empty, as prunner's `omitempty` does, and times are RFC 3339 in UTC without fractional seconds
 * so that PHP's `json_decode`/`DateTime` clients can read them.
 *
 * @module
 */
import type { z } from "@hono/zod-openapi";
import type { Job, Task } from "../engine/job.ts";
import type { PipelineInfo } from "../runner/api.ts";
import type { JobSchema, TaskSchema } from "./schemas.ts";

/** A task as the API shows it; the type follows the documented schema. */
export type TaskJson = z.infer<typeof TaskSchema>;

/** A job as the API shows it; the type follows the documented schema. */
export type JobJson = z.infer<typeof JobSchema>;

/**
 * Formats epoch milliseconds as RFC 3339 in UTC, truncated to whole seconds.
 *
 * @example
 * ```ts
 * formatTime(Date.UTC(2026, 10, 28, 12, 0, 0, 999)); // "2026-11-28T12:00:00Z"
 * ```
 */
export function formatTime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/\.\d+Z$/, "Z");
}

/** Maps a task to its API JSON. */
export function taskToJson(task: Task): TaskJson {
  return {
    name: task.name,
    ...(task.dependsOn.length > 0 ? { dependsOn: [...task.dependsOn] } : {}),
    status: task.status,
    ...(task.start !== null ? { start: formatTime(task.start) } : {}),
    ...(task.end !== null ? { end: formatTime(task.end) } : {}),
    skipped: task.status === "skipped",
    exitCode: task.exitCode,
    errored: task.errored,
    ...(task.error !== null ? { error: task.error } : {}),
    ...((task.attempt ?? 1) > 1 ? { attempt: task.attempt } : {}),
    ...(task.retryAt !== undefined ? { retryAt: formatTime(task.retryAt) } : {}),
    ...(task.droppedOutput ? { droppedOutput: { ...task.droppedOutput } } : {}),
  };
}

/** Maps a job to its API JSON, fields in prunner's order. */
export function jobToJson(job: Job): JobJson {
  const hasVariables = job.variables !== null && Object.keys(job.variables).length > 0;
  return {
    id: job.id,
    pipeline: job.pipeline,
    tasks: job.tasks.map(taskToJson),
    completed: job.completed,
    canceled: job.canceled,
    errored: job.errored,
    created: formatTime(job.created),
    ...(job.start !== null ? { start: formatTime(job.start) } : {}),
    ...(job.end !== null ? { end: formatTime(job.end) } : {}),
    ...(job.lastError !== null ? { lastError: job.lastError } : {}),
    ...(hasVariables ? { variables: job.variables! } : {}),
    user: job.user,
  };
}

/** Maps a pipeline to its API JSON, fields in prunner's order. */
export function pipelineToJson(info: PipelineInfo): Pick<
  PipelineInfo,
  "pipeline" | "schedulable" | "running"
> {
  return { pipeline: info.pipeline, schedulable: info.schedulable, running: info.running };
}

/** Maps a pipeline to its `GET /pipelines/status` JSON: prunner's fields plus job counts. */
export function pipelineStatusToJson(info: PipelineInfo): PipelineInfo {
  return {
    ...pipelineToJson(info),
    runningJobs: info.runningJobs,
    waitingJobs: info.waitingJobs,
  };
}
