import { assert, assertEquals } from "../assert.ts";
import type { Job } from "../../src/engine/job.ts";
import { fakeRunner, makeJob, makeTask, startTestServer, type TestServer } from "./support.ts";
import { readSse, type SseMessage } from "./sse.ts";
import { waitFor } from "../runner/support.ts";

const MiB = 1024 * 1024;
const encoder = new TextEncoder();

/** Appends to a task's log file, creating it and its directory. */
async function append(
  server: TestServer,
  job: Job,
  task: string,
  stream: string,
  data: string | Uint8Array,
) {
  const path = server.runner.logPath(job.id, task, stream as "stdout" | "stderr");
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeFile(path, typeof data === "string" ? encoder.encode(data) : data, {
    append: true,
  });
}

/** Marks the task ended and tells the event hub, as the runner does. */
function finish(
  server: TestServer,
  job: Job,
  task: string,
  status: "done" | "error",
  exitCode = 0,
) {
  const found = job.tasks.find((t) => t.name === task)!;
  found.status = status;
  found.exitCode = exitCode;
  found.errored = status === "error";
  server.runner.events.emit({ type: "task_finished", job, task: found });
}

function runningJob(): Job {
  return makeJob({
    start: 1_000,
    tasks: [makeTask({ name: "build", status: "running", start: 1_000 })],
  });
}

/** The text of each stream and the `end` data, from a list of messages. */
function summarize(messages: SseMessage[]): { stdout: string; stderr: string; end: unknown } {
  const summary = { stdout: "", stderr: "", end: null as unknown };
  for (const message of messages) {
    if (message.event === "stdout" || message.event === "stderr") {
      summary[message.event] += JSON.parse(message.data).text;
    } else if (message.event === "end") {
      summary.end = JSON.parse(message.data);
    }
  }
  return summary;
}

Deno.test("a finished task's log stream sends everything, then end, and closes", async () => {
  const job = makeJob({
    completed: true,
    tasks: [makeTask({ name: "build", status: "error", exitCode: 3, errored: true })],
  });
  await using server = await startTestServer(fakeRunner([job]), { logPollMs: 60_000 });
  // "é" split across two writes is one character; a lone 0xff byte becomes U+FFFD.
  await append(server, job, "build", "stdout", new Uint8Array([0x68, 0x69, 0xc3]));
  await append(server, job, "build", "stdout", new Uint8Array([0xa9, 0x0a, 0xff, 0x21]));
  await append(server, job, "build", "stderr", 'it "failed"\n');

  const response = await server.request(`/job/logs/stream?id=${job.id}&task=build`);
  assertEquals(response.status, 200);
  assertEquals(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
  const messages = await readSse(response).collect();
  assertEquals(messages.at(-1)?.event, "end", "end is the last message and the stream closes");
  assertEquals(summarize(messages), {
    stdout: "hié\n\ufffd!",
    stderr: 'it "failed"\n',
    end: { status: "error", exitCode: 3 },
  });
});

Deno.test("stdout and stderr take turns: a flood on one does not hold back the other", async () => {
  const job = makeJob({ completed: true, tasks: [makeTask({ name: "build", status: "done" })] });
  await using server = await startTestServer(fakeRunner([job]));
  await append(server, job, "build", "stdout", "o".repeat(MiB));
  await append(server, job, "build", "stderr", "e".repeat(MiB));
  const messages = (await readSse(
    await server.request(`/job/logs/stream?id=${job.id}&task=build`),
  ).collect()).filter((m) => m.event !== null);
  const kinds = messages.map((m) => m.event);
  assert(kinds.length > 4, `${kinds.length} events`);
  assertEquals(kinds.slice(0, 4), ["stdout", "stderr", "stdout", "stderr"]);
  assertEquals(summarize(messages).stderr.length, MiB);
  assertEquals(summarize(messages).stdout.length, MiB);
});

Deno.test("a running task's log stream follows new output until the task ends", async () => {
  const job = runningJob();
  await using server = await startTestServer(fakeRunner([job]), { logPollMs: 20 });
  await append(server, job, "build", "stdout", "first\n");
  const sse = readSse(await server.request(`/job/logs/stream?id=${job.id}&task=build`));
  const first = await sse.next();
  assertEquals(first?.event, "stdout");
  assertEquals(JSON.parse(first!.data), { text: "first\n" });

  await append(server, job, "build", "stderr", "warning\n");
  await append(server, job, "build", "stdout", "second\n");
  const more: SseMessage[] = [];
  await sse.collect((m) => {
    more.push(m);
    return summarize(more).stdout.includes("second") && summarize(more).stderr !== "";
  });
  assertEquals(summarize([first!, ...more]).stderr, "warning\n");

  await append(server, job, "build", "stdout", "last words\n");
  finish(server, job, "build", "done");
  const rest = await sse.collect();
  const all = summarize([first!, ...more, ...rest]);
  assertEquals(all, {
    stdout: "first\nsecond\nlast words\n",
    stderr: "warning\n",
    end: { status: "done", exitCode: 0 },
  });
});

Deno.test("a retried task is followed from its current attempt into the next ones", async () => {
  const job = runningJob();
  job.tasks[0].attempt = 1;
  await using server = await startTestServer(fakeRunner([job]), { logPollMs: 10 });
  const write = async (attempt: number, text: string) => {
    const path = server.runner.logPath(job.id, "build", "stdout", attempt);
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, text, { append: true });
  };
  await write(1, "attempt one\n");
  const sse = readSse(await server.request(`/job/logs/stream?id=${job.id}&task=build`));
  assertEquals(JSON.parse((await sse.next())!.data), { text: "attempt one\n" });

  // The attempt fails and waits out its retry delay: the stream goes on.
  const task = job.tasks[0];
  Object.assign(task, { status: "waiting", exitCode: 1, errored: true, retryAt: Date.now() });
  server.runner.events.emit({ type: "task_finished", job, task });
  Object.assign(task, { status: "running", attempt: 2, exitCode: 0, errored: false });
  delete task.retryAt;
  server.runner.events.emit({ type: "task_started", job, task });
  await write(2, "attempt two\n");
  finish(server, job, "build", "done");
  const all = summarize(await sse.collect());
  assertEquals(all, { stdout: "attempt two\n", stderr: "", end: { status: "done", exitCode: 0 } });

  const later = readSse(await server.request(`/job/logs/stream?id=${job.id}&task=build`));
  assertEquals(summarize(await later.collect()).stdout, "attempt two\n", "the last attempt");
});

Deno.test("a task that never prints gets keepalives, then end without output", async () => {
  const job = runningJob();
  await using server = await startTestServer(fakeRunner([job]), {
    logPollMs: 10,
    keepaliveMs: 50,
  });
  const sse = readSse(await server.request(`/job/logs/stream?id=${job.id}&task=build`));
  const idle = await sse.collect((m) => m.event === null);
  assertEquals(idle, [{ event: null, id: null, data: "keepalive" }]);
  finish(server, job, "build", "error", 127);
  const rest = await sse.collect();
  assertEquals(rest.filter((m) => m.event !== null).map((m) => [m.event, m.data]), [
    ["end", '{"status":"error","exitCode":127}'],
  ]);
});

Deno.test("a task that has not started is waited for; a canceled job ends its streams", async () => {
  const job = makeJob({
    tasks: [makeTask({ name: "a" }), makeTask({ name: "b", dependsOn: ["a"] })],
  });
  await using server = await startTestServer(fakeRunner([job]), { logPollMs: 10 });
  const a = readSse(await server.request(`/job/logs/stream?id=${job.id}&task=a`));
  const b = readSse(await server.request(`/job/logs/stream?id=${job.id}&task=b`));

  job.tasks[0].status = "running";
  server.runner.events.emit({ type: "task_started", job, task: job.tasks[0] });
  await append(server, job, "a", "stdout", "started\n");
  const [output] = await a.collect((m) => m.event === "stdout");
  assertEquals(JSON.parse(output.data), { text: "started\n" });

  job.tasks[0].status = "canceled";
  job.tasks[1].status = "canceled";
  job.completed = true;
  job.canceled = true;
  server.runner.events.emit({ type: "job_completed", job });
  assertEquals(summarize(await a.collect()).end, { status: "canceled", exitCode: 0 });
  assertEquals(summarize(await b.collect()), {
    stdout: "",
    stderr: "",
    end: { status: "canceled", exitCode: 0 },
  });
});

Deno.test("many followers of one task each get all of its output and the end", async () => {
  const job = runningJob();
  await using server = await startTestServer(fakeRunner([job]), { logPollMs: 10 });
  await append(server, job, "build", "stdout", "before\n");
  const followers = await Promise.all(
    Array.from(
      { length: 40 },
      async () => readSse(await server.request(`/job/logs/stream?id=${job.id}&task=build`)),
    ),
  );
  for (const follower of followers) {
    assertEquals((await follower.next())?.event, "stdout");
  }
  for (let i = 0; i < 20; i++) await append(server, job, "build", "stdout", `line ${i}\n`);
  finish(server, job, "build", "done");
  const expected = Array.from({ length: 20 }, (_, i) => `line ${i}\n`).join("");
  for (const follower of followers) {
    const { stdout, end } = summarize(await follower.collect());
    assertEquals(stdout, expected);
    assertEquals(end, { status: "done", exitCode: 0 });
  }
});

Deno.test({
  name: "following a 256 MiB log does not grow the process by its size",
  sanitizeResources: false,
  fn: async () => {
    const job = runningJob();
    await using server = await startTestServer(fakeRunner([job]), { logPollMs: 10 });
    const line = 'line with "quotes", ü and € to escape\n';
    const chunk = encoder.encode(line.repeat(Math.floor(MiB / encoder.encode(line).length)));
    const chunks = Math.ceil((256 * MiB) / chunk.length);
    const path = server.runner.logPath(job.id, "build", "stdout");
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    {
      using file = await Deno.open(path, { create: true, write: true });
      for (let i = 0; i < chunks; i++) await file.write(chunk);
    }
    const warm = await server.request(`/job/detail?id=${job.id}`);
    await warm.body?.cancel();
    const baseline = Deno.memoryUsage().rss;

    const response = await server.request(`/job/logs/stream?id=${job.id}&task=build`);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let peak = baseline;
    let characters = 0;
    let tail = "";
    let finished = false;
    for (let reads = 0;; reads++) {
      const { done, value } = await reader.read();
      if (done) break;
      characters += value.length;
      tail = (tail + value).slice(-200);
      if (reads % 32 === 0) peak = Math.max(peak, Deno.memoryUsage().rss);
      if (!finished && characters > 64 * MiB) {
        finished = true;
        finish(server, job, "build", "done");
      }
    }
    peak = Math.max(peak, Deno.memoryUsage().rss);
    assert(characters > chunks * chunk.length, `only ${characters} characters arrived`);
    assert(tail.endsWith('event: end\ndata: {"status":"done","exitCode":0}\n\n'), tail);
    const growth = peak - baseline;
    assert(
      growth < 64 * MiB,
      `RSS grew by ${(growth / MiB).toFixed(1)} MiB while following ${chunks} MiB`,
    );
  },
});

Deno.test("log streams answer 404 for an unknown job or task, like /job/logs", async () => {
  const job = runningJob();
  await using server = await startTestServer(fakeRunner([job]));
  for (
    const path of [
      `/job/logs/stream?id=${crypto.randomUUID()}&task=build`,
      `/job/logs/stream?id=${job.id}&task=nope`,
      `/job/logs/raw?id=${job.id}&task=nope&stream=stdout`,
    ]
  ) {
    const response = await server.request(path);
    assertEquals(response.status, 404, path);
    const { error } = await response.json();
    assert(/not found/.test(error), error);
  }
});

Deno.test("GET /job/logs/raw sends the log file as a text attachment", async () => {
  const job = makeJob({ tasks: [makeTask({ name: "build / ü" })] });
  const runner = fakeRunner([job]);
  runner.logs.set(
    `${job.id}/build / ü/stderr`,
    () => ReadableStream.from([encoder.encode("raw\xff")]),
  );
  await using server = await startTestServer(runner);
  const task = encodeURIComponent("build / ü");
  const response = await server.request(`/job/logs/raw?id=${job.id}&task=${task}&stream=stderr`);
  assertEquals(response.status, 200);
  assertEquals(response.headers.get("content-type"), "text/plain; charset=utf-8");
  const disposition = response.headers.get("content-disposition") ?? "";
  assert(
    disposition.startsWith(`attachment; filename="${job.id}-build____.stderr.log"`),
    disposition,
  );
  assert(
    disposition.includes(
      `filename*=UTF-8''${encodeURIComponent(`${job.id}-build / ü.stderr.log`)}`,
    ),
    disposition,
  );
  assertEquals(new Uint8Array(await response.arrayBuffer()), encoder.encode("raw\xff"));

  const empty = await server.request(`/job/logs/raw?id=${job.id}&task=${task}&stream=stdout`);
  assertEquals(empty.status, 200);
  assertEquals(await empty.text(), "", "nothing written is an empty file");
});

Deno.test("followers that go away stop listening for their task's end", async () => {
  const job = makeJob();
  await using server = await startTestServer(fakeRunner([job]), { logPollMs: 10 });
  const before = server.runner.listeners();
  const followers = await Promise.all(
    Array.from(
      { length: 10 },
      async () => readSse(await server.request(`/job/logs/stream?id=${job.id}&task=build`)),
    ),
  );
  await waitFor("the followers to listen", () => server.runner.listeners() === before + 10);
  await Promise.all(followers.map((follower) => follower.cancel()));
  await waitFor("the followers to stop listening", () => server.runner.listeners() === before);
});
