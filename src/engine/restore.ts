/**
 * What becomes of an unfinished job found in the store at startup. Pure: the caller applies
 * the decision.
 *
 * @module
 */
import type { PipelineDefinition } from "../definition/types.ts";
import type { Job } from "./job.ts";
import { canResume, ON_ERROR_TASK } from "./task_graph.ts";

/**
 * The decision for an unfinished job at startup: it goes on where it stopped (taking a running
 * slot), it goes back on its wait list with the tasks of today's definition, or it ends as
 * canceled with `reason` as its error (`wasRunning` when a task of it ran when prunner stopped).
 */
export type RestoreDecision =
  | { readonly kind: "resume" }
  | { readonly kind: "wait" }
  | { readonly kind: "end"; readonly reason: string; readonly wasRunning: boolean };

/**
 * Decides what becomes of `job`, unfinished in the store, given its pipeline's definition
 * today (`undefined` when the pipeline is gone): a started job that ran nothing while it waited
 * out a retry delay goes on when the pipeline still has its tasks; another started job was
 * interrupted; a job that never started waits again. Jobs of pipelines that are gone end.
 *
 * @example
 * ```ts
 * decideRestore(job, definitions.get(job.pipeline)); // { kind: "wait" } for a waiting job
 * ```
 */
export function decideRestore(
  job: Job,
  definition: PipelineDefinition | undefined,
): RestoreDecision {
  if (canResume(job)) {
    if (definition && hasTasksOf(definition, job)) return { kind: "resume" };
    const reason = definition
      ? `interrupted: pipeline "${job.pipeline}" no longer has the job's tasks`
      : `canceled: pipeline "${job.pipeline}" no longer exists`;
    return { kind: "end", reason, wasRunning: false };
  }
  if (job.start !== null) {
    return {
      kind: "end",
      reason: "interrupted: prunner stopped while the job was running",
      wasRunning: true,
    };
  }
  if (!definition) {
    return {
      kind: "end",
      reason: `canceled: pipeline "${job.pipeline}" no longer exists`,
      wasRunning: false,
    };
  }
  return { kind: "wait" };
}

/** Whether the definition still has every task of the job (a reload may have changed it). */
function hasTasksOf(definition: PipelineDefinition, job: Job): boolean {
  return job.tasks.every((task) =>
    task.name === ON_ERROR_TASK || Object.hasOwn(definition.tasks, task.name)
  );
}
