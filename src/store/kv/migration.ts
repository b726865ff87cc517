/**
 * The layout version of a Deno KV job store and its migration. `["format"]` holds the layout
 * version ({@linkcode FORMAT}); `["listing_version"]` the `ListingEncoder` version the listing
 * entries and packs were built with. Opening a database of an older format, or one whose
 * listings were built by another encoder version, builds every listing entry again from the
 * records and drops the packs (packing starts over), then stores both versions.
 *
 * Formats: 1 had no listing entries, 2 no packs, 3 no listing version (its listings followed the
 * API of the prunner that wrote them); all of them open and are migrated. A newer format is
 * refused, so that an older prunner never lists what a newer one stored.
 *
 * @module
 */
import type { ListingEncoder } from "../types.ts";
import { StoreFormatError } from "../errors.ts";
import { commit, groupCommits, remove, set, type Unit, unitOf } from "./commits.ts";
import { listedEntry } from "./listing.ts";
import { readJob } from "./records.ts";

/** Version of the key layout; stored at `["format"]`. */
export const FORMAT = 4;

/** Formats this version opens and migrates. */
const OLDER_FORMATS: readonly unknown[] = [1, 2, 3];

/** Jobs migrated per commit round. */
const MIGRATION_BATCH = 1000;
const LIST_BATCH = 500;

/**
 * Brings the database to the current format with listings of `encoder`'s version: writes both
 * into an empty database, migrates an older one (see the module documentation).
 *
 * @throws {StoreFormatError} when the database holds a newer or unknown layout version.
 * @example
 * ```ts
 * await migrate(kv, encoder);
 * ```
 */
export async function migrate(kv: Deno.Kv, encoder: ListingEncoder): Promise<void> {
  while (true) {
    const [format, listing] = await kv.getMany([["format"], ["listing_version"]]);
    if (format.value !== null && format.value !== FORMAT && !OLDER_FORMATS.includes(format.value)) {
      throw new StoreFormatError(format.value, FORMAT);
    }
    if (format.value === FORMAT && listing.value === encoder.version) return;
    if (format.value !== null) await rebuildListings(kv, encoder);
    const result = await kv.atomic().check(format, listing)
      .set(["format"], FORMAT)
      .set(["listing_version"], encoder.version)
      .commit();
    if (result.ok) return;
  }
}

/**
 * Writes the listing entry of every job from its record and removes every pack. A record that
 * cannot be read or encoded gets `false`, so listings read it and skip it, reported, when
 * damaged.
 */
async function rebuildListings(kv: Deno.Kv, encoder: ListingEncoder): Promise<void> {
  let units: Unit[] = [];
  const flush = async () => {
    for (const group of groupCommits(units)) await commit(kv, group);
    units = [];
  };
  for await (const entry of kv.list({ prefix: ["jobs"] }, { batchSize: LIST_BATCH })) {
    let listed: Uint8Array | false = false;
    try {
      listed = listedEntry(encoder, (await readJob(kv, entry)).job);
    } catch {
      // Listed from its record, which reports what is wrong with it.
    }
    units.push(unitOf([set(["listed", entry.key[1], entry.key[2]], listed)]));
    if (units.length === MIGRATION_BATCH) await flush();
  }
  for await (const { key } of kv.list({ prefix: ["listed_pack"] }, { batchSize: LIST_BATCH })) {
    units.push(unitOf([remove(key)]));
    if (units.length === MIGRATION_BATCH) await flush();
  }
  await flush();
}
