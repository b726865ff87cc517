/**
 * Persisting state changes of jobs that wait or run.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Job } from "../engine/job.ts";
import type { JobPage, JobPageQuery } from "../store/job_store.ts";

/** The persistence the runner needs. */
export interface RunnerStore {
  /** Persists the job's current state; resolves once committed. */
  save(job: Job): Promise<void>;
  get(id: string): Promise<Job | null>;
  /** All jobs, newest first. */
  list(): AsyncIterable<Job>;
  /** One page of jobs, newest first (see `JobStore.page`). */
  page(query: JobPageQuery): Promise<JobPage>;
}

/** Writes a job's changes in the background. */
export interface Persister {
  /** Saves the job's current state without waiting for the commit. */
  persist(job: Job): void;
}

const log = getLogger(["prunner", "runner"]);

/**
 * A persister that saves through `store` and logs failed saves.
 *
 * @example
 * ```ts
 * const { persist } = createPersister(store);
 * persist(job);
 * ```
 */
export function createPersister(store: RunnerStore): Persister {
  return {
    persist(job) {
      store.save(job).catch((error) =>
        log.error("Cannot persist job {jobId}: {error}", { jobId: job.id, error: String(error) })
      );
    },
  };
}
