/**
 * Server-Sent Events read through `fetch`: browsers' `EventSource` cannot send the
 * `Authorization` header prunner needs, so the UI reads the event stream itself.
 *
 * @module
 */

/** One dispatched event. */
export interface SseEvent {
  /** The `event:` field; `message` when the event has none. */
  event: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
  /** The last `id:` seen on the stream (it carries over to later events), or `null`. */
  id: string | null;
}

/**
 * Creates an incremental parser of the `text/event-stream` format: feed it decoded text in any
 * chunks; it calls `onEvent` for each complete event. Comment lines (`: keepalive`) are skipped.
 *
 * @example
 * ```ts
 * const feed = sseParser((e) => console.log(e.event, e.data));
 * feed("event: stdout\ndata: {\"text\":\"hi\"}\n");
 * feed("\n"); // logs: stdout {"text":"hi"}
 * ```
 */
export function sseParser(onEvent: (event: SseEvent) => void): (text: string) => void {
  let pending = "";
  let event = "";
  let data: string[] = [];
  let id: string | null = null;
  let skipLineFeed = false;

  const line = (text: string) => {
    if (text === "") {
      if (data.length > 0) onEvent({ event: event || "message", data: data.join("\n"), id });
      event = "";
      data = [];
      return;
    }
    if (text.startsWith(":")) return;
    const colon = text.indexOf(":");
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else if (field === "id" && !value.includes("\0")) id = value;
  };

  return (text) => {
    let start = 0;
    if (skipLineFeed && text.startsWith("\n")) start = 1;
    skipLineFeed = false;
    for (let i = start; i < text.length; i++) {
      const char = text[i];
      if (char !== "\n" && char !== "\r") continue;
      line(pending + text.slice(start, i));
      pending = "";
      if (char === "\r") {
        if (i + 1 === text.length) skipLineFeed = true;
        else if (text[i + 1] === "\n") i++;
      }
      start = i + 1;
    }
    pending += text.slice(start);
  };
}

/**
 * Reads a `text/event-stream` body to its end, calling `onEvent` for each event. Resolves when
 * the stream ends; rejects when reading fails (a dropped connection, an abort).
 *
 * @example
 * ```ts
 * const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
 * await readSse(response.body!, (e) => console.log(e.event));
 * ```
 */
export async function readSse(
  body: ReadableStream<Uint8Array>,
  onEvent: (event: SseEvent) => void,
): Promise<void> {
  const feed = sseParser(onEvent);
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) return feed(decoder.decode());
      feed(decoder.decode(value, { stream: true }));
    }
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
  onEvent(event: SseEvent): void;
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
        if (event.id !== null) lastEventId = event.id;
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
