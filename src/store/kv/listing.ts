/**
 * Listing: every save also stores the job as listings show it (the bytes of the store's
 * `ListingEncoder`) at `["listed", created, id]`, so that `listJson()` streams stored bytes
 * without decoding and encoding each job (measured on 100,000 jobs: parsing the heads and
 * serializing them again took twice as long as reading them). A job whose bytes are over
 * {@linkcode LISTING_BYTES}, or cannot be built, gets `false` and is built from its record when
 * listed. {@linkcode packEntries} moves the entries of completed jobs into packs of about 150
 * (see `listing_packs.ts`), since reading an entry costs about the same at any size.
 *
 * @module
 */
import type { Job } from "../../engine/job.ts";
import type { ListedJob, ListingEncoder } from "../types.ts";
import { commit, remove, set, type Unit, unitOf } from "./commits.ts";
import {
  holdsAny,
  type ListingItem,
  type ListingPack,
  makePack,
  mergeListing,
  PACK_BYTES,
  PACK_OVERHEAD_BYTES,
  type PackedJob,
  withoutJobs,
} from "./listing_packs.ts";

/**
 * Listing bytes up to this size are stored; bigger ones (big variables) are built from the job
 * when listed, so that they never crowd the job's own commit.
 */
export const LISTING_BYTES = 16 * 1024;

/** Bytes `listJson()` reads between calls of `releaseListed` unless told otherwise. */
export const LISTING_RELEASE_BYTES = 16 * 1024 * 1024;

const LIST_BATCH = 500;
/** Deno KV's largest list batch: listing reads many small entries. */
const LISTING_BATCH = 1000;
/** Packs read per batch when listing (each up to 64 KiB). */
const PACK_LIST_BATCH = 16;
/** Most jobs in one pack (each is a delete in the pack's commit). */
const PACK_JOBS = 500;
/**
 * How long a job may stay unfinished before packing goes on past it (it then keeps its own
 * listing entry): a job that waits or runs for hours must not hold packing up.
 */
export const PACK_PAST_UNFINISHED_MS = 60 * 60 * 1000;

/**
 * The value of a job's listing entry: its listing bytes, or `false` when they are too big or
 * cannot be built (listings then build them from the record, reporting what is wrong).
 *
 * @example
 * ```ts
 * mutations.push(set(["listed", job.created, job.id], listedEntry(encoder, job)));
 * ```
 */
export function listedEntry(encoder: ListingEncoder, job: Job): Uint8Array | false {
  try {
    const bytes = encoder.encode(job);
    return bytes.length <= LISTING_BYTES ? bytes : false;
  } catch {
    return false;
  }
}

/** What {@linkcode listJson} needs besides the database. */
export interface ListJsonOptions {
  /** The listing bytes of a job whose entry is `false`; `null` to skip it. */
  build(created: number, id: string): Promise<Uint8Array | null>;
  /** Called each time another `releaseBytes` were read (see `KvJobStoreOptions`). */
  release(): void;
  releaseBytes: number;
}

/**
 * The listing bytes of all jobs, newest first, in batches of about 1000 jobs: entries and packs
 * merged (see `mergeListing`).
 *
 * @example
 * ```ts
 * for await (const batch of listJson(kv, { build, release: () => {}, releaseBytes: 1 << 24 })) {
 *   for (const item of batch) send(item.json);
 * }
 * ```
 */
export async function* listJson(
  kv: Deno.Kv,
  { build, release, releaseBytes }: ListJsonOptions,
): AsyncGenerator<ListedJob[]> {
  const entries = kv.list<Uint8Array | false>(
    { prefix: ["listed"] },
    { reverse: true, batchSize: LISTING_BATCH },
  );
  const packs = kv.list<ListingPack>(
    { prefix: ["listed_pack"] },
    { reverse: true, batchSize: PACK_LIST_BATCH },
  );
  let batch: ListedJob[] = [];
  let jobs = 0;
  let read = 0;
  for await (const item of mergeListing(listingItems(entries), packValues(packs))) {
    if (item.json !== false) read += item.json.length;
    if (read >= releaseBytes) {
      release();
      read = 0;
    }
    if (!("id" in item)) {
      batch.push(item);
      jobs += item.jobs;
    } else if (item.json !== false) {
      batch.push({ id: item.id, json: item.json });
      jobs++;
    } else {
      const json = await build(item.created, item.id);
      if (json !== null) batch.push({ id: item.id, json });
      jobs++;
    }
    if (jobs >= LISTING_BATCH) {
      yield batch;
      batch = [];
      jobs = 0;
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * Packs listing entries of completed jobs that follow the newest pack, oldest first, up to
 * `maxJobs`; resolves with how many it moved. A run stops at a job that is not completed, so
 * that it is packed once completed; one that has not completed for
 * {@linkcode PACK_PAST_UNFINISHED_MS} before `now` is left in its own entry. Entries built from
 * the record (`false`) stay as they are.
 *
 * @example
 * ```ts
 * while (await packEntries(kv, 1000, Date.now()) > 0);
 * ```
 */
export async function packEntries(kv: Deno.Kv, maxJobs: number, now: number): Promise<number> {
  const newest = await kv.list<ListingPack>({ prefix: ["listed_pack"] }, {
    reverse: true,
    limit: 1,
  })
    .next();
  const after = newest.done ? null : newest.value.key;
  const unfinished = new Set<string>();
  for await (const { key } of kv.list({ prefix: ["unfinished"] }, { batchSize: LIST_BATCH })) {
    unfinished.add(key[2] as string);
  }
  const selector: Deno.KvListSelector = after === null
    ? { prefix: ["listed"] }
    : { prefix: ["listed"], start: ["listed", after[1], after[2]] };
  const stale = now - PACK_PAST_UNFINISHED_MS;
  let run: PackedJob[] = [];
  let runBytes = 0;
  let moved = 0;
  const seal = async () => {
    if (run.length === 0) return;
    const jobs = run.reverse();
    const newestJob = jobs[0];
    await commit(kv, [unitOf([
      set(["listed_pack", newestJob.created, newestJob.id], makePack(jobs)),
      ...jobs.map((job) => remove(["listed", job.created, job.id])),
    ])]);
    moved += jobs.length;
    run = [];
    runBytes = 0;
  };
  for await (
    const { key, value } of kv.list<Uint8Array | false>(selector, { batchSize: LIST_BATCH })
  ) {
    const created = key[1] as number;
    const id = key[2] as string;
    // A job saved again after it was packed stays in its own entry.
    if (after !== null && created === after[1] && id === after[2]) continue;
    if (unfinished.has(id)) {
      if (created > stale) break;
      await seal();
      continue;
    }
    if (!(value instanceof Uint8Array)) {
      await seal();
      continue;
    }
    const bytes = value.length + PACK_OVERHEAD_BYTES;
    if (runBytes + bytes > PACK_BYTES || run.length === PACK_JOBS) await seal();
    if (moved + run.length === maxJobs) break;
    run.push({ created, id, json: value });
    runBytes += bytes;
  }
  await seal();
  return moved;
}

/**
 * Units that take the deleted jobs (`[created, id]`) out of the packs that hold them.
 *
 * @example
 * ```ts
 * const units = await packRemovals(kv, [[job.created, job.id]]);
 * ```
 */
export async function packRemovals(kv: Deno.Kv, deleted: [number, string][]): Promise<Unit[]> {
  deleted.sort(([ca, ia], [cb, ib]) => ca - cb || (ia < ib ? -1 : ia > ib ? 1 : 0));
  const units: Unit[] = [];
  let index = 0;
  while (index < deleted.length) {
    const [created, id] = deleted[index];
    // The first pack whose newest job is this one or newer is the only one that can hold it.
    const found = await kv.list<ListingPack>({
      prefix: ["listed_pack"],
      start: ["listed_pack", created, id],
    }, { limit: 1 }).next();
    if (found.done) break;
    const { key, value: packValue } = found.value;
    const ids = new Set<string>();
    const newestKey = [key[1] as number, key[2] as string] as const;
    while (index < deleted.length) {
      const [c, i] = deleted[index];
      if (c > newestKey[0] || (c === newestKey[0] && i > newestKey[1])) break;
      ids.add(i);
      index++;
    }
    if (!holdsAny(packValue, ids)) continue;
    const rest = withoutJobs(packValue, ids);
    units.push(unitOf([rest === null ? remove(key) : set(key, rest)]));
  }
  return units;
}

/** Listing entries as listing items. */
async function* listingItems(
  entries: AsyncIterable<Deno.KvEntry<Uint8Array | false>>,
): AsyncGenerator<ListingItem> {
  for await (const { key, value } of entries) {
    yield { created: key[1] as number, id: key[2] as string, json: value };
  }
}

/** Pack entries as packs. */
async function* packValues(
  entries: AsyncIterable<Deno.KvEntry<ListingPack>>,
): AsyncGenerator<ListingPack> {
  for await (const { value } of entries) yield value;
}
