/**
 * Waiting for a job to end: through the server's event stream (`GET /events`), or by asking for
 * the job every second when the server has no event stream.
 *
 * @module
 */
import type { PrunnerClient } from "./api.ts";
import { ServerUnreachableError } from "./errors.ts";
import { concernsJob, decodeEvent } from "./events.ts";
import type { JobJson } from "./json.ts";

/** How `watchJob` reports and paces itself. */
export interface WatchOptions {
  /** Called with the job whenever it may have changed (tasks started or ended). */
  onChange?: (job: JobJson) => void;
  /** Stops watching: `watchJob` then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Pause between polls, and before reconnecting to the event stream. Default: 1 s. */
  intervalMs?: number;
  /** How long the server may stay unreachable while watching. Default: 60 s. */
  unreachableForMs?: number;
}

/**
 * Resolves with the job once it has ended, as `GET /job/detail` shows it then.
 *
 * The event stream is opened before the job is read, so that no change between the two is
 * missed; after a lost connection it is reopened (with `Last-Event-ID`) and the job read again.
 *
 * @example
 * ```ts
 * const job = await watchJob(client, jobId, { onChange: (job) => draw(job) });
 * console.log(job.errored ? "failed" : "succeeded");
 * ```
 * @throws {ServerUnreachableError} when the server stays unreachable for `unreachableForMs`.
 * @throws {ApiError} when the job is unknown (or removed by retention before it was seen ending).
 */
export async function watchJob(
  client: PrunnerClient,
  id: string,
  options: WatchOptions = {},
): Promise<JobJson> {
  const interval = options.intervalMs ?? 1000;
  const unreachableFor = options.unreachableForMs ?? 60_000;
  const signal = options.signal;
  let lastEventId: string | undefined;
  let unreachableSince: number | null = null;

  const check = async (): Promise<JobJson | null> => {
    const job = await client.job(id);
    options.onChange?.(job);
    return job.completed ? job : null;
  };

  while (true) {
    signal?.throwIfAborted();
    let events;
    try {
      events = await client.events({ lastEventId, onId: (id) => lastEventId = id, signal });
      unreachableSince = null;
    } catch (error) {
      if (!(error instanceof ServerUnreachableError)) throw error;
      unreachableSince ??= Date.now();
      if (Date.now() - unreachableSince > unreachableFor) throw error;
      await sleep(interval, signal);
      continue;
    }
    if (events === null) return await poll(check, interval, signal);
    try {
      const done = await check();
      if (done) return done;
      for await (const message of events) {
        const event = decodeEvent(message);
        if (event === null || !concernsJob(event, id)) continue;
        const ended = await check();
        if (ended) return ended;
      }
    } catch (error) {
      if (signal?.aborted || !isConnectionLoss(error)) throw error;
    } finally {
      await events.cancel().catch(() => {});
    }
    await sleep(interval, signal);
  }
}

async function poll(
  check: () => Promise<JobJson | null>,
  interval: number,
  signal?: AbortSignal,
): Promise<JobJson> {
  while (true) {
    const done = await check();
    if (done) return done;
    await sleep(interval, signal);
  }
}

/** A connection that broke while reading: the stream errors with a TypeError or similar. */
function isConnectionLoss(error: unknown): boolean {
  return error instanceof TypeError || error instanceof ServerUnreachableError ||
    (error instanceof Error && error.name === "Http");
}

/** Waits `ms`, or rejects with the signal's reason when it is aborted first. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
