/**
 * Opening the PostgreSQL store: one connection pool for the job store and the log store, the
 * schema brought up to date first (see `schema.ts`).
 *
 * @module
 */
import { DatabaseOpenError } from "../errors.ts";
import type { ClusterStore } from "../cluster.ts";
import type { JobStore } from "../types.ts";
import { createPgClusterStore } from "./cluster.ts";
import { createPgJobStore, type PgJobStoreOptions } from "./job_store.ts";
import { createPgLogStore, type PgLogStore, type PgLogStoreOptions } from "./log_store.ts";
import { migrate } from "./schema.ts";
import { connect, type Sql } from "./sql.ts";
import { redactUrl } from "./url.ts";

/** Seconds the connections get to end once the stores are closed; then they are cut. */
const END_TIMEOUT_S = 5;

/** Settings of {@linkcode openPgStore}. */
export interface PgStoreOptions extends Omit<PgJobStoreOptions, "database">, PgLogStoreOptions {
  /** Where this node spools task output before it is shipped (see `log_store.ts`). */
  spoolDir: string;
  /**
   * This node's name in a cluster on the database: the store then also offers the cluster's
   * shared state (`cluster`), and its writes notify the other nodes.
   */
  node?: string;
}

/** An opened PostgreSQL store. */
export interface PgStore {
  readonly store: JobStore;
  readonly logs: PgLogStore;
  /** With `node`: what the nodes of the cluster share; else `null`. */
  readonly cluster: ClusterStore | null;
  /** The connection pool, for what the stores do not cover. */
  readonly sql: Sql;
  /** Writes the job store's check record. */
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
  try {
    await migrate(sql);
  } catch (error) {
    await sql.end({ timeout: 0 }).catch(() => {});
    throw new DatabaseOpenError(database, error);
  }
  const store = createPgJobStore(sql, { ...options, database, origin: options.node });
  const cluster = options.node === undefined ? null : createPgClusterStore(sql, {
    node: options.node,
    listing: options.listing,
    now: options.now,
    database,
  });
  const logs = createPgLogStore(sql, options.spoolDir, options);
  let closing: Promise<void> | null = null;
  return {
    store,
    logs,
    cluster,
    sql,
    check: () => store.check(),
    close() {
      // Bounded: after a database outage the driver may never end a connection that it was
      // connecting again, and nothing of the stores uses the connections any more.
      const end = { timeout: END_TIMEOUT_S };
      closing ??= Promise.all([logs.stop(), store.close()])
        .finally(() => sql.end(end)).then(() => {});
      return closing;
    },
  };
}
