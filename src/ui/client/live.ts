/**
 * The UI's one connection to `GET /events`, shared by all screens: they subscribe to the
 * decoded events and refetch their data on `reload` (sent on every (re)connect too, since
 * events may have been missed while disconnected).
 *
 * @module
 */
import { decodeEvent, type ServerEvent } from "../../client/events.ts";
import type { JobJson } from "../../client/json.ts";
import type { Api } from "./api.ts";
import { followEvents, type StreamState } from "./sse.ts";

/** What every screen gets: the API and the live connection. */
export interface ScreenProps {
  api: Api;
  live: Live;
}

/** Subscribes to live events; returns the function that unsubscribes. */
export type Subscribe = (listener: (event: ServerEvent) => void) => () => void;

/** A followed event stream. */
export interface Live {
  subscribe: Subscribe;
  /** Stops following. */
  close(): void;
}

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
  const listeners = new Set<(event: ServerEvent) => void>();
  const emit = (event: ServerEvent) => {
    for (const listener of [...listeners]) listener(event);
  };
  const controller = new AbortController();
  followEvents({
    open: (lastEventId, signal) => api.openStream("events", lastEventId, signal),
    onEvent(message) {
      const decoded = decodeEvent(message);
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
 * Applies a live event to a loaded list of jobs (newest first): updates jobs it has, adds newly
 * scheduled ones of the shown pipeline at the top, drops removed ones.
 *
 * @example
 * ```ts
 * const jobs = applyEvent([], { type: "job_scheduled", job }, ""); // [job]
 * ```
 */
export function applyEvent(jobs: JobJson[], event: ServerEvent, pipeline: string): JobJson[] {
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
