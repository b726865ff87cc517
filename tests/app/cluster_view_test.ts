/**
 * What users of a cluster see besides its jobs, end to end: `GET /cluster`, the `cluster`
 * section of `GET /health` and `prunner cluster`, on two real nodes sharing one PostgreSQL
 * database; and what a single prunner answers instead.
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { postgresMissing, startPostgres } from "../postgres.ts";
import { type ApiJob, clientEnv, runCli, startPrunner, waitFor, workspace } from "./support.ts";

/** A job that runs until the file at `gate` exists (an absolute path, shared by the nodes). */
const pipelines = (gate: string) => `
pipelines:
  hold:
    tasks:
      hold:
        script:
          - while [ ! -f ${gate} ]; do sleep 0.1; done
`;

interface ClusterJson {
  node: string;
  nodes: {
    name: string;
    address: string;
    started: string;
    heartbeatAgeMs: number;
    alive: boolean;
    self: boolean;
    jobs: string[];
  }[];
}

if (postgresMissing !== null) {
  console.warn(`Cluster end-to-end tests skipped: ${postgresMissing}`);
}

Deno.test({
  name: "two nodes: GET /cluster, /health and `prunner cluster` show both; a killed one goes",
  ignore: postgresMissing !== null,
  async fn() {
    await using postgres = await startPostgres();
    const url = await postgres.database();
    await using shared = await workspace("pipelines: {}");
    const gate = `${shared.root}/gate`;
    await using wsA = await workspace(pipelines(gate));
    await using wsB = await workspace(pipelines(gate));
    const node = (name: string) => [
      "--database-url",
      url,
      "--node-name",
      name,
      "--heartbeat-timeout",
      "3s",
    ];
    await using a = await startPrunner(wsA, node("a"));
    await using b = await startPrunner(wsB, node("b"));

    const id = await a.schedule("hold");
    await waitFor("the job to start on a", async () => (await a.job(id)).start !== undefined);

    // Alive means a heartbeat within the timeout: asked again should a loaded machine delay one.
    const seen = await waitFor("both nodes alive", async () => {
      const cluster = await b.json<ClusterJson>("GET", "/cluster");
      return cluster.nodes.every((n) => n.alive) ? cluster : null;
    });
    assertEquals(seen.node, "b");
    assertEquals(
      seen.nodes.map(({ name, address, alive, self, jobs }) => ({
        name,
        address,
        alive,
        self,
        jobs,
      })),
      [
        { name: "a", address: a.url, alive: true, self: false, jobs: [id] },
        { name: "b", address: b.url, alive: true, self: true, jobs: [] },
      ],
    );
    for (const listed of seen.nodes) {
      assertMatch(listed.started, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert(Number.isInteger(listed.heartbeatAgeMs), `${listed.name}: ${listed.heartbeatAgeMs}`);
    }

    const health = await waitFor("two live nodes in /health", async () => {
      const body = await (await fetch(`${b.url}/health`)).json();
      return body.cluster?.liveNodes === 2 ? body : null;
    });
    assertEquals(health, {
      status: "ok",
      store: "ok",
      executor: "ok",
      cluster: { node: "b", connected: true, liveNodes: 2 },
    });

    const table = await runCli(["cluster"], clientEnv(b));
    assertEquals(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split("\n");
    assertEquals(lines.length, 3, table.stdout);
    assertMatch(lines[0], /^NODE\s+ADDRESS\s+HEARTBEAT\s+STATE\s+JOBS$/);
    assertMatch(lines[1], new RegExp(`^a\\s+${a.url}\\s+\\S+ ago\\s+(alive|silent)\\s+1$`));
    assertMatch(lines[2], new RegExp(`^b \\(answering\\)\\s+${b.url}\\s+\\S+ ago\\s+\\w+\\s+0$`));
    const json = await runCli(["cluster", "--json"], clientEnv(b));
    assertEquals(json.code, 0, json.stderr);
    assertEquals((JSON.parse(json.stdout) as ClusterJson).nodes.map((n) => n.name), ["a", "b"]);

    // A node killed outright is silent, then taken over: its job ends canceled, naming it.
    await a.stop("SIGKILL");
    const job = await waitFor("b to take over a's job", async () => {
      const found = await b.json<ApiJob>("GET", `/job/detail?id=${id}`);
      return found.completed ? found : null;
    }, 60_000);
    assertEquals(job.canceled, true);
    assertMatch(job.lastError ?? "", /node a stopped answering/);
    const after = await b.json<ClusterJson>("GET", "/cluster");
    assertEquals(after.nodes.filter((n) => n.name === "a" && n.alive), []);
    await Deno.writeTextFile(gate, "");
  },
});

Deno.test("a single prunner: GET /cluster is 404 and `prunner cluster` says cluster mode is off", async () => {
  await using ws = await workspace("pipelines: {}");
  await using prunner = await startPrunner(ws);
  const response = await prunner.request("GET", "/cluster");
  assertEquals(response.status, 404);
  assertMatch((await response.json()).error, /^cluster mode is off/);
  const health = await (await fetch(`${prunner.url}/health`)).json();
  assertEquals(Object.keys(health).sort(), ["executor", "status", "store"]);

  const result = await runCli(["cluster"], clientEnv(prunner));
  assertEquals(result.code, 1);
  assertMatch(result.stderr, /cluster mode is off: this prunner runs alone.*\(HTTP 404\)/);
});
