/**
 * Typed, validated pipeline definitions: what `pipelines.yml` files turn into.
 *
 * @module
 */

/** How a pipeline's wait list treats a new job when the pipeline is at its concurrency. */
export type QueueStrategy = "append" | "replace" | "partitioned_replace";

/** Environment variables set by a pipeline, task or `on_error` definition. */
export type EnvMap = Record<string, string>;

/** One task of a pipeline: shell script lines, run in order. */
export interface TaskDefinition {
  /** The task's name, unique within its pipeline. */
  readonly name: string;
  /** Script lines; each runs as `sh -c LINE`, after template rendering. */
  readonly script: readonly string[];
  /** Names of tasks of the same pipeline that must finish successfully first. */
  readonly dependsOn: readonly string[];
  /** When true, a failing line does not fail the task (prunner's `allow_failure`). */
  readonly allowFailure: boolean;
  /** Task-level environment, overriding the pipeline's. */
  readonly env: EnvMap;
  /** Longest time one attempt may run; `null` means no limit. */
  readonly timeoutMs: number | null;
  /** How many more times a failed task runs again (`0`: it does not). */
  readonly retries: number;
  /** Time between a failed attempt and the next one. */
  readonly retryDelayMs: number;
  /** Whether an attempt that timed out is retried too. */
  readonly retryOnTimeout: boolean;
}

/** The `on_error` script of a pipeline, run when a task failed the job. */
export interface OnErrorDefinition {
  readonly script: readonly string[];
  readonly env: EnvMap;
  /** Longest time the `on_error` script may run; `null` means no limit. */
  readonly timeoutMs: number | null;
}

/**
 * What a trigger does with the ticks it missed while prunner was not running: `none` skips
 * them, `latest` runs the newest once, `all` runs each (at most `MAX_CATCH_UP` of them).
 */
export type CatchUp = "none" | "latest" | "all";

/** One entry of a pipeline's `schedule`: when jobs are started without a request. */
export interface TriggerDefinition {
  /**
   * When it ticks, as written: five cron fields (`30 3 * * *`), a nickname (`@daily`), or
   * `@every DURATION` (`@every 15m`, ticks at whole multiples of the duration since the epoch).
   */
  readonly cron: string;
  /** IANA time zone the cron fields are read in (default `UTC`). */
  readonly timezone: string;
  /** Job variables of the jobs it starts. */
  readonly variables: Readonly<Record<string, unknown>> | null;
  readonly catchUp: CatchUp;
}

/** One pipeline, with defaults applied. Durations are in milliseconds. */
export interface PipelineDefinition {
  readonly name: string;
  /** The file the pipeline was declared in. */
  readonly sourcePath: string;
  /** How many jobs of this pipeline may run at once (≥ 1, default 1). */
  readonly concurrency: number;
  /** Maximum number of waiting jobs; `null` means unbounded, `0` means no queue. */
  readonly queueLimit: number | null;
  /** Waiting slots per partition, only with `partitioned_replace`. */
  readonly queuePartitionLimit: number | null;
  readonly queueStrategy: QueueStrategy;
  /** Minimum time between scheduling a job and starting it. */
  readonly startDelayMs: number;
  readonly continueRunningTasksAfterFailure: boolean;
  /** Finished jobs older than this are removed; `null` keeps them. */
  readonly retentionPeriodMs: number | null;
  /** Only the newest N finished jobs are kept; `null` keeps them all. */
  readonly retentionCount: number | null;
  /** Longest time a job may run, from its start; `null` means no limit. */
  readonly timeoutMs: number | null;
  readonly env: EnvMap;
  /** Tasks by name. */
  readonly tasks: Readonly<Record<string, TaskDefinition>>;
  readonly onError: OnErrorDefinition | null;
  /** Triggers that start jobs on their own (`schedule`); empty when there are none. */
  readonly schedule: readonly TriggerDefinition[];
}

/** All loaded pipelines, by name. */
export type Definitions = ReadonlyMap<string, PipelineDefinition>;
