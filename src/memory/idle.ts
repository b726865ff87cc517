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
  /** Stops watching: no release runs any more. */
  stop(): void;
}

/** What drives an idle release: the time, and a check that runs periodically. */
export interface IdleClock {
  /** The current time in ms. */
  now(): number;
  /** Runs `check` periodically until the returned function is called. */
  every(check: () => void): () => void;
}

/**
 * The real clock, checking every `checkMs` on a timer that never keeps the process alive.
 */
export function intervalClock(checkMs: number): IdleClock {
  return {
    now: () => Date.now(),
    every(check) {
      const timer = setInterval(check, checkMs);
      Deno.unrefTimer(timer);
      return () => clearInterval(timer);
    },
  };
}

/**
 * Creates an idle release that runs `release` once whenever `idleMs` pass without
 * `activity()`, checked on `clock` (by default every fifth of `idleMs`). Noting activity only
 * counts it: it runs on every request, where arming a timer each time cost a measurable share
 * of the API's rate. Without anything to run (`null`), it does nothing.
 *
 * @example
 * ```ts
 * const idle = idleRelease(IDLE_RELEASE_MS, releaseMemory(v8Collection()));
 * events.subscribe(() => idle.activity());
 * ```
 */
export function idleRelease(
  idleMs: number,
  release: (() => void) | null,
  clock: IdleClock = intervalClock(Math.max(1, idleMs / 5)),
): IdleRelease {
  if (release === null) return { activity() {}, stop() {} };
  let activities = 0;
  let seen = 0;
  let quietSince = clock.now();
  // Nothing to give back before the first activity.
  let released = true;
  const stop = clock.every(() => {
    if (activities !== seen) {
      seen = activities;
      quietSince = clock.now();
      released = false;
    } else if (!released && clock.now() - quietSince >= idleMs) {
      released = true;
      release();
    }
  });
  return {
    activity() {
      activities++;
    },
    stop,
  };
}
