/**
 * Checks the generated OpenAPI document against the running API: every route is documented, every
 * documented status is produced (and nothing else), every body matches its documented schema, and
 * requests are validated by exactly what the document says.
 */
import { assert, assertEquals } from "../assert.ts";
import { createApp, type HealthProblems } from "../../src/server/mod.ts";
import {
  fakeCluster,
  fakeRunner,
  makeJob,
  makeTask,
  readJson,
  SECRET,
  startTestServer,
  testMetrics,
  type TestServer,
} from "./support.ts";

type Schema = Record<string, unknown>;
interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema: Schema;
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
  security?: unknown[];
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, Schema> };
}

async function loadDocument(server: TestServer): Promise<Document> {
  const response = await fetch(server.url + "/openapi.json");
  assertEquals(response.status, 200);
  return await readJson(response) as Document;
}

/** A small JSON Schema check, enough for the schemas this API documents. */
function violations(value: unknown, schema: Schema, document: Document, at = "$"): string[] {
  if (typeof schema.$ref === "string") {
    const name = schema.$ref.replace("#/components/schemas/", "");
    const target = document.components.schemas[name];
    if (!target) return [`${at}: unresolved ${schema.$ref}`];
    return violations(value, target, document, at);
  }
  const problems: string[] = [];
  const types = schema.type === undefined ? [] : [schema.type].flat() as string[];
  const actual = value === null
    ? "null"
    : Array.isArray(value)
    ? "array"
    : Number.isInteger(value)
    ? "integer"
    : typeof value;
  if (
    types.length > 0 && !types.includes(actual) &&
    !(actual === "integer" && types.includes("number"))
  ) {
    return [`${at}: ${actual} is not ${types.join("|")}`];
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) {
    problems.push(`${at}: ${JSON.stringify(value)} not in ${JSON.stringify(schema.enum)}`);
  }
  if (schema.format === "date-time" && typeof value === "string") {
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(value)) problems.push(`${at}: ${value}`);
  }
  if (schema.format === "uuid" && typeof value === "string") {
    if (!/^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/.test(value)) {
      problems.push(`${at}: ${value}`);
    }
  }
  if (actual === "array" && schema.items) {
    (value as unknown[]).forEach((item, i) =>
      problems.push(...violations(item, schema.items as Schema, document, `${at}[${i}]`))
    );
  }
  if (actual === "object" && schema.properties) {
    const record = value as Record<string, unknown>;
    const properties = schema.properties as Record<string, Schema>;
    for (const key of (schema.required ?? []) as string[]) {
      if (!(key in record)) problems.push(`${at}: missing required ${key}`);
    }
    for (const [key, item] of Object.entries(record)) {
      if (!(key in properties)) problems.push(`${at}: undocumented property ${key}`);
      else problems.push(...violations(item, properties[key], document, `${at}.${key}`));
    }
  }
  return problems;
}

const JOB = makeJob({
  id: "11111111-2222-4333-8444-555555555555",
  tasks: [
    makeTask({ name: "build", status: "done", start: 1_000, end: 2_000 }),
    makeTask({
      name: "test",
      dependsOn: ["build"],
      status: "error",
      start: 2_000,
      end: 3_000,
      exitCode: 1,
      errored: true,
      error: "exit status 1",
      attempt: 2,
    }),
    makeTask({ name: "lint", status: "waiting", end: 2_500, attempt: 1, retryAt: 9_000 }),
  ],
  start: 1_000,
  lastError: "exit status 1",
  variables: { a: 1 },
  user: "j.doe",
});
const DONE = makeJob({ id: "22222222-2222-4333-8444-555555555555", completed: true, end: 5_000 });
const UNKNOWN = "33333333-2222-4333-8444-555555555555";
/** A record nested too deeply to become JSON again, as an older version could have stored. */
const BROKEN = makeJob({
  id: "44444444-2222-4333-8444-555555555555",
  variables: { deep: JSON.parse("[".repeat(20_000) + "]".repeat(20_000)) },
});

type Probe = {
  status: number;
  path: string;
  init?: RequestInit;
  token?: false;
  shutdown?: true;
  health?: HealthProblems;
  /** Ask a single prunner (`off`), or a node whose database does not answer (`down`). */
  cluster?: "off" | "down";
};

/** For each documented route, one request per status that the route documents. */
const PROBES: Record<string, Probe[]> = {
  "GET /pipelines": [
    { status: 200, path: "/pipelines/" },
    { status: 401, path: "/pipelines", token: false },
  ],
  "GET /pipelines/jobs": [
    { status: 200, path: "/pipelines/jobs" },
    { status: 200, path: "/pipelines/jobs?limit=1&pipeline=build" },
    { status: 400, path: "/pipelines/jobs?limit=0" },
    { status: 400, path: "/pipelines/jobs?before=nope" },
    { status: 401, path: "/pipelines/jobs", token: false },
  ],
  "GET /pipelines/status": [
    { status: 200, path: "/pipelines/status" },
    { status: 401, path: "/pipelines/status", token: false },
  ],
  "GET /events": [
    { status: 200, path: "/events" },
    { status: 401, path: "/events", token: false },
  ],
  "POST /pipelines/schedule": [
    { status: 202, path: "/pipelines/schedule", init: { body: '{"pipeline":"build"}' } },
    {
      status: 202,
      path: "/pipelines/schedule",
      init: { body: '{"pipeline":"build"}', headers: { "idempotency-key": "probe" } },
    },
    { status: 400, path: "/pipelines/schedule", init: { body: '{"pipeline":"nope"}' } },
    {
      status: 400,
      path: "/pipelines/schedule",
      init: { body: '{"pipeline":"build"}', headers: { "idempotency-key": "" } },
    },
    { status: 401, path: "/pipelines/schedule", token: false },
    {
      status: 413,
      path: "/pipelines/schedule",
      init: { body: `{"pipeline":"${"x".repeat(1024 * 1024)}"}` },
    },
    {
      status: 422,
      path: "/pipelines/schedule",
      init: { body: '{"pipeline":"deploy"}', headers: { "idempotency-key": "probe" } },
    },
    {
      status: 503,
      path: "/pipelines/schedule",
      init: { body: '{"pipeline":"build"}' },
      shutdown: true,
    },
    { status: 507, path: "/pipelines/schedule", init: { body: '{"pipeline":"unstorable"}' } },
  ],
  "GET /job/detail": [
    { status: 200, path: `/job/detail?id=${JOB.id}` },
    { status: 400, path: "/job/detail?id=x" },
    { status: 401, path: `/job/detail?id=${JOB.id}`, token: false },
    { status: 404, path: `/job/detail?id=${UNKNOWN}` },
    { status: 500, path: `/job/detail?id=${BROKEN.id}` },
  ],
  "GET /job/logs": [
    { status: 200, path: `/job/logs?id=${JOB.id}&task=test` },
    { status: 400, path: `/job/logs?id=${JOB.id}` },
    { status: 401, path: `/job/logs?id=${JOB.id}&task=test`, token: false },
    { status: 404, path: `/job/logs?id=${JOB.id}&task=nope` },
  ],
  "GET /job/logs/stream": [
    { status: 200, path: `/job/logs/stream?id=${JOB.id}&task=test` },
    { status: 400, path: `/job/logs/stream?id=${JOB.id}` },
    { status: 401, path: `/job/logs/stream?id=${JOB.id}&task=test`, token: false },
    { status: 404, path: `/job/logs/stream?id=${JOB.id}&task=nope` },
  ],
  "GET /job/logs/raw": [
    { status: 200, path: `/job/logs/raw?id=${JOB.id}&task=test&stream=stdout` },
    { status: 400, path: `/job/logs/raw?id=${JOB.id}&task=test&stream=nope` },
    { status: 401, path: `/job/logs/raw?id=${JOB.id}&task=test&stream=stdout`, token: false },
    { status: 404, path: `/job/logs/raw?id=${UNKNOWN}&task=test&stream=stdout` },
  ],
  "POST /job/cancel": [
    { status: 200, path: `/job/cancel?id=${JOB.id}` },
    { status: 400, path: "/job/cancel" },
    { status: 401, path: `/job/cancel?id=${JOB.id}`, token: false },
    { status: 404, path: `/job/cancel?id=${UNKNOWN}` },
    { status: 409, path: `/job/cancel?id=${DONE.id}` },
  ],
  "GET /cluster": [
    { status: 200, path: "/cluster" },
    { status: 401, path: "/cluster", token: false },
    { status: 404, path: "/cluster", cluster: "off" },
    { status: 503, path: "/cluster", cluster: "down" },
  ],
  "GET /metrics": [
    { status: 200, path: "/metrics" },
    { status: 401, path: "/metrics", token: false },
  ],
  "GET /openapi.json": [{ status: 200, path: "/openapi.json", token: false }],
  "GET /health": [
    { status: 200, path: "/health", token: false },
    {
      status: 200,
      path: "/health",
      token: false,
      health: {
        store: null,
        executor: null,
        cluster: { node: "node-a", connected: true, liveNodes: 2 },
      },
    },
    {
      status: 503,
      path: "/health",
      token: false,
      health: { store: "cannot write: No space left on device (os error 28)", executor: null },
    },
  ],
};

Deno.test("every registered route is documented, and every documented route is registered", async () => {
  const app = createApp({
    runner: fakeRunner(),
    secret: SECRET,
    isShuttingDown: () => false,
    metrics: testMetrics(),
  });
  const document = await (await app.request("/openapi.json")).json() as Document;
  assert(document.openapi.startsWith("3.1."), `OpenAPI ${document.openapi}`);
  const registered = new Set(
    app.routes.filter((route) => route.method !== "ALL").map((route) =>
      `${route.method} ${route.path}`
    ),
  );
  const documented = new Set(
    Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`)
    ),
  );
  assertEquals([...registered].sort(), [...documented].sort());
  assertEquals([...documented].sort(), Object.keys(PROBES).sort(), "each route has probes");
});

Deno.test("each route produces exactly its documented statuses, with documented bodies", async () => {
  const runner = fakeRunner([JOB, DONE, BROKEN]);
  runner.logs.set(`${JOB.id}/test/stdout`, () => ReadableStream.from([new Uint8Array([0x6f])]));
  const cluster = fakeCluster();
  await using server = await startTestServer(runner, {}, cluster);
  await using single = await startTestServer(runner);
  const document = await loadDocument(server);

  for (const [route, probes] of Object.entries(PROBES)) {
    const [method, path] = route.split(" ");
    const operation = document.paths[path][method.toLowerCase()];
    assertEquals(
      Object.keys(operation.responses).sort(),
      [...new Set(probes.map((probe) => String(probe.status)))].sort(),
      `${route}: documented statuses`,
    );
    const isPublic = route === "GET /openapi.json" || route === "GET /health";
    assertEquals(operation.security?.length ?? 0, isPublic ? 0 : 1, route);

    for (const probe of probes) {
      server.shuttingDown.value = probe.shutdown === true;
      server.health.value = probe.health ?? { store: null, executor: null };
      cluster.down = probe.cluster === "down";
      const target = probe.cluster === "off" ? single : server;
      const init = { method, ...probe.init };
      const response = probe.token === false
        ? await fetch(target.url + probe.path, init)
        : await target.request(probe.path, init);
      const where = `${route} → ${probe.status} (${probe.path.slice(0, 60)})`;
      assertEquals(response.status, probe.status, where);
      const content = operation.responses[String(probe.status)].content ?? {};
      const type = Object.keys(content)[0];
      if (type !== "application/json") {
        assert(response.headers.get("content-type")?.startsWith(type), where);
        if (type === "text/plain") {
          assert((await response.text()).length > 0, `${where}: a body`);
        } else {
          // An event stream: the media type is checked, the endless body not read.
          await response.body?.cancel();
        }
        continue;
      }
      const body = await readJson(response);
      const schema = operation.responses[String(probe.status)].content?.["application/json"]
        ?.schema;
      assert(schema, `${where}: no documented JSON schema`);
      assertEquals(violations(body, schema, document), [], where);
    }
  }
  server.shuttingDown.value = false;
});

Deno.test("requests are validated by the documented parameters and request body", async () => {
  await using server = await startTestServer(fakeRunner([JOB]));
  const document = await loadDocument(server);

  for (const [path, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const parameters = operation.parameters ?? [];
      const valid = Object.fromEntries(
        parameters.map((p) => [p.name, String(p.schema.example ?? "x")]),
      );
      const url = (query: Record<string, string>) =>
        `${path}?${new URLSearchParams(query).toString()}`;
      const init = { method: method.toUpperCase(), body: method === "post" ? "{}" : undefined };
      for (const parameter of parameters.filter((p) => p.in === "query")) {
        const where = `${method} ${path} ?${parameter.name}`;
        if (parameter.required) {
          const { [parameter.name]: _, ...without } = valid;
          const response = await server.request(url(without), init);
          assertEquals(response.status, 400, `${where} missing`);
          await response.body?.cancel();
        }
        if (parameter.schema.format === "uuid") {
          const response = await server.request(url({ ...valid, [parameter.name]: "x" }), init);
          assertEquals(response.status, 400, `${where} not a uuid`);
          await response.body?.cancel();
        }
        if (parameter.schema.minLength === 1 || parameter.required) {
          const response = await server.request(url({ ...valid, [parameter.name]: "" }), init);
          assertEquals(response.status, 400, `${where} empty`);
          await response.body?.cancel();
        }
      }
    }
  }

  const operation = document.paths["/pipelines/schedule"].post;
  assert(operation.requestBody?.required, "the schedule body is required");
  const schema = operation.requestBody.content["application/json"].schema;
  const target = document.components.schemas[String(schema.$ref).split("/").pop()!];
  const properties = target.properties as Record<string, Schema>;
  const example = Object.fromEntries(
    Object.entries(properties).map(([key, property]) => [key, property.example]),
  );
  example.pipeline = "build";
  const send = (body: unknown) =>
    server.request("/pipelines/schedule", { method: "POST", body: JSON.stringify(body) });

  const accepted = await send(example);
  assertEquals(accepted.status, 202, "the documented example is accepted");
  await accepted.body?.cancel();
  for (const key of target.required as string[]) {
    const { [key]: _, ...without } = example;
    const response = await send(without);
    assertEquals(response.status, 400, `required ${key} missing`);
    await response.body?.cancel();
  }
  const wrongValue: Record<string, unknown> = { string: 42, object: [1], array: {}, boolean: "x" };
  for (const [key, property] of Object.entries(properties)) {
    const types = [property.type].flat() as string[];
    const response = await send({ ...example, [key]: wrongValue[types[0]] });
    assertEquals(response.status, 400, `${key} of the wrong type`);
    await response.body?.cancel();
    if (types.includes("null")) {
      const nullable = await send({ ...example, [key]: null });
      assertEquals(nullable.status, 202, `${key} documented as nullable accepts null`);
      await nullable.body?.cancel();
    }
  }
});

Deno.test("the schema check used above finds wrong, missing and undocumented fields", async () => {
  await using server = await startTestServer();
  const document = await loadDocument(server);
  const job = { $ref: "#/components/schemas/Job" };
  const problems = violations(
    { id: "X", pipeline: 1, tasks: [{ name: "a" }], created: "2026-11-28T12:00:00.123Z", extra: 1 },
    job,
    document,
  );
  for (
    const expected of [
      "$.id: X",
      "$.pipeline: integer is not string",
      "$.tasks[0]: missing required status",
      "$.created: 2026-11-28T12:00:00.123Z",
      "$: undocumented property extra",
      "$: missing required user",
    ]
  ) {
    assert(problems.includes(expected), `expected ${expected} in ${problems.join("; ")}`);
  }
});
