/**
 * The runner's in-memory state, shared by its parts: the definitions for new jobs, each
 * pipeline's queue (running count and wait list), the jobs that wait or run, and the places
 * reserved for accepted jobs not stored yet.
 *
 * Other modules only read the state; every change is one of the named transitions here, which
 * apply what the engine decided (see `../engine/wait_list.ts` and `../engine/restore.ts`).
 *
 * @module
 */
import type { Definitions, PipelineDefinition } from "../definition/types.ts";
import type { Job } from "../engine/job.ts";
import type {
  AdmissionDecision,
  DueStarts,
  PipelineQueue,
  WaitingJob,
} from "../engine/wait_list.ts";
import type { TaskRun } from "../executor/run_task.ts";

/** A job that waits or runs. */
export interface ActiveJob {
  readonly job: Job;
  /** The definition the job was scheduled with; reloads do not change it. */
  readonly definition: PipelineDefinition;
  /** The task runs in progress, by task name. */
  readonly runs: Map<string, TaskRun>;
}

/** What the runner's parts share; changed through the transitions of this module only. */
export interface RunnerState {
  /** The definitions used for new jobs. */
  readonly definitions: Definitions;
  /** Set once shutdown has begun: no job is accepted or started any more. */
  readonly shuttingDown: boolean;
  /** Per pipeline: running count and wait list. */
  readonly queues: ReadonlyMap<string, PipelineQueue>;
  /** Jobs that wait or run, by id. */
  readonly active: ReadonlyMap<string, ActiveJob>;
}

/**
 * The place an accepted job holds until it is stored: until then it does not start and
 * replaces no other job.
 */
interface Reservation {
  /** When its turn to start came, epoch ms (its running slot is taken); `null` while not. */
  startAt: number | null;
  /** The waiting job it replaces, taken off the wait list meanwhile, and where it was. */
  readonly replaced: Replaced | null;
}

/** A waiting job taken off its wait list for a job not stored yet, and where it was. */
interface Replaced {
  readonly entry: ActiveJob;
  readonly index: number;
  readonly waiting: WaitingJob;
}

/** The state as this module changes it. */
interface MutableState {
  definitions: Definitions;
  shuttingDown: boolean;
  readonly queues: Map<string, { running: number; waiting: WaitingJob[] }>;
  readonly active: Map<string, ActiveJob>;
  readonly reservations: Map<string, Reservation>;
}

/**
 * A fresh state.
 *
 * @example
 * ```ts
 * const state = createRunnerState(definitions);
 * state.active.size; // 0
 * ```
 */
export function createRunnerState(definitions: Definitions): RunnerState {
  const state: MutableState = {
    definitions,
    shuttingDown: false,
    queues: new Map(),
    active: new Map(),
    reservations: new Map(),
  };
  return state;
}

/** The state behind its read-only view: every `RunnerState` is made by `createRunnerState`. */
function mutable(state: RunnerState): MutableState {
  return state as MutableState;
}

function mutableQueue(state: MutableState, pipeline: string) {
  let queue = state.queues.get(pipeline);
  if (!queue) state.queues.set(pipeline, queue = { running: 0, waiting: [] });
  return queue;
}

/**
 * The pipeline's queue, created empty on first use (a pipeline so looked at is listed by
 * the runner's `load` from then on).
 *
 * @example
 * ```ts
 * queueOf(state, "build").waiting.length; // how many jobs of "build" wait
 * ```
 */
export function queueOf(state: RunnerState, pipeline: string): PipelineQueue {
  return mutableQueue(mutable(state), pipeline);
}

/**
 * How many jobs run, over all pipelines.
 *
 * @example
 * ```ts
 * runningCount(state) - reservedSlots(state); // jobs that run and are stored
 * ```
 */
export function runningCount(state: RunnerState): number {
  let count = 0;
  for (const queue of state.queues.values()) count += queue.running;
  return count;
}

/**
 * How many running slots are reserved for accepted jobs not stored yet.
 *
 * @example
 * ```ts
 * reservedSlots(state); // 0 once every accepted job is stored or refused
 * ```
 */
export function reservedSlots(state: RunnerState): number {
  let count = 0;
  for (const reservation of mutable(state).reservations.values()) {
    if (reservation.startAt !== null) count++;
  }
  return count;
}

/**
 * Whether the job was accepted and is not stored yet: it holds a reservation.
 *
 * @example
 * ```ts
 * if (isReserved(state, entry)) throw new JobNotFoundError(entry.job.id);
 * ```
 */
export function isReserved(state: RunnerState, entry: ActiveJob): boolean {
  return mutable(state).reservations.has(entry.job.id);
}

/**
 * The wait-list record of a job, as the engine's wait-list decisions see it.
 *
 * @example
 * ```ts
 * waitingJobOf(entry).startDelayMs; // the start delay the job was scheduled with
 * ```
 */
export function waitingJobOf(
  { job, definition }: Pick<ActiveJob, "job" | "definition">,
): WaitingJob {
  return {
    id: job.id,
    created: job.created,
    startDelayMs: definition.startDelayMs,
    partition: job.queuePartition,
  };
}

/**
 * New definitions are used for new jobs.
 *
 * @example
 * ```ts
 * definitionsReplaced(state, await loadDefinitions(path));
 * ```
 */
export function definitionsReplaced(state: RunnerState, definitions: Definitions): void {
  mutable(state).definitions = definitions;
}

/**
 * Shutdown has begun: no job is accepted or started any more.
 *
 * @example
 * ```ts
 * shutdownBegun(state);
 * state.shuttingDown; // true
 * ```
 */
export function shutdownBegun(state: RunnerState): void {
  mutable(state).shuttingDown = true;
}

/**
 * A new job was admitted as `decision` says, at `at`: it becomes active and reserves its
 * running slot (`start`) or its place on the wait list (`wait`, taking the job it replaces off
 * the wait list until the new job is stored or withdrawn).
 *
 * @example
 * ```ts
 * admitted(state, entry, decideAdmission(definition, queue, waitingJobOf(entry), at), at);
 * ```
 */
export function admitted(
  state: RunnerState,
  entry: ActiveJob,
  decision: Exclude<AdmissionDecision, { kind: "refuse" }>,
  at: number,
): void {
  const s = mutable(state);
  const queue = mutableQueue(s, entry.job.pipeline);
  s.active.set(entry.job.id, entry);
  if (decision.kind === "start") {
    queue.running++;
    s.reservations.set(entry.job.id, { startAt: at, replaced: null });
    return;
  }
  const replacedEntry = decision.replaces === null ? undefined : s.active.get(decision.replaces);
  const index = replacedEntry
    ? queue.waiting.findIndex((waiting) => waiting.id === replacedEntry.job.id)
    : -1;
  const replaced = replacedEntry && index >= 0
    ? { entry: replacedEntry, index, waiting: queue.waiting.splice(index, 1)[0] }
    : null;
  s.reservations.set(entry.job.id, { startAt: null, replaced });
  queue.waiting.push(waitingJobOf(entry));
}

/** What {@linkcode stored} found of an accepted job's reservation. */
export interface StoredJob {
  /** The waiting job the stored one replaces, unless it was canceled meanwhile. */
  readonly replaced: ActiveJob | null;
  /** Whether its turn to start came while it was not stored: its running slot is taken. */
  readonly due: boolean;
}

/**
 * An accepted job is stored: its reservation ends. `null` when it had none (already stored
 * or withdrawn).
 *
 * @example
 * ```ts
 * const stored = storedJob(state, entry);
 * if (stored?.replaced) lifecycle.cancel(stored.replaced);
 * ```
 */
export function storedJob(state: RunnerState, entry: ActiveJob): StoredJob | null {
  const s = mutable(state);
  const reservation = s.reservations.get(entry.job.id);
  if (!reservation) return null;
  s.reservations.delete(entry.job.id);
  const replaced = reservation.replaced?.entry ?? null;
  return {
    replaced: replaced && s.active.get(replaced.job.id) === replaced ? replaced : null,
    due: reservation.startAt !== null,
  };
}

/**
 * An accepted job could not be stored: it is forgotten and its place given back, and the job
 * it was to replace takes its place on the wait list again (unless canceled meanwhile).
 * Returns whether it had taken a running slot, or `null` when it had no reservation.
 *
 * @example
 * ```ts
 * if (withdrawn(state, entry)) notifyIdle();
 * ```
 */
export function withdrawn(state: RunnerState, entry: ActiveJob): boolean | null {
  const s = mutable(state);
  const { job } = entry;
  const reservation = s.reservations.get(job.id);
  if (!reservation) return null;
  s.reservations.delete(job.id);
  s.active.delete(job.id);
  const queue = mutableQueue(s, job.pipeline);
  if (reservation.startAt !== null) queue.running--;
  else removeWaiting(queue, job.id);
  const replaced = reservation.replaced;
  if (replaced && s.active.get(replaced.waiting.id)) {
    queue.waiting.splice(Math.min(replaced.index, queue.waiting.length), 0, replaced.waiting);
  }
  return reservation.startAt !== null;
}

/**
 * Waiting jobs of `pipeline` start as `due` says, at `at`: they leave the wait list and take
 * running slots. Returns those to start now; a job not stored yet starts once stored.
 *
 * @example
 * ```ts
 * for (const entry of dueStarted(state, pipeline, decideDueStarts(queue, 1, at), at)) {
 *   lifecycle.start(entry, at);
 * }
 * ```
 */
export function dueStarted(
  state: RunnerState,
  pipeline: string,
  due: DueStarts,
  at: number,
): ActiveJob[] {
  if (due.start.length === 0) return [];
  const s = mutable(state);
  const queue = mutableQueue(s, pipeline);
  const ids = new Set(due.start.map((job) => job.id));
  let kept = 0;
  for (const job of queue.waiting) if (!ids.has(job.id)) queue.waiting[kept++] = job;
  queue.waiting.length = kept;
  queue.running += due.start.length;
  const start: ActiveJob[] = [];
  for (const { id } of due.start) {
    const reservation = s.reservations.get(id);
    if (reservation) reservation.startAt = at;
    else start.push(s.active.get(id)!);
  }
  return start;
}

/**
 * A job whose turn had come while it was not stored stays waiting (shutdown began
 * meanwhile): it gives its running slot back.
 *
 * @example
 * ```ts
 * if (stored.due && state.shuttingDown) slotReturned(state, entry);
 * ```
 */
export function slotReturned(state: RunnerState, entry: ActiveJob): void {
  mutableQueue(mutable(state), entry.job.pipeline).running--;
}

/**
 * A job leaves the active jobs: it ended, or it is set aside until the next start. A started
 * job gives its running slot back, a waiting one leaves its wait list.
 *
 * @example
 * ```ts
 * markJobCompleted(entry.job, now);
 * ended(state, entry);
 * ```
 */
export function ended(state: RunnerState, entry: ActiveJob): void {
  const s = mutable(state);
  const { job } = entry;
  s.active.delete(job.id);
  const queue = mutableQueue(s, job.pipeline);
  if (job.start !== null) queue.running--;
  else removeWaiting(queue, job.id);
}

/**
 * A started job restored from the store goes on: it is active and takes its running slot.
 *
 * @example
 * ```ts
 * if (decideRestore(job, definition).kind === "resume") resumed(state, entry);
 * ```
 */
export function resumed(state: RunnerState, entry: ActiveJob): void {
  const s = mutable(state);
  s.active.set(entry.job.id, entry);
  mutableQueue(s, entry.job.pipeline).running++;
}

/**
 * A waiting job restored from the store is active and goes back on its wait list, last.
 *
 * @example
 * ```ts
 * if (decideRestore(job, definition).kind === "wait") requeued(state, entry);
 * ```
 */
export function requeued(state: RunnerState, entry: ActiveJob): void {
  const s = mutable(state);
  s.active.set(entry.job.id, entry);
  mutableQueue(s, entry.job.pipeline).waiting.push(waitingJobOf(entry));
}

function removeWaiting(queue: { waiting: WaitingJob[] }, id: string): void {
  const index = queue.waiting.findIndex((job) => job.id === id);
  if (index >= 0) queue.waiting.splice(index, 1);
}
