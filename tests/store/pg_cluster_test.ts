import { assert, assertEquals, assertRejects } from "../assert.ts";
import { DatabaseUnavailableError } from "../../src/store/errors.ts";
import { openPgStore, type PgStore } from "../../src/store/pg/open.ts";
import type { ClusterStore } from "../../src/store/cluster.ts";
import { jobListingEncoder as listing } from "../../src/server/json.ts";
import { postgresMissing, startPostgres, type TestPostgres } from "../postgres.ts";
import { waitFor } from "../runner/support.ts";
import { job, tempDir } from "./support.ts";

if (postgresMissing !== null) console.warn(`PostgreSQL cluster tests skipped: ${postgresMissing}`);

/** Two nodes on one fresh database. */
async function twoNodes(server: TestPostgres, spool: string) {
  const url = await server.database();
  const a = await openPgStore(url, { listing, spoolDir: `${spool}/a`, node: "a" });
  const b = await openPgStore(url, { listing, spoolDir: `${spool}/b`, node: "b" });
  const cluster = (pg: PgStore): ClusterStore => pg.cluster!;
  return {
    a: cluster(a),
    b: cluster(b),
    storeA: a.store,
    sql: a.sql,
    [Symbol.asyncDispose]: () => Promise.all([a.close(), b.close()]).then(() => {}),
  };
}

const cases: [string, (server: TestPostgres, spool: string) => Promise<void>][] = [];
const pgTest = (name: string, fn: (server: TestPostgres, spool: string) => Promise<void>) =>
  cases.push([name, fn]);

pgTest("decisions for one pipeline run one after the other, across nodes", async (s, spool) => {
  await using nodes = await twoNodes(s, spool);
  const order: string[] = [];
  const { promise: release, resolve } = Promise.withResolvers<void>();
  const { promise: holding, resolve: held } = Promise.withResolvers<void>();
  const first = nodes.a.withPipeline("build", async () => {
    order.push("a begins");
    held();
    await release;
    order.push("a ends");
  });
  await holding;
  const second = nodes.b.withPipeline("build", () => {
    order.push("b");
    return Promise.resolve();
  });
  // Another pipeline is not held up.
  await nodes.b.withPipeline("deploy", () => {
    order.push("deploy");
    return Promise.resolve();
  });
  resolve();
  await Promise.all([first, second]);
  assertEquals(order, ["a begins", "deploy", "a ends", "b"]);
});

pgTest(
  "the wait list is read in accepted order; writes notify the other node",
  async (s, spool) => {
    await using nodes = await twoNodes(s, spool);
    const seenByB: string[] = [];
    const stop = await nodes.b.listen("b", {
      jobs: (origin, ids) => origin === "a" && seenByB.push(...ids),
      cancel: () => {},
      pipeline: () => {},
      connected: () => {},
    });
    const later = job({ created: 1, queuePartition: "x" });
    const earlier = job({ created: 2, start: 5, node: "a" });
    await nodes.a.withPipeline("build", (tx) => tx.save([later]));
    await nodes.a.withPipeline("build", (tx) => tx.save([earlier]));
    const queued = await nodes.b.withPipeline("build", (tx) => tx.queued());
    assertEquals(queued, [
      { id: later.id, created: 1, started: false, partition: "x", node: null },
      { id: earlier.id, created: 2, started: true, partition: null, node: "a" },
    ]);
    // A save through the job store notifies too, and a finished job leaves the queue.
    await nodes.storeA.save({ ...later, completed: true, end: 9 });
    await waitFor("b to hear of all three writes", () => seenByB.length === 3);
    assertEquals(seenByB, [later.id, earlier.id, later.id]);
    assertEquals((await nodes.b.withPipeline("build", (tx) => tx.queued())).map((q) => q.id), [
      earlier.id,
    ]);
    await stop();
  },
);

pgTest("jobs reads stored jobs by id in one read, in the order asked", async (s, spool) => {
  await using nodes = await twoNodes(s, spool);
  const first = job({ created: 1 });
  const second = job({ created: 2, start: 3, node: "a" });
  await nodes.storeA.save(first);
  await nodes.storeA.save(second);
  const read = await nodes.b.jobs([second.id, "unknown", first.id, "nul\0id"]);
  assertEquals(read.map((found) => [found.id, found.node]), [[second.id, "a"], [
    first.id,
    undefined,
  ]]);
  assertEquals(await nodes.b.jobs([]), []);
});

pgTest("a decision that throws stores nothing and tells nobody", async (s, spool) => {
  await using nodes = await twoNodes(s, spool);
  const pings: string[] = [];
  const stop = await nodes.b.listen("b", {
    jobs: (_origin, ids) => pings.push(...ids),
    cancel: (id) => pings.push(`cancel ${id}`),
    pipeline: (pipeline) => pings.push(`pipeline ${pipeline}`),
    connected: () => {},
  });
  const lost = job();
  await assertRejects(
    () =>
      nodes.a.withPipeline("build", async (tx) => {
        await tx.save([lost]);
        tx.requestCancel("b", lost.id);
        throw new Error("changed my mind");
      }),
    Error,
    "changed my mind",
  );
  const kept = job();
  await nodes.a.withPipeline("build", async (tx) => {
    await tx.save([kept]);
    tx.requestCancel("b", kept.id);
    tx.requestCancel("c", lost.id);
    tx.notifyPipeline();
  });
  await waitFor("the committed notifications", () => pings.length === 3);
  assertEquals(pings.sort(), [`cancel ${kept.id}`, kept.id, "pipeline build"].sort());
  assertEquals(await nodes.storeA.get(lost.id), null);
  await stop();
});

pgTest("heartbeats: a silent node is removed once, by one caller", async (s, spool) => {
  await using nodes = await twoNodes(s, spool);
  assert(await nodes.a.register({ name: "a", session: "s1", address: "http://a" }, 30_000));
  assert(await nodes.b.register({ name: "b", session: "s2", address: "http://b" }, 30_000));
  assertEquals(
    await nodes.b.register({ name: "a", session: "s3", address: "http://b" }, 30_000),
    false,
    "a live node keeps its name",
  );
  assert(await nodes.a.heartbeat("a", "s1"));
  assertEquals(await nodes.a.heartbeat("a", "old session"), false);
  assertEquals((await nodes.b.nodes()).map((node) => node.name), ["a", "b"]);
  assertEquals(await nodes.b.removeIfSilent("a", "s1", 60_000), false, "a is not silent yet");
  await nodes.sql`UPDATE prunner_nodes SET heartbeat = heartbeat - interval '1 minute'
    WHERE name = 'a'`;
  const [age] = (await nodes.b.nodes()).filter((node) => node.name === "a");
  assert(age.heartbeatAgeMs >= 60_000, String(age.heartbeatAgeMs));
  const removed = await Promise.all([
    nodes.b.removeIfSilent("a", "s1", 30_000),
    nodes.b.removeIfSilent("a", "s1", 30_000),
  ]);
  assertEquals(removed.sort(), [false, true]);
  assertEquals(await nodes.a.heartbeat("a", "s1"), false, "a learns it was taken for dead");
  assert(await nodes.a.register({ name: "a", session: "s4", address: "http://a" }, 30_000));
  await nodes.b.unregister("b", "s2");
  assertEquals((await nodes.b.nodes()).map((node) => node.session), ["s4"]);
});

pgTest("keys, ticks and a node's started jobs are read in the transaction", async (s, spool) => {
  await using nodes = await twoNodes(s, spool);
  const keyed = job({
    user: "u",
    idempotency: { key: "k", fingerprint: "f", expires: Date.now() + 60_000 },
    start: 3,
    node: "a",
    trigger: { cron: "@daily", timezone: "UTC", planned: 1000 },
  });
  await nodes.a.withPipeline("build", (tx) => tx.save([keyed]));
  assertEquals(
    (await nodes.b.withPipeline("build", (tx) => tx.findIdempotent("u", "k")))?.id,
    keyed.id,
  );
  assertEquals(await nodes.b.withPipeline("build", (tx) => tx.findIdempotent("v", "k")), null);
  const tick = { pipeline: "build", trigger: "@daily UTC", planned: 1000 };
  assert(await nodes.b.withPipeline("build", (tx) => tx.tickTaken(tick)));
  assertEquals(
    await nodes.b.withPipeline("build", (tx) => tx.tickTaken({ ...tick, planned: 2000 })),
    false,
  );
  assertEquals(await nodes.b.startedOn("a"), [{ id: keyed.id, pipeline: "build" }]);
  assertEquals(await nodes.b.pipelineOf(keyed.id), "build");
  assertEquals(await nodes.b.load(), [{ pipeline: "build", running: 1, waiting: 0 }]);
});

pgTest("a database that is away fails a decision as unavailable, naming it", async (s, spool) => {
  await using nodes = await twoNodes(s, spool);
  await s.stop();
  try {
    const error = await assertRejects(
      () => nodes.a.withPipeline("build", (tx) => tx.queued()),
      DatabaseUnavailableError,
    );
    assert(error.message.includes("postgres://prunner@127.0.0.1"), error.message);
  } finally {
    await s.start();
  }
  assertEquals(await nodes.a.withPipeline("build", (tx) => tx.queued()), []);
});

Deno.test({
  name: "PostgreSQL cluster store",
  ignore: postgresMissing !== null,
  async fn(t) {
    await using server = await startPostgres();
    for (const [name, fn] of cases) {
      await t.step(name, async () => {
        await using dir = await tempDir();
        await fn(server, dir.path);
      });
    }
  },
});
