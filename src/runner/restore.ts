/**
 * Taking over the unfinished jobs found in the store at startup.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { createTasks } from "../engine/create_job.ts";
import type { Job } from "../engine/job.ts";
import { decideRestore } from "../engine/restore.ts";
import { markJobInterrupted } from "../engine/task_graph.ts";
import type { Admission } from "./admission.ts";
import type { JobLifecycle } from "./job_lifecycle.ts";
import type { Persister } from "./persistence.ts";
import { type ActiveJob, requeued, resumed, type RunnerState } from "./state.ts";

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
  const resumedJobs: ActiveJob[] = [];
  for (const job of unfinished) {
    const definition = state.definitions.get(job.pipeline);
    const decision = decideRestore(job, definition);
    switch (decision.kind) {
      case "resume": {
        const entry = { job, definition: definition!, runs: new Map() };
        resumed(state, entry);
        resumedJobs.push(entry);
        log.info("Job {jobId} of {pipeline} goes on: it was waiting out a retry delay", {
          jobId: job.id,
          pipeline: job.pipeline,
        });
        break;
      }
      case "wait":
        // The job never started: its tasks follow the definition it will run with.
        job.tasks = createTasks(definition!);
        requeued(state, { job, definition: definition!, runs: new Map() });
        break;
      case "end":
        markJobInterrupted(job, decision.reason, at);
        if (decision.wasRunning) {
          log.warn("Job {jobId} was running when prunner stopped; marked canceled", {
            jobId: job.id,
          });
        }
        persister.persist(job);
    }
  }
  for (const entry of resumedJobs) lifecycle.resume(entry);
  for (const pipeline of state.queues.keys()) admission.startDue(pipeline);
}
