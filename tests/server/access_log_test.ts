import { configure, type LogLevel, type LogRecord, reset } from "@logtape/logtape";
import { assert, assertEquals } from "../assert.ts";
import { fakeRunner, makeJob, startTestServer } from "./support.ts";

/** Collects the `["prunner", "http"]` records at `level` and above while `fn` runs. */
async function captureHttpLog(level: LogLevel, fn: () => Promise<void>): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category: ["prunner", "http"], lowestLevel: level, sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
    ],
  });
  try {
    await fn();
  } finally {
    await reset();
  }
  return records;
}

function accessLines(records: LogRecord[]): LogRecord[] {
  return records.filter((record) => "durationMs" in record.properties);
}

Deno.test("one info line per request with method, path, status, duration and user", async () => {
  const job = makeJob();
  const records = await captureHttpLog("info", async () => {
    await using server = await startTestServer(fakeRunner([job]));
    await (await server.request(`/job/detail?id=${job.id}`, { sub: "j.doe" })).body?.cancel();
    await (await fetch(server.url + "/pipelines")).body?.cancel();
  });
  const lines = accessLines(records);
  assertEquals(lines.length, 2, "one line per request");
  assertEquals(lines.map((line) => line.level), ["info", "info"]);
  const [detail, unauthorized] = lines.map((line) => line.properties);
  assertEquals(
    { ...detail, durationMs: 0 },
    { method: "GET", path: "/job/detail", status: 200, durationMs: 0, user: "j.doe" },
    "no query or user agent at info level",
  );
  assert(typeof detail.durationMs === "number" && detail.durationMs >= 0);
  assertEquals(
    lines[0].message.join(""),
    `GET /job/detail 200 ${detail.durationMs}ms user=j.doe`,
    "the message is the template rendered",
  );
  assertEquals(lines[0].rawMessage, "{method} {path} {status} {durationMs}ms user={user}");
  assertEquals(lines[0].category, ["prunner", "http"]);
  assertEquals(unauthorized.status, 401);
  assertEquals(unauthorized.user, "");
});

Deno.test("at debug level the access line adds the query and the user agent", async () => {
  const job = makeJob();
  const records = await captureHttpLog("debug", async () => {
    await using server = await startTestServer(fakeRunner([job]));
    const response = await server.request(`/job/detail?id=${job.id}`, {
      headers: { "user-agent": "prunner-test/1" },
    });
    await response.body?.cancel();
  });
  const [line] = accessLines(records);
  assertEquals(line.properties.query, `?id=${job.id}`);
  assertEquals(line.properties.userAgent, "prunner-test/1");
});

Deno.test("a server fault is logged as an error", async () => {
  const records = await captureHttpLog("info", async () => {
    await using server = await startTestServer();
    server.runner.failGetJob = new Error("store unavailable");
    const response = await server.request("/job/detail?id=52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8");
    assertEquals(response.status, 500);
    await response.body?.cancel();
  });
  const errors = records.filter((record) => record.level === "error");
  assertEquals(errors.length, 1);
  assertEquals((errors[0].properties.error as Error).message, "store unavailable");
});

Deno.test("successful health checks and metrics scrapes are logged at debug level only", async () => {
  const info = await captureHttpLog("info", async () => {
    await using server = await startTestServer();
    await (await fetch(server.url + "/health")).body?.cancel();
    await (await server.request("/metrics")).body?.cancel();
    await (await fetch(server.url + "/metrics")).body?.cancel();
  });
  assertEquals(
    accessLines(info).map((line) => `${line.properties.path} ${line.properties.status}`),
    ["/metrics 401"],
    "a refused scrape is still worth an info line",
  );
  const debug = await captureHttpLog("debug", async () => {
    await using server = await startTestServer();
    await (await fetch(server.url + "/health")).body?.cancel();
  });
  assertEquals(accessLines(debug).map((line) => [line.level, line.properties.path]), [
    ["debug", "/health"],
  ]);
});
