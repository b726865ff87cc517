import { assert, assertEquals, assertMatch } from "../assert.ts";
import { nowSeconds, readJson, SECRET, signToken, startTestServer } from "./support.ts";
import { waitFor } from "../runner/support.ts";

const ROUTES: Array<[string, string]> = [
  ["GET", "/pipelines/"],
  ["GET", "/pipelines/jobs"],
  ["POST", "/pipelines/schedule"],
  ["GET", "/job/detail?id=52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8"],
  ["GET", "/job/logs?id=52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8&task=build"],
  ["POST", "/job/cancel?id=52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8"],
  ["GET", "/no/such/route"],
];

async function authorizationCases(): Promise<Array<[string, string | null, RegExp]>> {
  const header = (token: string) => `Bearer ${token}`;
  return [
    ["missing header", null, /missing Authorization header/],
    ["not Bearer", "Basic dXNlcjpwYXNz", /malformed Authorization header/],
    ["Bearer without token", "Bearer ", /malformed Authorization header/],
    ["garbage token", header("not-a-jwt"), /invalid token/],
    ["three garbage parts", header("a.b.c"), /invalid token/],
    ["wrong secret", header(await signToken({ sub: "x" }, "another-secret-123456")), /signature/],
    ["expired", header(await signToken({ sub: "x", exp: nowSeconds() - 60 }, SECRET)), /expired/],
    [
      "nbf in the future",
      header(await signToken({ sub: "x", nbf: nowSeconds() + 3600 }, SECRET)),
      /not valid yet/,
    ],
    ["alg none", header(await signToken({ sub: "x" }, SECRET, "none")), /HS256/],
    [
      "HS512 with the right secret",
      header(await signToken({ sub: "x" }, SECRET, "HS512")),
      /HS256/,
    ],
  ];
}

Deno.test("every route answers 401 JSON for a missing or bad token", async () => {
  await using server = await startTestServer();
  const cases = await authorizationCases();
  for (const [method, path] of ROUTES) {
    for (const [name, authorization, message] of cases) {
      const headers = new Headers();
      if (authorization !== null) headers.set("authorization", authorization);
      const response = await fetch(server.url + path, {
        method,
        headers,
        body: method === "POST" ? '{"pipeline":"build"}' : undefined,
      });
      const where = `${method} ${path} with ${name}`;
      assertEquals(response.status, 401, where);
      assertMatch(response.headers.get("content-type") ?? "", /^application\/json/, where);
      const body = await readJson(response) as { error: string };
      assertEquals(Object.keys(body), ["error"], where);
      assertMatch(body.error, message, where);
    }
  }
  assertEquals(server.runner.scheduled, [], "no job was scheduled without a valid token");
  assertEquals(server.runner.canceled, []);
});

Deno.test("valid tokens: exp in the future, nbf in the past, lower-case bearer", async () => {
  await using server = await startTestServer();
  const token = await signToken(
    { sub: "j.doe", exp: nowSeconds() + 60, nbf: nowSeconds() - 60, iat: nowSeconds() - 60 },
    SECRET,
  );
  for (const authorization of [`Bearer ${token}`, `bearer ${token}`]) {
    const response = await fetch(server.url + "/pipelines/", { headers: { authorization } });
    assertEquals(response.status, 200, authorization.slice(0, 7));
    await response.body?.cancel();
  }
});

Deno.test("GET /openapi.json is public", async () => {
  await using server = await startTestServer();
  const response = await fetch(server.url + "/openapi.json");
  assertEquals(response.status, 200);
  const document = await readJson(response) as { openapi: string };
  assert(document.openapi.startsWith("3.1"), document.openapi);
});

Deno.test("a token accepted before is refused once it expires", async () => {
  await using server = await startTestServer();
  const token = await signToken({ sub: "soon", exp: nowSeconds() + 2 }, SECRET);
  const get = () =>
    server.request("/pipelines/", { headers: { authorization: `Bearer ${token}` } });
  const first = await get();
  await first.body?.cancel();
  assertEquals(first.status, 200);
  const refused = await waitFor("the token to be refused after it expires", async () => {
    const response = await get();
    if (response.status === 401) return response;
    await response.body?.cancel();
    return null;
  });
  assertMatch((await readJson(refused) as { error: string }).error, /expired/);
});
