/**
 * Creating a job from a pipeline definition.
 *
 * @module
 */
import type { PipelineDefinition } from "../definition/types.ts";
import { topologicalOrder } from "./dag.ts";
import type { Job, JobIdempotency, JobVariables, Task } from "./job.ts";

/** What a new job is made of besides its pipeline. */
export interface NewJobOptions {
  /** UUID v4 of the job. */
  id: string;
  /** Scheduling time, epoch ms. */
  now: number;
  variables: JobVariables | null;
  user: string;
  queuePartition: string | null;
  /** The idempotency key it was scheduled with, if any. */
  idempotency?: JobIdempotency | null;
}

/**
 * Creates a waiting job with one waiting task per task definition, in topological order with
 * ties broken by name.
 *
 * @example
 * ```ts
 * const job = createJob(definition, {
 *   id: crypto.randomUUID(),
 *   now: Date.now(),
 *   variables: { branch: "main" },
 *   user: "j.doe",
 *   queuePartition: null,
 * });
 * ```
 */
export function createJob(definition: PipelineDefinition, options: NewJobOptions): Job {
  return {
    id: options.id,
    pipeline: definition.name,
    tasks: createTasks(definition),
    completed: false,
    canceled: false,
    errored: false,
    created: options.now,
    start: null,
    end: null,
    lastError: null,
    variables: options.variables,
    user: options.user,
    queuePartition: options.queuePartition,
    ...(options.idempotency ? { idempotency: options.idempotency } : {}),
  };
}

/** One waiting task per task definition, in topological order with ties broken by name. */
export function createTasks(definition: PipelineDefinition): Task[] {
  const result = topologicalOrder(Object.values(definition.tasks));
  if (!result.ok) {
    throw new Error(`pipeline "${definition.name}" has a dependency cycle: ${result.cycle}`);
  }
  return result.order.map((name) => newTask(name, definition.tasks[name].dependsOn));
}

/** A task that has not run yet. */
export function newTask(name: string, dependsOn: readonly string[]): Task {
  return {
    name,
    dependsOn: [...dependsOn],
    status: "waiting",
    start: null,
    end: null,
    exitCode: 0,
    errored: false,
    error: null,
  };
}
