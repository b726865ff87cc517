/**
 * Listing packs: the API JSON of many finished jobs in one Deno KV value. Reading an entry costs
 * Deno KV about 6 µs whatever its size, so 100,000 one-job listing entries took ~600 ms to read
 * before anything was sent; a pack holds about 150 such jobs. Its JSON is stored ready to send
 * (comma-separated), and its ids and times in one string and one typed array, so that reading a
 * pack makes a handful of objects rather than a few per job.
 *
 * A pack is made from consecutive listing entries (`["listed", created, id]`) of completed jobs,
 * oldest first, after the newest pack: so packs never overlap, and a job is either in a pack or
 * in its own entry. Its key is `["listed_pack", created, id]` of its newest job. A job saved
 * again after it was packed gets its own entry again, which then wins over its packed copy;
 * deleting a job removes it from its pack.
 *
 * @module
 */

/** A pack's value: its jobs newest first. */
export interface ListingPack {
  /** The jobs' ids, joined by `\n`. */
  readonly ids: string;
  readonly created: Float64Array;
  /** Where each job's JSON ends in `json`; the next one starts after a comma. */
  readonly ends: Uint32Array;
  /** The jobs' API JSON, separated by commas. */
  readonly json: Uint8Array;
}

/** A job in a pack. */
export interface PackedJob {
  readonly created: number;
  readonly id: string;
  readonly json: Uint8Array;
}

/** A job in the listing: its API JSON, or `false` when it must be built from its record. */
export interface ListingItem {
  readonly created: number;
  readonly id: string;
  readonly json: Uint8Array | false;
}

/** Consecutive packed jobs: their API JSON, separated by commas. */
export interface ListingRun {
  readonly jobs: number;
  readonly json: Uint8Array;
}

/**
 * Bytes a pack's jobs may take together, JSON and keys: Deno KV takes values up to 64 KiB, and
 * the ids and times need room besides the JSON.
 */
export const PACK_BYTES = 56 * 1024;

/** Bytes a job adds to a pack besides its JSON: its id, time, offset and comma. */
export const PACK_OVERHEAD_BYTES = 64;

const COMMA = 0x2c;

/**
 * Builds a pack from jobs given newest first.
 *
 * @example
 * ```ts
 * const pack = makePack([{ created: 2, id: "b", json: bytesB }, { created: 1, id: "a", json: bytesA }]);
 * ```
 */
export function makePack(jobs: readonly PackedJob[]): ListingPack {
  const ends = new Uint32Array(jobs.length);
  let length = -1;
  jobs.forEach((job, i) => ends[i] = length += 1 + job.json.length);
  const json = new Uint8Array(Math.max(0, length));
  jobs.forEach((job, i) => {
    const start = ends[i] - job.json.length;
    json.set(job.json, start);
    if (i > 0) json[start - 1] = COMMA;
  });
  return {
    ids: jobs.map((job) => job.id).join("\n"),
    created: Float64Array.from(jobs, (job) => job.created),
    ends,
    json,
  };
}

/** Where job `i`'s JSON starts in the pack. */
function startOf(pack: ListingPack, i: number): number {
  return i === 0 ? 0 : pack.ends[i - 1] + 1;
}

/** The jobs of a pack, newest first. */
export function packItems(pack: ListingPack): PackedJob[] {
  return pack.ids.split("\n").map((id, i) => ({
    created: pack.created[i],
    id,
    json: pack.json.subarray(startOf(pack, i), pack.ends[i]),
  }));
}

/** The pack without the jobs in `ids`, or `null` when none is left. */
export function withoutJobs(pack: ListingPack, ids: ReadonlySet<string>): ListingPack | null {
  const kept = packItems(pack).filter((item) => !ids.has(item.id));
  return kept.length === 0 ? null : makePack(kept);
}

/** Whether the pack holds a job of `ids`. */
export function holdsAny(pack: ListingPack, ids: ReadonlySet<string>): boolean {
  return pack.ids.split("\n").some((id) => ids.has(id));
}

/** Orders listing keys as Deno KV does for `[created, id]` with ASCII ids: -1, 0 or 1. */
export function compareKeys(createdA: number, idA: string, createdB: number, idB: string): number {
  if (createdA !== createdB) return createdA < createdB ? -1 : 1;
  return idA === idB ? 0 : idA < idB ? -1 : 1;
}

/**
 * Merges the listing entries and the packs, both newest first, into one listing newest first.
 * The part of a pack that no entry falls into comes as one `ListingRun`. A job in both (saved
 * again after it was packed) is listed once, from its own entry.
 *
 * @example
 * ```ts
 * for await (const item of mergeListing(entries, packs)) console.log("id" in item ? item.id : item.jobs);
 * ```
 */
export async function* mergeListing(
  entries: AsyncIterable<ListingItem>,
  packs: AsyncIterable<ListingPack>,
): AsyncGenerator<ListingItem | ListingRun> {
  const looseEntries = entries[Symbol.asyncIterator]();
  let loose = await looseEntries.next();
  for await (const pack of packs) {
    const count = pack.created.length;
    const firstBreak = pack.ids.indexOf("\n");
    const newestId = firstBreak < 0 ? pack.ids : pack.ids.slice(0, firstBreak);
    const oldestId = pack.ids.slice(pack.ids.lastIndexOf("\n") + 1);
    const oldestCreated = pack.created[count - 1];
    // Entries newer than the whole pack come first.
    while (
      !loose.done &&
      compareKeys(loose.value.created, loose.value.id, pack.created[0], newestId) > 0
    ) {
      yield loose.value;
      loose = await looseEntries.next();
    }
    if (
      loose.done || compareKeys(loose.value.created, loose.value.id, oldestCreated, oldestId) < 0
    ) {
      yield { jobs: count, json: pack.json };
      continue;
    }
    // An entry falls into the pack: merge job by job.
    for (const item of packItems(pack)) {
      let order = loose.done
        ? -1
        : compareKeys(loose.value.created, loose.value.id, item.created, item.id);
      while (order > 0) {
        yield loose.value;
        loose = await looseEntries.next();
        order = loose.done
          ? -1
          : compareKeys(loose.value.created, loose.value.id, item.created, item.id);
      }
      // The same job saved again: its own entry wins.
      if (order < 0) yield item;
    }
  }
  while (!loose.done) {
    yield loose.value;
    loose = await looseEntries.next();
  }
}
