/**
 * Running tasks in prunner's own process, with a guard process that ends them should prunner
 * die. Where the session spawner exists (`posix_spawn.ts`: Linux, glibc, FFI), starting a
 * process does not copy the caller and runs off the event loop, so the task executor process
 * and its hop in each direction leave the start path: a line starts the moment its start is
 * stored. What that process also did, ending the tasks when prunner is SIGKILLed, is left to
 * the guard (`guard_process.ts`), which prunner tells about every line's process before and
 * after starting it.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { errorMessage } from "../errors.ts";
import { GUARD_ARG } from "./guard_process.ts";
import { loadSessionSpawner, type SessionProcess, type SessionSpawner } from "./posix_spawn.ts";
import { runTask } from "./run_task.ts";
import { describeStatus } from "./signals.ts";
import { type LineSettings, startLine } from "./start_line.ts";
import { type ExecutorCommand, helperCommand, type TaskExecutor } from "./task_executor.ts";

const log = getLogger(["prunner", "executor"]);

/**
 * The command line of the guard process. It signals process groups and looks for a process
 * still being started in `/proc/PID/fd`, which Deno opens only to `--allow-all`.
 */
export function guardCommand(killTimeoutMs: number): ExecutorCommand {
  const module = new URL("./guard_process.ts", import.meta.url);
  return helperCommand(module, GUARD_ARG, ["--allow-all"], [String(killTimeoutMs)]);
}

/** Settings of {@linkcode startGuardedExecutor}. */
export interface GuardedExecutorOptions {
  /** How long the guard waits between SIGINT and SIGKILL to a task's group. */
  readonly killTimeoutMs: number;
  /** The guard's command line (default {@linkcode guardCommand}). */
  readonly command?: ExecutorCommand;
  /** The session spawner (default this process's); without one there is no guarded executor. */
  readonly spawner?: SessionSpawner | null;
  /** Called when the guard ended unexpectedly (a new one is started), with why. */
  readonly onUnexpectedExit?: (reason: string) => void;
  /**
   * A guard that ran this long is replaced at once when it ends; one that ended sooner, at the
   * next line or health check (default {@linkcode RESTART_AT_ONCE_AFTER_MS}).
   */
  readonly restartAtOnceAfterMs?: number;
}

interface Guard {
  readonly process: SessionProcess;
  readonly pings: Map<number, () => void>;
}

const encoder = new TextEncoder();

/** A guard that ran at least this long is replaced at once when it ends. */
export const RESTART_AT_ONCE_AFTER_MS = 1000;

/**
 * Starts the guard and returns an executor that runs tasks in this process, or `null` where
 * there is no session spawner or the guard cannot start (prunner then uses task executor
 * processes). Should the guard end (killed, say), a new one starts and is told about every
 * running process, and the tasks carry on.
 *
 * @example
 * ```ts
 * const executor = await startGuardedExecutor({ killTimeoutMs: 2000 }) ?? startTaskExecutor();
 * const outcome = await executor.run(spec).done;
 * await executor.close();
 * ```
 */
export async function startGuardedExecutor(
  options: GuardedExecutorOptions,
): Promise<TaskExecutor | null> {
  const spawner = options.spawner === undefined ? await loadSessionSpawner() : options.spawner;
  if (spawner === null) return null;
  const command = options.command ?? guardCommand(options.killTimeoutMs);
  /** What the guard knows, to tell a new guard: messages by process id. */
  const watched = new Map<number, string>();
  let guard: Guard | null = null;
  let closed = false;
  let nextId = 1;

  const start = async (): Promise<Guard | null> => {
    let process: SessionProcess | null = null;
    try {
      process = await spawner({
        path: command.program,
        argv: [command.program, ...command.args],
        env: Deno.env.toObject(),
        cwd: Deno.cwd(),
        stdinPipe: true,
        nonBlockingStdin: true,
      });
    } catch (error) {
      log.warn("Cannot start the task guard process: {error}", { error: errorMessage(error) });
    }
    if (process === null) {
      log.warn("Cannot start the task guard process {program}", { program: command.program });
      return null;
    }
    const started: Guard = { process, pings: new Map() };
    const startedAt = Date.now();
    readAnswers(started);
    logLines(process.stderr, process.pid);
    process.status.then((status) => {
      if (guard === started) guard = null;
      for (const answer of started.pings.values()) answer();
      if (closed) return;
      const reason = `the task guard process (pid ${process.pid}) ended unexpectedly: ` +
        describeStatus(status);
      options.onUnexpectedExit?.(reason);
      // One that ends at once (it cannot run, say) is not restarted in a loop: the next line or
      // health check tries again.
      if (Date.now() - startedAt < (options.restartAtOnceAfterMs ?? RESTART_AT_ONCE_AFTER_MS)) {
        log.error("{reason}; a new one starts with the next task or health check", { reason });
        return;
      }
      log.error("{reason}; starting a new one", { reason });
      restart();
    });
    guard = started;
    const state = [...watched.values()].join("");
    if (state !== "") send(state);
    return started;
  };

  let restarting: Promise<unknown> | null = null;
  const restart = () => {
    restarting ??= start().finally(() => restarting = null);
  };

  /** Messages not sent yet: they go with the next one that must be in the pipe at once. */
  let queued = "";
  let flushTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Sends `text` to the guard, with what is queued; with `later`, it is queued and sent at the
   * latest once the event loop has turned (a pid or an end: should prunner die before, the guard
   * finds the process by its pipe, or signals a group that has ended). A guard that cannot take
   * them (a full pipe: it hangs) is replaced.
   */
  const send = (text: string, later = false) => {
    queued += text;
    if (later) {
      flushTimer ??= setTimeout(() => send(""), 0);
      return;
    }
    clearTimeout(flushTimer);
    flushTimer = undefined;
    const current = guard;
    const batch = queued;
    queued = "";
    if (current === null || batch === "" || current.process.write(encoder.encode(batch))) return;
    guard = null;
    log.error("The task guard process (pid {pid}) does not read its input; replacing it", {
      pid: current.process.pid,
    });
    try {
      Deno.kill(current.process.pid, "SIGKILL");
    } catch {
      // It has ended: its status starts the next one.
    }
  };

  const watch = (id: number, message: string, later = false) => {
    watched.set(id, message);
    send(message, later);
  };
  const unwatch = (id: number) => {
    if (watched.delete(id)) send(`e ${id}\n`, true);
  };

  /** Starts a line's process with the guard told about it before and after. */
  const guardedStart = async (id: number, line: string, settings: LineSettings) => {
    // A guard that could not be started after the last one ended is tried again.
    if (guard === null && !closed) restart();
    const announcing: SessionSpawner = (spawn) =>
      spawner({ ...spawn, beforeSpawn: (pipe) => watch(id, `s ${id} ${pipe}\n`) });
    try {
      const child = await startLine(line, settings, announcing);
      watch(id, `p ${id} ${child.pid}\n`, true);
      return child;
    } catch (error) {
      unwatch(id);
      throw error;
    }
  };

  const readAnswers = async (of: Guard) => {
    const decoder = new TextDecoder();
    let rest = "";
    try {
      for await (const chunk of of.process.stdout) {
        const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
        rest = lines.pop()!;
        for (const line of lines) {
          const [word, id] = line.split(" ");
          if (word === "pong") of.pings.get(Number(id))?.();
        }
      }
    } catch {
      // Its end is learned from its status.
    }
  };

  if (await start() === null) return null;
  return {
    run(spec, ready) {
      /** The guarded id of the task's current line: the one whose group it ends. */
      let current: number | null = null;
      const run = runTask(spec, {
        ready,
        startLine: (line, settings) => {
          if (current !== null) unwatch(current);
          current = nextId++;
          return guardedStart(current, line, settings);
        },
      });
      run.done.then(() => current !== null && unwatch(current));
      return run;
    },

    async check(timeoutMs) {
      if (closed) return "the task executor is stopped";
      if (guard === null) restart();
      if (restarting) await restarting;
      const current = guard;
      if (current === null) return "no task guard process is running";
      const id = nextId++;
      const { promise, resolve } = Promise.withResolvers<boolean>();
      current.pings.set(id, () => resolve(true));
      send(`ping ${id}\n`);
      const timer = setTimeout(() => resolve(false), timeoutMs);
      const answered = await promise;
      clearTimeout(timer);
      current.pings.delete(id);
      if (!answered) {
        return `the task guard process (pid ${current.process.pid}) did not answer within ${timeoutMs} ms`;
      }
      return guard === current ? null : `the task guard process (pid ${current.process.pid}) ended`;
    },

    async close() {
      closed = true;
      if (restarting) await restarting;
      const current = guard;
      if (current === null) return;
      send("");
      guard = null;
      current.process.closeStdin();
      await current.process.status;
    },
  };
}

/** Logs what the guard writes to stderr (Deno's messages, should it fail), to the stream's end. */
async function logLines(output: AsyncIterable<Uint8Array>, pid: number): Promise<void> {
  const decoder = new TextDecoder();
  try {
    for await (const chunk of output) {
      for (const line of decoder.decode(chunk, { stream: true }).split("\n")) {
        if (line.trim() !== "") log.warn("The task guard process ({pid}): {line}", { pid, line });
      }
    }
  } catch {
    // Its end is learned from its status.
  }
}
