/**
 * The runner's part in a cluster: admission, due starts, cancels of jobs other nodes hold and
 * the take-over of a dead node's jobs, decided by the engine on the pipeline's state as the
 * cluster store reads it inside one transaction per decision (see `../store/cluster.ts`). Jobs
 * that wait live in the database only; a job this node starts becomes one of its active jobs and
 * runs through the job lifecycle as on a single prunner.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Definitions, PipelineDefinition } from "../definition/types.ts";
import { createTasks } from "../engine/create_job.ts";
import { type Job, type JobIdempotency, triggerId } from "../engine/job.ts";
import { decideRestore } from "../engine/restore.ts";
import { cancelJobTasks, markJobCompleted, markJobInterrupted } from "../engine/task_graph.ts";
import {
  type AdmissionDecision,
  decideAdmission,
  decideDueStarts,
  type PipelineQueue,
  type WaitingJob,
} from "../engine/wait_list.ts";
import { JobCompletedError, JobNotFoundError, TickTakenError } from "../errors.ts";
import type {
  ClusterLoad,
  ClusterStore,
  PipelineTransaction,
  QueuedJob,
} from "../store/cluster.ts";
import type { LogStore } from "../store/types.ts";
import { refusal, requestedJob } from "./admission.ts";
import type { ScheduleRequest } from "./api.ts";
import type { EventHub } from "./events.ts";
import type { JobLifecycle, PreparedStart } from "./job_lifecycle.ts";
import { type ActiveJob, resumed, type RunnerState, waitingJobOf } from "./state.ts";

/** What the cluster part of a runner acts through. */
export interface ClusterOptions {
  readonly store: ClusterStore;
  /** This node's name. */
  readonly node: string;
  readonly state: RunnerState;
  readonly lifecycle: JobLifecycle;
  readonly events: EventHub;
  readonly logs: Pick<LogStore, "ended">;
  readonly now: () => number;
  /** Called once a job's end is stored with what it let start (e.g. retention). */
  readonly onCompleted: (job: Job) => void;
}

/** What a node does in a cluster. */
export interface ClusterRunner {
  /**
   * Stores a new job as the pipeline's wait list across the cluster decides, in one
   * transaction: it starts here at once, waits, or is refused. With `idempotency`, a job that
   * already holds the key is returned instead (`created: false`).
   *
   * @throws {QueueFullError | QueueDisabledError} when the pipeline refuses the job.
   * @throws {TickTakenError} when another node started the job of the request's tick.
   */
  admit(
    definition: PipelineDefinition,
    request: ScheduleRequest,
    idempotency: JobIdempotency | null,
  ): Promise<{ job: Job; created: boolean }>;
  /**
   * A job this node ran has ended: its end is stored together with the start of the due jobs
   * it let start, in one transaction (retried). Resolves once that transaction committed;
   * rejects when it failed (it is tried again meanwhile).
   */
  completed(job: Job): Promise<void>;
  /** Starts the pipeline's due jobs on this node (retried until the database answers). */
  startDue(pipeline: string): void;
  /** Starts the due jobs of every pipeline that has waiting jobs (see `startDue`). */
  startWaiting(): Promise<void>;
  /** Cancels a job this node does not run: a waiting one at once, another node's by request. */
  cancel(id: string): Promise<void>;
  /**
   * Takes over the jobs of `node`, which is gone: its started jobs end as canceled with
   * `reason`, and what waited behind them starts.
   */
  takeOver(node: string, reason: string): Promise<void>;
  /** At startup: ends (or resumes) what this node ran before it stopped; starts due jobs. */
  restore(unfinished: readonly Job[]): Promise<void>;
  /** Running and waiting jobs of a pipeline across the cluster, as last read. */
  load(pipeline: string): ClusterLoad | undefined;
  /**
   * Reads the cluster's load again (after other nodes changed it); calls that come within
   * {@linkcode LOAD_INTERVAL_MS} of the last read share one read at its end.
   */
  refreshLoad(): void;
  /** Clears the timers of start delays, retries and load reads (shutdown). */
  stopTimers(): void;
}

/** First wait before a decision the database refused is tried again, in ms; doubled. */
const FIRST_RETRY_MS = 250;
/** Longest wait between tries of a decision the database refused. */
const MAX_RETRY_MS = 5000;
/**
 * Least time between two reads of the cluster's load, in ms. Other nodes notify every job
 * change, several per job: reading the load for each cost as much as a job's own statements.
 */
const LOAD_INTERVAL_MS = 200;

const log = getLogger(["prunner", "cluster"]);

/** A job this node claimed, its first tasks held until the claim is stored. */
interface Started {
  readonly entry: ActiveJob;
  readonly start: PreparedStart;
}

/** A request for a new job, waiting for its pipeline's next decision. */
interface Admission {
  readonly definition: PipelineDefinition;
  readonly request: ScheduleRequest;
  readonly idempotency: JobIdempotency | null;
  readonly result: PromiseWithResolvers<{ job: Job; created: boolean }>;
}

/**
 * What waits for a pipeline's next decision: ended jobs to store, new jobs to admit, and
 * whether due jobs are to be started. A turn is decided in one transaction.
 */
interface Turn {
  /** Ended jobs of this node, by id. */
  readonly ended: Map<string, Job>;
  /** Settled once `ended` is stored, or not. */
  readonly stored: PromiseWithResolvers<void>;
  readonly admissions: Admission[];
}

/** How an admission of a turn ended, once the turn is stored. */
type AdmissionOutcome =
  | { readonly kind: "found"; readonly job: Job }
  | { readonly kind: "taken" }
  | { readonly kind: "refused"; readonly decision: Extract<AdmissionDecision, { kind: "refuse" }> }
  | { readonly kind: "stored"; readonly job: Job; readonly replaced: readonly Job[] };

/** Admissions of one turn with an idempotency key: each locks its key (see `findIdempotent`). */
const KEYED_PER_TURN = 1;

/**
 * The pipeline's queue as the engine sees it, from its unfinished jobs in accepted order (all
 * waiting ones with today's `startDelayMs`).
 *
 * @example
 * ```ts
 * const queue = queueOfRows(await tx.queued(), definition.startDelayMs);
 * decideDueStarts(queue, definition.concurrency, Date.now());
 * ```
 */
export function queueOfRows(queued: readonly QueuedJob[], startDelayMs: number): PipelineQueue {
  let running = 0;
  const waiting: WaitingJob[] = [];
  for (const job of queued) {
    if (job.started) running++;
    else waiting.push({ id: job.id, created: job.created, startDelayMs, partition: job.partition });
  }
  return { running, waiting };
}

/**
 * Creates the cluster part of a runner.
 *
 * @example
 * ```ts
 * const cluster = createClusterRunner({
 *   store, node: "web-1:9009", state, lifecycle, events, logs, now: Date.now,
 *   onCompleted: () => retention.request(),
 * });
 * const { job } = await cluster.admit(definition, request, null);
 * ```
 */
export function createClusterRunner(options: ClusterOptions): ClusterRunner {
  const { store, node, state, lifecycle, events, now } = options;
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Turns asked for and not decided yet, by pipeline. */
  const pending = new Map<string, Turn>();
  /** Pipelines with a decision in flight or waiting to be tried again. */
  const deciding = new Set<string>();
  const retryTimers = new Map<string, ReturnType<typeof setTimeout>>();
  let stopped = false;
  const loads = new Map<string, ClusterLoad>();
  let loading: Promise<void> | null = null;
  let loadAgain = false;
  let loadTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the last read of the load began (monotonic clock). */
  let loadedAt = -Infinity;

  /** Reads the load now, or once {@linkcode LOAD_INTERVAL_MS} has passed since the last read. */
  const refreshLoad = (): void => {
    if (loadTimer !== undefined || stopped) return;
    if (loading) {
      loadAgain = true;
      return;
    }
    const wait = loadedAt + LOAD_INTERVAL_MS - performance.now();
    if (wait > 0) {
      loadTimer = setTimeout(() => {
        loadTimer = undefined;
        refreshLoad();
      }, wait);
      return;
    }
    loadedAt = performance.now();
    loading = store.load().then((current) => {
      loads.clear();
      for (const load of current) loads.set(load.pipeline, load);
    }, (error) => log.debug("Reading the cluster's load failed: {error}", { error }))
      .finally(() => {
        loading = null;
        if (loadAgain) {
          loadAgain = false;
          refreshLoad();
        }
      });
  };

  const definitions = (): Definitions => state.definitions;
  const delayOf = (pipeline: string): number => definitions().get(pipeline)?.startDelayMs ?? 0;

  /**
   * Marks waiting jobs started on this node, with the tasks of today's definition, and prepares
   * their starts into `prepared` (a job of a pipeline that is gone ends instead). Returns the
   * jobs to write.
   */
  const claim = async (
    tx: PipelineTransaction,
    ids: readonly string[],
    at: number,
    prepared: Started[],
  ) => {
    const started: ActiveJob[] = [];
    const ended: Job[] = [];
    for (const job of await tx.jobs(ids)) {
      if (job.completed || job.start !== null) continue;
      const definition = definitions().get(job.pipeline);
      if (!definition) {
        markJobInterrupted(job, `canceled: pipeline "${job.pipeline}" no longer exists`, at);
        ended.push(job);
        continue;
      }
      job.tasks = createTasks(definition);
      job.node = node;
      const entry: ActiveJob = { job, definition, runs: new Map() };
      prepared.push({ entry, start: lifecycle.prepareStart(entry, at) });
      started.push(entry);
    }
    return { started, ended };
  };

  /** Runs the jobs this node claimed, once their claim (with their first tasks) is stored. */
  const run = (started: readonly Started[]): void => {
    for (const { entry, start } of started) {
      resumed(state, entry);
      start.release();
    }
  };

  /** The claim was not stored: the held processes are killed, the jobs stay as they were. */
  const drop = (started: readonly Started[]): void => {
    for (const { start } of started) start.drop();
  };

  const arm = (pipeline: string, wakeAt: number | null): void => {
    clearTimeout(timers.get(pipeline));
    timers.delete(pipeline);
    if (wakeAt === null || state.shuttingDown) return;
    timers.set(
      pipeline,
      setTimeout(() => {
        timers.delete(pipeline);
        startDue(pipeline);
      }, Math.max(0, wakeAt - now())),
    );
  };

  const remember = (pipeline: string, queue: PipelineQueue): void => {
    loads.set(pipeline, { pipeline, running: queue.running, waiting: queue.waiting.length });
  };

  /** Cancels a job that waits in the store: it ends at once. */
  const endWaiting = (job: Job, at: number): void => {
    cancelJobTasks(job);
    markJobCompleted(job, at);
  };

  /**
   * In `tx`: decides one admission on `queue` (changed to what it decided), claims what it
   * starts, and adds the jobs to write to `write` and the ones it ended to `ended`.
   */
  const admitIn = async (
    tx: PipelineTransaction,
    queue: { running: number; waiting: WaitingJob[] },
    admission: Admission,
    at: number,
    turn: { write: Job[]; ended: Job[]; prepared: Started[]; wakeAt: number | null },
  ): Promise<AdmissionOutcome> => {
    const { definition, request, idempotency } = admission;
    const pipeline = definition.name;
    if (idempotency !== null) {
      const found = await tx.findIdempotent(request.user, idempotency.key);
      if (found !== null) return { kind: "found", job: found };
    }
    const tick = request.trigger === undefined
      ? null
      : { pipeline, trigger: triggerId(request.trigger), planned: request.trigger.planned };
    if (tick !== null && await tx.tickTaken(tick)) return { kind: "taken" };
    const job = requestedJob(definition, request, idempotency, crypto.randomUUID(), at);
    const decision = decideAdmission(definition, queue, waitingJobOf({ job, definition }), at);
    if (decision.kind === "refuse") {
      // The refused tick is stored, so that no node takes it for a missed one.
      if (tick !== null) await tx.saveTick(tick);
      return { kind: "refused", decision };
    }
    turn.write.push(job);
    if (decision.kind === "start") {
      job.node = node;
      const entry: ActiveJob = { job, definition, runs: new Map() };
      // Its first tasks are stored started in this commit, not in one after it.
      turn.prepared.push({ entry, start: lifecycle.prepareStart(entry, at) });
      queue.running++;
      return { kind: "stored", job, replaced: [] };
    }
    const replaced: Job[] = [];
    if (decision.replaces !== null) {
      for (const other of await tx.jobs([decision.replaces])) {
        if (other.completed || other.start !== null) continue;
        endWaiting(other, at);
        replaced.push(other);
      }
    }
    const starts = new Set(decision.start.map((due) => due.id));
    queue.waiting = [...queue.waiting, waitingJobOf({ job, definition })].filter((other) =>
      other.id !== decision.replaces && !starts.has(other.id)
    );
    const claimed = await claim(tx, [...starts], at, turn.prepared);
    queue.running += claimed.started.length;
    turn.write.push(...replaced, ...claimed.ended, ...claimed.started.map(({ job }) => job));
    turn.ended.push(...claimed.ended);
    turn.wakeAt = decision.wakeAt;
    return { kind: "stored", job, replaced };
  };

  /**
   * In `tx`: the pipeline's turn. The due jobs start first (jobs that wait are never overtaken
   * by new ones: a slot can be free while they wait, as a job's end and a take-over free slots
   * before the decision that fills them), then the new jobs are admitted in the order they
   * came, and everything is written at once.
   */
  const decideTurn = async (
    tx: PipelineTransaction,
    pipeline: string,
    turn: Turn,
    at: number,
    prepared: Started[],
  ) => {
    // The ended jobs are written with the rest: the queue is read as if they were.
    const rows = (await tx.queued()).filter((row) => !turn.ended.has(row.id));
    const stored = queueOfRows(rows, delayOf(pipeline));
    const decided = {
      write: [...turn.ended.values()],
      ended: [] as Job[],
      prepared,
      wakeAt: null as number | null,
    };
    const queue = { running: stored.running, waiting: [...stored.waiting] };
    if (state.shuttingDown) {
      // Another node starts them: the slot this node's ended jobs freed is theirs.
      if (queue.waiting.length > 0) tx.notifyPipeline();
    } else {
      const concurrency = definitions().get(pipeline)?.concurrency ?? 1;
      const due = decideDueStarts(queue, concurrency, at);
      const starts = new Set(due.start.map((job) => job.id));
      const claimed = await claim(tx, [...starts], at, prepared);
      queue.running += claimed.started.length;
      queue.waiting = queue.waiting.filter((job) => !starts.has(job.id));
      decided.write.push(...claimed.ended, ...claimed.started.map(({ job }) => job));
      decided.ended.push(...claimed.ended);
      decided.wakeAt = due.wakeAt;
    }
    const outcomes: AdmissionOutcome[] = [];
    for (const admission of turn.admissions) {
      outcomes.push(await admitIn(tx, queue, admission, at, decided));
    }
    await tx.save(decided.write);
    remember(pipeline, queue);
    return { ended: decided.ended, outcomes, wakeAt: decided.wakeAt };
  };

  /** A turn asked for and not decided yet (see {@linkcode Turn}), made when none waits. */
  const turnOf = (pipeline: string): Turn => {
    let turn = pending.get(pipeline);
    if (turn === undefined) {
      turn = { ended: new Map(), stored: Promise.withResolvers(), admissions: [] };
      // Often nobody waits for it (due starts only).
      turn.stored.promise.catch(() => {});
      pending.set(pipeline, turn);
    }
    return turn;
  };

  /** The pipeline's turn to decide now, with at most `KEYED_PER_TURN` keyed admissions. */
  const takeTurn = (pipeline: string): Turn => {
    const turn = turnOf(pipeline);
    pending.delete(pipeline);
    let keyed = 0;
    const cut = turn.admissions.findIndex((admission) =>
      admission.idempotency !== null && ++keyed > KEYED_PER_TURN
    );
    if (cut !== -1) turnOf(pipeline).admissions.push(...turn.admissions.splice(cut));
    return turn;
  };

  /**
   * Asks for a turn of the pipeline (see {@linkcode Turn}). Turns of one pipeline are decided one
   * after the other, what is asked for meanwhile in one transaction; a failed turn's ended jobs
   * and due starts are tried again with backoff until the database answers.
   */
  const decide = (pipeline: string, ended: readonly Job[], admission?: Admission): Turn | null => {
    // A stopping node starts nothing; it only stores what ended (see `decideTurn`).
    if (
      state.shuttingDown && ended.length === 0 && admission === undefined && !pending.has(pipeline)
    ) return null;
    const turn = turnOf(pipeline);
    for (const job of ended) turn.ended.set(job.id, job);
    if (admission !== undefined) turn.admissions.push(admission);
    if (!deciding.has(pipeline)) attempt(pipeline, 0);
    return turn;
  };

  /** After a turn: events, waiting requests answered, the claimed jobs run. */
  const settle = (
    pipeline: string,
    turn: Turn,
    decided: Awaited<ReturnType<typeof decideTurn>>,
    prepared: readonly Started[],
  ): void => {
    turn.stored.resolve();
    for (const job of turn.ended.values()) options.onCompleted(job);
    for (const job of decided.ended) {
      events.emit({ type: "job_completed", job });
      options.onCompleted(job);
    }
    turn.admissions.forEach((admission, i) => {
      const outcome = decided.outcomes[i];
      switch (outcome.kind) {
        case "found":
          return admission.result.resolve({ job: outcome.job, created: false });
        case "taken":
          return admission.result.reject(
            new TickTakenError(pipeline, admission.request.trigger!.planned),
          );
        case "refused":
          events.emit({ type: "job_refused", pipeline, reason: outcome.decision.reason });
          return admission.result.reject(refusal(pipeline, outcome.decision));
      }
      const { job, replaced } = outcome;
      events.emit({ type: "job_scheduled", job });
      for (const other of replaced) {
        log.info("Job {jobId} replaced by {newJobId} on the wait list", {
          jobId: other.id,
          newJobId: job.id,
        });
        events.emit({ type: "job_completed", job: other });
        options.onCompleted(other);
      }
      admission.result.resolve({ job, created: true });
    });
    run(prepared);
    arm(pipeline, decided.wakeAt);
  };

  const attempt = (pipeline: string, delayMs: number): void => {
    deciding.add(pipeline);
    const turn = takeTurn(pipeline);
    const at = now();
    const prepared: Started[] = [];
    store.withPipeline(pipeline, (tx) => decideTurn(tx, pipeline, turn, at, prepared)).then(
      (decided) => {
        deciding.delete(pipeline);
        if (delayMs > 0) log.info("Decisions for {pipeline} are stored again", { pipeline });
        settle(pipeline, turn, decided, prepared);
        if (pending.has(pipeline)) attempt(pipeline, 0);
      },
      (error) => {
        drop(prepared);
        turn.stored.reject(error);
        for (const admission of turn.admissions) admission.result.reject(error);
        // The ended jobs and the due starts are tried again; new jobs were refused.
        const again = turnOf(pipeline);
        for (const [id, job] of turn.ended) again.ended.set(id, job);
        if (stopped) {
          deciding.delete(pipeline);
          return;
        }
        if (delayMs === 0) {
          log.warn("Deciding for {pipeline} failed, trying again: {error}", { pipeline, error });
        }
        const next = Math.min(Math.max(delayMs * 2, FIRST_RETRY_MS), MAX_RETRY_MS);
        retryTimers.set(
          pipeline,
          setTimeout(() => {
            retryTimers.delete(pipeline);
            attempt(pipeline, next);
          }, next),
        );
      },
    );
  };

  const startDue = (pipeline: string): void => {
    decide(pipeline, []);
  };

  const startWaiting = async (): Promise<void> => {
    for (const pipeline of await store.pipelinesWaiting()) startDue(pipeline);
  };

  return {
    admit(definition, request, idempotency) {
      const result = Promise.withResolvers<{ job: Job; created: boolean }>();
      decide(definition.name, [], { definition, request, idempotency, result });
      return result.promise;
    },

    completed(job) {
      return decide(job.pipeline, [job])!.stored.promise;
    },

    startDue,

    startWaiting,

    async cancel(id) {
      const pipeline = await store.pipelineOf(id);
      if (pipeline === null) throw new JobNotFoundError(id);
      const found = await store.withPipeline(
        pipeline,
        async (tx) => {
          const [job] = await tx.jobs([id]);
          if (job === undefined) throw new JobNotFoundError(id);
          if (job.completed) {
            if (!job.canceled) throw new JobCompletedError(id);
            return null;
          }
          if (job.start === null || job.node === undefined || job.node === node) {
            // Waiting, or started by no node that runs it now: it ends here.
            if (job.start === null) endWaiting(job, now());
            else markJobInterrupted(job, "canceled: no node of the cluster ran it", now());
            await tx.save([job]);
            return job;
          }
          tx.requestCancel(job.node, id);
          return null;
        },
      );
      if (found !== null) {
        events.emit({ type: "job_completed", job: found });
        startDue(found.pipeline);
      }
    },

    async takeOver(gone, reason) {
      const at = now();
      const jobs = await store.startedOn(gone);
      const pipelines = new Set(jobs.map((job) => job.pipeline));
      for (const pipeline of pipelines) {
        const ids = jobs.filter((job) => job.pipeline === pipeline).map((job) => job.id);
        const ended = await store.withPipeline(pipeline, async (tx) => {
          const taken = (await tx.jobs(ids)).filter((job) => !job.completed && job.node === gone);
          for (const job of taken) markJobInterrupted(job, reason, at);
          await tx.save(taken);
          return taken;
        });
        for (const job of ended) {
          log.warn("Job {jobId} of {pipeline} ran on node {node}, which is gone; canceled", {
            jobId: job.id,
            pipeline,
            node: gone,
          });
          events.emit({ type: "job_completed", job });
        }
      }
      for (const pipeline of pipelines) startDue(pipeline);
      // Also what the gone node had armed timers for.
      await startWaiting();
    },

    async restore(unfinished) {
      const at = now();
      const mine = unfinished.filter((job) =>
        job.start !== null && (job.node === undefined || job.node === node)
      );
      const resumedJobs: ActiveJob[] = [];
      for (const pipeline of new Set(mine.map((job) => job.pipeline))) {
        const ids = mine.filter((job) => job.pipeline === pipeline).map((job) => job.id);
        await store.withPipeline(pipeline, async (tx) => {
          const ended: Job[] = [];
          for (const job of await tx.jobs(ids)) {
            if (job.completed || (job.node !== undefined && job.node !== node)) continue;
            const definition = definitions().get(job.pipeline);
            const decision = decideRestore(job, definition);
            if (decision.kind === "resume") {
              job.node = node;
              resumedJobs.push({ job, definition: definition!, runs: new Map() });
              continue;
            }
            const running = decision.kind === "end" ? decision.wasRunning : true;
            markJobInterrupted(
              job,
              decision.kind === "end"
                ? decision.reason
                : "interrupted: prunner stopped while the job was running",
              at,
            );
            if (running) {
              log.warn("Job {jobId} was running when this node stopped; marked canceled", {
                jobId: job.id,
              });
            }
            ended.push(job);
          }
          await tx.save([...ended, ...resumedJobs.map(({ job }) => job)]);
        });
      }
      // The output that a stop may have cut off, before resumed jobs start new attempts.
      const shipped = mine.flatMap((job) =>
        job.tasks.filter((task) => task.start !== null).map((task) =>
          options.logs.ended(job.id, task.name, task.attempt).catch((error) =>
            log.warn("The output of task {task} of job {jobId} could not be stored: {error}", {
              task: task.name,
              jobId: job.id,
              error,
            })
          )
        )
      );
      for (const entry of resumedJobs) {
        resumed(state, entry);
        lifecycle.resume(entry);
      }
      await startWaiting();
      refreshLoad();
      await Promise.all(shipped);
    },

    load: (pipeline) => loads.get(pipeline),

    refreshLoad,

    stopTimers() {
      stopped = true;
      clearTimeout(loadTimer);
      loadTimer = undefined;
      for (const timer of [...timers.values(), ...retryTimers.values()]) clearTimeout(timer);
      timers.clear();
      retryTimers.clear();
    },
  };
}
