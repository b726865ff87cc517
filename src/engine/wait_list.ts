/**
 * Per-pipeline concurrency and wait-list decisions. Pure: callers pass the time and act on the
 * returned decisions.
 *
 * @module
 */
import type { PipelineDefinition } from "../definition/types.ts";

/** A job on a pipeline's wait list. */
export interface WaitingJob {
  readonly id: string;
  /** Scheduling time, epoch ms. */
  readonly created: number;
  /** The start delay of the definition the job was scheduled with. */
  readonly startDelayMs: number;
  readonly partition: string | null;
}

/** The run state of one pipeline: how many of its jobs run, and which wait, in order. */
export interface PipelineQueue {
  running: number;
  readonly waiting: WaitingJob[];
}

/** The decision for a newly scheduled job. */
export type Admission =
  | { readonly kind: "start" }
  | { readonly kind: "queue"; readonly replaces: string | null }
  | { readonly kind: "refuse"; readonly reason: "queue_full" | "queue_disabled"; limit: number };

/** The wait-list settings that matter for admission. */
type QueueSettings = Pick<
  PipelineDefinition,
  "concurrency" | "queueLimit" | "queuePartitionLimit" | "queueStrategy" | "startDelayMs"
>;

/** An empty queue. */
export function emptyQueue(): PipelineQueue {
  return { running: 0, waiting: [] };
}

/**
 * Decides what happens to a new job of a pipeline: start it now, put it on the wait list
 * (possibly replacing a waiting job), or refuse it.
 *
 * - A job starts at once when a slot is free and the pipeline has no start delay.
 * - `queue_limit: 0` refuses while the pipeline is at its concurrency.
 * - `append` refuses when `queue_limit` jobs wait.
 * - `replace` replaces the last waiting job when `queue_limit` jobs wait (one, when
 *   `queue_limit` is not set), so the first waiting jobs keep their places.
 * - `partitioned_replace` does the same within the job's partition, with
 *   `queue_partition_limit` slots per partition.
 *
 * @example
 * ```ts
 * const queue = emptyQueue();
 * admit(definition, queue, null); // { kind: "start" } for an idle pipeline without delay
 * ```
 */
export function admit(
  settings: QueueSettings,
  queue: PipelineQueue,
  partition: string | null,
): Admission {
  if (queue.running < settings.concurrency && settings.startDelayMs === 0) return { kind: "start" };
  if (settings.queueLimit === 0) return { kind: "refuse", reason: "queue_disabled", limit: 0 };
  switch (settings.queueStrategy) {
    case "append": {
      const limit = settings.queueLimit;
      if (limit !== null && queue.waiting.length >= limit) {
        return { kind: "refuse", reason: "queue_full", limit };
      }
      return { kind: "queue", replaces: null };
    }
    case "replace":
      return queueReplacing(queue.waiting, settings.queueLimit ?? 1);
    case "partitioned_replace":
      return queueReplacing(
        queue.waiting.filter((job) => job.partition === partition),
        settings.queuePartitionLimit ?? 1,
      );
  }
}

function queueReplacing(waiting: readonly WaitingJob[], limit: number): Admission {
  if (waiting.length < limit) return { kind: "queue", replaces: null };
  return { kind: "queue", replaces: waiting[waiting.length - 1].id };
}

/** Whether a new job (of any partition) would be accepted right now. */
export function isSchedulable(settings: QueueSettings, queue: PipelineQueue): boolean {
  return admit(settings, queue, null).kind !== "refuse";
}

/** What {@linkcode takeDueJobs} found. */
export interface DueJobs {
  /** Jobs to start now, in wait-list order; already removed from the wait list. */
  readonly start: WaitingJob[];
  /** When the next waiting job's start delay ends, if one is still delayed; epoch ms. */
  readonly wakeAt: number | null;
}

/**
 * Removes and returns the waiting jobs that may start now: those whose start delay has passed,
 * in the order they were scheduled, while the pipeline has free slots.
 */
export function takeDueJobs(queue: PipelineQueue, concurrency: number, now: number): DueJobs {
  const start: WaitingJob[] = [];
  let wakeAt: number | null = null;
  let free = concurrency - queue.running;
  for (let i = 0; i < queue.waiting.length && free > 0;) {
    const job = queue.waiting[i];
    const dueAt = job.created + job.startDelayMs;
    if (dueAt <= now) {
      queue.waiting.splice(i, 1);
      start.push(job);
      free--;
    } else {
      wakeAt = wakeAt === null ? dueAt : Math.min(wakeAt, dueAt);
      i++;
    }
  }
  queue.running += start.length;
  return { start, wakeAt };
}

/** Removes a job from the wait list; returns whether it was there. */
export function removeWaiting(queue: PipelineQueue, id: string): boolean {
  const index = queue.waiting.findIndex((job) => job.id === id);
  if (index < 0) return false;
  queue.waiting.splice(index, 1);
  return true;
}
