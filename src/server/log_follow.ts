/**
 * The body of `GET /job/logs/stream`: a task's output as Server-Sent Events, following it while
 * the task runs.
 *
 * Each follower owns one read buffer and at most one open file per stream. It reads only when
 * the client asks for more (the stream is pull-based), so memory stays flat whatever the size
 * of the output and the number of followers. At the end of what is written it waits until more
 * is written or the task ends; after the end it reads what is left and sends `end`. A task with
 * retries is followed from the attempt it is on when the stream starts (the one `GET /job/logs`
 * shows) into every later attempt: once an attempt is over and read to its end, the follower
 * goes on with the next.
 *
 * Where the output is read from is decided before each look, by the node that runs the task's
 * job: on this node (or a single prunner, or a job not started yet) the follower polls the log
 * files, as the executor writes them here. In a cluster, for a job another node runs, the files
 * are on that node: the follower reads the output from the shared store from the offset it has
 * sent, and waits for the store's notices of new output (with a slow re-read, in case a notice
 * is missed). The job's node rather than a missing file decides, since no file exists anywhere
 * for a task that has not written yet; the offsets are the same in both, so a follower may go
 * from one to the other. As another node stores a task's last output and its end apart, an
 * attempt read from the store is over only once its end is known and a while (`settleMs`)
 * brought no more output. A read of the store that fails is reported and tried again; it never
 * ends the stream.
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
  /** The cluster node that runs the task's job (`Job.node`); `undefined` when none is known. */
  node(): string | undefined;
}

/** The output of tasks that run on other nodes of a cluster, as the shared store has it. */
export interface StoredOutput {
  /** This node's name: the output of a job whose `node` is another is read from the store. */
  node: string;
  /**
   * Up to `maxBytes` of an attempt's stream from byte `offset` on, as stored so far (see
   * `LogStore.read`).
   */
  read(stream: LogStream, attempt: number, offset: number, maxBytes: number): Promise<Uint8Array>;
  /**
   * Calls `listener` when more output of the job may have been stored, until the returned
   * function is called (see `LogStore.watchOutput`). Without it, the store is read every
   * `pollMs`.
   */
  watch?(listener: () => void): () => void;
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
  /** In a cluster: where the output of tasks that run on other nodes is read. */
  stored?: StoredOutput;
  /** Ends the stream without `end` when aborted (server shutdown). */
  signal?: AbortSignal;
  /** Time between looks at the files (or an unwatched store) while the task runs, in ms (200). */
  pollMs?: number;
  /**
   * Time between reads of a watched store without a notice, and between tries after a read of
   * the store failed, in ms (default 2 s).
   */
  storePollMs?: number;
  /**
   * How long an attempt read from the store must bring no more output once its end is known
   * before the follower leaves it, in ms (default 1 s).
   */
  settleMs?: number;
  /** Idle time before a keepalive comment, in ms (default 15 s). */
  keepaliveMs?: number;
  /** Bytes read at a time (default 64 KiB). */
  chunkBytes?: number;
  /**
   * Called with an error that aborted the stream (a file that cannot be read), and with the
   * error of a failing read of the store, once until a read works again (the stream goes on).
   */
  onError?: (error: unknown) => void;
}

interface Source {
  name: LogStream;
  path: string;
  file: Deno.FsFile | null;
  /** Bytes of this attempt's stream read so far. */
  offset: number;
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
  const { stored } = options;
  const pollMs = options.pollMs ?? 200;
  const storePollMs = options.storePollMs ?? 2000;
  const settleMs = options.settleMs ?? 1000;
  const keepaliveMs = options.keepaliveMs ?? 15_000;
  const buffer = new Uint8Array(options.chunkBytes ?? 64 * 1024);
  const stopped = new AbortController();
  const watch = options.watch(stopped.signal);
  let attempt = watch.attempt();
  const sources: Source[] = STREAMS.map((name) => ({
    name,
    path: options.paths(attempt)[name],
    file: null,
    offset: 0,
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
  /** When the follower first saw the current attempt over; `null` before. */
  let overSince: number | null = null;
  /** When a read last brought output. */
  let outputAt = 0;
  let idleSince = Date.now();
  /** The source read first on the next pull. */
  let turn = 0;
  let done = false;
  let wake: (() => void) | null = null;
  /** Stops the store's notices; `null` until the store is first read. */
  let unwatchStore: (() => void) | null = null;
  /** Set by a notice of the store; cleared before each look. */
  let noticed = false;
  /** Whether the last read of the store failed (and was reported). */
  let storeFailing = false;
  const onAbort = () => {
    stopped.abort();
    wake?.();
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });

  const closeFiles = () => {
    done = true;
    stopped.abort();
    options.signal?.removeEventListener("abort", onAbort);
    unwatchStore?.();
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

  /** Whether the current attempt's output is read from the store: another node runs it. */
  const fromStore = (): boolean => {
    const node = watch.node();
    return stored !== undefined && node !== undefined && node !== stored.node;
  };

  /** The next bytes of a source's file; none at the end of what is written (or no file yet). */
  const readFile = async (source: Source): Promise<Uint8Array> => {
    if (source.file === null) {
      try {
        source.file = await Deno.open(source.path);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return buffer.subarray(0, 0);
        throw error;
      }
      if (source.offset > 0) await source.file.seek(source.offset, Deno.SeekMode.Start);
    }
    return buffer.subarray(0, await source.file.read(buffer) ?? 0);
  };

  /** The next bytes of a source in the store; none at the end of what is stored. */
  const readStored = async (store: StoredOutput, source: Source): Promise<Uint8Array> => {
    if (source.file !== null) {
      source.file.close();
      source.file = null;
    }
    unwatchStore ??= store.watch?.(() => {
      noticed = true;
      wake?.();
    }) ?? (() => {});
    return await store.read(source.name, attempt, source.offset, buffer.length);
  };

  /** Waits until `ms` passed, the task ended, the store noticed output or the stream is aborted. */
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
          const store = fromStore() ? stored! : null;
          // An attempt over before this look has all of its output where the look finds no more.
          const over = end !== null || watch.attempt() > attempt;
          if (over) overSince ??= Date.now();
          noticed = false;
          let progressed = false;
          let failed = false;
          for (let i = 0; i < sources.length; i++) {
            // Take turns, so that a task flooding one stream does not hold back the other.
            const source = sources[(turn + i) % sources.length];
            let bytes: Uint8Array;
            if (store === null) {
              bytes = await readFile(source);
            } else {
              try {
                bytes = await readStored(store, source);
              } catch (error) {
                if (done) return;
                failed = true;
                if (!storeFailing) options.onError?.(error);
                storeFailing = true;
                continue;
              }
            }
            if (bytes.length === 0) continue;
            source.offset += bytes.length;
            progressed = true;
            outputAt = Date.now();
            turn = (turn + i + 1) % sources.length;
            const text = source.decoder.decode(bytes, { stream: true });
            if (text === "") continue;
            idleSince = Date.now();
            controller.enqueue(encoder.encode(sseEvent(source.name, { text })));
            return;
          }
          if (store !== null && !failed) storeFailing = false;
          if (progressed) continue;
          if (endFailed !== null) throw endFailed;
          // Over since the look began: look once more before leaving the attempt.
          if (!over && (end !== null || watch.attempt() > attempt)) continue;
          let waitMs = store === null || !(failed || store.watch) ? pollMs : storePollMs;
          if (over && !failed) {
            const quiet = Date.now() - Math.max(overSince!, outputAt);
            if (store !== null && quiet < settleMs) {
              // Another node may store the last output after the end is known: wait a little.
              waitMs = settleMs - quiet;
            } else if (watch.attempt() > attempt) {
              const tail = flushDecoders();
              closeSources();
              attempt = watch.attempt();
              overSince = null;
              const paths = options.paths(attempt);
              for (const source of sources) {
                source.path = paths[source.name];
                source.offset = 0;
              }
              if (tail !== "") {
                controller.enqueue(encoder.encode(tail));
                return;
              }
              continue;
            } else {
              const tail = flushDecoders();
              closeFiles();
              controller.enqueue(encoder.encode(tail + sseEvent("end", end)));
              controller.close();
              return;
            }
          }
          if (noticed) continue;
          const idle = Date.now() - idleSince;
          if (idle >= keepaliveMs) {
            idleSince = Date.now();
            controller.enqueue(encoder.encode(KEEPALIVE));
            return;
          }
          await pause(Math.min(waitMs, keepaliveMs - idle));
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
 * Watches a task of a job through the runner's events, so nothing is polled: its latest attempt,
 * the node that runs its job and its end (its status is final or its job completed; at once for a task that already ended).
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
  let node = job.node;
  let settled = false;
  const update = (current: Job | null): void => {
    if (settled) return;
    if (current === null) {
      finish();
      reject(new JobNotFoundError(jobId));
      return;
    }
    node = current.node;
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
  return { ended: promise, attempt: () => attempt, node: () => node };
}
