/**
 * The tables of the PostgreSQL store and their migrations. `prunner_schema` holds one row per
 * applied migration; opening a database applies the missing ones in one transaction that first
 * takes a transaction-scoped advisory lock ({@linkcode SCHEMA_LOCK}), so that nodes starting at
 * the same time apply each migration once, one after the other. A database with a migration
 * this prunner does not know (a newer prunner's) is refused.
 *
 * Ids compare byte by byte (`COLLATE "C"`), as in the Deno KV store. PostgreSQL's text cannot
 * hold a NUL character, which pipeline and task names may: a pipeline name is kept as its UTF-8
 * bytes, and a log's task, stream and attempt as their JSON (`log`).
 *
 * | Table                | Rows                                                               |
 * | -------------------- | ------------------------------------------------------------------ |
 * | `prunner_schema`     | the applied migrations' versions                                   |
 * | `prunner_jobs`       | one per job: its JSON without variables (`state`), its variables   |
 * |                      | (written once), the columns listings and retention sort and filter |
 * |                      | by, its listing bytes with their encoder version, and the digest   |
 * |                      | of its user's idempotency key (`idempotency`), if any              |
 * | `prunner_health`     | the time of the last write check                                   |
 * | `prunner_log_chunks` | task output: bytes of one job's task, stream and attempt (`log`),  |
 * |                      | from byte `start` on                                               |
 * | `prunner_trigger_ticks` | the newest planned time of each trigger (`schedule` in          |
 * |                      | pipelines.yml) that started a stored job or was refused; raised    |
 * |                      | with `GREATEST` in the transaction that stores the job             |
 *
 * @module
 */
import type { Sql } from "./sql.ts";
import { StoreFormatError } from "../errors.ts";

/**
 * Key of the advisory lock held while migrating (`pg_advisory_xact_lock`): the first eight bytes
 * of the SHA-256 of `prunner schema` as a signed 64-bit number, so it is unlikely to meet another
 * application's.
 */
export const SCHEMA_LOCK: bigint = BigInt.asIntN(64, 0x93444a6cb9f76471n);

/**
 * Key of the session advisory lock a prunner holds while it has a database to itself (see
 * `exclusive` in `open.ts`): the first eight bytes of the SHA-256 of `prunner node`, signed.
 */
export const NODE_LOCK: bigint = BigInt.asIntN(64, 0x12fcb5d5a06b857en);

/** The migrations in order; version `i + 1` is `MIGRATIONS[i]`. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE prunner_jobs (
    id text COLLATE "C" PRIMARY KEY,
    pipeline bytea NOT NULL,
    created bigint NOT NULL,
    completed boolean NOT NULL,
    "end" bigint,
    state text NOT NULL,
    variables text,
    listing text,
    listing_version text,
    idempotency text COLLATE "C"
  );
  CREATE INDEX prunner_jobs_newest ON prunner_jobs (created DESC, id DESC);
  CREATE INDEX prunner_jobs_pipeline ON prunner_jobs (pipeline, created DESC, id DESC)
    INCLUDE (completed, "end");
  CREATE INDEX prunner_jobs_unfinished ON prunner_jobs (created, id) WHERE NOT completed;
  CREATE INDEX prunner_jobs_idempotency ON prunner_jobs (idempotency, created DESC)
    WHERE idempotency IS NOT NULL;
  CREATE TABLE prunner_health (id integer PRIMARY KEY, checked bigint NOT NULL);
  CREATE TABLE prunner_log_chunks (
    job_id text COLLATE "C" NOT NULL,
    log text COLLATE "C" NOT NULL,
    start bigint NOT NULL,
    bytes bytea NOT NULL,
    PRIMARY KEY (job_id, log, start)
  );`,
  `CREATE TABLE prunner_trigger_ticks (
    pipeline bytea NOT NULL,
    trigger bytea NOT NULL,
    planned bigint NOT NULL,
    PRIMARY KEY (pipeline, trigger)
  );`,
];

/** The schema version this prunner writes: the number of its migrations. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Applies the migrations the database lacks (see the module documentation); resolves with the
 * versions it applied.
 *
 * @throws {StoreFormatError} when the database has a newer schema.
 * @example
 * ```ts
 * await migrate(sql);
 * ```
 */
export async function migrate(sql: Sql): Promise<number[]> {
  return await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK.toString()}::bigint)`;
    await tx`CREATE TABLE IF NOT EXISTS prunner_schema (
      version integer PRIMARY KEY,
      applied timestamptz NOT NULL DEFAULT now()
    )`;
    const [{ version }] = await tx<{ version: number | null }[]>`
      SELECT max(version) AS version FROM prunner_schema`;
    const current = version ?? 0;
    if (current > SCHEMA_VERSION) throw new StoreFormatError(current, SCHEMA_VERSION);
    const applied: number[] = [];
    for (let next = current + 1; next <= SCHEMA_VERSION; next++) {
      await tx.unsafe(MIGRATIONS[next - 1]);
      await tx`INSERT INTO prunner_schema (version) VALUES (${next})`;
      applied.push(next);
    }
    return applied;
  });
}
