import type { PipelineDefinition, TaskDefinition } from "../../src/definition/types.ts";
import { createJob } from "../../src/engine/create_job.ts";
import type { Job } from "../../src/engine/job.ts";

/** A pipeline definition with defaults, overridden by `fields`. */
export function pipeline(
  fields: Partial<Omit<PipelineDefinition, "tasks">> & {
    tasks?: Record<string, Partial<TaskDefinition>>;
  } = {},
): PipelineDefinition {
  const tasks: Record<string, TaskDefinition> = {};
  for (const [name, task] of Object.entries(fields.tasks ?? { only: {} })) {
    tasks[name] = {
      name,
      script: [],
      dependsOn: [],
      allowFailure: false,
      env: {},
      timeoutMs: null,
      retries: 0,
      retryDelayMs: 0,
      retryOnTimeout: false,
      ...task,
    };
  }
  return {
    name: "p",
    sourcePath: "pipelines.yml",
    concurrency: 1,
    queueLimit: null,
    queuePartitionLimit: null,
    queueStrategy: "append",
    startDelayMs: 0,
    continueRunningTasksAfterFailure: false,
    retentionPeriodMs: null,
    retentionCount: null,
    timeoutMs: null,
    env: {},
    onError: null,
    schedule: [],
    ...fields,
    tasks,
  };
}

/** A new, waiting job of `definition`, created at `now`, with a fixed id and no variables. */
export function newJob(definition: PipelineDefinition, now = 0): Job {
  return createJob(definition, {
    id: "00000000-0000-4000-8000-000000000000",
    now,
    variables: null,
    user: "",
    queuePartition: null,
  });
}
