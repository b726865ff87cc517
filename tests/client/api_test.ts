import { verify } from "hono/jwt";
import { createClient } from "../../src/client/api.ts";
import type { JobJson } from "../../src/client/json.ts";
import {
  addressUrl,
  type ConnectionOptions,
  resolveCredentials,
  serverUrl,
} from "../../src/client/connection.ts";
import {
  ApiError,
  NoCredentialsError,
  ServerUnreachableError,
  UnauthorizedError,
  UnknownPipelineError,
} from "../../src/client/errors.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../assert.ts";
import { withTempDir } from "../temp_dir.ts";

const SECRET = "client-test-secret-0123456789";

const credentials = {
  authorization: () => Promise.resolve("Bearer test"),
  source: "the token came from $PRUNNER_TOKEN",
};

/** A fake `fetch` answering from a table of `METHOD path` → handler; records the requests. */
function fakeFetch(routes: Record<string, (request: Request) => Response | Promise<Response>>) {
  const requests: Request[] = [];
  const fetchFn = (input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(input, init);
    requests.push(request.clone());
    const url = new URL(request.url);
    const handler = routes[`${request.method} ${url.pathname}`];
    return Promise.resolve(
      handler ? handler(request) : Response.json({ error: "not found" }, { status: 404 }),
    );
  };
  return { fetchFn: fetchFn as typeof fetch, requests };
}

function job(id: string, pipeline: string): JobJson {
  return {
    id,
    pipeline,
    tasks: [],
    completed: true,
    canceled: false,
    errored: false,
    created: "2026-11-30T08:00:00Z",
    user: "u",
  };
}

const options: ConnectionOptions = {
  server: null,
  address: "localhost:9009",
  token: null,
  config: "absent.yml",
  jwtSecret: SECRET,
  jwtSecretFrom: "env",
  user: "ann",
};

Deno.test("serverUrl: --server wins, a bare host:port gets http://, else the listen address", () => {
  assertEquals(serverUrl({ server: "ci:9009", address: ":1" }), "http://ci:9009");
  assertEquals(serverUrl({ server: "https://ci/base/", address: ":1" }), "https://ci/base");
  assertEquals(serverUrl({ server: null, address: ":9009" }), "http://localhost:9009");
  assertEquals(addressUrl("0.0.0.0:80"), "http://localhost:80");
  assertEquals(addressUrl("[::]:80"), "http://localhost:80");
  assertEquals(addressUrl("10.0.0.1:80"), "http://10.0.0.1:80");
});

Deno.test("resolveCredentials: signs a token for the user with the secret", async () => {
  const signed = await resolveCredentials(options);
  const header = await signed.authorization();
  const claims = await verify(header.replace(/^Bearer /, ""), SECRET, "HS256");
  assertEquals(claims.sub, "ann");
  assert(typeof claims.exp === "number" && claims.exp > Date.now() / 1000);
  assertEquals(signed.source, "the token was signed with the secret from $PRUNNER_JWT_SECRET");
  const flag = await resolveCredentials({ ...options, jwtSecretFrom: "flag" });
  assertMatch(flag.source, /from --jwt-secret$/);
});

Deno.test("resolveCredentials: $PRUNNER_TOKEN is used as it is", async () => {
  const given = await resolveCredentials({ ...options, token: "abc.def.ghi" });
  assertEquals(await given.authorization(), "Bearer abc.def.ghi");
  assertEquals(given.source, "the token came from $PRUNNER_TOKEN");
});

Deno.test("resolveCredentials: reads the config file, never creates one", async () => {
  await withTempDir("prunner-client-", async (dir) => {
    const config = `${dir}/.prunner.yml`;
    const none = { ...options, jwtSecret: null, jwtSecretFrom: null, config };
    await assertRejects(() => resolveCredentials(none), NoCredentialsError, config);
    await assertRejects(() => Deno.stat(config), Deno.errors.NotFound);
    await Deno.writeTextFile(config, `jwt_secret: ${SECRET}\n`);
    const fromFile = await resolveCredentials(none);
    assertEquals(fromFile.source, `the token was signed with jwt_secret from ${config}`);
    const header = await fromFile.authorization();
    assertEquals((await verify(header.slice(7), SECRET, "HS256")).sub, "ann");
  });
});

Deno.test("client: an unreachable server names the URL and the reason", async () => {
  const fetchFn = () => Promise.reject(new TypeError("fetch failed", { cause: new Error("boom") }));
  const client = createClient("http://nowhere:1", credentials, fetchFn as typeof fetch);
  const error = await assertRejects(() => client.job("x"), ServerUnreachableError);
  assertEquals(
    error.message,
    "cannot reach prunner at http://nowhere:1: boom (set --server or $PRUNNER_SERVER)",
  );
});

Deno.test("client: a 401 names the reason and where the token came from", async () => {
  const { fetchFn, requests } = fakeFetch({
    "GET /job/detail": () => Response.json({ error: "token expired (exp)" }, { status: 401 }),
  });
  const client = createClient("http://h", credentials, fetchFn);
  const error = await assertRejects(() => client.job("x"), UnauthorizedError);
  assertEquals(
    error.message,
    "the server refused the token: token expired (exp) (HTTP 401); the token came from $PRUNNER_TOKEN",
  );
  assertEquals(requests[0].headers.get("authorization"), "Bearer test");
});

Deno.test("client: scheduling an unknown pipeline lists the defined ones", async () => {
  const pipelines = [{ pipeline: "a", schedulable: true, running: false }, {
    pipeline: "b",
    schedulable: true,
    running: false,
  }];
  const { fetchFn, requests } = fakeFetch({
    "POST /pipelines/schedule": async (request) => {
      const body = await request.json();
      return body.pipeline === "a"
        ? Response.json({ error: 'queue full: pipeline "a" …' }, { status: 400 })
        : Response.json({ error: "pipeline not defined" }, { status: 400 });
    },
    "GET /pipelines/status": () => Response.json({ pipelines }),
  });
  const client = createClient("http://h", credentials, fetchFn);
  const unknown = await assertRejects(
    () =>
      client.schedule({ pipeline: "c", variables: { x: 1 }, partition: "p", idempotencyKey: "k" }),
    UnknownPipelineError,
  );
  assertEquals(unknown.message, 'pipeline "c" is not defined; defined pipelines: a, b');
  assertEquals(await requests[0].json(), {
    pipeline: "c",
    variables: { x: 1 },
    queuePartition: "p",
  });
  const full = await assertRejects(
    () => client.schedule({ pipeline: "a", variables: {}, partition: null, idempotencyKey: "k" }),
    ApiError,
  );
  assertEquals(full.message, 'queue full: pipeline "a" … (HTTP 400)');
});

Deno.test("client: schedule sends its idempotency key, again with each retry", async () => {
  let attempts = 0;
  const { fetchFn: answering, requests } = fakeFetch({
    "POST /pipelines/schedule": () => Response.json({ jobId: "j-1" }, { status: 202 }),
  });
  // The first two requests are lost (as when the connection breaks), the third is answered.
  const fetchFn = ((input: string | URL | Request, init?: RequestInit) => {
    const answer = answering(input, init);
    return ++attempts <= 2 ? Promise.reject(new TypeError("connection reset")) : answer;
  }) as typeof fetch;
  const client = createClient("http://h", credentials, fetchFn);
  const request = { pipeline: "a", variables: {}, partition: null, idempotencyKey: "key-1" };
  assertEquals(await client.schedule(request), "j-1");
  assertEquals(requests.map((r) => r.headers.get("idempotency-key")), ["key-1", "key-1", "key-1"]);

  attempts = -10;
  const unreachable = createClient("http://h", credentials, fetchFn);
  await assertRejects(() => unreachable.schedule(request), ServerUnreachableError);
  assertEquals(requests.length, 6, "two retries, then the error");
});

Deno.test("client: pipelines fall back to GET /pipelines/ on a server without counts", async () => {
  const { fetchFn } = fakeFetch({
    "GET /pipelines/": () =>
      Response.json({ pipelines: [{ pipeline: "a", schedulable: false, running: true }] }),
  });
  const client = createClient("http://h", credentials, fetchFn);
  assertEquals(await client.pipelines(), [{ pipeline: "a", schedulable: false, running: true }]);
});

Deno.test("client: jobs asks for a page and filters a server that ignores paging", async () => {
  const all = [job("3", "x"), job("2", "y"), job("1", "x")];
  const { fetchFn, requests } = fakeFetch({
    "GET /pipelines/jobs": () => Response.json({ pipelines: [], jobs: all }),
  });
  const client = createClient("http://h", credentials, fetchFn);
  assertEquals((await client.jobs({ pipeline: "x", limit: 1 })).map((j) => j.id), ["3"]);
  assertEquals(new URL(requests[0].url).search, "?limit=1&pipeline=x");
  assertEquals((await client.jobs({ pipeline: null, limit: 5 })).map((j) => j.id), ["3", "2", "1"]);
});

Deno.test("client: jobs follows next until the limit is reached", async () => {
  const pages: Record<string, { jobs: JobJson[]; next?: string }> = {
    "": { jobs: Array.from({ length: 1000 }, (_, i) => job(`a${i}`, "x")), next: "c1" },
    "c1": { jobs: [job("b0", "x"), job("b1", "x")], next: "c2" },
  };
  const { fetchFn, requests } = fakeFetch({
    "GET /pipelines/jobs": (request) =>
      Response.json(pages[new URL(request.url).searchParams.get("before") ?? ""]),
  });
  const client = createClient("http://h", credentials, fetchFn);
  const jobs = await client.jobs({ pipeline: null, limit: 1001 });
  assertEquals(jobs.length, 1001);
  assertEquals(jobs.at(-1)!.id, "b0");
  assertEquals(requests.map((r) => new URL(r.url).search), ["?limit=1000", "?limit=1&before=c1"]);
});

Deno.test("client: cluster reads GET /cluster; a single prunner's 404 keeps its message", async () => {
  const cluster = { node: "a", nodes: [] };
  const { fetchFn } = fakeFetch({ "GET /cluster": () => Response.json(cluster) });
  assertEquals(await createClient("http://h", credentials, fetchFn).cluster(), cluster);

  const single = fakeFetch({
    "GET /cluster": () => Response.json({ error: "cluster mode is off" }, { status: 404 }),
  });
  const error = await assertRejects(
    () => createClient("http://h", credentials, single.fetchFn).cluster(),
    ApiError,
  );
  assertEquals(error.status, 404);
  assertEquals(error.message, "cluster mode is off (HTTP 404)");
});

Deno.test("client: events is null on a server without an event stream", async () => {
  const { fetchFn } = fakeFetch({});
  const client = createClient("http://h", credentials, fetchFn);
  assertEquals(await client.events({}), null);
});
