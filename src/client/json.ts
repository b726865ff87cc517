/**
 * The JSON of prunner's HTTP API as clients receive it: jobs, tasks, pipelines, pages, logs and
 * the nodes of a cluster.
 *
 * Written out as plain types rather than inferred from the server's schemas
 * (src/server/schemas.ts), so that browser code (the web UI) can use them without type-checking
 * the server; tests/client/json_test.ts checks that both say the same.
 *
 * @module
 */

/** The two output streams of a task. */
export type LogStream = "stdout" | "stderr";

/** What a task is doing or how it ended. */
export type TaskStatus = "waiting" | "running" | "skipped" | "done" | "error" | "canceled";

/** Output of one stream that was read but could not be written to the task's log file. */
export interface DroppedOutputJson {
  bytes: number;
  reason: string;
}

/** A task of a job. Optional fields are left out when empty. */
export interface TaskJson {
  name: string;
  dependsOn?: string[];
  status: TaskStatus;
  start?: string;
  end?: string;
  skipped: boolean;
  exitCode: number;
  errored: boolean;
  error?: string;
  /** Which attempt of a task with `retries` runs or ran last; absent for the first. */
  attempt?: number;
  /** While the task waits to be retried: when its next attempt starts. */
  retryAt?: string;
  /** Output missing from the task's log files, per stream. */
  droppedOutput?: { stdout?: DroppedOutputJson; stderr?: DroppedOutputJson };
}

/** A job. `variables` come with `GET /job/detail` only, not in listings or events. */
export interface JobJson {
  id: string;
  pipeline: string;
  tasks: TaskJson[];
  completed: boolean;
  canceled: boolean;
  errored: boolean;
  created: string;
  start?: string;
  end?: string;
  lastError?: string;
  variables?: Record<string, unknown>;
  user: string;
  /** Set on a job a trigger of the pipeline's `schedule` started (its user is `schedule`). */
  trigger?: JobTriggerJson;
  /** In a cluster: the node that started the job and runs its tasks. */
  node?: string;
}

/** Which trigger of a pipeline's `schedule` started a job, and for which tick. */
export interface JobTriggerJson {
  /** The trigger's `cron`, as written. */
  cron: string;
  timezone: string;
  /** The tick the job was started for. */
  planned: string;
}

/** A pipeline as `GET /pipelines/` lists it. */
export interface PipelineJson {
  pipeline: string;
  /** A new job would be accepted now. */
  schedulable: boolean;
  /** At least one of its jobs runs. */
  running: boolean;
  /** When a trigger of its `schedule` starts the next job; absent without one. */
  nextRun?: string;
}

/** A pipeline with its job counts, as `GET /pipelines/status` lists it. */
export interface PipelineStatusJson extends PipelineJson {
  runningJobs: number;
  waitingJobs: number;
}

/** `GET /pipelines/jobs`: with paging parameters one page of jobs, newest first. */
export interface JobsPageJson {
  pipelines: PipelineJson[];
  jobs: JobJson[];
  /** The `before` of the next (older) page, when there is one. */
  next?: string;
}

/** A task's output so far, as `GET /job/logs` returns it. */
export interface LogsJson {
  stdout: string;
  stderr: string;
}

/** A node of a cluster, as `GET /cluster` lists it. */
export interface ClusterNodeJson {
  name: string;
  /** Where it serves the API. */
  address: string;
  /** When it joined the cluster. */
  started: string;
  /** How long ago its last heartbeat was, by the database's clock. */
  heartbeatAgeMs: number;
  /** Its heartbeat is within the timeout. */
  alive: boolean;
  /** It is the node that answered. */
  self: boolean;
  /** Ids of the unfinished started jobs it runs. */
  jobs: string[];
}

/** `GET /cluster`: the node that answered, and every node of its cluster. */
export interface ClusterJson {
  node: string;
  nodes: ClusterNodeJson[];
}
