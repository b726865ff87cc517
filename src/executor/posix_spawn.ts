/**
 * Starting a program as the leader of a new session in one step, with glibc's `posix_spawn` and
 * its `POSIX_SPAWN_SETSID` flag, called through FFI. Deno's `Deno.Command` offers a new session
 * only with `detached: true`, which forks the calling process (its cost grows with the caller's
 * memory), or through the `setsid` program, which is one more program to start. `posix_spawn`
 * starts the program the way Deno starts one without `detached` (no copy of the caller) and makes
 * the session in the child before it executes the program.
 *
 * The output pipes are read through `node:net` sockets, which read them without blocking a
 * thread; the process's end is learned from SIGCHLD and `waitpid` on its pid only, so processes
 * started by `Deno.Command` are left to Deno.
 *
 * Available on Linux with glibc 2.29 or later (`posix_spawn_file_actions_addchdir_np`) and the FFI
 * permission; elsewhere `loadSessionSpawner` resolves `null` and lines start through
 * `Deno.Command`.
 *
 * @module
 */
import { giveBackCopyBuffer, takeCopyBuffer } from "./copy_buffers.ts";

/** A program to start in a new session. */
export interface SessionSpawnOptions {
  /** The program's path: absolute, or relative to `cwd` (see `resolveProgram`). */
  readonly path: string;
  /** Its arguments, the program's name first (`argv`). */
  readonly argv: readonly string[];
  /** The whole environment of the process. */
  readonly env: Record<string, string>;
  readonly cwd: string;
  /** Gives the process a pipe as stdin (see `SessionProcess.goAhead`); otherwise `/dev/null`. */
  readonly stdinPipe: boolean;
}

/**
 * An output stream of a process, read into one reused copy buffer (see `copy_buffers.ts`): a
 * chunk is valid until the next one is asked for. Iterate it once.
 */
export interface ProcessOutput extends AsyncIterable<Uint8Array> {
  /**
   * The chunk handed out last stays in use (by a write that was given up, say): the reads after
   * it go to a new buffer, and that one is not reused.
   */
  keepLastChunk(): void;
}

/** A process started by a `SessionSpawner`. */
export interface SessionProcess {
  /** Its pid, also the id of its process group and session. */
  readonly pid: number;
  readonly stdout: ProcessOutput;
  readonly stderr: ProcessOutput;
  /** Settles when the process has ended. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Writes one newline to the process's stdin pipe and closes it; later calls do nothing. */
  goAhead(): void;
}

/**
 * Starts a process, or returns `null` when `posix_spawn` refused to (a missing or
 * non-executable program, a missing `cwd`): the caller then starts it another way, which reports
 * the problem as usual.
 */
export type SessionSpawner = (options: SessionSpawnOptions) => SessionProcess | null;

const SYMBOLS = {
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  posix_spawn: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_adddup2: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  posix_spawn_file_actions_addopen: {
    parameters: ["buffer", "i32", "pointer", "i32", "u32"],
    result: "i32",
  },
  posix_spawn_file_actions_addchdir_np: { parameters: ["buffer", "pointer"], result: "i32" },
  posix_spawnattr_init: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_setflags: { parameters: ["buffer", "i16"], result: "i32" },
  posix_spawnattr_setsigdefault: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawnattr_setsigmask: { parameters: ["buffer", "buffer"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

const O_CLOEXEC = 0o2000000;
const WNOHANG = 1;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
/** Room for glibc's `posix_spawn_file_actions_t` (80 bytes) and `posix_spawnattr_t` (336). */
const FILE_ACTIONS_BYTES = 256;
const SPAWN_ATTR_BYTES = 1024;
/** A `sigset_t`: 1024 bits. */
const SIGSET_BYTES = 128;

let loading: Promise<SessionSpawner | null> | undefined;

/**
 * The session spawner of this process, or `null` where there is none (not Linux, no FFI
 * permission, no glibc or one without `POSIX_SPAWN_SETSID`). Loaded once.
 *
 * @example
 * ```ts
 * const spawn = await loadSessionSpawner();
 * const child = spawn?.({
 *   path: "/bin/echo", argv: ["echo", "hi"], env: Deno.env.toObject(), cwd: "/",
 *   stdinPipe: false,
 * });
 * ```
 */
export function loadSessionSpawner(): Promise<SessionSpawner | null> {
  return loading ??= load();
}

async function load(): Promise<SessionSpawner | null> {
  if (Deno.build.os !== "linux") return null;
  let libc: Libc;
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
    libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  } catch {
    return null; // No glibc (musl), or one without a symbol (addchdir_np: glibc < 2.29).
  }
  const attr = spawnAttributes(libc);
  if (attr === null) return null;
  const { Socket } = await import("node:net");
  const reaper = childReaper(libc);
  return (options) => spawnInSession(libc, attr, reaper, (fd) => outputOf(Socket, fd), options);
}

/**
 * The spawn attributes every process gets: a new session, an empty signal mask and SIGPIPE at
 * its default (Deno ignores it, and ignored signals stay ignored across `exec`), as
 * `Deno.Command` does. `null` when the C library does not know `POSIX_SPAWN_SETSID` (< 2.26).
 */
function spawnAttributes(libc: Libc): Uint8Array | null {
  const attr = new Uint8Array(SPAWN_ATTR_BYTES);
  const defaults = new Uint8Array(SIGSET_BYTES);
  defaults[1] = 1 << (13 - 1 - 8); // SIGPIPE (13): bit 12.
  const flags = POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  if (
    libc.posix_spawnattr_init(attr) !== 0 ||
    libc.posix_spawnattr_setsigdefault(attr, defaults) !== 0 ||
    libc.posix_spawnattr_setsigmask(attr, new Uint8Array(SIGSET_BYTES)) !== 0 ||
    libc.posix_spawnattr_setflags(attr, flags) !== 0
  ) return null;
  return attr;
}

const encoder = new TextEncoder();

function spawnInSession(
  libc: Libc,
  attr: Uint8Array,
  reaper: ChildReaper,
  readable: (fd: number) => ProcessOutput,
  options: SessionSpawnOptions,
): SessionProcess | null {
  const envStrings = Object.entries(options.env).map(([name, value]) => `${name}=${value}`);
  const strings = [options.path, options.cwd, "/dev/null", ...options.argv, ...envStrings];
  if (strings.some((string) => string.includes("\0"))) return null;
  // Every string NUL-terminated in one buffer; `at[i]` is the address of `strings[i]`.
  const text = encoder.encode(strings.join("\0") + "\0");
  const at = addressesOf(text);
  const pointers = (from: number, count: number) => {
    const array = new BigUint64Array(count + 1);
    for (let i = 0; i < count; i++) array[i] = at[from + i];
    return array;
  };
  const argv = pointers(3, options.argv.length);
  const envp = pointers(3 + options.argv.length, envStrings.length);
  const string = (index: number) => Deno.UnsafePointer.create(at[index]);

  const fds = new Int32Array(6); // stdout, stderr, stdin: read end, write end
  const opened: number[] = [];
  const closeAll = (list: number[]) => list.forEach((fd) => libc.close(fd));
  for (let i = 0; i < (options.stdinPipe ? 3 : 2); i++) {
    const pair = fds.subarray(i * 2, i * 2 + 2);
    if (libc.pipe2(pair, O_CLOEXEC) !== 0) {
      closeAll(opened);
      return null;
    }
    opened.push(pair[0], pair[1]);
  }
  const [outRead, outWrite, errRead, errWrite, inRead, inWrite] = fds;

  const actions = new Uint8Array(FILE_ACTIONS_BYTES);
  const pid = new Int32Array(1);
  let result = libc.posix_spawn_file_actions_init(actions);
  if (result === 0) {
    try {
      result = options.stdinPipe
        ? libc.posix_spawn_file_actions_adddup2(actions, inRead, 0)
        : libc.posix_spawn_file_actions_addopen(actions, 0, string(2), 0, 0);
      result ||= libc.posix_spawn_file_actions_adddup2(actions, outWrite, 1);
      result ||= libc.posix_spawn_file_actions_adddup2(actions, errWrite, 2);
      result ||= libc.posix_spawn_file_actions_addchdir_np(actions, string(1));
      // The path is `text`'s first string; passing `text` keeps it alive for the pointers too.
      result ||= libc.posix_spawn(pid, text, actions, attr, argv, envp);
    } finally {
      libc.posix_spawn_file_actions_destroy(actions);
    }
  }
  // The child has its copies; the parent keeps the ends it reads (and the stdin end it writes).
  closeAll(options.stdinPipe ? [outWrite, errWrite, inRead] : [outWrite, errWrite]);
  if (result !== 0) {
    closeAll(options.stdinPipe ? [outRead, errRead, inWrite] : [outRead, errRead]);
    return null;
  }

  let stdin = options.stdinPipe ? inWrite : -1;
  const closeStdin = () => {
    if (stdin < 0) return;
    libc.close(stdin);
    stdin = -1;
  };
  const status = reaper.wait(pid[0]);
  // A go-ahead that never came is no reason to keep the pipe.
  status.then(closeStdin);
  return {
    pid: pid[0],
    stdout: readable(outRead),
    stderr: readable(errRead),
    status,
    goAhead() {
      // Deno ignores SIGPIPE: writing after the process ended only fails, which is fine.
      if (stdin >= 0) libc.write(stdin, NEWLINE, 1n);
      closeStdin();
    },
  };
}

const NEWLINE = new Uint8Array([10]);

/**
 * Reads the pipe `fd` through a `node:net` socket, which waits for data without blocking a
 * thread, straight into copy buffers (`onread`); reading pauses while a chunk is handed out.
 * The socket may ask for the buffer of its next read while a chunk is still out, so it gets
 * one that does not hold that chunk: two buffers take turns.
 */
function outputOf(Socket: typeof import("node:net").Socket, fd: number): ProcessOutput {
  /** The buffers this output owns (at most two). */
  const owned: Uint8Array[] = [];
  /** The buffer of the chunk handed out, until the next one is asked for. */
  let out: Uint8Array | null = null;
  let chunk: Uint8Array | null = null;
  let ended = false;
  let failure: { error: unknown } | null = null;
  let wake: (() => void) | null = null;
  const socket = new Socket(
    {
      fd,
      readable: true,
      writable: false,
      onread: {
        buffer: () => {
          const free = owned.find((buffer) => buffer !== out && buffer.buffer !== chunk?.buffer);
          if (free) return free;
          const taken = takeCopyBuffer();
          owned.push(taken);
          return taken;
        },
        callback: (bytes: number, target: Uint8Array) => {
          chunk = target.subarray(0, bytes);
          wake?.();
          return false; // Paused until the chunk has been used.
        },
      },
    } as ConstructorParameters<typeof Socket>[0],
  );
  socket.on("end", () => {
    ended = true;
    wake?.();
  });
  socket.on("error", (error) => {
    failure = { error };
    wake?.();
  });
  return {
    keepLastChunk() {
      // Neither read into again nor given back.
      if (out !== null) owned.splice(owned.indexOf(out), 1);
      out = null;
    },
    async *[Symbol.asyncIterator]() {
      try {
        while (true) {
          while (chunk === null && !ended && failure === null) {
            await new Promise<void>((resolve) => wake = resolve);
            wake = null;
          }
          if (chunk !== null) {
            const value: Uint8Array = chunk;
            chunk = null;
            out = owned.find((buffer) => buffer.buffer === value.buffer) ?? null;
            yield value;
            out = null;
            socket.resume();
            continue;
          }
          if (failure !== null) throw (failure as { error: unknown }).error;
          return;
        }
      } finally {
        socket.destroy();
        out = null;
        for (const buffer of owned.splice(0)) giveBackCopyBuffer(buffer);
      }
    },
  };
}

/** The addresses of the NUL-terminated strings in `text`, in order. */
function addressesOf(text: Uint8Array): bigint[] {
  const base = Deno.UnsafePointer.value(Deno.UnsafePointer.of(text));
  const addresses: bigint[] = [];
  for (let start = 0; start < text.length;) {
    addresses.push(BigInt(base) + BigInt(start));
    start = text.indexOf(0, start) + 1;
  }
  return addresses;
}

/** Learns how the processes started here ended. */
interface ChildReaper {
  /** Settles when the process `pid` (a child of this process) has ended. */
  wait(pid: number): Promise<Deno.CommandStatus>;
}

/**
 * Reaps children with `waitpid(pid, WNOHANG)` whenever a SIGCHLD arrives (for any child: every
 * process waited for is tried), and every second as a safety net. Listens only while it waits.
 */
function childReaper(libc: Libc): ChildReaper {
  const waiting = new Map<number, (status: Deno.CommandStatus) => void>();
  const statusWord = new Int32Array(1);
  let poll: ReturnType<typeof setInterval> | undefined;
  const reap = () => {
    for (const [pid, resolve] of waiting) {
      const result = libc.waitpid(pid, statusWord, WNOHANG);
      if (result === 0) continue; // Still running.
      waiting.delete(pid);
      // -1: not our child any more (someone else reaped it); its status is lost.
      resolve(result === pid ? commandStatus(statusWord[0]) : LOST_STATUS);
    }
    if (waiting.size === 0 && poll !== undefined) {
      Deno.removeSignalListener("SIGCHLD", reap);
      clearInterval(poll);
      poll = undefined;
    }
  };
  return {
    wait(pid) {
      const { promise, resolve } = Promise.withResolvers<Deno.CommandStatus>();
      waiting.set(pid, resolve);
      if (poll === undefined) {
        Deno.addSignalListener("SIGCHLD", reap);
        // A timer also keeps the event loop alive for the wait, which the listener does not.
        poll = setInterval(reap, 1000);
      }
      reap(); // It may have ended before the listener was there.
      return promise;
    },
  };
}

const LOST_STATUS: Deno.CommandStatus = { success: false, code: -1, signal: null };

/** Linux's signal numbers (the same on x86-64 and arm64). */
const SIGNALS: (Deno.Signal | undefined)[] = [
  undefined,
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGILL",
  "SIGTRAP",
  "SIGABRT",
  "SIGBUS",
  "SIGFPE",
  "SIGKILL",
  "SIGUSR1",
  "SIGSEGV",
  "SIGUSR2",
  "SIGPIPE",
  "SIGALRM",
  "SIGTERM",
  "SIGSTKFLT",
  "SIGCHLD",
  "SIGCONT",
  "SIGSTOP",
  "SIGTSTP",
  "SIGTTIN",
  "SIGTTOU",
  "SIGURG",
  "SIGXCPU",
  "SIGXFSZ",
  "SIGVTALRM",
  "SIGPROF",
  "SIGWINCH",
  "SIGIO",
  "SIGPWR",
  "SIGSYS",
];

/** A `waitpid` status word as Deno reports it: exit code, or signal (code 128 + N). */
export function commandStatus(word: number): Deno.CommandStatus {
  const signal = word & 0x7f;
  if (signal === 0) {
    const code = (word >> 8) & 0xff;
    return { success: code === 0, code, signal: null };
  }
  return { success: false, code: 128 + signal, signal: SIGNALS[signal] ?? null };
}

/**
 * Where `sh` would find `name` for a process with `env` in `cwd`: `name` itself when it contains
 * a `/`, else the first executable file of that name in the PATH's directories. `null` when there
 * is none.
 *
 * @example
 * ```ts
 * resolveProgram("make", { PATH: "/usr/local/bin:/usr/bin" }, "/app"); // "/usr/bin/make"
 * resolveProgram("./flow", {}, "/app"); // "./flow"
 * ```
 */
export function resolveProgram(
  name: string,
  env: Record<string, string>,
  cwd: string,
): string | null {
  if (name.includes("/")) return name;
  for (const dir of (env.PATH ?? "/usr/bin:/bin").split(":")) {
    const path = `${dir === "" ? "." : dir}/${name}`;
    try {
      const info = Deno.statSync(path.startsWith("/") ? path : `${cwd}/${path}`);
      // A relative path stays relative: the process changes to `cwd` before it starts.
      if (info.isFile && (info.mode ?? 0) & 0o111) return path;
    } catch {
      // Not in this directory.
    }
  }
  return null;
}
