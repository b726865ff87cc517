/**
 * The UI's one connection to `GET /events`, shared by all screens: they subscribe to the
 * decoded events and refetch their data on `reload` (sent on every (re)connect too, since
 * events may have been missed while disconnected).
 *
 * @module
 */
import type { Api, Job } from "./api.ts";
import { followEvents, type StreamState } from "./sse.ts";

/** What every screen gets: the API and the live connection. */
export interface ScreenProps {
  api: Api;
  live: Live;
}

/** A decoded event of `GET /events`. */
export type LiveEvent =
  | { type: "job_scheduled" | "job_started" | "job_completed"; job: Job }
  | { type: "task_started" | "task_finished"; job: Job; task: string }
  | { type: "jobs_removed"; ids: string[] }
  | { type: "pipelines_reloaded" }
  | { type: "reload" };

/** Subscribes to live events; returns the function that unsubscribes. */
export type Subscribe = (listener: (event: LiveEvent) => void) => () => void;

/** A followed event stream. */
export interface Live {
  subscribe: Subscribe;
  /** Stops following. */
  close(): void;
}

const JOB_EVENTS = new Set([
  "job_scheduled",
  "job_started",
  "job_completed",
  "task_started",
  "task_finished",
]);

/**
 * Follows `/events` until closed, reconnecting with `Last-Event-ID`.
 *
 * @example
 * ```ts
 * const live = startLive(api, (state) => console.log(state), (error) => console.error(error));
 * const unsubscribe = live.subscribe((event) => console.log(event.type));
 * ```
 */
export function startLive(
  api: Api,
  onState: (state: StreamState) => void,
  onRefused: (error: unknown) => void,
): Live {
  const listeners = new Set<(event: LiveEvent) => void>();
  const emit = (event: LiveEvent) => {
    for (const listener of [...listeners]) listener(event);
  };
  const controller = new AbortController();
  followEvents({
    open: (lastEventId, signal) => api.openStream("events", lastEventId, signal),
    onEvent({ event, data }) {
      const decoded = decode(event, data);
      if (decoded !== null) emit(decoded);
    },
    onState(state) {
      onState(state);
      if (state === "live") emit({ type: "reload" });
    },
    signal: controller.signal,
  }).catch(onRefused);
  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () => controller.abort(),
  };
}

/**
 * Decodes one event of `/events`; `null` for unknown or malformed ones (a newer server may send
 * more kinds).
 *
 * @example
 * ```ts
 * decode("jobs_removed", '{"ids":["a"]}'); // { type: "jobs_removed", ids: ["a"] }
 * ```
 */
export function decode(event: string, data: string): LiveEvent | null {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof body !== "object" || body === null) return null;
  if (JOB_EVENTS.has(event)) {
    const job = body.job as Job | undefined;
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
 * Applies a live event to a loaded list of jobs (newest first): updates jobs it has, adds newly
 * scheduled ones of the shown pipeline at the top, drops removed ones.
 *
 * @example
 * ```ts
 * const jobs = applyEvent([], { type: "job_scheduled", job }, ""); // [job]
 * ```
 */
export function applyEvent(jobs: Job[], event: LiveEvent, pipeline: string): Job[] {
  switch (event.type) {
    case "jobs_removed": {
      const removed = new Set(event.ids);
      return jobs.filter((job) => !removed.has(job.id));
    }
    case "job_scheduled":
    case "job_started":
    case "job_completed":
    case "task_started":
    case "task_finished": {
      const index = jobs.findIndex((job) => job.id === event.job.id);
      if (index !== -1) return jobs.with(index, event.job);
      if (event.type !== "job_scheduled") return jobs;
      if (pipeline !== "" && event.job.pipeline !== pipeline) return jobs;
      return [event.job, ...jobs];
    }
    default:
      return jobs;
  }
}
