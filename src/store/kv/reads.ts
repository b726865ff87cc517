/**
 * Reading jobs from a Deno KV job store: one job, all of them, a page, a pipeline's, the
 * unfinished ones. `list()` is one range scan over `["jobs"]` in reverse (newest first);
 * `listUnfinished()` scans only the unfinished index, so startup cost does not grow with the
 * number of finished jobs. `page()` reads one page: a reverse scan of `["jobs"]` (or of
 * `["by_pipeline", pipeline]`) that ends before the cursor's key and stops after the page, so its
 * cost does not grow with the store. A damaged record is skipped and reported, so that one bad
 * record never hides the others; `get` says what is wrong with it.
 *
 * @module
 */
import type { Job } from "../../engine/job.ts";
import type { JobStore } from "../types.ts";
import { StoreReadError } from "../errors.ts";
import { KV_LIMITS } from "./commits.ts";
import { fitsKey, readJob, type RecordShape } from "./records.ts";

/** The reads of a job store, and {@linkcode JobReads.at} for listings. */
export interface JobReads extends
  Pick<
    JobStore,
    | "get"
    | "list"
    | "page"
    | "listByPipeline"
    | "summariesByPipeline"
    | "pipelinesWithJobs"
    | "listUnfinished"
  > {
  /** The job created at `created` with id `id`; `null` when missing or damaged (reported). */
  at(created: number, id: string): Promise<Job | null>;
}

/** What {@linkcode createJobReads} reports to. */
export interface JobReadsOptions {
  /** Called for each damaged record a listing skips. */
  onDamaged: (error: StoreReadError) => void;
  /** Called with each job read and the shape of its record. */
  remember: (job: Job, shape: RecordShape) => void;
}

const LIST_BATCH = 500;

/**
 * The reads of the job store in `kv`.
 *
 * @example
 * ```ts
 * const reads = createJobReads(kv, { onDamaged: console.warn, remember: () => {} });
 * const { jobs, next } = await reads.page({ limit: 20, before: null, pipeline: null });
 * ```
 */
export function createJobReads(kv: Deno.Kv, { onDamaged, remember }: JobReadsOptions): JobReads {
  /** Decodes a head entry, remembering the shape of its record. */
  async function read(head: Deno.KvEntry<unknown>): Promise<Job> {
    const { job, shape } = await readJob(kv, head);
    remember(job, shape);
    return job;
  }

  /** Reads a job for a listing; `null` for a damaged record, reported to `onDamaged`. */
  async function readOrSkip(head: Deno.KvEntry<unknown>): Promise<Job | null> {
    try {
      return await read(head);
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

  async function* indexKeys(prefix: Deno.KvKey, reverse: boolean): AsyncGenerator<Deno.KvKey> {
    const at = prefix.length;
    for await (const entry of kv.list({ prefix }, { reverse, batchSize: LIST_BATCH })) {
      yield ["jobs", entry.key[at], entry.key[at + 1]];
    }
  }

  return {
    async get(id) {
      if (!fitsKey(["job_ids", id])) return null;
      const ref = await kv.get<[number, string]>(["job_ids", id]);
      if (ref.value === null) return null;
      const head = await kv.get(["jobs", ref.value[0], id]);
      return head.versionstamp === null ? null : read(head);
    },

    async at(created, id) {
      const head = await kv.get(["jobs", created, id]);
      return head.versionstamp === null ? null : await readOrSkip(head);
    },

    async *list() {
      const entries = kv.list({ prefix: ["jobs"] }, { reverse: true, batchSize: LIST_BATCH });
      for await (const entry of entries) {
        const job = await readOrSkip(entry);
        if (job !== null) yield job;
      }
    },

    async page({ limit, before, pipeline }) {
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

    async *listByPipeline(pipeline) {
      yield* readHeads(indexKeys(["by_pipeline", pipeline], true));
    },

    async *summariesByPipeline(pipeline) {
      const entries = kv.list<[boolean, number | null]>(
        { prefix: ["by_pipeline", pipeline] },
        { reverse: true, batchSize: LIST_BATCH },
      );
      for await (const { key, value: [completed, end] } of entries) {
        yield { id: key[3] as string, created: key[2] as number, completed, end };
      }
    },

    async pipelinesWithJobs() {
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
      const jobs: Job[] = [];
      for await (const job of readHeads(indexKeys(["unfinished"], false))) {
        if (!job.completed) jobs.push(job);
      }
      return jobs;
    },
  };
}

async function* fromArray<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}
