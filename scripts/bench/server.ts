/**
 * Starts a prunner process for a benchmark case — ours (`deno run main.ts`) or another binary
 * with the same flags (the Go original) — in a temporary workspace, and talks to its HTTP API
 * with a token signed by {@linkcode signToken}.
 *
 * @module
 */
import { signToken } from "./jwt.ts";
import { apiClient } from "./client.ts";
import { freePort, helperChildren, sleep, tempDir, track } from "./system.ts";

/** The JWT secret every benchmarked server gets. */
export const SECRET = "prunner-benchmark-secret-0123456789";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** Which prunner to run. */
export interface Implementation {
  /** Short name for the table: `deno` or `go`. */
  name: string;
  /** The command and its leading arguments; the CLI flags are appended. */
  command: string[];
  /**
   * Whether the server has helper processes that are part of it (prunner's task guard or
   * executor processes, see `helperChildren`).
   */
  helpers: boolean;
}

/**
 * This repository's prunner, run with `deno run -A main.ts`; with `profileDir`, every server
 * writes a V8 CPU profile there when it exits (`--cpu-prof`).
 */
export function ours(profileDir: string | null = null): Implementation {
  const profile = profileDir === null ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`];
  return {
    name: "deno",
    command: [Deno.execPath(), "run", "-A", ...profile, MAIN],
    helpers: true,
  };
}

/** A prunner binary taking the Go prunner's flags. */
export function binary(path: string, name = "go"): Implementation {
  return { name, command: [path], helpers: false };
}

/** A job as the API shows it (the fields the benchmark reads). */
export interface ApiJob {
  id: string;
  completed: boolean;
  errored: boolean;
  canceled: boolean;
  lastError?: string;
  /** In a cluster: the node that ran it. */
  node?: string;
  tasks: { name: string; status: string }[];
}

/** Options of {@linkcode startServer}. */
export interface ServerOptions {
  /** The content of `pipelines.yml`. */
  pipelines: string;
  /** An existing data directory to use instead of a fresh one (it is not removed). */
  data?: string;
  /** How long to wait for the first API answer. */
  readyTimeoutMs?: number;
  /** Flags after the common ones, e.g. `--database-url URL --node-name a` for a cluster node. */
  args?: readonly string[];
}

/** A running prunner. Disposing it stops it and removes its workspace. */
export interface Server extends AsyncDisposable {
  readonly implementation: Implementation;
  readonly url: string;
  readonly pid: number;
  /** The server process and its helper processes (see {@linkcode Implementation.helpers}). */
  pids(): number[];
  /** The workspace: `pipelines/`, `data/`, the config file and `server.log`. */
  readonly root: string;
  readonly data: string;
  /** From spawning the process until the first successful `GET /pipelines/`. */
  readonly startupMs: number;
  readonly token: string;
  request(method: string, path: string, body?: unknown): Promise<Response>;
  /** A request whose 2xx JSON answer is returned; any other status throws. */
  json<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** Schedules a job; resolves with its id. */
  schedule(pipeline: string): Promise<string>;
  job(id: string): Promise<ApiJob>;
  /** Polls the job every `pollMs` until it is completed; throws unless all tasks are `done`. */
  completed(id: string, pollMs?: number, timeoutMs?: number): Promise<ApiJob>;
  /** The last lines the server logged. */
  logTail(lines?: number): Promise<string>;
  /** Stops the server: SIGTERM, then SIGKILL if it does not exit in time. */
  stop(): Promise<void>;
}

/**
 * Starts a prunner on a free loopback port in a new workspace and waits until its API answers.
 * Its output goes to `server.log` in the workspace, not through a pipe the benchmark must read.
 *
 * @example
 * ```ts
 * await using server = await startServer(ours(), { pipelines: "pipelines:\n  a: ..." });
 * const id = await server.schedule("a");
 * await server.completed(id);
 * ```
 */
export async function startServer(
  implementation: Implementation,
  options: ServerOptions,
): Promise<Server> {
  const workspace = await tempDir();
  const root = workspace.path;
  try {
    await Deno.mkdir(`${root}/pipelines`);
    await Deno.writeTextFile(`${root}/pipelines/pipelines.yml`, options.pipelines);
    // The Go prunner reads the secret from the config file (older versions only from there).
    await Deno.writeTextFile(`${root}/prunner.yml`, `jwt_secret: ${SECRET}\n`);
    const data = options.data ?? `${root}/data`;
    const port = freePort();
    const url = `http://127.0.0.1:${port}`;
    const logPath = `${root}/server.log`;
    const token = await signToken({ sub: "bench" }, SECRET);
    const flags = [
      "--path",
      `${root}/pipelines`,
      "--data",
      data,
      "--address",
      `127.0.0.1:${port}`,
      "--config",
      `${root}/prunner.yml`,
      "--env-files",
      "",
      ...(options.args ?? []),
    ];
    const started = performance.now();
    const child = new Deno.Command("sh", {
      args: [
        "-c",
        'log=$1; shift; exec "$@" >>"$log" 2>&1',
        "sh",
        logPath,
        ...implementation.command,
        ...flags,
      ],
      cwd: root,
      env: { PRUNNER_JWT_SECRET: SECRET },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let exitCode: number | null = null;
    const status = child.status.then((s) => {
      exitCode = s.code;
    });

    const stopProcess = track(async () => {
      // SIGTERM cancels whatever still runs (and kills its process groups); the benchmark has
      // waited for its jobs already, or is being interrupted.
      const signals: [Deno.Signal, number][] = [["SIGTERM", 10_000], ["SIGKILL", 60_000]];
      for (const [signal, waitMs] of signals) {
        if (exitCode !== null) break;
        try {
          child.kill(signal);
        } catch {
          break;
        }
        await Promise.race([status, sleep(waitMs)]);
      }
      await status;
    });

    const { request, json } = apiClient(url, token);
    const logTail = async (lines = 20) => {
      const text = await Deno.readTextFile(logPath).catch(() => "");
      return text.trimEnd().split("\n").slice(-lines).join("\n");
    };
    const job = (id: string) => json<ApiJob>("GET", `/job/detail?id=${encodeURIComponent(id)}`);

    const readyBy = started + (options.readyTimeoutMs ?? 120_000);
    while (true) {
      if (exitCode !== null) {
        throw new Error(
          `${implementation.name} prunner exited with ${exitCode}:\n${await logTail()}`,
        );
      }
      if (performance.now() > readyBy) {
        await stopProcess();
        throw new Error(
          `${implementation.name} prunner did not answer on ${url}:\n${await logTail()}`,
        );
      }
      const ok = await request("GET", "/pipelines/").then(
        async (response) => {
          await response.body?.cancel();
          return response.ok;
        },
        () => false,
      );
      if (ok) break;
      await sleep(10);
    }
    const startupMs = performance.now() - started;

    const server: Server = {
      implementation,
      url,
      pid: child.pid,
      pids: () => [child.pid, ...(implementation.helpers ? helperChildren(child.pid) : [])],
      root,
      data,
      startupMs,
      token,
      request,
      json,
      async schedule(pipeline) {
        const body = await json<{ jobId: string }>("POST", "/pipelines/schedule", {
          pipeline,
          variables: {},
        });
        return body.jobId;
      },
      job,
      async completed(id, pollMs = 10, timeoutMs = 600_000) {
        const deadline = performance.now() + timeoutMs;
        while (true) {
          const detail = await job(id);
          if (detail.completed) {
            const failed = detail.tasks.filter((task) => task.status !== "done");
            if (failed.length > 0 || detail.errored || detail.canceled) {
              throw new Error(
                `job ${id} did not succeed: ${detail.lastError ?? ""} ${
                  failed.map((task) => `${task.name}=${task.status}`).join(", ")
                }`,
              );
            }
            return detail;
          }
          if (performance.now() > deadline) throw new Error(`job ${id} did not complete in time`);
          await sleep(pollMs);
        }
      },
      logTail,
      async stop() {
        await stopProcess();
      },
      async [Symbol.asyncDispose]() {
        await stopProcess();
        await workspace[Symbol.asyncDispose]();
      },
    };
    return server;
  } catch (error) {
    await workspace[Symbol.asyncDispose]();
    throw error;
  }
}
