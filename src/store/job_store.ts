/**
 * The job store: jobs persisted in Deno KV, using only what every Deno KV offers (keys, atomic
 * operations, list by prefix with cursors), so it runs against a local file and a KV Connect
 * server alike.
 *
 * Key layout (`created` is the job's creation time in epoch ms, `id` its id):
 *
 * | Key                                       | Value                                              |
 * | ----------------------------------------- | -------------------------------------------------- |
 * | `["format"]`                              | `FORMAT`, the layout version                       |
 * | `["jobs", created, id]`                   | the job's head: UTF-8 JSON bytes of the job; if    |
 * |                                           | over 64 KiB, the number of state parts instead     |
 * | `["job_parts", id]`                       | `true`: the job has (or had) parts                 |
 * | `["job_parts", id, "state", i]`           | part `i` of the head JSON, when over 64 KiB        |
 * | `["job_parts", id, "variables", i]`       | part `i` of the variables JSON, when over 4 KiB    |
 * | `["job_ids", id]`                         | `[created, pipeline]`                              |
 * | `["by_pipeline", pipeline, created, id]`  | `[completed, end]`: for listing and retention      |
 * | `["unfinished", created, id]`             | `true` while the job is not completed              |
 * | `["health"]`                              | time of the last write check (`check()`)           |
 * | `["listed", created, id]`                 | the job's API JSON (UTF-8 bytes), or `false` when  |
 * |                                           | over 16 KiB or it cannot be built                  |
 * | `["listed_pack", created, id]`            | a `ListingPack`: the API JSON of consecutive       |
 * |                                           | completed jobs, the newest being `created, id`     |
 *
 * Variables never change after scheduling: up to 4 KiB of JSON they are kept inline in the head,
 * bigger ones go to their own parts, written once, so a state change rewrites only the small
 * head. In that case the head JSON has `variables: null` and `variableParts: n`. `list()` is one
 * range scan over `["jobs"]` in reverse (newest first); `listUnfinished()` scans only the
 * unfinished index, so startup cost does not grow with the number of finished jobs. `page()`
 * reads one page: a reverse scan of `["jobs"]` (or of `["by_pipeline", pipeline]`) that ends
 * before the cursor's key and stops after the page, so its cost does not grow with the store.
 *
 * Listing: every save also stores the job as the API shows it (`jobToJson`), so `listJson()`
 * streams stored bytes without decoding and re-encoding each job (measured on 100,000 jobs:
 * parsing the heads and serializing them again took twice as long as reading them).
 * `packListing()` moves the entries of completed jobs into packs of about 150 (see
 * `listing_packs.ts`), since reading an entry costs about the same at any size. Format 1 had no
 * listing entries: opening such a database writes them once; format 2 had no packs, which an
 * older prunner would not list: opening either stores format 3.
 *
 * Writes: every `save` of the same moment is written in one atomic commit, split only where Deno
 * KV's limits force it (1000 mutations, 800 KiB of keys and values, 80 KiB of keys, 64 KiB per
 * value, 2 KiB per key). A job's head and indexes are always in one commit; big variables go in
 * earlier commits. Commits run one after the other, in the order of the calls. "The same moment"
 * is up to the next microtask checkpoint (`queueMicrotask`), plus every save made while a commit
 * is in flight; `setTimeout(0)` was measured to add about 2 ms per save without batching more.
 *
 * @module
 */
import type { Job, JobVariables } from "../engine/job.ts";
import { jobToJson } from "../server/json.ts";
import { StoreFormatError, StoreReadError, StoreWriteError } from "./errors.ts";
import { concatBytes } from "../bytes.ts";
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

/** Version of the key layout; stored at `["format"]`. */
export const FORMAT = 3;

/** The layout before listing entries; read and migrated by {@linkcode openJobStore}. */
const FORMAT_WITHOUT_LISTING = 1;

/** The layout before listing packs; opened as it is. */
const FORMAT_WITHOUT_PACKS = 2;

/**
 * API JSON up to this size is stored for listings; a bigger one (big variables) is built from
 * the job when listed, so that it never crowds the job's own commit.
 */
export const LISTING_BYTES = 16 * 1024;

/** Deno KV's limits on one atomic commit (the same locally and over KV Connect). */
export const KV_LIMITS = {
  mutations: 1000,
  /** Keys and values of all mutations together. */
  totalBytes: 819_200,
  /** Keys of all mutations together. */
  totalKeyBytes: 81_920,
  valueBytes: 65_536,
  keyBytes: 2048,
  /** Keys per `getMany`. */
  getMany: 10,
} as const;

/** Variables up to this size (bytes of JSON) are kept in the job's head. */
export const INLINE_VARIABLES_BYTES = 4096;

/** What retention needs to know about a job, read from the pipeline index. */
export interface JobSummary {
  id: string;
  created: number;
  completed: boolean;
  end: number | null;
}

/** A position in the newest-first job order: the last job of the previous page. */
export interface JobCursor {
  created: number;
  id: string;
}

/** Which page of jobs to read. */
export interface JobPageQuery {
  /** Most jobs on the page (at least 1). */
  limit: number;
  /** Only jobs after this one in the newest-first order; from the newest when `null`. */
  before: JobCursor | null;
  /** Only jobs of this pipeline; all when `null`. */
  pipeline: string | null;
}

/** One page of jobs. */
export interface JobPage {
  /** Newest first. */
  jobs: Job[];
  /** Where the following page starts; `null` when no job follows. */
  next: JobCursor | null;
}

/**
 * Jobs as listings show them, as UTF-8 bytes: one job's API JSON with its id, or the API JSON
 * of several completed jobs, separated by commas, from a listing pack.
 */
export type ListedJob =
  | { readonly id: string; readonly json: Uint8Array }
  | { readonly jobs: number; readonly json: Uint8Array };

/** Persistence of jobs. */
export interface JobStore {
  /**
   * Persists the job's current state. Saves of the same moment are written in one commit; the
   * job is serialized when the commit is built, so it holds the latest state. Resolves once the
   * commit including the job is done; rejects with `StoreWriteError`.
   */
  save(job: Job): Promise<void>;
  /** One job, or `null` when no job has this id. */
  get(id: string): Promise<Job | null>;
  /**
   * All jobs, newest first (by `created`, ties by id), read in batches. Here and in the other
   * listings a damaged record is skipped (see `onDamaged`), so one bad record never hides the
   * others.
   */
  list(): AsyncIterable<Job>;
  /**
   * One page of jobs, newest first (by `created`, ties by id), optionally of one pipeline.
   * Reads at most `limit + 1` index entries and `limit` jobs.
   */
  page(query: JobPageQuery): Promise<JobPage>;
  /**
   * The API JSON of all jobs, in the order of `list()`, as stored; in batches, so that a long
   * listing costs one step of iteration per batch rather than per job. A damaged record is
   * skipped (see `onDamaged`).
   */
  listJson(): AsyncIterable<ListedJob[]>;
  /** The jobs of one pipeline, newest first. */
  listByPipeline(pipeline: string): AsyncIterable<Job>;
  /** The summaries of one pipeline's jobs, newest first, from the pipeline index only. */
  summariesByPipeline(pipeline: string): AsyncIterable<JobSummary>;
  /** Names of all pipelines that have jobs in the store, sorted. */
  pipelinesWithJobs(): Promise<string[]>;
  /** Jobs that are not completed, oldest first. */
  listUnfinished(): Promise<Job[]>;
  /** Removes jobs with their indexes; unknown ids are ignored. Runs after pending saves. */
  delete(ids: readonly string[]): Promise<void>;
  /**
   * Moves up to `maxJobs` listing entries of completed jobs into packs, oldest first; resolves
   * with how many it moved (0 when nothing is left to pack). Runs between saves.
   */
  packListing(maxJobs?: number): Promise<number>;
  /** Resolves once every save made before the call is committed (or has failed). */
  flush(): Promise<void>;
  /** Writes a small record to see whether the store can write; rejects with the cause. */
  check(): Promise<void>;
  /** Flushes, then closes the KV database. */
  close(): Promise<void>;
}

/** How a job was last written (or read) by this store, so unchanged parts are not rewritten. */
interface Written {
  /** `deleteEpoch` at the time: a delete invalidates what is known. */
  epoch: number;
  variableParts: number;
  stateParts: number;
  completed: boolean;
  end: number | null;
}

/** The head JSON: a job, with big variables replaced by their part count. */
interface StoredJob extends Omit<Job, "variables"> {
  variables: JobVariables | null;
  variableParts?: number;
}

interface Mutation {
  key: Deno.KvKey;
  /** `undefined` deletes the key. */
  value: unknown;
  keyBytes: number;
  bytes: number;
}

/** Mutations that must be committed together. */
interface Unit {
  mutations: Mutation[];
  keyBytes: number;
  bytes: number;
  /** On a job's last unit: the save it completes. */
  owner?: Pending;
  /** On a job's last unit: what is known about the job once it is committed. */
  record?: Written;
}

interface Pending {
  job: Job;
  resolve: (() => void)[];
  reject: ((error: unknown) => void)[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const LIST_BATCH = 500;
/** Deno KV's largest list batch: listing reads many small entries. */
const LISTING_BATCH = 1000;
/** Packs read per batch when listing (each up to 64 KiB). */
const PACK_LIST_BATCH = 16;
/** Most jobs in one pack (each is a delete in the pack's commit). */
const PACK_JOBS = 500;
/** Jobs `packListing()` moves per call unless told otherwise. */
const PACK_ROUND_JOBS = 1000;
/**
 * How long a job may stay unfinished before packing goes on past it (it then keeps its own
 * listing entry): a job that waits or runs for hours must not hold packing up.
 */
const PACK_PAST_UNFINISHED_MS = 60 * 60 * 1000;
/** Jobs migrated to the current format per round of saves. */
const MIGRATION_BATCH = 1000;

/** A job's API JSON, UTF-8. */
function encodeListing(job: Job): Uint8Array {
  return encoder.encode(JSON.stringify(jobToJson(job)));
}

/**
 * Opens the job store on a KV database: checks the layout version (writing it into an empty
 * database) and returns the store.
 *
 * @throws {StoreFormatError} when the database holds another layout version.
 * @example
 * ```ts
 * const store = await openJobStore(await Deno.openKv("/var/lib/prunner/jobs.kv"));
 * await store.save(job);
 * for await (const job of store.list()) console.log(job.id);
 * await store.close();
 * ```
 */
export async function openJobStore(
  kv: Deno.Kv,
  options: JobStoreOptions = {},
): Promise<JobStore> {
  const format = await kv.get(["format"]);
  if (format.value === null) {
    const result = await kv.atomic().check(format).set(["format"], FORMAT).commit();
    if (!result.ok) return openJobStore(kv, options);
  } else if (format.value === FORMAT_WITHOUT_LISTING || format.value === FORMAT_WITHOUT_PACKS) {
    if (format.value === FORMAT_WITHOUT_LISTING) await addListings(kv);
    const result = await kv.atomic().check(format).set(["format"], FORMAT).commit();
    if (!result.ok) return openJobStore(kv, options);
  } else if (format.value !== FORMAT) {
    throw new StoreFormatError(format.value, FORMAT);
  }
  return createJobStore(
    kv,
    options.dataDir ?? null,
    options.onDamaged ?? (() => {}),
    options.beforeCommit ?? (() => Promise.resolve()),
    options.releaseListed ?? (() => {}),
    options.releaseListedBytes ?? LISTING_RELEASE_BYTES,
  );
}

/** Settings of {@linkcode openJobStore}. */
export interface JobStoreOptions {
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
}

/** Bytes `listJson()` reads between calls of `releaseListed` unless told otherwise. */
export const LISTING_RELEASE_BYTES = 16 * 1024 * 1024;

/**
 * Writes the listing entry of every job of a format-1 database. A job whose record is in one
 * value is listed from its API JSON; any other (parts, or a record that cannot be read or turned
 * into JSON) gets `false`, so listings read its record and skip it, reported, when damaged.
 */
async function addListings(kv: Deno.Kv): Promise<void> {
  let units: Unit[] = [];
  const commit = async () => {
    for (const mutations of pack(units)) {
      const operation = kv.atomic();
      for (const unit of mutations) {
        for (const { key, value } of unit.mutations) operation.set(key, value);
      }
      if (!(await operation.commit()).ok) throw new Error("the atomic commit was not applied");
    }
    units = [];
  };
  for await (const { key, value } of kv.list({ prefix: ["jobs"] }, { batchSize: LIST_BATCH })) {
    let listing: Uint8Array | false = false;
    try {
      const stored = value instanceof Uint8Array
        ? JSON.parse(decoder.decode(value)) as StoredJob
        : null;
      if (stored !== null && !stored.variableParts) listing = encodeListing(stored as Job);
    } catch {
      // Listed from its record, which reports what is wrong with it.
    }
    if (listing !== false && listing.length > LISTING_BYTES) listing = false;
    units.push(unitOf([set(["listed", key[1], key[2]], listing)]));
    if (units.length === MIGRATION_BATCH) await commit();
  }
  await commit();
}

function createJobStore(
  kv: Deno.Kv,
  dataDir: string | null,
  onDamaged: (error: StoreReadError) => void,
  beforeCommit: () => Promise<void>,
  releaseListed: () => void,
  releaseListedBytes: number,
): JobStore {
  const written = new WeakMap<Job, Written>();
  let deleteEpoch = 0;
  let pending = new Map<string, Pending>();
  let scheduled = false;
  let closed = false;
  /** The chain of write operations: each starts after the previous one ended. */
  let tail: Promise<void> = Promise.resolve();

  function enqueue(operation: () => Promise<void>): Promise<void> {
    const result = tail.then(operation);
    tail = result.catch(() => {});
    return result;
  }

  function takePending(): Promise<void> {
    scheduled = false;
    const batch = pending;
    pending = new Map();
    return batch.size === 0 ? Promise.resolve() : writeBatch([...batch.values()]);
  }

  async function writeBatch(batch: Pending[]): Promise<void> {
    const units: Unit[] = [];
    for (const entry of batch) {
      try {
        units.push(...jobUnits(entry));
      } catch (error) {
        reject(entry, error);
      }
    }
    const commits = pack(units);
    for (let i = 0; i < commits.length; i++) {
      try {
        await beforeCommit();
        await commit(commits[i]);
      } catch (error) {
        for (const unit of commits.slice(i).flat()) {
          if (unit.owner) {
            reject(unit.owner, new StoreWriteError(unit.owner.job.id, error, dataDir));
          }
        }
        return;
      }
      for (const { owner, record } of commits[i]) {
        if (owner && record) {
          written.set(owner.job, record);
          for (const resolve of owner.resolve) resolve();
        }
      }
    }
  }

  function reject(entry: Pending, error: unknown): void {
    const reason = error instanceof StoreWriteError
      ? error
      : new StoreWriteError(entry.job.id, error, dataDir);
    for (const reject of entry.reject) reject(reason);
  }

  /** The units that write one job: big variables first, then its head and indexes. */
  function jobUnits(entry: Pending): Unit[] {
    const { job } = entry;
    const known = written.get(job);
    const fresh = known === undefined || known.epoch !== deleteEpoch;
    const units: Unit[] = [];
    const state: Mutation[] = [];
    let variableParts = fresh ? 0 : known.variableParts;

    if (fresh && job.variables !== null) {
      const bytes = encoder.encode(JSON.stringify(job.variables));
      if (bytes.length > INLINE_VARIABLES_BYTES) {
        const parts = split(bytes);
        variableParts = parts.length;
        parts.forEach((part, i) => {
          const mutations = [set(["job_parts", job.id, "variables", i], part)];
          if (i === 0) mutations.push(set(["job_parts", job.id], true));
          units.push(unitOf(mutations));
        });
      }
    }
    const stored: StoredJob = variableParts === 0
      ? job
      : { ...job, variables: null, variableParts };
    const head = encoder.encode(JSON.stringify(stored));
    const key = ["jobs", job.created, job.id];
    let stateParts = 0;
    if (head.length <= KV_LIMITS.valueBytes) {
      state.push(set(key, head));
    } else {
      const parts = split(head);
      stateParts = parts.length;
      parts.forEach((part, i) => state.push(set(["job_parts", job.id, "state", i], part)));
      state.push(set(["job_parts", job.id], true));
      state.push(set(key, stateParts));
    }
    // A job whose API JSON cannot be built (or is too big) is listed from its record.
    let listing: Uint8Array | false = false;
    try {
      listing = encodeListing(job);
    } catch {
      // Left to listJson, which reports it.
    }
    state.push(
      set(
        ["listed", job.created, job.id],
        listing !== false && listing.length <= LISTING_BYTES ? listing : false,
      ),
    );
    for (let i = stateParts; i < (known?.stateParts ?? 0); i++) {
      state.push(remove(["job_parts", job.id, "state", i]));
    }
    if (fresh) state.push(set(["job_ids", job.id], [job.created, job.pipeline]));
    if (fresh || known.completed !== job.completed || known.end !== job.end) {
      state.push(set(["by_pipeline", job.pipeline, job.created, job.id], [job.completed, job.end]));
      const unfinished = ["unfinished", job.created, job.id];
      state.push(job.completed ? remove(unfinished) : set(unfinished, true));
    }

    const last: Unit = { ...unitOf(state), owner: entry };
    if (!fits(last)) {
      throw new StoreWriteError(
        job.id,
        `its state needs ${last.bytes} bytes in ${last.mutations.length} mutation(s) with ` +
          `${last.keyBytes} bytes of keys, more than one commit holds (${KV_LIMITS.totalBytes} ` +
          `bytes, ${KV_LIMITS.mutations} mutations, ${KV_LIMITS.totalKeyBytes} bytes of keys)`,
      );
    }
    last.record = {
      epoch: deleteEpoch,
      variableParts,
      stateParts,
      completed: job.completed,
      end: job.end,
    };
    return [...units, last];
  }

  async function commit(units: Unit[]): Promise<void> {
    const operation = kv.atomic();
    for (const unit of units) {
      for (const { key, value } of unit.mutations) {
        if (value === undefined) operation.delete(key);
        else operation.set(key, value);
      }
    }
    const result = await operation.commit();
    if (!result.ok) throw new Error("the atomic commit was not applied");
  }

  /** Decodes a head entry, reading its parts. */
  async function readJob(head: Deno.KvEntry<unknown>): Promise<Job> {
    const id = head.key[2] as string;
    let entry = head;
    let stateParts = 0;
    let bytes: Uint8Array;
    while (true) {
      const { value } = entry;
      if (value instanceof Uint8Array) {
        bytes = value;
        stateParts = 0;
        break;
      }
      if (typeof value !== "number") throw new StoreReadError(id, "its head is not readable");
      stateParts = value;
      const parts = await readParts(id, "state", stateParts);
      // The parts are consistent with the head only if no save happened in between.
      const again = await kv.get(entry.key);
      if (again.versionstamp === entry.versionstamp) {
        bytes = concatBytes(parts);
        break;
      }
      if (again.value === null) throw new StoreReadError(id, "it was deleted while being read");
      entry = again;
    }
    const { variableParts = 0, ...job } = parseJson<StoredJob>(id, "record", bytes);
    if (variableParts > 0) {
      const parts = await readParts(id, "variables", variableParts);
      job.variables = parseJson<JobVariables>(id, "variables", concatBytes(parts));
    }
    written.set(job, {
      epoch: deleteEpoch,
      variableParts,
      stateParts,
      completed: job.completed,
      end: job.end,
    });
    return job;
  }

  async function readParts(id: string, kind: string, count: number): Promise<Uint8Array[]> {
    const keys = Array.from({ length: count }, (_, i) => ["job_parts", id, kind, i]);
    const parts: Uint8Array[] = [];
    for (let i = 0; i < keys.length; i += KV_LIMITS.getMany) {
      for (const entry of await kv.getMany(keys.slice(i, i + KV_LIMITS.getMany))) {
        if (!(entry.value instanceof Uint8Array)) {
          throw new StoreReadError(id, `part ${parts.length} of its ${kind} is missing`);
        }
        parts.push(entry.value);
      }
    }
    return parts;
  }

  /**
   * Reads a job for a listing; `null` for a damaged record, which is reported to `onDamaged`:
   * one damaged record must not hide the other jobs (`get` says what is wrong with it).
   */
  /** A stored job's API JSON, or `null` (reported to `onDamaged`) when it cannot be built. */
  function listingOrSkip(job: Job): Uint8Array | null {
    try {
      return encodeListing(job);
    } catch (error) {
      onDamaged(
        new StoreReadError(job.id, `its API JSON cannot be built (${(error as Error).message})`),
      );
      return null;
    }
  }

  async function readOrSkip(head: Deno.KvEntry<unknown>): Promise<Job | null> {
    try {
      return await readJob(head);
    } catch (error) {
      if (!(error instanceof StoreReadError)) throw error;
      onDamaged(error);
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

  async function* indexKeys(
    prefix: Deno.KvKey,
    reverse: boolean,
  ): AsyncGenerator<Deno.KvKey> {
    const at = prefix.length;
    for await (const entry of kv.list({ prefix }, { reverse, batchSize: LIST_BATCH })) {
      yield ["jobs", entry.key[at], entry.key[at + 1]];
    }
  }

  /**
   * Packs listing entries of completed jobs that follow the newest pack, oldest first, up to
   * `maxJobs`. A run stops at a job that is not completed, so that it is packed once completed;
   * one that has not completed for `PACK_PAST_UNFINISHED_MS` is left in its own entry. Entries
   * built from the record (`false`) stay as they are.
   */
  async function packEntries(maxJobs: number): Promise<number> {
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
    const stale = Date.now() - PACK_PAST_UNFINISHED_MS;
    let run: PackedJob[] = [];
    let runBytes = 0;
    let moved = 0;
    const seal = async () => {
      if (run.length === 0) return;
      const jobs = run.reverse();
      const newestJob = jobs[0];
      await commit([unitOf([
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

  /** Units that take the deleted jobs (`[created, id]`) out of the packs that hold them. */
  async function packRemovals(deleted: [number, string][]): Promise<Unit[]> {
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

  function ensureOpen(): void {
    if (closed) throw new Error("the job store is closed");
  }

  return {
    save(job) {
      if (closed) {
        return Promise.reject(new StoreWriteError(job.id, "the job store is closed", dataDir));
      }
      const { promise, resolve, reject } = Promise.withResolvers<void>();
      const entry = pending.get(job.id);
      if (entry) {
        entry.job = job;
        entry.resolve.push(resolve);
        entry.reject.push(reject);
      } else {
        pending.set(job.id, { job, resolve: [resolve], reject: [reject] });
      }
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(() => {
          if (scheduled) enqueue(takePending);
        });
      }
      return promise;
    },

    async get(id) {
      ensureOpen();
      if (keySize(["job_ids", id]) > KV_LIMITS.keyBytes) return null;
      const ref = await kv.get<[number, string]>(["job_ids", id]);
      if (ref.value === null) return null;
      const head = await kv.get(["jobs", ref.value[0], id]);
      return head.versionstamp === null ? null : readJob(head);
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
      if (keySize([...prefix, 0, before?.id ?? ""]) > KV_LIMITS.keyBytes) {
        return { jobs: [], next: null };
      }
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
        if (read >= releaseListedBytes) {
          releaseListed();
          read = 0;
        }
        if (!("id" in item)) {
          batch.push(item);
          jobs += item.jobs;
        } else if (item.json !== false) {
          batch.push({ id: item.id, json: item.json });
          jobs++;
        } else {
          const { created, id } = item;
          const head = await kv.get(["jobs", created, id]);
          const job = head.versionstamp === null ? null : await readOrSkip(head);
          const listing = job === null ? null : listingOrSkip(job);
          if (listing !== null) batch.push({ id, json: listing });
          jobs++;
        }
        if (jobs >= LISTING_BATCH) {
          yield batch;
          batch = [];
          jobs = 0;
        }
      }
      if (batch.length > 0) yield batch;
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
      if (pending.size > 0) enqueue(takePending);
      await enqueue(async () => {
        deleteEpoch++;
        const units: Unit[] = [];
        /** The deleted jobs, to take out of the packs that hold them. */
        const packed: [number, string][] = [];
        for (let i = 0; i < ids.length; i += KV_LIMITS.getMany) {
          const chunk = ids.slice(i, i + KV_LIMITS.getMany)
            .filter((id) => keySize(["job_ids", id]) <= KV_LIMITS.keyBytes);
          const refs = await kv.getMany<[number, string][]>(chunk.map((id) => ["job_ids", id]));
          const marks = await kv.getMany<true[]>(chunk.map((id) => ["job_parts", id]));
          for (const [j, ref] of refs.entries()) {
            if (ref.value === null) continue;
            const id = chunk[j];
            const [created, pipeline] = ref.value;
            const keys: Deno.KvKey[] = [
              ["jobs", created, id],
              ["job_ids", id],
              ["by_pipeline", pipeline, created, id],
              ["unfinished", created, id],
              ["listed", created, id],
            ];
            if (marks[j].value !== null) {
              keys.push(marks[j].key);
              for await (const part of kv.list({ prefix: marks[j].key })) keys.push(part.key);
            }
            units.push(...keys.map((key) => unitOf([remove(key)])));
            packed.push([created, id]);
          }
        }
        units.push(...await packRemovals(packed));
        for (const units_ of pack(units)) await commit(units_);
      });
    },

    async packListing(maxJobs = PACK_ROUND_JOBS) {
      ensureOpen();
      let moved = 0;
      await enqueue(async () => {
        moved = await packEntries(maxJobs);
      });
      return moved;
    },

    flush() {
      return enqueue(takePending);
    },

    async check() {
      ensureOpen();
      const result = await kv.set(["health"], Date.now());
      if (!result.ok) throw new Error("the health record was not written");
    },

    async close() {
      if (closed) return;
      closed = true;
      await enqueue(takePending);
      kv.close();
    },
  };
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

async function* fromArray<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

function parseJson<T>(id: string, what: string, bytes: Uint8Array): T {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch (error) {
    throw new StoreReadError(id, `its ${what} is not valid JSON (${(error as Error).message})`);
  }
}

function set(key: Deno.KvKey, value: unknown): Mutation {
  const keyBytes = keySize(key);
  if (keyBytes > KV_LIMITS.keyBytes) {
    throw new RangeError(
      `its key ${JSON.stringify(key)} needs ${keyBytes} bytes, at most ${KV_LIMITS.keyBytes} ` +
        `are possible (is the pipeline name or job id that long?)`,
    );
  }
  return { key, value, keyBytes, bytes: keyBytes + valueSize(value) };
}

function remove(key: Deno.KvKey): Mutation {
  const keyBytes = keySize(key);
  return { key, value: undefined, keyBytes, bytes: keyBytes };
}

function unitOf(mutations: Mutation[]): Unit {
  let keyBytes = 0;
  let bytes = 0;
  for (const mutation of mutations) {
    keyBytes += mutation.keyBytes;
    bytes += mutation.bytes;
  }
  return { mutations, keyBytes, bytes };
}

function fits(unit: Unit): boolean {
  return unit.mutations.length <= KV_LIMITS.mutations && unit.bytes <= KV_LIMITS.totalBytes &&
    unit.keyBytes <= KV_LIMITS.totalKeyBytes;
}

/** Groups units, in order, into as few commits as Deno KV's limits allow. */
function pack(units: Unit[]): Unit[][] {
  const commits: Unit[][] = [];
  let current: Unit[] = [];
  let mutations = 0;
  let bytes = 0;
  let keyBytes = 0;
  for (const unit of units) {
    if (
      current.length > 0 &&
      (mutations + unit.mutations.length > KV_LIMITS.mutations ||
        bytes + unit.bytes > KV_LIMITS.totalBytes ||
        keyBytes + unit.keyBytes > KV_LIMITS.totalKeyBytes)
    ) {
      commits.push(current);
      current = [];
      mutations = bytes = keyBytes = 0;
    }
    current.push(unit);
    mutations += unit.mutations.length;
    bytes += unit.bytes;
    keyBytes += unit.keyBytes;
  }
  if (current.length > 0) commits.push(current);
  return commits;
}

function split(bytes: Uint8Array): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += KV_LIMITS.valueBytes) {
    parts.push(bytes.subarray(i, i + KV_LIMITS.valueBytes));
  }
  return parts;
}

/** Encoded size of a key: strings cost their UTF-8 bytes, a NUL escape each and 2 bytes. */
function keySize(key: Deno.KvKey): number {
  let size = 0;
  for (const part of key) {
    if (typeof part === "string") size += 2 + utf8Length(part) + countNul(part);
    else if (typeof part === "number") size += 9;
    else size += 16;
  }
  return size;
}

/** An upper bound of a value's encoded size. */
function valueSize(value: unknown): number {
  if (value instanceof Uint8Array) return value.length;
  if (typeof value === "string") return 8 + 3 * value.length;
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + valueSize(item), 8);
  return 16;
}

function utf8Length(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) length += 1;
    else if (code < 0x800) length += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      length += 4;
      i++;
    } else length += 3;
  }
  return length;
}

function countNul(text: string): number {
  let count = 0;
  for (let i = text.indexOf("\0"); i !== -1; i = text.indexOf("\0", i + 1)) count++;
  return count;
}
