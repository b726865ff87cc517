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
import type { LogStore } from "../store/types.ts";
import { type ActiveJob, requeued, resumed, type RunnerState } from "./state.ts";

/** What restoring acts through. */
export interface RestoreOptions {
  readonly state: RunnerState;
  readonly admission: Admission;
  readonly lifecycle: JobLifecycle;
  readonly persister: Persister;
  readonly logs: Pick<LogStore, "ended">;
  readonly now: () => number;
}

const log = getLogger(["prunner", "runner"]);

/**
 * Takes over `unfinished` jobs, oldest first: started jobs that ran nothing while they waited
 * out a retry delay go on (when their pipeline still has their tasks), other started jobs are
 * recorded as interrupted, and jobs that never started go back on their wait lists with the
 * tasks of today's definition. Jobs of pipelines that are gone are canceled. Then the output of
 * every attempt that started jobs had when prunner stopped is handed to `logs.ended` (a stop may
 * have cut off its copying); resolves once that is done, so that retention comes after it.
 *
 * @example
 * ```ts
 * await restoreJobs(await store.listUnfinished(), {
 *   state, admission, lifecycle, persister, logs, now,
 * });
 * ```
 */
export async function restoreJobs(
  unfinished: readonly Job[],
  options: RestoreOptions,
): Promise<void> {
  const { state, admission, lifecycle, persister, logs } = options;
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
  // Before the resumed jobs go on, while their tasks still name the attempts that ran.
  const shipped = unfinished.flatMap((job) =>
    job.start === null
      ? []
      : job.tasks.filter((task) => task.start !== null).map((task) =>
        logs.ended(job.id, task.name, task.attempt).catch((error) =>
          log.warn("The output of task {task} of job {jobId} could not be stored: {error}", {
            task: task.name,
            jobId: job.id,
            error,
          })
        )
      )
  );
  for (const entry of resumedJobs) lifecycle.resume(entry);
  for (const pipeline of state.queues.keys()) admission.startDue(pipeline);
  await Promise.all(shipped);
}
