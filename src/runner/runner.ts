/**
 * The runner: keeps the state of waiting and running jobs, starts task processes through the
 * executor, persists every change through the store and publishes it as an event. Its parts:
 * admission (`admission.ts`: start, wait or refuse; start delays), the job lifecycle
 * (`job_lifecycle.ts`: tasks, timeouts, retries, `on_error`, cancel, completion), persistence
 * (`persistence.ts`: retried in the background), the checks of new jobs' variables
 * (`variables.ts`) and restoring jobs at startup (`restore.ts`), sharing the state in
 * `state.ts`.
 *
 * @module
 */
import { KILL_TIMEOUT_MS } from "../executor/process_group.ts";
import { getLogger } from "@logtape/logtape";
import type { Definitions, PipelineDefinition } from "../definition/types.ts";
import {
  decideReplay,
  DEFAULT_IDEMPOTENCY_TTL_MS,
  requestFingerprint,
} from "../engine/idempotency.ts";
import type { Job, JobIdempotency } from "../engine/job.ts";
import { isSchedulable, type PipelineQueue } from "../engine/wait_list.ts";
import {
  errorMessage,
  IdempotencyKeyReusedError,
  JobCompletedError,
  JobNotFoundError,
  JobNotStoredError,
  PipelineNotFoundError,
  PrunnerError,
  ShuttingDownError,
} from "../errors.ts";
import { StoreWriteError } from "../store/errors.ts";
import type { TaskExecutor } from "../executor/task_executor.ts";
import { createAdmission } from "./admission.ts";
import { createClusterRunner } from "./cluster.ts";
import type { ClusterStore } from "../store/cluster.ts";
import type {
  LogStream,
  PipelineInfo,
  RunnerApi,
  ScheduleOutcome,
  ScheduleRequest,
} from "./api.ts";
import { createEventHub, type EventHub } from "./events.ts";
import { createJobLifecycle, type RunnerLogs } from "./job_lifecycle.ts";
import { createPersister, type RunnerStore } from "./persistence.ts";
import { listPage } from "./paging.ts";
import { restoreJobs } from "./restore.ts";
import {
  createRunnerState,
  definitionsReplaced,
  isReserved,
  queueOf,
  reservedSlots,
  runningCount,
  shutdownBegun,
} from "./state.ts";
import { createTriggers } from "./triggers.ts";
import { checkVariables } from "./variables.ts";
import type { TriggerTick } from "../store/types.ts";

export type { RunnerLogs } from "./job_lifecycle.ts";
export type { RunnerStore } from "./persistence.ts";
export { ON_ERROR_OUTPUT_BYTES } from "./on_error.ts";
export { MAX_VARIABLES_BYTES, MAX_VARIABLES_DEPTH, nestingDepth } from "./variables.ts";

/** Settings of a runner. */
export interface RunnerOptions {
  definitions: Definitions;
  store: RunnerStore;
  logs: RunnerLogs;
  /** Working directory of task processes. */
  cwd: string;
  /** Runs the tasks: prunner's task executor processes, or `inProcessExecutor`. */
  executor: TaskExecutor;
  /** Where the runner publishes its events (default: a new hub, see `runner.events`). */
  events?: EventHub;
  /** Time between SIGINT and SIGKILL when a task is killed (default 2 s). */
  killTimeoutMs?: number;
  /** How long a job's idempotency key is kept, in ms (default 24 h). */
  idempotencyTtlMs?: number;
  /** Called after a job ended, e.g. to apply retention. */
  onJobCompleted?: (job: Job) => void;
  /**
   * Run as a node of a cluster: wait lists, limits and starts are decided across the cluster
   * through its store, and `node` names this node (see `cluster.ts`).
   */
  cluster?: { store: ClusterStore; node: string };
  /** Clock, epoch ms (tests). */
  now?: () => number;
}

/** How many jobs of a pipeline run (retry delays included) and wait right now. */
export interface PipelineLoad {
  readonly pipeline: string;
  readonly running: number;
  readonly waiting: number;
}

/** How to shut down: let running jobs finish, or cancel them. */
export type ShutdownMode = "graceful" | "cancel";

/** The runner's operations: the API's plus lifecycle. */
export interface Runner extends RunnerApi {
  /** The runner's events: every change of a job, and reloads. */
  readonly events: EventHub;
  /**
   * Takes over the unfinished jobs found in the store at startup, oldest first: jobs that were
   * running are recorded as canceled, waiting jobs go back on their wait lists, and started jobs
   * that ran nothing while they waited out a retry delay go on (unless their pipeline is gone
   * or no longer has their tasks).
   */
  restore(unfinished: Job[]): Promise<void>;
  /**
   * Starts the triggers of the pipelines' `schedule` (after `restore`, so that restored jobs
   * keep their places): `stored` are the newest ticks the store knows (`triggerTicks()`).
   * Ticks missed since then start jobs as each trigger's `catch_up` says.
   */
  startTriggers(stored: readonly TriggerTick[]): void;
  /** How many jobs of each pipeline with jobs run and wait, e.g. for metrics. */
  load(): PipelineLoad[];
  /** Replaces the definitions used for new jobs. */
  setDefinitions(definitions: Definitions): void;
  /** The definitions used for new jobs. */
  definitions(): Definitions;
  /** Whether shutdown has begun. */
  isShuttingDown(): boolean;
  /**
   * Stops accepting jobs and starting waiting ones, then waits until no job runs — after
   * killing them with `cancel`. Waiting jobs stay waiting in the store, and so do started jobs
   * that only wait out a retry delay (in both modes): they go on after the next start.
   */
  shutdown(mode: ShutdownMode): Promise<void>;
  /** Resolves when no job is running. */
  idle(): Promise<void>;
  /**
   * Writes the job changes the store could not take yet, trying for at most `timeoutMs`;
   * resolves with the ids of the jobs whose latest state is still not stored.
   */
  flush(timeoutMs: number): Promise<string[]>;
  /** Why job changes cannot be stored right now (they are kept and retried), or `null`. */
  storeFailure(): string | null;
  /**
   * In a cluster: cancels every job this node runs, giving `reason` as their error (this node
   * lost the cluster, which may have given its jobs up).
   */
  stopLocalJobs(reason: string): void;
  /** In a cluster: another node took the job of `node` over, or one changed the cluster's load. */
  clusterChanged(): void;
  /** In a cluster: takes over the jobs of `node`, which is gone (see `ClusterRunner.takeOver`). */
  takeOver(node: string, reason: string): Promise<void>;
  /** In a cluster: another node left due work in `pipeline`. */
  startDue(pipeline: string): void;
  /** In a cluster: starts the due jobs of every pipeline with waiting jobs (after an outage). */
  startWaiting(): Promise<void>;
}

const log = getLogger(["prunner", "runner"]);

/**
 * Creates a runner.
 *
 * @example
 * ```ts
 * const executor = startTaskExecutor();
 * const runner = createRunner({ definitions, store, logs, executor, cwd: Deno.cwd() });
 * runner.events.subscribe((event) => console.log(event.type));
 * await runner.restore(await store.listUnfinished());
 * const job = await runner.schedule({
 *   pipeline: "build", variables: null, user: "", queuePartition: null,
 * });
 * ```
 */
export function createRunner(options: RunnerOptions): Runner {
  const now = options.now ?? Date.now;
  const { store, logs } = options;
  const events = options.events ?? createEventHub();
  const state = createRunnerState(options.definitions);
  // In a cluster, a job's end is stored in the transaction that decides what its end lets
  // start, not in one of its own before it.
  const persister = createPersister(
    options.cluster
      ? { save: (job) => job.completed ? cluster!.completed(job) : store.save(job) }
      : store,
  );
  const idempotencyTtlMs = options.idempotencyTtlMs ?? DEFAULT_IDEMPOTENCY_TTL_MS;
  /**
   * Requests with an idempotency key in progress, by user and key: the job they got, and
   * whether they created it. Later requests with the key wait for it rather than look it up
   * in the store, where it is found only once stored.
   */
  const keyed = new Map<string, Promise<{ job: Job; created: boolean }>>();
  let idleWaiters: (() => void)[] = [];
  /** Set while new jobs are refused because the store fails: logged once per episode. */
  let refusing = false;

  const notifyIdle = (): void => {
    if (busy()) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  };

  const lifecycle = createJobLifecycle({
    state,
    executor: options.executor,
    logs,
    persister,
    events,
    cwd: options.cwd,
    killTimeoutMs: options.killTimeoutMs ?? KILL_TIMEOUT_MS,
    now,
    onCompleted: ({ job }) => {
      if (cluster) {
        cluster.completed(job);
      } else {
        admission.startDue(job.pipeline);
        options.onJobCompleted?.(job);
      }
      notifyIdle();
    },
    onParked: notifyIdle,
  });
  const admission = createAdmission({ state, lifecycle, events, now, released: notifyIdle });
  const cluster = options.cluster
    ? createClusterRunner({
      store: options.cluster.store,
      node: options.cluster.node,
      state,
      lifecycle,
      events,
      logs,
      now,
      onCompleted: (job) => options.onJobCompleted?.(job),
    })
    : null;
  const triggers = createTriggers({
    schedule: (request) => runner.schedule(request),
    now,
    saveTick: (tick) => store.saveTick(tick),
  });

  /**
   * Whether a job runs. A slot reserved for a job whose first commit is still pending does not
   * count: a store that never answers must not keep a stop waiting (after shutdown began, that
   * job stays waiting once stored).
   */
  const busy = (): boolean => runningCount(state) - reservedSlots(state) > 0;

  /** The job's state in memory: waiting or running, or with changes not stored yet. */
  const current = (id: string): Job | undefined =>
    state.active.get(id)?.job ?? persister.unsaved(id);

  /** A pipeline's running and waiting jobs across the cluster, as last read. */
  const clusterQueue = (pipeline: string): PipelineQueue => {
    const load = cluster!.load(pipeline);
    const waiting = Array.from({ length: load?.waiting ?? 0 }, (_, i) => ({
      id: String(i),
      created: 0,
      startDelayMs: 0,
      partition: null,
    }));
    return { running: load?.running ?? 0, waiting };
  };

  const cancelStored = async (id: string): Promise<void> => {
    const job = current(id) ?? await store.get(id);
    if (!job) throw new JobNotFoundError(id);
    if (!job.canceled && job.completed) throw new JobCompletedError(id);
  };

  /** The definition a new job of `request` runs with; none while shutting down. */
  const definitionFor = (request: ScheduleRequest): PipelineDefinition => {
    if (state.shuttingDown) throw new ShuttingDownError();
    const definition = state.definitions.get(request.pipeline);
    if (!definition) throw new PipelineNotFoundError(request.pipeline);
    return definition;
  };

  /** New jobs are refused because the store fails: logged once per episode. */
  const refusedByStore = (message: string, error: unknown): void => {
    if (refusing) return;
    refusing = true;
    log.error(message, { error });
  };

  /** A new job was stored: an episode of refusals ends. */
  const acceptedByStore = (): void => {
    if (!refusing) return;
    refusing = false;
    log.info("New jobs are stored and accepted again");
  };

  /** Schedules a new job, holding `idempotency` if given; resolves once it is stored. */
  const scheduleNew = async (
    request: ScheduleRequest,
    idempotency: JobIdempotency | null,
  ): Promise<Job> => {
    if (request.variables !== null) checkVariables(request.variables);
    const definition = definitionFor(request);
    if (cluster) return (await admitInCluster(definition, request, idempotency)).job;
    const entry = admission.accept(definition, request, idempotency);
    try {
      await store.save(entry.job);
    } catch (error) {
      admission.refused(entry);
      refusedByStore("New jobs are refused: they cannot be stored: {error}", error);
      throw error instanceof StoreWriteError
        ? new JobNotStoredError(errorMessage(error.cause), error.dataDir)
        : new JobNotStoredError(errorMessage(error), null);
    }
    acceptedByStore();
    admission.stored(entry);
    return entry.job;
  };

  /**
   * Admits a job across the cluster; a database that fails refuses it with the reason. With
   * `idempotency`, the job already holding the key is found in the same transaction.
   */
  const admitInCluster = async (
    definition: PipelineDefinition,
    request: ScheduleRequest,
    idempotency: JobIdempotency | null,
  ): Promise<{ job: Job; created: boolean }> => {
    try {
      const admitted = await cluster!.admit(definition, request, idempotency);
      acceptedByStore();
      return admitted;
    } catch (error) {
      if (error instanceof PrunnerError) throw error;
      refusedByStore("New jobs are refused: the database cannot store them: {error}", error);
      throw new JobNotStoredError(errorMessage(error), null);
    }
  };

  /** The stored job holding the key, or else a new job that holds it. */
  const findOrSchedule = async (
    request: ScheduleRequest,
    key: string,
    fingerprint: string,
  ): Promise<{ job: Job; created: boolean }> => {
    const idempotency = { key, fingerprint, expires: now() + idempotencyTtlMs };
    if (cluster) {
      // The key is looked up in the transaction that would store the new job.
      const outcome = await admitInCluster(definitionFor(request), request, idempotency);
      return { job: current(outcome.job.id) ?? outcome.job, created: outcome.created };
    }
    const found = await store.findIdempotent(request.user, key);
    if (found !== null) return { job: current(found.id) ?? found, created: false };
    return { job: await scheduleNew(request, idempotency), created: true };
  };

  /** An earlier request's job for a retry: the same job, unless the retry asks for another. */
  const replayOf = (job: Job, key: string, fingerprint: string): ScheduleOutcome => {
    if (decideReplay(job, fingerprint).kind === "conflict") {
      throw new IdempotencyKeyReusedError(key, job.id);
    }
    return { job: current(job.id) ?? job, replayed: true };
  };

  const runner: Runner = {
    events,

    listPipelines(): PipelineInfo[] {
      return [...state.definitions.values()]
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((definition) => {
          const queue = cluster ? clusterQueue(definition.name) : queueOf(state, definition.name);
          return {
            pipeline: definition.name,
            schedulable: !state.shuttingDown && isSchedulable(definition, queue),
            running: queue.running > 0,
            runningJobs: queue.running,
            waitingJobs: queue.waiting.length,
            nextRun: triggers.nextRun(definition.name),
          };
        });
    },

    async *listJobs(): AsyncIterable<(Job | Uint8Array)[]> {
      for await (const batch of store.listJson()) {
        // Packed jobs are completed and stored: memory holds nothing newer of them.
        yield batch.map((item) => "id" in item ? current(item.id) ?? item.json : item.json);
      }
    },

    pageJobs: (query) => listPage(query, (page) => store.page(page), current),

    async getJob(id: string): Promise<Job | null> {
      return current(id) ?? await store.get(id);
    },

    schedule: (request) => scheduleNew(request, null),

    async scheduleOnce(request: ScheduleRequest, key: string): Promise<ScheduleOutcome> {
      if (request.variables !== null) checkVariables(request.variables);
      const fingerprint = requestFingerprint(request);
      const name = JSON.stringify([request.user, key]);
      while (true) {
        const pending = keyed.get(name);
        if (pending) {
          // When the request before this one was refused, this one tries itself.
          const earlier = await pending.catch(() => null);
          if (earlier !== null) return replayOf(earlier.job, key, fingerprint);
          continue;
        }
        const attempt = findOrSchedule(request, key, fingerprint)
          .finally(() => keyed.delete(name));
        keyed.set(name, attempt);
        const { job, created } = await attempt;
        return created ? { job, replayed: false } : replayOf(job, key, fingerprint);
      }
    },

    cancel(id: string): Promise<void> {
      const entry = state.active.get(id);
      // A job not stored yet is not known to the API yet.
      if (entry && isReserved(state, entry)) return Promise.reject(new JobNotFoundError(id));
      if (entry) {
        if (!entry.job.canceled) lifecycle.cancel(entry);
        persister.persist(entry.job);
        return Promise.resolve();
      }
      return cluster && !persister.unsaved(id) ? cluster.cancel(id) : cancelStored(id);
    },

    async openLog(jobId: string, task: string, stream: LogStream) {
      const job = current(jobId) ?? await store.get(jobId);
      const attempt = job?.tasks.find((t) => t.name === task)?.attempt;
      return logs.open(jobId, task, stream, attempt);
    },

    load(): PipelineLoad[] {
      return [...state.queues].map(([pipeline, queue]) => ({
        pipeline,
        running: queue.running,
        waiting: queue.waiting.length,
      }));
    },

    logPath: (jobId, task, stream, attempt) => logs.path(jobId, task, stream, attempt),

    restore(unfinished: Job[]): Promise<void> {
      if (cluster) return cluster.restore(unfinished);
      return restoreJobs(unfinished, { state, admission, lifecycle, persister, logs, now });
    },

    startTriggers(stored) {
      if (!state.shuttingDown) triggers.start(state.definitions, stored);
    },

    setDefinitions(next: Definitions): void {
      definitionsReplaced(state, next);
      triggers.update(state.definitions);
      events.emit({ type: "pipelines_reloaded" });
      if (cluster) {
        for (const pipeline of state.definitions.keys()) cluster.startDue(pipeline);
      } else {
        for (const pipeline of state.queues.keys()) admission.startDue(pipeline);
      }
    },

    definitions: () => state.definitions,

    isShuttingDown: () => state.shuttingDown,

    async shutdown(mode: ShutdownMode): Promise<void> {
      shutdownBegun(state);
      triggers.stop();
      admission.stopTimers();
      cluster?.stopTimers();
      lifecycle.parkRetryWaits();
      if (mode === "cancel") {
        for (const entry of [...state.active.values()]) {
          // A job not stored yet is left to its commit: it stays waiting once stored.
          if (entry.job.start !== null && !entry.job.canceled && !isReserved(state, entry)) {
            lifecycle.cancel(entry);
          }
        }
      }
      await runner.idle();
    },

    idle(): Promise<void> {
      if (!busy()) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },

    async flush(timeoutMs: number): Promise<string[]> {
      return (await persister.flush(timeoutMs)).map((job) => job.id);
    },

    storeFailure(): string | null {
      const error = persister.failure();
      return error === null ? null : errorMessage(error);
    },

    stopLocalJobs(reason: string): void {
      for (const entry of [...state.active.values()]) {
        if (entry.job.canceled || isReserved(state, entry)) continue;
        entry.job.lastError = reason;
        lifecycle.cancel(entry);
        persister.persist(entry.job);
      }
    },

    clusterChanged(): void {
      cluster?.refreshLoad();
    },

    takeOver: (node, reason) => cluster ? cluster.takeOver(node, reason) : Promise.resolve(),

    startDue(pipeline: string): void {
      cluster?.startDue(pipeline);
    },

    startWaiting: () => cluster ? cluster.startWaiting() : Promise.resolve(),
  };
  return runner;
}
