/**
 * Fills a data directory with finished jobs through the project's own job store, so case 6
 * starts a server on a store as prunner itself would have written it — without scheduling
 * 100,000 jobs over HTTP first. Their listing entries are packed, as prunner's background
 * maintenance does after jobs end.
 *
 * `deno run -A --unstable-kv scripts/bench/populate.ts DATA_DIR COUNT PIPELINE TASK` prints
 * `{"jobs":COUNT,"seconds":…}`.
 *
 * @module
 */
import type { Job } from "../../src/engine/job.ts";
import { openDataDir } from "../../src/store/data_dir.ts";
import { jobListingEncoder } from "../../src/server/json.ts";

/** Jobs saved together: the store commits saves of the same moment in as few commits as fit. */
const BATCH = 2000;

/**
 * A finished, successful job of `pipeline` with one task, created `ageMs` before `now`.
 *
 * @example
 * ```ts
 * const job = finishedJob("build", "run", Date.now(), 60_000);
 * ```
 */
export function finishedJob(pipeline: string, task: string, now: number, ageMs: number): Job {
  const created = now - ageMs;
  return {
    id: crypto.randomUUID(),
    pipeline,
    tasks: [{
      name: task,
      dependsOn: [],
      status: "done",
      start: created + 5,
      end: created + 20,
      exitCode: 0,
      errored: false,
      error: null,
    }],
    completed: true,
    canceled: false,
    errored: false,
    created,
    start: created + 5,
    end: created + 20,
    lastError: null,
    variables: null,
    user: "bench",
    queuePartition: null,
  };
}

/** Saves `count` finished jobs, one second apart, the newest a second ago. */
export async function populate(
  dataDir: string,
  count: number,
  pipeline: string,
  task: string,
): Promise<void> {
  const data = await openDataDir(dataDir, { listing: jobListingEncoder });
  try {
    const now = Date.now();
    for (let from = 0; from < count; from += BATCH) {
      const saves: Promise<void>[] = [];
      for (let i = from; i < Math.min(count, from + BATCH); i++) {
        saves.push(data.store.save(finishedJob(pipeline, task, now, (count - i) * 1000)));
      }
      await Promise.all(saves);
    }
    // As a prunner that ran these jobs would have left its store.
    while (await data.store.packListing() > 0);
  } finally {
    await data.close();
  }
}

if (import.meta.main) {
  const [dataDir, count, pipeline, task] = Deno.args;
  if (!dataDir || !/^\d+$/.test(count ?? "") || !pipeline || !task) {
    console.error("usage: populate.ts DATA_DIR COUNT PIPELINE TASK");
    Deno.exit(2);
  }
  const started = performance.now();
  await populate(dataDir, Number(count), pipeline, task);
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ jobs: Number(count), seconds }));
}
