/**
 * Case 5: memory of the server while a task writes a lot of output, and while the API serves a
 * big log. RSS comes from `/proc/PID/status` of the server process and its task executor
 * processes, summed; the peak is `VmHWM` after a reset (see {@linkcode watchPeak}) and sampled
 * `VmRSS`.
 *
 * @module
 */
import { type Implementation, type Server, startServer } from "./server.ts";
import { PIPELINE, pipelinesYaml, type Sizes, TASK } from "./sizes.ts";
import { mib, readTotalRss, sleep, watchPeak } from "./system.ts";

/** What case 5 measured, memory in MiB. */
export interface OutputMemory {
  /** RSS before the big job. */
  baseline: number;
  /** Peak RSS while the task wrote `outputBytes`. */
  outputPeak: number;
  outputGrowth: number;
  /** RSS one second after the job completed, minus the baseline. */
  outputRetained: number;
  /** MiB/s of output the server took in. */
  outputRate: number;
  /** RSS before `GET /job/logs`. */
  logsBaseline: number;
  /** Peak RSS while serving the `logBytes` log. */
  logsPeak: number;
  logsGrowth: number;
  /** MiB/s the log was served at. */
  logsRate: number;
}

/** Lets the server settle (background work, GC) before a baseline is taken. */
const SETTLE_MS = 1000;

async function runJob(server: Server, pipeline: string): Promise<{ id: string; seconds: number }> {
  const started = performance.now();
  const id = await server.schedule(pipeline);
  await server.completed(id, 20);
  return { id, seconds: (performance.now() - started) / 1000 };
}

/**
 * Runs case 5 against a fresh server.
 *
 * @throws {Error} when a job fails or the served log is shorter than what was written.
 */
export async function outputMemory(
  implementation: Implementation,
  sizes: Sizes,
): Promise<OutputMemory> {
  await using server = await startServer(implementation, { pipelines: pipelinesYaml(sizes) });
  await sleep(SETTLE_MS);

  const outputWatch = await watchPeak(server.pids());
  const output = await runJob(server, PIPELINE.output);
  const outputMemory = await outputWatch.stop();
  await sleep(SETTLE_MS);
  const retained = await readTotalRss(server.pids());

  const logsJob = await runJob(server, PIPELINE.logs);
  await sleep(SETTLE_MS);
  const logsWatch = await watchPeak(server.pids());
  const started = performance.now();
  const response = await server.request(
    "GET",
    `/job/logs?id=${encodeURIComponent(logsJob.id)}&task=${TASK}`,
  );
  if (!response.ok || !response.body) {
    throw new Error(`GET /job/logs answered ${response.status}: ${await response.text()}`);
  }
  let received = 0;
  for await (const chunk of response.body) received += chunk.length;
  const logsSeconds = (performance.now() - started) / 1000;
  const logsMemory = await logsWatch.stop();
  if (received < sizes.logBytes) {
    throw new Error(`GET /job/logs sent ${received} bytes, the task wrote ${sizes.logBytes}`);
  }

  return {
    baseline: mib(outputMemory.baseline),
    outputPeak: mib(outputMemory.peak),
    outputGrowth: mib(outputMemory.peak - outputMemory.baseline),
    outputRetained: mib(retained - outputMemory.baseline),
    outputRate: mib(sizes.outputBytes) / output.seconds,
    logsBaseline: mib(logsMemory.baseline),
    logsPeak: mib(logsMemory.peak),
    logsGrowth: mib(logsMemory.peak - logsMemory.baseline),
    logsRate: mib(received) / logsSeconds,
  };
}
