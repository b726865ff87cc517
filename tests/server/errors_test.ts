import { assertEquals, assertMatch } from "../assert.ts";
import { fakeRunner, makeJob, readJson, startTestServer, type TestServer } from "./support.ts";

const UNKNOWN_ID = "52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8";

/** Sends a request and checks status and that the body is exactly `{"error": <matching>}`. */
async function expectError(
  server: TestServer,
  path: string,
  init: RequestInit,
  status: number,
  message: RegExp,
): Promise<void> {
  const response = await server.request(path, init);
  const where = `${init.method ?? "GET"} ${path}`;
  assertEquals(response.status, status, where);
  assertMatch(response.headers.get("content-type") ?? "", /^application\/json/, where);
  const body = await readJson(response) as Record<string, unknown>;
  assertEquals(Object.keys(body), ["error"], where);
  assertMatch(String(body.error), message, where);
}

function schedule(body: BodyInit): RequestInit {
  return { method: "POST", headers: { "content-type": "application/json" }, body };
}

Deno.test("scheduling errors answer 400 with a message that says which", async () => {
  await using server = await startTestServer();
  const cases: Array<[BodyInit, RegExp]> = [
    ["{not json", /malformed JSON/i],
    ["", /malformed JSON/i],
    ["[1, 2]", /body must be a JSON object/],
    ["{}", /missing pipeline/],
    ['{"pipeline": ""}', /missing pipeline/],
    ['{"pipeline": 42}', /pipeline must be a string/],
    ['{"pipeline": "nope"}', /pipeline "nope" is not defined/],
    ['{"pipeline": "full"}', /queue full/],
    ['{"pipeline": "disabled"}', /queueing disabled/],
    ['{"pipeline": "build", "variables": [1]}', /variables must be a JSON object/],
    ['{"pipeline": "build", "variables": "x"}', /variables must be a JSON object/],
    ['{"pipeline": "build", "queuePartition": 1}', /queuePartition must be a string/],
  ];
  for (const [body, message] of cases) {
    await expectError(server, "/pipelines/schedule", schedule(body), 400, message);
  }
  assertEquals(server.runner.scheduled, []);
});

Deno.test("bodies over 1 MiB answer 413, with or without Content-Length", async () => {
  await using server = await startTestServer();
  const big = `{"pipeline":"build","variables":{"x":"${"a".repeat(1024 * 1024)}"}}`;
  await expectError(server, "/pipelines/schedule", schedule(big), 413, /too large/);
  const chunked = ReadableStream.from([new TextEncoder().encode(big)]);
  await expectError(server, "/pipelines/schedule", schedule(chunked), 413, /too large/);
  assertEquals(server.runner.scheduled, []);

  const justBelow = `{"pipeline":"build","variables":{"x":"${"a".repeat(1024 * 1000)}"}}`;
  const response = await server.request("/pipelines/schedule", schedule(justBelow));
  assertEquals(response.status, 202);
  await response.body?.cancel();
});

Deno.test("job routes answer 400 for a missing or invalid job id", async () => {
  await using server = await startTestServer();
  for (const [method, route] of [["GET", "/job/detail"], ["POST", "/job/cancel"]]) {
    await expectError(server, route, { method }, 400, /missing job id/);
    await expectError(server, `${route}?id=`, { method }, 400, /invalid job id/);
    await expectError(server, `${route}?id=42`, { method }, 400, /invalid job id/);
    await expectError(server, `${route}?id=${UNKNOWN_ID}x`, { method }, 400, /invalid job id/);
  }
  await expectError(server, "/job/logs?task=build", {}, 400, /missing job id/);
  await expectError(server, "/job/logs?id=nope&task=build", {}, 400, /invalid job id/);
  await expectError(server, `/job/logs?id=${UNKNOWN_ID}`, {}, 400, /missing task name/);
  await expectError(server, `/job/logs?id=${UNKNOWN_ID}&task=`, {}, 400, /missing task name/);
});

Deno.test("unknown jobs and tasks answer 404; canceling an ended job answers 409", async () => {
  const done = makeJob({ completed: true });
  await using server = await startTestServer(fakeRunner([done]));
  await expectError(server, `/job/detail?id=${UNKNOWN_ID}`, {}, 404, /job not found/);
  await expectError(server, `/job/logs?id=${UNKNOWN_ID}&task=build`, {}, 404, /job not found/);
  await expectError(server, `/job/cancel?id=${UNKNOWN_ID}`, { method: "POST" }, 404, /not found/);
  await expectError(
    server,
    `/job/logs?id=${done.id}&task=on_error`,
    {},
    404,
    /task not found: job .* has no task "on_error"/,
  );
  await expectError(
    server,
    `/job/cancel?id=${done.id}`,
    { method: "POST" },
    409,
    /already completed/,
  );
});

Deno.test("unknown routes answer 404 JSON and wrong methods 405 JSON", async () => {
  await using server = await startTestServer();
  await expectError(server, "/nope", {}, 404, /not found: GET \/nope/);
  await expectError(server, "/job", {}, 404, /not found/);
  await expectError(server, "/pipelines/schedule", {}, 405, /method GET not allowed: use POST/);
  await expectError(server, "/job/detail", { method: "DELETE" }, 405, /use GET/);
  const response = await server.request("/pipelines/", { method: "PUT" });
  assertEquals(response.status, 405);
  assertEquals(response.headers.get("allow"), "GET, HEAD");
  await response.body?.cancel();
});

Deno.test("a server fault answers 500 internal error without details", async () => {
  await using server = await startTestServer();
  server.runner.failGetJob = new Error("database is locked at /secret/path");
  await expectError(server, `/job/detail?id=${UNKNOWN_ID}`, {}, 500, /^internal error$/);
});
