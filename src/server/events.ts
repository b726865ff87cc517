/**
 * The body of `GET /events`: every runner event as a Server-Sent Event with an id, kept in a
 * ring buffer so that a client reconnecting with `Last-Event-ID` gets what it missed.
 *
 * Each event is serialized once, when it happens, and kept as encoded bytes; every connection
 * only remembers the sequence number of the next event it needs and pulls from the ring as fast
 * as it reads, so slow or many clients cost no memory beyond the ring. A client that falls so
 * far behind that its next event has left the ring gets `reload` and continues with new events.
 * The feed subscribes when the first client connects: ids are those of one server start, so no
 * client can ask for an event before that. A prunner nobody follows live pays nothing for its
 * events, and a node of a cluster reads nothing of what other nodes do until then.
 *
 * @module
 */
import type { Job } from "../engine/job.ts";
import type { EventHub, RunnerEvent } from "../runner/events.ts";
import { jobToJson } from "./json.ts";
import { KEEPALIVE, sseEvent } from "./sse.ts";
import { concatBytes } from "../bytes.ts";

/** Events kept for reconnecting clients. */
export const EVENT_RING_SIZE = 4096;

/** Most bytes of events kept: jobs with many tasks make big events. */
export const EVENT_RING_BYTES = 16 * 1024 * 1024;

/** Idle time after which a comment is sent, in ms. */
export const KEEPALIVE_MS = 15_000;

/** Events sent in one chunk when a client catches up. */
const BATCH = 64;

/** Settings of an event feed (tests shorten them). */
export interface EventFeedOptions {
  /** Events kept for reconnecting clients (default {@linkcode EVENT_RING_SIZE}). */
  capacity?: number;
  /** Most bytes of events kept (default {@linkcode EVENT_RING_BYTES}); the newest always is. */
  maxBytes?: number;
  /** Idle time before a keepalive comment (default {@linkcode KEEPALIVE_MS}). */
  keepaliveMs?: number;
  /** Ends every stream and stops listening when aborted (server shutdown). */
  signal?: AbortSignal;
}

/** The events of one server start, for any number of clients. */
export interface EventFeed {
  /** Random per feed: ids of another server start are unknown. */
  readonly bootId: string;
  /**
   * A client's stream: the events after `lastEventId` when they are still in the ring, else
   * `reload` first (only when `lastEventId` is given); then new events as they happen.
   */
  open(lastEventId: string | null): ReadableStream<Uint8Array>;
}

const encoder = new TextEncoder();

/**
 * Subscribes to `hub` and serves its events to clients.
 *
 * @example
 * ```ts
 * const feed = createEventFeed(runner.events);
 * const body = feed.open(request.headers.get("last-event-id"));
 * return new Response(body, { headers: SSE_HEADERS });
 * ```
 */
export function createEventFeed(
  hub: Pick<EventHub, "subscribe">,
  options: EventFeedOptions = {},
): EventFeed {
  const capacity = options.capacity ?? EVENT_RING_SIZE;
  const maxBytes = options.maxBytes ?? EVENT_RING_BYTES;
  const keepaliveMs = options.keepaliveMs ?? KEEPALIVE_MS;
  const signal = options.signal;
  const bootId = crypto.randomUUID().slice(0, 8);
  /** The encoded events kept, oldest first: `ring[i]` has sequence number `first + i`. */
  const ring: Uint8Array[] = [];
  let first = 1;
  let ringBytes = 0;
  /** Sequence number of the newest event; 0 before the first. */
  let last = 0;
  /** Wakes the connections waiting for an event. */
  const waiters = new Set<() => void>();
  let closed = signal?.aborted ?? false;
  const wakeAll = () => {
    for (const wake of waiters) wake();
    waiters.clear();
  };

  const keep = (event: RunnerEvent) => {
    const message = toMessage(event);
    if (message === null) return;
    last++;
    const id = `${bootId}.${last}`;
    const bytes = encoder.encode(sseEvent(message.name, message.data, id));
    ring.push(bytes);
    ringBytes += bytes.length;
    while (ring.length > capacity || (ringBytes > maxBytes && ring.length > 1)) {
      ringBytes -= ring.shift()!.length;
      first++;
    }
    wakeAll();
  };
  /** Set once the first client connected: no id was handed out before. */
  let unsubscribe: (() => void) | null = null;
  const close = () => {
    closed = true;
    unsubscribe?.();
    wakeAll();
  };
  if (closed) close();
  else signal?.addEventListener("abort", close, { once: true });

  /** The sequence number a client continues after, or `null` when it must reload. */
  const resumeAfter = (lastEventId: string): number | null => {
    const match = /^([0-9a-f]{8})\.(\d{1,15})$/.exec(lastEventId.trim());
    if (!match || match[1] !== bootId) return null;
    const seq = Number(match[2]);
    return seq <= last && seq >= first - 1 ? seq : null;
  };

  return {
    bootId,
    open(lastEventId) {
      if (unsubscribe === null && !closed) unsubscribe = hub.subscribe(keep);
      let next = last + 1;
      let reload = false;
      if (lastEventId !== null) {
        const after = resumeAfter(lastEventId);
        if (after === null) reload = true;
        else next = after + 1;
      }
      let ended = false;
      let wake: (() => void) | null = null;
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          while (!ended) {
            if (reload || next < first) {
              reload = false;
              next = last + 1;
              controller.enqueue(encoder.encode(sseEvent("reload", {}, `${bootId}.${last}`)));
              return;
            }
            if (next <= last) {
              const parts: Uint8Array[] = [];
              while (next <= last && parts.length < BATCH) {
                parts.push(ring[next++ - first]);
              }
              controller.enqueue(concatBytes(parts));
              return;
            }
            if (closed) {
              ended = true;
              controller.close();
              return;
            }
            const { promise, resolve } = Promise.withResolvers<void>();
            let idle = false;
            const timer = setTimeout(() => {
              idle = true;
              resolve();
            }, keepaliveMs);
            wake = resolve;
            waiters.add(resolve);
            await promise;
            clearTimeout(timer);
            waiters.delete(resolve);
            wake = null;
            if (idle && !ended) {
              controller.enqueue(encoder.encode(KEEPALIVE));
              return;
            }
          }
        },
        cancel() {
          ended = true;
          wake?.();
        },
      }, { highWaterMark: 0 });
    },
  };
}

/**
 * The event's name and JSON data as the API sends them, or `null` for events the API does not
 * send: a timeout shows in the `task_finished` that follows, and a refused job never existed.
 */
function toMessage(event: RunnerEvent): { name: string; data: unknown } | null {
  switch (event.type) {
    case "job_scheduled":
    case "job_started":
    case "job_completed":
      return { name: event.type, data: { job: jobWithoutVariables(event.job) } };
    case "task_started":
    case "task_finished":
      return {
        name: event.type,
        data: { job: jobWithoutVariables(event.job), task: event.task.name },
      };
    case "jobs_removed":
      return { name: event.type, data: { ids: event.ids } };
    case "pipelines_reloaded":
      return { name: event.type, data: {} };
    case "task_timed_out":
    case "job_refused":
      return null;
  }
}

function jobWithoutVariables(job: Job) {
  const { variables: _, ...rest } = jobToJson(job);
  return rest;
}
