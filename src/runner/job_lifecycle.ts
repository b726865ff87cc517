/**
 * The life of a started job: which tasks start, what a finished task means for the others,
 * `on_error`, cancellation and completion. The engine decides; this applies its decisions
 * through the executor, persists every change and publishes it as an event.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Task } from "../engine/job.ts";
import {
  addOnErrorTask,
  cancelJobTasks,
  finishTask,
  firstFailedTask,
  isSettled,
  markJobCompleted,
  markJobStarted,
  markTaskStarted,
  needsOnError,
  ON_ERROR_TASK,
  readyTasks,
  type TaskOutcome,
} from "../engine/task_graph.ts";
import type { TaskRun } from "../executor/run_task.ts";
import type { TaskExecutor } from "../executor/task_executor.ts";
import type { LogStream } from "./api.ts";
import type { EventHub } from "./events.ts";
import { onErrorVariables } from "./on_error.ts";
import type { Persister } from "./persistence.ts";
import { type ActiveJob, queueOf, type RunnerState } from "./state.ts";

/** Where task output lives. */
export interface RunnerLogs {
  /** The file a task's stream is written to (created, with its directory, on first output). */
  path(jobId: string, task: string, stream: LogStream): string;
  open(jobId: string, task: string, stream: LogStream): Promise<ReadableStream<Uint8Array> | null>;
}

/** What the job lifecycle acts through. */
export interface JobLifecycleOptions {
  readonly state: RunnerState;
  readonly executor: TaskExecutor;
  readonly logs: RunnerLogs;
  readonly persister: Persister;
  readonly events: EventHub;
  /** Working directory of task processes. */
  readonly cwd: string;
  /** Time between SIGINT and SIGKILL when a task is killed. */
  readonly killTimeoutMs: number;
  readonly now: () => number;
  /** Called once a job has ended and left the active jobs. */
  readonly onCompleted: (entry: ActiveJob) => void;
}

/** Drives started jobs. */
export interface JobLifecycle {
  /** Starts a job whose slot is taken: marks it started and launches its first tasks. */
  start(entry: ActiveJob, at: number): void;
  /**
   * Cancels a job: a waiting one ends at once (the caller takes it off its wait list first), a
   * running one has its tasks killed and ends when they have stopped.
   */
  cancel(entry: ActiveJob): void;
}

/** What a task process is started with, besides what every task shares. */
interface Launch {
  lines: readonly string[];
  variables: Record<string, unknown>;
  env: Record<string, string>;
  allowFailure: boolean;
}

const log = getLogger(["prunner", "runner"]);

/**
 * Creates the job lifecycle.
 *
 * @example
 * ```ts
 * const lifecycle = createJobLifecycle({ state, executor, logs, persister, events, cwd,
 *   killTimeoutMs: 2000, now: Date.now, onCompleted: (entry) => startDueJobs(entry.job.pipeline) });
 * lifecycle.start(entry, Date.now());
 * ```
 */
export function createJobLifecycle(options: JobLifecycleOptions): JobLifecycle {
  const { state, executor, logs, persister, events, now } = options;

  const start = (entry: ActiveJob, at: number): void => {
    markJobStarted(entry.job, at);
    log.debug("Job {jobId} of {pipeline} started", {
      jobId: entry.job.id,
      pipeline: entry.job.pipeline,
    });
    events.emit({ type: "job_started", job: entry.job });
    advance(entry);
  };

  /** Starts whatever may start, and completes the job when nothing is left. */
  const advance = (entry: ActiveJob): void => {
    const { job, definition } = entry;
    if (!job.canceled) {
      for (const task of readyTasks(job)) {
        const taskDefinition = definition.tasks[task.name];
        launch(entry, task, {
          lines: taskDefinition.script,
          variables: job.variables ?? {},
          env: { ...definition.env, ...taskDefinition.env, TASK_NAME: task.name },
          allowFailure: taskDefinition.allowFailure,
        });
      }
    }
    if (entry.runs.size === 0 && isSettled(job)) {
      if (needsOnError(job, definition.onError !== null)) {
        runOnError(entry);
      } else {
        complete(entry);
        return;
      }
    }
    persister.persist(job);
  };

  const launch = (entry: ActiveJob, task: Task, what: Launch | Promise<Launch>): void => {
    const { job } = entry;
    markTaskStarted(task, now());
    events.emit({ type: "task_started", job, task });
    let killRequested = false;
    const pending: TaskRun = {
      done: Promise.resolve(what).then((resolved) => {
        if (killRequested) return { exitCode: -1, error: null, killed: true };
        const run = executor.run({
          ...resolved,
          cwd: options.cwd,
          stdoutPath: logs.path(job.id, task.name, "stdout"),
          stderrPath: logs.path(job.id, task.name, "stderr"),
          killTimeoutMs: options.killTimeoutMs,
        });
        pending.kill = run.kill;
        return run.done;
      }).catch((error): TaskOutcome => ({ exitCode: -1, error: String(error), killed: false })),
      kill: () => {
        killRequested = true;
      },
    };
    entry.runs.set(task.name, pending);
    pending.done.then((outcome) => onTaskDone(entry, task, outcome));
  };

  const onTaskDone = (entry: ActiveJob, task: Task, outcome: TaskOutcome): void => {
    entry.runs.delete(task.name);
    const { job, definition } = entry;
    const toKill = finishTask(
      job,
      task,
      outcome,
      definition.continueRunningTasksAfterFailure,
      now(),
    );
    if (task.errored) {
      log.info("Task {task} of job {jobId} failed: {error}", {
        task: task.name,
        jobId: job.id,
        error: task.error,
      });
    }
    events.emit({ type: "task_finished", job, task });
    for (const name of toKill) entry.runs.get(name)?.kill();
    advance(entry);
  };

  const runOnError = (entry: ActiveJob): void => {
    const { job, definition } = entry;
    const onError = definition.onError!;
    const failed = firstFailedTask(job);
    const task = addOnErrorTask(job);
    const prepare = async (): Promise<Launch> => ({
      lines: onError.script,
      variables: await onErrorVariables(
        job,
        failed,
        (name, stream) => logs.path(job.id, name, stream),
      ),
      env: { ...definition.env, ...onError.env, TASK_NAME: ON_ERROR_TASK },
      allowFailure: false,
    });
    launch(entry, task, prepare());
  };

  const complete = (entry: ActiveJob): void => {
    const { job } = entry;
    markJobCompleted(job, now());
    state.active.delete(job.id);
    if (job.start !== null) queueOf(state, job.pipeline).running--;
    log.info("Job {jobId} of {pipeline} {outcome}", {
      jobId: job.id,
      pipeline: job.pipeline,
      outcome: job.canceled ? "canceled" : job.errored ? "failed" : "done",
    });
    persister.persist(job);
    events.emit({ type: "job_completed", job });
    options.onCompleted(entry);
  };

  const cancel = (entry: ActiveJob): void => {
    const { job } = entry;
    const running = cancelJobTasks(job);
    if (job.start === null) {
      complete(entry);
      return;
    }
    for (const name of running) entry.runs.get(name)?.kill();
    advance(entry);
  };

  return { start, cancel };
}
