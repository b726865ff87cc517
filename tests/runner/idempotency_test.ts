/**
 * Idempotent scheduling in the runner, over a memory store: retries with the same key get the
 * first job, concurrent ones get one job, a different request with the key is refused, and a
 * key expires after its time.
 */
import type { Definitions } from "../../src/definition/types.ts";
import { requestFingerprint } from "../../src/engine/idempotency.ts";
import type { Job } from "../../src/engine/job.ts";
import { IdempotencyKeyReusedError, JobNotStoredError } from "../../src/errors.ts";
import { inProcessExecutor } from "../../src/executor/task_executor.ts";
import type { ScheduleRequest } from "../../src/runner/api.ts";
import { createRunner } from "../../src/runner/runner.ts";
import { StoreWriteError } from "../../src/store/errors.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../assert.ts";
import { pipeline } from "../engine/fixtures.ts";
import { dirLogs, memoryStore } from "./support.ts";

const HOUR = 60 * 60 * 1000;

/** A runner whose clock the test sets, with a store that fails the next `failSaves` saves. */
async function keyedRunner(options: { ttlMs?: number } = {}) {
  const dir = await Deno.makeTempDir({ prefix: "prunner-idempotency-" });
  const clock = { now: Date.UTC(2026, 11, 7, 12) };
  const memory = memoryStore(() => clock.now);
  const store = {
    ...memory,
    failSaves: 0,
    save(job: Job) {
      if (store.failSaves > 0) {
        store.failSaves--;
        return Promise.reject(new StoreWriteError(job.id, "disk full", dir));
      }
      return memory.save(job);
    },
  };
  // Jobs wait out a start delay of a day, so no task runs in these tests.
  const definitions: Definitions = new Map([
    ["build", pipeline({ name: "build", startDelayMs: 24 * HOUR })],
  ]);
  const runner = createRunner({
    definitions,
    store,
    logs: dirLogs(dir),
    executor: inProcessExecutor,
    cwd: dir,
    idempotencyTtlMs: options.ttlMs,
    now: () => clock.now,
  });
  return {
    runner,
    store,
    clock,
    async [Symbol.asyncDispose]() {
      await runner.shutdown("cancel");
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const request = (fields: Partial<ScheduleRequest> = {}): ScheduleRequest => ({
  pipeline: "build",
  variables: { branch: "main", tags: ["a", "b"] },
  user: "ann",
  queuePartition: null,
  ...fields,
});

Deno.test("a retry with the same key gets the first job, which holds the key", async () => {
  await using t = await keyedRunner();
  const first = await t.runner.scheduleOnce(request(), "key-1");
  assertEquals(first.replayed, false);
  // The same request with the variables' keys in another order.
  const retry = await t.runner.scheduleOnce(
    request({ variables: { tags: ["a", "b"], branch: "main" } }),
    "key-1",
  );
  assertEquals([retry.job.id, retry.replayed], [first.job.id, true]);
  assertEquals(t.store.saved.size, 1);
  assertEquals(t.store.saved.get(first.job.id)?.idempotency, {
    key: "key-1",
    fingerprint: requestFingerprint(request()),
    expires: t.clock.now + 24 * HOUR,
  });
});

Deno.test("without a key, or with another key or user, every request gets a job", async () => {
  await using t = await keyedRunner();
  const plain = [await t.runner.schedule(request()), await t.runner.schedule(request())];
  const keyed = await t.runner.scheduleOnce(request(), "key-1");
  const otherKey = await t.runner.scheduleOnce(request(), "key-2");
  const otherUser = await t.runner.scheduleOnce(request({ user: "bob" }), "key-1");
  const ids = new Set([...plain, keyed.job, otherKey.job, otherUser.job].map((job) => job.id));
  assertEquals(ids.size, 5);
  assertEquals([keyed, otherKey, otherUser].map((outcome) => outcome.replayed), [
    false,
    false,
    false,
  ]);
  assertEquals(plain.map((job) => job.idempotency), [undefined, undefined]);
  assertEquals(t.store.saved.size, 5);
});

Deno.test("a key sent with a different request is refused, naming the first job", async () => {
  await using t = await keyedRunner();
  const first = await t.runner.scheduleOnce(request(), "key-1");
  for (
    const other of [
      request({ variables: { branch: "dev", tags: ["a", "b"] } }),
      request({ variables: null }),
      request({ queuePartition: "site-a" }),
    ]
  ) {
    const error = await assertRejects(
      () => t.runner.scheduleOnce(other, "key-1"),
      IdempotencyKeyReusedError,
    );
    assertEquals(error.jobId, first.job.id);
    assertMatch(error.message, /idempotency key "key-1" was already used for a different request/);
  }
  assertEquals(t.store.saved.size, 1);
});

Deno.test("concurrent requests with the same key get one job", async () => {
  await using t = await keyedRunner();
  const outcomes = await Promise.all(
    Array.from({ length: 8 }, () => t.runner.scheduleOnce(request(), "key-1")),
  );
  assertEquals(new Set(outcomes.map((outcome) => outcome.job.id)).size, 1);
  assertEquals(outcomes.filter((outcome) => !outcome.replayed).length, 1);
  assertEquals(t.store.saved.size, 1);
});

Deno.test("when the first of concurrent requests is refused, the next one tries itself", async () => {
  await using t = await keyedRunner();
  t.store.failSaves = 1;
  const [first, second] = await Promise.allSettled([
    t.runner.scheduleOnce(request(), "key-1"),
    t.runner.scheduleOnce(request(), "key-1"),
  ]);
  assert(first.status === "rejected" && first.reason instanceof JobNotStoredError, "refused");
  assert(second.status === "fulfilled", "the second request got a job");
  assertEquals(second.value.replayed, false);
  assertEquals([...t.store.saved.keys()], [second.value.job.id]);
});

Deno.test("a key expires after its time; then it makes a new job", async () => {
  await using t = await keyedRunner({ ttlMs: HOUR });
  const first = await t.runner.scheduleOnce(request(), "key-1");
  t.clock.now += HOUR - 1;
  assertEquals((await t.runner.scheduleOnce(request(), "key-1")).job.id, first.job.id);
  t.clock.now += 1;
  const later = await t.runner.scheduleOnce(request({ variables: { other: true } }), "key-1");
  assertEquals(later.replayed, false);
  assert(later.job.id !== first.job.id, "a new job");
});
