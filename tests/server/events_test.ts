import { assert, assertEquals } from "../assert.ts";
import type { RunnerEvent } from "../../src/runner/events.ts";
import { fakeRunner, makeJob, makeTask, startTestServer } from "./support.ts";
import { readSse, type SseMessage } from "./sse.ts";

const isEvent = (message: SseMessage) => message.event !== null;

Deno.test("GET /events sends every runner event with an id, jobs without variables", async () => {
  await using server = await startTestServer();
  const response = await server.request("/events");
  assertEquals(response.status, 200);
  assertEquals(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
  assertEquals(response.headers.get("cache-control"), "no-cache");
  const sse = readSse(response);

  const job = makeJob({
    tasks: [makeTask({ name: "build", status: "done", start: 1_000, end: 2_000 })],
    variables: { secret: "x".repeat(1000) },
    user: "j.doe",
  });
  server.runner.jobs.set(job.id, job);
  const task = job.tasks[0];
  const events: RunnerEvent[] = [
    { type: "job_scheduled", job },
    { type: "job_started", job },
    { type: "task_started", job, task },
    { type: "task_finished", job, task },
    { type: "job_completed", job },
    { type: "jobs_removed", ids: [job.id, "other"] },
    { type: "pipelines_reloaded" },
  ];
  // Events outside the live API's contract are not sent.
  server.runner.events.emit({ type: "task_timed_out", job, task, by: "task" });
  server.runner.events.emit({ type: "job_refused", pipeline: "full", reason: "queue_full" });
  for (const event of events) server.runner.events.emit(event);

  const messages = (await sse.collect((m) => m.event === "pipelines_reloaded")).filter(isEvent);
  assertEquals(messages.map((m) => m.event), events.map((e) => e.type));
  const { variables: _, ...expectedJob } = await (await server.request(
    `/job/detail?id=${job.id}`,
  )).json();
  assertEquals(JSON.parse(messages[0].data), { job: expectedJob });
  assert(!messages[0].data.includes("variables"), "variables are left out");
  assertEquals(JSON.parse(messages[2].data), { job: expectedJob, task: "build" });
  assertEquals(JSON.parse(messages[5].data), { ids: [job.id, "other"] });
  assertEquals(JSON.parse(messages[6].data), {});
  const ids = messages.map((m) => m.id!);
  const [boot] = ids[0].split(".");
  assert(/^[0-9a-f]{8}$/.test(boot), ids[0]);
  assertEquals(ids.map((id) => id.split(".")[0]), ids.map(() => boot));
  const seqs = ids.map((id) => Number(id.split(".")[1]));
  assertEquals(seqs, [...seqs].sort((a, b) => a - b), "ids increase");
  assertEquals(new Set(seqs).size, seqs.length, "ids are unique");
  await sse.cancel();
});

Deno.test("an event's job is serialized when it happens, not when it is sent", async () => {
  await using server = await startTestServer();
  const sse = readSse(await server.request("/events"));
  const job = makeJob();
  server.runner.events.emit({ type: "job_scheduled", job });
  job.completed = true;
  server.runner.events.emit({ type: "job_completed", job });
  const [scheduled, completed] = (await sse.collect((m) => m.event === "job_completed"))
    .filter(isEvent);
  assertEquals(JSON.parse(scheduled.data).job.completed, false);
  assertEquals(JSON.parse(completed.data).job.completed, true);
  await sse.cancel();
});

Deno.test("reconnecting with Last-Event-ID replays exactly the missed events", async () => {
  await using server = await startTestServer();
  const first = readSse(await server.request("/events"));
  server.runner.events.emit({ type: "jobs_removed", ids: ["1"] });
  const [seen] = (await first.collect(isEvent)).filter(isEvent);
  await first.cancel();

  for (let i = 2; i <= 5; i++) server.runner.events.emit({ type: "jobs_removed", ids: [`${i}`] });
  const again = readSse(
    await server.request("/events", { headers: { "last-event-id": seen.id! } }),
  );
  const replayed = (await again.collect((m) => m.data.includes('"5"'))).filter(isEvent);
  assertEquals(replayed.map((m) => JSON.parse(m.data).ids[0]), ["2", "3", "4", "5"]);
  server.runner.events.emit({ type: "pipelines_reloaded" });
  const live = (await again.collect(isEvent)).filter(isEvent);
  assertEquals(live.map((m) => m.event), ["pipelines_reloaded"], "then live events follow");
  await again.cancel();

  const upToDate = readSse(
    await server.request("/events", { headers: { "last-event-id": live[0].id! } }),
  );
  server.runner.events.emit({ type: "jobs_removed", ids: ["6"] });
  const next = (await upToDate.collect(isEvent)).filter(isEvent);
  assertEquals(next.map((m) => m.data), ['{"ids":["6"]}'], "nothing replayed when up to date");
  await upToDate.cancel();
});

Deno.test("a Last-Event-ID no longer buffered, or of another start, gets reload first", async () => {
  await using server = await startTestServer(fakeRunner(), { eventRingSize: 4 });
  const first = readSse(await server.request("/events"));
  server.runner.events.emit({ type: "jobs_removed", ids: ["1"] });
  const [seen] = (await first.collect(isEvent)).filter(isEvent);
  await first.cancel();
  for (let i = 2; i <= 10; i++) server.runner.events.emit({ type: "jobs_removed", ids: [`${i}`] });

  for (const lastEventId of [seen.id!, "0badc0de.1", "garbage"]) {
    const sse = readSse(
      await server.request("/events", { headers: { "last-event-id": lastEventId } }),
    );
    const reload = await sse.next();
    assertEquals(reload?.event, "reload", lastEventId);
    assertEquals(reload?.data, "{}");
    server.runner.events.emit({ type: "pipelines_reloaded" });
    const after = (await sse.collect(isEvent)).filter(isEvent);
    assertEquals(after.map((m) => m.event), ["pipelines_reloaded"], "only new events follow");
    await sse.cancel();

    // The reload's id is a position: resuming from it replays what came after.
    const resumed = readSse(
      await server.request("/events", { headers: { "last-event-id": reload!.id! } }),
    );
    const replayed = (await resumed.collect(isEvent)).filter(isEvent);
    assertEquals(replayed.map((m) => m.event), ["pipelines_reloaded"], "resumed from reload");
    await resumed.cancel();
  }
});

Deno.test("events before the first client connected are not kept: none has an id", async () => {
  await using server = await startTestServer();
  for (let i = 1; i <= 3; i++) server.runner.events.emit({ type: "jobs_removed", ids: [`${i}`] });
  const probe = readSse(
    await server.request("/events", { headers: { "last-event-id": "garbage" } }),
  );
  const reload = await probe.next();
  assertEquals(reload?.event, "reload");
  await probe.cancel();
  // The position before the first event: what came after it would be replayed, if kept.
  const [boot] = reload!.id!.split(".");
  const resumed = readSse(
    await server.request("/events", { headers: { "last-event-id": `${boot}.0` } }),
  );
  server.runner.events.emit({ type: "pipelines_reloaded" });
  const events = (await resumed.collect(isEvent)).filter(isEvent);
  assertEquals(events.map((m) => m.event), ["pipelines_reloaded"]);
  await resumed.cancel();
});

Deno.test("the events kept are bounded in bytes too: the newest one always is", async () => {
  await using server = await startTestServer(fakeRunner(), { eventRingBytes: 1 });
  const sse = readSse(await server.request("/events"));
  const ids: string[] = [];
  for (let i = 1; i <= 3; i++) {
    server.runner.events.emit({ type: "jobs_removed", ids: [`${i}`] });
    const [event] = (await sse.collect(isEvent)).filter(isEvent);
    assertEquals(event.data, `{"ids":["${i}"]}`);
    ids.push(event.id!);
  }
  await sse.cancel();

  const old = readSse(await server.request("/events", { headers: { "last-event-id": ids[0] } }));
  assertEquals((await old.next())?.event, "reload", "the first event is no longer kept");
  await old.cancel();
  const recent = readSse(
    await server.request("/events", { headers: { "last-event-id": ids[1] } }),
  );
  const replayed = await recent.next();
  assertEquals([replayed?.id, replayed?.data], [ids[2], '{"ids":["3"]}'], "the newest is");
  await recent.cancel();
});

Deno.test("idle event streams get keepalive comments", async () => {
  await using server = await startTestServer(fakeRunner(), { keepaliveMs: 50 });
  const sse = readSse(await server.request("/events"));
  const comments = await sse.collect((m) => m.event === null);
  assertEquals(comments.at(-1), { event: null, id: null, data: "keepalive" });
  server.runner.events.emit({ type: "pipelines_reloaded" });
  const after = await sse.collect(isEvent);
  assertEquals(after.filter(isEvent).map((m) => m.event), ["pipelines_reloaded"]);
  await sse.cancel();
});

Deno.test("many clients each get every event; disconnected ones stop listening", async () => {
  await using server = await startTestServer();
  const clients = await Promise.all(
    Array.from({ length: 40 }, async () => readSse(await server.request("/events"))),
  );
  for (let i = 0; i < 50; i++) server.runner.events.emit({ type: "jobs_removed", ids: [`${i}`] });
  for (const client of clients) {
    const messages = (await client.collect((m) => m.data.includes('"49"'))).filter(isEvent);
    assertEquals(messages.length, 50);
  }
  await Promise.all(clients.map((client) => client.cancel()));
});

Deno.test("stopping the server ends open event streams", async () => {
  const server = await startTestServer();
  const sse = readSse(await server.request("/events"));
  await server[Symbol.asyncDispose]();
  assertEquals(await sse.collect(), []);
});
