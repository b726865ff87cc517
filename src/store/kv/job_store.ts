/**
 * The job store on Deno KV, using only what every Deno KV offers (keys, atomic operations, list
 * by prefix with cursors), so it runs against a local file and a KV Connect server alike. This
 * module puts the parts together: records (`records.ts`), listing entries and packs
 * (`listing.ts`), commit fitting (`commits.ts`), the order of writes (`write_queue.ts`), the
 * layout version (`migration.ts`) and the write check (`health.ts`).
 *
 * Key layout (`created` is the job's creation time in epoch ms, `id` its id):
 *
 * | Key                                       | Value                                              |
 * | ----------------------------------------- | -------------------------------------------------- |
 * | `["format"]`                              | `FORMAT`, the layout version                       |
 * | `["listing_version"]`                     | the `ListingEncoder` version of the listings       |
 * | `["jobs", created, id]`                   | the job's head: UTF-8 JSON bytes of the job; if    |
 * |                                           | over 64 KiB, the number of state parts instead     |
 * | `["job_parts", id]`                       | `true`: the job has (or had) parts                 |
 * | `["job_parts", id, "state", i]`           | part `i` of the head JSON, when over 64 KiB        |
 * | `["job_parts", id, "variables", i]`       | part `i` of the variables JSON, when over 4 KiB    |
 * | `["job_ids", id]`                         | `[created, pipeline]`                              |
 * | `["by_pipeline", pipeline, created, id]`  | `[completed, end]`: for listing and retention      |
 * | `["unfinished", created, id]`             | `true` while the job is not completed              |
 * | `["health"]`                              | time of the last write check (`check()`)           |
 * | `["listed", created, id]`                 | the job's listing bytes, or `false` when over      |
 * |                                           | 16 KiB or they cannot be built                     |
 * | `["listed_pack", created, id]`            | a `ListingPack`: the listing bytes of consecutive  |
 * |                                           | completed jobs, the newest being `created, id`     |
 *
 * `list()` is one range scan over `["jobs"]` in reverse (newest first); `listUnfinished()` scans
 * only the unfinished index, so startup cost does not grow with the number of finished jobs.
 * `page()` reads one page: a reverse scan of `["jobs"]` (or of `["by_pipeline", pipeline]`) that
 * ends before the cursor's key and stops after the page, so its cost does not grow with the
 * store.
 *
 * Writes: every `save` of the same moment (see `write_queue.ts`) is written in one atomic
 * commit, split only where Deno KV's limits force it (see `commits.ts`). A job's head and
 * indexes are always in one commit; big variables go in earlier commits. Commits run one after
 * the other, in the order of the calls.
 *
 * @module
 */
import type { Job } from "../../engine/job.ts";
import type { JobStore, ListingEncoder } from "../types.ts";
import { StoreReadError, StoreWriteError } from "../errors.ts";
import { commit, groupCommits, KV_LIMITS, type Unit } from "./commits.ts";
import { writeHealth } from "./health.ts";
import {
  listedEntry,
  LISTING_RELEASE_BYTES,
  listJson,
  packEntries,
  packRemovals,
} from "./listing.ts";
import { migrate } from "./migration.ts";
import { deletionUnits, fitsKey, jobUnits, readJob, type RecordShape } from "./records.ts";
import { createWriteQueue, type Waiting } from "./write_queue.ts";

/** Settings of {@linkcode openKvJobStore}. */
export interface KvJobStoreOptions {
  /** How listings show a job: its bytes are stored with the job and streamed by `listJson()`. */
  listing: ListingEncoder;
  /** The data directory, named in the messages of failed writes. */
  dataDir?: string;
  /** Called for each damaged record that `list()` skips (e.g. to log it). */
  onDamaged?: (error: StoreReadError) => void;
  /** Called before each commit of jobs; a rejection fails the commit's saves with its cause. */
  beforeCommit?: () => Promise<void>;
  /**
   * Called each time `listJson()` has read another `releaseListedBytes`. A listing reads tens
   * of MB into short-lived buffers whose memory V8 frees only at its next collection: given a
   * young-generation collection every 16 MiB, listing 100,000 jobs (36 MiB of JSON) grew the
   * server's RSS by 40–45 instead of 131–142 MiB, in the same time (every 8 MiB: 20 MiB, but
   * twice the time).
   */
  releaseListed?: () => void;
  /** Bytes between calls of `releaseListed` (default {@linkcode LISTING_RELEASE_BYTES}). */
  releaseListedBytes?: number;
  /** The clock, in epoch ms (default `Date.now`): when packing passes unfinished jobs, health. */
  now?: () => number;
}

/** How a job was last written (or read) by this store, so unchanged parts are not rewritten. */
interface Written {
  /** `deleteEpoch` at the time: a delete invalidates what is known. */
  epoch: number;
  shape: RecordShape;
}

/** A commit unit; on a job's last unit, the save it completes. */
interface JobUnit extends Unit {
  owner?: Waiting<Job>;
  shape?: RecordShape;
}

const LIST_BATCH = 500;
/** Jobs `packListing()` moves per call unless told otherwise. */
const PACK_ROUND_JOBS = 1000;

/**
 * Opens the job store on a KV database: brings its layout up to date (see `migration.ts`) and
 * returns the store.
 *
 * @throws {StoreFormatError} when the database holds a newer layout version.
 * @example
 * ```ts
 * const store = await openKvJobStore(await Deno.openKv("/var/lib/prunner/jobs.kv"), {
 *   listing: jobListingEncoder,
 * });
 * await store.save(job);
 * for await (const job of store.list()) console.log(job.id);
 * await store.close();
 * ```
 */
export async function openKvJobStore(kv: Deno.Kv, options: KvJobStoreOptions): Promise<JobStore> {
  await migrate(kv, options.listing);
  return createKvJobStore(kv, options);
}

function createKvJobStore(kv: Deno.Kv, options: KvJobStoreOptions): JobStore {
  const { listing } = options;
  const dataDir = options.dataDir ?? null;
  const onDamaged = options.onDamaged ?? (() => {});
  const beforeCommit = options.beforeCommit ?? (() => Promise.resolve());
  const releaseListed = options.releaseListed ?? (() => {});
  const releaseListedBytes = options.releaseListedBytes ?? LISTING_RELEASE_BYTES;
  const now = options.now ?? Date.now;
  const written = new WeakMap<Job, Written>();
  let deleteEpoch = 0;
  let closed = false;
  const queue = createWriteQueue<Job>(writeBatch);

  async function writeBatch(batch: Waiting<Job>[]): Promise<void> {
    const units: JobUnit[] = [];
    for (const entry of batch) {
      try {
        const known = written.get(entry.value);
        const reuse = known?.epoch === deleteEpoch;
        const { parts, last, shape } = jobUnits(
          entry.value,
          known?.shape,
          reuse,
          listedEntry(listing, entry.value),
        );
        units.push(...parts, { ...last, owner: entry, shape });
      } catch (error) {
        reject(entry, error);
      }
    }
    const commits = groupCommits(units);
    for (let i = 0; i < commits.length; i++) {
      try {
        await beforeCommit();
        await commit(kv, commits[i]);
      } catch (error) {
        for (const { owner } of commits.slice(i).flat()) {
          if (owner) owner.reject(new StoreWriteError(owner.value.id, error, dataDir));
        }
        return;
      }
      for (const { owner, shape } of commits[i]) {
        if (owner && shape) {
          written.set(owner.value, { epoch: deleteEpoch, shape });
          owner.resolve();
        }
      }
    }
  }

  function reject(entry: Waiting<Job>, error: unknown): void {
    entry.reject(
      error instanceof StoreWriteError
        ? error
        : new StoreWriteError(entry.value.id, error, dataDir),
    );
  }

  /** Decodes a head entry, remembering the shape of its record. */
  async function read(head: Deno.KvEntry<unknown>): Promise<Job> {
    const { job, shape } = await readJob(kv, head);
    written.set(job, { epoch: deleteEpoch, shape });
    return job;
  }

  /**
   * Reads a job for a listing; `null` for a damaged record, which is reported to `onDamaged`:
   * one damaged record must not hide the other jobs (`get` says what is wrong with it).
   */
  async function readOrSkip(head: Deno.KvEntry<unknown>): Promise<Job | null> {
    try {
      return await read(head);
    } catch (error) {
      if (!(error instanceof StoreReadError)) throw error;
      onDamaged(error);
      return null;
    }
  }

  /** A job's listing bytes, or `null` (reported to `onDamaged`) when they cannot be built. */
  function listingOrSkip(job: Job): Uint8Array | null {
    try {
      return listing.encode(job);
    } catch (error) {
      onDamaged(
        new StoreReadError(job.id, `its API JSON cannot be built (${(error as Error).message})`),
      );
      return null;
    }
  }

  /** Reads the heads at `keys` in batches, skipping jobs deleted in between and damaged ones. */
  async function* readHeads(keys: AsyncIterable<Deno.KvKey>): AsyncGenerator<Job> {
    let batch: Deno.KvKey[] = [];
    const drain = async function* () {
      const entries = await kv.getMany(batch);
      batch = [];
      for (const entry of entries) {
        if (entry.versionstamp === null) continue;
        const job = await readOrSkip(entry);
        if (job !== null) yield job;
      }
    };
    for await (const key of keys) {
      batch.push(key);
      if (batch.length === KV_LIMITS.getMany) yield* drain();
    }
    if (batch.length > 0) yield* drain();
  }

  async function* indexKeys(prefix: Deno.KvKey, reverse: boolean): AsyncGenerator<Deno.KvKey> {
    const at = prefix.length;
    for await (const entry of kv.list({ prefix }, { reverse, batchSize: LIST_BATCH })) {
      yield ["jobs", entry.key[at], entry.key[at + 1]];
    }
  }

  function ensureOpen(): void {
    if (closed) throw new Error("the job store is closed");
  }

  return {
    save(job) {
      if (closed) {
        return Promise.reject(new StoreWriteError(job.id, "the job store is closed", dataDir));
      }
      return queue.add(job.id, job);
    },

    async get(id) {
      ensureOpen();
      if (!fitsKey(["job_ids", id])) return null;
      const ref = await kv.get<[number, string]>(["job_ids", id]);
      if (ref.value === null) return null;
      const head = await kv.get(["jobs", ref.value[0], id]);
      return head.versionstamp === null ? null : read(head);
    },

    async *list() {
      ensureOpen();
      const entries = kv.list({ prefix: ["jobs"] }, { reverse: true, batchSize: LIST_BATCH });
      for await (const entry of entries) {
        const job = await readOrSkip(entry);
        if (job !== null) yield job;
      }
    },

    async page({ limit, before, pipeline }) {
      ensureOpen();
      if (!Number.isInteger(limit) || limit < 1) {
        throw new RangeError(`a page holds at least 1 job, not ${limit}`);
      }
      const prefix: Deno.KvKey = pipeline === null ? ["jobs"] : ["by_pipeline", pipeline];
      if (!fitsKey([...prefix, 0, before?.id ?? ""])) return { jobs: [], next: null };
      const selector: Deno.KvListSelector = before === null
        ? { prefix }
        : { prefix, end: [...prefix, before.created, before.id] };
      const entries: Deno.KvEntry<unknown>[] = [];
      let more = false;
      for await (const entry of kv.list(selector, { reverse: true, limit: limit + 1 })) {
        if (entries.length === limit) {
          more = true;
          break;
        }
        entries.push(entry);
      }
      const jobs: Job[] = [];
      if (pipeline === null) {
        for (const entry of entries) {
          const job = await readOrSkip(entry);
          if (job !== null) jobs.push(job);
        }
      } else {
        const heads = entries.map(({ key }) => ["jobs", key[2], key[3]]);
        for await (const job of readHeads(fromArray(heads))) jobs.push(job);
      }
      const last = entries.at(-1)?.key;
      const next = more && last
        ? { created: last.at(-2) as number, id: last.at(-1) as string }
        : null;
      return { jobs, next };
    },

    async *listJson() {
      ensureOpen();
      yield* listJson(kv, {
        async build(created, id) {
          const head = await kv.get(["jobs", created, id]);
          const job = head.versionstamp === null ? null : await readOrSkip(head);
          return job === null ? null : listingOrSkip(job);
        },
        release: releaseListed,
        releaseBytes: releaseListedBytes,
      });
    },

    async *listByPipeline(pipeline) {
      ensureOpen();
      yield* readHeads(indexKeys(["by_pipeline", pipeline], true));
    },

    async *summariesByPipeline(pipeline) {
      ensureOpen();
      const entries = kv.list<[boolean, number | null]>(
        { prefix: ["by_pipeline", pipeline] },
        { reverse: true, batchSize: LIST_BATCH },
      );
      for await (const { key, value: [completed, end] } of entries) {
        yield { id: key[3] as string, created: key[2] as number, completed, end };
      }
    },

    async pipelinesWithJobs() {
      ensureOpen();
      const names: string[] = [];
      let selector: Deno.KvListSelector = { prefix: ["by_pipeline"] };
      while (true) {
        const first = await kv.list(selector, { limit: 1 }).next();
        if (first.done) return names;
        const name = first.value.key[1] as string;
        names.push(name);
        // Booleans sort after numbers: this skips every `["by_pipeline", name, created, id]`.
        selector = { prefix: ["by_pipeline"], start: ["by_pipeline", name, true] };
      }
    },

    async listUnfinished() {
      ensureOpen();
      const jobs: Job[] = [];
      for await (const job of readHeads(indexKeys(["unfinished"], false))) {
        if (!job.completed) jobs.push(job);
      }
      return jobs;
    },

    async delete(ids) {
      ensureOpen();
      if (queue.waiting) queue.flush();
      await queue.run(async () => {
        deleteEpoch++;
        const { units, deleted } = await deletionUnits(kv, ids);
        units.push(...await packRemovals(kv, deleted));
        for (const group of groupCommits(units)) await commit(kv, group);
      });
    },

    async packListing(maxJobs = PACK_ROUND_JOBS) {
      ensureOpen();
      let moved = 0;
      await queue.run(async () => {
        moved = await packEntries(kv, maxJobs, now());
      });
      return moved;
    },

    flush() {
      return queue.flush();
    },

    async check() {
      ensureOpen();
      await writeHealth(kv, now());
    },

    async close() {
      if (closed) return;
      closed = true;
      await queue.flush();
      kv.close();
    },
  };
}

async function* fromArray<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}
