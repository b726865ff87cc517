import { createApp } from "../../src/server/mod.ts";
import { UI_ASSETS } from "../../src/ui/assets.gen.ts";
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { fakeRunner, SECRET, signToken, testMetrics } from "../server/support.ts";

function app(ui: boolean) {
  return createApp({
    runner: fakeRunner(),
    secret: SECRET,
    isShuttingDown: () => false,
    metrics: testMetrics(),
    ui,
  });
}

Deno.test("ui: /ui/ serves the page without a token, with relative asset URLs", async () => {
  const response = await app(true).request("/ui/");
  assertEquals(response.status, 200);
  assertEquals(response.headers.get("content-type"), "text/html; charset=utf-8");
  const html = await response.text();
  assertEquals(html, UI_ASSETS["index.html"].body);
  assertMatch(html, /<script type="module" src="app\.js"><\/script>/);
  assertMatch(html, /href="app\.css"/);
  assert(!/(src|href)="\//.test(html), "no absolute URLs: the UI must work under a path prefix");
  assertMatch(response.headers.get("content-security-policy") ?? "", /connect-src 'self'/);
  assertEquals(response.headers.get("x-content-type-options"), "nosniff");
});

Deno.test("ui: the script and the stylesheet are served with their types", async () => {
  for (
    const [path, type] of [["/ui/app.js", "text/javascript"], ["/ui/app.css", "text/css"]]
  ) {
    const response = await app(true).request(path);
    assertEquals(response.status, 200, path);
    assertMatch(response.headers.get("content-type") ?? "", new RegExp(`^${type}`));
    assert((await response.text()).length > 1000, `${path} has content`);
  }
});

Deno.test("ui: the bundle fetches nothing from other origins", () => {
  const script = UI_ASSETS["app.js"].body;
  assert(!/https?:\/\/(?!www\.w3\.org)/.test(script), "no absolute http(s) URL in app.js");
  assert(!/https?:\/\//.test(UI_ASSETS["index.html"].body), "no absolute URL in index.html");
});

Deno.test("ui: /ui redirects to ui/ relatively, so a proxy's path prefix is kept", async () => {
  const response = await app(true).request("/ui");
  assertEquals(response.status, 308);
  assertEquals(response.headers.get("location"), "ui/");
});

Deno.test("ui: an ETag makes repeated loads 304, and HEAD has no body", async () => {
  const first = await app(true).request("/ui/app.js");
  const etag = first.headers.get("etag");
  assert(etag, "an ETag");
  await first.body?.cancel();
  const again = await app(true).request("/ui/app.js", { headers: { "if-none-match": etag } });
  assertEquals(again.status, 304);
  assertEquals(await again.text(), "");
  const head = await app(true).request("/ui/app.js", { method: "HEAD" });
  assertEquals(head.status, 200);
  assertEquals(await head.text(), "");
});

Deno.test("ui: unknown files are 404 and other methods 405, both without a token", async () => {
  const missing = await app(true).request("/ui/secret.txt");
  assertEquals(missing.status, 404);
  assertMatch(((await missing.json()) as { error: string }).error, /not found/);
  const prototype = await app(true).request("/ui/constructor");
  assertEquals(prototype.status, 404);
  await prototype.body?.cancel();
  const post = await app(true).request("/ui/", { method: "POST" });
  assertEquals(post.status, 405);
  assertEquals(post.headers.get("allow"), "GET, HEAD");
  await post.body?.cancel();
});

Deno.test("ui: the API still needs a token when the UI is served", async () => {
  const response = await app(true).request("/pipelines/");
  assertEquals(response.status, 401);
  await response.body?.cancel();
  const lookalike = await app(true).request("/uix");
  assertEquals(lookalike.status, 401);
  await lookalike.body?.cancel();
});

Deno.test("ui: turned off, /ui/ is not served (and needs a token like any unknown path)", async () => {
  const anonymous = await app(false).request("/ui/");
  assertEquals(anonymous.status, 401);
  await anonymous.body?.cancel();
  const token = await signToken({ sub: "j.doe" }, SECRET);
  const signedIn = await app(false).request("/ui/", {
    headers: { authorization: `Bearer ${token}` },
  });
  assertEquals(signedIn.status, 404);
  await signedIn.body?.cancel();
});
