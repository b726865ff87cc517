/**
 * The task guard process: where prunner starts tasks itself (see `guarded_executor.ts`), this
 * small process ends their process groups when prunner ends without having stopped them (a
 * SIGKILL, a crash, the OOM killer). prunner tells it about every line's process on its stdin;
 * when its stdin ends, it sends each group still running SIGINT, SIGKILL after the kill timeout,
 * and exits.
 *
 * The messages are lines of words:
 *
 * - `s ID PIPE`: the process `ID` is about to be started; `PIPE` is the inode of its stdout pipe.
 * - `p ID PID`: it has started as `PID` (also its process group).
 * - `e ID`: it has ended.
 * - `ping N`: answered with `pong N` on stdout.
 *
 * A process announced but never confirmed (prunner died while starting it) is found in `/proc`
 * by the pipe it writes to.
 *
 * It reads its input every `INPUT_POLL_MS` rather than waiting on it: a process waiting on a
 * pipe is woken by every write, and on a busy machine each wake-up took the CPU from prunner
 * (three messages per line). Read in batches, the messages cost prunner a plain pipe write, and
 * the guard learns of prunner's end at most that long after it.
 *
 * SIGINT and SIGTERM do not stop it: a service manager that signals every process of the service
 * reaches prunner too, and prunner decides what happens to the tasks.
 *
 * @module
 */
import { EAGAIN, EINTR, errno, setNonBlocking } from "./fd_poller.ts";
import { type Libc, openLibc } from "./libc.ts";

/** The argument that makes a compiled prunner binary run as the task guard process. */
export const GUARD_ARG = "__task-guard";

/** A process the guard watches. */
export interface GuardedProcess {
  /** The inode of its stdout pipe. */
  readonly pipe: number;
  /** Its pid and process group, once known. */
  pid: number | null;
}

/** The processes a guard watches, by prunner's id for them. */
export type GuardState = Map<string, GuardedProcess>;

/**
 * Applies one message to `state`; returns the answer to send back, if any. A line it cannot use
 * is ignored: the guard cannot ask back, and a watched process is never dropped by one.
 *
 * @example
 * ```ts
 * const state: GuardState = new Map();
 * applyGuardMessage(state, "s 7 4711");
 * applyGuardMessage(state, "p 7 1234"); // state.get("7") is { pipe: 4711, pid: 1234 }
 * applyGuardMessage(state, "ping 1"); // "pong 1"
 * ```
 */
export function applyGuardMessage(state: GuardState, line: string): string | null {
  const [kind, id, value] = line.trim().split(" ");
  const number = Number(value);
  if (kind === "s" && id && Number.isSafeInteger(number)) {
    state.set(id, { pipe: number, pid: null });
  } else if (kind === "p" && id && Number.isSafeInteger(number) && number > 0) {
    const known = state.get(id);
    if (known) known.pid = number;
    else state.set(id, { pipe: 0, pid: number });
  } else if (kind === "e" && id) state.delete(id);
  else if (kind === "ping" && id) return `pong ${id}`;
  return null;
}

/** What to signal: process groups, and single processes that lead no group of their own. */
export interface GuardTargets {
  readonly groups: number[];
  readonly processes: number[];
}

/**
 * The groups to end: those of started processes, and for each announced process whose pid is
 * not known, every process in `proc` that holds the write end of its stdout pipe (its group
 * when it leads one, else the process alone: it has not made its own session yet).
 */
export function guardTargets(state: GuardState, proc = "/proc"): GuardTargets {
  const groups = new Set<number>();
  const processes = new Set<number>();
  const pipes = new Set<string>();
  for (const { pid, pipe } of state.values()) {
    if (pid !== null) groups.add(pid);
    else pipes.add(`pipe:[${pipe}]`);
  }
  if (pipes.size > 0) {
    for (const pid of holders(pipes, proc)) {
      if (processGroup(pid, proc) === pid) groups.add(pid);
      else processes.add(pid);
    }
  }
  return { groups: [...groups], processes: [...processes] };
}

function holders(pipes: Set<string>, proc: string): number[] {
  const found: number[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(proc)];
  } catch {
    return found;
  }
  for (const entry of entries) {
    const pid = Number(entry.name);
    // Not this process, nor prunner should it still be there (it reads the pipes).
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === Deno.pid || pid === Deno.ppid) continue;
    try {
      for (const fd of Deno.readDirSync(`${proc}/${pid}/fd`)) {
        if (
          pipes.has(Deno.readLinkSync(`${proc}/${pid}/fd/${fd.name}`)) &&
          writesTo(`${proc}/${pid}/fdinfo/${fd.name}`)
        ) {
          found.push(pid);
          break;
        }
      }
    } catch {
      // Gone, or not ours to look at.
    }
  }
  return found;
}

/** Whether the file descriptor that `fdinfo` describes was opened for writing only. */
function writesTo(fdinfo: string): boolean {
  const flags = /^flags:\s*([0-7]+)$/m.exec(Deno.readTextFileSync(fdinfo));
  return flags !== null && (parseInt(flags[1], 8) & 3) === 1;
}

function processGroup(pid: number, proc: string): number | null {
  try {
    const stat = Deno.readTextFileSync(`${proc}/${pid}/stat`);
    // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
  } catch {
    return null;
  }
}

function signal(targets: GuardTargets, name: Deno.Signal): void {
  for (const group of targets.groups) {
    try {
      Deno.kill(-group, name);
    } catch {
      // Gone already.
    }
  }
  for (const pid of targets.processes) {
    try {
      Deno.kill(pid, name);
    } catch {
      // Gone already.
    }
  }
}

/**
 * Ends what `state` holds: SIGINT now, SIGKILL after `killTimeoutMs` (to what is found then,
 * so that a process still being started is reached too).
 */
export async function endGuarded(state: GuardState, killTimeoutMs: number): Promise<void> {
  if (state.size === 0) return;
  signal(guardTargets(state), "SIGINT");
  await new Promise((resolve) => setTimeout(resolve, killTimeoutMs));
  signal(guardTargets(state), "SIGKILL");
}

/**
 * Runs this process as the task guard: reads messages from stdin until it ends, then ends the
 * processes still watched and exits.
 */
export async function runGuardProcess(killTimeoutMs: number): Promise<void> {
  const ignore = () => {};
  for (const name of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(name, ignore);
  const state: GuardState = new Map();
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  let rest = "";
  const libc = openLibc();
  if (libc === null) throw new Error("the task guard needs glibc's functions through FFI");
  for await (const chunk of polledInput(libc)) {
    const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
    rest = lines.pop()!;
    let answers = "";
    for (const line of lines) {
      const answer = applyGuardMessage(state, line);
      if (answer !== null) answers += answer + "\n";
    }
    if (answers !== "") {
      let bytes = encoder.encode(answers);
      while (bytes.length > 0) bytes = bytes.subarray(Deno.stdout.writeSync(bytes));
    }
  }
  await endGuarded(state, killTimeoutMs);
}

/** How often the guard looks for new messages (see the module's documentation). */
export const INPUT_POLL_MS = 50;

/**
 * What arrives on stdin, read without waiting every `INPUT_POLL_MS`; ends with stdin (or a
 * failed read, which the guard takes as prunner's end too).
 */
async function* polledInput(libc: Libc): AsyncGenerator<Uint8Array> {
  setNonBlocking(libc, 0);
  const buffer = new Uint8Array(64 * 1024);
  while (true) {
    const count = Number(libc.read(0, buffer, BigInt(buffer.length)));
    if (count > 0) yield buffer.subarray(0, count);
    else if (count === 0) return;
    else {
      const code = errno(libc);
      if (code !== EAGAIN && code !== EINTR) return;
      await new Promise((resolve) => setTimeout(resolve, INPUT_POLL_MS));
    }
  }
}

if (import.meta.main) {
  await runGuardProcess(Number(Deno.args[0]) || 2000);
  Deno.exit(0);
}
