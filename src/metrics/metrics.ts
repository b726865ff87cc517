/**
 * prunner's metrics in the Prometheus text format, kept by `prom-client`: job and task
 * counters and durations, wait-list load, refusals, timeouts, retries, store write failures,
 * executor restarts and `prom-client`'s process metrics.
 *
 * Every metric has its own registry, so several prunners (as in tests) can run in one process.
 *
 * @module
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Job, Task } from "../engine/job.ts";

/** How many jobs of a pipeline run and wait right now. */
export interface PipelineLoad {
  readonly pipeline: string;
  /** Started jobs that have not ended, those waiting out a retry delay included. */
  readonly running: number;
  /** Jobs on the wait list. */
  readonly waiting: number;
}

/** Settings of {@linkcode createMetrics}. */
export interface MetricsOptions {
  /** The current load of every pipeline, read at each scrape. */
  readonly load: () => Iterable<PipelineLoad>;
  /** Whether `prom-client`'s process metrics are collected too (default `true`). */
  readonly processMetrics?: boolean;
}

/** How a job ended, as the metrics label it. */
export type JobOutcome = "done" | "failed" | "canceled";

/** Why a job was refused, as the metrics label it. */
export type RefusalReason = "queue_full" | "queue_disabled";

/** The metrics and what feeds them. */
export interface Metrics {
  /** The `Content-Type` of {@linkcode Metrics.text}. */
  readonly contentType: string;
  /** All metrics in the Prometheus text format. */
  text(): Promise<string>;
  /** A job was accepted. */
  jobScheduled(job: Job): void;
  /** A job started: observes how long it waited since it was scheduled. */
  jobStarted(job: Job): void;
  /** A job ended: counts it by outcome and observes how long it ran. */
  jobCompleted(job: Job): void;
  /** An attempt of a task ended: observes how long it ran, by its result. */
  taskFinished(job: Job, task: Task, result: "done" | "error" | "canceled"): void;
  /** A task's time was up (its own `timeout`, or its pipeline's). */
  taskTimedOut(job: Job, by: "task" | "pipeline"): void;
  /** A failed task will run again after its retry delay. */
  taskRetried(job: Job): void;
  /** A job was refused because of the pipeline's wait list. */
  jobRefused(pipeline: string, reason: RefusalReason): void;
  /** Persisting a job failed. */
  storeWriteFailed(): void;
  /** A task executor process ended unexpectedly and will be replaced. */
  executorRestarted(): void;
}

const DURATION_BUCKETS = [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200];
const LATENCY_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600];

/**
 * Creates prunner's metrics in a registry of their own.
 *
 * @example
 * ```ts
 * const metrics = createMetrics({ load: () => runner.load() });
 * metrics.jobScheduled(job);
 * console.log(await metrics.text());
 * ```
 */
export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.processMetrics ?? true) collectProcessMetrics(registry);

  const scheduled = new Counter({
    name: "prunner_jobs_scheduled_total",
    help: "Jobs accepted, by pipeline.",
    labelNames: ["pipeline"] as const,
    registers,
  });
  const finished = new Counter({
    name: "prunner_jobs_finished_total",
    help: "Jobs ended, by pipeline and outcome (done, failed, canceled).",
    labelNames: ["pipeline", "outcome"] as const,
    registers,
  });
  const refused = new Counter({
    name: "prunner_jobs_refused_total",
    help: "Jobs refused by a pipeline's wait list, by pipeline and reason " +
      "(queue_full, queue_disabled).",
    labelNames: ["pipeline", "reason"] as const,
    registers,
  });
  const load = (name: string, help: string, key: "running" | "waiting") =>
    new Gauge({
      name,
      help,
      labelNames: ["pipeline"] as const,
      registers,
      collect() {
        this.reset();
        for (const entry of options.load()) this.set({ pipeline: entry.pipeline }, entry[key]);
      },
    });
  load(
    "prunner_jobs_running",
    "Jobs started and not ended, by pipeline (those waiting out a retry delay included).",
    "running",
  );
  load("prunner_jobs_waiting", "Jobs on the wait list, by pipeline.", "waiting");
  const jobDuration = new Histogram({
    name: "prunner_job_duration_seconds",
    help: "Time from a job's start to its end, by pipeline and outcome.",
    labelNames: ["pipeline", "outcome"] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const startLatency = new Histogram({
    name: "prunner_job_start_latency_seconds",
    help: "Time from scheduling a job to its start (wait list and start delay), by pipeline.",
    labelNames: ["pipeline"] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const taskDuration = new Histogram({
    name: "prunner_task_duration_seconds",
    help: "Time one attempt of a task ran, by pipeline and result (done, error, canceled).",
    labelNames: ["pipeline", "result"] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const timeouts = new Counter({
    name: "prunner_task_timeouts_total",
    help: "Tasks stopped because their time was up, by pipeline and whose timeout passed " +
      "(task, pipeline).",
    labelNames: ["pipeline", "timeout"] as const,
    registers,
  });
  const retries = new Counter({
    name: "prunner_task_retries_total",
    help: "Failed task attempts that are run again, by pipeline.",
    labelNames: ["pipeline"] as const,
    registers,
  });
  const storeFailures = new Counter({
    name: "prunner_store_write_failures_total",
    help: "Job saves that failed to be written to the store.",
    registers,
  });
  const executorRestarts = new Counter({
    name: "prunner_executor_restarts_total",
    help: "Task executor processes that ended unexpectedly and are replaced.",
    registers,
  });

  return {
    contentType: registry.contentType,
    text: () => registry.metrics(),
    jobScheduled(job) {
      scheduled.inc({ pipeline: job.pipeline });
    },
    jobStarted(job) {
      if (job.start === null) return;
      startLatency.observe({ pipeline: job.pipeline }, seconds(job.start - job.created));
    },
    jobCompleted(job) {
      const outcome: JobOutcome = job.canceled ? "canceled" : job.errored ? "failed" : "done";
      finished.inc({ pipeline: job.pipeline, outcome });
      if (job.start !== null && job.end !== null) {
        jobDuration.observe({ pipeline: job.pipeline, outcome }, seconds(job.end - job.start));
      }
    },
    taskFinished(job, task, result) {
      if (task.start === null || task.end === null) return;
      taskDuration.observe({ pipeline: job.pipeline, result }, seconds(task.end - task.start));
    },
    taskTimedOut(job, by) {
      timeouts.inc({ pipeline: job.pipeline, timeout: by });
    },
    taskRetried(job) {
      retries.inc({ pipeline: job.pipeline });
    },
    jobRefused(pipeline, reason) {
      refused.inc({ pipeline, reason });
    },
    storeWriteFailed() {
      storeFailures.inc();
    },
    executorRestarted() {
      executorRestarts.inc();
    },
  };
}

/** Process metrics that `prom-client` reads from `/proc/self` on Linux. */
const PROC_METRICS = [
  "process_resident_memory_bytes",
  "process_virtual_memory_bytes",
  "process_heap_bytes",
  "process_open_fds",
  "process_max_fds",
];

/**
 * `prom-client`'s default metrics. On Linux it reads some of them from `/proc/self`, which
 * Deno only allows with `--allow-all`; without it they would silently read 0 (as in the
 * compiled binary, which has narrower permissions), so they are left out and the resident
 * memory comes from Deno instead.
 */
function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  if (Deno.build.os !== "linux" || procReadable()) return;
  for (const name of PROC_METRICS) registry.removeSingleMetric(name);
  new Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes.",
    registers: [registry],
    collect() {
      this.set(Deno.memoryUsage().rss);
    },
  });
}

function procReadable(): boolean {
  try {
    Deno.readTextFileSync("/proc/self/status");
    return true;
  } catch {
    return false;
  }
}

function seconds(ms: number): number {
  return Math.max(0, ms) / 1000;
}

/**
 * Wraps a store made of plain functions so that every failed `save` is counted; the failure
 * still reaches the caller.
 *
 * @example
 * ```ts
 * const store = countSaveFailures(dataDir.store, () => metrics.storeWriteFailed());
 * ```
 */
export function countSaveFailures<S extends { save(job: Job): Promise<void> }>(
  store: S,
  onFailure: (error: unknown) => void,
): S {
  return {
    ...store,
    save: (job: Job) =>
      store.save(job).catch((error) => {
        onFailure(error);
        throw error;
      }),
  };
}
