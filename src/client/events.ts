/**
 * Decoding the events of prunner's two event streams, `GET /events` (jobs and pipelines) and
 * `GET /job/logs/stream` (a task's output), into typed values. Browser-safe: the web UI uses it
 * as well as the command-line client.
 *
 * @module
 */
import type { JobJson, LogStream, TaskStatus } from "./json.ts";
import { MalformedEventError } from "./errors.ts";

/** What decoding needs of a received event: its name (`event:`) and its `data:`. */
export interface RawEvent {
  event?: string;
  data: string;
}

/** An event of `GET /events`. Jobs in events come without their variables. */
export type ServerEvent =
  | { type: "job_scheduled" | "job_started" | "job_completed"; job: JobJson }
  | { type: "task_started" | "task_finished"; job: JobJson; task: string }
  | { type: "jobs_removed"; ids: string[] }
  | { type: "pipelines_reloaded" }
  | { type: "reload" };

const JOB_EVENTS = new Set([
  "job_scheduled",
  "job_started",
  "job_completed",
  "task_started",
  "task_finished",
]);

/**
 * Decodes one event of `GET /events`; `null` for unknown or malformed ones (a newer server may
 * send more kinds, and a client that misses one catches up on the next `reload`).
 *
 * @example
 * ```ts
 * decodeEvent({ event: "jobs_removed", data: '{"ids":["a"]}' }); // { type: "jobs_removed", ids: ["a"] }
 * ```
 */
export function decodeEvent({ event, data }: RawEvent): ServerEvent | null {
  const body = parseObject(data);
  if (body === null) return null;
  if (event !== undefined && JOB_EVENTS.has(event)) {
    const job = body.job as JobJson | undefined;
    if (typeof job?.id !== "string") return null;
    if (event === "task_started" || event === "task_finished") {
      return { type: event, job, task: String(body.task) };
    }
    return { type: event as "job_scheduled", job };
  }
  if (event === "jobs_removed") {
    return Array.isArray(body.ids) ? { type: event, ids: body.ids.map(String) } : null;
  }
  if (event === "pipelines_reloaded" || event === "reload") return { type: event };
  return null;
}

/**
 * Whether an event of `GET /events` may have changed the job `id`: it names the job, or the
 * client must reload everything.
 *
 * @example
 * ```ts
 * concernsJob({ type: "jobs_removed", ids: ["a", "b"] }, "b"); // true
 * ```
 */
export function concernsJob(event: ServerEvent, id: string): boolean {
  switch (event.type) {
    case "reload":
      return true;
    case "pipelines_reloaded":
      return false;
    case "jobs_removed":
      return event.ids.includes(id);
    default:
      return event.job.id === id;
  }
}

/** An event of `GET /job/logs/stream`: a piece of output, or how the task ended. */
export type LogEvent =
  | { type: LogStream; text: string }
  | { type: "end"; status: TaskStatus; exitCode: number };

/**
 * Decodes one event of `GET /job/logs/stream`; `null` for kinds this client does not know.
 *
 * @example
 * ```ts
 * decodeLogEvent({ event: "stdout", data: '{"text":"hi\\n"}' }); // { type: "stdout", text: "hi\n" }
 * ```
 * @throws {MalformedEventError} when a known event's data is not what prunner sends.
 */
export function decodeLogEvent({ event, data }: RawEvent): LogEvent | null {
  if (event !== "stdout" && event !== "stderr" && event !== "end") return null;
  const body = parseObject(data);
  if (body === null) throw new MalformedEventError(event, "its data is not a JSON object");
  if (event === "end") {
    const { status, exitCode } = body;
    if (typeof status !== "string" || typeof exitCode !== "number") {
      throw new MalformedEventError(event, "it lacks the status or the exit code");
    }
    return { type: event, status: status as TaskStatus, exitCode };
  }
  if (typeof body.text !== "string") throw new MalformedEventError(event, "it has no text");
  return { type: event, text: body.text };
}

/** The JSON object in `data`, or `null` when it is not one. */
function parseObject(data: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(data);
    return typeof value === "object" && value !== null ? value : null;
  } catch {
    return null;
  }
}
