/**
 * Case 4: schedule→start latency at low load. One job at a time; its task's first line prints
 * `date +%s%N` (wall clock, ns), compared with the wall clock just before the schedule request.
 *
 * @module
 */
import { percentile } from "./report.ts";
import { type Implementation, type Server, startServer } from "./server.ts";
import { PIPELINE, pipelinesYaml, type Sizes, TASK } from "./sizes.ts";

/** What case 4 measured, in milliseconds. */
export interface Latency {
  samples: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * A sub-millisecond wall clock in epoch milliseconds: the monotonic clock anchored at a tick
 * of `Date.now()` (found by spinning until it changes), so the anchor error is microseconds.
 */
export function wallClock(): () => number {
  const first = Date.now();
  let anchorWall = first;
  while (anchorWall === first) anchorWall = Date.now();
  const anchorMono = performance.now();
  return () => anchorWall + (performance.now() - anchorMono);
}

/**
 * Schedules one job of the latency pipeline on `server`, waits until it completed and resolves
 * with the milliseconds from just before the request to the timestamp its task printed.
 *
 * @throws {Error} when the job fails or its output is not a timestamp.
 * @example
 * ```ts
 * const now = wallClock();
 * const ms = await timedJob(server, now);
 * ```
 */
export async function timedJob(server: Server, now: () => number): Promise<number> {
  const before = now();
  const id = await server.schedule(PIPELINE.latency);
  await server.completed(id, 5);
  const logs = await server.json<{ stdout: string }>(
    "GET",
    `/job/logs?id=${encodeURIComponent(id)}&task=${TASK}`,
  );
  const stamp = logs.stdout.trim();
  if (!/^\d{19}$/.test(stamp)) throw new Error(`job ${id} printed ${JSON.stringify(stamp)}`);
  return Number(BigInt(stamp) / 1000n) / 1000 - before;
}

/** The percentiles of latency samples. */
export function summarize(samples: readonly number[]): Latency {
  return {
    samples: samples.length,
    p50: percentile(samples, 0.5),
    p95: percentile(samples, 0.95),
    p99: percentile(samples, 0.99),
    max: Math.max(...samples),
  };
}

/**
 * Runs case 4 against a fresh server: `warmupJobs` unmeasured jobs, then `latencyJobs` measured
 * ones, each scheduled after the previous one completed.
 *
 * @throws {Error} when a job fails or its output is not a timestamp.
 */
export async function scheduleLatency(
  implementation: Implementation,
  sizes: Sizes,
): Promise<Latency> {
  await using server = await startServer(implementation, { pipelines: pipelinesYaml(sizes) });
  const now = wallClock();
  const samples: number[] = [];
  for (let i = 0; i < sizes.warmupJobs + sizes.latencyJobs; i++) {
    const ms = await timedJob(server, now);
    if (i >= sizes.warmupJobs) samples.push(ms);
  }
  return summarize(samples);
}
