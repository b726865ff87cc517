/**
 * Runs one task: its script lines in order, each rendered with the job's variables and run in
 * its own process group, output streamed to log files as it arrives.
 *
 * @module
 */
import { errorMessage } from "../errors.ts";
import type { DroppedOutput, StreamLoss } from "../engine/job.ts";
import type { TaskOutcome } from "../engine/task_graph.ts";
import { renderTemplate } from "../template/mod.ts";
import { stopGroup } from "./process_group.ts";
import type { TaskSpec } from "./protocol.ts";
import { shellCommand } from "./shell.ts";
import { describeStatus } from "./signals.ts";
import { type LineOutput, type LineProcess, type LineSettings, startLine } from "./start_line.ts";
import { COPY_BUFFER_BYTES, giveBackCopyBuffer, takeCopyBuffer } from "./copy_buffers.ts";

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

/** Callbacks of a running task. */
export interface TaskHooks {
  /** A script line's process started; its pid is also the id of its process group. */
  started?(pid: number): void;
  /**
   * The task's first line runs only once this settles (e.g. once the task's start is stored).
   * Its process is started before, waiting for the go-ahead, so the wait overlaps the start.
   */
  ready?: Promise<unknown>;
  /** Starts a line's process (default {@linkcode startLine}), e.g. to guard it. */
  startLine?: (line: string, settings: LineSettings) => Promise<LineProcess>;
}

/**
 * Starts a task. Output is read as it arrives whatever the log files do: when writing a log
 * file fails (no space, I/O error), the rest of that stream is read and dropped, and the
 * outcome's `dropped` says how much and why. A log file operation that has not finished
 * `killTimeoutMs` after the line's process ended is given up the same way, so a hung file
 * system never keeps a task from ending.
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
export function runTask(spec: TaskSpec, hooks: TaskHooks = {}): TaskRun {
  let killed = false;
  let current: LineProcess | null = null;
  /** Settles when the task is killed: a kill does not wait for a go-ahead that may never come. */
  const killSignal = Promise.withResolvers<void>();

  const stop = (pid: number) => stopGroup(pid, spec.killTimeoutMs);
  const kill = () => {
    if (killed) return;
    killed = true;
    killSignal.resolve();
    if (current) stop(current.pid);
  };

  const run = async (): Promise<TaskOutcome> => {
    const stdout = logSink(spec.stdoutPath);
    const stderr = logSink(spec.stderrPath);
    const withLoss = (outcome: TaskOutcome): TaskOutcome => {
      const dropped: DroppedOutput = {};
      if (stdout.loss) dropped.stdout = stdout.loss;
      if (stderr.loss) dropped.stderr = stderr.loss;
      const logged = (["stdout", "stderr"] as const).filter((stream) =>
        (stream === "stdout" ? stdout : stderr).written
      );
      return dropped.stdout || dropped.stderr
        ? { ...outcome, dropped, logged }
        : { ...outcome, logged };
    };
    try {
      let failure: TaskOutcome | null = null;
      let lastCode = 0;
      // Only the first line waits: later ones start after the task has.
      let ready = hooks.ready ?? null;
      for (const line of spec.lines) {
        if (killed) return withLoss({ exitCode: -1, error: null, killed: true });
        let rendered: string;
        try {
          rendered = renderTemplate(line, spec.variables);
        } catch (error) {
          return withLoss({ exitCode: -1, error: errorMessage(error), killed: false });
        }
        if (ready !== null && !shellCommand(rendered).gated) {
          // A line that cannot wait for its go-ahead starts once it may run.
          await Promise.race([ready.catch(() => {}), killSignal.promise]);
          ready = null;
          if (killed) return withLoss({ exitCode: -1, error: null, killed: true });
        }
        const result = await runLine(rendered, spec, hooks, stdout, stderr, ready, (child) => {
          current = child;
          hooks.started?.(child.pid);
          // Killed while the process was being started.
          if (killed) stop(child.pid);
        });
        ready = null;
        current = null;
        if (killed) return withLoss({ exitCode: result.code, error: null, killed: true });
        lastCode = result.code;
        if (result.error !== null) {
          if (!spec.allowFailure) {
            return withLoss({ exitCode: result.code, error: result.error, killed: false });
          }
          failure ??= { exitCode: result.code, error: null, killed: false };
        }
      }
      return withLoss(failure ?? { exitCode: lastCode, error: null, killed: false });
    } catch (error) {
      return withLoss({ exitCode: -1, error: errorMessage(error), killed });
    } finally {
      stdout.close();
      stderr.close();
    }
  };

  return { done: run(), kill };
}

interface LineResult {
  code: number;
  error: string | null;
}

async function runLine(
  line: string,
  spec: TaskSpec,
  hooks: TaskHooks,
  stdout: LogSink,
  stderr: LogSink,
  ready: Promise<unknown> | null,
  started: (child: LineProcess) => void,
): Promise<LineResult> {
  let child: LineProcess;
  try {
    child = await (hooks.startLine ?? startLine)(line, spec);
  } catch (error) {
    return { code: -1, error: errorMessage(error) };
  }
  started(child);
  if (child.gated) {
    if (ready === null) child.goAhead();
    else ready.then(() => child.goAhead(), () => child.goAhead());
  }
  const copies = Promise.all([copyToLog(child.stdout, stdout), copyToLog(child.stderr, stderr)]);
  const status = await child.status;
  // Output still in the pipes (or held open by a background process) is copied on; only a
  // file operation that stalls is given up.
  const watch = setInterval(() => {
    stdout.giveUpIfStalled(spec.killTimeoutMs);
    stderr.giveUpIfStalled(spec.killTimeoutMs);
  }, Math.max(10, spec.killTimeoutMs / 4));
  try {
    await copies;
  } finally {
    clearInterval(watch);
  }
  if (status.success) return { code: 0, error: null };
  return { code: status.signal ? -1 : status.code, error: describeStatus(status) };
}

/**
 * Where a task's stream goes: its log file, created (with its directory) when the first output
 * arrives, so a task that prints nothing costs no file operations. After a file operation
 * failed or was given up, further output is counted and dropped.
 */
interface LogSink {
  /** Writes a chunk (or drops it); settles when written, failed or given up. */
  write(chunk: Uint8Array): Promise<void>;
  /** Gives up the file operation in progress when it started more than `ms` ago. */
  giveUpIfStalled(ms: number): void;
  /** What was dropped, or `null`. */
  readonly loss: StreamLoss | null;
  /** Whether output arrived, so that the log file was (or is being) created. */
  readonly written: boolean;
  /** Closes the file without waiting for anything (a pending open closes it when it ends). */
  close(): void;
}

function logSink(path: string): LogSink {
  let file: Deno.FsFile | null = null;
  let opening: Promise<Deno.FsFile> | null = null;
  let closed = false;
  let loss: StreamLoss | null = null;
  /** The operation in progress: since when, and how to stop waiting for it. */
  let busy: { since: number; giveUp: (reason: string) => void } | null = null;

  const open = (): Promise<Deno.FsFile> =>
    opening ??= Deno.mkdir(parentDir(path), { recursive: true })
      .then(() => Deno.open(path, { write: true, create: true, truncate: true }))
      .then((opened) => {
        if (closed) opened.close();
        else file = opened;
        return opened;
      });

  const drop = (bytes: number, reason: string) => {
    loss = { bytes: (loss?.bytes ?? 0) + bytes, reason: loss?.reason ?? reason };
  };

  return {
    get loss() {
      return loss;
    },
    get written() {
      return opening !== null;
    },
    async write(chunk) {
      if (loss !== null) return drop(chunk.length, loss.reason);
      let written = 0;
      const writing = (async () => {
        const target = file ?? await open();
        while (written < chunk.length) written += await target.write(chunk.subarray(written));
      })();
      const { promise: givenUp, resolve } = Promise.withResolvers<string>();
      busy = { since: Date.now(), giveUp: resolve };
      try {
        const reason = await Promise.race([
          writing.then(() => null, (error) => errorMessage(error)),
          givenUp,
        ]);
        if (reason !== null) drop(chunk.length - written, reason);
      } finally {
        busy = null;
      }
    },
    giveUpIfStalled(ms) {
      if (busy && Date.now() - busy.since >= ms) {
        busy.giveUp(`writing the log file ${path} did not finish within ${ms} ms`);
      }
    },
    close() {
      closed = true;
      try {
        file?.close();
      } catch {
        // Already closed.
      }
      file = null;
    },
  };
}

function parentDir(path: string): string {
  return path.slice(0, Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")));
}

/**
 * Reads output as it arrives and hands it to the log sink, so logs can be read while the task
 * runs; the reading never stops before the stream ends, whatever the sink does. Output is read
 * into one reused buffer, so output of any size costs the same memory; a write given up may
 * still use the buffer, so the reads after it go to a new one.
 */
async function copyToLog(source: LineOutput, sink: LogSink): Promise<void> {
  if (!(source instanceof ReadableStream)) {
    for await (const chunk of source) {
      const writing = sink.loss === null;
      await sink.write(chunk);
      if (writing && sink.loss !== null) source.keepLastChunk();
    }
    return;
  }
  const reader = source.getReader({ mode: "byob" });
  let buffer = takeCopyBuffer();
  while (true) {
    const { done, value } = await reader.read(buffer);
    // A read takes the buffer over; `value` views it (empty at the end of the stream).
    if (value) buffer = new Uint8Array(value.buffer);
    if (done || !value) break;
    const writing = sink.loss === null;
    await sink.write(value);
    if (writing && sink.loss !== null) buffer = new Uint8Array(COPY_BUFFER_BYTES);
  }
  giveBackCopyBuffer(buffer);
}
