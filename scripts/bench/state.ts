/**
 * Case 6: state scale. A data directory holding many finished jobs (written by
 * `populate.ts` through the project's job store) → how long the server takes until its API
 * first answers, how long `GET /pipelines/jobs` takes (all jobs, and one page of
 * {@linkcode PAGE_SIZE} walking through them with `before`), and the server's memory.
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
  /** Median time until the first bytes of the body arrived (the body is streamed). */
  listFirstByteMs: number;
  /** Size of one `GET /pipelines/jobs` response. */
  listMiB: number;
  /** Peak RSS during the listings. */
  listPeakRss: number;
  /** Peak RSS during the listings minus the RSS before. */
  listGrowth: number;
  /** Latency of `GET /pipelines/jobs?limit=50&before=…`: median and maximum over the pages. */
  pageMedianMs: number;
  pageMaxMs: number;
  /** Pages requested (alternating with and without `pipeline`). */
  pages: number;
}

/** Jobs per page in the paged listing. */
export const PAGE_SIZE = 50;

/** Pages requested, walking from the newest job on and starting over at the end. */
const PAGE_REQUESTS = 40;

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
  const firstBytes: number[] = [];
  let bytes = 0;
  for (let i = 0; i < sizes.listRequests; i++) {
    const started = performance.now();
    const response = await server.request("GET", "/pipelines/jobs");
    if (!response.ok || !response.body) {
      throw new Error(`GET /pipelines/jobs answered ${response.status}: ${await response.text()}`);
    }
    const chunks: string[] = [];
    const decoder = new TextDecoder();
    let received = 0;
    for await (const chunk of response.body) {
      if (received === 0) firstBytes.push(performance.now() - started);
      received += chunk.length;
      if (i === 0) chunks.push(decoder.decode(chunk, { stream: true }));
    }
    times.push(performance.now() - started);
    if (i === 0) {
      bytes = received;
      const { jobs } = JSON.parse(chunks.join("") + decoder.decode()) as { jobs: unknown[] };
      if (jobs.length < sizes.storedJobs) {
        throw new Error(
          `GET /pipelines/jobs listed ${jobs.length} jobs, ${sizes.storedJobs} are stored`,
        );
      }
    } else if (received !== bytes) {
      throw new Error(`GET /pipelines/jobs sent ${received} bytes, before ${bytes}`);
    }
  }
  const { baseline, peak } = await watch.stop();
  const pageTimes = await pageLatencies(server);
  return {
    storedJobs: sizes.storedJobs,
    populateSeconds,
    emptyStartupMs,
    startupMs: server.startupMs,
    startupRss: mib(startupRss),
    listFirstMs: times[0],
    listMedianMs: percentile(times, 0.5),
    listFirstByteMs: percentile(firstBytes, 0.5),
    listMiB: mib(bytes),
    listPeakRss: mib(peak),
    listGrowth: mib(peak - baseline),
    pageMedianMs: percentile(pageTimes, 0.5),
    pageMaxMs: Math.max(...pageTimes),
    pages: pageTimes.length,
  };
}

/**
 * Walks the paged listing from the newest job, every other page filtered by pipeline, and
 * returns each page's latency.
 *
 * @throws {Error} when a page is not full (before the last) or repeats a job.
 */
async function pageLatencies(
  server: { request(method: string, path: string): Promise<Response> },
): Promise<number[]> {
  const times: number[] = [];
  const seen = new Set<string>();
  let next: string | undefined;
  for (let i = 0; i < PAGE_REQUESTS; i++) {
    const filter = i % 2 === 0 ? "" : `&pipeline=${PIPELINE.state}`;
    const path = `/pipelines/jobs?limit=${PAGE_SIZE}${filter}${next ? `&before=${next}` : ""}`;
    const started = performance.now();
    const response = await server.request("GET", path);
    const text = await response.text();
    times.push(performance.now() - started);
    if (!response.ok) throw new Error(`GET ${path} answered ${response.status}: ${text}`);
    const page = JSON.parse(text) as { jobs: { id: string }[]; next?: string };
    if (page.next !== undefined && page.jobs.length !== PAGE_SIZE) {
      throw new Error(`GET ${path} sent ${page.jobs.length} jobs and a next cursor`);
    }
    for (const { id } of page.jobs) {
      if (seen.has(id)) throw new Error(`GET ${path} repeated job ${id}`);
      seen.add(id);
    }
    next = page.next;
    if (next === undefined) seen.clear();
  }
  return times;
}
