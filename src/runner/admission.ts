/**
 * Admission: whether a new job starts, waits or is refused, and when waiting jobs start. The
 * engine's wait-list rules decide; this keeps the queues and the start-delay timers.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { PipelineDefinition } from "../definition/types.ts";
import { createJob } from "../engine/create_job.ts";
import { admit, removeWaiting, takeDueJobs } from "../engine/wait_list.ts";
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
}

/** Admits jobs and starts waiting ones when they are due. */
export interface Admission {
  /**
   * Creates a job of `definition` and starts it at once or puts it on the wait list (replacing a
   * waiting job where the queue strategy says so).
   *
   * @throws {QueueFullError | QueueDisabledError} when the pipeline refuses the job.
   */
  accept(definition: PipelineDefinition, request: ScheduleRequest): ActiveJob;
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
    for (const waiting of due.start) lifecycle.start(state.active.get(waiting.id)!, at);
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
      events.emit({ type: "job_scheduled", job });
      if (admission.kind === "start") {
        queue.running++;
        lifecycle.start(entry, at);
        return entry;
      }
      const replaced = admission.replaces === null
        ? undefined
        : state.active.get(admission.replaces);
      if (replaced) {
        log.info("Job {jobId} replaced by {newJobId} on the wait list", {
          jobId: replaced.job.id,
          newJobId: job.id,
        });
        cancel(replaced);
      }
      requeue(entry);
      startDue(definition.name);
      return entry;
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
