/**
 * `checkHealth` (what `GET /health` reports) with fakes for the store, the executor and a
 * cluster member: the cluster section is added in a cluster and does not make a report failing.
 */
import { checkHealth } from "../../src/app/health.ts";
import { assertEquals } from "../assert.ts";

const runner = { storeFailure: () => null };
const dataDir = { check: () => Promise.resolve() };
const executor = { check: () => Promise.resolve(null) };

Deno.test("checkHealth: no cluster section on a single prunner", async () => {
  assertEquals(await checkHealth(runner, dataDir, executor, 1000), {
    store: null,
    executor: null,
  });
});

Deno.test("checkHealth: the node's name, its heartbeat and the live nodes", async () => {
  const member = { name: "web-1:9009", connected: () => true, liveNodes: () => Promise.resolve(3) };
  assertEquals(await checkHealth(runner, dataDir, executor, 1000, member), {
    store: null,
    executor: null,
    cluster: { node: "web-1:9009", connected: true, liveNodes: 3 },
  });
});

Deno.test("checkHealth: live nodes unknown when the database fails or does not answer", async () => {
  const failing = {
    name: "web-1:9009",
    connected: () => false,
    liveNodes: () => Promise.reject(new Error("connection refused")),
  };
  const store = { check: () => Promise.reject(new Error("connection refused")) };
  assertEquals(await checkHealth(runner, store, executor, 1000, failing), {
    store: "connection refused",
    executor: null,
    cluster: { node: "web-1:9009", connected: false, liveNodes: null },
  });

  const hanging = { ...failing, liveNodes: () => new Promise<number>(() => {}) };
  const report = await checkHealth(runner, dataDir, executor, 50, hanging);
  assertEquals(report.cluster, { node: "web-1:9009", connected: false, liveNodes: null });
});
