/**
 * The data directory (`--data`): the job store `jobs.kv` (or, with `--database-url`, the job
 * store in PostgreSQL instead, see `openStorage`), task output under `logs/` and the lock file
 * `prunner.lock`.
 *
 * Only one prunner may use a directory at a time. The lock is an exclusive advisory lock
 * (`flock` on Unix, `LockFileEx` on Windows) on `prunner.lock`, taken without waiting
 * (`FsFile.tryLock`); the file holds the pid of the process that has it. The operating system
 * releases the lock when the process ends in any way, SIGKILL included, so a pid left in the
 * file by a dead process never blocks a new start.
 *
 * @module
 */
import { DataDirLockedError, StoreOpenError } from "./errors.ts";
import { type KvJobStoreOptions, openKvJobStore } from "./kv/job_store.ts";
import { createLogStore } from "./logs.ts";
import type { PgStore } from "./pg/open.ts";
import type { JobStore, LogStore } from "./types.ts";
import type { ClusterStore } from "./cluster.ts";

/** File name of the lock in the data directory. */
export const LOCK_FILE = "prunner.lock";
/** File name of the KV database in the data directory. */
export const KV_FILE = "jobs.kv";

/**
 * Where an opened prunner keeps its jobs and task output: a data directory, locked for this
 * process, with its job store in Deno KV ({@linkcode DataDir}) or in PostgreSQL.
 */
export interface Storage {
  readonly path: string;
  readonly logsDir: string;
  readonly store: JobStore;
  readonly logs: LogStore;
  /** With a database: what the nodes of the cluster share (see `pg/cluster.ts`). */
  readonly cluster?: ClusterStore;
  /**
   * Whether the directory takes writes: writes and removes a file of
   * {@linkcode CHECK_FILE_BYTES} (a full disk fails it) and a small record in the job store.
   * Rejects with the cause.
   */
  check(): Promise<void>;
  /** Flushes and closes the store, then releases the lock. */
  close(): Promise<void>;
}

/** An opened data directory with its job store in Deno KV. */
export interface DataDir extends Storage {
  readonly kvPath: string;
  readonly kv: Deno.Kv;
}

/** Settings of {@linkcode openDataDir}. */
export type DataDirOptions = Pick<KvJobStoreOptions, "listing" | "onDamaged" | "releaseListed">;

/** Settings of {@linkcode openStorage}. */
export interface StorageOptions extends DataDirOptions {
  /**
   * The PostgreSQL database for the jobs, shared by the nodes of a cluster; `null` keeps them in
   * the data directory's Deno KV.
   */
  databaseUrl: string | null;
  /** With a database: this node's name in the cluster (see `node` in `pg/open.ts`). */
  node?: string;
  /**
   * With a database: called with the error when copying task output into it starts to fail,
   * and with `null` once it works again (see `onShipFailure` in `pg/log_store.ts`).
   */
  onShipFailure?: (error: unknown) => void;
}

/** File name of the write check in the data directory. */
export const CHECK_FILE = "health-check.tmp";
/** Size of the write check's file: about what a new job needs in the store. */
export const CHECK_FILE_BYTES = 64 * 1024;

/**
 * Opens a data directory: creates it and `logs/` when missing, takes its lock and opens the job
 * store. Nothing is deleted or repaired.
 *
 * @throws {DataDirLockedError} when another process holds the directory.
 * @throws {StoreOpenError} when the directory or the store cannot be opened (corrupt file,
 * permissions, no space, a format from a newer prunner).
 * @example
 * ```ts
 * const data = await openDataDir(".prunner", { listing: jobListingEncoder });
 * const unfinished = await data.store.listUnfinished();
 * await data.close();
 * ```
 */
export async function openDataDir(dir: string, options: DataDirOptions): Promise<DataDir> {
  const { logsDir, lock } = await prepare(dir);
  const kvPath = `${dir}/${KV_FILE}`;
  let kv: Deno.Kv | null = null;
  try {
    kv = await Deno.openKv(kvPath);
    const opened = await identity(kvPath);
    const store = await openKvJobStore(kv, {
      ...options,
      dataDir: dir,
      // A database file removed or replaced under prunner would take writes that no restart
      // finds again: refuse them instead.
      checkTarget: async () => {
        const now = await identity(kvPath).catch(() => null);
        if (now !== opened) {
          throw new Error(
            `${kvPath} was removed or replaced while prunner runs (restore it or restart prunner)`,
          );
        }
      },
    });
    let closing: Promise<void> | null = null;
    return {
      path: dir,
      logsDir,
      kvPath,
      kv,
      store,
      logs: createLogStore(logsDir),
      check: () => checkDir(dir, store),
      close() {
        closing ??= store.close().finally(() => lock.close());
        return closing;
      },
    };
  } catch (error) {
    kv?.close();
    lock.close();
    throw new StoreOpenError(kvPath, error);
  }
}

/**
 * Opens the data directory like {@linkcode openDataDir}, with the jobs in the PostgreSQL
 * database of `databaseUrl` when there is one: task output then stays in the directory's
 * `logs/`, and no `jobs.kv` is created.
 *
 * @throws {DataDirLockedError} when another process holds the directory.
 * @throws {DatabaseOpenError} when the database cannot be opened.
 * @throws {StoreOpenError} as {@linkcode openDataDir} does.
 * @example
 * ```ts
 * const storage = await openStorage(".prunner", {
 *   listing: jobListingEncoder,
 *   databaseUrl: "postgres://prunner@db/prunner",
 * });
 * ```
 */
export async function openStorage(dir: string, options: StorageOptions): Promise<Storage> {
  const { databaseUrl, ...rest } = options;
  if (databaseUrl === null) return await openDataDir(dir, rest);
  const { logsDir, lock } = await prepare(dir);
  let pg: PgStore;
  try {
    // Loaded only here, so that the database client costs nothing without a database.
    const { openPgStore } = await import("./pg/open.ts");
    pg = await openPgStore(databaseUrl, {
      listing: options.listing,
      onDamaged: options.onDamaged,
      onShipFailure: options.onShipFailure,
      spoolDir: logsDir,
      node: options.node,
    });
  } catch (error) {
    lock.close();
    throw error;
  }
  let closing: Promise<void> | null = null;
  return {
    path: dir,
    logsDir,
    store: pg.store,
    logs: pg.logs,
    ...(pg.cluster === null ? {} : { cluster: pg.cluster }),
    check: () => checkDir(dir, pg),
    close() {
      closing ??= pg.close().finally(() => lock.close());
      return closing;
    },
  };
}

/** Creates the directory and its `logs/` when missing and takes its lock. */
async function prepare(dir: string): Promise<{ logsDir: string; lock: Deno.FsFile }> {
  const logsDir = `${dir}/logs`;
  try {
    await Deno.mkdir(logsDir, { recursive: true });
  } catch (error) {
    throw new StoreOpenError(dir, error);
  }
  return { logsDir, lock: await acquireLock(dir) };
}

/** See {@linkcode Storage.check}: the directory, then `store`'s own check. */
async function checkDir(dir: string, store: Pick<JobStore, "check">): Promise<void> {
  const path = `${dir}/${CHECK_FILE}`;
  try {
    await Deno.writeFile(path, new Uint8Array(CHECK_FILE_BYTES));
  } finally {
    await Deno.remove(path).catch(() => {});
  }
  await store.check();
}

async function acquireLock(dir: string): Promise<Deno.FsFile> {
  const path = `${dir}/${LOCK_FILE}`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true, create: true });
  } catch (error) {
    throw new StoreOpenError(path, error);
  }
  try {
    if (!(await file.tryLock(true))) throw new DataDirLockedError(dir, await readPid(path));
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
    return file;
  } catch (error) {
    file.close();
    if (error instanceof DataDirLockedError) throw error;
    throw new StoreOpenError(path, error);
  }
}

/** Which file is at `path`: device and inode where the platform has them. */
async function identity(path: string): Promise<string> {
  const info = await Deno.stat(path);
  return `${info.dev}:${info.ino ?? info.birthtime?.getTime() ?? ""}`;
}

/** The pid in a lock file, or `null` when it cannot be read (yet). */
async function readPid(path: string): Promise<number | null> {
  try {
    const text = (await Deno.readTextFile(path)).trim();
    return /^\d+$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}
