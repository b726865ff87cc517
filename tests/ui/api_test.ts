import {
  ApiError,
  clearToken,
  createApi,
  loadToken,
  saveToken,
  UnauthorizedError,
} from "../../src/ui/client/api.ts";
import { assertEquals, assertRejects } from "../assert.ts";

interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | null;
}

/** Replaces `fetch` for the duration of `fn`, answering with `answer` and recording calls. */
async function withFetch(
  answer: (call: Call) => Response,
  fn: (calls: Call[]) => Promise<void>,
): Promise<void> {
  const original = globalThis.fetch;
  const calls: Call[] = [];
  globalThis.fetch = async (input, init) => {
    const request = new Request(input, init);
    const call = {
      url: request.url,
      method: request.method,
      headers: Object.fromEntries(request.headers),
      body: request.body === null ? null : await request.text(),
    };
    calls.push(call);
    return answer(call);
  };
  try {
    await fn(calls);
  } finally {
    globalThis.fetch = original;
  }
}

const BASE = new URL("https://example.test/ci/");
const json = (value: unknown, status = 200) =>
  new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });

Deno.test("createApi: paths resolve under the page's prefix, with the bearer token", async () => {
  await withFetch(() => json({ jobs: [], next: "c2" }), async (calls) => {
    const api = createApi(BASE, "tok", () => {});
    assertEquals(await api.jobs({ limit: 50, before: "c1", pipeline: "a b" }), {
      jobs: [],
      next: "c2",
    });
    assertEquals(
      calls[0].url,
      "https://example.test/ci/pipelines/jobs?limit=50&before=c1&pipeline=a+b",
    );
    assertEquals(calls[0].headers.authorization, "Bearer tok");
  });
});

Deno.test("createApi: schedule sends only the fields that are set", async () => {
  await withFetch(() => json({ jobId: "j1" }, 202), async (calls) => {
    const api = createApi(BASE, "tok", () => {});
    assertEquals(await api.schedule("build", null, ""), "j1");
    assertEquals(await api.schedule("build", { tag: "v1" }, "eu"), "j1");
    assertEquals(calls.map((c) => [c.method, c.url, JSON.parse(c.body!)]), [
      ["POST", "https://example.test/ci/pipelines/schedule", { pipeline: "build" }],
      [
        "POST",
        "https://example.test/ci/pipelines/schedule",
        { pipeline: "build", variables: { tag: "v1" }, queuePartition: "eu" },
      ],
    ]);
  });
});

Deno.test("createApi: a 401 signs out with the server's message; other errors keep it", async () => {
  let status = 401;
  await withFetch(() => json({ error: "token has expired" }, status), async () => {
    const refused: string[] = [];
    const api = createApi(BASE, "tok", (message) => refused.push(message));
    const unauthorized = await assertRejects(() => api.pipelines(), UnauthorizedError);
    assertEquals(unauthorized.message, "token has expired");
    assertEquals(refused, ["token has expired"]);
    status = 404;
    const notFound = await assertRejects(() => api.job("x"), ApiError);
    assertEquals([notFound.status, notFound.message], [404, "token has expired"]);
    assertEquals(refused.length, 1);
  });
});

Deno.test("createApi: streams send Last-Event-ID when resuming", async () => {
  await withFetch(() => new Response("", { status: 200 }), async (calls) => {
    const api = createApi(BASE, "tok", () => {});
    await (await api.openStream("events", null, new AbortController().signal)).body?.cancel();
    await (await api.openStream("events", "b.7", new AbortController().signal)).body?.cancel();
    assertEquals(calls.map((c) => c.headers["last-event-id"]), [undefined, "b.7"]);
    assertEquals(calls[1].url, "https://example.test/ci/events");
  });
});

Deno.test("tokens: kept per tab, a pasted 'Bearer …' header value is accepted", () => {
  assertEquals(saveToken("  Bearer abc.def.ghi \n"), "abc.def.ghi");
  assertEquals(loadToken(), "abc.def.ghi");
  clearToken();
  assertEquals(loadToken(), null);
});
