/**
 * What `GET /health` checks: that the job store can write and that tasks can run, each within a
 * time limit, so a hung file system or executor shows as failing instead of hanging the check.
 *
 * @module
 */
import type { ClusterMember } from "../cluster/mod.ts";
import { errorMessage } from "../errors.ts";
import type { TaskExecutor } from "../executor/task_executor.ts";
import type { Runner } from "../runner/runner.ts";
import type { ClusterHealth, HealthProblems } from "../server/mod.ts";
import type { Storage } from "../store/data_dir.ts";
import { valueWithin } from "../timeout.ts";

/**
 * Checks the store and the executor. The store fails when a test write to the data directory
 * fails, or while job changes cannot be stored (the runner keeps them in memory and retries).
 * With `cluster` (a node of a cluster), the report also has its `cluster` section: the node's
 * name, whether its last heartbeat went through, and the live nodes (`null` when the database
 * did not tell within `timeoutMs`); it does not make the report failing.
 *
 * @example
 * ```ts
 * const problems = await checkHealth(runner, dataDir, executor, 5000);
 * // { store: null, executor: null } when all is well
 * ```
 */
export async function checkHealth(
  runner: Pick<Runner, "storeFailure">,
  dataDir: Pick<Storage, "check">,
  executor: Pick<TaskExecutor, "check">,
  timeoutMs: number,
  cluster?: Pick<ClusterMember, "name" | "connected" | "liveNodes">,
): Promise<HealthProblems> {
  const storeProblem = async (): Promise<string | null> => {
    const written = await settlesWithin(dataDir.check(), timeoutMs);
    if (written === false) return `a test write did not finish within ${timeoutMs} ms`;
    return written === true ? runner.storeFailure() : written;
  };
  const clusterHealth = async (): Promise<ClusterHealth | undefined> => {
    if (cluster === undefined) return undefined;
    const liveNodes = await valueWithin(cluster.liveNodes(), timeoutMs).catch(() => null);
    return { node: cluster.name, connected: cluster.connected(), liveNodes };
  };
  const [storeResult, executorResult, clusterResult] = await Promise.all([
    storeProblem(),
    executor.check(timeoutMs),
    clusterHealth(),
  ]);
  return {
    store: storeResult,
    executor: executorResult,
    ...(clusterResult ? { cluster: clusterResult } : {}),
  };
}

/**
 * Whether `promise` settles within `ms`: `true` when it resolved, the error's message when it
 * rejected, `false` when it has not settled by then.
 */
export async function settlesWithin(
  promise: Promise<unknown>,
  ms: number,
): Promise<true | false | string> {
  const settled = await valueWithin(promise.then(() => true as const, errorMessage), ms);
  return settled ?? false;
}
