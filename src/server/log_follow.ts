/**
 * The body of `GET /job/logs/stream`: a task's output as Server-Sent Events, following its log
 * files while the task runs.
 *
 * Each follower owns one read buffer and at most one open file per stream. It reads only when
 * the client asks for more (the stream is pull-based), so memory stays flat whatever the size
 * of the output and the number of followers. At the end of what is written it waits, polling
 * the files, until more is written or the task ends; after the end it reads what is left and
 * sends `end`.
 *
 * @module
 */
import type { Job, TaskStatus } from "../engine/job.ts";
import { JobNotFoundError } from "../errors.ts";
import type { LogStream } from "../runner/api.ts";
import type { EventHub } from "../runner/events.ts";
import { KEEPALIVE, sseEvent } from "./sse.ts";

/** How a task ended, as the `end` event says. */
export interface TaskEnd {
  status: TaskStatus;
  exitCode: number;
}

/** What a follower follows. */
export interface FollowOptions {
  /** The task's log files. */
  paths: Readonly<Record<LogStream, string>>;
  /**
   * Resolves once the task has ended (at once for an ended task). Called once; its `signal`
   * aborts when the stream ends first (the client went away, the server stops), so it can stop
   * listening.
   */
  ended: (signal: AbortSignal) => Promise<TaskEnd>;
  /** Ends the stream without `end` when aborted (server shutdown). */
  signal?: AbortSignal;
  /** Time between looks at the files while the task runs, in ms (default 200). */
  pollMs?: number;
  /** Idle time before a keepalive comment, in ms (default 15 s). */
  keepaliveMs?: number;
  /** Bytes read at a time (default 64 KiB). */
  chunkBytes?: number;
  /** Called with an error that aborted the stream (a file that cannot be read). */
  onError?: (error: unknown) => void;
}

interface Source {
  name: LogStream;
  path: string;
  file: Deno.FsFile | null;
  decoder: TextDecoder;
}

const encoder = new TextEncoder();
const STREAMS: readonly LogStream[] = ["stdout", "stderr"];

/**
 * Follows a task's output: what is written, then new output, then `end`.
 *
 * @example
 * ```ts
 * const body = followLog({
 *   paths: { stdout: "/data/logs/…/build.stdout.log", stderr: "/data/logs/…/build.stderr.log" },
 *   ended: (signal) => taskEnded(runner, jobId, "build", signal),
 * });
 * return new Response(body, { headers: SSE_HEADERS });
 * ```
 */
export function followLog(options: FollowOptions): ReadableStream<Uint8Array> {
  const pollMs = options.pollMs ?? 200;
  const keepaliveMs = options.keepaliveMs ?? 15_000;
  const buffer = new Uint8Array(options.chunkBytes ?? 64 * 1024);
  const sources: Source[] = STREAMS.map((name) => ({
    name,
    path: options.paths[name],
    file: null,
    decoder: new TextDecoder("utf-8", { ignoreBOM: true }),
  }));
  let end: TaskEnd | null = null;
  let endFailed: unknown = null;
  const stopped = new AbortController();
  options.ended(stopped.signal).then((value) => {
    end = value;
    wake?.();
  }, (error) => {
    endFailed = error ?? new Error("the task's end could not be determined");
    wake?.();
  });
  /** Set once the task has ended: the next time both files are at their end, `end` follows. */
  let draining = false;
  let idleSince = Date.now();
  /** The source read first on the next pull. */
  let turn = 0;
  let done = false;
  let wake: (() => void) | null = null;
  const onAbort = () => {
    stopped.abort();
    wake?.();
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });

  const closeFiles = () => {
    done = true;
    stopped.abort();
    options.signal?.removeEventListener("abort", onAbort);
    for (const source of sources) {
      try {
        source.file?.close();
      } catch {
        // Already closed.
      }
      source.file = null;
    }
  };

  /** Reads the next chunk of a source; 0 at the end of what is written (or no file yet). */
  const read = async (source: Source): Promise<number> => {
    if (source.file === null) {
      try {
        source.file = await Deno.open(source.path);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return 0;
        throw error;
      }
    }
    return await source.file.read(buffer) ?? 0;
  };

  /** Waits until the poll interval passed, the task ended or the stream is aborted. */
  const pause = async (ms: number): Promise<void> => {
    const { promise, resolve } = Promise.withResolvers<void>();
    const timer = setTimeout(resolve, ms);
    wake = resolve;
    await promise;
    clearTimeout(timer);
    wake = null;
  };

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        while (!done) {
          if (options.signal?.aborted) {
            closeFiles();
            controller.close();
            return;
          }
          let progressed = false;
          for (let i = 0; i < sources.length; i++) {
            // Take turns, so that a task flooding one stream does not hold back the other.
            const source = sources[(turn + i) % sources.length];
            const n = await read(source);
            if (n === 0) continue;
            progressed = true;
            turn = (turn + i + 1) % sources.length;
            const text = source.decoder.decode(buffer.subarray(0, n), { stream: true });
            if (text === "") continue;
            idleSince = Date.now();
            controller.enqueue(encoder.encode(sseEvent(source.name, { text })));
            return;
          }
          if (progressed) continue;
          if (draining) {
            let tail = "";
            for (const source of sources) {
              const rest = source.decoder.decode();
              if (rest !== "") tail += sseEvent(source.name, { text: rest });
            }
            closeFiles();
            controller.enqueue(encoder.encode(tail + sseEvent("end", end)));
            controller.close();
            return;
          }
          if (endFailed !== null) throw endFailed;
          if (end !== null) {
            draining = true;
            continue;
          }
          const idle = Date.now() - idleSince;
          if (idle >= keepaliveMs) {
            idleSince = Date.now();
            controller.enqueue(encoder.encode(KEEPALIVE));
            return;
          }
          await pause(Math.min(pollMs, keepaliveMs - idle));
        }
      } catch (error) {
        closeFiles();
        options.onError?.(error);
        controller.error(error);
      }
    },
    cancel() {
      wake?.();
      closeFiles();
    },
  }, { highWaterMark: 0 });
}

/** What `taskEnded` needs from the runner. */
export interface TaskEndSource {
  getJob(id: string): Promise<Job | null>;
  readonly events: Pick<EventHub, "subscribe">;
}

/**
 * Resolves when the task has ended: its status is final or its job completed. Listens to the
 * runner's events, so nothing is polled; at once for a task that already ended. Rejects with
 * `JobNotFoundError` when the job is gone. Stops listening when `signal` aborts (the promise then
 * stays pending).
 *
 * @example
 * ```ts
 * const { status, exitCode } = await taskEnded(runner, job.id, "build");
 * ```
 */
export function taskEnded(
  runner: TaskEndSource,
  jobId: string,
  task: string,
  signal?: AbortSignal,
): Promise<TaskEnd> {
  const { promise, resolve, reject } = Promise.withResolvers<TaskEnd>();
  let settled = false;
  const settle = (job: Job | null): void => {
    if (settled) return;
    if (job === null) {
      finish();
      reject(new JobNotFoundError(jobId));
      return;
    }
    const found = job.tasks.find((t) => t.name === task);
    if (found && !job.completed && (found.status === "waiting" || found.status === "running")) {
      return;
    }
    finish();
    resolve({ status: found?.status ?? "canceled", exitCode: found?.exitCode ?? 0 });
  };
  const unsubscribe = runner.events.subscribe((event) => {
    if ("job" in event && event.job.id === jobId) settle(event.job);
  });
  const finish = () => {
    settled = true;
    unsubscribe();
    signal?.removeEventListener("abort", finish);
  };
  signal?.addEventListener("abort", finish, { once: true });
  runner.getJob(jobId).then(settle, (error) => {
    if (settled) return;
    finish();
    reject(error);
  });
  return promise;
}
