/**
 * The job store on Deno KV, using only what every Deno KV offers (keys, atomic operations, list
 * by prefix with cursors), so it runs against a local file and a KV Connect server alike. This
 * module puts the parts together: records (`records.ts`), reads and paging (`reads.ts`), listing
 * entries and packs (`listing.ts`), commit fitting (`commits.ts`), the order of writes
 * (`write_queue.ts`), the layout version (`migration.ts`) and the write check (`health.ts`).
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
 * | `["job_ids", id]`                         | `[created, pipeline]`, plus the digest of its      |
 * |                                           | idempotency key when it was scheduled with one     |
 * | `["by_pipeline", pipeline, created, id]`  | `[completed, end]`: for listing and retention      |
 * | `["unfinished", created, id]`             | `true` while the job is not completed              |
 * | `["health"]`                              | time of the last write check (`check()`)           |
 * | `["trigger_ticks", pipeline, trigger]`    | `Deno.KvU64`: the newest planned time of the       |
 * |                                           | trigger's jobs (`Job.trigger`) and refused ticks   |
 * |                                           | (`saveTick`), raised by `max`                      |
 * | `["listed", created, id]`                 | the job's listing bytes, or `false` when over      |
 * |                                           | 16 KiB or they cannot be built                     |
 * | `["listed_pack", created, id]`            | a `ListingPack`: the listing bytes of consecutive  |
 * |                                           | completed jobs, the newest being `created, id`     |
 * | `["idempotency", digest]`                 | `[created, id]` of the job holding a user's        |
 * |                                           | idempotency key (`digest`: SHA-256 of user and     |
 * |                                           | key); set with `expireIn`, checked when read       |
 *
 * Writes: every `save` of the same moment (see `write_queue.ts`) is written in one atomic
 * commit, split only where Deno KV's limits force it (see `commits.ts`). A job's head and
 * indexes (its idempotency key among them) are always in one commit; big variables go in
 * earlier commits. Commits run one after
 * the other, in the order of the calls.
 *
 * @module
 */
import { holdsKey } from "../../engine/idempotency.ts";
import type { Job } from "../../engine/job.ts";
import type { JobStore, ListingEncoder } from "../types.ts";
import { type StoreReadError, StoreWriteError } from "../errors.ts";
import { commit, groupCommits, max, type Unit, unitOf } from "./commits.ts";
import { listingOrReport } from "../listing.ts";
import { writeHealth } from "./health.ts";
import {
  listedEntry,
  LISTING_RELEASE_BYTES,
  listJson,
  packEntries,
  packRemovals,
} from "./listing.ts";
import { migrate } from "./migration.ts";
import { createJobReads } from "./reads.ts";
import {
  deletionUnits,
  idempotencyKey,
  jobUnits,
  readTriggerTicks,
  type RecordShape,
  triggerTickKey,
} from "./records.ts";
import { createWriteQueue, type Waiting } from "./write_queue.ts";

/** Settings of {@linkcode openKvJobStore}. */
export interface KvJobStoreOptions {
  /** How listings show a job: its bytes are stored with the job and streamed by `listJson()`. */
  listing: ListingEncoder;
  /** The data directory, named in the messages of failed writes. */
  dataDir?: string;
  /** Called for each damaged record that `list()` skips (e.g. to log it). */
  onDamaged?: (error: StoreReadError) => void;
  /**
   * Called with each commit of jobs, while it runs: a rejection fails the commit's saves with
   * its cause, also when the commit has landed (e.g. in a database file replaced meanwhile,
   * which no restart would find). Running beside the commit keeps it off the commit's latency.
   */
  checkTarget?: () => Promise<void>;
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
  /**
   * The clock, in epoch ms (default `Date.now`): when packing passes unfinished jobs, health,
   * when idempotency keys expire.
   */
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
  const checkTarget = options.checkTarget ?? (() => Promise.resolve());

  /** Runs `write` and the target check side by side; rejects with the first failure. */
  async function checked(write: Promise<unknown>): Promise<void> {
    const [written, target] = await Promise.allSettled([write, checkTarget()]);
    if (target.status === "rejected") throw target.reason;
    if (written.status === "rejected") throw written.reason;
  }
  const releaseListed = options.releaseListed ?? (() => {});
  const releaseListedBytes = options.releaseListedBytes ?? LISTING_RELEASE_BYTES;
  const now = options.now ?? Date.now;
  const written = new WeakMap<Job, Written>();
  let deleteEpoch = 0;
  let closed = false;
  const queue = createWriteQueue<Job>(writeBatch);
  const reads = createJobReads(kv, {
    onDamaged,
    remember: (job, shape) => written.set(job, { epoch: deleteEpoch, shape }),
  });

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
          now(),
        );
        units.push(...parts, { ...last, owner: entry, shape });
      } catch (error) {
        reject(entry, error);
      }
    }
    const commits = groupCommits(units);
    for (let i = 0; i < commits.length; i++) {
      try {
        await checked(commit(kv, commits[i]));
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
      return await reads.get(id);
    },

    async findIdempotent(user, key) {
      ensureOpen();
      const ref = await kv.get<[number, string]>(idempotencyKey(user, key));
      if (ref.value === null) return null;
      const job = await reads.at(...ref.value);
      // Deno KV deletes an expired entry some time later, not at once.
      return job !== null && holdsKey(job, user, key, now()) ? job : null;
    },

    async *list() {
      ensureOpen();
      yield* reads.list();
    },

    async page(query) {
      ensureOpen();
      return await reads.page(query);
    },

    async *listJson() {
      ensureOpen();
      yield* listJson(kv, {
        async build(created, id) {
          const job = await reads.at(created, id);
          return job === null ? null : listingOrReport(listing, job, onDamaged);
        },
        release: releaseListed,
        releaseBytes: releaseListedBytes,
      });
    },

    async *listByPipeline(pipeline) {
      ensureOpen();
      yield* reads.listByPipeline(pipeline);
    },

    async *summariesByPipeline(pipeline) {
      ensureOpen();
      yield* reads.summariesByPipeline(pipeline);
    },

    async pipelinesWithJobs() {
      ensureOpen();
      return await reads.pipelinesWithJobs();
    },

    async listUnfinished() {
      ensureOpen();
      return await reads.listUnfinished();
    },

    async triggerTicks() {
      ensureOpen();
      return await readTriggerTicks(kv);
    },

    async saveTick(tick) {
      ensureOpen();
      await queue.run(async () => {
        await checked(commit(kv, [
          unitOf([max(triggerTickKey(tick.pipeline, tick.trigger), tick.planned)]),
        ]));
      });
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
