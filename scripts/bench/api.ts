/**
 * Case 7: requests/s of `GET /pipelines/` with a valid token, against a bare `Deno.serve`
 * hello world, loaded the same way in the same run: with `wrk` when it is installed, otherwise
 * with concurrent `fetch` loops in this process. Loopback only, bounded in time (and count).
 *
 * @module
 */
import { signToken } from "./jwt.ts";
import { type Implementation, SECRET, startServer } from "./server.ts";
import { pipelinesYaml, type Sizes } from "./sizes.ts";
import { freePort, hasCommand, sleep, track } from "./system.ts";

/** One load run. */
export interface Load {
  requests: number;
  seconds: number;
  perSecond: number;
}

/** How case 7 generates load. */
export type LoadTool = "wrk" | "fetch";

/** What case 7 measured: the medians over the rounds, and each round's ratio. */
export interface ApiThroughput {
  tool: LoadTool;
  prunner: Load;
  hello: Load;
  /** Each round's ratio (the median of its pairs' prunner ÷ hello world), in order. */
  ratios: number[];
  /** Each round's loads (its pairs together), in the order they ran. */
  rounds: { hello: Load; prunner: Load }[];
  /** The median of `ratios`. */
  ratio: number;
}

const HELLO = new URL("./hello.ts", import.meta.url).pathname;

/** Seconds of unmeasured load before each measured run (JIT warm-up). */
const WARMUP_SECONDS = 1;

/** Starts the hello-world server; resolves with its URL and a function that stops it. */
async function startHello(): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", HELLO, String(port)],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stop = track(async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // It has exited already.
    }
    await child.status;
  });
  const url = `http://127.0.0.1:${port}/`;
  const deadline = performance.now() + 60_000;
  while (true) {
    const ok = await fetch(url).then(async (response) => {
      await response.body?.cancel();
      return response.ok;
    }, () => false);
    if (ok) return { url, stop };
    if (performance.now() > deadline) {
      await stop();
      throw new Error(`the hello-world server did not answer on ${url}`);
    }
    await sleep(10);
  }
}

/**
 * Loads `url` with wrk for `seconds` over `connections` connections (2 threads).
 *
 * @throws {Error} when wrk fails or saw non-2xx answers or socket errors.
 */
async function wrk(url: string, token: string, connections: number, seconds: number) {
  const { success, stdout, stderr } = await new Deno.Command("wrk", {
    args: [
      "-t2",
      `-c${connections}`,
      `-d${seconds}s`,
      "-H",
      `Authorization: Bearer ${token}`,
      url,
    ],
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(stdout);
  if (!success) throw new Error(`wrk failed: ${new TextDecoder().decode(stderr)}${text}`);
  const requests = text.match(/(\d+) requests in ([\d.]+)(m?s)/);
  if (!requests) throw new Error(`cannot read wrk's output:\n${text}`);
  const errors = text.match(/Non-2xx or 3xx responses: \d+|Socket errors: .*/g);
  if (errors) throw new Error(`wrk saw errors on ${url}: ${errors.join("; ")}`);
  const elapsed = Number(requests[2]) / (requests[3] === "ms" ? 1000 : 1);
  return { requests: Number(requests[1]), seconds: elapsed };
}

/**
 * Loads `url` with `connections` concurrent fetch loops until `maxRequests` requests are done
 * or `seconds` have passed.
 *
 * @throws {Error} on a non-2xx answer.
 */
async function fetchLoad(
  url: string,
  token: string,
  connections: number,
  seconds: number,
  maxRequests: number,
) {
  let requests = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const headers = { authorization: `Bearer ${token}` };
  await Promise.all(Array.from({ length: connections }, async () => {
    while (requests < maxRequests && performance.now() < deadline) {
      requests++;
      const response = await fetch(url, { headers });
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
    }
  }));
  return { requests, seconds: (performance.now() - started) / 1000 };
}

/** The load of `loads` together: all their requests over all their seconds. */
function combined(loads: Load[]): Load {
  const requests = loads.reduce((sum, load) => sum + load.requests, 0);
  const seconds = loads.reduce((sum, load) => sum + load.seconds, 0);
  return { requests, seconds, perSecond: requests / seconds };
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}

/**
 * Runs case 7: both servers are started, each warmed up for a second, then loaded in turns
 * (never both at once). A round is `apiPairs` pairs of `apiSeconds` loads, one of each server
 * back to back (which one goes first alternates), and its ratio is the median of its pairs'
 * ratios: on the machine this was built on, prunner's rate alone switched between two levels
 * (~20k and ~37k req/s) for seconds at a time, with the same CPU time and no collection,
 * compilation or log write to go with it, so loads run several seconds apart compared
 * different phases. The result is the median round. The load comes from `preferred`, or from
 * wrk when it is installed.
 *
 * @throws {Error} when a server does not start or a request fails.
 */
export async function apiThroughput(
  implementation: Implementation,
  sizes: Sizes,
  preferred: LoadTool | null = null,
): Promise<ApiThroughput> {
  const tool = preferred ?? (await hasCommand("wrk") ? "wrk" : "fetch");
  const load = async (url: string, token: string, seconds: number): Promise<Load> => {
    const { requests, seconds: elapsed } = tool === "wrk"
      ? await wrk(url, token, sizes.apiConnections, seconds)
      : await fetchLoad(url, token, sizes.apiConnections, seconds, sizes.apiRequests);
    return { requests, seconds: elapsed, perSecond: requests / elapsed };
  };

  const token = await signToken({ sub: "bench" }, SECRET);
  const hello = await startHello();
  try {
    await using server = await startServer(implementation, { pipelines: pipelinesYaml(sizes) });
    const prunnerUrl = `${server.url}/pipelines/`;
    await load(hello.url, token, WARMUP_SECONDS);
    await load(prunnerUrl, server.token, WARMUP_SECONDS);
    const rounds: { hello: Load; prunner: Load }[] = [];
    const ratios: number[] = [];
    for (let round = 0; round < sizes.repeats; round++) {
      const pairs: { hello: Load; prunner: Load }[] = [];
      for (let pair = 0; pair < sizes.apiPairs; pair++) {
        const helloFirst = pair % 2 === 0;
        const first = await load(
          helloFirst ? hello.url : prunnerUrl,
          helloFirst ? token : server.token,
          sizes.apiSeconds,
        );
        const second = await load(
          helloFirst ? prunnerUrl : hello.url,
          helloFirst ? server.token : token,
          sizes.apiSeconds,
        );
        pairs.push(
          helloFirst ? { hello: first, prunner: second } : { hello: second, prunner: first },
        );
      }
      rounds.push({
        hello: combined(pairs.map((pair) => pair.hello)),
        prunner: combined(pairs.map((pair) => pair.prunner)),
      });
      ratios.push(median(pairs.map((pair) => pair.prunner.perSecond / pair.hello.perSecond)));
    }
    const middle = ratios.indexOf(median(ratios));
    return {
      tool,
      hello: rounds[middle].hello,
      prunner: rounds[middle].prunner,
      ratios,
      rounds,
      ratio: ratios[middle],
    };
  } finally {
    await hello.stop();
  }
}
