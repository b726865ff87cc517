/**
 * Admission: whether a new job starts, waits or is refused, and when waiting jobs start. The
 * engine's wait-list rules decide; this applies their decisions to the state and keeps the
 * start-delay timers.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { PipelineDefinition } from "../definition/types.ts";
import { createJob } from "../engine/create_job.ts";
import type { Job, JobIdempotency } from "../engine/job.ts";
import {
  type AdmissionDecision,
  decideAdmission,
  decideDueStarts,
  type DueStarts,
} from "../engine/wait_list.ts";
import { QueueDisabledError, QueueFullError } from "../errors.ts";
import type { ScheduleRequest } from "./api.ts";
import type { EventHub } from "./events.ts";
import type { JobLifecycle, PreparedStart } from "./job_lifecycle.ts";
import {
  type ActiveJob,
  admitted,
  dueStarted,
  queueOf,
  type RunnerState,
  slotReturned,
  storedJob,
  waitingJobOf,
  withdrawn,
} from "./state.ts";

/** What admission acts through. */
export interface AdmissionOptions {
  readonly state: RunnerState;
  readonly lifecycle: JobLifecycle;
  readonly events: EventHub;
  readonly now: () => number;
  /** Called when a job not stored gives its running slot back (the runner may be idle now). */
  readonly released: () => void;
}

/**
 * Admits jobs and starts waiting ones when they are due. A new job is accepted in two steps, so
 * that nothing of a job runs before it is stored: `accept` reserves its place (a running slot,
 * or its place on the wait list) at once, so concurrent requests see it; then either `stored`
 * lets it start, or `refused` gives its place back as if it had never been asked for.
 */
export interface Admission {
  /**
   * Creates a job of `definition` (holding `idempotency`, if given) and reserves its start or
   * its place on the wait list. Until `stored` or `refused` is called for it, it does not start
   * and replaces no other job. A job that starts at once is marked started and its first tasks'
   * processes start, held before their first line (see `JobLifecycle.prepareStart`): its first
   * commit stores its start, and the processes start while that commit is in flight.
   *
   * @throws {QueueFullError | QueueDisabledError} when the pipeline refuses the job.
   */
  accept(
    definition: PipelineDefinition,
    request: ScheduleRequest,
    idempotency: JobIdempotency | null,
  ): ActiveJob;
  /**
   * The accepted job is stored: it starts if its turn has come, and replaces the waiting job
   * its queue strategy says. After shutdown began it stays waiting in the store.
   */
  stored(entry: ActiveJob): void;
  /** The accepted job could not be stored: it is forgotten and its place given back. */
  refused(entry: ActiveJob): void;
  /** Starts the pipeline's waiting jobs that are due and a slot allows; arms the next timer. */
  startDue(pipeline: string): void;
  /** Clears every start-delay timer (shutdown). */
  stopTimers(): void;
}

const log = getLogger(["prunner", "runner"]);

/**
 * The new job a schedule request asks for, with id `id`, scheduled at `at`.
 *
 * @example
 * ```ts
 * const job = requestedJob(definition, request, null, crypto.randomUUID(), Date.now());
 * ```
 */
export function requestedJob(
  definition: PipelineDefinition,
  request: ScheduleRequest,
  idempotency: JobIdempotency | null,
  id: string,
  at: number,
): Job {
  return createJob(definition, {
    id,
    now: at,
    variables: request.variables,
    user: request.user,
    queuePartition: request.queuePartition,
    idempotency,
    trigger: request.trigger,
  });
}

/**
 * The error a schedule request gets when the pipeline's wait list refuses its job.
 *
 * @example
 * ```ts
 * if (decision.kind === "refuse") throw refusal(definition.name, decision);
 * ```
 */
export function refusal(
  pipeline: string,
  decision: Extract<AdmissionDecision, { kind: "refuse" }>,
): QueueFullError | QueueDisabledError {
  return decision.reason === "queue_full"
    ? new QueueFullError(pipeline, decision.limit)
    : new QueueDisabledError(pipeline);
}

/**
 * Creates the admission part of a runner.
 *
 * @example
 * ```ts
 * const admission = createAdmission({ state, lifecycle, events, now: Date.now, released });
 * const entry = admission.accept(definition, request, null);
 * ```
 */
export function createAdmission(options: AdmissionOptions): Admission {
  const { state, lifecycle, events, now } = options;
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Accepted jobs that start at once, their first tasks held until the job is stored. */
  const prepared = new Map<string, PreparedStart>();

  const clearTimer = (pipeline: string): void => {
    clearTimeout(timers.get(pipeline));
    timers.delete(pipeline);
  };

  /** Starts the due jobs that are stored, and arms the pipeline's timer for the next one. */
  const apply = (pipeline: string, due: DueStarts, at: number): void => {
    for (const entry of dueStarted(state, pipeline, due, at)) lifecycle.start(entry, at);
    if (due.wakeAt !== null) {
      timers.set(pipeline, setTimeout(() => startDue(pipeline), Math.max(0, due.wakeAt - at)));
    }
  };

  const startDue = (pipeline: string): void => {
    clearTimer(pipeline);
    if (state.shuttingDown) return;
    const queue = state.queues.get(pipeline);
    if (!queue || queue.waiting.length === 0) return;
    const concurrency = state.definitions.get(pipeline)?.concurrency ??
      state.active.get(queue.waiting[0].id)?.definition.concurrency ?? 1;
    const at = now();
    apply(pipeline, decideDueStarts(queue, concurrency, at), at);
  };

  return {
    accept(definition, request, idempotency) {
      const at = now();
      const job = requestedJob(definition, request, idempotency, crypto.randomUUID(), at);
      const entry: ActiveJob = { job, definition, runs: new Map() };
      const queue = queueOf(state, definition.name);
      const decision = decideAdmission(definition, queue, waitingJobOf(entry), at);
      if (decision.kind === "refuse") {
        events.emit({ type: "job_refused", pipeline: definition.name, reason: decision.reason });
        throw refusal(definition.name, decision);
      }
      admitted(state, entry, decision, at);
      if (decision.kind === "start") prepared.set(job.id, lifecycle.prepareStart(entry, at));
      if (decision.kind === "wait") {
        clearTimer(definition.name);
        apply(definition.name, decision, at);
      }
      return entry;
    },

    stored(entry) {
      const { job } = entry;
      const start = prepared.get(job.id);
      prepared.delete(job.id);
      const stored = storedJob(state, entry);
      if (!stored) {
        start?.drop();
        return;
      }
      events.emit({ type: "job_scheduled", job });
      if (stored.replaced) {
        log.info("Job {jobId} replaced by {newJobId} on the wait list", {
          jobId: stored.replaced.job.id,
          newJobId: job.id,
        });
        lifecycle.cancel(stored.replaced);
      }
      if (!stored.due) return;
      if (state.shuttingDown) {
        // Stored as waiting: it runs after the restart, as the other waiting jobs do.
        start?.defer();
        slotReturned(state, entry);
        options.released();
        return;
      }
      if (start) start.release();
      else lifecycle.start(entry, now());
    },

    refused(entry) {
      prepared.get(entry.job.id)?.drop();
      prepared.delete(entry.job.id);
      const tookSlot = withdrawn(state, entry);
      if (tookSlot === null) return;
      startDue(entry.job.pipeline);
      if (tookSlot) options.released();
    },

    startDue,

    stopTimers() {
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
    },
  };
}
