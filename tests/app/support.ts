/**
 * Starts real prunner processes (`deno run main.ts`) for end-to-end tests, and talks to them
 * over HTTP with tokens signed independently of the server's code.
 */
import { signToken } from "../../scripts/bench/jwt.ts";
import { apiClient } from "../../scripts/bench/client.ts";
import { waitFor } from "../runner/support.ts";
import { childEnv } from "../child_env.ts";

export { waitFor };

export const SECRET = "end-to-end-test-secret-0123456789";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** A temp directory with a pipelines dir, a data dir and a config path. */
export interface Workspace extends AsyncDisposable {
  root: string;
  pipelines: string;
  data: string;
  /** Writes `pipelines/pipelines.yml`. */
  writePipelines(yaml: string): Promise<void>;
}

/** Creates a workspace with the given pipelines. */
export async function workspace(yaml: string): Promise<Workspace> {
  const root = await Deno.makeTempDir({ prefix: "prunner-e2e-" });
  const pipelines = `${root}/pipelines`;
  await Deno.mkdir(pipelines);
  const ws: Workspace = {
    root,
    pipelines,
    data: `${root}/data`,
    writePipelines: (text) => Deno.writeTextFile(`${pipelines}/pipelines.yml`, text),
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
  await ws.writePipelines(yaml);
  return ws;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A running prunner process. */
export interface PrunnerProcess extends AsyncDisposable {
  readonly url: string;
  readonly pid: number;
  readonly child: Deno.ChildProcess;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Sends a signal and waits for the exit code. */
  stop(signal: Deno.Signal): Promise<number>;
  request(method: string, path: string, body?: unknown): Promise<Response>;
  json<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  schedule(pipeline: string, variables?: Record<string, unknown>): Promise<string>;
  job(id: string): Promise<ApiJob>;
  completed(id: string, timeoutMs?: number): Promise<ApiJob>;
}

/** A job as the API shows it. */
export interface ApiJob {
  id: string;
  pipeline: string;
  completed: boolean;
  canceled: boolean;
  errored: boolean;
  start?: string;
  end?: string;
  lastError?: string;
  tasks: { name: string; status: string; exitCode: number; error?: string }[];
}

/** How prunner is run from source. */
export const DENO_RUN_MAIN = [Deno.execPath(), "run", "-A", MAIN];

/**
 * Starts prunner on a free port in the workspace and waits until its API answers. `command` is
 * the program and its leading arguments (a compiled binary, or `deno run` of main.ts). `env`
 * holds all the prunner settings of its environment (by default only the shared secret): none
 * is inherited (see {@linkcode childEnv}). The tokens of `request` and `json` are signed with
 * `env`'s `PRUNNER_JWT_SECRET`, or with {@linkcode SECRET} when it has none.
 *
 * @example
 * ```ts
 * await using node = await startPrunner(ws, [], DENO_RUN_MAIN, {
 *   PRUNNER_JWT_SECRET: "another-secret-0123456789",
 *   PRUNNER_DATABASE_URL: url,
 * });
 * ```
 */
export async function startPrunner(
  ws: Workspace,
  extraArgs: string[] = [],
  command: string[] = DENO_RUN_MAIN,
  env: Record<string, string> = { PRUNNER_JWT_SECRET: SECRET },
): Promise<PrunnerProcess> {
  const port = freePort();
  const child = new Deno.Command(command[0], {
    args: [
      ...command.slice(1),
      "--path",
      ws.pipelines,
      "--data",
      ws.data,
      "--config",
      `${ws.root}/.prunner.yml`,
      "--env-files",
      "",
      "--address",
      `127.0.0.1:${port}`,
      "--disable-ansi",
      ...extraArgs,
    ],
    cwd: ws.root,
    env: childEnv(env),
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let errText = "";
  const decoder = new TextDecoder();
  const reading = (async () => {
    for await (const chunk of child.stderr) errText += decoder.decode(chunk, { stream: true });
  })();
  const url = `http://127.0.0.1:${port}`;
  const token = await signToken({ sub: "e2e" }, env.PRUNNER_JWT_SECRET ?? SECRET);
  let exited: number | null = null;
  const status = child.status.then((s) => exited = s.code);

  const { request, json } = apiClient(url, token);
  const job = (id: string) => json<ApiJob>("GET", `/job/detail?id=${id}`);

  const process: PrunnerProcess = {
    url,
    pid: child.pid,
    child,
    stderr: () => errText,
    async stop(signal) {
      if (exited === null) child.kill(signal);
      const code = await status;
      await reading;
      return code;
    },
    request,
    json,
    async schedule(pipeline, variables) {
      const { jobId } = await json<{ jobId: string }>("POST", "/pipelines/schedule", {
        pipeline,
        variables,
      });
      return jobId;
    },
    job,
    completed: (id, timeoutMs) =>
      waitFor(`job ${id} to complete`, async () => {
        const j = await job(id);
        return j.completed ? j : null;
      }, timeoutMs),
    async [Symbol.asyncDispose]() {
      if (exited === null) {
        child.kill("SIGKILL");
      }
      await status;
      await reading;
    },
  };

  await waitFor(`prunner to answer on ${url}`, async () => {
    if (exited !== null) throw new Error(`prunner exited with ${exited}:\n${errText}`);
    try {
      const response = await request("GET", "/pipelines/");
      await response.body?.cancel();
      return response.ok;
    } catch {
      return false;
    }
  }, 60_000);
  return process;
}

/** How a run of the command-line client ended, its output decoded. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** An `authorization` header value for `user`, signed with the shared secret. */
export async function bearer(user = "e2e"): Promise<string> {
  return `Bearer ${await signToken({ sub: user }, SECRET)}`;
}

/** The environment of a client talking to `prunner` with the shared secret, as user alice. */
export function clientEnv(prunner: PrunnerProcess, extra: Record<string, string> = {}) {
  return { PRUNNER_SERVER: prunner.url, PRUNNER_JWT_SECRET: SECRET, USER: "alice", ...extra };
}

/**
 * `deno run main.ts` with `args`, only `env` (and NO_COLOR) in its environment, its output
 * piped; its stdin is piped when `stdin` is true.
 */
export function cliCommand(
  args: string[],
  env: Record<string, string>,
  cwd?: string,
  stdin = false,
): Deno.Command {
  return new Deno.Command(DENO_RUN_MAIN[0], {
    args: [...DENO_RUN_MAIN.slice(1), ...args],
    env: childEnv({ NO_COLOR: "1", ...env }),
    clearEnv: true,
    cwd,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Runs `cliCommand` to its end, writing `options.stdin` to its input when given. */
export async function runCli(
  args: string[],
  env: Record<string, string>,
  options: { cwd?: string; stdin?: string } = {},
): Promise<CliResult> {
  const child = cliCommand(args, env, options.cwd, options.stdin !== undefined).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
