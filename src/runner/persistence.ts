/**
 * Persisting state changes of jobs that wait or run. Memory is authoritative: a change the store
 * cannot write (no space, I/O error, a read-only file system) is kept, retried with backoff and
 * written once the store writes again, without a restart. A failing store is logged once when
 * the trouble begins and once when it ends, not once per change.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Job } from "../engine/job.ts";
import type { JobPage, JobPageQuery, ListedJob, TriggerTick } from "../store/types.ts";
import { valueWithin } from "../timeout.ts";

/** The persistence the runner needs. */
export interface RunnerStore {
  /** Persists the job's current state; resolves once committed. */
  save(job: Job): Promise<void>;
  get(id: string): Promise<Job | null>;
  /** The job scheduled by `user` with an idempotency key still kept (see `JobStore`). */
  findIdempotent(user: string, key: string): Promise<Job | null>;
  /** The API JSON of all jobs as stored, newest first, in batches. */
  listJson(): AsyncIterable<ListedJob[]>;
  /** One page of jobs, newest first (see `JobStore.page`). */
  page(query: JobPageQuery): Promise<JobPage>;
  /** Stores a trigger's tick whose job was refused (see `JobStore.saveTick`). */
  saveTick(tick: TriggerTick): Promise<void>;
}

/** Writes a job's changes in the background. */
export interface Persister {
  /**
   * Saves the job's current state in the background; retried until stored. The promise settles
   * (never rejects) once the first attempt has: stored, or refused by a failing store, whose
   * retries go on. While the store fails, it settles at once.
   */
  persist(job: Job): Promise<void>;
  /** The current state of a job whose latest change is not stored yet, else `undefined`. */
  unsaved(id: string): Job | undefined;
  /**
   * Writes every change not stored yet, retrying until `timeoutMs` has passed; resolves with
   * the jobs whose changes could not be stored (shutdown).
   */
  flush(timeoutMs: number): Promise<Job[]>;
  /** The error that began the current episode of failing writes, or `null` while none. */
  failure(): unknown | null;
}

/** First wait before changes the store refused are written again, in ms; doubled each time. */
export const FIRST_RETRY_MS = 250;
/** Longest wait between attempts to write changes the store refused, in ms. */
export const MAX_RETRY_MS = 5000;

const log = getLogger(["prunner", "runner"]);

/**
 * A persister that saves through `store`.
 *
 * @example
 * ```ts
 * const persister = createPersister(store);
 * persister.persist(job);
 * const notStored = await persister.flush(5000);
 * ```
 */
export function createPersister(store: Pick<RunnerStore, "save">): Persister {
  /** Jobs with changes not known to be stored, and the number of their latest change. */
  const dirty = new Map<string, { job: Job; change: number }>();
  let changes = 0;
  /** Set while the store fails: the error that began the episode. */
  let failing: { error: unknown } | null = null;
  let retryMs = FIRST_RETRY_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let retrying: Promise<boolean> | null = null;

  /** Saves one job; `true` when its latest change is stored. */
  const save = async (job: Job): Promise<boolean> => {
    const change = dirty.get(job.id)?.change;
    try {
      await store.save(job);
    } catch (error) {
      beginEpisode(error);
      return false;
    }
    if (dirty.get(job.id)?.change === change) dirty.delete(job.id);
    return true;
  };

  const beginEpisode = (error: unknown): void => {
    if (failing === null) {
      failing = { error };
      log.error(
        "Cannot store job changes: {error}; they are kept in memory and written again " +
          "once the store can write",
        { error },
      );
    }
    scheduleRetry();
  };

  const scheduleRetry = (): void => {
    if (timer !== undefined || retrying !== null) return;
    timer = setTimeout(async () => {
      timer = undefined;
      retrying = retry();
      const stored = await retrying;
      retrying = null;
      if (!stored) scheduleRetry();
    }, retryMs);
    retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
  };

  /** Writes every kept change; `true` when all were stored (which ends the episode). */
  const retry = async (): Promise<boolean> => {
    const jobs = [...dirty.values()].map(({ job }) => job);
    const results = await Promise.all(jobs.map(save));
    if (!results.every(Boolean)) return false;
    if (failing !== null) {
      log.info("The store writes again: {count} job change(s) kept in memory are stored", {
        count: jobs.length,
      });
    }
    failing = null;
    retryMs = FIRST_RETRY_MS;
    // Changes made while the retry was writing.
    for (const { job } of [...dirty.values()]) save(job);
    return true;
  };

  /** `promise`'s value, or `null` when it has not settled by `deadline`. */
  const until = <T>(promise: Promise<T>, deadline: number): Promise<T | null> =>
    valueWithin(promise, deadline - Date.now());

  return {
    persist(job) {
      dirty.set(job.id, { job, change: ++changes });
      if (failing === null) return save(job).then(() => {});
      // While the store fails, the retry writes the change.
      scheduleRetry();
      return Promise.resolve();
    },

    unsaved: (id) => dirty.get(id)?.job,

    failure: () => failing?.error ?? null,

    async flush(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      clearTimeout(timer);
      timer = undefined;
      if (retrying !== null) await until(retrying, deadline);
      while (dirty.size > 0 && Date.now() < deadline) {
        const attempt = Promise.all([...dirty.values()].map(({ job }) => save(job)));
        if (await until(attempt, deadline) === null) break;
        if (dirty.size > 0) {
          await until(new Promise((resolve) => setTimeout(resolve, retryMs)), deadline);
        }
      }
      clearTimeout(timer);
      timer = undefined;
      return [...dirty.values()].map(({ job }) => job);
    },
  };
}
