/**
 * Task output files: `<logs>/<jobId>/<task>.<stream>.log`, one file per task and stream, written
 * by the executor as output arrives and streamed by the logs API. A task's second and later
 * attempts (see `retries`) write `<task>~<attempt>.<stream>.log`, so every attempt's output is
 * kept.
 *
 * Names are made safe for any file system: the job id and the task name are percent-encoded
 * with `encodeURIComponent` (lone surrogates become U+FFFD), plus `*` and `~` (so `/`, `\`, `:` and control characters never
 * reach a path), and the job id's dots too (so `.` and `..` cannot leave the logs directory).
 * A task name whose encoding is longer than {@linkcode MAX_TASK_FILE_NAME} characters is cut
 * there and gets `~` and a 64-bit FNV-1a hash of the full name appended, so it stays unique
 * (`~` appears in no other encoded name). On case-insensitive file systems, tasks whose names
 * differ only in case share their files.
 *
 * @module
 */
import type { LogStore, LogStream } from "./types.ts";

/** Longest encoded task name used as is in a file name (file names are limited to 255 bytes). */
export const MAX_TASK_FILE_NAME = 200;

/**
 * The log files below `logsDir`.
 *
 * @example
 * ```ts
 * const logs = createLogStore("/var/lib/prunner/logs");
 * const stdout = await logs.open(job.id, "build", "stdout");
 * ```
 */
export function createLogStore(logsDir: string): LogStore {
  return {
    path: (jobId, task, stream, attempt) => logPath(logsDir, jobId, task, stream, attempt),
    open: (jobId, task, stream, attempt) => openLog(logsDir, jobId, task, stream, attempt),
    read: async (jobId, task, stream, attempt, offset, maxBytes) =>
      await readLog(logsDir, jobId, task, stream, attempt, offset, maxBytes) ??
        new Uint8Array(0),
    // The files are all there is: nothing to copy while an attempt runs nor when it ends.
    started: () => {},
    ended: () => Promise.resolve(),
    remove: (jobId) => removeJobLogs(logsDir, jobId),
  };
}

/**
 * The directory of a job's log files.
 *
 * @throws {TypeError} when `jobId` is empty.
 */
export function jobLogDir(logsDir: string, jobId: string): string {
  if (jobId === "") throw new TypeError("a job id must not be empty");
  return `${logsDir}/${encode(jobId).replaceAll(".", "%2E")}`;
}

/**
 * The file an attempt's output stream is written to.
 *
 * @example
 * ```ts
 * logPath("/data/logs", "6f1c…", "build / test", "stderr");
 * // "/data/logs/6f1c…/build%20%2F%20test.stderr.log"
 * logPath("/data/logs", "6f1c…", "build", "stdout", 2);
 * // "/data/logs/6f1c…/build~2.stdout.log"
 * ```
 */
export function logPath(
  logsDir: string,
  jobId: string,
  task: string,
  stream: LogStream,
  attempt = 1,
): string {
  const suffix = attempt > 1 ? `~${attempt}` : "";
  return `${jobLogDir(logsDir, jobId)}/${taskFileName(task)}${suffix}.${stream}.log`;
}

/**
 * Opens an attempt's output for reading in chunks; `null` when the file does not exist. Closing
 * or canceling the stream closes the file.
 */
export async function openLog(
  logsDir: string,
  jobId: string,
  task: string,
  stream: LogStream,
  attempt = 1,
): Promise<ReadableStream<Uint8Array> | null> {
  try {
    return (await Deno.open(logPath(logsDir, jobId, task, stream, attempt))).readable;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/**
 * Up to `maxBytes` of an attempt's output from byte `offset` on (fewer at the end of the file);
 * `null` when the file does not exist.
 *
 * @example
 * ```ts
 * const next = await readLog("/data/logs", job.id, "build", "stdout", 1, sent, 64 * 1024);
 * ```
 */
export async function readLog(
  logsDir: string,
  jobId: string,
  task: string,
  stream: LogStream,
  attempt: number,
  offset: number,
  maxBytes: number,
): Promise<Uint8Array | null> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(logPath(logsDir, jobId, task, stream, attempt));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  try {
    await file.seek(offset, Deno.SeekMode.Start);
    const buffer = new Uint8Array(maxBytes);
    let filled = 0;
    while (filled < maxBytes) {
      const read = await file.read(buffer.subarray(filled));
      if (read === null) break;
      filled += read;
    }
    return buffer.subarray(0, filled);
  } finally {
    file.close();
  }
}

/** Removes a job's log directory; nothing happens when it does not exist. */
export async function removeJobLogs(logsDir: string, jobId: string): Promise<void> {
  try {
    await Deno.remove(jobLogDir(logsDir, jobId), { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

function taskFileName(task: string): string {
  const name = encode(task);
  if (name.length <= MAX_TASK_FILE_NAME) return name;
  const cut = name.slice(0, MAX_TASK_FILE_NAME).replace(/%[0-9A-F]?$/, "");
  return `${cut}~${fnv1a64(task)}`;
}

function encode(text: string): string {
  return encodeURIComponent(text.toWellFormed()).replaceAll("*", "%2A").replaceAll("~", "%7E");
}

function fnv1a64(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, "0");
}
