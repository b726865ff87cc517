/**
 * Taking over the unfinished jobs found in the store at startup.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { PipelineDefinition } from "../definition/types.ts";
import { createTasks } from "../engine/create_job.ts";
import type { Job } from "../engine/job.ts";
import { canResume, markJobInterrupted, ON_ERROR_TASK } from "../engine/task_graph.ts";
import type { Admission } from "./admission.ts";
import type { JobLifecycle } from "./job_lifecycle.ts";
import type { Persister } from "./persistence.ts";
import { type ActiveJob, queueOf, type RunnerState } from "./state.ts";

/** What restoring acts through. */
export interface RestoreOptions {
  readonly state: RunnerState;
  readonly admission: Admission;
  readonly lifecycle: JobLifecycle;
  readonly persister: Persister;
  readonly now: () => number;
}

const log = getLogger(["prunner", "runner"]);

/**
 * Takes over `unfinished` jobs, oldest first: started jobs that ran nothing while they waited
 * out a retry delay go on (when their pipeline still has their tasks), other started jobs are
 * recorded as interrupted, and jobs that never started go back on their wait lists with the
 * tasks of today's definition. Jobs of pipelines that are gone are canceled.
 *
 * @example
 * ```ts
 * restoreJobs(await store.listUnfinished(), { state, admission, lifecycle, persister, now });
 * ```
 */
export function restoreJobs(unfinished: readonly Job[], options: RestoreOptions): void {
  const { state, admission, lifecycle, persister } = options;
  const at = options.now();
  const resumed: ActiveJob[] = [];
  for (const job of unfinished) {
    const definition = state.definitions.get(job.pipeline);
    if (canResume(job) && definition && hasTasksOf(definition, job)) {
      const entry = { job, definition, runs: new Map() };
      state.active.set(job.id, entry);
      queueOf(state, job.pipeline).running++;
      resumed.push(entry);
      log.info("Job {jobId} of {pipeline} goes on: it was waiting out a retry delay", {
        jobId: job.id,
        pipeline: job.pipeline,
      });
      continue;
    }
    if (canResume(job)) {
      markJobInterrupted(
        job,
        definition
          ? `interrupted: pipeline "${job.pipeline}" no longer has the job's tasks`
          : `canceled: pipeline "${job.pipeline}" no longer exists`,
        at,
      );
    } else if (job.start !== null) {
      markJobInterrupted(job, "interrupted: prunner stopped while the job was running", at);
      log.warn("Job {jobId} was running when prunner stopped; marked canceled", {
        jobId: job.id,
      });
    } else if (!definition) {
      markJobInterrupted(job, `canceled: pipeline "${job.pipeline}" no longer exists`, at);
    } else {
      // The job never started: its tasks follow the definition it will run with.
      job.tasks = createTasks(definition);
      const entry = { job, definition, runs: new Map() };
      state.active.set(job.id, entry);
      admission.requeue(entry);
      continue;
    }
    persister.persist(job);
  }
  for (const entry of resumed) lifecycle.resume(entry);
  for (const pipeline of state.queues.keys()) admission.startDue(pipeline);
}

/** Whether the definition still has every task of the job (a reload may have changed it). */
function hasTasksOf(definition: PipelineDefinition, job: Job): boolean {
  return job.tasks.every((task) =>
    task.name === ON_ERROR_TASK || Object.hasOwn(definition.tasks, task.name)
  );
}
