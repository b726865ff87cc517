import { assert, assertEquals } from "../assert.ts";
import {
  fakeRunner,
  makeJob,
  PIPELINES,
  PIPELINES_JSON,
  readJson,
  startTestServer,
} from "./support.ts";

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);

interface Page {
  pipelines: unknown;
  jobs: { id: string; pipeline: string; variables?: unknown }[];
  next?: string;
}

function jobs() {
  // Pairs share a creation time: the cursor must tell them apart by id.
  return Array.from({ length: 25 }, (_, i) =>
    makeJob({
      created: T0 + Math.floor(i / 2) * 1000,
      pipeline: i % 3 === 0 ? "deploy" : "build",
      variables: { i },
    }));
}

Deno.test("GET /pipelines/jobs?limit pages through every job exactly once, newest first", async () => {
  const all = jobs();
  await using server = await startTestServer(fakeRunner(all));
  const full = await readJson(await server.request("/pipelines/jobs")) as Page;
  const expected = full.jobs.map((job) => job.id);
  assertEquals(expected.length, 25);

  for (const limit of [1, 4, 25, 100]) {
    const seen: string[] = [];
    let path = `/pipelines/jobs?limit=${limit}`;
    for (let pages = 0; pages < 50; pages++) {
      const response = await server.request(path);
      assertEquals(response.status, 200, path);
      const page = await readJson(response) as Page;
      assertEquals(page.pipelines, PIPELINES_JSON);
      assert(page.jobs.length <= limit);
      seen.push(...page.jobs.map((job) => job.id));
      if (page.next === undefined) break;
      assert(/^[A-Za-z0-9_-]+$/.test(page.next), `a URL-safe cursor: ${page.next}`);
      path = `/pipelines/jobs?limit=${limit}&before=${page.next}`;
    }
    assertEquals(seen, expected, `limit ${limit}`);
  }
  const page = await readJson(await server.request("/pipelines/jobs?limit=1")) as Page;
  assertEquals(page.jobs[0], full.jobs[0], "paged jobs are the same JSON, with variables");
});

Deno.test("GET /pipelines/jobs?pipeline filters, and pages within the pipeline", async () => {
  const all = jobs();
  await using server = await startTestServer(fakeRunner(all));
  const deploys = all.filter((job) => job.pipeline === "deploy").length;
  const first = await readJson(await server.request("/pipelines/jobs?pipeline=deploy")) as Page;
  assertEquals(first.jobs.length, deploys, "the default page holds them all");
  assert(first.jobs.every((job) => job.pipeline === "deploy"));
  assertEquals(first.next, undefined);

  const seen: string[] = [];
  let path = "/pipelines/jobs?pipeline=deploy&limit=2";
  while (true) {
    const page = await readJson(await server.request(path)) as Page;
    assert(page.jobs.every((job) => job.pipeline === "deploy"));
    seen.push(...page.jobs.map((job) => job.id));
    if (!page.next) break;
    path = `/pipelines/jobs?pipeline=deploy&limit=2&before=${page.next}`;
  }
  assertEquals(seen, first.jobs.map((job) => job.id));
  const none = await readJson(await server.request("/pipelines/jobs?pipeline=nope")) as Page;
  assertEquals(none.jobs, []);
});

Deno.test("GET /pipelines/jobs without paging parameters keeps its exact body", async () => {
  const all = jobs();
  await using server = await startTestServer(fakeRunner(all));
  const plain = await (await server.request("/pipelines/jobs")).text();
  assert(plain.startsWith('{"pipelines":[{"pipeline":"build","schedulable":true,"running":true}'));
  assert(!plain.includes('"next"'), "no next");
  assert(!plain.includes("runningJobs"), "no counts");
  for (const path of ["/pipelines/jobs?", "/pipelines/jobs?pipeline=", "/pipelines/jobs?x=1"]) {
    assertEquals(await (await server.request(path)).text(), plain, path);
  }
});

Deno.test("GET /pipelines/jobs refuses a bad limit or cursor with a message", async () => {
  await using server = await startTestServer(fakeRunner(jobs()));
  for (const limit of ["0", "1001", "-1", "1.5", "x", ""]) {
    const response = await server.request(`/pipelines/jobs?limit=${limit}`);
    assertEquals(response.status, 400, `limit ${limit}`);
    const { error } = await readJson(response) as { error: string };
    assertEquals(error, "limit must be a whole number from 1 to 1000");
  }
  const forged = btoa(JSON.stringify(["x", 1]));
  for (const before of ["nope!", "e30", forged.replace(/=+$/, "")]) {
    const response = await server.request(`/pipelines/jobs?before=${before}`);
    assertEquals(response.status, 400, `before ${before}`);
    const { error } = await readJson(response) as { error: string };
    assert(error.startsWith("invalid cursor"), error);
  }
});

Deno.test("GET /pipelines/status lists pipelines with running and waiting counts", async () => {
  await using server = await startTestServer();
  const response = await server.request("/pipelines/status");
  assertEquals(response.status, 200);
  assertEquals(await readJson(response), {
    pipelines: PIPELINES.map(({ runningJobs, waitingJobs }, i) => ({
      ...PIPELINES_JSON[i],
      runningJobs,
      waitingJobs,
    })),
  });
  const plain = await readJson(await server.request("/pipelines")) as { pipelines: unknown };
  assertEquals(plain.pipelines, PIPELINES_JSON, "GET /pipelines: prunner's fields and nextRun");
  assertEquals(PIPELINES_JSON[1].nextRun, "2026-12-08T03:30:00Z");
});

Deno.test("GET /pipelines/jobs?status lists one state, and refuses an unknown one", async () => {
  const all = jobs().map((job, i) =>
    i % 5 === 0 ? { ...job, completed: true, errored: true, start: job.created } : job
  );
  await using server = await startTestServer(fakeRunner(all));
  const page = await readJson(await server.request("/pipelines/jobs?status=error")) as Page;
  assertEquals(page.jobs.length, 5);
  assertEquals(
    new Set(page.jobs.map((job) => job.id)),
    new Set(all.filter((_, i) => i % 5 === 0).map((job) => job.id)),
  );
  const response = await server.request("/pipelines/jobs?status=failed");
  assertEquals(response.status, 400);
  const { error } = await readJson(response) as { error: string };
  assertEquals(error, "status must be one of waiting, running, done, error, canceled");
});
