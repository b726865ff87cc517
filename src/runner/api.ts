/**
 * What the HTTP layer needs from the runner. The server depends on this interface only, so it
 * can be tested against a fake.
 *
 * @module
 */
import type { Job, JobVariables } from "../engine/job.ts";
import type { JobPage, LogStream } from "../store/types.ts";
import type { JobListQuery } from "./paging.ts";
import type { EventHub } from "./events.ts";

/** A pipeline as listed by the API. */
export interface PipelineInfo {
  pipeline: string;
  /** A new job would be accepted right now. */
  schedulable: boolean;
  /** At least one job of the pipeline runs. */
  running: boolean;
  /** How many jobs of the pipeline run. */
  runningJobs: number;
  /** How many jobs of the pipeline wait on its wait list. */
  waitingJobs: number;
}

/** A request to schedule a job. */
export interface ScheduleRequest {
  pipeline: string;
  variables: JobVariables | null;
  user: string;
  queuePartition: string | null;
}

/** What a schedule request with an idempotency key got. */
export interface ScheduleOutcome {
  /** The job: a new one, or the one an earlier request with the same key created. */
  job: Job;
  /** Whether the job is an earlier request's (the request was a retry). */
  replayed: boolean;
}

export type { LogStream };

/** The runner's operations, as the API uses them. */
export interface RunnerApi {
  /** All pipelines, sorted by name. */
  listPipelines(): PipelineInfo[];
  /**
   * All jobs, newest first, in batches: a job that waits or runs as its current state, any
   * other as its API JSON as stored (UTF-8 bytes), to be sent as it is; bytes may hold several
   * jobs' JSON, separated by commas (see `ListedJob`).
   */
  listJobs(): AsyncIterable<(Job | Uint8Array)[]>;
  /**
   * One page of jobs, newest first, optionally of one pipeline and one state (see `listPage`):
   * a page filtered by state may hold fewer jobs than asked for and still have a `next`.
   */
  pageJobs(query: JobListQuery): Promise<JobPage>;
  /** One job, or `null` when no job has this id. */
  getJob(id: string): Promise<Job | null>;
  /**
   * Schedules a job; resolves once the job is persisted. Rejects with
   * `PipelineNotFoundError`, `QueueFullError`, `QueueDisabledError`, `VariablesTooLargeError`
   * or `ShuttingDownError`.
   */
  schedule(request: ScheduleRequest): Promise<Job>;
  /**
   * Schedules a job unless `request.user` already scheduled one with idempotency key `key` that
   * is still kept: then resolves with that job, `replayed`. Requests with the same key at the
   * same time get one job; when the first is refused, the next tries itself. Rejects as
   * `schedule` does, and with `IdempotencyKeyReusedError` when the earlier request with the
   * key was a different one.
   */
  scheduleOnce(request: ScheduleRequest, key: string): Promise<ScheduleOutcome>;
  /** Cancels a job. Rejects with `JobNotFoundError` or `JobCompletedError`. */
  cancel(id: string): Promise<void>;
  /**
   * A task's output from its log file, or `null` when nothing was written. The stream reads
   * the file in chunks; it never holds the whole log in memory.
   */
  openLog(
    jobId: string,
    task: string,
    stream: LogStream,
  ): Promise<ReadableStream<Uint8Array> | null>;
  /**
   * The file an attempt of a task (the first unless `attempt` says otherwise) writes the stream
   * to; it exists once the attempt wrote to the stream.
   */
  logPath(jobId: string, task: string, stream: LogStream, attempt?: number): string;
  /** Every change to jobs and pipelines, as it happens. */
  readonly events: Pick<EventHub, "subscribe">;
}
