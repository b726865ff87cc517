/**
 * Where tasks run: in a separate task executor process (see `executor_process.ts`), or in
 * prunner's own process when that process cannot be started.
 *
 * @module
 */
import { errorMessage } from "../errors.ts";
import { getLogger } from "@logtape/logtape";
import type { TaskOutcome } from "../engine/task_graph.ts";
import {
  decodeResult,
  EXECUTOR_ARG,
  type ExecutorRequest,
  type LineWriter,
  lineWriter,
  ProtocolError,
  readMessages,
  type TaskSpec,
} from "./protocol.ts";
import { runTask, type TaskRun } from "./run_task.ts";
import { stopGroup } from "./process_group.ts";
import { describeStatus } from "./signals.ts";

/** Runs tasks. */
export interface TaskExecutor {
  /**
   * Starts a task. With `ready`, its first line runs only once `ready` settles; the process is
   * started before and waits, so that wait overlaps the start (see `TaskHooks.ready`).
   */
  run(spec: TaskSpec, ready?: Promise<unknown>): TaskRun;
  /**
   * Whether tasks can run: resolves `null` when they can, else what is wrong (e.g. an executor
   * process that does not answer within `timeoutMs`).
   */
  check(timeoutMs: number): Promise<string | null>;
  /**
   * Stops the executor once its tasks have finished; tasks still running are killed. Call it
   * after the runner is idle.
   */
  close(): Promise<void>;
}

/** Runs tasks in the calling process. */
export const inProcessExecutor: TaskExecutor = {
  run: (spec, ready) => runTask(spec, { ready }),
  check: () => Promise.resolve(null),
  close: () => Promise.resolve(),
};

const log = getLogger(["prunner", "executor"]);

/**
 * The permissions of the task executor process when prunner runs as `deno run`: it reads and
 * writes log files, runs task lines and signals their process groups, passes the environment
 * on, and calls `malloc_trim` when idle (`src/memory/release.ts`). A compiled binary runs itself
 * with its own permissions.
 */
const EXECUTOR_PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-run",
  "--allow-env",
  "--allow-ffi",
];

/** A command line that starts one of prunner's helper processes (executor or guard). */
export interface ExecutorCommand {
  readonly program: string;
  readonly args: readonly string[];
}

/**
 * V8 flags of prunner's helper processes. V8 lets its young generation grow with the rate of
 * allocation, up to 3 × 16 MiB, and keeps it: a busy executor grew from 35 to ~140 MiB of RSS.
 * Their live data is small, so a 1 MiB semi-space costs only more frequent, tiny collections
 * (measured over 3,000 tasks: heap 19 → 8 MiB, anonymous memory 30 → 20 MiB).
 */
const HELPER_V8_FLAGS = "--v8-flags=--max-semi-space-size=1";

/**
 * The command line of one of prunner's helper processes: a compiled binary runs itself with
 * `role` and `args`; under `deno run`, `module` runs with `permissions` and `args`.
 *
 * @example
 * ```ts
 * const command = helperCommand(new URL("./guard_process.ts", import.meta.url), "__task-guard",
 *   ["--allow-all"], ["2000"]);
 * ```
 */
export function helperCommand(
  module: URL,
  role: string,
  permissions: readonly string[],
  args: readonly string[] = [],
): ExecutorCommand {
  if (Deno.build.standalone) return { program: Deno.execPath(), args: [role, ...args] };
  // Served from a remote host (`deno run https://…/main.ts`), its imports are remote too.
  const remote = module.protocol === "file:" ? [] : ["--allow-import"];
  return {
    program: Deno.execPath(),
    args: [
      "run",
      ...permissions,
      ...remote,
      "--no-config",
      "--no-lock",
      "--quiet",
      HELPER_V8_FLAGS,
      module.href,
      ...args,
    ],
  };
}

/** The command line that starts prunner's task executor process. */
export function executorCommand(): ExecutorCommand {
  const module = new URL("./executor_process.ts", import.meta.url);
  return helperCommand(module, EXECUTOR_ARG, EXECUTOR_PERMISSIONS);
}

/**
 * How many task executor processes prunner starts at most. Starting a process blocks the
 * process that starts it until the new one has executed its program; a second executor keeps
 * tasks starting while the first waits (measured: about 15% more jobs per second on 2 cores).
 */
export const EXECUTOR_PROCESSES = 2;

/**
 * How long a task executor process other than the first may stay without tasks before it is
 * stopped, so that the memory of a burst's extra process is given back.
 */
export const IDLE_STOP_MS = 10_000;

/** Settings of {@linkcode startTaskExecutor}. */
export interface TaskExecutorOptions {
  /** How many executor processes share the tasks at most (default {@linkcode EXECUTOR_PROCESSES}). */
  readonly processes?: number;
  /** The command line of an executor process (default {@linkcode executorCommand}). */
  readonly command?: ExecutorCommand;
  /**
   * Called when an executor process ended unexpectedly (the next task starts a new one), with
   * the reason its tasks fail with; e.g. to count restarts.
   */
  readonly onUnexpectedExit?: (reason: string) => void;
  /** Idle time after which a process other than the first stops (default {@linkcode IDLE_STOP_MS}). */
  readonly idleStopMs?: number;
}

interface Pending {
  resolve(outcome: TaskOutcome): void;
  killed: boolean;
  /** The process group of the task's current line, once the executor has reported it. */
  group: number | null;
  readonly killTimeoutMs: number;
}

interface ExecutorProcess {
  readonly pid: number;
  readonly requests: LineWriter<ExecutorRequest>;
  readonly pending: Map<number, Pending>;
  /** Pings waiting for their answer: `true` when it came, `false` when the process ended. */
  readonly pings: Map<number, (answered: boolean) => void>;
  /** Settles once the process has exited and its output has been read. */
  readonly ended: Promise<void>;
  /** Stops the process once it has been idle for a while (not set on the first process). */
  idleTimer?: ReturnType<typeof setTimeout>;
  /** Whether it was stopped for being idle. */
  retired: boolean;
}

/**
 * Starts the task executor process and returns an executor that sends it tasks. When the
 * process ends unexpectedly (killed, out of memory), the process groups of its tasks are ended
 * (SIGINT, then SIGKILL after the task's kill timeout), the tasks fail with a message saying
 * why, and the next task starts a new process. When it cannot be started at all (e.g. no permission to run Deno), tasks run in
 * prunner's own process and a warning says why.
 *
 * @example
 * ```ts
 * const executor = startTaskExecutor();
 * const run = executor.run(spec);
 * console.log(await run.done); // { exitCode: 0, error: null, killed: false }
 * await executor.close();
 * ```
 */
export function startTaskExecutor(options: TaskExecutorOptions = {}): TaskExecutor {
  const command = options.command ?? executorCommand();
  const count = options.processes ?? EXECUTOR_PROCESSES;
  const idleStopMs = options.idleStopMs ?? IDLE_STOP_MS;
  const slots = new Array<ExecutorProcess | null>(count).fill(null);
  let nextId = 1;
  let fallback = false;
  let closed = false;

  const start = (slot: number): ExecutorProcess | null => {
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(command.program, {
        args: [...command.args],
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
        // Its own session: a Ctrl-C in prunner's terminal must not reach it; prunner decides.
        // (Not through `setsid`: a program that cannot be run must fail here, see below.)
        detached: true,
      }).spawn();
    } catch (error) {
      log.warn(
        "Cannot start the task executor process ({error}); tasks run in prunner's own process",
        { error: errorMessage(error) },
      );
      fallback = true;
      return null;
    }
    const pending = new Map<number, Pending>();
    const pings = new Map<number, (answered: boolean) => void>();
    const requests = lineWriter<ExecutorRequest>(child.stdin);
    const idle = () => {
      if (slot === 0) return;
      process.idleTimer = setTimeout(() => {
        if (slots[slot] !== process || pending.size > 0) return;
        slots[slot] = null;
        process.retired = true;
        requests.close();
      }, idleStopMs);
      Deno.unrefTimer(process.idleTimer);
    };
    const received = receive(child.stdout, pending, pings, idle, requests);
    const process: ExecutorProcess = {
      pid: child.pid,
      pending,
      pings,
      requests,
      retired: false,
      ended: Promise.all([child.status, received]).then(([status]) => {
        clearTimeout(process.idleTimer);
        if (slots[slot] === process) slots[slot] = null;
        for (const answer of pings.values()) answer(false);
        pings.clear();
        if ((closed || process.retired) && pending.size === 0) return;
        const reason = `the task executor process (pid ${child.pid}) ended unexpectedly: ` +
          describeStatus(status);
        log.error("{reason}; {count} running task(s) failed, their processes are stopped", {
          reason,
          count: pending.size,
        });
        options.onUnexpectedExit?.(reason);
        for (const task of pending.values()) {
          if (task.group !== null) stopGroup(task.group, task.killTimeoutMs);
          task.resolve({ exitCode: -1, error: reason, killed: task.killed });
        }
        pending.clear();
      }),
    };
    return process;
  };

  /**
   * The process with the fewest running tasks. A further process starts only when every
   * started one is busy, so a prunner that runs one task at a time has one.
   */
  const pick = (): ExecutorProcess | null => {
    let best: ExecutorProcess | null = null;
    let empty = -1;
    for (let slot = 0; slot < slots.length; slot++) {
      const process = slots[slot];
      if (process === null) empty = empty < 0 ? slot : empty;
      else if (best === null || process.pending.size < best.pending.size) best = process;
    }
    if (fallback || closed || empty < 0 || (best !== null && best.pending.size === 0)) return best;
    return slots[empty] = start(empty);
  };

  const ping = async (process: ExecutorProcess, timeoutMs: number): Promise<string | null> => {
    const id = nextId++;
    const { promise, resolve } = Promise.withResolvers<boolean | null>();
    process.pings.set(id, resolve);
    process.requests.send({ type: "ping", id });
    const timer = setTimeout(() => resolve(null), timeoutMs);
    const answered = await promise;
    clearTimeout(timer);
    process.pings.delete(id);
    if (answered) return null;
    return answered === null
      ? `the task executor process (pid ${process.pid}) did not answer within ${timeoutMs} ms`
      : `the task executor process (pid ${process.pid}) ended`;
  };

  slots[0] = start(0);
  return {
    run(spec: TaskSpec, ready?: Promise<unknown>): TaskRun {
      const process = pick();
      if (process === null) return runTask(spec, { ready });
      const id = nextId++;
      const { promise, resolve } = Promise.withResolvers<TaskOutcome>();
      const task: Pending = {
        resolve,
        killed: false,
        group: null,
        killTimeoutMs: spec.killTimeoutMs,
      };
      clearTimeout(process.idleTimer);
      process.pending.set(id, task);
      if (ready === undefined) {
        process.requests.send({ type: "run", id, spec });
      } else {
        process.requests.send({ type: "run", id, spec, held: true });
        const go = () => {
          if (process.pending.has(id)) process.requests.send({ type: "go", id });
        };
        ready.then(go, go);
      }
      return {
        done: promise,
        kill() {
          if (task.killed || !process.pending.has(id)) return;
          task.killed = true;
          process.requests.send({ type: "kill", id });
        },
      };
    },

    async check(timeoutMs: number): Promise<string | null> {
      if (closed) return "the task executor is stopped";
      if (fallback) return null;
      const running = slots.filter((process) => process !== null);
      if (running.length === 0) {
        const started = pick();
        if (started === null) return fallback ? null : "no task executor process could start";
        running.push(started);
      }
      const answers = await Promise.all(running.map((process) => ping(process, timeoutMs)));
      return answers.find((answer) => answer !== null) ?? null;
    },

    async close(): Promise<void> {
      closed = true;
      const running = slots.filter((process) => process !== null);
      slots.fill(null);
      await Promise.all(running.map(async (process) => {
        await process.requests.close();
        await process.ended;
      }));
    },
  };
}

/**
 * Applies the results that arrive on `stdout` to the pending tasks and pings; calls `idle` when
 * the last pending task has finished.
 *
 * A result that cannot be used but names a pending task fails that task (and asks the process
 * to kill it), since its end may never be learned; the other tasks carry on. One that names no
 * task (a line that is not JSON, say) may have been any task's end: the process is stopped, so
 * its tasks fail as those of a process that ended unexpectedly instead of waiting forever.
 */
async function receive(
  stdout: ReadableStream<Uint8Array>,
  pending: Map<number, Pending>,
  pings: Map<number, (answered: boolean) => void>,
  idle: () => void,
  requests: LineWriter<ExecutorRequest>,
): Promise<void> {
  /** Fails the pending task `id` with `error`; `false` when there is no such task. */
  const fail = (id: number | null, error: string): boolean => {
    const task = id === null ? undefined : pending.get(id);
    if (id === null || task === undefined) return false;
    requests.send({ type: "kill", id });
    task.resolve({ exitCode: -1, error, killed: task.killed });
    pending.delete(id);
    if (pending.size === 0) idle();
    return true;
  };
  try {
    for await (const result of readMessages(stdout, decodeResult)) {
      if (result instanceof ProtocolError) {
        if (result.id === null) throw result;
        log.error("The task executor process sent what prunner cannot use: {error}", {
          error: result.message,
        });
        fail(
          result.id,
          `the task executor process sent what prunner cannot use: ${result.message}`,
        );
      } else if (result.type === "rejected") {
        const error = `the task executor process could not use a request: ${result.error}`;
        if (result.id === null) throw new Error(error);
        log.error("{error}", { error });
        fail(result.id, error);
      } else if (result.type === "started") {
        const task = pending.get(result.id);
        if (task) task.group = result.pid;
      } else if (result.type === "pong") {
        pings.get(result.id)?.(true);
      } else {
        pending.get(result.id)?.resolve(result.outcome);
        if (pending.delete(result.id) && pending.size === 0) idle();
      }
    }
  } catch (error) {
    log.error("Stopping the task executor process, its output cannot be relied on: {error}", {
      error: errorMessage(error),
    });
    // Without its results its tasks would never finish: it stops them and exits, and they
    // fail as tasks of a process that ended unexpectedly.
    await requests.close();
  }
}
