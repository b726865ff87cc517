/**
 * What the store offers the layers above it: persistence of jobs ({@linkcode JobStore}) and of
 * task output ({@linkcode LogStore}). Backends implement these interfaces (Deno KV in `kv/`), so
 * nothing here names a backend's own types.
 *
 * @module
 */
import type { Job } from "../engine/job.ts";

/** Which output stream of a task. */
export type LogStream = "stdout" | "stderr";

/** The task output of a data directory, as the runner uses it. */
export interface LogStore {
  /**
   * The file a task's stream is written to (of its first attempt unless `attempt` says
   * otherwise); its writer creates it and its directory.
   */
  path(jobId: string, task: string, stream: LogStream, attempt?: number): string;
  /** A task attempt's output read in chunks, or `null` when nothing was written. */
  open(
    jobId: string,
    task: string,
    stream: LogStream,
    attempt?: number,
  ): Promise<ReadableStream<Uint8Array> | null>;
  /**
   * Up to `maxBytes` of an attempt's stream from byte `offset` on, as far as it is stored right
   * now: fewer (down to none) at the end of what is stored, which grows while the attempt runs.
   * Reads no more than it returns, so a follower of a long log holds one chunk at a time.
   */
  read(
    jobId: string,
    task: string,
    stream: LogStream,
    attempt: number,
    offset: number,
    maxBytes: number,
  ): Promise<Uint8Array>;
  /**
   * Calls `listener` whenever output of job `jobId` (any task, any node) may have been stored,
   * until the returned function is called; a store whose readers see output at once (the log
   * files) has none, and its readers poll. A hint, never a promise: a call may come without new
   * output, and output stored while the store's notices were interrupted may come without a
   * call, so a reader still reads again now and then.
   */
  watchOutput?(jobId: string, listener: () => void): () => void;
  /**
   * Called once the process of a task's attempt has been started, its output going to
   * `path()`: a store that keeps output beyond the files (PostgreSQL's) copies it while the
   * attempt runs, until `ended()`.
   */
  started(jobId: string, task: string, attempt?: number): void;
  /**
   * Called once an attempt of a task has ended, its output complete (also at startup for the
   * attempts a stop cut off): a store that keeps output beyond the files (PostgreSQL's) copies
   * what is new, and on failure tries again later by itself. Rejects only on a fault that
   * trying again cannot mend. `logged`, when given, names the streams the attempt wrote to:
   * the others have no output to copy.
   */
  ended(
    jobId: string,
    task: string,
    attempt?: number,
    logged?: readonly LogStream[],
  ): Promise<void>;
  /** Removes a job's output; nothing happens when it has none. */
  remove(jobId: string): Promise<void>;
}

/**
 * How listings show a job, as UTF-8 bytes. The store keeps these bytes to list jobs without
 * decoding them; bytes kept under another `version` are built again, never listed.
 *
 * @example
 * ```ts
 * const utf8 = new TextEncoder();
 * const encoder: ListingEncoder = {
 *   version: "1",
 *   encode: (job) => utf8.encode(JSON.stringify({ id: job.id, pipeline: job.pipeline })),
 * };
 * ```
 */
export interface ListingEncoder {
  /** Changes whenever `encode` gives other bytes for the same job. */
  readonly version: string;
  /** The job as listings show it; may throw for a job that cannot be shown. */
  encode(job: Job): Uint8Array;
}

/** What retention needs to know about a job, read from the pipeline index. */
export interface JobSummary {
  id: string;
  created: number;
  completed: boolean;
  end: number | null;
}

/** A position in the newest-first job order: the last job of the previous page. */
export interface JobCursor {
  created: number;
  id: string;
}

/** Which page of jobs to read. */
export interface JobPageQuery {
  /** Most jobs on the page (at least 1). */
  limit: number;
  /** Only jobs after this one in the newest-first order; from the newest when `null`. */
  before: JobCursor | null;
  /** Only jobs of this pipeline; all when `null`. */
  pipeline: string | null;
}

/** One page of jobs. */
export interface JobPage {
  /** Newest first. */
  jobs: Job[];
  /** Where the following page starts; `null` when no job follows. */
  next: JobCursor | null;
}

/**
 * Jobs as listings show them (see {@linkcode ListingEncoder}): one job's bytes with its id, or
 * the bytes of several jobs, separated by commas.
 */
export type ListedJob =
  | { readonly id: string; readonly json: Uint8Array }
  | { readonly jobs: number; readonly json: Uint8Array };

/** The newest tick of a trigger that started a stored job. */
export interface TriggerTick {
  readonly pipeline: string;
  /** The trigger's id (`triggerId` in `src/engine/job.ts`). */
  readonly trigger: string;
  /** Its planned time, epoch ms. */
  readonly planned: number;
}

/** Persistence of jobs. */
export interface JobStore {
  /**
   * Persists the job's current state. Saves of the same moment are written together; the job
   * is serialized when they are written, so it holds the latest state. Resolves once the job is
   * written; rejects with `StoreWriteError`.
   */
  save(job: Job): Promise<void>;
  /** One job, or `null` when no job has this id. */
  get(id: string): Promise<Job | null>;
  /**
   * The job `user` scheduled with idempotency key `key`, while the key is kept (see
   * `Job.idempotency`); `null` when there is none, it expired or the job was deleted. A job is
   * found as soon as its first save is written: the key is stored in the same commit.
   */
  findIdempotent(user: string, key: string): Promise<Job | null>;
  /**
   * All jobs, newest first (by `created`, ties by id), read in batches. Here and in the other
   * listings a damaged record is skipped (and reported), so one bad record never hides the
   * others.
   */
  list(): AsyncIterable<Job>;
  /**
   * One page of jobs, newest first (by `created`, ties by id), optionally of one pipeline.
   * Reads at most `limit + 1` index entries and `limit` jobs.
   */
  page(query: JobPageQuery): Promise<JobPage>;
  /**
   * The listing bytes of all jobs (see {@linkcode ListingEncoder}), in the order of `list()`,
   * as stored; in batches, so that a long listing costs one step of iteration per batch rather
   * than per job. A damaged record is skipped.
   */
  listJson(): AsyncIterable<ListedJob[]>;
  /** The jobs of one pipeline, newest first. */
  listByPipeline(pipeline: string): AsyncIterable<Job>;
  /** The summaries of one pipeline's jobs, newest first, from the pipeline index only. */
  summariesByPipeline(pipeline: string): AsyncIterable<JobSummary>;
  /** Names of all pipelines that have jobs in the store, sorted. */
  pipelinesWithJobs(): Promise<string[]>;
  /** Jobs that are not completed, oldest first. */
  listUnfinished(): Promise<Job[]>;
  /**
   * The newest planned time of each trigger that started a job (see `Job.trigger`), stored in
   * the same commit as that job's first save and kept when jobs are deleted.
   */
  triggerTicks(): Promise<TriggerTick[]>;
  /**
   * Stores a tick that started no job (the job was refused, e.g. by a full wait list), so that
   * a restart does not take it for a missed one; a newer stored tick of the trigger is kept.
   */
  saveTick(tick: TriggerTick): Promise<void>;
  /** Removes jobs with their indexes; unknown ids are ignored. Runs after pending saves. */
  delete(ids: readonly string[]): Promise<void>;
  /**
   * Groups up to `maxJobs` listing entries of completed jobs so that they list faster, oldest
   * first; resolves with how many it moved (0 when nothing is left to group). Runs between
   * saves.
   */
  packListing(maxJobs?: number): Promise<number>;
  /** Resolves once every save made before the call is written (or has failed). */
  flush(): Promise<void>;
  /** Writes a small record to see whether the store can write; rejects with the cause. */
  check(): Promise<void>;
  /** Flushes, then closes the store's database. */
  close(): Promise<void>;
}
