/**
 * What the other nodes of a cluster change, published on this node's event hub: each node's
 * writes name the jobs they changed (see `JOBS_CHANNEL` in `../store/pg/job_store.ts`); this
 * node reads those jobs and publishes, marked `remote`, the events their changes amount to, so
 * that `/events`, the UI and log followers see every job of the cluster live.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Job } from "../engine/job.ts";
import type { EventHub, RunnerChange } from "../runner/events.ts";

/** What a job looked like when last seen, to tell what changed. */
export interface Seen {
  readonly start: number | null;
  readonly completed: boolean;
  /** Per task: its status and attempt. */
  readonly tasks: ReadonlyMap<string, string>;
}

/** Settings of {@linkcode createJobBridge}. */
export interface BridgeOptions {
  readonly events: EventHub;
  /** Reads jobs as stored, in one read; ids without a stored job are left out. */
  readonly read: (ids: readonly string[]) => Promise<Job[]>;
  /** Time to gather notifications before reading their jobs, in ms (default 10). */
  readonly gatherMs?: number;
  /** Most jobs remembered (default 10,000); the oldest are forgotten first. */
  readonly remember?: number;
}

/** Turns notifications of changed jobs into events. */
export interface JobBridge {
  /** Jobs another node changed. */
  changed(ids: readonly string[]): void;
  /** Stops reading (shutdown). */
  stop(): void;
}

const log = getLogger(["prunner", "cluster"]);

/**
 * The events that tell how `job` changed since `seen` (`undefined`: not seen before).
 *
 * @example
 * ```ts
 * changes(undefined, job).map((change) => change.type); // ["job_scheduled"] for a new job
 * ```
 */
export function changes(seen: Seen | undefined, job: Job): RunnerChange[] {
  const out: RunnerChange[] = [];
  if (seen === undefined && !job.completed) out.push({ type: "job_scheduled", job });
  if (seen?.completed) return out;
  if (job.start !== null && (seen === undefined || seen.start === null)) {
    out.push({ type: "job_started", job });
  }
  for (const task of job.tasks) {
    const before = seen?.tasks.get(task.name) ?? "waiting/1";
    const now = `${task.status}/${task.attempt ?? 1}`;
    if (before === now) continue;
    const wasRunning = before.startsWith("running/");
    if (task.status === "running") {
      out.push({ type: "task_started", job, task });
    } else if (task.status !== "waiting" || wasRunning || task.retryAt !== undefined) {
      // Ended, or failed and waits for its next attempt; an attempt that both started and
      // ended since the last look shows its start too.
      if (!wasRunning && task.start !== null) out.push({ type: "task_started", job, task });
      out.push({ type: "task_finished", job, task });
    }
  }
  if (job.completed) out.push({ type: "job_completed", job });
  return out;
}

function snapshot(job: Job): Seen {
  return {
    start: job.start,
    completed: job.completed,
    tasks: new Map(job.tasks.map((task) => [task.name, `${task.status}/${task.attempt ?? 1}`])),
  };
}

/**
 * Creates the bridge.
 *
 * @example
 * ```ts
 * const bridge = createJobBridge({ events: runner.events, read: (ids) => cluster.jobs(ids) });
 * bridge.changed(["2f1c…"]);
 * ```
 */
export function createJobBridge(options: BridgeOptions): JobBridge {
  const { events } = options;
  const gatherMs = options.gatherMs ?? 10;
  const remember = options.remember ?? 10_000;
  const seen = new Map<string, Seen>();
  const queued = new Set<string>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let reading = false;
  let stopped = false;

  const read = async (ids: readonly string[]): Promise<void> => {
    if (stopped) return;
    let jobs: Map<string, Job>;
    try {
      jobs = new Map((await options.read(ids)).map((job) => [job.id, job]));
    } catch (error) {
      log.debug("Reading {count} jobs changed by another node failed: {error}", {
        count: ids.length,
        error,
      });
      return;
    }
    for (const id of ids) {
      if (stopped) return;
      const job = jobs.get(id);
      if (job === undefined) {
        seen.delete(id);
        continue;
      }
      const before = seen.get(id);
      for (const change of changes(before, job)) events.emit({ ...change, remote: true });
      seen.delete(id);
      if (job.completed) continue;
      seen.set(id, snapshot(job));
      if (seen.size > remember) seen.delete(seen.keys().next().value!);
    }
  };

  /** Reads the jobs gathered so far; what comes in meanwhile is read next, in one read. */
  const flush = (): void => {
    timer = undefined;
    reading = true;
    const batch = [...queued];
    queued.clear();
    read(batch).finally(() => {
      reading = false;
      if (queued.size > 0 && !stopped) flush();
    });
  };

  return {
    changed(ids) {
      if (stopped) return;
      if (!events.followsRemote()) {
        // Nobody follows other nodes' jobs: nothing is read. Whoever follows next sees each
        // job as new when it next changes.
        seen.clear();
        return;
      }
      for (const id of ids) queued.add(id);
      if (timer === undefined && !reading) timer = setTimeout(flush, gatherMs);
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
