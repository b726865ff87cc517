/**
 * Opening the PostgreSQL store: one connection pool for the job store and the log store, the
 * schema brought up to date first (see `schema.ts`).
 *
 * @module
 */
import { DatabaseInUseError, DatabaseOpenError } from "../errors.ts";
import type { JobStore } from "../types.ts";
import { createPgJobStore, type PgJobStoreOptions } from "./job_store.ts";
import { createPgLogStore, type PgLogStore, type PgLogStoreOptions } from "./log_store.ts";
import { migrate, NODE_LOCK } from "./schema.ts";
import { connect, type Sql } from "./sql.ts";
import { redactUrl } from "./url.ts";

/** Seconds the connections get to end once the stores are closed; then they are cut. */
const END_TIMEOUT_S = 5;

/** Settings of {@linkcode openPgStore}. */
export interface PgStoreOptions extends Omit<PgJobStoreOptions, "database">, PgLogStoreOptions {
  /** Where this node spools task output before it is shipped (see `log_store.ts`). */
  spoolDir: string;
  /**
   * Hold the database for this store alone: a session advisory lock ({@linkcode NODE_LOCK}) on
   * a connection kept for it, released when the store closes or the process ends; `check()`
   * makes sure it is still held.
   */
  exclusive?: boolean;
}

/** An opened PostgreSQL store. */
export interface PgStore {
  readonly store: JobStore;
  readonly logs: PgLogStore;
  /** The connection pool, for what the stores do not cover. */
  readonly sql: Sql;
  /**
   * Writes the job store's check record; with `exclusive`, also makes sure this store still
   * holds the database (taking the lock again if its connection was lost and nobody took it).
   *
   * @throws {DatabaseInUseError} when another store took the database meanwhile.
   */
  check(): Promise<void>;
  /**
   * Stops the log store's shippers, flushes and closes the job store, then ends the pool's
   * connections (cutting those that do not end within seconds).
   */
  close(): Promise<void>;
}

/**
 * Connects to the database at `url`, applies the migrations it lacks and returns the stores.
 *
 * @throws {DatabaseOpenError} when the database cannot be reached or its schema is newer than
 * this prunner's.
 * @throws {DatabaseInUseError} with `exclusive`, when another store holds the database.
 * @example
 * ```ts
 * const pg = await openPgStore("postgres://prunner@db/prunner", {
 *   listing: jobListingEncoder,
 *   spoolDir: ".prunner/logs",
 * });
 * await pg.store.save(job);
 * await pg.close();
 * ```
 */
export async function openPgStore(url: string, options: PgStoreOptions): Promise<PgStore> {
  const database = redactUrl(url);
  let sql: Sql;
  try {
    sql = connect(url);
  } catch (error) {
    throw new DatabaseOpenError(database, error);
  }
  // The node lock lives on a pool of one connection of its own that the driver keeps for good
  // (a reserved connection of the main pool would be replaced after its lifetime, losing the
  // lock, and the driver fails on a reserved connection whose server process ended).
  const node = options.exclusive ? connect(url, { max: 1, keep: true }) : null;
  const end = () =>
    Promise.all([sql.end({ timeout: 0 }), node?.end({ timeout: 0 })]).catch(() => {});
  try {
    if (node !== null && !(await holdNodeLock(node))) throw new DatabaseInUseError(database);
    await migrate(sql);
  } catch (error) {
    await end();
    if (error instanceof DatabaseInUseError) throw error;
    throw new DatabaseOpenError(database, error);
  }
  const store = createPgJobStore(sql, { ...options, database });
  const logs = createPgLogStore(sql, options.spoolDir, options);
  let closing: Promise<void> | null = null;
  return {
    store,
    logs,
    sql,
    async check() {
      await store.check();
      if (node !== null && !(await holdNodeLock(node))) {
        throw new DatabaseInUseError(database, true);
      }
    },
    close() {
      // Bounded: after a database outage the driver may never end a connection that it was
      // connecting again, and nothing of the stores uses the connections any more.
      const end = { timeout: END_TIMEOUT_S };
      closing ??= Promise.all([logs.stop(), store.close()])
        .finally(() => Promise.all([sql.end(end), node?.end(end)])).then(() => {});
      return closing;
    },
  };
}

/**
 * Whether the session of `node`'s connection holds {@linkcode NODE_LOCK}, taking it when free:
 * a new session (the connection was lost and opened again) takes it again. Session locks count
 * up, so it is only tried when not held.
 */
async function holdNodeLock(node: Sql): Promise<boolean> {
  const high = Number(BigInt.asUintN(64, NODE_LOCK) >> 32n);
  const low = Number(BigInt.asUintN(64, NODE_LOCK) & 0xffff_ffffn);
  const [{ held }] = await node<{ held: boolean }[]>`
    SELECT CASE WHEN EXISTS (
      SELECT 1 FROM pg_locks
      WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
        AND classid = ${high}::oid AND objid = ${low}::oid AND objsubid = 1
    ) THEN true ELSE pg_try_advisory_lock(${NODE_LOCK.toString()}::bigint) END AS held`;
  return held;
}
