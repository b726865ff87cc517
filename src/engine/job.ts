/**
 * The job and task records: what the engine decides about, the store persists and the API shows.
 * Times are milliseconds since the Unix epoch.
 *
 * @module
 */

/** Lifecycle of a task: `waiting` → `running` → `done` | `error` | `canceled`, or `skipped`. */
export type TaskStatus = "waiting" | "running" | "done" | "error" | "canceled" | "skipped";

/** One task run of a job. */
export interface Task {
  name: string;
  dependsOn: string[];
  status: TaskStatus;
  start: number | null;
  end: number | null;
  /** Exit code of the failing line, or 0. */
  exitCode: number;
  errored: boolean;
  error: string | null;
  /**
   * The attempt that runs or ran last, from 1; `start` and `end` are this attempt's. Absent
   * before the first start (and in records written before retries existed).
   */
  attempt?: number;
  /**
   * Set while the task waits out its retry delay (its status is `waiting`): when the next
   * attempt may start, epoch ms. `error` and `exitCode` are the failed attempt's meanwhile.
   */
  retryAt?: number;
  /** Set once the task's time is up and it is being stopped: why it ends `error`. */
  timeout?: TaskTimeout;
  /** Output the task printed that is missing from its log files; absent when none. */
  droppedOutput?: DroppedOutput;
}

/** Why a task is stopped for running out of time. */
export interface TaskTimeout {
  /** Whose limit passed: the task's own `timeout` or its pipeline's. */
  readonly by: "task" | "pipeline";
  /** The error the task ends with, e.g. `timed out after 10m`. */
  readonly error: string;
}

/** Output of a task that was read but could not be written to its log files, per stream. */
export interface DroppedOutput {
  stdout?: StreamLoss;
  stderr?: StreamLoss;
}

/** How much of one output stream was dropped, and why. */
export interface StreamLoss {
  /** Bytes read from the task and not written to the log file. */
  bytes: number;
  /** Why, e.g. `No space left on device (os error 28)`. */
  reason: string;
}

/** Variables sent when scheduling a job: a decoded JSON object. */
export type JobVariables = Record<string, unknown>;

/** The trigger and planned time a triggered job was made for. */
export interface JobTrigger {
  /** The trigger's `cron`, as written in the pipeline's `schedule`. */
  readonly cron: string;
  readonly timezone: string;
  /** The tick the job was started for, epoch ms. */
  readonly planned: number;
}

/**
 * The identity of a trigger within its pipeline: its cron expression and time zone. Its last
 * tick is stored under it, so reordering a pipeline's `schedule` keeps each trigger's history,
 * and changing a trigger's expression or zone makes a new trigger without one.
 *
 * @example
 * ```ts
 * triggerId({ cron: "30 3 * * *", timezone: "Europe/Berlin" }); // "30 3 * * * Europe/Berlin"
 * ```
 */
export function triggerId(trigger: Pick<JobTrigger, "cron" | "timezone">): string {
  return `${trigger.cron} ${trigger.timezone}`;
}

/** One scheduled run of a pipeline. */
export interface Job {
  /** UUID v4. */
  id: string;
  pipeline: string;
  /** Tasks in topological order, ties broken by name. */
  tasks: Task[];
  /** True once the job has ended, whether done, errored or canceled. */
  completed: boolean;
  canceled: boolean;
  errored: boolean;
  created: number;
  start: number | null;
  end: number | null;
  lastError: string | null;
  variables: JobVariables | null;
  /** The `sub` claim of the token that scheduled the job. */
  user: string;
  /** Partition of a `partitioned_replace` wait list, or `null`. */
  queuePartition: string | null;
  /**
   * The `Idempotency-Key` the job was scheduled with, for its `user`; absent when none (and in
   * records written before keys existed).
   */
  idempotency?: JobIdempotency;
  /** Set on a job a trigger of the pipeline's `schedule` started: which, and for which tick. */
  trigger?: JobTrigger;
  /**
   * In a cluster (`--database-url`): the name of the node that started the job and runs its
   * tasks; absent on a job that has not started, and on every job of a single prunner.
   */
  node?: string;
}

/** The idempotency key a job was scheduled with: retries with it answer with this job. */
export interface JobIdempotency {
  /** The key as the client sent it. */
  key: string;
  /** The request it was sent with (see `requestFingerprint`): a retry must send the same. */
  fingerprint: string;
  /** Until when the key is kept, epoch ms; afterwards it may name a new job. */
  expires: number;
}

/** A job's state in one word: how listings name and filter it. */
export type JobState = "waiting" | "running" | "done" | "error" | "canceled";

/** Every job state, in the order a job can pass through them. */
export const JOB_STATES: readonly JobState[] = ["waiting", "running", "done", "error", "canceled"];

/**
 * The state of a job, from its flags: an ended job is `canceled`, `error` or `done`; one that
 * has not ended is `running` once started, `waiting` before.
 *
 * @example
 * ```ts
 * jobState({ completed: true, canceled: false, errored: true, start: 1 }); // "error"
 * ```
 */
export function jobState(job: Pick<Job, "completed" | "canceled" | "errored" | "start">): JobState {
  if (job.completed) return job.canceled ? "canceled" : job.errored ? "error" : "done";
  return job.start !== null ? "running" : "waiting";
}
