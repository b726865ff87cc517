/**
 * Task output in PostgreSQL, so that every node reads it. The executor writes a task's output
 * to a spool file on the node that runs it (`path()`, laid out as `logs.ts` lays out log
 * files), exactly as with the file log store; `ship()` copies what the spool file holds beyond
 * what the database has into `prunner_log_chunks`, as chunks of up to
 * {@linkcode LOG_CHUNK_BYTES} keyed by their byte offset (`start`). While an attempt runs
 * (from `started()` on) a shipper copies both of its streams every `shipEveryMs`, so that what
 * a task wrote is in the database even if this node dies; `ended()` has the rest copied. A ship
 * that fails (the database is away) is tried again a period later, also after the attempt
 * ended, until it succeeds, the job's output is removed or the store closes; the task and the
 * reading of its output never wait for it. `open()` and `read()` read the spool file where there
 * is one (it is never behind the database) and the chunks elsewhere; `remove()` removes both.
 *
 * A ship that copied output notifies {@linkcode LOG_CHANNEL} with the job's id, in its
 * transaction, so the notice arrives once the output can be read. `watchOutput()` hears them
 * through one `LISTEN` of the store, held while somebody watches. The driver listens again after
 * a lost connection, but gives up when the database is away at that moment; so while it listens
 * the store also notifies the channel with an empty payload (no job's id) every
 * `listenCheckMs`, and listens anew when a whole period passed without any notice.
 *
 * Ships of the same attempt's stream run one after the other, on any node: each takes a
 * transaction-scoped advisory lock on the stream's key first, so a chunk is never written
 * twice nor a range left out.
 *
 * @module
 */
import type { LogStore, LogStream } from "../types.ts";
import { logPath, openLog, readLog, removeJobLogs } from "../logs.ts";
import { type Sql, transaction } from "./sql.ts";

/** Bytes of output per row of `prunner_log_chunks`. */
export const LOG_CHUNK_BYTES = 256 * 1024;

const STREAMS: readonly LogStream[] = ["stdout", "stderr"];

/** Chunks read per query when output is read from the database. */
const READ_CHUNKS = 8;

/** Default time between two ships of a running attempt's output, in ms. */
export const SHIP_EVERY_MS = 1000;

/** The channel a ship notifies with the id of the job whose output it stored. */
export const LOG_CHANNEL = "prunner_logs";

/** Default time between two checks that the store's `LISTEN` still hears notices, in ms. */
export const LISTEN_CHECK_MS = 10_000;

/** Settings of {@linkcode createPgLogStore}. */
export interface PgLogStoreOptions {
  /** Time between two ships of an attempt's output while it runs or a ship failed, in ms. */
  shipEveryMs?: number;
  /**
   * Called with the error when shipping starts to fail, and with `null` once a ship works
   * again: once per episode, however many attempts are shipped meanwhile.
   */
  onShipFailure?: (error: unknown) => void;
  /** Time between two checks that `watchOutput()`'s `LISTEN` still works, in ms. */
  listenCheckMs?: number;
}

/** The PostgreSQL log store: a {@linkcode LogStore} that ships spool files to the database. */
export interface PgLogStore extends LogStore {
  /**
   * Copies the output of an attempt's spool file that the database does not have yet; resolves
   * with the number of bytes copied (0 when there is no spool file or nothing new).
   */
  ship(jobId: string, task: string, stream: LogStream, attempt?: number): Promise<number>;
  watchOutput(jobId: string, listener: () => void): () => void;
  /**
   * Stops the shippers: waits for the ships under way, then, unless ships are failing, tries
   * once more to copy what the attempts they ship have written. Later `started()` calls start
   * none. Stops listening for notices too: watchers are called no more.
   */
  stop(): Promise<void>;
}

/** Copies one attempt's output while it runs and, after its end, until a ship succeeds. */
interface Shipper {
  readonly key: string;
  readonly jobId: string;
  readonly task: string;
  readonly attempt: number;
  /** The next ship, while one is planned. */
  timer: ReturnType<typeof setTimeout> | null;
  /** The ship under way; resolves with whether it succeeded. */
  current: Promise<boolean> | null;
  /** Set once the attempt ended: the shipper is done after its next successful ship. */
  ended: boolean;
  /**
   * Per stream, how far the database is known to hold it (from 0 for an attempt that started
   * here): a spool file no longer than that is not shipped, so that a task without new output
   * costs the database nothing.
   */
  readonly shipped: Map<LogStream, number>;
  /** Once the attempt ended: the streams it wrote to, when known (the others have no file). */
  logged?: readonly LogStream[];
}

/**
 * The log store on the database of `sql` (whose schema is up to date, see `migrate`), with the
 * spool files of this node below `spoolDir`.
 *
 * @example
 * ```ts
 * const logs = createPgLogStore(sql, "/var/lib/prunner/logs");
 * await logs.ship(job.id, "build", "stdout");
 * const stdout = await logs.open(job.id, "build", "stdout");
 * ```
 */
export function createPgLogStore(
  sql: Sql,
  spoolDir: string,
  options: PgLogStoreOptions = {},
): PgLogStore {
  const shipEveryMs = options.shipEveryMs ?? SHIP_EVERY_MS;
  const onShipFailure = options.onShipFailure ?? (() => {});
  const shippers = new Map<string, Shipper>();
  /** Whether the last ship of a shipper failed: a failure episode is under way. */
  let failing = false;
  let stopped = false;

  /**
   * Like `ship()`, but resolves with the bytes copied and where the stored stream ends, or with
   * `null` when nothing was asked: there is no spool file, or it is no longer than `known`.
   */
  const shipStream = async (
    jobId: string,
    task: string,
    stream: LogStream,
    attempt: number,
    known?: number,
  ): Promise<{ copied: number; end: number } | null> => {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(logPath(spoolDir, jobId, task, stream, attempt));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
    try {
      if (known !== undefined && (await file.stat()).size <= known) return null;
      return await transaction(sql, async (tx) => {
        const log = logKey(task, stream, attempt);
        await tx`SELECT pg_advisory_xact_lock(hashtextextended(${jobId} || ${log}, 0))`;
        const [{ end }] = await tx<{ end: number }[]>`
          SELECT coalesce(max(start + length(bytes)), 0)::bigint AS "end"
          FROM prunner_log_chunks WHERE job_id = ${jobId} AND log = ${log}`;
        await file.seek(end, Deno.SeekMode.Start);
        let start = end;
        const buffer = new Uint8Array(LOG_CHUNK_BYTES);
        while (true) {
          const filled = await fill(file, buffer);
          if (filled === 0) break;
          await tx`
            INSERT INTO prunner_log_chunks (job_id, log, start, bytes)
            VALUES (${jobId}, ${log}, ${start}, ${buffer.slice(0, filled)})
            ON CONFLICT DO NOTHING`;
          start += filled;
          if (filled < buffer.length) break;
        }
        if (start > end) await tx`SELECT pg_notify(${LOG_CHANNEL}, ${jobId})`;
        return { copied: start - end, end: start };
      });
    } finally {
      file.close();
    }
  };

  /**
   * Ships both streams of the shipper's attempt (those it wrote to, when it is known); resolves
   * with whether that worked.
   */
  const shipBoth = async (shipper: Shipper): Promise<boolean> => {
    let asked = false;
    try {
      for (const stream of shipper.logged ?? STREAMS) {
        const { jobId, task, attempt } = shipper;
        const known = shipper.shipped.get(stream);
        const shipped = await shipStream(jobId, task, stream, attempt, known);
        if (shipped === null) continue;
        asked = true;
        shipper.shipped.set(stream, shipped.end);
      }
    } catch (error) {
      if (!failing) onShipFailure(error);
      failing = true;
      return false;
    }
    // Only an answer of the database ends an episode.
    if (failing && asked) {
      failing = false;
      onShipFailure(null);
    }
    return true;
  };

  /** Ships now (after the ship under way, if any), then plans the next ship as needed. */
  const shipNow = async (shipper: Shipper): Promise<boolean> => {
    while (shipper.current !== null) await shipper.current;
    if (shipper.timer !== null) clearTimeout(shipper.timer);
    shipper.timer = null;
    const current = shipBoth(shipper).then((ok) => {
      shipper.current = null;
      // A shipper taken out of the map (its job's output removed, the store stopped) is done.
      if (shippers.get(shipper.key) !== shipper) return ok;
      if (ok && shipper.ended) {
        shippers.delete(shipper.key);
      } else {
        shipper.timer = setTimeout(() => shipNow(shipper), shipEveryMs);
      }
      return ok;
    });
    shipper.current = current;
    return await current;
  };

  /** The attempt's shipper; a new one knows the database to hold `known` of each stream. */
  const shipperOf = (jobId: string, task: string, attempt: number, known?: number): Shipper => {
    const key = JSON.stringify([jobId, task, attempt]);
    let shipper = shippers.get(key);
    if (shipper === undefined) {
      const shipped = new Map<LogStream, number>(
        known === undefined ? [] : STREAMS.map((stream) => [stream, known]),
      );
      shipper = { key, jobId, task, attempt, timer: null, current: null, ended: false, shipped };
      shippers.set(key, shipper);
    }
    return shipper;
  };

  /** Takes the shippers out of the map, stops their plans and waits for their ships. */
  const withdraw = async (selected: Shipper[]): Promise<void> => {
    for (const shipper of selected) {
      shippers.delete(shipper.key);
      if (shipper.timer !== null) clearTimeout(shipper.timer);
      shipper.timer = null;
    }
    for (const shipper of selected) await shipper.current;
  };

  const notices = listenForOutput(sql, options.listenCheckMs ?? LISTEN_CHECK_MS);

  return {
    path: (jobId, task, stream, attempt) => logPath(spoolDir, jobId, task, stream, attempt),

    started(jobId, task, attempt = 1) {
      if (stopped) return;
      // An attempt that starts has no output stored yet.
      const shipper = shipperOf(jobId, task, attempt, 0);
      if (shipper.timer === null && shipper.current === null) {
        shipper.timer = setTimeout(() => shipNow(shipper), shipEveryMs);
      }
    },

    async open(jobId, task, stream, attempt = 1) {
      const spooled = await openLog(spoolDir, jobId, task, stream, attempt);
      if (spooled !== null) return spooled;
      // Text cannot hold a NUL: no stored job id does.
      if (jobId.includes("\0")) return null;
      const key = { jobId, log: logKey(task, stream, attempt) };
      const first = await readChunks(sql, key, 0);
      if (first.length === 0) return null;
      return chunkStream(sql, key, first);
    },

    async read(jobId, task, stream, attempt, offset, maxBytes) {
      const spooled = await readLog(spoolDir, jobId, task, stream, attempt, offset, maxBytes);
      if (spooled !== null) return spooled;
      if (jobId.includes("\0") || maxBytes <= 0) return new Uint8Array(0);
      return await readRange(sql, { jobId, log: logKey(task, stream, attempt) }, offset, maxBytes);
    },

    watchOutput: notices.watch,

    ship: async (jobId, task, stream, attempt = 1) =>
      (await shipStream(jobId, task, stream, attempt))?.copied ?? 0,

    async ended(jobId, task, attempt = 1, logged) {
      if (stopped) {
        for (const stream of logged ?? STREAMS) await shipStream(jobId, task, stream, attempt);
        return;
      }
      const shipper = shipperOf(jobId, task, attempt);
      // Marked ended only now, so that a ship under way (which may miss the last output) does
      // not end the shipper.
      while (shipper.current !== null) await shipper.current;
      shipper.ended = true;
      shipper.logged = logged;
      // A failure is reported through `onShipFailure` and shipped again later.
      await shipNow(shipper);
    },

    async stop() {
      stopped = true;
      notices.stop();
      const all = [...shippers.values()];
      await withdraw(all);
      // With the database away, another try would only hold up the stop; the output stays in
      // the spool files, which this node reads (and a restart ships for interrupted jobs).
      if (!failing) await Promise.all(all.map(shipBoth));
    },

    async remove(jobId) {
      await withdraw([...shippers.values()].filter((shipper) => shipper.jobId === jobId));
      if (!jobId.includes("\0")) await sql`DELETE FROM prunner_log_chunks WHERE job_id = ${jobId}`;
      await removeJobLogs(spoolDir, jobId);
    },
  };
}

interface ChunkKey {
  jobId: string;
  /** See {@linkcode logKey}. */
  log: string;
}

/** The `log` column of an attempt's stream: JSON, so that any task name fits into text. */
function logKey(task: string, stream: LogStream, attempt: number): string {
  return JSON.stringify([task, stream, attempt]);
}

interface Chunk {
  start: number;
  bytes: Uint8Array;
}

/** Up to {@linkcode READ_CHUNKS} chunks from byte `from` on, in order. */
async function readChunks(sql: Sql, key: ChunkKey, from: number): Promise<Chunk[]> {
  const rows = await sql<Chunk[]>`
    SELECT start, bytes FROM prunner_log_chunks
    WHERE job_id = ${key.jobId} AND log = ${key.log} AND start >= ${from}
    ORDER BY start
    LIMIT ${READ_CHUNKS}`;
  return rows.map(({ start, bytes }) => ({
    start,
    bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
  }));
}

/**
 * Up to `maxBytes` of a stream from byte `offset` on, from the chunks that overlap that range:
 * the one holding `offset` (found backwards on the key) and those starting inside the range,
 * each cut to the range by the database.
 */
async function readRange(
  sql: Sql,
  key: ChunkKey,
  offset: number,
  maxBytes: number,
): Promise<Uint8Array> {
  const limit = offset + maxBytes;
  const rows = await sql<Chunk[]>`
    WITH overlapping AS (
      (SELECT start, bytes FROM prunner_log_chunks
        WHERE job_id = ${key.jobId} AND log = ${key.log} AND start <= ${offset}::bigint
        ORDER BY start DESC LIMIT 1)
      UNION ALL
      (SELECT start, bytes FROM prunner_log_chunks
        WHERE job_id = ${key.jobId} AND log = ${key.log}
          AND start > ${offset}::bigint AND start < ${limit}::bigint)
    )
    SELECT greatest(start, ${offset}::bigint) AS start,
      substring(bytes FROM (greatest(${offset}::bigint - start, 0) + 1)::int
        FOR (${limit}::bigint - greatest(start, ${offset}::bigint))::int) AS bytes
    FROM overlapping
    WHERE start + length(bytes) > ${offset}::bigint
    ORDER BY start`;
  const pieces: Uint8Array[] = [];
  let next = offset;
  for (const { start, bytes } of rows) {
    // Ships write chunks end to end; should one be missing, what follows it is not read.
    if (start !== next) break;
    pieces.push(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    next += bytes.length;
  }
  if (pieces.length === 1) return pieces[0];
  const joined = new Uint8Array(next - offset);
  let at = 0;
  for (const piece of pieces) {
    joined.set(piece, at);
    at += piece.length;
  }
  return joined;
}

/** Who watches which job's output, and the `LISTEN` that tells them. */
interface OutputNotices {
  watch(jobId: string, listener: () => void): () => void;
  /** Stops listening; later watchers are never called. */
  stop(): void;
}

/**
 * Hears {@linkcode LOG_CHANNEL} while somebody watches: listens with the first watcher, stops
 * with the last. Every `checkMs` it notifies the channel itself and listens anew when no notice
 * at all came since the previous check. Watchers are called for their job's notices and, in
 * case output was stored meanwhile, each time listening starts.
 */
function listenForOutput(sql: Sql, checkMs: number): OutputNotices {
  const watchers = new Map<string, Set<() => void>>();
  /**
   * The `LISTEN` in use, with its `unlisten` once it is set up; `null` while not listening.
   * Notices of an earlier one (the driver may listen again for it) are ignored.
   */
  let current: { unlisten: (() => Promise<void>) | null } | null = null;
  /** Whether the `LISTEN` in use is still being set up. */
  let pending = false;
  /** Whether a notice came since the last check. */
  let heard = false;
  let checker: ReturnType<typeof setInterval> | null = null;
  let stopped = false;

  const callAll = () => {
    for (const listeners of watchers.values()) for (const listener of listeners) listener();
  };

  const listen = () => {
    const listening: { unlisten: (() => Promise<void>) | null } = { unlisten: null };
    current = listening;
    pending = true;
    sql.listen(LOG_CHANNEL, (jobId) => {
      if (current !== listening) return;
      heard = true;
      for (const listener of watchers.get(jobId) ?? []) listener();
    }, () => {
      if (current !== listening) return;
      heard = true;
      callAll();
    }).then(({ unlisten }) => {
      if (current === listening) {
        listening.unlisten = unlisten;
        pending = false;
      } else {
        unlisten().catch(() => {});
      }
    }, () => {
      // The database is away: the next check listens again.
      if (current === listening) pending = false;
    });
  };

  const unlisten = () => {
    const listening = current;
    current = null;
    pending = false;
    listening?.unlisten?.().catch(() => {});
  };

  const check = () => {
    if (!heard && !pending) {
      unlisten();
      listen();
    }
    heard = false;
    sql`SELECT pg_notify(${LOG_CHANNEL}, '')`.catch(() => {});
  };

  const quiet = () => {
    if (checker !== null) clearInterval(checker);
    checker = null;
    unlisten();
  };

  return {
    watch(jobId, listener) {
      const wrapped = () => listener();
      if (stopped) return () => {};
      let listeners = watchers.get(jobId);
      if (listeners === undefined) watchers.set(jobId, listeners = new Set());
      listeners.add(wrapped);
      if (current === null) {
        heard = false;
        listen();
        checker = setInterval(check, checkMs);
      }
      return () => {
        if (!listeners.delete(wrapped)) return;
        if (listeners.size === 0) watchers.delete(jobId);
        if (watchers.size === 0) quiet();
      };
    },
    stop() {
      stopped = true;
      watchers.clear();
      quiet();
    },
  };
}

/** The output from the chunks in `first` on, read from the database as the reader pulls. */
function chunkStream(sql: Sql, key: ChunkKey, first: Chunk[]): ReadableStream<Uint8Array> {
  let pending = first;
  let next = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (pending.length === 0) pending = await readChunks(sql, key, next);
      const chunk = pending.shift();
      if (chunk === undefined) return controller.close();
      next = chunk.start + chunk.bytes.length;
      controller.enqueue(chunk.bytes);
    },
  });
}

/** Reads into `buffer` until it is full or the file ends; resolves with the bytes read. */
async function fill(file: Deno.FsFile, buffer: Uint8Array): Promise<number> {
  let filled = 0;
  while (filled < buffer.length) {
    const read = await file.read(buffer.subarray(filled));
    if (read === null) break;
    filled += read;
  }
  return filled;
}
