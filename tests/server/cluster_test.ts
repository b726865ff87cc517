/**
 * `GET /cluster` and the `cluster` section of `GET /health`: what a node shows of its cluster,
 * and what a single prunner answers.
 */
import { assertEquals } from "../assert.ts";
import { fakeCluster, fakeRunner, readJson, startTestServer } from "./support.ts";

Deno.test("GET /cluster lists the nodes with their heartbeats and jobs", async () => {
  await using server = await startTestServer(fakeRunner(), {}, fakeCluster());
  const response = await server.request("/cluster");
  assertEquals(response.status, 200);
  assertEquals(await readJson(response), {
    node: "node-a",
    nodes: [
      {
        name: "node-a",
        address: "http://10.0.0.1:9009",
        started: "2026-12-07T06:00:00Z",
        heartbeatAgeMs: 800,
        alive: true,
        self: true,
        jobs: ["11111111-2222-4333-8444-555555555555"],
      },
      {
        name: "node-b",
        address: "http://10.0.0.2:9009",
        started: "2026-12-07T05:00:00Z",
        heartbeatAgeMs: 42000,
        alive: false,
        self: false,
        jobs: [],
      },
    ],
  });
});

Deno.test("GET /cluster needs a token", async () => {
  await using server = await startTestServer(fakeRunner(), {}, fakeCluster());
  const response = await fetch(server.url + "/cluster");
  assertEquals(response.status, 401);
  await response.body?.cancel();
});

Deno.test("GET /cluster on a single prunner: 404, cluster mode is off", async () => {
  await using server = await startTestServer();
  const response = await server.request("/cluster");
  assertEquals(response.status, 404);
  assertEquals(await readJson(response), {
    error: "cluster mode is off: this prunner runs alone; start every node with the same " +
      "--database-url to make them a cluster",
  });
});

Deno.test("GET /cluster while the database does not answer: 503 naming it", async () => {
  const cluster = fakeCluster();
  cluster.down = true;
  await using server = await startTestServer(fakeRunner(), {}, cluster);
  const response = await server.request("/cluster");
  assertEquals(response.status, 503);
  const body = await readJson(response) as { error: string };
  assertEquals(
    body.error,
    "the PostgreSQL database postgres://prunner@db/prunner did not answer: ECONNREFUSED " +
      "(nothing was changed; try again once the database is back)",
  );
});

Deno.test("GET /health has a cluster section in a cluster, and none on a single prunner", async () => {
  await using server = await startTestServer(fakeRunner(), {}, fakeCluster());
  const single = await fetch(server.url + "/health");
  assertEquals(await readJson(single), { status: "ok", store: "ok", executor: "ok" });

  server.health.value = {
    store: null,
    executor: null,
    cluster: { node: "node-a", connected: true, liveNodes: 1 },
  };
  const node = await fetch(server.url + "/health");
  assertEquals(node.status, 200);
  assertEquals(await readJson(node), {
    status: "ok",
    store: "ok",
    executor: "ok",
    cluster: { node: "node-a", connected: true, liveNodes: 1 },
  });

  server.health.value = {
    store: "the PostgreSQL database did not answer",
    executor: null,
    cluster: { node: "node-a", connected: false, liveNodes: null },
  };
  const away = await fetch(server.url + "/health");
  assertEquals(away.status, 503);
  assertEquals(await readJson(away), {
    status: "failing",
    store: "the PostgreSQL database did not answer",
    executor: "ok",
    cluster: { node: "node-a", connected: false, liveNodes: null },
  });
});
