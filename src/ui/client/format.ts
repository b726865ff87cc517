/**
 * Job status and the formatting of times and durations for the screens.
 *
 * @module
 */
import type { JobJson } from "../../client/json.ts";

/** A job's state as the UI shows it. */
export type JobStatus = "waiting" | "running" | "done" | "error" | "canceled";

/** All job states, in the order the status filter lists them. */
export const JOB_STATUSES: readonly JobStatus[] = [
  "waiting",
  "running",
  "done",
  "error",
  "canceled",
];

/**
 * The state of a job from its flags.
 *
 * @example
 * ```ts
 * jobStatus({ completed: true, canceled: false, errored: true }); // "error"
 * ```
 */
export function jobStatus(
  job: Pick<JobJson, "completed" | "canceled" | "errored" | "start">,
): JobStatus {
  if (job.completed) return job.canceled ? "canceled" : job.errored ? "error" : "done";
  return job.start ? "running" : "waiting";
}

/**
 * A duration for people: `850ms`, `12.3s`, `4m 05s`, `2h 03m`.
 *
 * @example
 * ```ts
 * formatDuration(245_000); // "4m 05s"
 * ```
 */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const seconds = Math.floor(ms / 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${two(seconds % 60)}s`;
  return `${Math.floor(seconds / 3600)}h ${two(Math.floor(seconds / 60) % 60)}m`;
}

/**
 * How long something with an RFC 3339 `start` and optional `end` ran; until `now` while it has
 * no end. Empty when it has not started.
 *
 * @example
 * ```ts
 * elapsed("2026-01-01T10:00:00Z", "2026-01-01T10:00:05Z", Date.now()); // "5.0s"
 * ```
 */
export function elapsed(start: string | undefined, end: string | undefined, now: number): string {
  if (!start) return "";
  return formatDuration((end ? Date.parse(end) : now) - Date.parse(start));
}

/**
 * A local date and time (`2026-11-30 10:04:05`) for an RFC 3339 time; empty for none.
 *
 * @example
 * ```ts
 * formatTime(undefined); // ""
 * ```
 */
export function formatTime(time: string | undefined): string {
  if (!time) return "";
  const date = new Date(time);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${
    two(date.getHours())
  }:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}

/**
 * Parses the variables editor's text: empty means no variables; otherwise it must be a JSON
 * object. Returns the variables or a message saying what is wrong.
 *
 * @example
 * ```ts
 * parseVariables('{"tag": "v1"}'); // { ok: true, variables: { tag: "v1" } }
 * parseVariables("[1]"); // { ok: false, error: "variables must be a JSON object, like {\"name\": \"value\"}" }
 * ```
 */
export function parseVariables(
  text: string,
): { ok: true; variables: Record<string, unknown> | null } | { ok: false; error: string } {
  if (text.trim() === "") return { ok: true, variables: null };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `variables are not valid JSON: ${(error as Error).message}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, error: 'variables must be a JSON object, like {"name": "value"}' };
  }
  return { ok: true, variables: value as Record<string, unknown> };
}
