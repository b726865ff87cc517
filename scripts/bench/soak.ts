/**
 * Case 9: memory and speed over time. Jobs of a two-task pipeline (`/bin/true`, then again) with
 * `retention_count` are run in waves; the summed RSS of the server and its task executor
 * processes is read before the first wave, after every wave and after an idle pause, and the
 * first and last waves' rates are compared.
 *
 * @module
 */
import type { Implementation, Server } from "./server.ts";
import { startServer } from "./server.ts";
import { allCompleted, scheduleJobs } from "./schedule.ts";
import { PIPELINE, pipelinesYaml, type Sizes } from "./sizes.ts";
import { mib, readTotalRss, sleep } from "./system.ts";

/** One wave of case 9. */
export interface Wave {
  jobsPerSecond: number;
  /** Summed RSS right after the wave, MiB. */
  rss: number;
}

/** What case 9 measured, memory in MiB. */
export interface Soak {
  jobs: number;
  /** RSS of the server and its executor processes before the first wave. */
  startRss: number;
  waves: Wave[];
  /** The largest RSS read after a wave. */
  maxRss: number;
  /** RSS after the idle pause that followed the last wave. */
  idleRss: number;
  /** The RSS of each process after the idle pause (server first). */
  idleProcesses: number[];
}

/** Lets the server settle before its starting RSS is read. */
const SETTLE_MS = 1000;

/**
 * Schedules `count` jobs of `pipeline` from `clients` concurrent clients and waits until every
 * one has completed; a job retention has removed already (404) counts as completed. Resolves
 * with the seconds from the first request until the last job was seen completed.
 *
 * @throws {Error} when a request fails or a job does not succeed.
 */
export async function runWave(
  server: Server,
  pipeline: string,
  count: number,
  clients: number,
): Promise<number> {
  const started = performance.now();
  const scheduling = scheduleJobs(server, pipeline, count, clients);
  await allCompleted(server, scheduling, count, true);
  const seconds = (performance.now() - started) / 1000;
  await scheduling.settled;
  if (scheduling.failure() !== null) throw scheduling.failure();
  return seconds;
}

/**
 * Runs case 9 against a fresh server: `soakJobs` jobs in waves of `soakWave`, then
 * `soakIdleSeconds` without load.
 *
 * @throws {Error} when a job fails.
 */
export async function soak(implementation: Implementation, sizes: Sizes): Promise<Soak> {
  await using server = await startServer(implementation, { pipelines: pipelinesYaml(sizes) });
  await sleep(SETTLE_MS);
  const startRss = mib(await readTotalRss(server.pids()));
  const waves: Wave[] = [];
  for (let done = 0; done < sizes.soakJobs; done += sizes.soakWave) {
    const count = Math.min(sizes.soakWave, sizes.soakJobs - done);
    const seconds = await runWave(server, PIPELINE.soak, count, sizes.soakConcurrency);
    waves.push({ jobsPerSecond: count / seconds, rss: mib(await readTotalRss(server.pids())) });
  }
  await sleep(sizes.soakIdleSeconds * 1000);
  const pids = server.pids();
  const idleProcesses = await Promise.all(pids.map(async (pid) => mib(await readTotalRss([pid]))));
  return {
    jobs: sizes.soakJobs,
    startRss,
    waves,
    maxRss: Math.max(...waves.map((wave) => wave.rss)),
    idleRss: idleProcesses.reduce((sum, rss) => sum + rss, 0),
    idleProcesses,
  };
}
