/**
 * Admission: whether a new job starts, waits or is refused, and when waiting jobs start. The
 * engine's wait-list rules decide; this keeps the queues and the start-delay timers.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { PipelineDefinition } from "../definition/types.ts";
import { createJob } from "../engine/create_job.ts";
import { admit, removeWaiting, takeDueJobs, type WaitingJob } from "../engine/wait_list.ts";
import { QueueDisabledError, QueueFullError } from "../errors.ts";
import type { ScheduleRequest } from "./api.ts";
import type { EventHub } from "./events.ts";
import type { JobLifecycle } from "./job_lifecycle.ts";
import { type ActiveJob, queueOf, type RunnerState } from "./state.ts";

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
   * Creates a job of `definition` and reserves its start or its place on the wait list. Until
   * `stored` or `refused` is called for it, it does not start and replaces no other job.
   *
   * @throws {QueueFullError | QueueDisabledError} when the pipeline refuses the job.
   */
  accept(definition: PipelineDefinition, request: ScheduleRequest): ActiveJob;
  /**
   * The accepted job is stored: it starts if its turn has come, and replaces the waiting job
   * its queue strategy says. After shutdown began it stays waiting in the store.
   */
  stored(entry: ActiveJob): void;
  /** The accepted job could not be stored: it is forgotten and its place given back. */
  refused(entry: ActiveJob): void;
  /** How many running slots are reserved for accepted jobs not stored yet. */
  reserved(): number;
  /** Puts a job restored from the store back on its wait list. */
  requeue(entry: ActiveJob): void;
  /** Cancels a job: takes a waiting one off its wait list, kills a running one's tasks. */
  cancel(entry: ActiveJob): void;
  /** Starts the pipeline's waiting jobs that are due and a slot allows; arms the next timer. */
  startDue(pipeline: string): void;
  /** Clears every start-delay timer (shutdown). */
  stopTimers(): void;
}

const log = getLogger(["prunner", "runner"]);

/** A waiting job taken off its wait list for a job not stored yet, and where it was. */
interface Replaced {
  readonly entry: ActiveJob;
  readonly index: number;
  readonly waiting: WaitingJob;
}

/**
 * Creates the admission part of a runner.
 *
 * @example
 * ```ts
 * const admission = createAdmission({ state, lifecycle, events, now: Date.now });
 * const entry = admission.accept(definition, request);
 * ```
 */
export function createAdmission(options: AdmissionOptions): Admission {
  const { state, lifecycle, events, now } = options;
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  /**
   * Accepted jobs not stored yet: when their turn to start came (`null` while it has not),
   * and the waiting job they replace, taken off the wait list meanwhile.
   */
  const unstored = new Map<string, { startAt: number | null; replaces: Replaced | null }>();

  /** Starts a job whose turn has come, or notes the time for a job not stored yet. */
  const begin = (entry: ActiveJob, at: number): void => {
    const pending = unstored.get(entry.job.id);
    if (pending) pending.startAt = at;
    else lifecycle.start(entry, at);
  };

  const startDue = (pipeline: string): void => {
    clearTimeout(timers.get(pipeline));
    timers.delete(pipeline);
    if (state.shuttingDown) return;
    const queue = state.queues.get(pipeline);
    if (!queue || queue.waiting.length === 0) return;
    const concurrency = state.definitions.get(pipeline)?.concurrency ??
      state.active.get(queue.waiting[0].id)?.definition.concurrency ?? 1;
    const at = now();
    const due = takeDueJobs(queue, concurrency, at);
    for (const waiting of due.start) begin(state.active.get(waiting.id)!, at);
    if (due.wakeAt !== null) {
      timers.set(pipeline, setTimeout(() => startDue(pipeline), Math.max(0, due.wakeAt - at)));
    }
  };

  const cancel = (entry: ActiveJob): void => {
    if (entry.job.start === null) removeWaiting(queueOf(state, entry.job.pipeline), entry.job.id);
    lifecycle.cancel(entry);
  };

  const requeue = (entry: ActiveJob): void => {
    const { job, definition } = entry;
    queueOf(state, job.pipeline).waiting.push({
      id: job.id,
      created: job.created,
      startDelayMs: definition.startDelayMs,
      partition: job.queuePartition,
    });
  };

  return {
    accept(definition, request) {
      const queue = queueOf(state, definition.name);
      const admission = admit(definition, queue, request.queuePartition);
      if (admission.kind === "refuse") {
        events.emit({ type: "job_refused", pipeline: definition.name, reason: admission.reason });
        throw admission.reason === "queue_full"
          ? new QueueFullError(definition.name, admission.limit)
          : new QueueDisabledError(definition.name);
      }
      const at = now();
      const job = createJob(definition, {
        id: crypto.randomUUID(),
        now: at,
        variables: request.variables,
        user: request.user,
        queuePartition: request.queuePartition,
      });
      const entry: ActiveJob = { job, definition, runs: new Map() };
      state.active.set(job.id, entry);
      const pending: { startAt: number | null; replaces: Replaced | null } = {
        startAt: null,
        replaces: null,
      };
      unstored.set(job.id, pending);
      if (admission.kind === "start") {
        queue.running++;
        pending.startAt = at;
        return entry;
      }
      const replaced = admission.replaces === null
        ? undefined
        : state.active.get(admission.replaces);
      if (replaced) {
        const index = queue.waiting.findIndex((waiting) => waiting.id === replaced.job.id);
        if (index >= 0) {
          pending.replaces = { entry: replaced, index, waiting: queue.waiting[index] };
          queue.waiting.splice(index, 1);
        }
      }
      requeue(entry);
      startDue(definition.name);
      return entry;
    },

    stored(entry) {
      const { job } = entry;
      const pending = unstored.get(job.id);
      if (!pending) return;
      unstored.delete(job.id);
      events.emit({ type: "job_scheduled", job });
      const replaced = pending.replaces?.entry;
      // Unless it was canceled meanwhile.
      if (replaced && state.active.get(replaced.job.id) === replaced) {
        log.info("Job {jobId} replaced by {newJobId} on the wait list", {
          jobId: replaced.job.id,
          newJobId: job.id,
        });
        lifecycle.cancel(replaced);
      }
      if (pending.startAt === null) return;
      if (state.shuttingDown) {
        // Stored as waiting: it runs after the restart, as the other waiting jobs do.
        queueOf(state, job.pipeline).running--;
        options.released();
        return;
      }
      lifecycle.start(entry, now());
    },

    refused(entry) {
      const { job } = entry;
      const pending = unstored.get(job.id);
      if (!pending) return;
      unstored.delete(job.id);
      state.active.delete(job.id);
      const queue = queueOf(state, job.pipeline);
      if (pending.startAt !== null) queue.running--;
      else removeWaiting(queue, job.id);
      if (pending.replaces && state.active.get(pending.replaces.waiting.id)) {
        const { index, waiting } = pending.replaces;
        queue.waiting.splice(Math.min(index, queue.waiting.length), 0, waiting);
      }
      startDue(job.pipeline);
      if (pending.startAt !== null) options.released();
    },

    reserved() {
      let count = 0;
      for (const pending of unstored.values()) if (pending.startAt !== null) count++;
      return count;
    },

    requeue,
    cancel,
    startDue,

    stopTimers() {
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
    },
  };
}
