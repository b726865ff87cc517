import { assert, assertEquals, assertRejects } from "../assert.ts";
import { StoreReadError, StoreWriteError } from "../../src/store/errors.ts";
import type { JobStore } from "../../src/store/types.ts";
import { openKvJobStore } from "../../src/store/kv/job_store.ts";
import { FORMAT } from "../../src/store/kv/migration.ts";
import { INLINE_VARIABLES_BYTES } from "../../src/store/kv/records.ts";
import { LISTING_BYTES } from "../../src/store/kv/listing.ts";
import { jobListingEncoder as listing } from "../../src/server/json.ts";
import {
  allKeys,
  apiJson,
  bigVariables,
  collect,
  job,
  type KvRecord,
  listed,
  recordingKv,
  task,
  tempDir,
} from "./support.ts";

async function testStore(): Promise<
  & { store: JobStore; kv: Deno.Kv; record: KvRecord; path: string; damaged: StoreReadError[] }
  & AsyncDisposable
> {
  const dir = await tempDir();
  const path = `${dir.path}/jobs.kv`;
  const { kv, record } = recordingKv(await Deno.openKv(path));
  const damaged: StoreReadError[] = [];
  const store = await openKvJobStore(kv, { listing, onDamaged: (error) => damaged.push(error) });
  return {
    store,
    kv,
    record,
    path,
    damaged,
    async [Symbol.asyncDispose]() {
      await store.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

Deno.test("saves of the same moment are written in one commit", async () => {
  await using t = await testStore();
  const jobs = Array.from({ length: 50 }, () => job());
  const before = t.record.commits;
  await Promise.all(jobs.map((j) => t.store.save(j)));
  assertEquals(t.record.commits - before, 1);
  assertEquals((await collect(t.store.list())).length, 50);
});

Deno.test("commits run one after the other, in the order of the saves", async () => {
  await using t = await testStore();
  t.record.delayMs = 20;
  const j = job();
  const order: string[] = [];
  const saves: Promise<void>[] = [];
  for (const status of ["running", "done", "error"] as const) {
    j.tasks[0].status = status;
    saves.push(t.store.save(structuredClone(j)).then(() => void order.push(status)));
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await Promise.all(saves);
  assertEquals(t.record.maxInFlight, 1);
  assertEquals(order, ["running", "done", "error"]);
  assertEquals((await t.store.get(j.id))?.tasks[0].status, "error");
});

Deno.test("a failing commit rejects every save in it", async () => {
  await using t = await testStore();
  t.record.failWith = new Error("disk full");
  const jobs = [job(), job()];
  for (const j of jobs) {
    const error = await assertRejects(() => t.store.save(j), StoreWriteError, "disk full");
    assertEquals(error.jobId, j.id);
  }
  t.record.failWith = null;
  await t.store.save(jobs[0]);
  assertEquals(await t.store.get(jobs[0].id), jobs[0]);
});

Deno.test("a job that cannot be stored fails alone, not the jobs saved with it", async () => {
  await using t = await testStore();
  const bad = job({ pipeline: "p".repeat(3000) });
  const good = job();
  const results = await Promise.allSettled([t.store.save(bad), t.store.save(good)]);
  assertEquals(results[0].status, "rejected");
  const reason = (results[0] as PromiseRejectedResult).reason;
  assert(reason instanceof StoreWriteError, String(reason));
  assertEquals(reason.jobId, bad.id);
  assertEquals(results[1].status, "fulfilled");
  assertEquals(await t.store.get(good.id), good);
  assertEquals(await t.store.get(bad.id), null);
});

Deno.test("1 MiB of variables and 2000 tasks are stored and read back in full", async () => {
  await using t = await testStore();
  const variables = bigVariables(1024 * 1024);
  const tasks = Array.from(
    { length: 2000 },
    (_, i) =>
      task(`task ${i} ✓`, { dependsOn: i > 0 ? [`task ${i - 1} ✓`] : [], error: "e".repeat(40) }),
  );
  const big = job({ variables, tasks });
  const headBytes = new TextEncoder().encode(JSON.stringify({ ...big, variables: null })).length;
  assert(headBytes > 65_536, `the state alone should exceed 64 KiB, is ${headBytes}`);
  const small = job();
  await Promise.all([t.store.save(big), t.store.save(small)]);
  assert(t.record.commits >= 3, "1 MiB cannot be written in one commit");

  assertEquals(await t.store.get(big.id), big);
  assertEquals(await collect(t.store.list()), [small, big]);
  assertEquals(await collect(t.store.listByPipeline("build")), [small, big]);
  assertEquals(await t.store.listUnfinished(), [big, small]);

  const parts = await collect(t.kv.list({ prefix: ["job_parts", big.id, "variables"] }));
  const variableBytes = new TextEncoder().encode(JSON.stringify(variables)).length;
  assertEquals(parts.length, Math.ceil(variableBytes / 65_536));
});

Deno.test("a state change does not rewrite big variables", async () => {
  await using t = await testStore();
  const j = job({ variables: bigVariables(200_000) });
  await t.store.save(j);
  const variableSets = () =>
    t.record.sets.filter((key) => key[0] === "job_parts" && key[2] === "variables").length;
  const first = variableSets();
  assertEquals(first, 4);
  j.tasks[0].status = "running";
  await t.store.save(j);
  j.tasks[0].status = "done";
  j.completed = true;
  await t.store.save(j);
  assertEquals(variableSets(), first);
  assertEquals(await t.store.get(j.id), j);

  const restored = (await t.store.get(j.id))!;
  restored.lastError = "seen after reading it back";
  await t.store.save(restored);
  assertEquals(variableSets(), first);
  assertEquals(await t.store.get(j.id), restored);
});

Deno.test("small variables stay in the job's head", async () => {
  await using t = await testStore();
  const j = job({ variables: { text: "v".repeat(INLINE_VARIABLES_BYTES - 20) } });
  await t.store.save(j);
  assertEquals(await collect(t.kv.list({ prefix: ["job_parts"] })), []);
  assertEquals(await t.store.get(j.id), j);
});

Deno.test("a state that shrinks below 64 KiB again reads back right", async () => {
  await using t = await testStore();
  const j = job({ tasks: [task("a", { error: "x".repeat(200_000) })] });
  await t.store.save(j);
  assertEquals(await t.store.get(j.id), j);
  j.tasks[0].error = "short";
  await t.store.save(j);
  assertEquals(await t.store.get(j.id), j);
  assertEquals(await collect(t.kv.list({ prefix: ["job_parts", j.id, "state"] })), []);
});

Deno.test("delete leaves no record, index or part of the jobs it removes", async () => {
  await using t = await testStore();
  const big = job({
    variables: bigVariables(300_000),
    tasks: [task("a", { error: "x".repeat(70_000) })],
  });
  const other = job({ pipeline: "other" });
  const kept = job();
  await Promise.all([big, other, kept].map((j) => t.store.save(j)));
  await t.store.delete([big.id, other.id, "unknown"]);
  const left = await allKeys(t.kv);
  assert(left.every((key) => key.includes(kept.id)), Deno.inspect(left));
});

Deno.test("a job missing one of its parts is a StoreReadError naming it; list skips it", async () => {
  await using t = await testStore();
  const before = job();
  const j = job({ variables: bigVariables(200_000) });
  const after = job();
  for (const item of [before, j, after]) await t.store.save(item);
  await t.kv.delete(["job_parts", j.id, "variables", 1]);
  await assertRejects(() => t.store.get(j.id), StoreReadError, `${j.id}`);
  const listed = await collect(t.store.list());
  assertEquals(listed.map((item) => item.id), [after.id, before.id]);
  assertEquals(t.damaged.length, 1);
  assert(t.damaged[0].message.includes("part 1 of its variables"), t.damaged[0].message);
  // Startup and retention read through the indexes: they skip it too.
  assertEquals((await t.store.listUnfinished()).map((item) => item.id), [before.id, after.id]);
  assertEquals(
    (await collect(t.store.listByPipeline("build"))).map((item) => item.id),
    [after.id, before.id],
  );
  assertEquals(t.damaged.length, 3);
});

Deno.test("listJson builds the API JSON of a job too big to store it for listing", async () => {
  await using t = await testStore();
  const big = job({ variables: bigVariables(LISTING_BYTES + 1000) });
  const small = job({ created: 1 });
  await Promise.all([big, small].map((j) => t.store.save(j)));
  assertEquals((await t.kv.get(["listed", big.created, big.id])).value, false);
  assertEquals(await listed(t.store), apiJson(big, small));
});

Deno.test("a database of format 1 gets its listing entries and the current format when opened", async () => {
  const dir = await tempDir();
  await using _dir = dir;
  const path = `${dir.path}/jobs.kv`;
  const jobs = [job({ created: 1000 }), job({ created: 2000, variables: bigVariables(150_000) })];
  const first = await openKvJobStore(await Deno.openKv(path), { listing });
  await Promise.all(jobs.map((j) => first.save(j)));
  await first.close();
  // What format 1 wrote: the same keys, without listing entries.
  const kv = await Deno.openKv(path);
  for await (const entry of kv.list({ prefix: ["listed"] })) await kv.delete(entry.key);
  await kv.set(["format"], 1);
  kv.close();

  const second = await openKvJobStore(await Deno.openKv(path), { listing });
  try {
    assertEquals(await listed(second), apiJson(jobs[1], jobs[0]));
    assertEquals(await collect(second.list()), [jobs[1], jobs[0]]);
  } finally {
    await second.close();
  }
  const reopened = await Deno.openKv(path);
  try {
    assertEquals((await reopened.get(["format"])).value, FORMAT);
  } finally {
    reopened.close();
  }
});

Deno.test("check writes the store clock's time to the health record", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/jobs.kv`;
  const store = await openKvJobStore(await Deno.openKv(path), { listing, now: () => 1234 });
  try {
    await store.check();
  } finally {
    await store.close();
  }
  const kv = await Deno.openKv(path);
  try {
    assertEquals((await kv.get(["health"])).value, 1234);
  } finally {
    kv.close();
  }
});

Deno.test("a trigger's tick is in the commit of its job's head: both or neither", async () => {
  await using t = await testStore();
  t.record.failWith = new Error("disk full");
  const triggered = job({ trigger: { cron: "@daily", timezone: "UTC", planned: 7 } });
  await assertRejects(() => t.store.save(triggered), StoreWriteError);
  assertEquals(await t.store.triggerTicks(), []);
  assertEquals(await t.store.get(triggered.id), null);
  t.record.failWith = null;
  await t.store.save(triggered);
  assertEquals(await t.store.triggerTicks(), [{
    pipeline: "build",
    trigger: "@daily UTC",
    planned: 7,
  }]);
});
