/**
 * Starts the process of one script line as the leader of its own process group (and session):
 * with `posix_spawn` where it can (`posix_spawn.ts`: one program started, no fork of the
 * caller), otherwise through `Deno.Command` as `shell.ts` says (`setsid`, or `detached: true`).
 *
 * @module
 */
import { errorMessage } from "../errors.ts";
import type { ProcessOutput } from "./output_reader.ts";
import { resolveProgram } from "./path_lookup.ts";
import { loadSessionSpawner, type SessionSpawner } from "./posix_spawn.ts";
import { lineCommand, shellCommand } from "./shell.ts";

/** A stream of a line's output: Deno's byte stream, or a session spawner's output. */
export type LineOutput = ReadableStream<Uint8Array> | ProcessOutput;

/** A script line's running process, however it was started. */
export interface LineProcess {
  /** Its pid, also the id of its process group. */
  readonly pid: number;
  readonly stdout: LineOutput;
  readonly stderr: LineOutput;
  /** Settles when the process has ended. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Whether the line waits for `goAhead` before it runs (see `ShellCommand.gated`). */
  readonly gated: boolean;
  /** Lets a gated line run; a line that has ended or is not gated needs none. */
  goAhead(): void;
}

/** Where and with what a line runs. */
export interface LineSettings {
  readonly cwd: string;
  /** Variables set on top of this process's environment. */
  readonly env: Record<string, string>;
}

/** Thrown when a line's process cannot be started at all. */
export class LineStartError extends Error {
  constructor(program: string, cause: unknown) {
    super(`cannot start ${program}: ${errorMessage(cause)}`, {
      cause,
    });
    this.name = "LineStartError";
  }
}

/**
 * Starts `line`. `spawner` is the session spawner to use (by default this process's, where
 * there is one); `null` starts it through `Deno.Command`.
 *
 * @example
 * ```ts
 * const line = await startLine("make test", { cwd: "/app", env: {} });
 * line.goAhead();
 * const status = await line.status;
 * ```
 */
export async function startLine(
  line: string,
  settings: LineSettings,
  spawner?: SessionSpawner | null,
): Promise<LineProcess> {
  spawner = spawner === undefined ? await loadSessionSpawner() : spawner;
  return (spawner && await startInSession(line, settings, spawner)) ??
    startWithDeno(line, settings);
}

/**
 * Starts `line` with `spawner`, or returns `null` to leave it to `Deno.Command`: a program that
 * is not found or cannot be started gets the same message as it would from there.
 */
async function startInSession(
  line: string,
  settings: LineSettings,
  spawner: SessionSpawner,
): Promise<LineProcess | null> {
  const { argv, gated } = lineCommand(line);
  const env = { ...inheritedEnv(), ...settings.env };
  const path = resolveProgram(argv[0], env, settings.cwd);
  if (path === null) return null;
  const process = await spawner({ path, argv, env, cwd: settings.cwd, stdinPipe: gated });
  return process && { ...process, gated };
}

let inherited: Readonly<Record<string, string>> | undefined;

/**
 * This process's environment, read once: prunner settles it before the first task starts (the
 * env files are loaded at startup) and never changes it after that, and reading it for every
 * line cost a spawn about as much as building the rest of its arguments (bench case 2).
 */
function inheritedEnv(): Readonly<Record<string, string>> {
  return inherited ??= Object.freeze(Deno.env.toObject());
}

function startWithDeno(line: string, settings: LineSettings): LineProcess {
  const { program, args, detached, gated } = shellCommand(line);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args,
      cwd: settings.cwd,
      env: settings.env,
      stdin: gated ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      detached,
    }).spawn();
  } catch (error) {
    throw new LineStartError(program, error);
  }
  let waiting = gated;
  return {
    pid: child.pid,
    stdout: child.stdout,
    stderr: child.stderr,
    status: child.status,
    gated,
    goAhead() {
      if (!waiting) return;
      waiting = false;
      const writer = child.stdin.getWriter();
      writer.write(new Uint8Array([10])).then(() => writer.close()).catch(() => {});
    },
  };
}
