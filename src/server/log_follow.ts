/**
 * The body of `GET /job/logs/stream`: a task's output as Server-Sent Events, following its log
 * files while the task runs.
 *
 * Each follower owns one read buffer and at most one open file per stream. It reads only when
 * the client asks for more (the stream is pull-based), so memory stays flat whatever the size
 * of the output and the number of followers. At the end of what is written it waits, polling
 * the files, until more is written or the task ends; after the end it reads what is left and
 * sends `end`. A task with retries is followed from the attempt it is on when the stream starts
 * (the one `GET /job/logs` shows) into every later attempt: once an attempt's files are read to
 * their end and a later attempt has started, the follower goes on with that attempt's files.
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

/** What is known about a followed task as it runs. */
export interface TaskWatch {
  /** Resolves once the task has ended (at once for an ended task). */
  ended: Promise<TaskEnd>;
  /** The task's latest attempt (1 before it started). */
  attempt(): number;
}

/** What a follower follows. */
export interface FollowOptions {
  /** The log files of one attempt of the task. */
  paths: (attempt: number) => Readonly<Record<LogStream, string>>;
  /**
   * Watches the task. Called once; its `signal` aborts when the stream ends first (the client
   * went away, the server stops), so the watch can stop listening.
   */
  watch: (signal: AbortSignal) => TaskWatch;
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
 *   paths: (attempt) => ({
 *     stdout: runner.logPath(job.id, "build", "stdout", attempt),
 *     stderr: runner.logPath(job.id, "build", "stderr", attempt),
 *   }),
 *   watch: (signal) => watchTask(runner, job, "build", signal),
 * });
 * return new Response(body, { headers: SSE_HEADERS });
 * ```
 */
export function followLog(options: FollowOptions): ReadableStream<Uint8Array> {
  const pollMs = options.pollMs ?? 200;
  const keepaliveMs = options.keepaliveMs ?? 15_000;
  const buffer = new Uint8Array(options.chunkBytes ?? 64 * 1024);
  const stopped = new AbortController();
  const watch = options.watch(stopped.signal);
  let attempt = watch.attempt();
  const sources: Source[] = STREAMS.map((name) => ({
    name,
    path: options.paths(attempt)[name],
    file: null,
    decoder: new TextDecoder("utf-8", { ignoreBOM: true }),
  }));
  let end: TaskEnd | null = null;
  let endFailed: unknown = null;
  watch.ended.then((value) => {
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
    closeSources();
  };

  const closeSources = () => {
    for (const source of sources) {
      try {
        source.file?.close();
      } catch {
        // Already closed.
      }
      source.file = null;
    }
  };

  /** Events for the characters the decoders hold back (an incomplete one becomes U+FFFD). */
  const flushDecoders = (): string => {
    let tail = "";
    for (const source of sources) {
      const rest = source.decoder.decode();
      if (rest !== "") tail += sseEvent(source.name, { text: rest });
    }
    return tail;
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
          const latest = watch.attempt();
          if (latest > attempt) {
            // A later attempt started, so this one has ended and its files are complete.
            const tail = flushDecoders();
            closeSources();
            attempt = latest;
            const paths = options.paths(attempt);
            for (const source of sources) source.path = paths[source.name];
            if (tail !== "") {
              controller.enqueue(encoder.encode(tail));
              return;
            }
            continue;
          }
          if (draining) {
            const tail = flushDecoders();
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
        // A read cut short by the client going away is no failure.
        if (done) return;
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

/** What `watchTask` needs from the runner. */
export interface TaskWatchSource {
  getJob(id: string): Promise<Job | null>;
  readonly events: Pick<EventHub, "subscribe">;
}

/**
 * Watches a task of a job through the runner's events, so nothing is polled: its latest attempt
 * and its end (its status is final or its job completed; at once for a task that already ended).
 * `ended` rejects with `JobNotFoundError` when the job is gone. Stops listening when `signal`
 * aborts (`ended` then stays pending).
 *
 * @example
 * ```ts
 * const watch = watchTask(runner, job, "build", signal);
 * const { status, exitCode } = await watch.ended;
 * ```
 */
export function watchTask(
  runner: TaskWatchSource,
  job: Job,
  task: string,
  signal: AbortSignal,
): TaskWatch {
  const jobId = job.id;
  const { promise, resolve, reject } = Promise.withResolvers<TaskEnd>();
  let attempt = 1;
  let settled = false;
  const update = (current: Job | null): void => {
    if (settled) return;
    if (current === null) {
      finish();
      reject(new JobNotFoundError(jobId));
      return;
    }
    const found = current.tasks.find((t) => t.name === task);
    attempt = Math.max(attempt, found?.attempt ?? 1);
    if (
      found && !current.completed && (found.status === "waiting" || found.status === "running")
    ) {
      return;
    }
    finish();
    resolve({ status: found?.status ?? "canceled", exitCode: found?.exitCode ?? 0 });
  };
  const unsubscribe = runner.events.subscribe((event) => {
    if ("job" in event && event.job.id === jobId) update(event.job);
  });
  const finish = () => {
    settled = true;
    unsubscribe();
    signal.removeEventListener("abort", finish);
  };
  signal.addEventListener("abort", finish, { once: true });
  update(job);
  // The job may have changed between reading it and subscribing.
  runner.getJob(jobId).then(update, (error) => {
    if (settled) return;
    finish();
    reject(error);
  });
  return { ended: promise, attempt: () => attempt };
}
