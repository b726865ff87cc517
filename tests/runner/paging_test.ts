import type { Job } from "../../src/engine/job.ts";
import { jobState } from "../../src/engine/job.ts";
import { listPage, MAX_SCANNED_JOBS } from "../../src/runner/paging.ts";
import type { JobCursor, JobPage, JobPageQuery } from "../../src/store/types.ts";
import { assert, assertEquals } from "../assert.ts";
import { makeJob } from "../server/support.ts";

/** A store's `page` over `jobs` (newest first), counting the jobs it reads. */
function storePages(jobs: Job[]) {
  const stats = { read: 0 };
  const after = (job: Job, cursor: JobCursor) =>
    job.created < cursor.created || (job.created === cursor.created && job.id < cursor.id);
  const sorted = [...jobs].sort((a, b) => b.created - a.created || (a.id < b.id ? 1 : -1));
  const page = (query: JobPageQuery): Promise<JobPage> => {
    const rest = sorted.filter((job) =>
      (query.pipeline === null || job.pipeline === query.pipeline) &&
      (query.before === null || after(job, query.before))
    );
    const taken = rest.slice(0, query.limit);
    stats.read += taken.length;
    const last = taken.at(-1);
    return Promise.resolve({
      jobs: taken,
      next: rest.length > query.limit && last ? { created: last.created, id: last.id } : null,
    });
  };
  return { page, stats };
}

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);
const none = () => undefined;

Deno.test("listPage without a state is the store's page, with jobs in memory preferred", async () => {
  const jobs = Array.from({ length: 5 }, (_, i) => makeJob({ created: T0 + i }));
  const running = { ...jobs[4], start: T0 + 10 };
  const { page } = storePages(jobs);
  const result = await listPage(
    { limit: 2, before: null, pipeline: null },
    page,
    (id) => (id === running.id ? running : undefined),
  );
  assertEquals(result.jobs.map((job) => job.id), [jobs[4].id, jobs[3].id]);
  assertEquals(result.jobs[0], running, "the runner's current state, not the stored one");
  assertEquals(result.next, { created: jobs[3].created, id: jobs[3].id });
});

Deno.test("listPage with a state walks every matching job exactly once", async () => {
  const jobs = Array.from({ length: 700 }, (_, i) =>
    makeJob({
      created: T0 + Math.floor(i / 2),
      completed: i % 7 === 0,
      errored: i % 7 === 0,
      start: i % 7 === 0 ? T0 : null,
    }));
  const expected = jobs.filter((job) => jobState(job) === "error");
  const { page } = storePages(jobs);
  for (const limit of [1, 3, 50, 1000]) {
    const seen: string[] = [];
    let before: JobCursor | null = null;
    for (let pages = 0; pages < 500; pages++) {
      const result = await listPage({ limit, before, pipeline: null, state: "error" }, page, none);
      assert(result.jobs.length <= limit);
      assert(result.jobs.every((job) => jobState(job) === "error"));
      seen.push(...result.jobs.map((job) => job.id));
      if (result.next === null) break;
      before = result.next;
    }
    assertEquals(seen.length, expected.length, `limit ${limit}`);
    assertEquals(new Set(seen), new Set(expected.map((job) => job.id)), `limit ${limit}`);
  }
});

Deno.test("listPage with a state filters the current state and reads a bounded number of jobs", async () => {
  const jobs = Array.from(
    { length: MAX_SCANNED_JOBS + 1000 },
    (_, i) => makeJob({ created: T0 + i, completed: true, start: T0 }),
  );
  const { page, stats } = storePages(jobs);
  const result = await listPage(
    { limit: 10, before: null, pipeline: null, state: "canceled" },
    page,
    none,
  );
  assertEquals(result.jobs, [], "no job is canceled");
  assert(result.next !== null, "a cursor to read on from");
  assert(stats.read <= MAX_SCANNED_JOBS + 200, `read ${stats.read} jobs`);

  const newest = jobs.at(-1)!;
  const canceledNow = { ...newest, canceled: true };
  const fresh = storePages(jobs);
  const current = await listPage(
    { limit: 1, before: null, pipeline: null, state: "canceled" },
    fresh.page,
    (id) => (id === newest.id ? canceledNow : undefined),
  );
  assertEquals(current.jobs, [canceledNow], "the state in memory decides");
});
