/**
 * Clusters of real prunner processes for end-to-end tests of cluster mode's behaviour: a
 * throwaway PostgreSQL server, N nodes on one database of it (each with a workspace and data
 * directory of its own, all holding the same pipelines), and what the tests watch them by.
 *
 * @module
 */
import { assertEquals } from "../assert.ts";
import { postgresMissing, startPostgres, type TestPostgres } from "../postgres.ts";
import { readSse, type SseReader } from "../server/sse.ts";
import {
  type ApiJob,
  bearer,
  type PrunnerProcess,
  startPrunner,
  waitFor,
  type Workspace,
  workspace,
} from "../app/support.ts";

export { postgresMissing, waitFor };
export type { PrunnerProcess };

/** A job as a cluster node shows it: with the node that runs (or ran) it. */
export interface ClusterJob extends ApiJob {
  created: string;
  node?: string;
}

/** A running cluster; disposing stops its nodes, its database server and removes their files. */
export interface Cluster extends AsyncDisposable {
  /** The nodes, named `a`, `b`, `c`, … in this order. */
  readonly nodes: readonly PrunnerProcess[];
  /** The node names, in the order of `nodes`. */
  readonly names: readonly string[];
  /** Each node's workspace, in the order of `nodes`. */
  readonly workspaces: readonly Workspace[];
  /** The URL of the database the nodes share. */
  readonly database: string;
  readonly server: TestPostgres;
  /** The job as node `i` (default the first) shows it. */
  job(id: string, i?: number): Promise<ClusterJob>;
  /** Waits until the job has completed, as node `i` shows it, and returns it. */
  completed(id: string, i?: number, timeoutMs?: number): Promise<ClusterJob>;
  /** Everything the nodes wrote to stderr, each under its name (for failure messages). */
  stderr(): string;
}

/**
 * Starts a PostgreSQL server and `n` nodes (`--node-name a`, `b`, …) on one database of it, all
 * at once, each in a workspace of its own holding `yaml`; `extraArgs` go to every node.
 *
 * @example
 * ```ts
 * await using cluster = await startCluster(yaml, 2);
 * const id = await cluster.nodes[0].schedule("build");
 * await cluster.completed(id, 1);
 * ```
 */
export async function startCluster(
  yaml: string,
  n: number,
  extraArgs: readonly string[] = [],
): Promise<Cluster> {
  const server = await startPostgres();
  const workspaces: Workspace[] = [];
  const nodes: PrunnerProcess[] = [];
  const names = Array.from({ length: n }, (_, i) => String.fromCharCode(97 + i));
  const dispose = async () => {
    await Promise.all(nodes.map((node) => node[Symbol.asyncDispose]()));
    await Promise.all(workspaces.map((ws) => ws[Symbol.asyncDispose]()));
    await server.dispose();
  };
  let database: string;
  try {
    database = await server.database();
    for (const _ of names) workspaces.push(await workspace(yaml));
    const started = await Promise.allSettled(
      names.map((name, i) =>
        startPrunner(workspaces[i], ["--database-url", database, "--node-name", name, ...extraArgs])
      ),
    );
    for (const result of started) if (result.status === "fulfilled") nodes.push(result.value);
    const failed = started.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
  } catch (error) {
    await dispose();
    throw error;
  }
  const job = (id: string, i = 0) => nodes[i].job(id) as Promise<ClusterJob>;
  return {
    nodes,
    names,
    workspaces,
    database,
    server,
    job,
    completed: (id, i = 0, timeoutMs) =>
      waitFor(`job ${id} to complete`, async () => {
        const found = await job(id, i);
        return found.completed ? found : null;
      }, timeoutMs),
    stderr: () => nodes.map((node, i) => `--- node ${names[i]}:\n${node.stderr()}`).join("\n"),
    [Symbol.asyncDispose]: dispose,
  };
}

/** A test of a cluster that is skipped, with the reason, where PostgreSQL is missing. */
export function clusterTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: postgresMissing !== null, fn });
}

/** What `POST /pipelines/schedule` answered. */
export interface ScheduleAnswer {
  status: number;
  jobId?: string;
  error?: string;
  /** Whether the answer is that of an earlier request with the same `Idempotency-Key`. */
  replayed: boolean;
}

/** Sends a schedule request to `node`, with `headers`; answers of any status are returned. */
export async function schedule(
  node: PrunnerProcess,
  body: { pipeline: string; variables?: Record<string, unknown>; queuePartition?: string },
  headers: Record<string, string> = {},
): Promise<ScheduleAnswer> {
  const response = await fetch(`${node.url}/pipelines/schedule`, {
    method: "POST",
    headers: { authorization: await bearer(), "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const json = await response.json() as { jobId?: string; error?: string };
  return {
    status: response.status,
    replayed: response.headers.get("idempotency-replayed") === "true",
    ...json,
  };
}

/** Schedules on `node` and returns the new job's id, failing on any answer but a 202. */
export async function accepted(
  node: PrunnerProcess,
  pipeline: string,
  variables?: Record<string, unknown>,
  queuePartition?: string,
): Promise<string> {
  const answer = await schedule(node, { pipeline, variables, queuePartition });
  assertEquals(answer.status, 202, `scheduling ${pipeline}: ${answer.error}`);
  return answer.jobId!;
}

/** The jobs `node` lists (`GET /pipelines/jobs`), of `pipeline` when given. */
export async function listed(node: PrunnerProcess, pipeline?: string): Promise<ClusterJob[]> {
  const query = pipeline === undefined ? "" : `&pipeline=${encodeURIComponent(pipeline)}`;
  const { jobs } = await node.json<{ jobs: ClusterJob[] }>(
    "GET",
    `/pipelines/jobs?limit=1000${query}`,
  );
  return jobs;
}

/** Opens `GET /events` on `node`. */
export async function openEvents(node: PrunnerProcess): Promise<SseReader> {
  const response = await fetch(`${node.url}/events`, {
    headers: { authorization: await bearer() },
  });
  assertEquals(response.status, 200, "GET /events");
  return readSse(response);
}

/** A task's output as `node` reads it (`GET /job/logs`). */
export function logs(
  node: PrunnerProcess,
  id: string,
  task: string,
): Promise<{ stdout: string; stderr: string }> {
  return node.json("GET", `/job/logs?id=${id}&task=${encodeURIComponent(task)}`);
}

/**
 * A shell loop that waits (at most 60 s) until the file `path` exists: a task that runs until
 * the test lets it end.
 */
export function untilFile(path: string): string {
  return `for i in $(seq 1200); do [ -f ${path} ] && break; sleep 0.05; done`;
}

/** A temporary directory for files the tasks of every node share by absolute path. */
export async function sharedDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "prunner-cluster-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}
