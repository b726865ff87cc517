/**
 * Background work that must not overlap with itself nor block the API: retention runs and
 * listing packs (see `src/store/kv/listing_packs.ts`).
 *
 * @module
 */

/** A task run in the background on request and periodically. */
export interface BackgroundTask {
  /** Asks for a run soon; requests made while one is pending are merged. */
  request(): void;
  /** Stops the schedule and waits for a run in progress. */
  stop(): Promise<void>;
}

/**
 * Runs `work` `delayMs` after a request and every `periodMs`, one run at a time. Errors go to
 * `onError`; the schedule goes on.
 *
 * @example
 * ```ts
 * const retention = backgroundTask(() => applyRetention(), 1000, 600_000, console.error);
 * retention.request();
 * ```
 */
export function backgroundTask(
  work: () => Promise<unknown>,
  delayMs: number,
  periodMs: number,
  onError: (error: unknown) => void,
): BackgroundTask {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | null = null;
  let stopped = false;

  const run = (): void => {
    timer = undefined;
    if (stopped) return;
    if (running) {
      schedule(delayMs);
      return;
    }
    running = work().then(() => {}, onError).finally(() => {
      running = null;
    });
  };

  const schedule = (ms: number): void => {
    if (timer === undefined && !stopped) timer = setTimeout(run, ms);
  };

  const interval = setInterval(() => schedule(0), periodMs);

  return {
    request: () => schedule(delayMs),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      clearInterval(interval);
      await running;
    },
  };
}
