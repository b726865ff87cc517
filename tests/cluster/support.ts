/**
 * Clusters of real prunner processes for the end-to-end tests of cluster mode, its behaviour and
 * its faults: a throwaway PostgreSQL server, N nodes on one database of it (each with a workspace
 * and data directory of its own, all holding the same pipelines), and what the tests watch them
 * by: jobs as a node shows them, answers to schedules, the lines tasks mark in shared files, task
 * processes by pid.
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
import { processAlive } from "../runner/support.ts";

export { postgresMissing, processAlive, waitFor };
export type { PrunnerProcess };

/** A job as a cluster node shows it: with the node that runs (or ran) it. */
export interface ClusterJob extends ApiJob {
  node?: string;
}

/** A running cluster; disposing stops its nodes, its database server and removes their files. */
export interface Cluster extends AsyncDisposable {
  /** The nodes, named `a`, `b`, `c`, … in this order; a killed node stays. */
  readonly nodes: readonly PrunnerProcess[];
  /** The node names, in the order of `nodes`. */
  readonly names: readonly string[];
  /** Each node's workspace, in the order of `nodes`. */
  readonly workspaces: readonly Workspace[];
  /** The URL of the database the nodes share. */
  readonly database: string;
  /** The database server, which a test may stop and start again. */
  readonly server: TestPostgres;
  /** Kills node `name` with SIGKILL and waits for its exit. */
  kill(name: string): Promise<void>;
  /** The nodes not killed, in the order of `nodes`. */
  live(): PrunnerProcess[];
  /** The job as node `i` shows it (by default the first node not killed). */
  job(id: string, i?: number): Promise<ClusterJob>;
  /**
   * Waits until the job has completed, as node `i` shows it (by default the first node not
   * killed), and returns it.
   */
  completed(id: string, i?: number, timeoutMs?: number): Promise<ClusterJob>;
  /** Everything the nodes wrote to stderr, each under its name (for failure messages). */
  stderr(): string;
}

/** The clusters started by the running test, whose logs a failure shows. */
const started: Cluster[] = [];

/**
 * Starts a PostgreSQL server and `n` nodes (`--node-name a`, `b`, …) on one database of it, all
 * at once, each in a workspace of its own holding `yaml`; `extraArgs` go to every node (e.g.
 * `--heartbeat-timeout 3s`).
 *
 * @example
 * ```ts
 * await using cluster = await startCluster(yaml, 2);
 * const id = await accepted(cluster.nodes[0], "build");
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
  const killed = new Set<string>();
  const dispose = async () => {
    await Promise.all(nodes.map((node) => node[Symbol.asyncDispose]()));
    await Promise.all(workspaces.map((ws) => ws[Symbol.asyncDispose]()));
    await server.dispose();
  };
  let database: string;
  try {
    database = await server.database();
    for (const _ of names) workspaces.push(await workspace(yaml));
    const starts = await Promise.allSettled(
      names.map((name, i) =>
        startPrunner(workspaces[i], ["--database-url", database, "--node-name", name, ...extraArgs])
      ),
    );
    for (const result of starts) if (result.status === "fulfilled") nodes.push(result.value);
    const failed = starts.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
  } catch (error) {
    await dispose();
    throw error;
  }
  const live = () => nodes.filter((_, i) => !killed.has(names[i]));
  const job = (id: string, i?: number) =>
    (i === undefined ? live()[0] : nodes[i]).job(id) as Promise<ClusterJob>;
  const cluster: Cluster = {
    nodes,
    names,
    workspaces,
    database,
    server,
    async kill(name) {
      const i = names.indexOf(name);
      if (i < 0) throw new Error(`no node ${name} in this cluster`);
      killed.add(name);
      await nodes[i].stop("SIGKILL");
    },
    live,
    job,
    completed: (id, i, timeoutMs) =>
      waitFor(`job ${id} to complete`, async () => {
        const found = await job(id, i);
        return found.completed ? found : null;
      }, timeoutMs),
    stderr: () => nodes.map((node, i) => `--- node ${names[i]}:\n${node.stderr()}`).join("\n"),
    [Symbol.asyncDispose]: dispose,
  };
  started.push(cluster);
  return cluster;
}

/**
 * A test of a cluster that is skipped, with the reason, where PostgreSQL is missing. When it
 * fails, the logs of the nodes it started are printed.
 *
 * @example
 * ```ts
 * clusterTest("a job is seen on every node", async () => {
 *   await using cluster = await startCluster(yaml, 2);
 * });
 * ```
 */
export function clusterTest(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name,
    ignore: postgresMissing !== null,
    async fn() {
      started.length = 0;
      try {
        await fn();
      } catch (error) {
        for (const cluster of started) console.error(cluster.stderr());
        throw error;
      }
    },
  });
}

/** What `POST /pipelines/schedule` answered. */
export interface ScheduleAnswer {
  status: number;
  jobId?: string;
  error?: string;
  /** Whether the answer is that of an earlier request with the same `Idempotency-Key`. */
  replayed: boolean;
}

/**
 * Sends a schedule request to `node`, with `headers`; answers of any status are returned.
 *
 * @example
 * ```ts
 * const answer = await schedule(node, { pipeline: "build" }, { "idempotency-key": "k" });
 * ```
 */
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

/**
 * Schedules on `node` and returns the new job's id, failing on any answer but a 202.
 *
 * @example
 * ```ts
 * const id = await accepted(node, "deploy", { tag: "v1" }, "production");
 * ```
 */
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

/**
 * The status of a request without a body to `node`, its answer's body discarded.
 *
 * @example
 * ```ts
 * assertEquals(await statusOf(node, "POST", `/job/cancel?id=${id}`), 200);
 * ```
 */
export async function statusOf(
  node: PrunnerProcess,
  method: string,
  path: string,
): Promise<number> {
  const response = await node.request(method, path);
  await response.body?.cancel();
  return response.status;
}

/**
 * The jobs `node` lists (`GET /pipelines/jobs`): every job, or with `pipeline` at most 1000 of
 * that pipeline.
 *
 * @example
 * ```ts
 * const ids = (await listed(node, "build")).map((job) => job.id);
 * ```
 */
export async function listed(node: PrunnerProcess, pipeline?: string): Promise<ClusterJob[]> {
  const query = pipeline === undefined
    ? ""
    : `?limit=1000&pipeline=${encodeURIComponent(pipeline)}`;
  const { jobs } = await node.json<{ jobs: ClusterJob[] }>("GET", `/pipelines/jobs${query}`);
  return jobs;
}

/**
 * Opens `GET /events` on `node`.
 *
 * @example
 * ```ts
 * const events = await openEvents(node);
 * const seen = await events.collect((m) => m.event === "job_completed");
 * await events.cancel();
 * ```
 */
export async function openEvents(node: PrunnerProcess): Promise<SseReader> {
  const response = await fetch(`${node.url}/events`, {
    headers: { authorization: await bearer() },
  });
  assertEquals(response.status, 200, "GET /events");
  return readSse(response);
}

/**
 * A task's output as `node` reads it (`GET /job/logs`).
 *
 * @example
 * ```ts
 * assertEquals((await logs(node, id, "work")).stdout, "done\n");
 * ```
 */
export function logs(
  node: PrunnerProcess,
  id: string,
  task: string,
): Promise<{ stdout: string; stderr: string }> {
  return node.json("GET", `/job/logs?id=${id}&task=${encodeURIComponent(task)}`);
}

/**
 * A shell loop that waits (at most 60 s) until the file `path` exists: a task that runs until
 * the test lets it end. `path` may be a template, as `{{ .release }}`.
 *
 * @example
 * ```ts
 * const script = `- ${untilFile(`${dir.path}/release`)}`;
 * ```
 */
export function untilFile(path: string): string {
  return `for i in $(seq 1200); do [ -f ${path} ] && break; sleep 0.05; done`;
}

/**
 * A temporary directory for files the tasks of every node share by absolute path.
 *
 * @example
 * ```ts
 * await using dir = await sharedDir();
 * const markers = `${dir.path}/markers`;
 * ```
 */
export async function sharedDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "prunner-cluster-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}

/**
 * The lines tasks wrote to the shared file `path` (as `start 1`, `end 1`), in order; none while
 * it does not exist.
 *
 * @example
 * ```ts
 * assertEquals(await readMarkers(`${dir.path}/order`), ["first", "second"]);
 * ```
 */
export async function readMarkers(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter((line) => line !== "");
}

/**
 * Waits until `path` holds a pid followed by a newline (as `echo $$ > path` writes it), and
 * returns it.
 *
 * @example
 * ```ts
 * const pid = await pidFrom(`${dir.path}/pid`);
 * ```
 */
export function pidFrom(path: string, timeoutMs?: number): Promise<number> {
  return waitFor(`a pid in ${path}`, async () => {
    const text = await Deno.readTextFile(path).catch(() => "");
    return text.endsWith("\n") ? Number(text) : 0;
  }, timeoutMs);
}

/**
 * Whether process `pgid` and every process of the process group it leads have ended (are gone
 * or zombies), by `/proc`.
 *
 * @example
 * ```ts
 * await waitFor("the task's processes to end", () => groupEnded(pgid));
 * ```
 */
export async function groupEnded(pgid: number): Promise<boolean> {
  if (processAlive(pgid)) return false;
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`).catch(() => "");
    // pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] !== "Z" && Number(fields[2]) === pgid) return false;
  }
  return true;
}
