/**
 * The life of a started job: which tasks start, what a finished task means for the others,
 * timeouts, retries, `on_error`, cancellation and completion. The engine decides; this applies
 * its decisions through the executor, persists every change and publishes it as an event.
 *
 * Each job has at most one timer, armed for the next moment something is due: a task's or the
 * pipeline's deadline, or the end of a retry delay. When it fires, the job advances.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { checkDeadlines } from "../engine/deadlines.ts";
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
  nextRetryAt,
  ON_ERROR_TASK,
  readyTasks,
  type TaskOutcome,
} from "../engine/task_graph.ts";
import { formatDurationShort } from "../definition/duration.ts";
import type { TaskRun } from "../executor/run_task.ts";
import type { TaskExecutor } from "../executor/task_executor.ts";
import type { LogStore } from "../store/types.ts";
import type { EventHub } from "./events.ts";
import { onErrorVariables } from "./on_error.ts";
import type { Persister } from "./persistence.ts";
import { type ActiveJob, ended, type RunnerState } from "./state.ts";
import { valueWithin } from "../timeout.ts";

/** Where task output lives: one file per stream and attempt, as the log store keeps them. */
export type RunnerLogs = LogStore;

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
  /** Called once shutdown has set aside a job that waits out a retry delay (see `park`). */
  readonly onParked: (entry: ActiveJob) => void;
}

/**
 * A new job's first tasks, started while the job's first commit is in flight and held before
 * their first line until it has landed: the commit and the processes' start overlap, and the
 * job is stored with its start in one commit.
 */
export interface PreparedStart {
  /** The job is stored: its start is published and its tasks' first lines run. */
  release(): void;
  /** The job was not stored: its held tasks are killed before running anything. */
  drop(): void;
  /**
   * The job is stored, but shutdown began meanwhile: like `drop`, and the job is stored again
   * as waiting, so that it runs after the restart.
   */
  defer(): void;
}

/** Drives started jobs. */
export interface JobLifecycle {
  /** Starts a job whose slot is taken: marks it started and launches its first tasks. */
  start(entry: ActiveJob, at: number): void;
  /**
   * Starts a new job whose slot is taken before it is stored: marks it and its first tasks
   * started (so its first commit stores that), and starts their processes held. Nothing is
   * published or persisted until the returned start is released.
   */
  prepareStart(entry: ActiveJob, at: number): PreparedStart;
  /**
   * Goes on with a started job restored from the store (see `canResume`): its slot is taken;
   * its tasks waiting out a retry delay run when the delay ends.
   */
  resume(entry: ActiveJob): void;
  /**
   * Cancels a job: a waiting one leaves its wait list and ends at once, a running one has its
   * tasks killed and ends when they have stopped.
   */
  cancel(entry: ActiveJob): void;
  /**
   * At shutdown: sets aside every started job that runs nothing and waits out a retry delay.
   * It leaves the active jobs and its slot, unfinished in the store, and goes on after the next
   * start. Jobs that still run something are set aside once it has stopped.
   */
  parkRetryWaits(): void;
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
 * Longest wait for a task's output to be stored before its end is recorded: a log store that is
 * away (a cluster's database) delays no job longer; its output is stored later.
 */
const OUTPUT_WAIT_MS = 2_000;

/** What the process of one of the job's tasks is started with. */
function taskLaunch({ job, definition }: ActiveJob, task: Task): Launch {
  const taskDefinition = definition.tasks[task.name];
  return {
    lines: taskDefinition.script,
    variables: job.variables ?? {},
    env: { ...definition.env, ...taskDefinition.env, TASK_NAME: task.name },
    allowFailure: taskDefinition.allowFailure,
  };
}

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
  const timers = new Map<string, ReturnType<typeof setTimeout>>();

  const clearTimer = (jobId: string): void => {
    clearTimeout(timers.get(jobId));
    timers.delete(jobId);
  };

  /** Arms the job's timer for `at` (epoch ms), or clears it for `null`. */
  const wakeAt = (entry: ActiveJob, at: number | null): void => {
    clearTimer(entry.job.id);
    if (at === null) return;
    timers.set(
      entry.job.id,
      setTimeout(() => {
        timers.delete(entry.job.id);
        if (state.active.get(entry.job.id) === entry) advance(entry);
      }, Math.max(0, at - now())),
    );
  };

  const start = (entry: ActiveJob, at: number): void => {
    markJobStarted(entry.job, at);
    log.debug("Job {jobId} of {pipeline} started", {
      jobId: entry.job.id,
      pipeline: entry.job.pipeline,
    });
    events.emit({ type: "job_started", job: entry.job });
    advance(entry);
  };

  const prepareStart = (entry: ActiveJob, at: number): PreparedStart => {
    const { job, definition } = entry;
    const before = structuredClone(job.tasks);
    markJobStarted(job, at);
    const stored = Promise.withResolvers<void>();
    const held = readyTasks(job, at).map((task) => {
      markTaskStarted(task, at);
      return { task, run: runHeld(entry, task, taskLaunch(entry, task), stored.promise) };
    });
    let settled = false;
    const stop = (): void => {
      settled = true;
      // The go-ahead never comes: each process is killed waiting for it.
      for (const { run } of held) run.kill();
      job.start = null;
      job.tasks.splice(0, job.tasks.length, ...before);
    };
    return {
      release() {
        if (settled) return;
        settled = true;
        log.debug("Job {jobId} of {pipeline} started", {
          jobId: job.id,
          pipeline: job.pipeline,
        });
        events.emit({ type: "job_started", job });
        for (const { task, run } of held) {
          events.emit({ type: "task_started", job, task });
          entry.runs.set(task.name, run);
          settle(entry, task, run);
        }
        stored.resolve();
        if (held.length === 0) advance(entry);
        else wakeAt(entry, checkDeadlines(job, definition, now()).nextAt);
      },
      drop() {
        if (!settled) stop();
      },
      defer() {
        if (settled) return;
        stop();
        persister.persist(job);
      },
    };
  };

  /**
   * Stops tasks whose time is up, starts whatever may start, and completes the job when
   * nothing is left; at shutdown, sets it aside when it only waits out a retry delay.
   */
  const advance = (entry: ActiveJob): void => {
    const { job, definition } = entry;
    const at = now();
    // Tasks started here run once their start is stored (or the store refused it): a restart
    // after a crash then finds every task that ran recorded as started, and runs none twice.
    const stored = Promise.withResolvers<void>();
    const deadlines = checkDeadlines(job, definition, at);
    for (const name of deadlines.stop) stopForTimeout(entry, name);
    if (!job.canceled) {
      for (const task of readyTasks(job, at)) {
        // Shutdown interrupts retry delays: the next attempt runs after the restart.
        if (state.shuttingDown && task.retryAt !== undefined) continue;
        launch(entry, task, taskLaunch(entry, task), stored.promise);
      }
    }
    if (entry.runs.size === 0 && isSettled(job)) {
      if (needsOnError(job, definition.onError !== null)) {
        runOnError(entry, stored.promise);
      } else {
        complete(entry);
        return;
      }
    }
    if (state.shuttingDown && entry.runs.size === 0 && nextRetryAt(job) !== null) {
      park(entry);
      return;
    }
    // Deadlines of tasks started just now count from now.
    const next = checkDeadlines(job, definition, at).nextAt;
    const retry = nextRetryAt(job);
    wakeAt(entry, next === null ? retry : retry === null ? next : Math.min(next, retry));
    stored.resolve(persister.persist(job));
  };

  const stopForTimeout = (entry: ActiveJob, name: string): void => {
    const task = entry.job.tasks.find((t) => t.name === name)!;
    log.info("Task {task} of job {jobId} {error}; stopping it", {
      task: name,
      jobId: entry.job.id,
      error: task.timeout?.error,
    });
    events.emit({ type: "task_timed_out", job: entry.job, task, by: task.timeout!.by });
    entry.runs.get(name)?.kill();
  };

  const park = (entry: ActiveJob): void => {
    const { job } = entry;
    clearTimer(job.id);
    ended(state, entry);
    log.info("Job {jobId} of {pipeline} waits out a retry delay; it goes on after the restart", {
      jobId: job.id,
      pipeline: job.pipeline,
    });
    persister.persist(job);
    options.onParked(entry);
  };

  /** Starts `task`; its first line runs once `stored` has settled. */
  const launch = (
    entry: ActiveJob,
    task: Task,
    what: Launch | Promise<Launch>,
    stored: Promise<void>,
  ): void => {
    const { job } = entry;
    markTaskStarted(task, now());
    events.emit({ type: "task_started", job, task });
    const run = runHeld(entry, task, what, stored);
    entry.runs.set(task.name, run);
    settle(entry, task, run);
  };

  /** Starts the process of `task` (once `what` is known); its first line waits for `ready`. */
  const runHeld = (
    entry: ActiveJob,
    task: Task,
    what: Launch | Promise<Launch>,
    ready: Promise<void>,
  ): TaskRun => {
    const { job } = entry;
    let killRequested = false;
    const pending: TaskRun = {
      done: Promise.resolve(what).then((resolved) => {
        if (killRequested) return { exitCode: -1, error: null, killed: true };
        const run = executor.run({
          ...resolved,
          cwd: options.cwd,
          stdoutPath: logs.path(job.id, task.name, "stdout", task.attempt),
          stderrPath: logs.path(job.id, task.name, "stderr", task.attempt),
          killTimeoutMs: options.killTimeoutMs,
        }, ready);
        logs.started(job.id, task.name, task.attempt);
        pending.kill = run.kill;
        return run.done;
      }).catch((error): TaskOutcome => ({ exitCode: -1, error: String(error), killed: false })),
      kill: () => {
        killRequested = true;
      },
    };
    return pending;
  };

  /**
   * Records the end of `task` once its process has ended and its output is stored (waited for
   * at most {@linkcode OUTPUT_WAIT_MS}), so that wherever the task is seen ended (on another node
   * of a cluster too) its whole output can be read. The end time is the process's.
   */
  const settle = (entry: ActiveJob, task: Task, run: TaskRun): void => {
    run.done.then(async (outcome) => {
      const at = now();
      const { job } = entry;
      const stored = logs.ended(job.id, task.name, task.attempt, outcome.logged).catch((error) =>
        log.warn("The output of task {task} of job {jobId} could not be stored: {error}", {
          task: task.name,
          jobId: job.id,
          error,
        })
      );
      await valueWithin(stored, OUTPUT_WAIT_MS);
      onTaskDone(entry, task, outcome, at);
    });
  };

  const onTaskDone = (entry: ActiveJob, task: Task, outcome: TaskOutcome, at: number): void => {
    entry.runs.delete(task.name);
    const { job, definition } = entry;
    const toKill = finishTask(
      job,
      task,
      outcome,
      definition.continueRunningTasksAfterFailure,
      at,
      definition.tasks[task.name] ?? null,
    );
    if (task.retryAt !== undefined) {
      log.info("Task {task} of job {jobId} failed: {error}; attempt {attempt} runs in {delay}", {
        task: task.name,
        jobId: job.id,
        error: task.error,
        attempt: (task.attempt ?? 1) + 1,
        delay: formatDurationShort(task.retryAt - (task.end ?? task.retryAt)),
      });
    } else if (task.errored) {
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

  const runOnError = (entry: ActiveJob, stored: Promise<void>): void => {
    const { job, definition } = entry;
    const onError = definition.onError!;
    const failed = firstFailedTask(job);
    const task = addOnErrorTask(job);
    const prepare = async (): Promise<Launch> => ({
      lines: onError.script,
      variables: await onErrorVariables(
        job,
        failed,
        (name, stream) => logs.path(job.id, name, stream, failed?.attempt),
      ),
      env: { ...definition.env, ...onError.env, TASK_NAME: ON_ERROR_TASK },
      allowFailure: false,
    });
    launch(entry, task, prepare(), stored);
  };

  const complete = (entry: ActiveJob): void => {
    const { job } = entry;
    clearTimer(job.id);
    markJobCompleted(job, now());
    ended(state, entry);
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

  return {
    start,
    prepareStart,
    resume: advance,
    cancel,
    parkRetryWaits() {
      for (const entry of [...state.active.values()]) {
        if (entry.job.start !== null && entry.runs.size === 0 && nextRetryAt(entry.job) !== null) {
          park(entry);
        }
      }
    },
  };
}
