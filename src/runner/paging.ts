/**
 * Pages of jobs filtered by state. The store pages by creation order only; the state of a job
 * changes as it runs, so it is not indexed: matching jobs are collected from consecutive store
 * pages, reading at most {@linkcode MAX_SCANNED_JOBS} jobs for one page.
 *
 * @module
 */
import type { Job, JobState } from "../engine/job.ts";
import { jobState } from "../engine/job.ts";
import type { JobPage, JobPageQuery } from "../store/types.ts";

/** Which page of jobs to list: a store page query, optionally of one state. */
export interface JobListQuery extends JobPageQuery {
  /** Only jobs in this state; all when `null` or absent. */
  state?: JobState | null;
}

/**
 * Most jobs read from the store for one filtered page. A rare state may then give a page with
 * fewer jobs than asked for (even none) and a `next` cursor to read on from.
 */
export const MAX_SCANNED_JOBS = 5000;

/** Store pages read while collecting a filtered page. */
const SCAN_BATCH = 200;

/**
 * Reads one page of jobs through `page` (the store's), with each job replaced by its current
 * state from `current` where the runner holds one, and filtered by `query.state`.
 *
 * @example
 * ```ts
 * const failed = await listPage({ limit: 20, before: null, pipeline: null, state: "error" },
 *   (query) => store.page(query), (id) => active.get(id)?.job);
 * ```
 */
export async function listPage(
  query: JobListQuery,
  page: (query: JobPageQuery) => Promise<JobPage>,
  current: (id: string) => Job | undefined,
): Promise<JobPage> {
  const { limit, pipeline, state = null } = query;
  if (state === null) {
    const result = await page({ limit, before: query.before, pipeline });
    return { ...result, jobs: result.jobs.map((job) => current(job.id) ?? job) };
  }
  const jobs: Job[] = [];
  let before = query.before;
  let scanned = 0;
  while (true) {
    const batch = await page({ limit: SCAN_BATCH, before, pipeline });
    for (const [i, stored] of batch.jobs.entries()) {
      const job = current(stored.id) ?? stored;
      if (jobState(job) !== state) continue;
      jobs.push(job);
      if (jobs.length === limit) {
        const more = i < batch.jobs.length - 1 || batch.next !== null;
        return { jobs, next: more ? { created: job.created, id: job.id } : null };
      }
    }
    scanned += batch.jobs.length;
    if (batch.next === null) return { jobs, next: null };
    before = batch.next;
    if (scanned >= MAX_SCANNED_JOBS) return { jobs, next: before };
  }
}
