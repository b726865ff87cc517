/**
 * The benchmark's cases (numbered as in the issue), their metrics and targets.
 *
 * @module
 */
import { apiThroughput, type LoadTool } from "./api.ts";
import { clusterCase, clusterMissing } from "./cluster.ts";
import { scheduleLatency } from "./latency.ts";
import { outputMemory } from "./memory.ts";
import { type CaseResult, type Metric, metric, unmeasured } from "./report.ts";
import { binary, ours } from "./server.ts";
import { type Sizes, TRUE_COMMAND } from "./sizes.ts";
import { gnuParallel, spawnLimit } from "./spawn.ts";
import { soak } from "./soak.ts";
import { PAGE_SIZE, stateScale } from "./state.ts";
import { endToEnd } from "./throughput.ts";

/** What the cases take from the command line. */
export interface CaseOptions {
  /** Case numbers to run; all when `null`. */
  only: Set<number> | null;
  /** A Go prunner binary for case 8. */
  comparePrunner: string | null;
  /** Where our servers write CPU profiles. */
  profile: string | null;
  /** Case 7's load generator; automatic when `null`. */
  load: LoadTool | null;
}

function bytesLabel(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${bytes / 1024 ** 3} GiB` : `${bytes / 1024 ** 2} MiB`;
}

/**
 * Runs `body` `times` times; resolves with the run of median `rate` and a note on the spread,
 * or `null` when a run resolves with `null` (the tool is missing).
 */
async function medianRun<T>(
  times: number,
  body: () => Promise<T | null>,
  rate: (result: T) => number,
  unit: string,
): Promise<{ median: T; note: string | undefined } | null> {
  const runs: T[] = [];
  for (let i = 0; i < times; i++) {
    const result = await body();
    if (result === null) return null;
    runs.push(result);
  }
  runs.sort((a, b) => rate(a) - rate(b));
  const median = runs[Math.floor(runs.length / 2)];
  if (runs.length === 1) return { median, note: undefined };
  const all = runs.map((run) => Math.round(rate(run))).join(", ");
  return { median, note: `median of ${runs.length} runs (${all} ${unit})` };
}

/** What a case produced: metrics (and a remark), or why it was skipped. */
type Outcome = { metrics: Metric[]; note?: string } | { skipped: string };

/**
 * Runs every selected case in order, each isolated: a failing case is recorded as failed
 * (with its error) and the next one runs. Later cases use earlier results for their ratios.
 */
export async function runCases(
  options: CaseOptions,
  sizes: Sizes,
  log: (message: string) => void,
): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  const run = async (id: number, title: string, body: () => Promise<Outcome>) => {
    if (options.only && !options.only.has(id)) return;
    log(`case ${id}: ${title}`);
    const started = performance.now();
    let result: CaseResult;
    try {
      const outcome = await body();
      const seconds = (performance.now() - started) / 1000;
      result = "skipped" in outcome
        ? { id, title, status: "skipped", note: outcome.skipped, seconds, metrics: [] }
        : { id, title, status: "ok", note: outcome.note, seconds, metrics: outcome.metrics };
    } catch (error) {
      const seconds = (performance.now() - started) / 1000;
      const note = error instanceof Error ? error.message : String(error);
      result = { id, title, status: "failed", note, seconds, metrics: [] };
    }
    log(
      `case ${id}: ${result.status} in ${result.seconds.toFixed(1)} s${
        result.status === "ok" ? "" : `: ${result.note}`
      }`,
    );
    results.push(result);
  };
  const n = sizes.parallelism;
  const deno = ours(options.profile);
  let spawnRate: number | null = null;
  let e2eRate: number | null = null;
  let latency: { p50: number; p99: number } | null = null;
  let apiRatio: number | null = null;
  let growth: { output: number; logs: number } | null = null;

  await run(1, "Spawn limit", async () => {
    const runs = await medianRun(
      sizes.repeats,
      () => spawnLimit(sizes.spawns, n),
      (run) => run.perSecond,
      "proc/s",
    );
    if (runs === null) throw new Error("no run of case 1 completed");
    const rate = runs.median;
    spawnRate = rate.perSecond;
    return {
      metrics: [metric(`sh -c ${TRUE_COMMAND}, ${rate.count} at -j${n}`, rate.perSecond, "proc/s")],
      note: runs.note,
    };
  });

  await run(2, "End-to-end throughput", async () => {
    const runs = await medianRun(
      sizes.repeats,
      () => endToEnd(deno, sizes),
      (run) => run.jobsPerSecond,
      "jobs/s",
    );
    if (runs === null) throw new Error("no run of case 2 completed");
    const result = runs.median;
    e2eRate = result.jobsPerSecond;
    const metrics = [
      metric(`${result.jobs} jobs, concurrency ${n}`, result.jobsPerSecond, "jobs/s"),
      metric("all schedule requests answered after", result.schedulingSeconds, "s"),
      metric("CPU per job: server process", result.serverCpuMs, "ms"),
      metric("CPU per job: guard or executor processes", result.executorCpuMs, "ms"),
      metric("CPU per job: task processes", result.tasksCpuMs, "ms"),
      metric("CPU per job: benchmark client", result.clientCpuMs, "ms"),
      metric("machine CPU busy", result.machineBusy * 100, "%"),
    ];
    if (spawnRate !== null) {
      metrics.push(
        metric("÷ spawn limit (case 1)", e2eRate / spawnRate, "×", { op: ">=", bound: 0.5 }),
      );
    }
    return { metrics, note: runs.note };
  });

  await run(3, "GNU parallel", async () => {
    const runs = await medianRun(
      sizes.repeats,
      () => gnuParallel(sizes.jobs, n),
      (run) => run.perSecond,
      "runs/s",
    );
    if (runs === null) {
      return { skipped: "GNU parallel is not installed (apt-get install parallel)" };
    }
    const rate = runs.median;
    const metrics = [metric(`${rate.count} × ${TRUE_COMMAND}, -j${n}`, rate.perSecond, "runs/s")];
    if (e2eRate !== null) {
      metrics.push(
        metric("case 2 ÷ parallel", e2eRate / rate.perSecond, "×", { op: ">=", bound: 1.2 }),
      );
    }
    return { metrics, note: runs.note };
  });

  await run(4, "Schedule→start latency", async () => {
    const result = await scheduleLatency(deno, sizes);
    latency = { p50: result.p50, p99: result.p99 };
    return {
      metrics: [
        metric(`p50 of ${result.samples} jobs`, result.p50, "ms"),
        metric("p95", result.p95, "ms"),
        metric("p99", result.p99, "ms", { op: "<", bound: 20 }),
        metric("max", result.max, "ms"),
      ],
      note: `from before POST /pipelines/schedule to \`date +%s%N\` in the task; ` +
        `${sizes.warmupJobs} warm-up jobs not counted`,
    };
  });

  await run(5, "Output memory", async () => {
    const result = await outputMemory(deno, sizes);
    growth = { output: result.outputGrowth, logs: result.logsGrowth };
    const output = bytesLabel(sizes.outputBytes);
    const logs = bytesLabel(sizes.logBytes);
    return {
      metrics: [
        metric("RSS before", result.baseline, "MiB"),
        metric(`peak RSS, task writing ${output}`, result.outputPeak, "MiB"),
        metric(`growth, task writing ${output}`, result.outputGrowth, "MiB", {
          op: "<",
          bound: 64,
        }),
        metric("retained 1 s after the job", result.outputRetained, "MiB"),
        metric("output taken in at", result.outputRate, "MiB/s"),
        metric(`peak RSS, GET /job/logs of ${logs}`, result.logsPeak, "MiB"),
        metric(`growth, GET /job/logs of ${logs}`, result.logsGrowth, "MiB", {
          op: "<",
          bound: 64,
        }),
        metric("log served at", result.logsRate, "MiB/s"),
      ],
    };
  });

  await run(6, "State scale", async () => {
    const result = await stateScale(deno, sizes);
    return {
      metrics: [
        metric("startup, empty store", result.emptyStartupMs, "ms"),
        metric(`startup, ${result.storedJobs} finished jobs`, result.startupMs, "ms", {
          op: "<",
          bound: 2000,
        }),
        metric("RSS after startup", result.startupRss, "MiB"),
        metric("GET /pipelines/jobs, first", result.listFirstMs, "ms"),
        metric("GET /pipelines/jobs, median", result.listMedianMs, "ms", {
          op: "<",
          bound: 500,
        }),
        metric("GET /pipelines/jobs, first bytes after", result.listFirstByteMs, "ms"),
        metric("GET /pipelines/jobs, body", result.listMiB, "MiB"),
        metric("peak RSS while listing", result.listPeakRss, "MiB"),
        metric("growth while listing", result.listGrowth, "MiB", { op: "<", bound: 64 }),
        metric(`GET /pipelines/jobs?limit=${PAGE_SIZE}, median`, result.pageMedianMs, "ms", {
          op: "<",
          bound: 50,
        }),
        metric(`GET /pipelines/jobs?limit=${PAGE_SIZE}, max`, result.pageMaxMs, "ms"),
      ],
      note: `store filled through src/store by scripts/bench/populate.ts in ` +
        `${result.populateSeconds.toFixed(1)} s; startup is from spawning \`deno run\` to the ` +
        `first answer of GET /pipelines/; ${result.pages} pages walked with \`before\`, every ` +
        `other one filtered by \`pipeline\``,
    };
  });

  await run(7, "API", async () => {
    const result = await apiThroughput(deno, sizes, options.load);
    apiRatio = result.ratio;
    return {
      metrics: [
        metric("bare Deno.serve hello world", result.hello.perSecond, "req/s"),
        metric("GET /pipelines/ with a token", result.prunner.perSecond, "req/s"),
        metric("÷ bare server", result.ratio, "×", {
          op: ">=",
          bound: 0.5,
        }),
        metric("÷ bare server, lowest round", Math.min(...result.ratios), "×", {
          op: ">=",
          bound: 0.5,
        }),
      ],
      note: `${result.tool === "wrk" ? "wrk -t2" : "fetch loops"}, ${sizes.apiConnections} ` +
        `connections, after a 1 s warm-up; ${result.ratios.length} round(s) of ` +
        `${sizes.apiPairs} pair(s) of ${sizes.apiSeconds} s loads, one per server back to ` +
        `back; a round's ratio is the median of its pairs'; the median round (${
          result.ratios.map((ratio) => ratio.toFixed(3)).join(", ")
        } ×; bare and prunner req/s per round, its pairs together: ${
          result.rounds.map((round) =>
            `${Math.round(round.hello.perSecond)}/${Math.round(round.prunner.perSecond)}`
          ).join(", ")
        })`,
    };
  });

  await run(8, "Go prunner", async () => {
    if (options.comparePrunner === null) {
      return { skipped: "needs --compare-prunner PATH (a Go prunner binary)" };
    }
    const go = binary(options.comparePrunner);
    const metrics: Metric[] = [];
    const failures: string[] = [];
    const attempt = async (what: string, body: () => Promise<void>) => {
      try {
        await body();
      } catch (error) {
        failures.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    await attempt("case 2", async () => {
      const runs = await medianRun(
        sizes.repeats,
        () => endToEnd(go, sizes),
        (run) => run.jobsPerSecond,
        "jobs/s",
      );
      if (runs === null) throw new Error("no run completed");
      const result = runs.median;
      metrics.push(metric("go: end-to-end (case 2)", result.jobsPerSecond, "jobs/s"));
      metrics.push(metric("go: CPU per job, server process", result.serverCpuMs, "ms"));
      if (e2eRate !== null) {
        metrics.push(metric("deno ÷ go, jobs/s", e2eRate / result.jobsPerSecond, "×", {
          op: ">=",
          bound: 1.3,
        }));
      }
    });
    await attempt("case 4", async () => {
      const result = await scheduleLatency(go, sizes);
      metrics.push(metric("go: latency p50 (case 4)", result.p50, "ms"));
      metrics.push(metric("go: latency p99 (case 4)", result.p99, "ms"));
      if (latency !== null) {
        const target = { op: "<=", bound: 1 } as const;
        metrics.push(metric("deno ÷ go, latency p50", latency.p50 / result.p50, "×", target));
        metrics.push(metric("deno ÷ go, latency p99", latency.p99 / result.p99, "×", target));
      }
    });
    await attempt("case 5", async () => {
      const result = await outputMemory(go, sizes);
      metrics.push(metric("go: growth, output (case 5)", result.outputGrowth, "MiB"));
      metrics.push(metric("go: growth, GET /job/logs (case 5)", result.logsGrowth, "MiB"));
      if (growth !== null) {
        metrics.push(
          metric("deno − go, output growth", growth.output - result.outputGrowth, "MiB"),
        );
        metrics.push(metric("deno − go, logs growth", growth.logs - result.logsGrowth, "MiB"));
      }
    });
    metrics.push(
      unmeasured(
        "go: state scale (case 6)",
        "populate.ts writes prunner's Deno KV store; the Go prunner keeps its jobs in a file " +
          "of its own format",
      ),
    );
    await attempt("case 7", async () => {
      const result = await apiThroughput(go, sizes, options.load);
      metrics.push(
        metric("go: GET /pipelines/ with a token (case 7)", result.prunner.perSecond, "req/s"),
      );
      metrics.push(metric("go ÷ bare Deno.serve", result.ratio, "×"));
      if (apiRatio !== null) metrics.push(metric("deno ÷ go, API", apiRatio / result.ratio, "×"));
    });
    await attempt("case 9", async () => {
      const result = await soak(go, sizes);
      metrics.push(metric("go: soak, RSS at start (case 9)", result.startRss, "MiB"));
      metrics.push(
        metric(`go: soak, RSS after ${sizes.soakIdleSeconds} s idle`, result.idleRss, "MiB"),
      );
      const first = result.waves[0].jobsPerSecond;
      const last = result.waves[result.waves.length - 1].jobsPerSecond;
      metrics.push(metric("go: soak, last ÷ first wave", last / first, "×"));
    });
    if (metrics.every((m) => m.value === null)) throw new Error(failures.join("; "));
    // The Go prunner runs script lines in an embedded shell interpreter (mvdan/sh), where a
    // bare `true` is a builtin that starts no process: the throughput pipeline runs /bin/true.
    const remark = "both servers run the same pipelines; the throughput and soak tasks run " +
      "`/bin/true` and the latency task `date`, programs that the Go prunner's in-process " +
      "shell must start as processes too; deno's cases 2, 4, 5 and 7 ran earlier in this run";
    return { metrics, note: [...failures, remark].join("; ") };
  });

  await run(9, "Soak", async () => {
    const result = await soak(deno, sizes);
    const first = result.waves[0];
    const last = result.waves[result.waves.length - 1];
    const wave = sizes.soakWave;
    return {
      metrics: [
        metric("RSS at start", result.startRss, "MiB"),
        metric("largest RSS after a wave", result.maxRss, "MiB"),
        metric(`RSS after ${sizes.soakIdleSeconds} s idle`, result.idleRss, "MiB"),
        metric("idle ÷ start", result.idleRss / result.startRss, "×", { op: "<=", bound: 1.5 }),
        metric(`first ${wave} jobs`, first.jobsPerSecond, "jobs/s"),
        metric(`last ${wave} jobs`, last.jobsPerSecond, "jobs/s"),
        metric("last ÷ first", last.jobsPerSecond / first.jobsPerSecond, "×", {
          op: ">=",
          bound: 0.9,
        }),
      ],
      note:
        `${result.jobs} jobs of two tasks (\`${TRUE_COMMAND}\`, then again) in waves of ${wave}, ` +
        `concurrency ${sizes.soakConcurrency}, retention_count ${sizes.soakRetention}; RSS of ` +
        `the server and its task executor processes, summed (idle: ${
          result.idleProcesses.map((rss) => rss.toFixed(0)).join(" + ")
        } MiB); RSS after each wave: ${result.waves.map((w) => w.rss.toFixed(0)).join(", ")} ` +
        `MiB; jobs/s of each wave: ${
          result.waves.map((w) => w.jobsPerSecond.toFixed(0)).join(", ")
        }`,
    };
  });
  await run(10, "Cluster", async () => {
    if (clusterMissing !== null) return { skipped: clusterMissing };
    const result = await clusterCase(deno, sizes);
    const { single, cluster, latency } = result;
    const rates = (values: number[]) => values.map((rate) => Math.round(rate)).join(", ");
    const nodes = Object.entries(cluster.byNode).map(([name, jobs]) => `${name} ${jobs}`);
    return {
      metrics: [
        metric(`${single.jobs} jobs, one node (Deno KV)`, single.jobsPerSecond, "jobs/s"),
        metric(`${cluster.jobs} jobs, two nodes (PostgreSQL)`, cluster.jobsPerSecond, "jobs/s"),
        metric(
          "time per job, cluster ÷ one node",
          single.jobsPerSecond / cluster.jobsPerSecond,
          "×",
          { op: "<=", bound: 1.5 },
        ),
        metric("CPU per job, one node", single.cpu.processes, "ms"),
        metric("CPU per job, cluster", cluster.cpu.processes, "ms"),
        metric(
          "CPU per job, cluster ÷ one node",
          cluster.cpu.processes / single.cpu.processes,
          "×",
        ),
        metric("cluster CPU per job: both server processes", cluster.cpu.servers, "ms"),
        metric("cluster CPU per job: task executor processes", cluster.cpu.executors, "ms"),
        metric("cluster CPU per job: task processes", cluster.cpu.tasks, "ms"),
        metric("cluster CPU per job: PostgreSQL", cluster.cpu.postgres, "ms"),
        metric("cluster CPU per job: benchmark client", cluster.cpu.client, "ms"),
        metric("one node CPU per job: server process", single.cpu.servers, "ms"),
        metric("one node CPU per job: task executor process", single.cpu.executors, "ms"),
        metric("one node CPU per job: task processes", single.cpu.tasks, "ms"),
        metric("one node CPU per job: benchmark client", single.cpu.client, "ms"),
        metric("machine CPU per job, one node run", single.cpu.machine, "ms"),
        metric("machine CPU per job, cluster run", cluster.cpu.machine, "ms"),
        metric(`latency p50 of ${latency.single.samples} jobs, one node`, latency.single.p50, "ms"),
        metric("latency p99, one node", latency.single.p99, "ms"),
        metric(
          `latency p50 of ${latency.cluster.samples} jobs, cluster`,
          latency.cluster.p50,
          "ms",
        ),
        metric("latency p99, cluster", latency.cluster.p99, "ms"),
        metric("latency p50, cluster ÷ one node", latency.cluster.p50 / latency.single.p50, "×"),
        metric("latency p99, cluster ÷ one node", latency.cluster.p99 / latency.single.p99, "×"),
      ],
      note: `the throughput pipeline of case 2 (concurrency ${n}, across the cluster), ` +
        `${n} clients, the cluster's jobs scheduled round-robin on nodes a and b and polled on ` +
        `the node that took them, after ${4 * n} unmeasured jobs; one node and cluster take ` +
        `turns, each fresh (the cluster on a ` +
        `new database of one throwaway PostgreSQL), median of ${sizes.repeats} run(s) ` +
        `(one node ${rates(result.singleRates)}, cluster ${rates(result.clusterRates)} jobs/s); ` +
        `the median cluster run's jobs ran on ${nodes.join(", ")}, all schedule requests ` +
        `answered after ${cluster.schedulingSeconds.toFixed(2)} s (one node ` +
        `${single.schedulingSeconds.toFixed(2)} s); CPU per job is that of the run's processes ` +
        `(servers, executors, tasks, PostgreSQL's, the client), the machine's rows include ` +
        `whatever else ran; latency as case 4, one job at a time, alternating between the one ` +
        `node and the cluster's nodes`,
    };
  });
  return results;
}
