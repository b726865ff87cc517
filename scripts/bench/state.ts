/**
 * Case 6: state scale. A data directory holding many finished jobs (written by
 * `populate.ts` through the project's job store) → how long the server takes until its API
 * first answers, how long `GET /pipelines/jobs` takes, and the server's memory.
 *
 * @module
 */
import { percentile } from "./report.ts";
import { type Implementation, startServer } from "./server.ts";
import { PIPELINE, pipelinesYaml, type Sizes, TASK } from "./sizes.ts";
import { mib, readTotalRss, sleep, tempDir, watchPeak } from "./system.ts";

/** What case 6 measured. */
export interface StateScale {
  storedJobs: number;
  /** Seconds `populate.ts` took. */
  populateSeconds: number;
  /** Startup on an empty data directory, for reference. */
  emptyStartupMs: number;
  startupMs: number;
  /** RSS once the API answers. */
  startupRss: number;
  /** Latency of `GET /pipelines/jobs`: the first request and the median of all. */
  listFirstMs: number;
  listMedianMs: number;
  /** Size of one `GET /pipelines/jobs` response. */
  listMiB: number;
  /** Peak RSS during the listings. */
  listPeakRss: number;
}

const REPO = new URL("../../", import.meta.url).pathname;
const POPULATE = new URL("./populate.ts", import.meta.url).pathname;

async function populate(dataDir: string, count: number): Promise<number> {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-kv", POPULATE, dataDir, String(count), PIPELINE.state, TASK],
    cwd: REPO,
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  if (!success) throw new Error(`populate.ts failed: ${decoder.decode(stderr).trim()}`);
  return (JSON.parse(decoder.decode(stdout)) as { seconds: number }).seconds;
}

/**
 * Runs case 6 (only against this repository's prunner: it writes our store format).
 *
 * @throws {Error} when populating, starting or listing fails, or the listing misses jobs.
 */
export async function stateScale(
  implementation: Implementation,
  sizes: Sizes,
): Promise<StateScale> {
  const pipelines = pipelinesYaml(sizes);
  let emptyStartupMs: number;
  {
    await using empty = await startServer(implementation, { pipelines });
    emptyStartupMs = empty.startupMs;
  }

  await using dir = await tempDir();
  const data = `${dir.path}/data`;
  const populateSeconds = await populate(data, sizes.storedJobs);

  await using server = await startServer(implementation, { pipelines, data });
  const startupRss = await readTotalRss(server.pids());
  await sleep(1000);

  const watch = await watchPeak(server.pids());
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < sizes.listRequests; i++) {
    const started = performance.now();
    const response = await server.request("GET", "/pipelines/jobs");
    if (!response.ok || !response.body) {
      throw new Error(`GET /pipelines/jobs answered ${response.status}: ${await response.text()}`);
    }
    if (i === 0) {
      const body = new Uint8Array(await response.arrayBuffer());
      times.push(performance.now() - started);
      bytes = body.length;
      const { jobs } = JSON.parse(new TextDecoder().decode(body)) as { jobs: unknown[] };
      if (jobs.length < sizes.storedJobs) {
        throw new Error(
          `GET /pipelines/jobs listed ${jobs.length} jobs, ${sizes.storedJobs} are stored`,
        );
      }
    } else {
      let received = 0;
      for await (const chunk of response.body) received += chunk.length;
      times.push(performance.now() - started);
      if (received !== bytes) {
        throw new Error(`GET /pipelines/jobs sent ${received} bytes, before ${bytes}`);
      }
    }
  }
  const { peak } = await watch.stop();
  return {
    storedJobs: sizes.storedJobs,
    populateSeconds,
    emptyStartupMs,
    startupMs: server.startupMs,
    startupRss: mib(startupRss),
    listFirstMs: times[0],
    listMedianMs: percentile(times, 0.5),
    listMiB: mib(bytes),
    listPeakRss: mib(peak),
  };
}
