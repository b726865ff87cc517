/**
 * Scheduling many jobs over HTTP from concurrent clients, as cases 2 and 9 do.
 *
 * @module
 */
import type { Server } from "./server.ts";

/** Jobs being scheduled. */
export interface Scheduling {
  /** Job ids in scheduling order; `undefined` until that request was answered. */
  readonly ids: readonly (string | undefined)[];
  /** The first failed request's error, or `null` while none failed. */
  failure(): unknown;
  /**
   * Settles, never rejecting, once every request was answered or one failed, with
   * `performance.now()` at that moment.
   */
  readonly settled: Promise<number>;
}

/**
 * Schedules `count` jobs of `pipeline` from `clients` concurrent clients; each client sends its
 * next request when its last one was answered, and all stop at the first failure.
 *
 * @example
 * ```ts
 * const scheduling = scheduleJobs(server, "throughput", 1000, 16);
 * const end = await scheduling.settled;
 * if (scheduling.failure() !== null) throw scheduling.failure();
 * ```
 */
export function scheduleJobs(
  server: Server,
  pipeline: string,
  count: number,
  clients: number,
): Scheduling {
  const ids: (string | undefined)[] = new Array(count);
  let next = 0;
  let failure: unknown = null;
  const settled = Promise.all(
    Array.from({ length: Math.min(clients, count) }, async () => {
      while (next < count && failure === null) {
        const index = next++;
        ids[index] = await server.schedule(pipeline);
      }
    }),
  ).catch((error) => {
    failure ??= error;
  }).then(() => performance.now());
  return { ids, failure: () => failure, settled };
}
