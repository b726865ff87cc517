/**
 * Clusters of real prunner processes on one throwaway PostgreSQL database, for the fault tests:
 * N nodes started side by side, each with a workspace of its own holding the same pipelines, and
 * what the tests observe of them (jobs as any live node shows them, task processes by pid).
 *
 * @module
 */
import { postgresMissing, startPostgres, type TestPostgres } from "../postgres.ts";
import {
  type ApiJob,
  type PrunnerProcess,
  startPrunner,
  waitFor,
  type Workspace,
  workspace,
} from "../app/support.ts";
import { processAlive } from "../runner/support.ts";

export { postgresMissing, processAlive, waitFor };
export type { PrunnerProcess };

/** A job as a cluster node shows it: with the node that runs (or ran) it. */
export interface ClusterJob extends ApiJob {
  node?: string;
}

/** Nodes of one cluster; disposing kills those still running and removes their workspaces. */
export interface Cluster extends AsyncDisposable {
  /** The nodes by name, in the order they were asked for. */
  readonly nodes: ReadonlyMap<string, PrunnerProcess>;
  /** The node named `name`. */
  node(name: string): PrunnerProcess;
  /** Kills node `name` with SIGKILL and waits for its exit; it stays in `nodes`. */
  kill(name: string): Promise<void>;
  /** The nodes not killed. */
  live(): PrunnerProcess[];
  /** The job as the first live node shows it. */
  job(id: string): Promise<ClusterJob>;
  /** Everything the nodes wrote to stderr, each under its name. */
  stderr(): string;
}

/** The clusters started by the running test, whose logs a failure shows. */
const started: Cluster[] = [];

/**
 * Starts nodes `names` (`--node-name`) on the database `url`, all at once, each with its own
 * workspace holding `yaml`; `extraArgs` go to every node (e.g. `--heartbeat-timeout 3s`).
 *
 * @example
 * ```ts
 * await using pg = await startPostgres();
 * await using cluster = await startCluster(await pg.database(), ["a", "b"], yaml, []);
 * const id = await cluster.node("a").schedule("build");
 * ```
 */
export async function startCluster(
  url: string,
  names: readonly string[],
  yaml: string,
  extraArgs: readonly string[],
): Promise<Cluster> {
  const workspaces: Workspace[] = [];
  const nodes = new Map<string, PrunnerProcess>();
  const killed = new Set<string>();
  const dispose = async () => {
    await Promise.all([...nodes.values()].map((node) => node[Symbol.asyncDispose]()));
    await Promise.all(workspaces.map((ws) => ws[Symbol.asyncDispose]()));
  };
  try {
    for (const _ of names) workspaces.push(await workspace(yaml));
    const started = await Promise.allSettled(
      names.map((name, i) =>
        startPrunner(workspaces[i], ["--database-url", url, "--node-name", name, ...extraArgs])
      ),
    );
    started.forEach((result, i) => {
      if (result.status === "fulfilled") nodes.set(names[i], result.value);
    });
    const failed = started.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
  } catch (error) {
    await dispose();
    throw error;
  }
  const node = (name: string) => {
    const found = nodes.get(name);
    if (!found) throw new Error(`no node ${name} in this cluster`);
    return found;
  };
  const live = () => [...nodes].filter(([name]) => !killed.has(name)).map(([, node]) => node);
  const cluster: Cluster = {
    nodes,
    node,
    async kill(name) {
      killed.add(name);
      await node(name).stop("SIGKILL");
    },
    live,
    job: (id) => live()[0].job(id) as Promise<ClusterJob>,
    stderr: () =>
      [...nodes].map(([name, node]) => `--- node ${name}:\n${node.stderr()}`).join("\n"),
    [Symbol.asyncDispose]: dispose,
  };
  started.push(cluster);
  return cluster;
}

/**
 * Runs `fn` with a throwaway PostgreSQL server and an empty database on it, as a test that is
 * skipped where PostgreSQL is missing. When it fails, the nodes' logs are printed.
 */
export function clusterTest(
  name: string,
  fn: (url: string, server: TestPostgres) => Promise<void>,
): void {
  Deno.test({
    name,
    ignore: postgresMissing !== null,
    async fn() {
      started.length = 0;
      await using server = await startPostgres();
      try {
        await fn(await server.database(), server);
      } catch (error) {
        for (const cluster of started) console.error(cluster.stderr());
        throw error;
      }
    },
  });
}

/** Waits until `path` holds a pid followed by a newline, and returns it. */
export function pidFrom(path: string, timeoutMs?: number): Promise<number> {
  return waitFor(`a pid in ${path}`, async () => {
    const text = await Deno.readTextFile(path).catch(() => "");
    return text.endsWith("\n") ? Number(text) : 0;
  }, timeoutMs);
}

/** The live (not zombie) processes of process group `pgid`, by `/proc/PID/stat`. */
export async function processGroup(pgid: number): Promise<number[]> {
  const members: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`).catch(() => "");
    // pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] !== "Z" && Number(fields[2]) === pgid) members.push(Number(entry.name));
  }
  return members;
}
