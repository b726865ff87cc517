/**
 * What `GET /health` checks: that the job store can write and that tasks can run, each within a
 * time limit, so a hung file system or executor shows as failing instead of hanging the check.
 *
 * @module
 */
import { errorMessage } from "../errors.ts";
import type { TaskExecutor } from "../executor/task_executor.ts";
import type { Runner } from "../runner/runner.ts";
import type { HealthProblems } from "../server/mod.ts";
import type { Storage } from "../store/data_dir.ts";
import { valueWithin } from "../timeout.ts";

/**
 * Checks the store and the executor. The store fails when a test write to the data directory
 * fails, or while job changes cannot be stored (the runner keeps them in memory and retries).
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
): Promise<HealthProblems> {
  const storeProblem = async (): Promise<string | null> => {
    const written = await settlesWithin(dataDir.check(), timeoutMs);
    if (written === false) return `a test write did not finish within ${timeoutMs} ms`;
    return written === true ? runner.storeFailure() : written;
  };
  const [storeResult, executorResult] = await Promise.all([
    storeProblem(),
    executor.check(timeoutMs),
  ]);
  return { store: storeResult, executor: executorResult };
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
