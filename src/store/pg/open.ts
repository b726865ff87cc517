/**
 * Opening the PostgreSQL store: one connection pool for the job store and the log store, the
 * schema brought up to date first (see `schema.ts`).
 *
 * @module
 */
import { DatabaseOpenError } from "../errors.ts";
import type { JobStore } from "../types.ts";
import { createPgJobStore, type PgJobStoreOptions } from "./job_store.ts";
import { createPgLogStore, type PgLogStore } from "./log_store.ts";
import { migrate } from "./schema.ts";
import { connect, redactUrl, type Sql } from "./sql.ts";

/** Settings of {@linkcode openPgStore}. */
export interface PgStoreOptions extends Omit<PgJobStoreOptions, "database"> {
  /** Where this node spools task output before it is shipped (see `log_store.ts`). */
  spoolDir: string;
  /** Most connections of the pool (default 10). */
  maxConnections?: number;
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
  const sql = connect(url, { max: options.maxConnections });
  try {
    await migrate(sql);
  } catch (error) {
    await sql.end({ timeout: 0 }).catch(() => {});
    throw new DatabaseOpenError(database, error);
  }
  const store = createPgJobStore(sql, { ...options, database });
  let closing: Promise<void> | null = null;
  return {
    store,
    logs: createPgLogStore(sql, options.spoolDir),
    sql,
    close() {
      closing ??= store.close().finally(() => sql.end());
      return closing;
    },
  };
}
