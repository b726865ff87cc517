/**
 * The data directory (`--data`): the job store `jobs.kv`, task output under `logs/` and the
 * lock file `prunner.lock`.
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
import type { JobStore, LogStore } from "./types.ts";

/** File name of the lock in the data directory. */
export const LOCK_FILE = "prunner.lock";
/** File name of the KV database in the data directory. */
export const KV_FILE = "jobs.kv";

/** An opened data directory, locked for this process. */
export interface DataDir {
  readonly path: string;
  readonly logsDir: string;
  readonly kvPath: string;
  readonly kv: Deno.Kv;
  readonly store: JobStore;
  readonly logs: LogStore;
  /**
   * Whether the directory takes writes: writes and removes a file of
   * {@linkcode CHECK_FILE_BYTES} (a full disk fails it) and a small record in the job store.
   * Rejects with the cause.
   */
  check(): Promise<void>;
  /** Flushes and closes the store, then releases the lock. */
  close(): Promise<void>;
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
export async function openDataDir(
  dir: string,
  options: Pick<KvJobStoreOptions, "listing" | "onDamaged" | "releaseListed">,
): Promise<DataDir> {
  const logsDir = `${dir}/logs`;
  const kvPath = `${dir}/${KV_FILE}`;
  try {
    await Deno.mkdir(logsDir, { recursive: true });
  } catch (error) {
    throw new StoreOpenError(dir, error);
  }
  const lock = await acquireLock(dir);
  let kv: Deno.Kv | null = null;
  try {
    kv = await Deno.openKv(kvPath);
    const opened = await identity(kvPath);
    const store = await openKvJobStore(kv, {
      ...options,
      dataDir: dir,
      // A database file removed or replaced under prunner would take writes that no restart
      // finds again: refuse them instead.
      beforeCommit: async () => {
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
      async check() {
        const path = `${dir}/${CHECK_FILE}`;
        try {
          await Deno.writeFile(path, new Uint8Array(CHECK_FILE_BYTES));
        } finally {
          await Deno.remove(path).catch(() => {});
        }
        await store.check();
      },
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
