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
}

/** Variables sent when scheduling a job: a decoded JSON object. */
export type JobVariables = Record<string, unknown>;

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
}
