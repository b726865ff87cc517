import type { EventSourceMessage } from "../../src/client/sse.ts";
import {
  followEvents,
  readSse,
  StreamRefusedError,
  type StreamState,
} from "../../src/ui/client/sse.ts";
import { assertEquals, assertRejects } from "../assert.ts";

function body(
  chunks: (string | Uint8Array<ArrayBuffer>)[],
): ReadableStream<Uint8Array<ArrayBuffer>> {
  const encoder = new TextEncoder();
  return ReadableStream.from(chunks.map((c) => typeof c === "string" ? encoder.encode(c) : c));
}

async function readAll(
  chunks: (string | Uint8Array<ArrayBuffer>)[],
): Promise<EventSourceMessage[]> {
  const events: EventSourceMessage[] = [];
  await readSse(body(chunks), (event) => events.push(event));
  return events;
}

const STREAM = 'id: b.1\nevent: stdout\ndata: {"text":"a"}\n\n: keepalive\n\n' +
  "event: end\ndata: line one\ndata: line two\n\n";

Deno.test("readSse: events, comments, multi-line data and each event's id", async () => {
  assertEquals(await readAll([STREAM]), [
    { event: "stdout", data: '{"text":"a"}', id: "b.1" },
    { event: "end", data: "line one\nline two", id: undefined },
  ]);
});

Deno.test("readSse: the same events whatever the chunking, with LF, CRLF or CR", async () => {
  const expected = await readAll([STREAM]);
  for (const newline of ["\n", "\r\n", "\r"]) {
    const text = STREAM.replaceAll("\n", newline);
    for (let size = 1; size <= 7; size++) {
      const chunks = [];
      for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
      assertEquals(
        await readAll(chunks),
        expected,
        `newline ${JSON.stringify(newline)}, size ${size}`,
      );
    }
  }
});

Deno.test("readSse: decodes UTF-8 split across chunks", async () => {
  const bytes = new TextEncoder().encode("data: grüße\n\n");
  const events = await readAll([bytes.slice(0, 9), bytes.slice(9)]);
  assertEquals(events.map((e) => e.data), ["grüße"]);
});

Deno.test("readSse: a listener that throws rejects and cancels the stream", async () => {
  let canceled: unknown = null;
  const stream = new ReadableStream<Uint8Array<ArrayBuffer>>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode("data: 1\n\n"));
    },
    cancel(reason) {
      canceled = reason;
    },
  });
  const failure = new Error("listener failed");
  const error = await assertRejects(() =>
    readSse(stream, () => {
      throw failure;
    })
  );
  assertEquals([error, canceled], [failure, failure]);
});

Deno.test("followEvents: reconnects after the stream ends, sending the last event id seen", async () => {
  const controller = new AbortController();
  const opened: (string | null)[] = [];
  const received: string[] = [];
  const states: StreamState[] = [];
  const streams = [
    "id: boot.1\nevent: job_scheduled\ndata: 1\n\nid: boot.2\nevent: job_started\ndata: 2\n\n",
    // An event without an id leaves the last one in force.
    "id: boot.3\nevent: job_completed\ndata: 3\n\nevent: pipelines_reloaded\ndata: 4\n\n",
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
  assertEquals(received, [
    "job_scheduled:1",
    "job_started:2",
    "job_completed:3",
    "pipelines_reloaded:4",
  ]);
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
