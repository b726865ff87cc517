/**
 * The runner's events: what happened to jobs and pipelines, as it happens. The live API, the
 * metrics and anything else that follows prunner's state subscribe here instead of polling.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Job, Task } from "../engine/job.ts";

/**
 * One change. Job and task objects are the runner's live records: a listener that keeps an
 * event for later must copy or serialize what it needs before returning.
 *
 * `task_finished` is published for every attempt: a failed attempt that will be retried is
 * back to `waiting` with `retryAt` set. `task_timed_out` is published when a task's time is up
 * and it is being stopped; its `task_finished` follows once it has stopped. `job_refused` is
 * a schedule request the pipeline's wait list turned down.
 *
 * In a cluster, job and task events of the jobs other nodes run are published too, marked
 * `remote` (what this node itself did, e.g. for its metrics, is the events without it).
 */
export type RunnerEvent = RunnerChange & {
  /** Set on a change another node of the cluster made. */
  readonly remote?: true;
};

/** What a {@linkcode RunnerEvent} says happened. */
export type RunnerChange =
  | { readonly type: "job_scheduled"; readonly job: Job }
  | { readonly type: "job_started"; readonly job: Job }
  | { readonly type: "task_started"; readonly job: Job; readonly task: Task }
  | { readonly type: "task_finished"; readonly job: Job; readonly task: Task }
  | {
    readonly type: "task_timed_out";
    readonly job: Job;
    readonly task: Task;
    /** Whose limit passed: the task's own `timeout` or its pipeline's. */
    readonly by: "task" | "pipeline";
  }
  | { readonly type: "job_completed"; readonly job: Job }
  | {
    readonly type: "job_refused";
    readonly pipeline: string;
    readonly reason: "queue_full" | "queue_disabled";
  }
  | { readonly type: "jobs_removed"; readonly ids: readonly string[] }
  | { readonly type: "pipelines_reloaded" };

/** Receives events; called synchronously, in order. */
export type RunnerEventListener = (event: RunnerEvent) => void;

/** How a listener subscribes. */
export interface SubscribeOptions {
  /**
   * Whether the listener gets the events of other nodes of a cluster too (default `true`). A
   * node reads what other nodes change only while a listener wants it.
   */
  readonly remote?: boolean;
}

/** Where events are published and subscribed to. */
export interface EventHub {
  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: RunnerEventListener, options?: SubscribeOptions): () => void;
  /** Delivers an event to every listener that takes it. A listener that throws is logged and skipped. */
  emit(event: RunnerEvent): void;
  /** Whether a listener takes the events of other nodes (see `SubscribeOptions.remote`). */
  followsRemote(): boolean;
}

const log = getLogger(["prunner", "events"]);

/**
 * Creates an event hub.
 *
 * @example
 * ```ts
 * const events = createEventHub();
 * const unsubscribe = events.subscribe((event) => console.log(event.type));
 * events.emit({ type: "pipelines_reloaded" }); // logs "pipelines_reloaded"
 * unsubscribe();
 * ```
 */
export function createEventHub(): EventHub {
  /** Each listener, with whether it takes remote events. */
  const listeners = new Map<RunnerEventListener, boolean>();
  let remoteListeners = 0;
  return {
    subscribe(listener, options = {}) {
      if (listeners.has(listener)) return () => {};
      const remote = options.remote ?? true;
      listeners.set(listener, remote);
      if (remote) remoteListeners++;
      return () => {
        if (!listeners.delete(listener)) return;
        if (remote) remoteListeners--;
      };
    },
    followsRemote: () => remoteListeners > 0,
    emit(event) {
      for (const [listener, remote] of listeners) {
        if (event.remote && !remote) continue;
        try {
          listener(event);
        } catch (error) {
          log.error("An event listener failed on {type}: {error}", { type: event.type, error });
        }
      }
    },
  };
}
