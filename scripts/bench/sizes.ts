/**
 * How big each case is (full and `--quick`), and the `pipelines.yml` every benchmarked server
 * gets. The YAML uses only what the Go prunner reads too, so `--compare-prunner` runs the same
 * pipelines.
 *
 * @module
 */

/** Sizes of the cases. */
export interface Sizes {
  /** Parallelism of cases 1–3 (processes, jobs, `parallel -j`). */
  parallelism: number;
  /** Runs of the throughput cases (1–3, and case 2 in case 8); the median run is reported. */
  repeats: number;
  /** Case 1: processes spawned. */
  spawns: number;
  /** Cases 2 and 3: jobs (or `true` runs). */
  jobs: number;
  /** Case 4: measured jobs, after {@linkcode Sizes.warmupJobs} unmeasured ones. */
  latencyJobs: number;
  warmupJobs: number;
  /** Case 5: bytes one task writes to stdout. */
  outputBytes: number;
  /** Case 5: bytes of the log served by `GET /job/logs`. */
  logBytes: number;
  /** Case 6: finished jobs in the store. */
  storedJobs: number;
  /** Case 6: `GET /pipelines/jobs` requests timed. */
  listRequests: number;
  /**
   * Case 7: seconds of one load (wrk), loads of each server per round (in pairs), and the
   * request cap of the fetch fallback. There are `repeats` rounds.
   */
  apiSeconds: number;
  apiPairs: number;
  apiRequests: number;
  /** Case 7: concurrent connections. */
  apiConnections: number;
  /** Case 9: jobs in all, jobs per wave, the pipeline's concurrency and retention. */
  soakJobs: number;
  soakWave: number;
  soakConcurrency: number;
  soakRetention: number;
  /** Case 9: seconds without load after the last wave, before the RSS is read. */
  soakIdleSeconds: number;
}

/** The sizes the issue asks for. */
export const FULL: Sizes = {
  parallelism: 16,
  repeats: 3,
  spawns: 1000,
  jobs: 1000,
  latencyJobs: 200,
  warmupJobs: 5,
  outputBytes: 1024 * 1024 * 1024,
  logBytes: 100 * 1024 * 1024,
  storedJobs: 100_000,
  listRequests: 5,
  apiSeconds: 1,
  apiPairs: 5,
  apiRequests: 1_000_000,
  apiConnections: 16,
  soakJobs: 10_000,
  soakWave: 1000,
  soakConcurrency: 8,
  soakRetention: 200,
  soakIdleSeconds: 20,
};

/** Tiny sizes: every case in seconds (`--quick`, run by the test suite). */
export const QUICK: Sizes = {
  parallelism: 16,
  repeats: 1,
  spawns: 20,
  jobs: 20,
  latencyJobs: 20,
  warmupJobs: 2,
  outputBytes: 1024 * 1024,
  logBytes: 1024 * 1024,
  storedJobs: 200,
  listRequests: 2,
  apiSeconds: 1,
  apiPairs: 1,
  apiRequests: 300,
  apiConnections: 4,
  soakJobs: 40,
  soakWave: 20,
  soakConcurrency: 8,
  soakRetention: 10,
  soakIdleSeconds: 1,
};

/** Pipeline names used by the cases. */
export const PIPELINE = {
  throughput: "bench_throughput",
  latency: "bench_latency",
  output: "bench_output",
  logs: "bench_logs",
  state: "bench_state",
  soak: "bench_soak",
} as const;

/** The task of every benchmark pipeline. */
export const TASK = "run";

/**
 * The command of the throughput cases (1–3, 8): a program, so that every runner starts a
 * process for it (the Go prunner's shell interpreter runs a bare `true` as a builtin).
 */
export const TRUE_COMMAND = "/bin/true";

/** A 100-byte line (with its newline) for `yes`, so output has realistic lines. */
const LINE = "0123456789".repeat(10).slice(0, 99);

/** The `pipelines.yml` of the benchmark. */
export function pipelinesYaml(sizes: Sizes): string {
  const pipeline = (name: string, concurrency: number, line: string) =>
    [
      `  ${name}:`,
      `    concurrency: ${concurrency}`,
      `    tasks:`,
      `      ${TASK}:`,
      `        script:`,
      `          - ${JSON.stringify(line)}`,
    ].join("\n");
  return [
    "pipelines:",
    pipeline(PIPELINE.throughput, sizes.parallelism, TRUE_COMMAND),
    pipeline(PIPELINE.latency, 1, "date +%s%N"),
    pipeline(PIPELINE.output, 1, `yes ${LINE} | head -c ${sizes.outputBytes}`),
    pipeline(PIPELINE.logs, 1, `yes ${LINE} | head -c ${sizes.logBytes}`),
    pipeline(PIPELINE.state, 1, "true"),
    `  ${PIPELINE.soak}:`,
    `    concurrency: ${sizes.soakConcurrency}`,
    `    retention_count: ${sizes.soakRetention}`,
    `    tasks:`,
    `      first:`,
    `        script: [${JSON.stringify(TRUE_COMMAND)}]`,
    `      second:`,
    `        depends_on: [first]`,
    `        script: [${JSON.stringify(TRUE_COMMAND)}]`,
    "",
  ].join("\n");
}
