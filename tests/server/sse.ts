/**
 * Test support: reads a `text/event-stream` response as parsed events, written independently of
 * the server's framing code.
 *
 * @module
 */

/** One parsed event or comment. */
export interface SseMessage {
  /** `null` for a comment. */
  event: string | null;
  id: string | null;
  /** The data lines joined, or the comment's text. */
  data: string;
}

/** Reads messages from an event stream one at a time. */
export interface SseReader {
  /** The next message, or `null` when the stream ended; fails after `timeoutMs` (default 20 s). */
  next(timeoutMs?: number): Promise<SseMessage | null>;
  /**
   * Messages until one satisfies `until` (included), or until the stream ends; fails after
   * `timeoutMs` in all (default 20 s), keepalive comments or not.
   */
  collect(until?: (message: SseMessage) => boolean, timeoutMs?: number): Promise<SseMessage[]>;
  cancel(): Promise<void>;
}

/** Parses the body of an event-stream response. */
export function readSse(response: Response): SseReader {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let done = false;
  const parse = (block: string): SseMessage => {
    const message: SseMessage = { event: "message", id: null, data: "" };
    const data: string[] = [];
    let comment: string | null = null;
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) {
        comment = line.slice(1).trim();
        continue;
      }
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") message.event = value;
      else if (field === "id") message.id = value;
      else if (field === "data") data.push(value);
    }
    if (comment !== null && data.length === 0 && message.id === null) {
      return { event: null, id: null, data: comment };
    }
    message.data = data.join("\n");
    return message;
  };
  const next = async (timeoutMs = 20_000): Promise<SseMessage | null> => {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const end = buffer.indexOf("\n\n");
      if (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        return parse(block);
      }
      if (done) return null;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no complete event within ${timeoutMs} ms: ${buffer}`)),
          Math.max(0, deadline - Date.now()),
        );
      });
      try {
        const result = await Promise.race([reader.read(), timeout]);
        if (result.done) done = true;
        else buffer += result.value;
      } finally {
        clearTimeout(timer);
      }
    }
  };
  return {
    next,
    async collect(until = () => false, timeoutMs = 20_000) {
      const messages: SseMessage[] = [];
      const deadline = Date.now() + timeoutMs;
      while (true) {
        if (Date.now() > deadline) {
          throw new Error(`collected for ${timeoutMs} ms without the awaited message`);
        }
        const message = await next(deadline - Date.now());
        if (message === null) return messages;
        messages.push(message);
        if (until(message)) return messages;
      }
    },
    cancel: () => reader.cancel(),
  };
}
