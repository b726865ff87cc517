import { assert, assertEquals, assertRejects } from "../assert.ts";
import { joinCluster, NodeNameInUseError } from "../../src/cluster/membership.ts";
import type { ClusterStore, NodeRecord } from "../../src/store/cluster.ts";
import { waitFor } from "../runner/support.ts";

/** A cluster store of nodes in memory; `answer` decides how heartbeats go. */
function fakeStore() {
  const rows = new Map<string, NodeRecord>();
  const fake = {
    rows,
    answer: "ok" as "ok" | "hang" | "fail",
    registered: 0,
    store: {
      register({ name, session, address }, _silentMs) {
        const row = rows.get(name);
        if (row && row.session !== session && row.heartbeatAgeMs < _silentMs) {
          return Promise.resolve(false);
        }
        fake.registered++;
        rows.set(name, { name, session, address, started: 0, heartbeatAgeMs: 0 });
        return Promise.resolve(true);
      },
      heartbeat(name, session) {
        if (fake.answer === "hang") return new Promise(() => {});
        if (fake.answer === "fail") return Promise.reject(new Error("connection refused"));
        return Promise.resolve(rows.get(name)?.session === session);
      },
      nodes: () => Promise.resolve([...rows.values()]),
      removeIfSilent(name, session, timeoutMs) {
        const row = rows.get(name);
        if (!row || row.session !== session || row.heartbeatAgeMs <= timeoutMs) {
          return Promise.resolve(false);
        }
        rows.delete(name);
        return Promise.resolve(true);
      },
      unregister(name) {
        rows.delete(name);
        return Promise.resolve();
      },
      startedOn: () => Promise.resolve([]),
    } as Partial<ClusterStore> as ClusterStore,
  };
  return fake;
}

function options(fake: ReturnType<typeof fakeStore>) {
  const stopped: string[] = [];
  const takenOver: string[] = [];
  return {
    stopped,
    takenOver,
    join: () =>
      joinCluster({
        store: fake.store,
        name: "a",
        address: "http://a",
        timeoutMs: 3000,
        stopLocalJobs: (reason) => stopped.push(reason),
        runsJobs: () => true,
        takeOver: (node) => {
          takenOver.push(node);
          return Promise.resolve();
        },
        reconnected: () => {},
      }),
  };
}

Deno.test("membership: a node whose database hangs stops its tasks before it can be taken for dead", async () => {
  const fake = fakeStore();
  const { stopped, join } = options(fake);
  const membership = await join();
  fake.answer = "hang";
  await waitFor("the tasks to be stopped", () => stopped.length > 0, 20_000);
  assert(stopped[0].includes("node a lost the database"), stopped[0]);
  assertEquals(membership.connected(), false);
  fake.answer = "ok";
  await waitFor("the heartbeat to go through again", () => membership.connected(), 20_000);
  assertEquals(stopped.length, 1, "stopped once per outage");
  await membership.stop();
  assertEquals(fake.rows.size, 0, "a node without started jobs leaves the cluster");
});

Deno.test("membership: a database away for less than the fencing time stops nothing", async () => {
  const fake = fakeStore();
  const { stopped, join } = options(fake);
  const membership = await join();
  fake.answer = "fail";
  await waitFor("a heartbeat to fail", () => !membership.connected(), 20_000);
  // A quarter of the timeout: fencing starts at the timeout less two heartbeats.
  await new Promise((resolve) => setTimeout(resolve, 750));
  fake.answer = "ok";
  await waitFor("the heartbeat to go through again", () => membership.connected(), 20_000);
  assertEquals(stopped, []);
  await membership.stop();
});

Deno.test("membership: a node taken for dead stops its tasks and joins with a new session", async () => {
  const fake = fakeStore();
  const { stopped, join } = options(fake);
  const membership = await join();
  const first = membership.session();
  fake.rows.delete("a");
  await waitFor("the tasks to be stopped", () => stopped.length > 0, 20_000);
  assert(stopped[0].includes("took node a for dead"), stopped[0]);
  await waitFor("a new session", () => fake.rows.get("a")?.session === membership.session());
  assert(membership.session() !== first);
  await membership.stop();
});

Deno.test("membership: a silent node is taken over once good heartbeats lasted a whole timeout", async () => {
  const fake = fakeStore();
  const { takenOver, join } = options(fake);
  fake.rows.set("b", { name: "b", session: "s", address: "", started: 0, heartbeatAgeMs: 60_000 });
  const membership = await join();
  await waitFor("b to be taken over", () => takenOver.length > 0, 20_000);
  assertEquals(takenOver, ["b"]);
  assertEquals(fake.rows.has("b"), false);
  await membership.stop();
});

Deno.test("membership: a name a live node has is refused after twice the timeout", async () => {
  const fake = fakeStore();
  const { join } = options(fake);
  fake.rows.set("a", { name: "a", session: "other", address: "", started: 0, heartbeatAgeMs: 0 });
  const error = await assertRejects(join, NodeNameInUseError);
  assert(error.message.includes("give each node its own --node-name"), error.message);
});
