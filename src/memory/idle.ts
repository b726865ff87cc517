/**
 * Giving memory back after a burst. V8 grows its heap with the rate of allocation and the C
 * allocator keeps freed memory for reuse: left alone, a process keeps most of what a burst took
 * while it has nothing to do (after 10,000 jobs prunner idled at 1.7 × the memory it started
 * with). Releasing it once the process has been idle for a while keeps the pause away from the
 * work (see `release.ts` for what is released).
 *
 * @module
 */

/** How long a process has had nothing to do before it releases memory, in ms. */
export const IDLE_RELEASE_MS = 5_000;

/** Notes activity and releases memory once activity has stopped for a while. */
export interface IdleRelease {
  /** Something happened: the next release waits for `idleMs` without activity. */
  activity(): void;
  /** Cancels a pending release; later activity arms it again. */
  stop(): void;
}

/**
 * Creates an idle release that runs `release` once whenever `idleMs` pass without
 * `activity()`. Without anything to run (`null`), it does nothing.
 *
 * @example
 * ```ts
 * const idle = idleRelease(IDLE_RELEASE_MS, releaseMemory(v8Collection()));
 * events.subscribe(() => idle.activity());
 * ```
 */
export function idleRelease(idleMs: number, release: (() => void) | null): IdleRelease {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    clearTimeout(timer);
    timer = undefined;
  };
  if (release === null) return { activity() {}, stop };
  return {
    activity() {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timer = undefined;
        release();
      }, idleMs);
      // A pending release never keeps the process alive.
      Deno.unrefTimer(timer);
    },
    stop,
  };
}
