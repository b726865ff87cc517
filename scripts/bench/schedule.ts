/**
 * Scheduling many jobs over HTTP from concurrent clients and waiting for them, as cases 2 and 9
 * do.
 *
 * @module
 */
import type { ApiJob, Server } from "./server.ts";
import { sleep } from "./system.ts";

/** One server, or the nodes of a cluster that requests go to in turn. */
export type Servers = Server | readonly Server[];

/** The server of the `index`th job: with several, they take turns. */
function serverOf(servers: Servers, index: number): Server {
  return "length" in servers ? servers[index % servers.length] : servers;
}

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
 * next request when its last one was answered, and all stop at the first failure. With several
 * servers, the jobs go to them round-robin (job `i` to server `i % servers.length`).
 *
 * @example
 * ```ts
 * const scheduling = scheduleJobs(server, "throughput", 1000, 16);
 * const end = await scheduling.settled;
 * if (scheduling.failure() !== null) throw scheduling.failure();
 * ```
 */
export function scheduleJobs(
  servers: Servers,
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
        ids[index] = await serverOf(servers, index).schedule(pipeline);
      }
    }),
  ).catch((error) => {
    failure ??= error;
  }).then(() => performance.now());
  return { ids, failure: () => failure, settled };
}

/**
 * Waits until every job of `scheduling` has completed, walking them in scheduling order: it asks
 * for the oldest job not yet seen completed and moves on as soon as it is, so it costs about one
 * request per job, on the server it was scheduled on. With `removedIsDone`, a job that is gone
 * (404, removed by retention) counts as completed.
 *
 * @throws {Error} when scheduling fails, a request fails or a job does not succeed.
 * @example
 * ```ts
 * const scheduling = scheduleJobs(server, "throughput", 1000, 16);
 * await allCompleted(server, scheduling, 1000);
 * ```
 */
export async function allCompleted(
  servers: Servers,
  scheduling: Scheduling,
  count: number,
  removedIsDone = false,
): Promise<void> {
  for (let index = 0; index < count;) {
    if (scheduling.failure() !== null) throw scheduling.failure();
    const id = scheduling.ids[index];
    if (id === undefined) {
      await sleep(2);
      continue;
    }
    const response = await serverOf(servers, index).request(
      "GET",
      `/job/detail?id=${encodeURIComponent(id)}`,
    );
    if (response.status === 404 && removedIsDone) {
      await response.body?.cancel();
      index++;
      continue;
    }
    const text = await response.text();
    if (!response.ok) throw new Error(`GET /job/detail answered ${response.status}: ${text}`);
    const job = JSON.parse(text) as ApiJob;
    if (!job.completed) {
      await sleep(5);
      continue;
    }
    if (job.errored || job.canceled || job.tasks.some((task) => task.status !== "done")) {
      throw new Error(`job ${id} did not succeed: ${text}`);
    }
    index++;
  }
}
