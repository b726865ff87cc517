import { assert, assertEquals, assertMatch } from "../assert.ts";
import {
  fakeRunner,
  makeJob,
  makeTask,
  PIPELINES_JSON,
  readJson,
  SECRET,
  signToken,
  startTestServer,
} from "./support.ts";

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);
const RFC3339_UTC_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** A finished job with every optional field set, and one with none. */
function sampleJobs() {
  const full = makeJob({
    id: "11111111-2222-4333-8444-555555555555",
    pipeline: "deploy",
    tasks: [
      makeTask({
        name: "build",
        status: "done",
        start: T0 + 1_250,
        end: T0 + 61_999,
        attempt: 1,
      }),
      makeTask({
        name: "test",
        dependsOn: ["build"],
        status: "error",
        start: T0 + 62_000,
        end: T0 + 63_000,
        exitCode: 3,
        errored: true,
        error: "exit status 3",
        attempt: 3,
      }),
      makeTask({ name: "publish", dependsOn: ["test"], status: "skipped" }),
      makeTask({ name: "on_error", status: "done", start: T0 + 64_000, end: T0 + 65_000 }),
    ],
    completed: true,
    errored: true,
    created: T0 + 999,
    start: T0 + 1_000,
    end: T0 + 65_000,
    lastError: "exit status 3",
    variables: { tag: "v1.2.3", dbs: ["mysql"] },
    user: "j.doe",
  });
  const bare = makeJob({
    id: "66666666-7777-4888-9999-aaaaaaaaaaaa",
    created: T0 + 100_000,
    variables: {},
  });
  return { full, bare };
}

Deno.test("GET /pipelines and /pipelines/ list the pipelines", async () => {
  await using server = await startTestServer();
  for (const path of ["/pipelines", "/pipelines/"]) {
    const response = await server.request(path);
    assertEquals(response.status, 200, path);
    assertMatch(response.headers.get("content-type") ?? "", /^application\/json/);
    assertEquals(await readJson(response), { pipelines: PIPELINES_JSON }, path);
  }
});

Deno.test("GET /job/detail shows when a task waiting out a retry delay runs again", async () => {
  const job = makeJob({
    start: T0,
    tasks: [makeTask({
      name: "fetch",
      status: "waiting",
      start: T0 + 1_000,
      end: T0 + 2_000,
      exitCode: 7,
      error: "exit status 7",
      attempt: 1,
      retryAt: T0 + 32_000,
    })],
  });
  await using server = await startTestServer(fakeRunner([job]));
  const body = await readJson(await server.request(`/job/detail?id=${job.id}`)) as {
    tasks: Record<string, unknown>[];
  };
  assertEquals(body.tasks[0], {
    name: "fetch",
    status: "waiting",
    start: "2026-11-28T12:00:01Z",
    end: "2026-11-28T12:00:02Z",
    skipped: false,
    exitCode: 7,
    errored: false,
    error: "exit status 7",
    retryAt: "2026-11-28T12:00:32Z",
  });
});

Deno.test("GET /job/detail maps every field, omits empty ones, formats times", async () => {
  const { full, bare } = sampleJobs();
  await using server = await startTestServer(fakeRunner([full, bare]));

  const response = await server.request(`/job/detail?id=${full.id}`);
  assertEquals(response.status, 200);
  const body = await readJson(response) as Record<string, unknown>;
  assertEquals(body, {
    id: full.id,
    pipeline: "deploy",
    tasks: [
      {
        name: "build",
        status: "done",
        start: "2026-11-28T12:00:01Z",
        end: "2026-11-28T12:01:01Z",
        skipped: false,
        exitCode: 0,
        errored: false,
      },
      {
        name: "test",
        dependsOn: ["build"],
        status: "error",
        start: "2026-11-28T12:01:02Z",
        end: "2026-11-28T12:01:03Z",
        skipped: false,
        exitCode: 3,
        errored: true,
        error: "exit status 3",
        attempt: 3,
      },
      {
        name: "publish",
        dependsOn: ["test"],
        status: "skipped",
        skipped: true,
        exitCode: 0,
        errored: false,
      },
      {
        name: "on_error",
        status: "done",
        start: "2026-11-28T12:01:04Z",
        end: "2026-11-28T12:01:05Z",
        skipped: false,
        exitCode: 0,
        errored: false,
      },
    ],
    completed: true,
    canceled: false,
    errored: true,
    created: "2026-11-28T12:00:00Z",
    start: "2026-11-28T12:00:01Z",
    end: "2026-11-28T12:01:05Z",
    lastError: "exit status 3",
    variables: { tag: "v1.2.3", dbs: ["mysql"] },
    user: "j.doe",
  });
  assertEquals(Object.keys(body), [
    "id",
    "pipeline",
    "tasks",
    "completed",
    "canceled",
    "errored",
    "created",
    "start",
    "end",
    "lastError",
    "variables",
    "user",
  ], "prunner's field order");

  const bareBody = await readJson(await server.request(`/job/detail?id=${bare.id}`));
  assertEquals(bareBody, {
    id: bare.id,
    pipeline: "build",
    tasks: [{ name: "build", status: "waiting", skipped: false, exitCode: 0, errored: false }],
    completed: false,
    canceled: false,
    errored: false,
    created: "2026-11-28T12:01:40Z",
    user: "",
  }, "null times, null errors, empty dependsOn and empty variables are omitted");
});

Deno.test("GET /job/detail accepts an upper-case id", async () => {
  const { full } = sampleJobs();
  await using server = await startTestServer(fakeRunner([full]));
  const response = await server.request(`/job/detail?id=${full.id.toUpperCase()}`);
  assertEquals(response.status, 200);
  assertEquals((await readJson(response) as { id: string }).id, full.id);
});

Deno.test("GET /pipelines/jobs streams pipelines and all jobs, newest first", async () => {
  const jobs = Array.from({ length: 5000 }, (_, i) =>
    makeJob({
      created: T0 + i * 1000,
      variables: { index: i, text: 'quote " and \\ and \u2028' },
    }));
  await using server = await startTestServer(fakeRunner(jobs));
  const response = await server.request("/pipelines/jobs");
  assertEquals(response.status, 200);
  assertMatch(response.headers.get("content-type") ?? "", /^application\/json/);
  const body = await readJson(response) as {
    pipelines: unknown;
    jobs: Array<{ id: string; created: string; variables: { index: number } }>;
  };
  assertEquals(Object.keys(body), ["pipelines", "jobs"]);
  assertEquals(body.pipelines, PIPELINES_JSON);
  assertEquals(body.jobs.length, 5000);
  assertEquals(body.jobs.map((job) => job.variables.index), jobs.map((_, i) => 4999 - i));
  assertEquals(body.jobs[0].created, "2026-11-28T13:23:19Z");
  for (const job of body.jobs) assertMatch(job.created, RFC3339_UTC_SECONDS);
});

Deno.test("GET /pipelines/jobs with no jobs sends an empty list", async () => {
  await using server = await startTestServer();
  assertEquals(await readJson(await server.request("/pipelines/jobs")), {
    pipelines: PIPELINES_JSON,
    jobs: [],
  });
});

Deno.test("POST /pipelines/schedule answers 202 with the job id; sub becomes the user", async () => {
  await using server = await startTestServer();
  const response = await server.request("/pipelines/schedule", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      pipeline: "deploy",
      variables: { tag: "v1", list: [1, 2] },
      queuePartition: "site-a",
    }),
  });
  assertEquals(response.status, 202);
  const { jobId } = await readJson(response) as { jobId: string };
  assertMatch(jobId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assertEquals(server.runner.scheduled, [{
    pipeline: "deploy",
    variables: { tag: "v1", list: [1, 2] },
    user: "j.doe",
    queuePartition: "site-a",
  }]);

  const detail = await readJson(await server.request(`/job/detail?id=${jobId}`)) as {
    user: string;
    variables: unknown;
  };
  assertEquals(detail.user, "j.doe");
  assertEquals(detail.variables, { tag: "v1", list: [1, 2] });
});

Deno.test("POST /pipelines/schedule reads the body as JSON without a Content-Type", async () => {
  await using server = await startTestServer();
  // A Uint8Array body gets no Content-Type from fetch, as Flowpack.Prunner's Guzzle call.
  const body = new TextEncoder().encode('{"pipeline":"build","variables":{}}');
  const response = await server.request("/pipelines/schedule", { method: "POST", body });
  assertEquals(response.status, 202);
  const plain = await server.request("/pipelines/schedule", {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: '{"pipeline":"build"}',
  });
  assertEquals(plain.status, 202);
  assertEquals(server.runner.scheduled.map((r) => [r.variables, r.queuePartition]), [
    [{}, null],
    [null, null],
  ]);
});

Deno.test("POST /pipelines/schedule with an Idempotency-Key answers a retry with the first job", async () => {
  await using server = await startTestServer();
  const send = (key: string, body: unknown, sub = "j.doe") =>
    server.request("/pipelines/schedule", {
      method: "POST",
      headers: { "Idempotency-Key": key },
      body: JSON.stringify(body),
      sub,
    });
  const first = await send("key-1", { pipeline: "deploy", variables: { a: 1 } });
  assertEquals(first.status, 202);
  assertEquals(first.headers.get("idempotency-replayed"), null);
  const { jobId } = await readJson(first) as { jobId: string };

  const retry = await send("key-1", { pipeline: "deploy", variables: { a: 1 } });
  assertEquals(retry.status, 202);
  assertEquals(retry.headers.get("idempotency-replayed"), "true");
  assertEquals(await readJson(retry), { jobId });

  const other = await send("key-1", { pipeline: "deploy", variables: { a: 1 } }, "someone.else");
  assertEquals(other.headers.get("idempotency-replayed"), null);
  assert((await readJson(other) as { jobId: string }).jobId !== jobId, "another user's job");

  const changed = await send("key-1", { pipeline: "deploy", variables: { a: 2 } });
  assertEquals(changed.status, 422);
  assertEquals(changed.headers.get("content-type"), "application/json");
  const { error } = await readJson(changed) as { error: string };
  assertMatch(error, new RegExp(`^idempotency key "key-1" was already used .* job ${jobId}`));
  assertEquals(server.runner.scheduled.length, 2);
});

Deno.test("POST /pipelines/schedule refuses an empty, too long or non-ASCII Idempotency-Key", async () => {
  await using server = await startTestServer();
  // Each key with the status it gets and, for a refusal, what the error says.
  const cases: [string, number, RegExp | null][] = [
    ["", 400, /Idempotency-Key must not be empty/],
    ["k".repeat(256), 400, /at most 255 characters/],
    ["k".repeat(255), 202, null],
    ["caf\u00e9", 400, /printable ASCII/],
  ];
  for (const [key, status, message] of cases) {
    const response = await server.request("/pipelines/schedule", {
      method: "POST",
      headers: { "Idempotency-Key": key },
      body: '{"pipeline":"build"}',
    });
    assertEquals(response.status, status, JSON.stringify(key));
    if (message !== null) {
      assertMatch((await readJson(response) as { error: string }).error, message);
    }
  }
  assertEquals(server.runner.scheduled.length, 1);
});

Deno.test('a token without sub schedules a job with user ""', async () => {
  await using server = await startTestServer();
  const token = await signToken({ exp: Math.floor(Date.now() / 1000) + 60 }, SECRET);
  const response = await server.request("/pipelines/schedule", {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    body: '{"pipeline":"build"}',
  });
  assertEquals(response.status, 202);
  assertEquals(server.runner.scheduled[0].user, "");
});

Deno.test("POST /job/cancel answers 200 true", async () => {
  const job = makeJob();
  await using server = await startTestServer(fakeRunner([job]));
  const response = await server.request(`/job/cancel?id=${job.id}`, { method: "POST", body: "" });
  assertEquals(response.status, 200);
  assertEquals(await response.text(), "true");
  assertEquals(server.runner.canceled, [job.id]);
});

Deno.test("GET /job/logs serves stdout and stderr, empty when nothing was written", async () => {
  const { full } = sampleJobs();
  const runner = fakeRunner([full]);
  const text = (value: string) => () =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(value));
        controller.close();
      },
    });
  runner.logs.set(`${full.id}/test/stdout`, text('line 1\n"quoted" \\ tab\t ü €\n'));
  runner.logs.set(`${full.id}/on_error/stderr`, text("cleanup failed\n"));
  await using server = await startTestServer(runner);

  const test = await server.request(`/job/logs?id=${full.id}&task=test`);
  assertEquals(test.status, 200);
  assertMatch(test.headers.get("content-type") ?? "", /^application\/json/);
  assertEquals(await readJson(test), {
    stdout: 'line 1\n"quoted" \\ tab\t ü €\n',
    stderr: "",
  });
  const onError = await server.request(`/job/logs?id=${full.id}&task=on_error`);
  assertEquals(await readJson(onError), { stdout: "", stderr: "cleanup failed\n" });
});

Deno.test("GET /job/logs turns invalid UTF-8 into U+FFFD, also across chunk boundaries", async () => {
  const job = makeJob();
  const runner = fakeRunner([job]);
  // "€" is E2 82 AC; split across chunks it must survive, truncated or stray bytes must not.
  const chunks = [
    new Uint8Array([0x61, 0xe2, 0x82]),
    new Uint8Array([0xac, 0x62, 0xff, 0x63, 0xc3]),
    new Uint8Array([0x28, 0x22, 0x0a, 0x00, 0xe2, 0x82]),
  ];
  runner.logs.set(`${job.id}/build/stdout`, () => ReadableStream.from(chunks));
  runner.logs.set(
    `${job.id}/build/stderr`,
    () => ReadableStream.from([new Uint8Array([0xef, 0xbb, 0xbf, 0x78])]),
  );
  await using server = await startTestServer(runner);
  const response = await server.request(`/job/logs?id=${job.id}&task=build`);
  assertEquals(response.status, 200);
  const body = await readJson(response);
  assertEquals(body, {
    stdout: 'a€b\ufffdc\ufffd("\n\u0000\ufffd',
    stderr: "\ufeffx",
  }, "the byte order mark is kept, as prunner keeps the bytes");
});

Deno.test("while shutting down, scheduling answers 503 and reading still works", async () => {
  await using server = await startTestServer();
  server.shuttingDown.value = true;
  const response = await server.request("/pipelines/schedule", {
    method: "POST",
    body: '{"pipeline":"build"}',
  });
  assertEquals(response.status, 503);
  assertEquals(await readJson(response), {
    error: "prunner is shutting down and accepts no new jobs",
  });
  assertEquals(server.runner.scheduled, []);
  assertEquals((await server.request("/pipelines")).status, 200);
  await (await server.request("/pipelines/jobs")).body?.cancel();
});

Deno.test("every time in the API is RFC 3339 UTC without fractional seconds", async () => {
  const { full } = sampleJobs();
  await using server = await startTestServer(fakeRunner([full]));
  const body = await readJson(await server.request(`/job/detail?id=${full.id}`)) as {
    tasks: Array<Record<string, unknown>>;
  } & Record<string, unknown>;
  const times = [body, ...body.tasks].flatMap((record) =>
    ["created", "start", "end"].filter((key) => key in record).map((key) => record[key])
  );
  assert(times.length === 9, `expected 9 times, got ${times.length}`);
  for (const time of times) assertMatch(String(time), RFC3339_UTC_SECONDS);
});
