/**
 * Idempotency keys in the Deno KV job store: stored in the commit of the job's head, found by
 * user and key, forgotten when they expire or their job is deleted.
 */
import type { Job } from "../../src/engine/job.ts";
import { applyRetention } from "../../src/store/retention.ts";
import { createLogStore } from "../../src/store/logs.ts";
import { pipeline } from "../engine/fixtures.ts";
import { openKvJobStore } from "../../src/store/kv/job_store.ts";
import { idempotencyKey } from "../../src/store/kv/records.ts";
import { jobListingEncoder as listing } from "../../src/server/json.ts";
import { assert, assertEquals } from "../assert.ts";
import { allKeys, job, recordingKv, tempDir } from "./support.ts";

const HOUR = 60 * 60 * 1000;

async function clockedStore() {
  const dir = await tempDir();
  const path = `${dir.path}/jobs.kv`;
  const clock = { now: 1_700_000_000_000 };
  const { kv, record } = recordingKv(await Deno.openKv(path));
  const store = await openKvJobStore(kv, { listing, now: () => clock.now });
  return {
    store,
    kv,
    record,
    path,
    clock,
    async [Symbol.asyncDispose]() {
      await store.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

/** A job of `user` holding `key` until `expires`. */
function keyed(user: string, key: string, expires: number, fields: Partial<Job> = {}): Job {
  return job({ user, idempotency: { key, fingerprint: "f".repeat(64), expires }, ...fields });
}

const sameKey = (a: Deno.KvKey, b: Deno.KvKey) => JSON.stringify(a) === JSON.stringify(b);

Deno.test("a job's key is written in the commit of its head and found by user and key", async () => {
  await using t = await clockedStore();
  const j = keyed("ann", "key-1", t.clock.now + HOUR);
  const before = t.record.commits;
  await t.store.save(j);
  assertEquals(t.record.commits - before, 1);
  const index = idempotencyKey("ann", "key-1");
  assert(t.record.sets.some((key) => sameKey(key, ["jobs", j.created, j.id])), "head");
  assertEquals(t.record.expiring, [[index, HOUR]]);

  assertEquals(await t.store.findIdempotent("ann", "key-1"), j);
  assertEquals(await t.store.findIdempotent("bob", "key-1"), null);
  assertEquals(await t.store.findIdempotent("ann", "key-2"), null);

  // Later saves of the job leave the key as it is.
  j.start = t.clock.now;
  await t.store.save(j);
  assertEquals(t.record.expiring.length, 1);
  assertEquals((await t.store.findIdempotent("ann", "key-1"))?.start, j.start);
});

Deno.test("any user name and key fit: the index key is a digest", async () => {
  await using t = await clockedStore();
  const user = "ü".repeat(3000);
  const key = "k".repeat(255);
  const j = keyed(user, key, t.clock.now + HOUR);
  await t.store.save(j);
  assertEquals(await t.store.findIdempotent(user, key), j);
});

Deno.test("an expired key is not found, and not written when already expired", async () => {
  await using t = await clockedStore();
  const j = keyed("ann", "key-1", t.clock.now + HOUR);
  await t.store.save(j);
  t.clock.now += HOUR - 1;
  assertEquals((await t.store.findIdempotent("ann", "key-1"))?.id, j.id);
  t.clock.now += 1;
  assertEquals(await t.store.findIdempotent("ann", "key-1"), null);

  const late = keyed("ann", "key-2", t.clock.now);
  await t.store.save(late);
  assertEquals(await t.store.get(late.id), late);
  assert(!(await allKeys(t.kv)).some((key) => sameKey(key, idempotencyKey("ann", "key-2"))));
});

Deno.test("deleting a job forgets its key, unless a newer job took the key over", async () => {
  await using t = await clockedStore();
  const first = keyed("ann", "key-1", t.clock.now + HOUR, { completed: true, end: t.clock.now });
  const other = keyed("ann", "key-2", t.clock.now + HOUR);
  await Promise.all([t.store.save(first), t.store.save(other)]);
  t.clock.now += HOUR;
  const second = keyed("ann", "key-1", t.clock.now + HOUR);
  await t.store.save(second);
  await t.store.delete([first.id]);
  assertEquals(await t.store.findIdempotent("ann", "key-1"), second);

  await t.store.delete([second.id]);
  assertEquals(await t.store.findIdempotent("ann", "key-1"), null);
  const left = await allKeys(t.kv);
  assert(!left.some((key) => sameKey(key, idempotencyKey("ann", "key-1"))), Deno.inspect(left));
  assert(left.some((key) => sameKey(key, idempotencyKey("ann", "key-2"))), "key-2 stays");
});

Deno.test("a key is found after the database is closed and opened again", async () => {
  const dir = await tempDir();
  await using _dir = dir;
  const path = `${dir.path}/jobs.kv`;
  const j = keyed("ann", "key-1", Date.now() + HOUR);
  const first = await openKvJobStore(await Deno.openKv(path), { listing });
  await first.save(j);
  await first.close();
  const second = await openKvJobStore(await Deno.openKv(path), { listing });
  try {
    assertEquals(await second.findIdempotent("ann", "key-1"), j);
  } finally {
    await second.close();
  }
});

Deno.test("retention removing a job forgets its key before its time is up", async () => {
  await using t = await clockedStore();
  const ended = keyed("ann", "key-1", t.clock.now + 24 * HOUR, {
    completed: true,
    end: t.clock.now - 2 * HOUR,
  });
  const running = keyed("ann", "key-2", t.clock.now + 24 * HOUR, { start: t.clock.now });
  await Promise.all([t.store.save(ended), t.store.save(running)]);
  const definitions = new Map([["build", pipeline({ name: "build", retentionPeriodMs: HOUR })]]);
  const logsDir = await Deno.makeTempDir({ prefix: "prunner-idempotency-logs-" });
  try {
    assertEquals(
      await applyRetention(t.store, createLogStore(logsDir), definitions, t.clock.now),
      1,
    );
  } finally {
    await Deno.remove(logsDir, { recursive: true });
  }
  assertEquals(await t.store.findIdempotent("ann", "key-1"), null);
  assertEquals((await t.store.findIdempotent("ann", "key-2"))?.id, running.id);
  const left = await allKeys(t.kv);
  assert(!left.some((key) => sameKey(key, idempotencyKey("ann", "key-1"))), Deno.inspect(left));
});
