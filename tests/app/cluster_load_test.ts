/**
 * The job counts of `GET /pipelines/status` in a cluster: each node shows the jobs the other
 * node runs and keeps waiting, also after a burst of changes that come faster than the node
 * reads the cluster's load (it reads it at most every 200 ms, once more after the burst).
 */
import { assertEquals } from "../assert.ts";
import { postgresMissing, startPostgres } from "../postgres.ts";
import { type PrunnerProcess, startPrunner, waitFor, workspace } from "./support.ts";

if (postgresMissing !== null) {
  console.warn(`PostgreSQL cluster load tests skipped: ${postgresMissing}`);
}

/** The `hold` pipeline's counts as `node` shows them. */
async function counts(node: PrunnerProcess): Promise<string> {
  const { pipelines } = await node.json<
    { pipelines: { pipeline: string; runningJobs: number; waitingJobs: number }[] }
  >("GET", "/pipelines/status");
  const hold = pipelines.find((pipeline) => pipeline.pipeline === "hold")!;
  return `running ${hold.runningJobs}, waiting ${hold.waitingJobs}`;
}

/** Waits until both nodes show `expected`. */
async function bothShow(nodes: PrunnerProcess[], expected: string): Promise<void> {
  for (const [i, node] of nodes.entries()) {
    let last = "";
    await waitFor(`node ${i} to show ${expected}`, async () => {
      last = await counts(node);
      return last === expected;
    }).catch((error) => {
      throw new Error(`${error.message}; it shows ${last}`);
    });
  }
}

Deno.test({
  name: "each node counts the jobs that run and wait on the other, after a burst too",
  ignore: postgresMissing !== null,
  async fn() {
    await using pg = await startPostgres();
    const url = await pg.database();
    const markers = await Deno.makeTempDir({ prefix: "prunner-e2e-markers-" });
    try {
      const yaml = `
pipelines:
  hold:
    concurrency: 1
    tasks:
      wait:
        script:
          - for i in $(seq 600); do [ -f ${markers}/go ] && break; sleep 0.05; done
`;
      await using wsA = await workspace(yaml);
      await using wsB = await workspace(yaml);
      await using a = await startPrunner(wsA, ["--database-url", url, "--node-name", "a"]);
      await using b = await startPrunner(wsB, ["--database-url", url, "--node-name", "b"]);
      const nodes = [a, b];

      const first = await a.schedule("hold");
      await bothShow(nodes, "running 1, waiting 0");

      // A burst: four changes within a few milliseconds, on both nodes.
      const waiting = [
        await b.schedule("hold"),
        await a.schedule("hold"),
        await b.schedule("hold"),
        await a.schedule("hold"),
      ];
      await bothShow(nodes, "running 1, waiting 4");

      await Deno.writeTextFile(`${markers}/go`, "");
      for (const id of [first, ...waiting]) {
        const job = await b.completed(id);
        assertEquals(job.tasks.map((task) => task.status), ["done"]);
      }
      await bothShow(nodes, "running 0, waiting 0");
    } finally {
      await Deno.remove(markers, { recursive: true });
    }
  },
});
