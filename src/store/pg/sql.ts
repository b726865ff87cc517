/**
 * The connection pool of the PostgreSQL store ([postgres.js](https://github.com/porsager/postgres)).
 * Times are `bigint` columns holding epoch milliseconds; they are read as JavaScript numbers,
 * which hold them exactly.
 *
 * @module
 */
import postgres from "postgres";

/** A connection pool, as the store's modules use it. */
export type Sql = postgres.Sql<Record<string, unknown>>;

/** The connection of one transaction (`sql.begin`). */
export type TransactionSql = postgres.TransactionSql<Record<string, unknown>>;

/** Settings of {@linkcode connect}. */
export interface ConnectOptions {
  /** Most connections the pool opens (default 10). */
  max?: number;
  /**
   * Keep each connection for good, instead of the driver's replacing it after 30 to 60 minutes
   * (its `max_lifetime`): for a connection that holds a session lock.
   */
  keep?: boolean;
}

/**
 * A pool of connections to the database at `url` (`postgres://user:password@host:port/name`);
 * connections open when the first query needs them, named `prunner` to the server. Server
 * notices are not printed.
 *
 * @example
 * ```ts
 * const sql = connect("postgres://prunner@localhost/prunner");
 * await sql`SELECT 1`;
 * await sql.end();
 * ```
 */
export function connect(url: string, options: ConnectOptions = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    ...(options.keep ? { max_lifetime: null } : {}),
    connection: { application_name: "prunner" },
    onnotice: () => {},
    types: {
      epoch: {
        to: 20,
        from: [20],
        serialize: (value: number) => String(value),
        parse: (value: string) => Number(value),
      },
    },
  }) as unknown as Sql;
}
