/**
 * Case 2: end-to-end throughput. Jobs of a one-task pipeline (`true`) are scheduled over HTTP
 * by `parallelism` concurrent clients into a pipeline with `concurrency: parallelism`, and
 * polled over the API until every one has completed successfully.
 *
 * @module
 */
import { allCompleted, scheduleJobs } from "./schedule.ts";
import { type Implementation, startServer } from "./server.ts";
import { PIPELINE, pipelinesYaml, type Sizes } from "./sizes.ts";
import { readCpu, readLiveChildrenCpu, readMachineCpu } from "./system.ts";

/** What case 2 measured. */
export interface Throughput {
  jobs: number;
  seconds: number;
  jobsPerSecond: number;
  /** When the last schedule request was answered, from the first one. */
  schedulingSeconds: number;
  /**
   * CPU milliseconds per job: the server process, its helper processes (prunner's task guard,
   * or task executor processes where tasks start from those; 0 for servers without), the task
   * processes, this benchmark.
   */
  serverCpuMs: number;
  executorCpuMs: number;
  tasksCpuMs: number;
  clientCpuMs: number;
  /** Share of the machine's CPU time that was busy during the run (0..1). */
  machineBusy: number;
}

/**
 * Runs case 2 against a fresh server, polling the jobs as `allCompleted` does.
 *
 * @throws {Error} when a request fails or a job does not succeed.
 */
export async function endToEnd(implementation: Implementation, sizes: Sizes): Promise<Throughput> {
  await using server = await startServer(implementation, { pipelines: pipelinesYaml(sizes) });
  const count = sizes.jobs;
  const cpuBefore = await Promise.all([
    readCpu(server.pid),
    readCpu(Deno.pid),
    readMachineCpu(),
    readLiveChildrenCpu(server.pid),
  ]);
  const started = performance.now();
  const scheduling = scheduleJobs(server, PIPELINE.throughput, count, sizes.parallelism);
  await allCompleted(server, scheduling, count);
  const seconds = (performance.now() - started) / 1000;
  const [serverCpu, clientCpu, machineCpu, executorCpu] = await Promise.all([
    readCpu(server.pid),
    readCpu(Deno.pid),
    readMachineCpu(),
    readLiveChildrenCpu(server.pid),
  ]);
  const schedulingEnd = await scheduling.settled;
  if (scheduling.failure() !== null) throw scheduling.failure();
  return {
    jobs: count,
    seconds,
    jobsPerSecond: count / seconds,
    schedulingSeconds: (schedulingEnd - started) / 1000,
    serverCpuMs: (serverCpu.self - cpuBefore[0].self) / count,
    executorCpuMs: (executorCpu.self - cpuBefore[3].self) / count,
    tasksCpuMs: (serverCpu.children - cpuBefore[0].children + executorCpu.children -
      cpuBefore[3].children) / count,
    clientCpuMs: (clientCpu.self - cpuBefore[1].self) / count,
    machineBusy: (machineCpu.busy - cpuBefore[2].busy) / (machineCpu.total - cpuBefore[2].total),
  };
}
