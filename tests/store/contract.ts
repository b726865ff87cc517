/**
 * What every store backend must do, as one test per backend with a step per rule: the
 * `JobStore` (save, get, list, page, the listings, delete, flush, check, close) and the
 * `LogStore` (output written is read back, attempt by attempt). A backend's test file calls
 * {@linkcode storeContract} with a way to open its stores on fresh storage.
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "../assert.ts";
import type { Job } from "../../src/engine/job.ts";
import { StoreWriteError } from "../../src/store/errors.ts";
import type { StoreReadError } from "../../src/store/errors.ts";
import type { JobStore, LogStore, LogStream } from "../../src/store/types.ts";
import { apiJson, bigVariables, collect, job, listed, task } from "./support.ts";

/** Stores of one backend on storage of their own. */
export interface StoresUnderTest extends AsyncDisposable {
  readonly store: JobStore;
  readonly logs: LogStore;
  /** Damaged records the store reported. */
  readonly damaged: StoreReadError[];
  /** Writes `bytes` as the output of a task's attempt, as the backend's writer does. */
  writeLog(
    jobId: string,
    task: string,
    stream: LogStream,
    attempt: number,
    bytes: Uint8Array,
  ): Promise<void>;
  /** Closes `store` and opens another store on the same storage (which dispose closes). */
  reopen(): Promise<JobStore>;
}

/** A backend as the contract tests it. */
export interface Backend extends AsyncDisposable {
  /** Opens stores on fresh, empty storage, whose job store takes the time from `now`. */
  open(now: () => number): Promise<StoresUnderTest>;
}

/** The clock of a rule's stores: they read `now`, the rule moves it. */
interface Clock {
  now: number;
}

/**
 * Registers the contract test of a backend: `start` prepares the backend once (e.g. starts a
 * database server), each step opens fresh stores. With `ignore`, the test is skipped and the
 * reason printed.
 *
 * @example
 * ```ts
 * storeContract("Deno KV", () => Promise.resolve(kvBackend()));
 * ```
 */
export function storeContract(
  name: string,
  start: () => Promise<Backend>,
  ignore: string | null = null,
): void {
  if (ignore !== null) console.warn(`${name} store contract skipped: ${ignore}`);
  Deno.test({
    name: `${name} store contract`,
    ignore: ignore !== null,
    async fn(t) {
      await using backend = await start();
      for (const [rule, check] of RULES) {
        await t.step(rule, async () => {
          const clock: Clock = { now: 1_700_000_000_000 };
          await using stores = await backend.open(() => clock.now);
          await check(stores, clock);
        });
      }
    },
  });
}

function newestFirst(jobs: Job[]): Job[] {
  return [...jobs].sort((a, b) =>
    b.created - a.created || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)
  );
}

async function readAll(stream: ReadableStream<Uint8Array> | null): Promise<Uint8Array | null> {
  if (stream === null) return null;
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const HOUR = 60 * 60 * 1000;

/** A job of `user` holding `key` until `expires`. */
function keyed(user: string, key: string, expires: number, fields: Partial<Job> = {}): Job {
  return job({ user, idempotency: { key, fingerprint: "f".repeat(64), expires }, ...fields });
}

const RULES: [string, (t: StoresUnderTest, clock: Clock) => Promise<void>][] = [
  ["a saved job reads back equal; unknown ids read as null", async (t) => {
    const saved = job({
      tasks: [task("a"), task("b / ü", { dependsOn: ["a"], status: "error", error: "exit 2" })],
      variables: { nested: { list: [1, "two", null, true] }, nul: "a\0b", emoji: "𝄞" },
      queuePartition: "tenant-1",
    });
    await t.store.save(saved);
    assertEquals(await t.store.get(saved.id), saved);
    assertEquals(await t.store.get("no-such-id"), null);
    assertEquals(await t.store.get("x".repeat(5000)), null);
    assertEquals(await t.store.get("a\0b"), null);
  }],

  ["the latest state of a job saved several times is stored", async (t) => {
    const j = job();
    const first = t.store.save(j);
    j.tasks[0].status = "running";
    const second = t.store.save(j);
    j.start = 42;
    await Promise.all([first, second]);
    const stored = await t.store.get(j.id);
    assertEquals(stored?.tasks[0].status, "running");
    assertEquals(stored?.start, 42);
    j.completed = true;
    j.end = 50;
    await t.store.save(j);
    assertEquals(await t.store.get(j.id), j);
  }],

  ["flush waits for pending saves", async (t) => {
    const jobs = Array.from({ length: 20 }, () => job());
    let saved = 0;
    for (const j of jobs) t.store.save(j).then(() => saved++);
    await t.store.flush();
    assertEquals(saved, jobs.length);
  }],

  ["1 MiB of variables and 2000 tasks are stored and read back in full", async (t) => {
    const tasks = Array.from(
      { length: 2000 },
      (_, i) => task(`task-${i}`, { dependsOn: i ? [`task-${i - 1}`] : [] }),
    );
    const big = job({ variables: bigVariables(1024 * 1024), tasks });
    await t.store.save(big);
    big.tasks[0].status = "done";
    await t.store.save(big);
    assertEquals(await t.store.get(big.id), big);
    assertEquals(await collect(t.store.list()), [big]);
  }],

  ["list is newest first, ties by id, across many batches", async (t) => {
    const jobs: Job[] = [];
    for (let i = 0; i < 1200; i++) {
      jobs.push(job({ created: 1000 + Math.floor(i / 3), pipeline: i % 2 ? "odd" : "even" }));
    }
    await Promise.all(jobs.map((j) => t.store.save(j)));
    const order = newestFirst(jobs).map((j) => j.id);
    assertEquals((await collect(t.store.list())).map((j) => j.id), order);
    assertEquals(
      (await collect(t.store.listByPipeline("odd"))).map((j) => j.id),
      newestFirst(jobs.filter((j) => j.pipeline === "odd")).map((j) => j.id),
    );
    assertEquals(await collect(t.store.listByPipeline("none")), []);
    assertEquals(await t.store.pipelinesWithJobs(), ["even", "odd"]);
  }],

  ["pipelinesWithJobs lists each pipeline once, sorted, whatever its name", async (t) => {
    const names = ["a", "a b", "ab", "b", "", "ü", "a\0"];
    await Promise.all(
      names.flatMap((pipeline) => [job({ pipeline }), job({ pipeline })])
        .map((j) => t.store.save(j)),
    );
    assertEquals(await t.store.pipelinesWithJobs(), [...names].sort());
    assertEquals((await collect(t.store.listByPipeline("a\0"))).length, 2);
  }],

  ["listUnfinished is oldest first; summaries follow completion", async (t) => {
    const waiting = job({ created: 3000 });
    const running = job({ created: 1000, start: 1001 });
    const done = job({ created: 2000, completed: true, end: 2500 });
    const other = job({ created: 2500, pipeline: "other" });
    await Promise.all([waiting, running, done, other].map((j) => t.store.save(j)));
    assertEquals(await t.store.listUnfinished(), [running, other, waiting]);
    running.completed = true;
    running.end = 1500;
    await t.store.save(running);
    assertEquals(await t.store.listUnfinished(), [other, waiting]);
    assertEquals(await collect(t.store.summariesByPipeline("build")), [
      { id: waiting.id, created: 3000, completed: false, end: null },
      { id: done.id, created: 2000, completed: true, end: 2500 },
      { id: running.id, created: 1000, completed: true, end: 1500 },
    ]);
    assertEquals(await collect(t.store.summariesByPipeline("none")), []);
  }],

  ["delete removes jobs from every listing; unknown ids are ignored", async (t) => {
    const big = job({ variables: bigVariables(300_000) });
    const other = job({ pipeline: "other" });
    const kept = job();
    await Promise.all([big, other, kept].map((j) => t.store.save(j)));
    await t.store.delete([big.id, other.id, "unknown", "a\0"]);
    await t.store.delete([]);
    assertEquals(await t.store.get(big.id), null);
    assertEquals(await collect(t.store.list()), [kept]);
    assertEquals(await t.store.listUnfinished(), [kept]);
    assertEquals(await t.store.pipelinesWithJobs(), ["build"]);
    assertEquals(await listed(t.store), apiJson(kept));
    assertEquals((await t.store.page({ limit: 5, before: null, pipeline: null })).jobs, [kept]);
  }],

  ["a job saved again after its deletion is stored in full", async (t) => {
    const j = job({ variables: bigVariables(100_000) });
    await t.store.save(j);
    await t.store.delete([j.id]);
    j.lastError = "saved again";
    await t.store.save(j);
    assertEquals(await t.store.get(j.id), j);
  }],

  ["saves made before a delete are written before it", async (t) => {
    const j = job();
    const saved = t.store.save(j);
    await t.store.delete([j.id]);
    await saved;
    assertEquals(await t.store.get(j.id), null);
  }],

  ["jobs survive closing and reopening; a closed store refuses saves", async (t) => {
    const jobs = [job({ variables: bigVariables(150_000) }), job({ completed: true, end: 5 })];
    for (const j of jobs) t.store.save(j);
    const closed = t.store;
    const reopened = await t.reopen();
    await assertRejects(() => closed.save(job()), StoreWriteError, "closed");
    assertEquals(await collect(reopened.list()), [jobs[1], jobs[0]]);
    assertEquals(await reopened.listUnfinished(), [jobs[0]]);
  }],

  ["page() walks every job exactly once, newest first, ties by id", async (t) => {
    const jobs: Job[] = [];
    for (let i = 0; i < 23; i++) {
      jobs.push(job({ created: 1_800_000_000_000 + Math.floor(i / 3), pipeline: `p${i % 2}` }));
    }
    await Promise.all(jobs.map((j) => t.store.save(j)));
    const expected = newestFirst(jobs).map((j) => j.id);
    for (const limit of [1, 5, 23, 50]) {
      const seen: string[] = [];
      let before = null;
      for (let pages = 0; pages < 100; pages++) {
        const page: Awaited<ReturnType<JobStore["page"]>> = await t.store.page({
          limit,
          before,
          pipeline: null,
        });
        assert(page.jobs.length <= limit, `a page of ${limit} held ${page.jobs.length}`);
        seen.push(...page.jobs.map((j) => j.id));
        if (page.next === null) break;
        assertEquals(page.jobs.length, limit, "only the last page is short");
        before = page.next;
      }
      assertEquals(seen, expected, `limit ${limit}`);
    }
  }],

  ["page() filters by pipeline, returns full jobs and takes any cursor", async (t) => {
    const jobs = Array.from({ length: 9 }, (_, i) => job({ pipeline: i % 3 === 0 ? "a" : "b" }));
    await Promise.all(jobs.map((j) => t.store.save(j)));
    const first = await t.store.page({ limit: 2, before: null, pipeline: "a" });
    assertEquals(first.jobs, [jobs[6], jobs[3]]);
    assertEquals(first.next, { created: jobs[3].created, id: jobs[3].id });
    const second = await t.store.page({ limit: 2, before: first.next, pipeline: "a" });
    assertEquals(second.jobs, [jobs[0]]);
    assertEquals(second.next, null);
    assertEquals(await t.store.page({ limit: 2, before: null, pipeline: "none" }), {
      jobs: [],
      next: null,
    });
    const all = await t.store.page({ limit: 9, before: null, pipeline: null });
    assertEquals(all.jobs.length, 9);
    assertEquals(all.next, null, "no next when the page ends exactly at the last job");
    const odd = { created: jobs[4].created, id: `${jobs[4].id}\0x` };
    const after = await t.store.page({ limit: 9, before: odd, pipeline: null });
    assertEquals(after.jobs, [jobs[4], jobs[3], jobs[2], jobs[1], jobs[0]]);
    await assertRejects(() => t.store.page({ limit: 0, before: null, pipeline: null }), RangeError);
  }],

  ["listJson yields the API JSON of every job as last saved, newest first", async (t) => {
    const older = job({ created: 1000, variables: { branch: "main" } });
    const newer = job({ created: 2000, tasks: [task("a"), task("b", { dependsOn: ["a"] })] });
    await Promise.all([older, newer].map((j) => t.store.save(j)));
    assertEquals(await listed(t.store), apiJson(newer, older));
    newer.tasks[0].status = "done";
    newer.completed = true;
    newer.end = 2500;
    await t.store.save(newer);
    assertEquals(await listed(t.store), apiJson(newer, older));
    await t.store.packListing();
    assertEquals(await listed(t.store), apiJson(newer, older));
    await t.store.delete([older.id]);
    assertEquals(await listed(t.store), apiJson(newer));
  }],

  ["listJson lists jobs of any size, in batches, packed or not", async (t) => {
    const big = job({ created: 5000, variables: bigVariables(100_000) });
    const jobs = Array.from(
      { length: 1500 },
      (_, i) => job({ created: 1000 + i, completed: true, end: 2000 + i }),
    );
    await Promise.all([big, ...jobs].map((j) => t.store.save(j)));
    const expected = apiJson(big, ...newestFirst(jobs));
    assertEquals(await listed(t.store), expected);
    while (await t.store.packListing() > 0);
    const batches = await collect(t.store.listJson());
    assert(batches.length > 1, "listed in more than one batch");
    assertEquals(await listed(t.store), expected);
  }],

  ["check shows that the store takes writes", async (t) => {
    await t.store.check();
    await t.store.check();
  }],

  ["task output written is read back, per task, stream and attempt", async (t) => {
    const id = job().id;
    const bytes = new Uint8Array(600_000).map((_, i) => i % 251);
    assertEquals(await t.logs.open(id, "build: ü", "stdout"), null);
    await t.writeLog(id, "build: ü", "stdout", 1, bytes);
    await t.writeLog(id, "build: ü", "stdout", 2, new TextEncoder().encode("second"));
    await t.writeLog(id, "a\0b", "stderr", 1, new TextEncoder().encode("nul"));
    assertEquals(await readAll(await t.logs.open(id, "build: ü", "stdout")), bytes);
    assertEquals(await readAll(await t.logs.open(id, "build: ü", "stdout", 1)), bytes);
    assertEquals(
      new TextDecoder().decode((await readAll(await t.logs.open(id, "build: ü", "stdout", 2)))!),
      "second",
    );
    assertEquals(
      new TextDecoder().decode((await readAll(await t.logs.open(id, "a\0b", "stderr")))!),
      "nul",
    );
    assertEquals(await t.logs.open(id, "build: ü", "stderr"), null);
    assertEquals(await t.logs.open(id, "build: ü", "stdout", 3), null);
    assertEquals(await t.logs.open(job().id, "build: ü", "stdout"), null);
  }],

  ["read gives a stream's bytes from any offset, at most as many as asked", async (t) => {
    const id = job().id;
    const bytes = new Uint8Array(600_000).map((_, i) => i % 251);
    assertEquals(await t.logs.read(id, "build", "stdout", 1, 0, 1024), new Uint8Array(0));
    await t.writeLog(id, "build", "stdout", 1, bytes);
    await t.writeLog(id, "build", "stdout", 2, new TextEncoder().encode("second"));
    // Offsets and sizes across the 256 KiB chunks of the PostgreSQL store.
    const ranges: [number, number][] = [
      [0, 10],
      [0, 600_000],
      [262_140, 10],
      [262_144, 262_144],
      [100_000, 500_000],
      [599_990, 64],
      [600_000, 64],
      [700_000, 64],
    ];
    for (const [offset, maxBytes] of ranges) {
      const read = await t.logs.read(id, "build", "stdout", 1, offset, maxBytes);
      assertEquals(read, bytes.slice(offset, offset + maxBytes), `${offset} + ${maxBytes}`);
    }
    let whole = 0;
    for (let offset = 0;;) {
      const read = await t.logs.read(id, "build", "stdout", 1, offset, 64 * 1024);
      assert(read.length <= 64 * 1024);
      if (read.length === 0) break;
      assertEquals(read, bytes.slice(offset, offset + read.length));
      offset += read.length;
      whole = offset;
    }
    assertEquals(whole, bytes.length, "read piece by piece to its end");
    assertEquals(
      new TextDecoder().decode(await t.logs.read(id, "build", "stdout", 2, 2, 64)),
      "cond",
    );
    assertEquals(await t.logs.read(id, "build", "stderr", 1, 0, 64), new Uint8Array(0));
  }],

  ["remove drops a job's output and leaves the other jobs'", async (t) => {
    const [removed, kept] = [job().id, job().id];
    const bytes = new TextEncoder().encode("out");
    for (const id of [removed, kept]) {
      await t.writeLog(id, "a", "stdout", 1, bytes);
      await t.writeLog(id, "a", "stderr", 2, bytes);
    }
    await t.logs.remove(removed);
    await t.logs.remove(removed);
    await t.logs.remove(job().id);
    assertEquals(await t.logs.open(removed, "a", "stdout"), null);
    assertEquals(await t.logs.open(removed, "a", "stderr", 2), null);
    assertEquals(await readAll(await t.logs.open(kept, "a", "stdout")), bytes);
    assertEquals(await readAll(await t.logs.open(kept, "a", "stderr", 2)), bytes);
  }],

  ["a job's idempotency key is found by user and key from its first save on", async (t, clock) => {
    const j = keyed("ann", "key-1", clock.now + HOUR);
    await t.store.save(j);
    assertEquals(await t.store.findIdempotent("ann", "key-1"), j);
    assertEquals(await t.store.findIdempotent("bob", "key-1"), null);
    assertEquals(await t.store.findIdempotent("ann", "key-2"), null);
    j.start = clock.now;
    await t.store.save(j);
    assertEquals((await t.store.findIdempotent("ann", "key-1"))?.start, j.start);
    const long = keyed("ü".repeat(3000), "k".repeat(255), clock.now + HOUR);
    await t.store.save(long);
    assertEquals(await t.store.findIdempotent(long.user, "k".repeat(255)), long);
  }],

  ["an expired idempotency key is not found; a newer job may take it over", async (t, clock) => {
    const first = keyed("ann", "key-1", clock.now + HOUR, { completed: true, end: clock.now });
    await t.store.save(first);
    clock.now += HOUR - 1;
    assertEquals((await t.store.findIdempotent("ann", "key-1"))?.id, first.id);
    clock.now += 1;
    assertEquals(await t.store.findIdempotent("ann", "key-1"), null);
    const late = keyed("ann", "key-2", clock.now);
    await t.store.save(late);
    assertEquals(await t.store.get(late.id), late);
    assertEquals(await t.store.findIdempotent("ann", "key-2"), null);

    const second = keyed("ann", "key-1", clock.now + HOUR);
    await t.store.save(second);
    assertEquals(await t.store.findIdempotent("ann", "key-1"), second);
    await t.store.delete([first.id]);
    assertEquals(await t.store.findIdempotent("ann", "key-1"), second);
    await t.store.delete([second.id]);
    assertEquals(await t.store.findIdempotent("ann", "key-1"), null);
  }],

  ["an idempotency key is found after the store is opened again", async (t, clock) => {
    const j = keyed("ann", "key-1", clock.now + HOUR);
    await t.store.save(j);
    const reopened = await t.reopen();
    assertEquals(await reopened.findIdempotent("ann", "key-1"), j);
  }],

  ["a triggered job stores its trigger's newest tick; older saves never lower it", async (t) => {
    const trigger = (planned: number) => ({
      cron: "30 3 * * *",
      timezone: "Europe/Berlin",
      planned,
    });
    const older = job({ pipeline: "nightly", trigger: trigger(1000) });
    const newer = job({ pipeline: "nightly", trigger: trigger(2000) });
    const other = job({
      pipeline: "hourly",
      trigger: { cron: "@hourly", timezone: "UTC", planned: 5 },
    });
    await Promise.all([t.store.save(newer), t.store.save(other)]);
    await t.store.save(older);
    older.completed = true;
    await t.store.save(older);
    await t.store.save(job({ pipeline: "nightly" }));
    const sorted = (await t.store.triggerTicks()).sort((a, b) => a.planned - b.planned);
    assertEquals(sorted, [
      { pipeline: "hourly", trigger: "@hourly UTC", planned: 5 },
      { pipeline: "nightly", trigger: "30 3 * * * Europe/Berlin", planned: 2000 },
    ]);
    assertEquals((await t.store.get(newer.id))?.trigger, trigger(2000));
    // Retention deletes jobs, not the ticks: a downtime after it still knows what ran.
    await t.store.delete([newer.id, older.id, other.id]);
    assertEquals((await t.store.triggerTicks()).length, 2);
    assertEquals((await (await t.reopen()).triggerTicks()).length, 2);
  }],

  ["saveTick stores a refused tick and never lowers a trigger's newest one", async (t) => {
    const tick = (planned: number) => ({ pipeline: "busy", trigger: "@every 1m UTC", planned });
    await t.store.saveTick(tick(120_000));
    await t.store.saveTick(tick(60_000));
    assertEquals(await t.store.triggerTicks(), [tick(120_000)]);
    await t.store.save(job({
      pipeline: "busy",
      trigger: { cron: "@every 1m", timezone: "UTC", planned: 180_000 },
    }));
    assertEquals(await t.store.triggerTicks(), [tick(180_000)]);
  }],
];
