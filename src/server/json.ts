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
import type { ListingEncoder } from "../store/types.ts";
import type { JobSchema, PipelineSchema, TaskSchema } from "./schemas.ts";

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
    ...(job.trigger !== undefined
      ? {
        trigger: {
          cron: job.trigger.cron,
          timezone: job.trigger.timezone,
          planned: formatTime(job.trigger.planned),
        },
      }
      : {}),
    ...(job.node !== undefined ? { node: job.node } : {}),
  };
}

/** A pipeline as the API shows it; the type follows the documented schema. */
export type PipelineJson = z.infer<typeof PipelineSchema>;

/** Maps a pipeline to its API JSON: prunner's fields, then `nextRun` when it has triggers. */
export function pipelineToJson(info: PipelineInfo): PipelineJson {
  return {
    pipeline: info.pipeline,
    schedulable: info.schedulable,
    running: info.running,
    ...(info.nextRun !== null ? { nextRun: formatTime(info.nextRun) } : {}),
  };
}

/** Maps a pipeline to its `GET /pipelines/status` JSON: prunner's fields plus job counts. */
export function pipelineStatusToJson(
  info: PipelineInfo,
): PipelineJson & Pick<PipelineInfo, "runningJobs" | "waitingJobs"> {
  return {
    ...pipelineToJson(info),
    runningJobs: info.runningJobs,
    waitingJobs: info.waitingJobs,
  };
}

const utf8 = new TextEncoder();

/** A job with every field the API can show set: its JSON tells versions of `jobToJson` apart. */
const SAMPLE_JOB: Job = {
  id: "00000000-0000-4000-8000-000000000000",
  pipeline: "sample",
  tasks: [
    {
      name: "first",
      dependsOn: [],
      status: "done",
      start: 1_000,
      end: 2_000,
      exitCode: 0,
      errored: false,
      error: null,
    },
    {
      name: "second",
      dependsOn: ["first"],
      status: "waiting",
      start: 2_000,
      end: 3_000,
      exitCode: 2,
      errored: true,
      error: "exit status 2",
      attempt: 2,
      retryAt: 4_000,
      timeout: { by: "task", error: "timed out after 1s" },
      droppedOutput: { stdout: { bytes: 1, reason: "full" }, stderr: { bytes: 2, reason: "gone" } },
    },
  ],
  completed: true,
  canceled: false,
  errored: true,
  created: 500,
  start: 1_000,
  end: 5_000,
  lastError: "task second failed",
  variables: { branch: "main" },
  user: "sample",
  queuePartition: "partition",
  trigger: { cron: "@daily", timezone: "UTC", planned: 400 },
  node: "web-1:9009",
};

function encodeJob(job: Job): Uint8Array {
  return utf8.encode(JSON.stringify(jobToJson(job)));
}

/** 32-bit FNV-1a of the bytes, as 8 hex digits. */
function fnv1a32(bytes: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, "0");
}

/**
 * Jobs as the API shows them ({@linkcode jobToJson}), as UTF-8 JSON: what the job store keeps
 * for listings. Its version is a hash of the JSON of a job with every field set, so when the
 * API JSON changes, listings the store kept are built again on startup instead of being sent
 * stale. (A change the sample job does not show needs a sample that shows it.)
 *
 * @example
 * ```ts
 * const data = await openDataDir(".prunner", { listing: jobListingEncoder });
 * ```
 */
export const jobListingEncoder: ListingEncoder = {
  version: `api-json-${fnv1a32(encodeJob(SAMPLE_JOB))}`,
  encode: encodeJob,
};
