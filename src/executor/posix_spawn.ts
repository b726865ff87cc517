/**
 * Starting a program as the leader of a new session in one step, with glibc's `posix_spawn` and
 * its `POSIX_SPAWN_SETSID` flag, called through FFI. Deno's `Deno.Command` offers a new session
 * only with `detached: true`, which forks the calling process (its cost grows with the caller's
 * memory), or through the `setsid` program, which is one more program to start. `posix_spawn`
 * starts the program the way Deno starts one without `detached` (no copy of the caller) and makes
 * the session in the child before it executes the program.
 *
 * The C functions come from `libc.ts`, the output pipes are read by `output_reader.ts` and the
 * processes' ends are learned by `reaper.ts`.
 *
 * Available on Linux with glibc 2.29 or later (`posix_spawn_file_actions_addchdir_np`) and the FFI
 * permission; elsewhere `loadSessionSpawner` resolves `null` and lines start through
 * `Deno.Command`.
 *
 * @module
 */
import { setNonBlocking } from "./fd_poller.ts";
import { type Libc, openLibc } from "./libc.ts";
import { createPipeReader, type PipeReader, type ProcessOutput } from "./output_reader.ts";
import { type ChildReaper, childReaper } from "./reaper.ts";

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
  /**
   * Makes writes to the stdin pipe fail instead of waiting when the pipe is full (see
   * `SessionProcess.write`), so that a process that stops reading cannot block the caller.
   */
  readonly nonBlockingStdin?: boolean;
  /**
   * Called right before the process is started with the inode of its stdout pipe: whoever
   * holds that pipe is the process (or a child of it), which a guard can find in `/proc` even
   * when the caller dies before it learns the pid (see `guard_process.ts`).
   */
  readonly beforeSpawn?: (stdoutPipe: number) => void;
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
  /**
   * Writes `bytes` to the stdin pipe at once; `false` when not all of them could be written
   * (the process ended, or with `nonBlockingStdin` the pipe is full).
   */
  write(bytes: Uint8Array): boolean;
  /** Closes the stdin pipe; later calls do nothing. */
  closeStdin(): void;
}

/**
 * Starts a process, or resolves `null` when `posix_spawn` refused to (a missing or
 * non-executable program, a missing `cwd`): the caller then starts it another way, which reports
 * the problem as usual. `posix_spawn` runs on a thread of Deno's blocking pool: it returns once
 * the child has executed its program, and the caller's event loop goes on meanwhile.
 */
export type SessionSpawner = (options: SessionSpawnOptions) => Promise<SessionProcess | null>;

const O_CLOEXEC = 0o2000000;
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
 * const child = await spawn?.({
 *   path: "/bin/echo", argv: ["echo", "hi"], env: Deno.env.toObject(), cwd: "/",
 *   stdinPipe: false,
 * });
 * ```
 */
export function loadSessionSpawner(): Promise<SessionSpawner | null> {
  return loading ??= Promise.resolve(load());
}

function load(): SessionSpawner | null {
  const libc = openLibc();
  if (libc === null) return null;
  const attr = spawnAttributes(libc);
  if (attr === null) return null;
  let readPipe: PipeReader;
  try {
    readPipe = createPipeReader(libc);
  } catch {
    return null;
  }
  const reaper = childReaper(libc);
  return (options) => spawnInSession(libc, attr, reaper, readPipe, options);
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
const decoder = new TextDecoder();

async function spawnInSession(
  libc: Libc,
  attr: Uint8Array,
  reaper: ChildReaper,
  readPipe: PipeReader,
  options: SessionSpawnOptions,
): Promise<SessionProcess | null> {
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
  if (options.stdinPipe && options.nonBlockingStdin) setNonBlocking(libc, inWrite);

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
      if (result === 0 && options.beforeSpawn) {
        options.beforeSpawn(pipeInode(libc, outRead));
      }
      // The path is `text`'s first string; passing `text` keeps it alive for the pointers too.
      result ||= await libc.posix_spawn_off_thread(pid, text, actions, attr, argv, envp);
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
    stdout: readPipe(outRead),
    stderr: readPipe(errRead),
    status,
    goAhead() {
      // Deno ignores SIGPIPE: writing after the process ended only fails, which is fine.
      if (stdin >= 0) libc.write(stdin, NEWLINE, 1n);
      closeStdin();
    },
    write(bytes) {
      let done = 0;
      while (stdin >= 0 && done < bytes.length) {
        const written = Number(
          libc.write(stdin, bytes.subarray(done), BigInt(bytes.length - done)),
        );
        if (written <= 0) return false;
        done += written;
      }
      return done === bytes.length;
    },
    closeStdin,
  };
}

const NEWLINE = new Uint8Array([10]);

/**
 * The inode of the pipe that is this process's file descriptor `fd` (0 when it cannot be
 * read). Through `readlink(2)`: Deno lets only `--allow-all` look into `/proc/self/fd`.
 */
function pipeInode(libc: Libc, fd: number): number {
  const target = new Uint8Array(64);
  const length = Number(libc.readlink(encoder.encode(`/proc/self/fd/${fd}\0`), target, 64n));
  const link = decoder.decode(target.subarray(0, Math.max(0, length)));
  return Number(/^pipe:\[(\d+)\]$/.exec(link)?.[1] ?? 0);
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
