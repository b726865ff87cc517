import { assertEquals } from "../assert.ts";
import { lineWriter, readLines } from "../../src/executor/protocol.ts";
import { serveExecutor } from "../../src/executor/executor_process.ts";
import { waitFor } from "../runner/support.ts";

function chunks(...texts: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return ReadableStream.from(texts.map((text) => encoder.encode(text)));
}

Deno.test("protocol: readLines joins lines split across chunks and skips blank ones", async () => {
  const values = await Array.fromAsync(
    readLines(chunks('{"a":', '1}\n\n{"b"', ':"x\\ny"}\n{"c":3}')),
  );
  assertEquals(values, [{ a: 1 }, { b: "x\ny" }, { c: 3 }]);
});

Deno.test("protocol: lineWriter writes a burst of messages at once, then closes", async () => {
  const writes: string[] = [];
  const decoder = new TextDecoder();
  const writer = lineWriter(
    new WritableStream({ write: (chunk) => void writes.push(decoder.decode(chunk)) }),
  );
  writer.send({ id: 1 });
  writer.send({ id: 2 });
  await writer.close();
  assertEquals(writes, ['{"id":1}\n{"id":2}\n']);
});

Deno.test({
  name: "executor process: when its input ends it kills running tasks and reports them",
  ignore: Deno.build.os === "windows",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "prunner-executor-" });
    try {
      const encoder = new TextEncoder();
      const input = new TransformStream<Uint8Array, Uint8Array>();
      const requests = input.writable.getWriter();
      const output: string[] = [];
      const decoder = new TextDecoder();
      const served = serveExecutor(
        input.readable,
        new WritableStream({ write: (chunk) => void output.push(decoder.decode(chunk)) }),
      );
      const spec = (id: number, line: string) => ({
        type: "run",
        id,
        spec: {
          lines: [line],
          variables: {},
          env: {},
          cwd: dir,
          allowFailure: false,
          stdoutPath: `${dir}/${id}.out`,
          stderrPath: `${dir}/${id}.err`,
          killTimeoutMs: 2000,
        },
      });
      await requests.write(encoder.encode(JSON.stringify(spec(1, "exit 4")) + "\n"));
      await requests.write(encoder.encode(JSON.stringify(spec(2, "sleep 60")) + "\n"));
      await waitFor("task 1 done and task 2 started", () => {
        const text = output.join("");
        return text.includes('"type":"done","id":1') &&
          text.includes('"type":"started","id":2');
      });
      await requests.close();
      await served;
      const messages = output.join("").trim().split("\n").map((line) => JSON.parse(line));
      const started = messages.filter((message) => message.type === "started");
      assertEquals(started.map((message) => message.id), [1, 2]);
      assertEquals(started.every((message) => Number.isInteger(message.pid)), true);
      const results = messages.filter((message) => message.type !== "started");
      assertEquals(results, [
        { type: "done", id: 1, outcome: { exitCode: 4, error: "exit status 4", killed: false } },
        { type: "done", id: 2, outcome: { exitCode: -1, error: null, killed: true } },
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
