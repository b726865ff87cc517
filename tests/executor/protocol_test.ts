import { assert, assertEquals, assertMatch } from "../assert.ts";
import {
  decodeRequest,
  decodeResult,
  type ExecutorRequest,
  type ExecutorResult,
  lineWriter,
  ProtocolError,
  readLines,
  readMessages,
  type TaskSpec,
} from "../../src/executor/protocol.ts";
import { serveExecutor } from "../../src/executor/executor_process.ts";
import { waitFor } from "../runner/support.ts";
import { withTempDir } from "../temp_dir.ts";

function chunks(...texts: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return ReadableStream.from(texts.map((text) => encoder.encode(text)));
}

Deno.test("protocol: readLines joins lines split across chunks and skips blank ones", async () => {
  const values = await Array.fromAsync(
    readLines(chunks('{"a":', '1}\n\n{"b"', ':"x\\ny"}\n{"c":3}')),
  );
  assertEquals(values, ['{"a":1}', '{"b":"x\\ny"}', '{"c":3}']);
});

/** The error `fn` throws, which must be a `ProtocolError`. */
function protocolError(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw error;
  }
  throw new Error("no ProtocolError thrown");
}

const SPEC: TaskSpec = {
  lines: ["echo {{ .name }}"],
  variables: { name: "world" },
  env: { GREETING: "hello" },
  cwd: "/tmp",
  allowFailure: false,
  stdoutPath: "/tmp/out.log",
  stderrPath: "/tmp/err.log",
  killTimeoutMs: 2000,
};

Deno.test("protocol: every request and result prunner sends decodes to itself", () => {
  const requests: ExecutorRequest[] = [
    { type: "run", id: 1, spec: SPEC },
    { type: "run", id: 2, spec: SPEC, held: true },
    { type: "go", id: 2 },
    { type: "kill", id: 1 },
    { type: "ping", id: 0 },
  ];
  for (const request of requests) {
    assertEquals(decodeRequest(JSON.parse(JSON.stringify(request))), request);
  }
  const results: ExecutorResult[] = [
    { type: "started", id: 1, pid: 4242 },
    { type: "done", id: 1, outcome: { exitCode: 3, error: "exit status 3", killed: false } },
    {
      type: "done",
      id: 2,
      outcome: {
        exitCode: 0,
        error: null,
        killed: true,
        dropped: { stderr: { bytes: 12, reason: "No space left on device (os error 28)" } },
        logged: ["stderr"],
      },
    },
    { type: "pong", id: 0 },
    { type: "rejected", id: null, error: "a message is not JSON" },
    { type: "rejected", id: 5, error: 'a "go" message has an invalid id' },
  ];
  for (const result of results) {
    assertEquals(decodeResult(JSON.parse(JSON.stringify(result))), result);
  }
});

Deno.test("protocol: a wrong message is refused with its type, id and the field that is wrong", () => {
  const lines = protocolError(() =>
    decodeRequest({ type: "run", id: 3, spec: { ...SPEC, lines: "echo hi" } })
  );
  assertEquals([lines.messageType, lines.id], ["run", 3]);
  assertEquals(
    lines.message,
    'a "run" message has an invalid spec.lines: expected an array of strings, got "echo hi"',
  );
  const { killTimeoutMs: _, ...noTimeout } = SPEC;
  assertMatch(
    protocolError(() => decodeRequest({ type: "run", id: 3, spec: noTimeout })).message,
    /invalid spec\.killTimeoutMs: expected a number of milliseconds, got nothing$/,
  );
  assertMatch(
    protocolError(() => decodeRequest({ type: "run", id: 3, spec: { ...SPEC, env: { A: 1 } } }))
      .message,
    /invalid spec\.env: expected an object of strings/,
  );
  assertMatch(
    protocolError(() => decodeRequest({ type: "run", id: 3, spec: SPEC, held: false })).message,
    /invalid held: expected true or nothing, got false$/,
  );
  const go = protocolError(() => decodeRequest({ type: "go", id: -1 }));
  assertEquals([go.messageType, go.id], ["go", null]);
  assertMatch(go.message, /^a "go" message has an invalid id: expected an integer of 0 or more/);
  const unknown = protocolError(() => decodeRequest({ type: "done", id: 4 }));
  assertEquals([unknown.messageType, unknown.id], [null, 4]);
  assertEquals(
    unknown.message,
    'a message has an unknown type "done" (known: run, go, kill, ping)',
  );
  assertEquals(
    protocolError(() => decodeResult([1, 2])).message,
    "a message is not a JSON object: [1,2]",
  );
  assertEquals(
    protocolError(() =>
      decodeResult({ type: "done", id: 1, outcome: { exitCode: 1.5, error: null, killed: false } })
    ).message,
    'a "done" message has an invalid outcome.exitCode: expected an integer, got 1.5',
  );
  assertMatch(
    protocolError(() =>
      decodeResult({
        type: "done",
        id: 1,
        outcome: { exitCode: 0, error: null, killed: false, dropped: { stdout: { bytes: 1 } } },
      })
    ).message,
    /invalid outcome\.dropped\.stdout\.reason: expected a string, got nothing$/,
  );
  assertMatch(
    protocolError(() =>
      decodeResult({
        type: "done",
        id: 1,
        outcome: { exitCode: 0, error: null, killed: false, logged: ["stdin"] },
      })
    ).message,
    /invalid outcome\.logged: expected an array of "stdout" and "stderr", got \["stdin"\]$/,
  );
  assertMatch(
    protocolError(() => decodeResult({ type: "started", id: 1, pid: 0 })).message,
    /invalid pid: expected a positive integer, got 0$/,
  );
});

Deno.test("protocol: readMessages yields an error for a bad line and reads the next ones", async () => {
  const messages = await Array.fromAsync(
    readMessages(
      chunks('{"type":"ping","id":1}\nnot json\n{"type":"ping"}\n', '{"type":"ping","id":2}'),
      decodeRequest,
    ),
  );
  assertEquals(messages.length, 4);
  assertEquals([messages[0], messages[3]], [{ type: "ping", id: 1 }, { type: "ping", id: 2 }]);
  const [notJson, noId] = [messages[1], messages[2]];
  assert(notJson instanceof ProtocolError && noId instanceof ProtocolError);
  assertMatch(notJson.message, /^a message is not JSON \(.+\): "not json"$/);
  assertMatch(noId.message, /^a "ping" message has an invalid id: .*got nothing$/);
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

/** An executor served in this process: requests are written as lines, its output is kept. */
function startExecutor() {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const input = new TransformStream<Uint8Array, Uint8Array>();
  const requests = input.writable.getWriter();
  const output: string[] = [];
  const served = serveExecutor(
    input.readable,
    new WritableStream({ write: (chunk) => void output.push(decoder.decode(chunk)) }),
  );
  return {
    /** Writes `lines` in one write, each ended by a line break. */
    send: (...lines: string[]) => requests.write(encoder.encode(lines.join("\n") + "\n")),
    /** All output so far as one text. */
    text: () => output.join(""),
    /** The messages written so far, parsed. */
    messages: () =>
      output.join("").split("\n").filter((line) => line !== "").map((line) => JSON.parse(line)),
    /** Ends the input and waits until the executor has finished. */
    async close() {
      await requests.close();
      await served;
    },
  };
}

Deno.test({
  name: "executor process: when its input ends it kills running tasks and reports them",
  ignore: Deno.build.os === "windows",
  fn: () =>
    withTempDir("prunner-executor-", async (dir) => {
      const executor = startExecutor();
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
      await executor.send(JSON.stringify(spec(1, "exit 4")));
      await executor.send(JSON.stringify(spec(2, "sleep 60")));
      await waitFor("task 1 done and task 2 started", () => {
        const text = executor.text();
        return text.includes('"type":"done","id":1') &&
          text.includes('"type":"started","id":2');
      });
      await executor.close();
      const messages = executor.messages();
      const started = messages.filter((message) => message.type === "started");
      assertEquals(started.map((message) => message.id), [1, 2]);
      assertEquals(started.every((message) => Number.isInteger(message.pid)), true);
      const results = messages.filter((message) => message.type !== "started");
      assertEquals(results, [
        {
          type: "done",
          id: 1,
          outcome: { exitCode: 4, error: "exit status 4", killed: false, logged: [] },
        },
        { type: "done", id: 2, outcome: { exitCode: -1, error: null, killed: true, logged: [] } },
      ]);
    }),
});

Deno.test({
  name: "executor process: a request it cannot use is answered with what is wrong; others run",
  ignore: Deno.build.os === "windows",
  fn: () =>
    withTempDir("prunner-executor-", async (dir) => {
      const executor = startExecutor();
      const spec = { ...SPEC, lines: ["exit 0"], cwd: dir, stdoutPath: `${dir}/out.log` };
      await executor.send(
        "not json",
        JSON.stringify({ type: "run", id: 3, spec: { ...spec, lines: "exit 0" } }),
        JSON.stringify({ type: "go" }),
        JSON.stringify({ type: "run", id: 4, spec }),
        JSON.stringify({ type: "ping", id: 5 }),
      );
      const results = () => executor.messages().filter((result) => result.type !== "started");
      await waitFor("task 4 done", () => results().some((result) => result.type === "done"));
      await executor.close();
      const [notJson, badRun, badGo, ...rest] = results();
      assertEquals([notJson.type, notJson.id], ["rejected", null]);
      assertMatch(notJson.error, /^a message is not JSON .*"not json"$/);
      assertEquals(badRun, {
        type: "rejected",
        id: 3,
        error:
          'a "run" message has an invalid spec.lines: expected an array of strings, got "exit 0"',
      });
      assertEquals([badGo.type, badGo.id], ["rejected", null]);
      assertMatch(badGo.error, /^a "go" message has an invalid id/);
      assertEquals(rest, [
        { type: "pong", id: 5 },
        { type: "done", id: 4, outcome: { exitCode: 0, error: null, killed: false, logged: [] } },
      ]);
    }),
});
