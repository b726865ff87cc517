import { assert, assertEquals } from "../assert.ts";
import { fakeRunner, makeJob, startTestServer } from "./support.ts";
import { waitFor } from "../runner/support.ts";

const MiB = 1024 * 1024;
const LOG_BYTES = 200 * MiB;
const CHUNK_BYTES = 64 * 1024;

/**
 * A log of `LOG_BYTES` produced lazily, one 64 KiB chunk per pull; each chunk is text that
 * needs escaping (quotes, backslashes, newlines) and multi-byte characters.
 */
function lazyLog(chunk: Uint8Array, chunks: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === chunks) {
        controller.close();
        return;
      }
      sent++;
      controller.enqueue(chunk.slice());
    },
  }, { highWaterMark: 0 });
}

function makeChunk(): { bytes: Uint8Array; escapedLength: number } {
  const line = 'log line with "quotes", a \\ backslash and ü€\n';
  let text = "";
  while (new TextEncoder().encode(text + line).length <= CHUNK_BYTES) text += line;
  const padding = CHUNK_BYTES - new TextEncoder().encode(text).length;
  text += "x".repeat(padding);
  const bytes = new TextEncoder().encode(text);
  const escapedLength = new TextEncoder().encode(JSON.stringify(text).slice(1, -1)).length;
  return { bytes, escapedLength };
}

Deno.test({
  name: "GET /job/logs streams a 200 MB log without the process growing by its size",
  sanitizeResources: false,
  fn: async () => {
    const job = makeJob();
    const runner = fakeRunner([job]);
    const { bytes, escapedLength } = makeChunk();
    assertEquals(bytes.length, CHUNK_BYTES);
    const chunks = LOG_BYTES / CHUNK_BYTES;
    runner.logs.set(`${job.id}/build/stdout`, () => lazyLog(bytes, chunks));
    runner.logs.set(`${job.id}/build/stderr`, () => lazyLog(new TextEncoder().encode("err"), 1));
    await using server = await startTestServer(runner);

    // Warm up the connection and code paths before the baseline is taken.
    const warm = await server.request(`/job/detail?id=${job.id}`);
    await warm.body?.cancel();
    const baseline = Deno.memoryUsage().rss;

    const response = await server.request(`/job/logs?id=${job.id}&task=build`);
    assertEquals(response.status, 200);
    const reader = response.body!.getReader();
    let received = 0;
    let peak = baseline;
    let head = "";
    let tail = new Uint8Array(0);
    for (let reads = 0;; reads++) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.length;
      if (head.length < 64) head += new TextDecoder().decode(value.subarray(0, 64));
      tail = value.length >= 64 ? value.slice(-64) : new Uint8Array([...tail, ...value].slice(-64));
      if (reads % 64 === 0) peak = Math.max(peak, Deno.memoryUsage().rss);
    }
    peak = Math.max(peak, Deno.memoryUsage().rss);

    const expected = '{"stdout":"'.length + chunks * escapedLength + '","stderr":"err"}\n'.length;
    assertEquals(received, expected, "every escaped byte arrived");
    assert(head.startsWith('{"stdout":"log line with \\"quotes\\"'), head);
    assert(new TextDecoder().decode(tail).endsWith('xx","stderr":"err"}\n'));
    const growth = peak - baseline;
    assert(
      growth < 64 * MiB,
      `RSS grew by ${(growth / MiB).toFixed(1)} MiB while streaming ${LOG_BYTES / MiB} MiB`,
    );
  },
});

Deno.test("a client that stops reading a log cancels the log streams", async () => {
  const job = makeJob();
  const runner = fakeRunner([job]);
  const canceled: string[] = [];
  const endless = (name: string) => () =>
    new ReadableStream<Uint8Array>({
      pull: (controller) => controller.enqueue(new Uint8Array(CHUNK_BYTES).fill(0x61)),
      cancel: () => {
        canceled.push(name);
      },
    }, { highWaterMark: 0 });
  runner.logs.set(`${job.id}/build/stdout`, endless("stdout"));
  runner.logs.set(`${job.id}/build/stderr`, endless("stderr"));
  await using server = await startTestServer(runner);
  const response = await server.request(`/job/logs?id=${job.id}&task=build`);
  const reader = response.body!.getReader();
  await reader.read();
  await reader.cancel();
  await waitFor("both log streams to be canceled", () => canceled.length === 2, 10_000);
  assertEquals(canceled.sort(), ["stderr", "stdout"]);
});
