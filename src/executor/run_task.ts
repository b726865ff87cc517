/**
 * Runs one task: its script lines in order, each rendered with the job's variables and run in
 * its own process group, output streamed to log files as it arrives.
 *
 * @module
 */
import type { TaskOutcome } from "../engine/task_graph.ts";
import { renderTemplate } from "../template/mod.ts";
import { describeStatus, shellCommand, signalGroup } from "./shell.ts";

/** Everything needed to run a task. */
export interface TaskSpec {
  /** Script lines (templates), run in order. */
  readonly lines: readonly string[];
  /** Job variables for the templates. */
  readonly variables: Record<string, unknown>;
  /** Variables set for the processes on top of prunner's own environment. */
  readonly env: Record<string, string>;
  /** Working directory of the processes. */
  readonly cwd: string;
  /** Run the remaining lines after a failing one and report success with its exit code. */
  readonly allowFailure: boolean;
  readonly stdoutPath: string;
  readonly stderrPath: string;
  /** Time between SIGINT and SIGKILL when the task is killed. */
  readonly killTimeoutMs: number;
}

/** A running task. */
export interface TaskRun {
  /** Settles when the task has finished; never rejects. */
  readonly done: Promise<TaskOutcome>;
  /**
   * Stops the task: SIGINT to the current line's process group, SIGKILL to the group after
   * the kill timeout (even when the line ended before). No further line starts.
   */
  kill(): void;
}

/**
 * Starts a task.
 *
 * @example
 * ```ts
 * const run = runTask({
 *   lines: ["echo {{ .name }}"], variables: { name: "world" }, env: {}, cwd: Deno.cwd(),
 *   allowFailure: false, stdoutPath: "out.log", stderrPath: "err.log", killTimeoutMs: 2000,
 * });
 * const outcome = await run.done; // { exitCode: 0, error: null, killed: false }
 * ```
 */
export function runTask(spec: TaskSpec): TaskRun {
  let killed = false;
  let current: Deno.ChildProcess | null = null;

  const kill = () => {
    if (killed) return;
    killed = true;
    if (!current) return;
    const pid = current.pid;
    signalGroup(pid, "SIGINT");
    // Also after the line has ended: a process of the group may ignore SIGINT.
    setTimeout(() => signalGroup(pid, "SIGKILL"), spec.killTimeoutMs);
  };

  const run = async (): Promise<TaskOutcome> => {
    const stdout = lazyLogFile(spec.stdoutPath);
    const stderr = lazyLogFile(spec.stderrPath);
    try {
      let failure: TaskOutcome | null = null;
      let lastCode = 0;
      for (const line of spec.lines) {
        if (killed) return { exitCode: -1, error: null, killed: true };
        let rendered: string;
        try {
          rendered = renderTemplate(line, spec.variables);
        } catch (error) {
          return { exitCode: -1, error: messageOf(error), killed: false };
        }
        const result = await runLine(rendered, spec, stdout, stderr, (child) => {
          current = child;
        });
        current = null;
        if (killed) return { exitCode: result.code, error: null, killed: true };
        lastCode = result.code;
        if (result.error !== null) {
          if (!spec.allowFailure) {
            return { exitCode: result.code, error: result.error, killed: false };
          }
          failure ??= { exitCode: result.code, error: null, killed: false };
        }
      }
      return failure ?? { exitCode: lastCode, error: null, killed: false };
    } catch (error) {
      return { exitCode: -1, error: messageOf(error), killed };
    } finally {
      await Promise.all([stdout.close(), stderr.close()]);
    }
  };

  return { done: run(), kill };
}

/** Size of the buffer output is copied through. */
const COPY_BUFFER_BYTES = 64 * 1024;

interface LineResult {
  code: number;
  error: string | null;
}

async function runLine(
  line: string,
  spec: TaskSpec,
  stdout: LazyLogFile,
  stderr: LazyLogFile,
  started: (child: Deno.ChildProcess) => void,
): Promise<LineResult> {
  const { program, args } = shellCommand(line);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args,
      cwd: spec.cwd,
      env: spec.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }).spawn();
  } catch (error) {
    return { code: -1, error: `cannot start ${program}: ${messageOf(error)}` };
  }
  started(child);
  const [status] = await Promise.all([
    child.status,
    copyToFile(child.stdout, stdout),
    copyToFile(child.stderr, stderr),
  ]);
  if (status.success) return { code: 0, error: null };
  return { code: status.signal ? -1 : status.code, error: describeStatus(status) };
}

/**
 * A task's log file, created (with its directory) when the first output arrives: a task that
 * prints nothing costs no file operations, which matters when jobs are many and short.
 */
interface LazyLogFile {
  get(): Promise<Deno.FsFile>;
  close(): Promise<void>;
}

function lazyLogFile(path: string): LazyLogFile {
  let file: Promise<Deno.FsFile> | null = null;
  return {
    get: () =>
      file ??= Deno.mkdir(parentDir(path), { recursive: true }).then(() =>
        Deno.open(path, { write: true, create: true, truncate: true })
      ),
    async close() {
      (await file?.catch(() => null))?.close();
    },
  };
}

function parentDir(path: string): string {
  return path.slice(0, Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")));
}

/**
 * Writes output to the file as it arrives, so logs can be read while the task runs. Reads into
 * one reused buffer, so output of any size costs the same memory.
 */
async function copyToFile(source: ReadableStream<Uint8Array>, log: LazyLogFile): Promise<void> {
  const reader = source.getReader({ mode: "byob" });
  let buffer = new Uint8Array(COPY_BUFFER_BYTES);
  while (true) {
    const { done, value } = await reader.read(buffer);
    if (done || !value) return;
    const file = await log.get();
    let written = 0;
    while (written < value.length) written += await file.write(value.subarray(written));
    buffer = new Uint8Array(value.buffer);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
