/**
 * Opening the PostgreSQL store: one connection pool for the job store and the log store, the
 * schema brought up to date first (see `schema.ts`).
 *
 * @module
 */
import { DatabaseInUseError, DatabaseOpenError } from "../errors.ts";
import type { JobStore } from "../types.ts";
import { createPgJobStore, type PgJobStoreOptions } from "./job_store.ts";
import { createPgLogStore, type PgLogStore } from "./log_store.ts";
import { migrate, NODE_LOCK } from "./schema.ts";
import { connect, type Sql } from "./sql.ts";
import { redactUrl } from "./url.ts";

/** Settings of {@linkcode openPgStore}. */
export interface PgStoreOptions extends Omit<PgJobStoreOptions, "database"> {
  /** Where this node spools task output before it is shipped (see `log_store.ts`). */
  spoolDir: string;
  /** Most connections of the pool (default 10). */
  maxConnections?: number;
  /**
   * Hold the database for this store alone: a session advisory lock ({@linkcode NODE_LOCK}) on
   * a connection kept for it, released when the store closes or the process ends.
   */
  exclusive?: boolean;
}

/** An opened PostgreSQL store. */
export interface PgStore {
  readonly store: JobStore;
  readonly logs: PgLogStore;
  /** The connection pool, for what the stores do not cover. */
  readonly sql: Sql;
  /** Flushes and closes the job store, then ends the pool's connections. */
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
    sql = connect(url, { max: options.maxConnections });
  } catch (error) {
    throw new DatabaseOpenError(database, error);
  }
  /** The connection that holds the node lock, given back when the store closes. */
  let held: { release(): void } | null = null;
  try {
    if (options.exclusive) {
      const connection = await sql.reserve();
      held = connection;
      const [{ locked }] = await connection<{ locked: boolean }[]>`
        SELECT pg_try_advisory_lock(${NODE_LOCK.toString()}::bigint) AS locked`;
      if (!locked) throw new DatabaseInUseError(database);
    }
    await migrate(sql);
  } catch (error) {
    await sql.end({ timeout: 0 }).catch(() => {});
    if (error instanceof DatabaseInUseError) throw error;
    throw new DatabaseOpenError(database, error);
  }
  const store = createPgJobStore(sql, { ...options, database });
  let closing: Promise<void> | null = null;
  return {
    store,
    logs: createPgLogStore(sql, options.spoolDir),
    sql,
    close() {
      closing ??= store.close().finally(() => {
        // The pool's end waits for reserved connections; ending it then releases the lock.
        held?.release();
        return sql.end();
      });
      return closing;
    },
  };
}
