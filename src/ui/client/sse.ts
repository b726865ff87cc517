/**
 * Server-Sent Events read through `fetch`: browsers' `EventSource` cannot send the
 * `Authorization` header prunner needs, so the UI reads its event streams itself, parsed by the
 * command-line client's reader (src/client/sse.ts).
 *
 * @module
 */
import { type EventSourceMessage, readEvents } from "../../client/sse.ts";

/**
 * Reads a `text/event-stream` body to its end, calling `onEvent` for each event. Resolves when
 * the stream ends; rejects when reading fails (a dropped connection, an abort) or `onEvent`
 * throws, and then cancels the stream. Reads with a reader rather than `for await`, which not
 * every browser offers on streams.
 *
 * @example
 * ```ts
 * const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
 * await readSse(response.body!, (e) => console.log(e.event));
 * ```
 */
export async function readSse(
  body: ReadableStream<BufferSource>,
  onEvent: (event: EventSourceMessage) => void,
): Promise<void> {
  const reader = readEvents(body).getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) return;
      onEvent(value);
    }
  } catch (error) {
    await reader.cancel(error).catch(() => {});
    throw error;
  } finally {
    reader.releaseLock();
  }
}

/** The connection state of a followed event stream. */
export type StreamState = "connecting" | "live" | "reconnecting";

/** What `followEvents` needs. */
export interface FollowOptions {
  /** Opens the stream, sending `Last-Event-ID` when `lastEventId` is not `null`. */
  open(lastEventId: string | null, signal: AbortSignal): Promise<Response>;
  /** Called for each event. */
  onEvent(event: EventSourceMessage): void;
  /** Called whenever the connection state changes. */
  onState(state: StreamState): void;
  /** Stops following. */
  signal: AbortSignal;
  /** How long to wait before the n-th reconnect in a row (n from 1); default 1 s doubling to 15 s. */
  retryDelayMs?: (attempt: number) => number;
}

/** A response that means reconnecting is pointless (the token is refused). */
export class StreamRefusedError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "StreamRefusedError";
  }
}

/**
 * Follows an event stream for as long as `signal` is not aborted: reconnects after the stream
 * ends or fails, sending the last event id so the server can replay what was missed. Resolves
 * when aborted; rejects with the error `open` throws for a 401 (or any `StreamRefusedError`).
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * followEvents({
 *   open: (lastId, signal) => fetch(url, { headers: lastId ? { "last-event-id": lastId } : {}, signal }),
 *   onEvent: (e) => console.log(e.event),
 *   onState: (s) => console.log(s),
 *   signal: controller.signal,
 * });
 * ```
 */
export async function followEvents(options: FollowOptions): Promise<void> {
  const { signal } = options;
  const delay = options.retryDelayMs ?? ((n) => Math.min(1000 * 2 ** (n - 1), 15_000));
  let lastEventId: string | null = null;
  let attempt = 0;
  options.onState("connecting");
  while (!signal.aborted) {
    try {
      const response = await options.open(lastEventId, signal);
      if (response.status === 401 || response.status === 403) {
        await response.body?.cancel();
        throw new StreamRefusedError(response.status, `the server refused the event stream`);
      }
      if (!response.ok || response.body === null) {
        await response.body?.cancel();
        throw new Error(`event stream answered ${response.status}`);
      }
      attempt = 0;
      options.onState("live");
      await readSse(response.body, (event) => {
        if (event.id !== undefined) lastEventId = event.id;
        options.onEvent(event);
      });
    } catch (error) {
      if (error instanceof StreamRefusedError || signal.aborted) {
        if (signal.aborted) return;
        throw error;
      }
    }
    if (signal.aborted) return;
    options.onState("reconnecting");
    attempt++;
    await sleep(delay(attempt), signal);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
