/**
 * The runner: keeps the engine's state for waiting and running jobs, starts task processes
 * through the executor and persists every change through the store.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Definitions, PipelineDefinition } from "../definition/types.ts";
import { createJob, createTasks } from "../engine/create_job.ts";
import type { Job, Task } from "../engine/job.ts";
import {
  addOnErrorTask,
  cancelJobTasks,
  finishTask,
  firstFailedTask,
  isSettled,
  markJobCompleted,
  markJobInterrupted,
  markJobStarted,
  markTaskStarted,
  needsOnError,
  ON_ERROR_TASK,
  readyTasks,
  type TaskOutcome,
} from "../engine/task_graph.ts";
import {
  admit,
  emptyQueue,
  isSchedulable,
  type PipelineQueue,
  removeWaiting,
  takeDueJobs,
} from "../engine/wait_list.ts";
import {
  JobCompletedError,
  JobNotFoundError,
  PipelineNotFoundError,
  QueueDisabledError,
  QueueFullError,
  ShuttingDownError,
  VariablesTooLargeError,
} from "../errors.ts";
import type { TaskRun } from "../executor/run_task.ts";
import type { TaskExecutor } from "../executor/task_executor.ts";
import type { LogStream, PipelineInfo, RunnerApi, ScheduleRequest } from "./api.ts";

/** Largest accepted JSON encoding of a job's variables, in bytes. */
export const MAX_VARIABLES_BYTES = 1024 * 1024;

/** How much of a failed task's output `on_error` receives, from the end, in bytes. */
export const ON_ERROR_OUTPUT_BYTES = 64 * 1024;

/** The persistence the runner needs. */
export interface RunnerStore {
  /** Persists the job's current state; resolves once committed. */
  save(job: Job): Promise<void>;
  get(id: string): Promise<Job | null>;
  /** All jobs, newest first. */
  list(): AsyncIterable<Job>;
}

/** Where task output lives. */
export interface RunnerLogs {
  /** The file a task's stream is written to (created, with its directory, on first output). */
  path(jobId: string, task: string, stream: LogStream): string;
  open(jobId: string, task: string, stream: LogStream): Promise<ReadableStream<Uint8Array> | null>;
}

/** Settings of a runner. */
export interface RunnerOptions {
  definitions: Definitions;
  store: RunnerStore;
  logs: RunnerLogs;
  /** Working directory of task processes. */
  cwd: string;
  /** Runs the tasks: prunner's task executor processes, or `inProcessExecutor`. */
  executor: TaskExecutor;
  /** Time between SIGINT and SIGKILL when a task is killed (default 2 s). */
  killTimeoutMs?: number;
  /** Called after a job ended, e.g. to apply retention. */
  onJobCompleted?: (job: Job) => void;
  /** Clock, epoch ms (tests). */
  now?: () => number;
}

/** How to shut down: let running jobs finish, or cancel them. */
export type ShutdownMode = "graceful" | "cancel";

/** The runner's operations: the API's plus lifecycle. */
export interface Runner extends RunnerApi {
  /**
   * Takes over the unfinished jobs found in the store at startup, oldest first: jobs that were
   * running are recorded as canceled, waiting jobs go back on their wait lists.
   */
  restore(unfinished: Job[]): Promise<void>;
  /** Replaces the definitions used for new jobs. */
  setDefinitions(definitions: Definitions): void;
  /** The definitions used for new jobs. */
  definitions(): Definitions;
  /** Whether shutdown has begun. */
  isShuttingDown(): boolean;
  /**
   * Stops accepting jobs and starting waiting ones, then waits until no job runs — after
   * killing them with `cancel`. Waiting jobs stay waiting in the store.
   */
  shutdown(mode: ShutdownMode): Promise<void>;
  /** Resolves when no job is running. */
  idle(): Promise<void>;
}

interface ActiveJob {
  readonly job: Job;
  /** The definition the job was scheduled with; reloads do not change it. */
  readonly definition: PipelineDefinition;
  readonly runs: Map<string, TaskRun>;
}

const log = getLogger(["prunner", "runner"]);

/**
 * Creates a runner.
 *
 * @example
 * ```ts
 * const executor = startTaskExecutor();
 * const runner = createRunner({ definitions, store, logs, executor, cwd: Deno.cwd() });
 * await runner.restore(await store.listUnfinished());
 * const job = await runner.schedule({
 *   pipeline: "build", variables: null, user: "", queuePartition: null,
 * });
 * ```
 */
export function createRunner(options: RunnerOptions): Runner {
  const now = options.now ?? Date.now;
  const killTimeoutMs = options.killTimeoutMs ?? 2000;
  const { store, logs, executor } = options;
  let definitions = options.definitions;
  let shuttingDown = false;
  const queues = new Map<string, PipelineQueue>();
  const active = new Map<string, ActiveJob>();
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  let idleWaiters: (() => void)[] = [];

  const queueOf = (pipeline: string): PipelineQueue => {
    let queue = queues.get(pipeline);
    if (!queue) queues.set(pipeline, queue = emptyQueue());
    return queue;
  };

  const persist = (job: Job): void => {
    store.save(job).catch((error) =>
      log.error("Cannot persist job {jobId}: {error}", { jobId: job.id, error: String(error) })
    );
  };

  const runningCount = (): number => {
    let count = 0;
    for (const queue of queues.values()) count += queue.running;
    return count;
  };

  const notifyIdle = (): void => {
    if (runningCount() > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  };

  const startDueJobs = (pipeline: string): void => {
    clearTimeout(timers.get(pipeline));
    timers.delete(pipeline);
    if (shuttingDown) return;
    const queue = queues.get(pipeline);
    if (!queue || queue.waiting.length === 0) return;
    const concurrency = definitions.get(pipeline)?.concurrency ??
      active.get(queue.waiting[0].id)?.definition.concurrency ?? 1;
    const at = now();
    const due = takeDueJobs(queue, concurrency, at);
    for (const waiting of due.start) startJob(active.get(waiting.id)!, at);
    if (due.wakeAt !== null) {
      timers.set(pipeline, setTimeout(() => startDueJobs(pipeline), Math.max(0, due.wakeAt - at)));
    }
  };

  const startJob = (entry: ActiveJob, at: number): void => {
    markJobStarted(entry.job, at);
    log.debug("Job {jobId} of {pipeline} started", {
      jobId: entry.job.id,
      pipeline: entry.job.pipeline,
    });
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
        completeJob(entry);
        return;
      }
    }
    persist(job);
  };

  interface Launch {
    lines: readonly string[];
    variables: Record<string, unknown>;
    env: Record<string, string>;
    allowFailure: boolean;
  }

  const launch = (entry: ActiveJob, task: Task, what: Launch | Promise<Launch>): void => {
    const { job } = entry;
    markTaskStarted(task, now());
    let killRequested = false;
    const pending: TaskRun = {
      done: Promise.resolve(what).then((resolved) => {
        if (killRequested) return { exitCode: -1, error: null, killed: true };
        const run = executor.run({
          ...resolved,
          cwd: options.cwd,
          stdoutPath: logs.path(job.id, task.name, "stdout"),
          stderrPath: logs.path(job.id, task.name, "stderr"),
          killTimeoutMs,
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
    for (const name of toKill) entry.runs.get(name)?.kill();
    advance(entry);
  };

  const runOnError = (entry: ActiveJob): void => {
    const { job, definition } = entry;
    const failed = firstFailedTask(job);
    const onError = definition.onError!;
    const task = addOnErrorTask(job);
    const prepare = async (): Promise<Launch> => ({
      lines: onError.script,
      variables: {
        ...(job.variables ?? {}),
        failedTaskName: failed?.name ?? "",
        failedTaskExitCode: failed?.exitCode ?? 0,
        failedTaskError: failed?.error ?? "",
        failedTaskStdout: failed ? await readTail(logs.path(job.id, failed.name, "stdout")) : "",
        failedTaskStderr: failed ? await readTail(logs.path(job.id, failed.name, "stderr")) : "",
      },
      env: { ...definition.env, ...onError.env, TASK_NAME: ON_ERROR_TASK },
      allowFailure: false,
    });
    launch(entry, task, prepare());
  };

  const completeJob = (entry: ActiveJob): void => {
    const { job } = entry;
    markJobCompleted(job, now());
    active.delete(job.id);
    const queue = queueOf(job.pipeline);
    if (job.start !== null) queue.running--;
    log.info("Job {jobId} of {pipeline} {outcome}", {
      jobId: job.id,
      pipeline: job.pipeline,
      outcome: job.canceled ? "canceled" : job.errored ? "failed" : "done",
    });
    persist(job);
    startDueJobs(job.pipeline);
    options.onJobCompleted?.(job);
    notifyIdle();
  };

  const cancelActive = (entry: ActiveJob): void => {
    const { job } = entry;
    if (job.start === null) {
      removeWaiting(queueOf(job.pipeline), job.id);
      cancelJobTasks(job);
      completeJob(entry);
      return;
    }
    for (const name of cancelJobTasks(job)) entry.runs.get(name)?.kill();
    advance(entry);
  };

  const runner: Runner = {
    listPipelines(): PipelineInfo[] {
      return [...definitions.values()]
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((definition) => {
          const queue = queueOf(definition.name);
          return {
            pipeline: definition.name,
            schedulable: !shuttingDown && isSchedulable(definition, queue),
            running: queue.running > 0,
          };
        });
    },

    async *listJobs(): AsyncIterable<Job> {
      for await (const job of store.list()) yield active.get(job.id)?.job ?? job;
    },

    async getJob(id: string): Promise<Job | null> {
      return active.get(id)?.job ?? await store.get(id);
    },

    schedule(request: ScheduleRequest): Promise<Job> {
      if (shuttingDown) return Promise.reject(new ShuttingDownError());
      const definition = definitions.get(request.pipeline);
      if (!definition) return Promise.reject(new PipelineNotFoundError(request.pipeline));
      if (request.variables !== null) {
        const size = new TextEncoder().encode(JSON.stringify(request.variables)).length;
        if (size > MAX_VARIABLES_BYTES) {
          return Promise.reject(new VariablesTooLargeError(size, MAX_VARIABLES_BYTES));
        }
      }
      const queue = queueOf(definition.name);
      const admission = admit(definition, queue, request.queuePartition);
      if (admission.kind === "refuse") {
        return Promise.reject(
          admission.reason === "queue_full"
            ? new QueueFullError(definition.name, admission.limit)
            : new QueueDisabledError(definition.name),
        );
      }
      const at = now();
      const job = createJob(definition, {
        id: crypto.randomUUID(),
        now: at,
        variables: request.variables,
        user: request.user,
        queuePartition: request.queuePartition,
      });
      const entry: ActiveJob = { job, definition, runs: new Map() };
      active.set(job.id, entry);
      const saved = store.save(job);
      if (admission.kind === "start") {
        queue.running++;
        startJob(entry, at);
      } else {
        if (admission.replaces !== null) {
          const replaced = active.get(admission.replaces);
          if (replaced) {
            log.info("Job {jobId} replaced by {newJobId} on the wait list", {
              jobId: replaced.job.id,
              newJobId: job.id,
            });
            cancelActive(replaced);
          }
        }
        queue.waiting.push({
          id: job.id,
          created: at,
          startDelayMs: definition.startDelayMs,
          partition: request.queuePartition,
        });
        startDueJobs(definition.name);
      }
      return saved.then(() => job);
    },

    async cancel(id: string): Promise<void> {
      const entry = active.get(id);
      if (entry) {
        if (!entry.job.canceled) cancelActive(entry);
        await store.save(entry.job);
        return;
      }
      const job = await store.get(id);
      if (!job) throw new JobNotFoundError(id);
      if (!job.canceled && job.completed) throw new JobCompletedError(id);
    },

    openLog(jobId: string, task: string, stream: LogStream) {
      return logs.open(jobId, task, stream);
    },

    async restore(unfinished: Job[]): Promise<void> {
      const at = now();
      const saves: Promise<void>[] = [];
      for (const job of unfinished) {
        const definition = definitions.get(job.pipeline);
        if (job.start !== null) {
          markJobInterrupted(job, "interrupted: prunner stopped while the job was running", at);
          log.warn("Job {jobId} was running when prunner stopped; marked canceled", {
            jobId: job.id,
          });
        } else if (!definition) {
          markJobInterrupted(
            job,
            `canceled: pipeline "${job.pipeline}" no longer exists`,
            at,
          );
        } else {
          // The job never started: its tasks follow the definition it will run with.
          job.tasks = createTasks(definition);
          active.set(job.id, { job, definition, runs: new Map() });
          queueOf(job.pipeline).waiting.push({
            id: job.id,
            created: job.created,
            startDelayMs: definition.startDelayMs,
            partition: job.queuePartition,
          });
          continue;
        }
        saves.push(store.save(job));
      }
      await Promise.all(saves);
      for (const pipeline of queues.keys()) startDueJobs(pipeline);
    },

    setDefinitions(next: Definitions): void {
      definitions = next;
      for (const pipeline of queues.keys()) startDueJobs(pipeline);
    },

    definitions: () => definitions,

    isShuttingDown: () => shuttingDown,

    async shutdown(mode: ShutdownMode): Promise<void> {
      shuttingDown = true;
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      if (mode === "cancel") {
        for (const entry of [...active.values()]) {
          if (entry.job.start !== null && !entry.job.canceled) cancelActive(entry);
        }
      }
      await runner.idle();
    },

    idle(): Promise<void> {
      if (runningCount() === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
  return runner;
}

/** Reads at most the last {@linkcode ON_ERROR_OUTPUT_BYTES} of a log file; "" when missing. */
async function readTail(path: string): Promise<string> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch {
    return "";
  }
  try {
    const size = (await file.stat()).size;
    const start = Math.max(0, size - ON_ERROR_OUTPUT_BYTES);
    await file.seek(start, Deno.SeekMode.Start);
    const buffer = new Uint8Array(size - start);
    let read = 0;
    while (read < buffer.length) {
      const n = await file.read(buffer.subarray(read));
      if (n === null) break;
      read += n;
    }
    return new TextDecoder().decode(buffer.subarray(0, read));
  } finally {
    file.close();
  }
}
