/**
 * Server-Sent Events framing: the `text/event-stream` lines of one event or comment.
 *
 * @module
 */

/** Response headers of an event stream; proxies such as nginx are told not to buffer it. */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
};

/** The comment sent on idle streams so proxies and clients see the connection is alive. */
export const KEEPALIVE = ": keepalive\n\n";

/**
 * One event: optional `id:`, `event:` and one `data:` line of JSON (JSON text has no line
 * breaks, so one line always suffices).
 *
 * @example
 * ```ts
 * sseEvent("stdout", { text: "hello\n" }); // 'event: stdout\ndata: {"text":"hello\\n"}\n\n'
 * sseEvent("reload", {}, "k3x.12"); // "id: k3x.12\nevent: reload\ndata: {}\n\n"
 * ```
 */
export function sseEvent(name: string, data: unknown, id?: string): string {
  return `${id === undefined ? "" : `id: ${id}\n`}event: ${name}\ndata: ${
    JSON.stringify(data)
  }\n\n`;
}
