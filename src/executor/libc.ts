/**
 * The C library functions prunner calls through FFI to start processes in a new session
 * (`posix_spawn.ts`), to read their output (`fd_poller.ts`, `output_reader.ts`) and to learn how
 * they ended (`reaper.ts`). Only glibc on Linux has them all.
 *
 * @module
 */

const SYMBOLS = {
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  /**
   * `posix_spawn` on a thread of Deno's blocking pool: it returns only once the child has
   * executed its program, and the event loop goes on meanwhile (measured in bench cases 2 and
   * 4 against calling it on the event loop: 286–288 against 265–272 jobs/s, latency p50
   * 5.8–6.3 against 6.5–6.8 ms).
   */
  posix_spawn_off_thread: {
    name: "posix_spawn",
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  __errno_location: { parameters: [], result: "pointer" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  /** `epoll_wait` on a thread of Deno's blocking pool (see `fd_poller.ts`). */
  epoll_wait_off_thread: {
    name: "epoll_wait",
    parameters: ["i32", "buffer", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  readlink: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
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

/** The C library functions prunner uses, callable from TypeScript. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/**
 * glibc's functions, or `null` where they cannot be had: not Linux, no FFI permission, no glibc
 * (musl), or a glibc without one of them (`posix_spawn_file_actions_addchdir_np`: < 2.29).
 *
 * @example
 * ```ts
 * const libc = openLibc();
 * if (libc !== null) libc.close(42);
 * ```
 */
export function openLibc(): Libc | null {
  if (Deno.build.os !== "linux") return null;
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
    return Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  } catch {
    return null;
  }
}
