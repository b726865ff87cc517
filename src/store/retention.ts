/**
 * Applying retention to the store: removes the records and task output of expired jobs.
 *
 * @module
 */
import type { Definitions } from "../definition/types.ts";
import { hasRetention, retentionFilter } from "../engine/retention.ts";
import type { JobStore, LogStore } from "./types.ts";

/** How many jobs are removed together. */
const REMOVE_BATCH = 100;

/**
 * Removes the jobs retention selects (see `retentionFilter`) in every pipeline that has jobs:
 * first their output, then their records. Pipelines missing from `definitions` lose
 * all completed jobs. Reads the pipeline index in batches and removes as it goes, so memory does
 * not grow with the store. `onRemoved` is called with the ids of each batch once it is removed.
 * Returns how many jobs were removed.
 *
 * @example
 * ```ts
 * const removed = await applyRetention(data.store, data.logs, definitions, Date.now());
 * ```
 */
export async function applyRetention(
  store: JobStore,
  logs: Pick<LogStore, "remove">,
  definitions: Definitions,
  now: number,
  onRemoved?: (ids: readonly string[]) => void,
): Promise<number> {
  let removed = 0;
  let batch: string[] = [];
  const remove = async () => {
    for (const id of batch) await logs.remove(id);
    await store.delete(batch);
    onRemoved?.(batch);
    removed += batch.length;
    batch = [];
  };
  for (const pipeline of await store.pipelinesWithJobs()) {
    const rules = definitions.get(pipeline) ?? null;
    if (!hasRetention(rules)) continue;
    const expired = retentionFilter(rules, now);
    for await (const job of store.summariesByPipeline(pipeline)) {
      if (!expired(job)) continue;
      batch.push(job.id);
      if (batch.length === REMOVE_BATCH) await remove();
    }
    if (batch.length > 0) await remove();
  }
  return removed;
}
