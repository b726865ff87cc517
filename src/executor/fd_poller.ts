/**
 * Waiting for many file descriptors at once with one Linux `epoll` set: its `epoll_wait` runs
 * on a thread of Deno's blocking pool, so the event loop goes on, and one wait covers every
 * pipe prunner reads. Each readiness is reported once (`EPOLLONESHOT`): the reader asks again
 * when it wants more, which is how a reader that is not keeping up holds back its process.
 *
 * The wait runs only while some descriptor is armed, so a poller whose pipes have all ended holds
 * no pending operation (and does not keep Deno from exiting).
 *
 * @module
 */
import type { Libc } from "./libc.ts";

/** Watches file descriptors for input (or their other end being closed). */
export interface FdPoller {
  /**
   * Calls `ready` once, when `fd` has something to read or its writers have all closed it. An
   * `fd` is armed at most once at a time; arming it again replaces the callback.
   */
  arm(fd: number, ready: () => void): void;
  /**
   * Stops watching `fd`; call it before closing `fd`. Meant for a descriptor that is not armed
   * (its reader has stopped): the wait for an armed one goes on until it is ready.
   */
  forget(fd: number): void;
}

/** Thrown when the kernel refuses an `epoll` call; names the call and its `errno`. */
export class FdPollerError extends Error {
  constructor(call: string, errno: number) {
    super(`${call} failed (errno ${errno}): prunner cannot wait for its tasks' output`);
    this.name = "FdPollerError";
  }
}

const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLL_CTL_MOD = 3;
const EPOLLIN = 0x001;
const EPOLLONESHOT = 1 << 30;
const ENOENT = 2;
const EEXIST = 17;
/** `struct epoll_event` is packed on x86-64 (12 bytes), naturally aligned elsewhere (16). */
const EVENT_BYTES = Deno.build.arch === "x86_64" ? 12 : 16;
const DATA_OFFSET = Deno.build.arch === "x86_64" ? 4 : 8;
const MAX_EVENTS = 64;

/** `errno`: nothing to read now (a non-blocking descriptor). */
export const EAGAIN = 11;
/** `errno`: a signal interrupted the call; try it again. */
export const EINTR = 4;
const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;

/** Makes reads and writes of `fd` fail with `EAGAIN` instead of waiting. */
export function setNonBlocking(libc: Pick<Libc, "fcntl">, fd: number): void {
  libc.fcntl(fd, F_SETFL, libc.fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
}

/** The `errno` of this thread, right after a failed call. */
export function errno(libc: Pick<Libc, "__errno_location">): number {
  const location = libc.__errno_location();
  return location === null ? 0 : new Deno.UnsafePointerView(location).getInt32();
}

/**
 * A poller on a new `epoll` set.
 *
 * @throws {FdPollerError} when the set cannot be made.
 * @example
 * ```ts
 * const poller = createFdPoller(openLibc()!);
 * poller.arm(fd, () => console.log("readable"));
 * ```
 */
export function createFdPoller(
  libc: Pick<
    Libc,
    "epoll_create1" | "epoll_ctl" | "epoll_wait_off_thread" | "__errno_location"
  >,
): FdPoller {
  const epoll = libc.epoll_create1(EPOLL_CLOEXEC);
  if (epoll < 0) throw new FdPollerError("epoll_create1", errno(libc));

  const event = new Uint8Array(EVENT_BYTES);
  const eventView = new DataView(event.buffer);
  const control = (operation: number, fd: number, events: number) => {
    eventView.setUint32(0, events, true);
    eventView.setInt32(DATA_OFFSET, fd, true);
    return libc.epoll_ctl(epoll, operation, fd, event) === 0 ? 0 : errno(libc);
  };

  /** The descriptors in the set, and the callbacks of those armed. */
  const added = new Set<number>();
  const armed = new Map<number, () => void>();
  const events = new Uint8Array(EVENT_BYTES * MAX_EVENTS);
  const eventsView = new DataView(events.buffer);
  let waiting = false;

  const wait = async () => {
    waiting = true;
    try {
      while (armed.size > 0) {
        const count = await libc.epoll_wait_off_thread(epoll, events, MAX_EVENTS, -1);
        for (let i = 0; i < count; i++) {
          const fd = eventsView.getInt32(i * EVENT_BYTES + DATA_OFFSET, true);
          const ready = armed.get(fd);
          armed.delete(fd);
          ready?.();
        }
      }
    } finally {
      waiting = false;
    }
  };

  return {
    arm(fd, ready) {
      const known = added.has(fd);
      let failure = control(known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLONESHOT);
      // A number reused for a new descriptor after a close without `forget`: start over.
      if (failure === ENOENT || failure === EEXIST) {
        failure = control(known ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, EPOLLIN | EPOLLONESHOT);
      }
      if (failure !== 0) throw new FdPollerError("epoll_ctl", failure);
      added.add(fd);
      armed.set(fd, ready);
      if (!waiting) wait();
    },
    forget(fd) {
      if (!added.delete(fd)) return;
      control(EPOLL_CTL_DEL, fd, 0);
      armed.delete(fd);
    },
  };
}
