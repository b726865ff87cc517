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

/** The connection of one transaction (`sql.begin`, {@linkcode transaction}). */
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

/** Longest wait before a lost connection is opened again, in seconds. */
const MAX_RECONNECT_DELAY_S = 0.5;

/**
 * A pool of connections to the database at `url` (`postgres://user:password@host:port/name`);
 * connections open when the first query needs them, named `prunner` to the server. Server
 * notices are not printed. After failed connects the next waits twice as long, at most
 * {@linkcode MAX_RECONNECT_DELAY_S} (the driver's own backoff grows to 20 s after a few failures
 * of any connection of the pool, and holds queries meanwhile): prunner answers again, and a
 * cluster node's heartbeats go through, within half a second of the database's return.
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
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, MAX_RECONNECT_DELAY_S),
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

/** Codes postgres.js and the socket give the errors of a connection that is gone. */
const CONNECTION_GONE = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
  "CONNECT_TIMEOUT",
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTCONN",
]);

/**
 * Whether `error` says that the connection is gone (rather than what the server answered):
 * one of the driver's or the socket's connection errors, or a server error that ends the
 * session (`FATAL`, `PANIC`).
 *
 * @example
 * ```ts
 * connectionLost(Object.assign(new Error("write CONNECTION_CLOSED"), { code: "CONNECTION_CLOSED" })); // true
 * ```
 */
export function connectionLost(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code, severity } = error as { code?: unknown; severity?: unknown };
  return (typeof code === "string" && CONNECTION_GONE.has(code)) ||
    severity === "FATAL" || severity === "PANIC";
}

/**
 * Runs `body` in a transaction, as `sql.begin` does, guarded against a fault of postgres.js
 * 3.4: a query given to a transaction whose connection has closed is written to the socket the
 * driver has dropped, from a `setImmediate` callback, where the error escapes every `catch` and
 * ends the process (porsager/postgres#1066, #1154, #1208). The driver does that itself with the
 * `ROLLBACK` of a body that failed because the server went away, and with any query a body
 * sends after waiting for something else (a file) while the connection closed. So once the
 * connection is lost, nothing more reaches it: the body's queries and the body never settle
 * (nothing refers to them then, so they are collected), and the transaction rejects at once
 * with the connection's error. The server rolls back what it had of the transaction.
 *
 * @example
 * ```ts
 * const [{ one }] = await transaction(sql, (tx) => tx<{ one: number }[]>`SELECT 1 AS one`);
 * ```
 */
export function transaction<T>(sql: Sql, body: (tx: TransactionSql) => Promise<T>): Promise<T> {
  let lost = false;
  const gone = Promise.withResolvers<never>();
  const lose = (error: unknown) => {
    if (lost) return;
    lost = true;
    gone.reject(error);
  };
  const never = () => new Promise<never>(() => {});
  const guard = <R>(query: PromiseLike<R>): Promise<R> =>
    lost ? never() : Promise.resolve(query).then(undefined, (error) => {
      if (!connectionLost(error)) throw error;
      lose(error);
      return never();
    });
  const begun = sql.begin(async (tx) => {
    const guarded = new Proxy(tx, {
      apply(target, self, args) {
        const result = Reflect.apply(target, self, args);
        // A tagged template is a query; other calls build parts of one (`tx(rows, columns)`).
        return Array.isArray(args[0]?.raw) ? guard(result) : result;
      },
      get(target, key) {
        if (key !== "unsafe") return Reflect.get(target, key);
        return (...args: Parameters<TransactionSql["unsafe"]>) => guard(target.unsafe(...args));
      },
    });
    const result = await body(guarded).catch((error) => {
      if (lost) return never();
      throw error;
    });
    // The connection may have closed while the body waited for something else: no COMMIT then.
    return lost ? never() : result;
  }) as Promise<T>;
  // The driver rejects a transaction whose connection closes, even while its body waits.
  begun.catch(lose);
  return Promise.race([begun, gone.promise]);
}
