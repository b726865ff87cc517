/**
 * The runner's in-memory state, shared by its parts: the definitions for new jobs, each
 * pipeline's queue, and the jobs that wait or run.
 *
 * @module
 */
import type { Definitions, PipelineDefinition } from "../definition/types.ts";
import type { Job } from "../engine/job.ts";
import { emptyQueue, type PipelineQueue } from "../engine/wait_list.ts";
import type { TaskRun } from "../executor/run_task.ts";

/** A job that waits or runs. */
export interface ActiveJob {
  readonly job: Job;
  /** The definition the job was scheduled with; reloads do not change it. */
  readonly definition: PipelineDefinition;
  /** The task runs in progress, by task name. */
  readonly runs: Map<string, TaskRun>;
}

/** What the runner's parts share. */
export interface RunnerState {
  /** The definitions used for new jobs. */
  definitions: Definitions;
  /** Set once shutdown has begun: no job is accepted or started any more. */
  shuttingDown: boolean;
  /** Per pipeline: running count and wait list. */
  readonly queues: Map<string, PipelineQueue>;
  /** Jobs that wait or run, by id. */
  readonly active: Map<string, ActiveJob>;
}

/** A fresh state. */
export function createRunnerState(definitions: Definitions): RunnerState {
  return { definitions, shuttingDown: false, queues: new Map(), active: new Map() };
}

/** The pipeline's queue, created empty on first use. */
export function queueOf(state: RunnerState, pipeline: string): PipelineQueue {
  let queue = state.queues.get(pipeline);
  if (!queue) state.queues.set(pipeline, queue = emptyQueue());
  return queue;
}

/** How many jobs run, over all pipelines. */
export function runningCount(state: RunnerState): number {
  let count = 0;
  for (const queue of state.queues.values()) count += queue.running;
  return count;
}
