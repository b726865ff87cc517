/**
 * Per-pipeline concurrency and wait-list decisions: what starts, what waits, what is replaced
 * and when to wake for a start delay. Pure: callers pass the queue and the time, and apply the
 * returned decisions to their state (in memory, or in a store's transaction).
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
  readonly running: number;
  readonly waiting: readonly WaitingJob[];
}

/** Waiting jobs whose turn has come, and when to look again. */
export interface DueStarts {
  /** Waiting jobs to take off the wait list and start now, in wait-list order. */
  readonly start: readonly WaitingJob[];
  /** When the next waiting job's start delay ends, if one is still delayed; epoch ms. */
  readonly wakeAt: number | null;
}

/**
 * The decision for a newly scheduled job: it starts at once (taking a running slot), it waits
 * (replacing the waiting job `replaces`, and letting the waiting jobs in `start` start), or it
 * is refused.
 */
export type AdmissionDecision =
  | { readonly kind: "start" }
  | { readonly kind: "wait"; readonly replaces: string | null } & DueStarts
  | {
    readonly kind: "refuse";
    readonly reason: "queue_full" | "queue_disabled";
    readonly limit: number;
  };

/** The wait-list settings that matter for admission. */
export type QueueSettings = Pick<
  PipelineDefinition,
  "concurrency" | "queueLimit" | "queuePartitionLimit" | "queueStrategy" | "startDelayMs"
>;

/**
 * Decides what happens to `job`, newly scheduled on a pipeline with `settings` whose queue is
 * `queue`: start it now, put it on the wait list (possibly replacing a waiting job), or refuse
 * it.
 *
 * - A job starts at once when a slot is free and the pipeline has no start delay.
 * - `queue_limit: 0` refuses while the pipeline is at its concurrency.
 * - `append` refuses when `queue_limit` jobs wait.
 * - `replace` replaces the last waiting job when `queue_limit` jobs wait (one, when
 *   `queue_limit` is not set), so the first waiting jobs keep their places.
 * - `partitioned_replace` does the same within the job's partition, with
 *   `queue_partition_limit` slots per partition.
 *
 * A waiting decision also says which waiting jobs are due once the job waits (see
 * {@linkcode decideDueStarts}), and when to look again.
 *
 * @example
 * ```ts
 * const job = { id: "j1", created: 1000, startDelayMs: 0, partition: null };
 * decideAdmission(definition, { running: 0, waiting: [] }, job, 1000); // { kind: "start" }
 * ```
 */
export function decideAdmission(
  settings: QueueSettings,
  queue: PipelineQueue,
  job: WaitingJob,
  now: number,
): AdmissionDecision {
  const admission = admit(settings, queue, job.partition);
  if (admission.kind !== "wait") return admission;
  const { replaces } = admission;
  const waiting = [...queue.waiting.filter((other) => other.id !== replaces), job];
  return {
    kind: "wait",
    replaces,
    ...dueStarts(queue.running, waiting, settings.concurrency, now),
  };
}

/** Start, wait (replacing whom) or refuse, before looking at due jobs. */
function admit(
  settings: QueueSettings,
  queue: PipelineQueue,
  partition: string | null,
):
  | { readonly kind: "start" }
  | { readonly kind: "wait"; readonly replaces: string | null }
  | Extract<AdmissionDecision, { kind: "refuse" }> {
  if (queue.running < settings.concurrency && settings.startDelayMs === 0) return { kind: "start" };
  if (settings.queueLimit === 0) return { kind: "refuse", reason: "queue_disabled", limit: 0 };
  switch (settings.queueStrategy) {
    case "append": {
      const limit = settings.queueLimit;
      if (limit !== null && queue.waiting.length >= limit) {
        return { kind: "refuse", reason: "queue_full", limit };
      }
      return { kind: "wait", replaces: null };
    }
    case "replace":
      return waitReplacing(queue.waiting, settings.queueLimit ?? 1);
    case "partitioned_replace":
      return waitReplacing(
        queue.waiting.filter((job) => job.partition === partition),
        settings.queuePartitionLimit ?? 1,
      );
  }
}

function waitReplacing(
  waiting: readonly WaitingJob[],
  limit: number,
): { readonly kind: "wait"; readonly replaces: string | null } {
  if (waiting.length < limit) return { kind: "wait", replaces: null };
  return { kind: "wait", replaces: waiting[waiting.length - 1].id };
}

/**
 * Whether a new job (of any partition) would be accepted right now.
 *
 * @example
 * ```ts
 * isSchedulable(pipeline({ queueLimit: 0 }), { running: 1, waiting: [] }); // false
 * ```
 */
export function isSchedulable(settings: QueueSettings, queue: PipelineQueue): boolean {
  return admit(settings, queue, null).kind !== "refuse";
}

/**
 * Decides which waiting jobs start now: those whose start delay has passed, in the order they
 * were scheduled, while the pipeline has free slots under `concurrency`. While a slot is free,
 * `wakeAt` says when the next delayed job is due.
 *
 * @example
 * ```ts
 * const queue = { running: 0, waiting: [{ id: "a", created: 100, startDelayMs: 50, partition: null }] };
 * decideDueStarts(queue, 1, 120); // { start: [], wakeAt: 150 }
 * ```
 */
export function decideDueStarts(queue: PipelineQueue, concurrency: number, now: number): DueStarts {
  return dueStarts(queue.running, queue.waiting, concurrency, now);
}

function dueStarts(
  running: number,
  waiting: readonly WaitingJob[],
  concurrency: number,
  now: number,
): DueStarts {
  const start: WaitingJob[] = [];
  let wakeAt: number | null = null;
  let free = concurrency - running;
  for (let i = 0; i < waiting.length && free > 0; i++) {
    const job = waiting[i];
    const dueAt = job.created + job.startDelayMs;
    if (dueAt <= now) {
      start.push(job);
      free--;
    } else {
      wakeAt = wakeAt === null ? dueAt : Math.min(wakeAt, dueAt);
    }
  }
  return { start, wakeAt };
}
