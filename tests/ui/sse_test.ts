import {
  followEvents,
  readSse,
  type SseEvent,
  sseParser,
  StreamRefusedError,
  type StreamState,
} from "../../src/ui/client/sse.ts";
import { assertEquals, assertRejects } from "../assert.ts";

function parseAll(chunks: string[]): SseEvent[] {
  const events: SseEvent[] = [];
  const feed = sseParser((event) => events.push(event));
  for (const chunk of chunks) feed(chunk);
  return events;
}

const STREAM = 'id: b.1\nevent: stdout\ndata: {"text":"a"}\n\n: keepalive\n\n' +
  "event: end\ndata: line one\ndata: line two\n\n";

Deno.test("sseParser: events, comments, multi-line data and ids carried over", () => {
  assertEquals(parseAll([STREAM]), [
    { event: "stdout", data: '{"text":"a"}', id: "b.1" },
    { event: "end", data: "line one\nline two", id: "b.1" },
  ]);
});

Deno.test("sseParser: the same events whatever the chunking, with LF, CRLF or CR", () => {
  const expected = parseAll([STREAM]);
  for (const newline of ["\n", "\r\n", "\r"]) {
    const text = STREAM.replaceAll("\n", newline);
    for (let size = 1; size <= 7; size++) {
      const chunks = [];
      for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
      assertEquals(parseAll(chunks), expected, `newline ${JSON.stringify(newline)}, size ${size}`);
    }
  }
});

Deno.test("sseParser: an event without data is not dispatched; no event name is message", () => {
  assertEquals(parseAll(["event: ping\n\ndata:x\n\n", "data\n\n"]), [
    { event: "message", data: "x", id: null },
    { event: "message", data: "", id: null },
  ]);
});

function body(chunks: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return ReadableStream.from(chunks.map((c) => typeof c === "string" ? encoder.encode(c) : c));
}

Deno.test("readSse: decodes UTF-8 split across chunks", async () => {
  const bytes = new TextEncoder().encode("data: grüße\n\n");
  const events: SseEvent[] = [];
  await readSse(body([bytes.slice(0, 9), bytes.slice(9)]), (event) => events.push(event));
  assertEquals(events.map((e) => e.data), ["grüße"]);
});

Deno.test("followEvents: reconnects after the stream ends, sending the last event id", async () => {
  const controller = new AbortController();
  const opened: (string | null)[] = [];
  const received: string[] = [];
  const states: StreamState[] = [];
  const streams = [
    "id: boot.1\nevent: job_scheduled\ndata: 1\n\nid: boot.2\nevent: job_started\ndata: 2\n\n",
    "id: boot.3\nevent: job_completed\ndata: 3\n\n",
  ];
  await followEvents({
    open(lastEventId) {
      opened.push(lastEventId);
      const next = streams.shift();
      if (next === undefined) {
        controller.abort();
        return Promise.reject(new DOMException("aborted", "AbortError"));
      }
      return Promise.resolve(new Response(body([next])));
    },
    onEvent: (event) => received.push(`${event.event}:${event.data}`),
    onState: (state) => states.push(state),
    signal: controller.signal,
    retryDelayMs: () => 0,
  });
  assertEquals(opened, [null, "boot.2", "boot.3"]);
  assertEquals(received, ["job_scheduled:1", "job_started:2", "job_completed:3"]);
  assertEquals(states, ["connecting", "live", "reconnecting", "live", "reconnecting"]);
});

Deno.test("followEvents: retries after failures and error statuses, backing off", async () => {
  const controller = new AbortController();
  const delays: number[] = [];
  let calls = 0;
  await followEvents({
    open() {
      calls++;
      if (calls === 1) return Promise.reject(new TypeError("connection refused"));
      if (calls === 2) return Promise.resolve(new Response("busy", { status: 503 }));
      controller.abort();
      return Promise.resolve(new Response(body([])));
    },
    onEvent() {},
    onState() {},
    signal: controller.signal,
    retryDelayMs: (attempt) => {
      delays.push(attempt);
      return 0;
    },
  });
  assertEquals(calls, 3);
  assertEquals(delays, [1, 2]);
});

Deno.test("followEvents: a refused token stops following with StreamRefusedError", async () => {
  let calls = 0;
  const error = await assertRejects(
    () =>
      followEvents({
        open() {
          calls++;
          return Promise.resolve(new Response('{"error":"token expired"}', { status: 401 }));
        },
        onEvent() {},
        onState() {},
        signal: new AbortController().signal,
        retryDelayMs: () => 0,
      }),
    StreamRefusedError,
  );
  assertEquals(error.status, 401);
  assertEquals(calls, 1);
});
