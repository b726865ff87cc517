/**
 * The job store on PostgreSQL: one row per job in `prunner_jobs` (see `schema.ts`). Listings and
 * pages are answered by SQL over the indexes on `(created, id)` and `(pipeline, created, id)`,
 * read in keyset batches (each batch one query, no connection held between batches), so no
 * listing cache or pack is needed: `packListing()` has nothing to do.
 *
 * A job's variables never change after scheduling: they are written when its row is inserted
 * and left alone by later saves, which rewrite only its state. Each row also keeps the job's
 * listing bytes (up to {@linkcode LISTING_BYTES}) with the version of the encoder that built
 * them; `listJson()` builds the bytes of a row without them, or with another version's, from the
 * row. They are kept as text (the encoders' JSON is UTF-8): the driver reads text several times
 * faster than `bytea`, which it parses from hex (20,000 listings: 0.3 s against 0.7–1.3 s).
 * Bytes that are not UTF-8, or hold a NUL, are not kept and are built when listed.
 *
 * A job scheduled with an idempotency key keeps the digest of its user and key in an indexed
 * column, written with its first save (and not when the key has already expired), so that
 * `findIdempotent` finds it as soon as it is stored. The key's expiry is checked when read.
 *
 * Writes: the saves of the same moment (see `write_queue.ts`) are written in one transaction,
 * as multi-row upserts of up to {@linkcode WRITE_BATCH} jobs; transactions run one after the
 * other, in the order of the calls.
 *
 * @module
 */
import { holdsKey, idempotencyDigest } from "../../engine/idempotency.ts";
import { type Job, type JobVariables, triggerId } from "../../engine/job.ts";
import type {
  JobCursor,
  JobStore,
  JobSummary,
  ListedJob,
  ListingEncoder,
  TriggerTick,
} from "../types.ts";
import { errorMessage } from "../../errors.ts";
import { StoreReadError, StoreWriteError } from "../errors.ts";
import { listingOrReport } from "../listing.ts";
import { createWriteQueue, type Waiting } from "../kv/write_queue.ts";
import { type Sql, transaction, type TransactionSql } from "./sql.ts";

/** Listing bytes up to this size are stored with the job; bigger ones are built when listed. */
export const LISTING_BYTES = 16 * 1024;

const utf8 = new TextEncoder();
const decoder = new TextDecoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Rows written per statement (each row is 13 parameters; a statement takes 65,535). */
export const WRITE_BATCH = 1000;
/** The columns of a row, in the order they are written. */
const COLUMNS = [
  "id",
  "pipeline",
  "created",
  "completed",
  "end",
  "state",
  "variables",
  "listing",
  "listing_version",
  "idempotency",
  "started",
  "queue_partition",
  "node",
] as const;

/** Rows read per query by the listings. */
const LIST_BATCH = 500;
/** Jobs per batch of `listJson()`. */
const LISTING_BATCH = 1000;

/** Settings of {@linkcode createPgJobStore}. */
export interface PgJobStoreOptions {
  /** How listings show a job: its bytes are stored with the job and streamed by `listJson()`. */
  listing: ListingEncoder;
  /** Called for each damaged row that a listing skips (e.g. to log it). */
  onDamaged?: (error: StoreReadError) => void;
  /** The clock, in epoch ms (default `Date.now`): the time `check()` writes, key expiry. */
  now?: () => number;
  /** The database in messages of failed writes (without its password). */
  database?: string;
  /**
   * In a cluster: this node's name. Each write then notifies the other nodes of the jobs it
   * changed (see {@linkcode JOBS_CHANNEL}).
   */
  origin?: string;
}

/**
 * The channel on which a write tells the cluster which jobs it changed, delivered once it is
 * committed: `{"o": node, "ids": [...]}` (JSON, at most {@linkcode NOTIFY_IDS} ids each).
 */
export const JOBS_CHANNEL = "prunner_jobs";
/** Ids per notification: a payload stays far below PostgreSQL's 8000 bytes. */
const NOTIFY_IDS = 100;

/** A job's row as written. */
export interface Row {
  id: string;
  pipeline: Uint8Array;
  created: number;
  completed: boolean;
  end: number | null;
  state: string;
  variables: string | null;
  listing: string | null;
  listing_version: string;
  /** See `idempotencyDigest`; `null` without a key, or with one expired when first saved. */
  idempotency: string | null;
  started: boolean;
  queue_partition: Uint8Array | null;
  node: string | null;
}

/** A row as read: `state` and `variables` are absent when not selected. */
export interface ReadRow {
  id: string;
  created: number;
  state?: string | null;
  variables?: string | null;
}

/**
 * The job store on the database of `sql`, whose schema is up to date (see `migrate`). Closing
 * the store does not end `sql`.
 *
 * @example
 * ```ts
 * await migrate(sql);
 * const store = createPgJobStore(sql, { listing: jobListingEncoder });
 * await store.save(job);
 * await store.close();
 * ```
 */
export function createPgJobStore(sql: Sql, options: PgJobStoreOptions): JobStore {
  const { listing } = options;
  const onDamaged = options.onDamaged ?? (() => {});
  const now = options.now ?? Date.now;
  const database = options.database ?? null;
  const origin = options.origin ?? null;
  let closed = false;
  const queue = createWriteQueue<Job>(writeBatch);

  async function writeBatch(batch: Waiting<Job>[]): Promise<void> {
    const rows: { row: Row; entry: Waiting<Job> }[] = [];
    for (const entry of batch) {
      try {
        rows.push({ row: toRow(entry.value, listing, now()), entry });
      } catch (error) {
        entry.reject(new StoreWriteError(entry.value.id, failure(error)));
      }
    }
    if (rows.length === 0) return;
    try {
      await transaction(
        sql,
        (tx) => writeRows(tx, rows.map(({ entry, row }) => ({ job: entry.value, row })), origin),
      );
    } catch (error) {
      for (const { entry } of rows) {
        entry.reject(new StoreWriteError(entry.value.id, failure(error)));
      }
      return;
    }
    for (const { entry } of rows) entry.resolve();
  }

  /** Why a write failed, naming the database (the messages' data directory does not apply). */
  function failure(error: unknown): string {
    const reason = errorMessage(error);
    return database === null ? reason : `${reason} (PostgreSQL database ${database})`;
  }

  /** Decodes a row; reports and skips (`null`) a damaged one when `skip` is set. */
  function decode(row: ReadRow, skip: boolean): Job | null {
    try {
      return fromRow(row);
    } catch (error) {
      if (!skip || !(error instanceof StoreReadError)) throw error;
      onDamaged(error);
      return null;
    }
  }

  /** Rows newest first (or oldest first with `oldest`), in keyset batches. */
  async function* rows(
    columns: "full" | "listing",
    filter: { pipeline?: string; unfinished?: boolean },
    oldest = false,
  ): AsyncGenerator<ReadRow & Record<string, unknown>> {
    let after: JobCursor | null = null;
    while (true) {
      // A listing reads the stored bytes, and the job only where they are missing or stale.
      const select = columns === "full"
        ? sql`id, created, state, variables FROM prunner_jobs`
        : sql`id, created, listing, listed, CASE WHEN listed THEN NULL ELSE state END AS state,
            CASE WHEN listed THEN NULL ELSE variables END AS variables
            FROM (SELECT *, listing IS NOT NULL AND listing_version = ${listing.version} AS listed
              FROM prunner_jobs) AS jobs`;
      const pipeline = filter.pipeline === undefined
        ? sql``
        : sql`AND pipeline = ${utf8.encode(filter.pipeline)}`;
      const unfinished = filter.unfinished ? sql`AND NOT completed` : sql``;
      const past = after === null
        ? sql``
        : oldest
        ? sql`AND (created, id) > (${after.created}, ${after.id})`
        : sql`AND (created, id) < (${after.created}, ${after.id})`;
      const order = oldest ? sql`created, id` : sql`created DESC, id DESC`;
      const batch: (ReadRow & Record<string, unknown>)[] = await sql`
        SELECT ${select} WHERE true ${pipeline} ${unfinished} ${past}
        ORDER BY ${order} LIMIT ${LIST_BATCH}`;
      yield* batch;
      if (batch.length < LIST_BATCH) return;
      const last = batch[batch.length - 1];
      after = { created: last.created, id: last.id };
    }
  }

  async function* jobs(filter: { pipeline?: string }): AsyncGenerator<Job> {
    for await (const row of rows("full", filter)) {
      const job = decode(row, true);
      if (job !== null) yield job;
    }
  }

  function ensureOpen(): void {
    if (closed) throw new Error("the job store is closed");
  }

  return {
    save(job) {
      if (closed) {
        return Promise.reject(new StoreWriteError(job.id, failure("the job store is closed")));
      }
      return queue.add(job.id, job);
    },

    async get(id) {
      ensureOpen();
      if (id.includes("\0")) return null;
      const [row] = await sql<ReadRow[]>`
        SELECT id, created, state, variables FROM prunner_jobs WHERE id = ${id}`;
      return row === undefined ? null : decode(row, false);
    },

    async triggerTicks() {
      ensureOpen();
      const rows = await sql<{ pipeline: Uint8Array; trigger: Uint8Array; planned: string }[]>`
        SELECT pipeline, trigger, planned FROM prunner_trigger_ticks`;
      return rows.map((row) => ({
        pipeline: decoder.decode(row.pipeline),
        trigger: decoder.decode(row.trigger),
        planned: Number(row.planned),
      }));
    },

    async saveTick(tick) {
      ensureOpen();
      await queue.run(() => raiseTick(sql, tick));
    },

    async findIdempotent(user, key) {
      ensureOpen();
      // A key expires: a newer job may hold it since, or none.
      const found = await sql<ReadRow[]>`
        SELECT id, created, state, variables FROM prunner_jobs
        WHERE idempotency = ${idempotencyDigest(user, key)}
        ORDER BY created DESC, id DESC`;
      for (const row of found) {
        const job = decode(row, true);
        if (job !== null && holdsKey(job, user, key, now())) return job;
      }
      return null;
    },

    async *list() {
      ensureOpen();
      yield* jobs({});
    },

    async page({ limit, before, pipeline }) {
      ensureOpen();
      if (!Number.isInteger(limit) || limit < 1) {
        throw new RangeError(`a page holds at least 1 job, not ${limit}`);
      }
      const found = await sql<ReadRow[]>`
        SELECT id, created, state, variables FROM prunner_jobs
        WHERE true
          ${pipeline === null ? sql`` : sql`AND pipeline = ${utf8.encode(pipeline)}`}
          ${before === null ? sql`` : olderThan(before)}
        ORDER BY created DESC, id DESC
        LIMIT ${limit + 1}`;
      const more = found.length > limit;
      const shown = found.slice(0, limit);
      const jobs: Job[] = [];
      for (const row of shown) {
        const job = decode(row, true);
        if (job !== null) jobs.push(job);
      }
      const last = shown.at(-1);
      return { jobs, next: more && last ? { created: last.created, id: last.id } : null };
    },

    async *listJson() {
      ensureOpen();
      let batch: ListedJob[] = [];
      for await (const row of rows("listing", {})) {
        if (row.listed) {
          batch.push({ id: row.id, json: utf8.encode(row.listing as string) });
        } else {
          const json = buildListing(row);
          if (json !== null) batch.push({ id: row.id, json });
        }
        if (batch.length === LISTING_BATCH) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
    },

    async *listByPipeline(pipeline) {
      ensureOpen();
      yield* jobs({ pipeline });
    },

    async *summariesByPipeline(pipeline) {
      ensureOpen();
      let after: JobCursor | null = null;
      while (true) {
        const batch: JobSummary[] = await sql<JobSummary[]>`
          SELECT id, created, completed, "end" FROM prunner_jobs
          WHERE pipeline = ${utf8.encode(pipeline)}
            ${after === null ? sql`` : sql`AND (created, id) < (${after.created}, ${after.id})`}
          ORDER BY created DESC, id DESC
          LIMIT ${LIST_BATCH}`;
        for (const { id, created, completed, end } of batch) yield { id, created, completed, end };
        if (batch.length < LIST_BATCH) return;
        const last = batch[batch.length - 1];
        after = { created: last.created, id: last.id };
      }
    },

    async pipelinesWithJobs() {
      ensureOpen();
      // A skip scan over the pipeline index: one index probe per pipeline, not per job.
      const found = await sql<{ pipeline: Uint8Array }[]>`
        WITH RECURSIVE names (pipeline) AS (
          (SELECT pipeline FROM prunner_jobs ORDER BY pipeline LIMIT 1)
          UNION ALL
          SELECT (SELECT pipeline FROM prunner_jobs WHERE pipeline > names.pipeline
                  ORDER BY pipeline LIMIT 1)
          FROM names WHERE names.pipeline IS NOT NULL
        )
        SELECT pipeline FROM names WHERE pipeline IS NOT NULL`;
      return found.map((row) => decoder.decode(row.pipeline));
    },

    async listUnfinished() {
      ensureOpen();
      const unfinished: Job[] = [];
      for await (const row of rows("full", { unfinished: true }, true)) {
        const job = decode(row, true);
        if (job !== null && !job.completed) unfinished.push(job);
      }
      return unfinished;
    },

    async delete(ids) {
      ensureOpen();
      if (queue.waiting) queue.flush();
      await queue.run(async () => {
        const stored = ids.filter((id) => !id.includes("\0"));
        if (stored.length === 0) return;
        await sql`DELETE FROM prunner_jobs WHERE id = ANY(${sql.array(stored)})`;
      });
    },

    packListing() {
      ensureOpen();
      return Promise.resolve(0);
    },

    flush() {
      return queue.flush();
    },

    async check() {
      ensureOpen();
      await sql`
        INSERT INTO prunner_health (id, checked) VALUES (1, ${now()})
        ON CONFLICT (id) DO UPDATE SET checked = excluded.checked`;
    },

    async close() {
      if (closed) return;
      closed = true;
      await queue.flush();
    },
  };

  /**
   * The condition of the jobs before `cursor`. No stored id holds a NUL (text cannot), and NUL
   * sorts before every other character: the ids before `a\0…` are those up to `a`.
   */
  function olderThan({ created, id }: JobCursor) {
    const cut = id.indexOf("\0");
    return cut < 0
      ? sql`AND (created, id) < (${created}, ${id})`
      : sql`AND (created, id) <= (${created}, ${id.slice(0, cut)})`;
  }

  /** The listing bytes of a row built from its job; `null` (reported) when it cannot be. */
  function buildListing(row: ReadRow): Uint8Array | null {
    const job = decode(row, true);
    if (job === null) return null;
    return listingOrReport(listing, job, onDamaged);
  }
}

/** A job and the row that stores it. */
export interface JobRow {
  readonly job: Job;
  readonly row: Row;
}

/**
 * Writes `rows` in the transaction `tx`: upserts (a job's variables are kept from its first
 * write), the ticks of triggered jobs (so a restart never runs a tick twice) and, with `origin`,
 * the notification of the changed jobs on {@linkcode JOBS_CHANNEL}.
 *
 * @example
 * ```ts
 * await transaction(sql, (tx) => writeRows(tx, [{ job, row: toRow(job, listing, Date.now()) }], null));
 * ```
 */
export async function writeRows(
  tx: TransactionSql,
  rows: readonly JobRow[],
  origin: string | null,
): Promise<void> {
  const notices: string[] = [];
  for (let i = 0; origin !== null && i < rows.length; i += NOTIFY_IDS) {
    const ids = rows.slice(i, i + NOTIFY_IDS).map(({ job }) => job.id);
    notices.push(JSON.stringify({ o: origin, ids }));
  }
  for (let i = 0; i < rows.length; i += WRITE_BATCH) {
    const values = rows.slice(i, i + WRITE_BATCH).map(({ row }) => row);
    // The first notification goes with the rows: one statement fewer for most writes.
    const notice = i === 0 ? notices.shift() ?? null : null;
    await tx`
      WITH written AS (
        INSERT INTO prunner_jobs ${tx(values, [...COLUMNS])}
        ON CONFLICT (id) DO UPDATE SET completed = excluded.completed, "end" = excluded."end",
          state = excluded.state, listing = excluded.listing,
          listing_version = excluded.listing_version, started = excluded.started,
          node = excluded.node
      )
      SELECT pg_notify(${JOBS_CHANNEL}, ${notice}) WHERE ${notice}::text IS NOT NULL`;
  }
  for (const { job } of rows) {
    if (job.trigger === undefined) continue;
    await raiseTick(tx, {
      pipeline: job.pipeline,
      trigger: triggerId(job.trigger),
      planned: job.trigger.planned,
    });
  }
  for (const payload of notices) await tx`SELECT pg_notify(${JOBS_CHANNEL}, ${payload})`;
}

/**
 * Raises the stored tick of `tick`'s trigger to its planned time, keeping a newer one.
 *
 * @example
 * ```ts
 * await raiseTick(sql, { pipeline: "backup", trigger: "@daily UTC", planned: Date.now() });
 * ```
 */
export async function raiseTick(tx: Sql | TransactionSql, tick: TriggerTick): Promise<void> {
  await tx`
    INSERT INTO prunner_trigger_ticks (pipeline, trigger, planned)
    VALUES (${utf8.encode(tick.pipeline)}, ${utf8.encode(tick.trigger)}, ${tick.planned})
    ON CONFLICT (pipeline, trigger)
    DO UPDATE SET planned = GREATEST(prunner_trigger_ticks.planned, excluded.planned)`;
}

/**
 * The row that stores `job`.
 *
 * @throws {Error} when its id holds a NUL character.
 * @example
 * ```ts
 * const row = toRow(job, jobListingEncoder, Date.now());
 * ```
 */
export function toRow(job: Job, listing: ListingEncoder, now: number): Row {
  if (job.id.includes("\0")) {
    throw new Error("its id holds a NUL character, which PostgreSQL text cannot hold");
  }
  const { variables, ...state } = job;
  let listed: string | null = null;
  try {
    const bytes = listing.encode(job);
    if (bytes.length <= LISTING_BYTES) listed = strictUtf8.decode(bytes);
    if (listed?.includes("\0")) listed = null;
  } catch {
    // Built when listed, which reports what is wrong with the job.
  }
  return {
    id: job.id,
    pipeline: utf8.encode(job.pipeline),
    created: job.created,
    completed: job.completed,
    end: job.end,
    state: JSON.stringify(state),
    variables: variables === null ? null : JSON.stringify(variables),
    listing: listed,
    listing_version: listing.version,
    idempotency: job.idempotency && job.idempotency.expires > now
      ? idempotencyDigest(job.user, job.idempotency.key)
      : null,
    started: job.start !== null,
    queue_partition: job.queuePartition === null ? null : utf8.encode(job.queuePartition),
    node: job.node ?? null,
  };
}

/**
 * The job of a row.
 *
 * @throws {StoreReadError} when its state or variables are not valid JSON.
 * @example
 * ```ts
 * const [row] = await sql<ReadRow[]>`SELECT id, created, state, variables FROM prunner_jobs`;
 * const job = fromRow(row);
 * ```
 */
export function fromRow(row: ReadRow): Job {
  const state = parseJson<Omit<Job, "variables">>(row.id, "state", row.state ?? "");
  const variables = row.variables == null
    ? null
    : parseJson<JobVariables>(row.id, "variables", row.variables);
  return { ...state, variables } as Job;
}

function parseJson<T>(id: string, what: string, text: string): T {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new StoreReadError(id, `its ${what} is not valid JSON (${(error as Error).message})`);
  }
}
