import { createClient } from "../../src/client/api.ts";
import type { JobJson, TaskJson } from "../../src/client/json.ts";
import { followJob, type OutputChunk } from "../../src/client/follow.ts";
import { watchJob } from "../../src/client/watch.ts";
import { UnknownTaskError } from "../../src/client/errors.ts";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { waitFor } from "../runner/support.ts";

const credentials = { authorization: () => Promise.resolve("Bearer t"), source: "test" };
const ID = "52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8";

function task(name: string, status: TaskJson["status"], started: boolean): TaskJson {
  return {
    name,
    status,
    skipped: status === "skipped",
    exitCode: 0,
    errored: false,
    ...(started ? { start: "2026-11-30T08:00:01Z" } : {}),
  };
}

function job(state: "waiting" | "running" | "done", tasks: TaskJson[] = []): JobJson {
  return {
    id: ID,
    pipeline: "p",
    tasks,
    completed: state === "done",
    canceled: false,
    errored: false,
    created: "2026-11-30T08:00:00Z",
    ...(state === "waiting" ? {} : { start: "2026-11-30T08:00:01Z" }),
    ...(state === "done" ? { end: "2026-11-30T08:00:05Z" } : {}),
    user: "u",
  };
}

/** An SSE response body the test writes to; aborting the request errors it, as fetch does. */
class SseConnection {
  readonly body: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  closed = false;

  constructor(readonly request: Request) {
    this.body = new ReadableStream({
      start: (controller) => this.#controller = controller,
      cancel: () => {
        this.closed = true;
      },
    });
    request.signal.addEventListener("abort", () => {
      this.closed = true;
      this.#controller.error(new DOMException("aborted", "AbortError"));
    });
  }

  send(event: string, data: unknown, id?: string): void {
    const lines = [`event: ${event}`, `data: ${JSON.stringify(data)}`];
    if (id) lines.unshift(`id: ${id}`);
    this.#controller.enqueue(new TextEncoder().encode(`${lines.join("\n")}\n\n`));
  }

  end(): void {
    this.closed = true;
    this.#controller.close();
  }

  response(): Response {
    return new Response(this.body, { headers: { "content-type": "text/event-stream" } });
  }
}

/** A fake prunner: the job's state is set by the test; every SSE connection is kept. */
function fakeServer(options: { events: boolean }) {
  const state = { job: job("waiting", [task("a", "waiting", false)]), detailReads: 0 };
  const events: SseConnection[] = [];
  const logs = new Map<string, SseConnection>();
  const fetchFn = (input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/job/detail":
        state.detailReads++;
        return Promise.resolve(Response.json(state.job));
      case "/events": {
        if (!options.events) {
          return Promise.resolve(Response.json({ error: "not found" }, { status: 404 }));
        }
        const connection = new SseConnection(request);
        events.push(connection);
        return Promise.resolve(connection.response());
      }
      case "/job/logs/stream": {
        const connection = new SseConnection(request);
        logs.set(url.searchParams.get("task")!, connection);
        return Promise.resolve(connection.response());
      }
    }
    return Promise.resolve(Response.json({ error: "not found" }, { status: 404 }));
  };
  return { state, events, logs, client: createClient("http://fake", credentials, fetchFn) };
}

Deno.test("watchJob: follows the job through events, reconnecting with Last-Event-ID", async () => {
  const server = fakeServer({ events: true });
  const seen: string[] = [];
  const watching = watchJob(server.client, ID, {
    intervalMs: 5,
    onChange: (j) => seen.push(j.tasks.map((t) => `${t.name}:${t.status}`).join(",")),
  });
  await waitFor("the first read", () => server.state.detailReads === 1);
  assertEquals(server.events.length, 1, "subscribed before reading the job");

  server.state.job = job("running", [task("a", "running", true)]);
  server.events[0].send("job_started", { job: { ...job("running"), id: "other" } }, "b.1");
  server.events[0].send("task_started", { job: server.state.job, task: "a" }, "b.2");
  await waitFor("the task to be seen running", () => seen.includes("a:running"));
  assertEquals(server.state.detailReads, 2, "events of other jobs are ignored");

  server.events[0].end();
  await waitFor("a new subscription", () => server.events.length === 2);
  assertEquals(server.events[1].request.headers.get("last-event-id"), "b.2");
  await waitFor("the read after reconnecting", () => server.state.detailReads === 3);

  server.state.job = job("done", [task("a", "done", true)]);
  server.events[1].send("job_completed", { job: server.state.job }, "b.3");
  const ended = await watching;
  assertEquals(ended.completed, true);
  assertEquals(seen, ["a:waiting", "a:running", "a:running", "a:done"]);
  assert(server.events[1].closed, "the subscription is closed");
});

Deno.test("watchJob: a reload event makes it read the job again", async () => {
  const server = fakeServer({ events: true });
  const watching = watchJob(server.client, ID, { intervalMs: 5 });
  await waitFor("the first read", () => server.state.detailReads === 1);
  server.state.job = job("done");
  server.events[0].send("reload", {});
  assertEquals((await watching).completed, true);
});

Deno.test("watchJob: asks every interval on a server without an event stream", async () => {
  const server = fakeServer({ events: false });
  const watching = watchJob(server.client, ID, { intervalMs: 5 });
  await waitFor("a few reads", () => server.state.detailReads >= 3);
  server.state.job = job("done");
  assertEquals((await watching).completed, true);
});

Deno.test("followJob: output of every task in order; unstarted tasks are let go", async () => {
  const server = fakeServer({ events: true });
  server.state.job = job("running", [
    task("a", "running", true),
    task("b", "waiting", false),
    task("c", "waiting", false),
  ]);
  const output: OutputChunk[] = [];
  const ends: string[] = [];
  const following = followJob(server.client, ID, {
    onOutput: (chunk) => output.push(chunk),
    onTaskEnd: (name, end) => ends.push(`${name}:${end.status}:${end.exitCode}`),
  });
  await waitFor(
    "three log streams and a subscription",
    () => server.logs.size === 3 && server.events.length === 2 && server.state.detailReads >= 2,
  );
  const [a, b, c] = ["a", "b", "c"].map((name) => server.logs.get(name)!);
  a.send("stdout", { text: "one\n" });
  a.send("stderr", { text: "oops" });
  a.send("stdout", { text: "two\n" });
  a.send("end", { status: "done", exitCode: 0 });
  b.send("stdout", { text: "three" });
  b.send("end", { status: "error", exitCode: 2 });
  await waitFor("both ends", () => ends.length === 2);

  server.state.job = job("done", [
    task("a", "done", true),
    task("b", "error", true),
    task("c", "skipped", false),
  ]);
  server.events[1].send("job_completed", { job: server.state.job });
  const ended = await following;
  assertEquals(ended.tasks.map((t) => t.status), ["done", "error", "skipped"]);
  // Each task's output keeps its order; tasks' streams are read side by side.
  const of = (name: string) => output.filter((chunk) => chunk.task === name);
  assertEquals(of("a"), [
    { task: "a", stream: "stdout", text: "one\n" },
    { task: "a", stream: "stderr", text: "oops" },
    { task: "a", stream: "stdout", text: "two\n" },
  ]);
  assertEquals(of("b"), [{ task: "b", stream: "stdout", text: "three" }]);
  assertEquals(output.length, 4);
  assertEquals(ends.sort(), ["a:done:0", "b:error:2"]);
  assert(c.closed, "the stream of the task that never started was closed");
  assert(server.events.every((e) => e.closed), "subscriptions closed");
});

Deno.test("followJob: a task the job does not have is named with the job's tasks", async () => {
  const server = fakeServer({ events: true });
  const error = await assertRejects(
    () => followJob(server.client, ID, { task: "nope", onOutput: () => {} }),
    UnknownTaskError,
  );
  assertEquals(error.message, `job ${ID} has no task "nope"; its tasks: a`);
  assert(server.events.every((e) => e.closed), "the probe was closed");
});

Deno.test("followJob: a task's output is read after the output of the tasks it depends on", async () => {
  const server = fakeServer({ events: true });
  server.state.job = job("running", [
    task("a", "running", true),
    { ...task("b", "waiting", false), dependsOn: ["a"] },
  ]);
  const output: string[] = [];
  const following = followJob(server.client, ID, {
    onOutput: (chunk) => output.push(`${chunk.task}:${chunk.text}`),
  });
  await waitFor(
    "a's stream and the subscription",
    () => server.logs.has("a") && server.events.length === 2 && server.state.detailReads >= 2,
  );
  assert(!server.logs.has("b"), "b is not read while a's output goes on");
  server.logs.get("a")!.send("stdout", { text: "first" });
  server.logs.get("a")!.send("end", { status: "done", exitCode: 0 });
  await waitFor("b's stream", () => server.logs.has("b"));
  server.logs.get("b")!.send("stdout", { text: "second" });
  server.logs.get("b")!.send("end", { status: "done", exitCode: 0 });
  server.state.job = job("done", [task("a", "done", true), task("b", "done", true)]);
  server.events[1].send("job_completed", { job: server.state.job });
  await following;
  assertEquals(output, ["a:first", "b:second"]);
});
