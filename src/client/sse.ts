/**
 * Reading Server-Sent Events from a `fetch` response body (EventSource cannot send the
 * `Authorization` header prunner requires). Browser-safe: the web UI reads its streams with it
 * too.
 *
 * @module
 */
import type { EventSourceMessage } from "eventsource-parser";
import { EventSourceParserStream } from "eventsource-parser/stream";

export type { EventSourceMessage };

/**
 * The events of an SSE body, in order. `onId` sees every event id, for `Last-Event-ID` on a
 * reconnect. Canceling the returned stream cancels the body.
 *
 * @example
 * ```ts
 * const response = await fetch(`${url}/events`, { headers });
 * for await (const message of readEvents(response.body!)) console.log(message.event);
 * ```
 */
export function readEvents(
  body: ReadableStream<BufferSource>,
  onId?: (id: string) => void,
): ReadableStream<EventSourceMessage> {
  return body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream({ onId }));
}
