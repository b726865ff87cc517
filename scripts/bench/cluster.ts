/**
 * Case 10: a cluster of two nodes on one PostgreSQL database against one node with Deno KV, in
 * the same run and with the same pipelines. Throughput: `jobs` one-task jobs (`/bin/true`) of
 * the throughput pipeline, scheduled by `parallelism` concurrent clients (round-robin over the
 * nodes in the cluster) and polled until all completed, as case 2 does, after 4 unmeasured jobs
 * per client; the single node and the
 * cluster take turns, `repeats` times, each time fresh (the cluster on a new database). Latency:
 * case 4's one job at a time, the single node and the cluster's nodes in turn. The PostgreSQL
 * server is a throwaway one (`tests/postgres.ts`).
 *
 * @module
 */
import { postgresMissing, startPostgres, type TestPostgres } from "../../tests/postgres.ts";
import { type Latency, summarize, timedJob, wallClock } from "./latency.ts";
import { allCompleted, scheduleJobs, type Servers } from "./schedule.ts";
import { type ApiJob, type Implementation, type Server, startServer } from "./server.ts";
import { PIPELINE, pipelinesYaml, type Sizes } from "./sizes.ts";
import { readCpu, readLiveChildrenCpu, readMachineCpu, track } from "./system.ts";

/** CPU milliseconds per job, by who spent them. */
export interface JobCpu {
  /** The prunner server processes (one, or both nodes). */
  servers: number;
  /** Their task executor processes. */
  executors: number;
  /** The task processes. */
  tasks: number;
  /** The PostgreSQL server: postmaster, backends and its helper processes (0 for Deno KV). */
  postgres: number;
  /** The benchmark's client. */
  client: number;
  /** All of the above. */
  processes: number;
  /** The whole machine's busy time (with whatever else ran on it). */
  machine: number;
}

/** One throughput run. */
export interface ClusterRun {
  jobs: number;
  jobsPerSecond: number;
  /** When the last schedule request was answered, from the first one. */
  schedulingSeconds: number;
  cpu: JobCpu;
  /** Jobs run by each node, by node name (the cluster only). */
  byNode: Record<string, number>;
}

/** What case 10 measured. */
export interface ClusterCase {
  /** The median runs by jobs/s. */
  single: ClusterRun;
  cluster: ClusterRun;
  /** Jobs/s of every run, in the order they ran. */
  singleRates: number[];
  clusterRates: number[];
  latency: { single: Latency; cluster: Latency };
}

/** The names of the cluster's nodes. */
const NODES = ["a", "b"];

/** Every process whose CPU a run counts, read at one moment. */
async function readAll(servers: readonly Server[], postmaster: number | null) {
  const [own, helpers, client, machine, pgSelf, pgChildren] = await Promise.all([
    Promise.all(servers.map((server) => readCpu(server.pid))),
    Promise.all(servers.map((server) => readLiveChildrenCpu(server.pid))),
    readCpu(Deno.pid),
    readMachineCpu(),
    postmaster === null ? null : readCpu(postmaster),
    postmaster === null ? null : readLiveChildrenCpu(postmaster),
  ]);
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  return {
    servers: sum(own.map((cpu) => cpu.self)),
    executors: sum(helpers.map((cpu) => cpu.self)),
    tasks: sum(own.map((cpu) => cpu.children)) + sum(helpers.map((cpu) => cpu.children)),
    postgres: pgSelf === null || pgChildren === null
      ? 0
      : pgSelf.self + pgSelf.children + pgChildren.self + pgChildren.children,
    client: client.self,
    machine: machine.busy,
  };
}

/**
 * Jobs run before a run is measured, per client: what a server does once (its second task
 * executor process starts with the first concurrent tasks, the driver prepares its statements)
 * is not a cost per job.
 */
const WARMUP_PER_CLIENT = 4;

/**
 * Schedules and waits for `count` jobs on `servers`, after unmeasured warm-up jobs; resolves
 * with the rate and CPU per job.
 */
async function throughput(
  servers: readonly Server[],
  postmaster: number | null,
  count: number,
  clients: number,
): Promise<Omit<ClusterRun, "byNode">> {
  const targets: Servers = servers.length === 1 ? servers[0] : servers;
  const warmup = scheduleJobs(targets, PIPELINE.throughput, clients * WARMUP_PER_CLIENT, clients);
  await allCompleted(targets, warmup, clients * WARMUP_PER_CLIENT);
  const before = await readAll(servers, postmaster);
  const started = performance.now();
  const scheduling = scheduleJobs(targets, PIPELINE.throughput, count, clients);
  await allCompleted(targets, scheduling, count);
  const seconds = (performance.now() - started) / 1000;
  const after = await readAll(servers, postmaster);
  const schedulingEnd = await scheduling.settled;
  if (scheduling.failure() !== null) throw scheduling.failure();
  const perJob = (key: keyof typeof after) => (after[key] - before[key]) / count;
  const processes = ["servers", "executors", "tasks", "postgres", "client"] as const;
  return {
    jobs: count,
    jobsPerSecond: count / seconds,
    schedulingSeconds: (schedulingEnd - started) / 1000,
    cpu: {
      servers: perJob("servers"),
      executors: perJob("executors"),
      tasks: perJob("tasks"),
      postgres: perJob("postgres"),
      client: perJob("client"),
      processes: processes.reduce((sum, key) => sum + perJob(key), 0),
      machine: perJob("machine"),
    },
  };
}

/** Starts the two nodes of a cluster on a new database of `pg`. */
async function startCluster(
  implementation: Implementation,
  sizes: Sizes,
  pg: TestPostgres,
): Promise<Server[]> {
  const url = await pg.database();
  const nodes: Server[] = [];
  try {
    // One after the other: the first creates the schema.
    for (const name of NODES) {
      nodes.push(
        await startServer(implementation, {
          pipelines: pipelinesYaml(sizes),
          args: ["--database-url", url, "--node-name", name],
        }),
      );
    }
    return nodes;
  } catch (error) {
    for (const node of nodes) await node[Symbol.asyncDispose]();
    throw error;
  }
}

/** How many of the listed jobs each node ran. */
async function jobsByNode(server: Server): Promise<Record<string, number>> {
  const { jobs } = await server.json<{ jobs: ApiJob[] }>("GET", "/pipelines/jobs");
  const counts: Record<string, number> = {};
  for (const job of jobs) counts[job.node ?? "?"] = (counts[job.node ?? "?"] ?? 0) + 1;
  return counts;
}

async function singleRun(implementation: Implementation, sizes: Sizes): Promise<ClusterRun> {
  await using server = await startServer(implementation, { pipelines: pipelinesYaml(sizes) });
  const run = await throughput([server], null, sizes.jobs, sizes.parallelism);
  return { ...run, byNode: {} };
}

async function clusterRun(
  implementation: Implementation,
  sizes: Sizes,
  pg: TestPostgres,
): Promise<ClusterRun> {
  const nodes = await startCluster(implementation, sizes, pg);
  try {
    const run = await throughput(nodes, await pg.pid(), sizes.jobs, sizes.parallelism);
    return { ...run, byNode: await jobsByNode(nodes[0]) };
  } finally {
    for (const node of nodes) await node[Symbol.asyncDispose]();
  }
}

/**
 * Case 4's latency on the single node and on the cluster, one job at a time, taking turns: a
 * job on the single node, then one on the next node of the cluster.
 */
async function latencies(
  implementation: Implementation,
  sizes: Sizes,
  pg: TestPostgres,
): Promise<{ single: Latency; cluster: Latency }> {
  await using single = await startServer(implementation, { pipelines: pipelinesYaml(sizes) });
  const nodes = await startCluster(implementation, sizes, pg);
  try {
    const now = wallClock();
    const samples = { single: [] as number[], cluster: [] as number[] };
    for (let i = 0; i < sizes.warmupJobs + sizes.latencyJobs; i++) {
      const singleMs = await timedJob(single, now);
      const clusterMs = await timedJob(nodes[i % nodes.length], now);
      if (i < sizes.warmupJobs) continue;
      samples.single.push(singleMs);
      samples.cluster.push(clusterMs);
    }
    return { single: summarize(samples.single), cluster: summarize(samples.cluster) };
  } finally {
    for (const node of nodes) await node[Symbol.asyncDispose]();
  }
}

/** The run of median jobs/s. */
function median(runs: readonly ClusterRun[]): ClusterRun {
  const sorted = [...runs].sort((a, b) => a.jobsPerSecond - b.jobsPerSecond);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Why case 10 cannot run on this machine (PostgreSQL is not installed), or `null`. */
export const clusterMissing: string | null = postgresMissing;

/**
 * Runs case 10.
 *
 * @throws {Error} when PostgreSQL is missing (see {@linkcode clusterMissing}) or does not start,
 * a server does not start, a request fails or a job does not succeed.
 */
export async function clusterCase(
  implementation: Implementation,
  sizes: Sizes,
): Promise<ClusterCase> {
  const pg = await startPostgres();
  const stopPostgres = track(() => pg.dispose());
  try {
    const singles: ClusterRun[] = [];
    const clusters: ClusterRun[] = [];
    for (let i = 0; i < sizes.repeats; i++) {
      // Which goes first alternates, so neither always runs on a machine the other warmed.
      if (i % 2 === 0) singles.push(await singleRun(implementation, sizes));
      clusters.push(await clusterRun(implementation, sizes, pg));
      if (i % 2 === 1) singles.push(await singleRun(implementation, sizes));
    }
    return {
      single: median(singles),
      cluster: median(clusters),
      singleRates: singles.map((run) => run.jobsPerSecond),
      clusterRates: clusters.map((run) => run.jobsPerSecond),
      latency: await latencies(implementation, sizes, pg),
    };
  } finally {
    await stopPostgres();
  }
}
