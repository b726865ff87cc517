import type { Definitions, PipelineDefinition } from "../../src/definition/types.ts";
import { holdsKey } from "../../src/engine/idempotency.ts";
import type { Job } from "../../src/engine/job.ts";
import { jobToJson } from "../../src/server/json.ts";
import type { LogStream } from "../../src/runner/api.ts";
import { inProcessExecutor, startTaskExecutor } from "../../src/executor/task_executor.ts";
import {
  createRunner,
  type Runner,
  type RunnerLogs,
  type RunnerStore,
} from "../../src/runner/runner.ts";

/** Newest first by creation time, ties by id (the job store's order). */
function newestFirst(a: { created: number; id: string }, b: { created: number; id: string }) {
  return b.created - a.created || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

/**
 * An in-memory store that keeps JSON copies, as a real store would; `now` is the clock that
 * idempotency keys expire by.
 */
export function memoryStore(
  now: () => number = Date.now,
): RunnerStore & { saved: Map<string, Job>; ticks: Map<string, number> } {
  const saved = new Map<string, Job>();
  const ticks = new Map<string, number>();
  return {
    saved,
    ticks,
    saveTick({ pipeline, trigger, planned }) {
      const key = `${pipeline} ${trigger}`;
      ticks.set(key, Math.max(ticks.get(key) ?? planned, planned));
      return Promise.resolve();
    },
    save(job) {
      saved.set(job.id, structuredClone(job));
      return Promise.resolve();
    },
    get(id) {
      return Promise.resolve(saved.get(id) ?? null);
    },
    findIdempotent(user, key) {
      const found = [...saved.values()].find((job) => holdsKey(job, user, key, now()));
      return Promise.resolve(found ?? null);
    },
    async *listJson() {
      const encoder = new TextEncoder();
      yield [...saved.values()].sort(newestFirst).map((job) => ({
        id: job.id,
        json: encoder.encode(JSON.stringify(jobToJson(job))),
      }));
    },
    page({ limit, before, pipeline }) {
      const matching = [...saved.values()].sort(newestFirst)
        .filter((job) => pipeline === null || job.pipeline === pipeline)
        .filter((job) => before === null || newestFirst(before, job) < 0);
      const jobs = matching.slice(0, limit);
      const last = jobs.at(-1);
      const next = matching.length > limit && last ? { created: last.created, id: last.id } : null;
      return Promise.resolve({ jobs, next });
    },
  };
}

/** Log files in a directory. */
export function dirLogs(dir: string): RunnerLogs {
  const path = (jobId: string, task: string, stream: LogStream, attempt = 1) =>
    `${dir}/${jobId}/${encodeURIComponent(task)}${attempt > 1 ? `~${attempt}` : ""}.${stream}.log`;
  return {
    path,
    async open(jobId, task, stream, attempt) {
      try {
        return (await Deno.open(path(jobId, task, stream, attempt))).readable;
      } catch {
        return null;
      }
    },
    async read(jobId, task, stream, attempt, offset, maxBytes) {
      try {
        using file = await Deno.open(path(jobId, task, stream, attempt));
        await file.seek(offset, Deno.SeekMode.Start);
        const buffer = new Uint8Array(maxBytes);
        return buffer.subarray(0, await file.read(buffer) ?? 0);
      } catch {
        return new Uint8Array(0);
      }
    },
    started: () => {},
    ended: () => Promise.resolve(),
    remove: (jobId) => Deno.remove(`${dir}/${jobId}`, { recursive: true }).catch(() => {}),
  };
}

/** Where a test runner's tasks run. */
export type TestExecutor = "process" | "in-process";

/**
 * A runner over the given pipelines, with a memory store and logs in a temp dir. Its tasks run
 * in a task executor process, as in prunner, unless `executor` is `"in-process"`; `logs` may
 * change the log store it gets.
 */
export async function testRunner(
  pipelines: PipelineDefinition[],
  executor: TestExecutor = "process",
  logs: (inDir: RunnerLogs) => RunnerLogs = (inDir) => inDir,
): Promise<
  { runner: Runner; store: ReturnType<typeof memoryStore>; dir: string } & AsyncDisposable
> {
  const dir = await Deno.makeTempDir({ prefix: "prunner-runner-" });
  const store = memoryStore();
  const definitions: Definitions = new Map(pipelines.map((p) => [p.name, p]));
  const tasks = executor === "process" ? startTaskExecutor() : inProcessExecutor;
  const runner = createRunner({
    definitions,
    store,
    logs: logs(dirLogs(dir)),
    executor: tasks,
    cwd: dir,
    killTimeoutMs: 2000,
  });
  return {
    runner,
    store,
    dir,
    async [Symbol.asyncDispose]() {
      await runner.shutdown("cancel");
      await tasks.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Polls `check` until it returns a truthy value, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 30_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits until the job has completed and returns it. */
export function completed(runner: Runner, id: string, timeoutMs?: number): Promise<Job> {
  return waitFor(`job ${id} to complete`, async () => {
    const job = await runner.getJob(id);
    return job?.completed ? job : null;
  }, timeoutMs);
}

/** Reads a task's log as text. */
export async function logText(
  runner: Runner,
  jobId: string,
  task: string,
  stream: LogStream = "stdout",
): Promise<string> {
  const readable = await runner.openLog(jobId, task, stream);
  return readable ? await new Response(readable).text() : "";
}

/** Whether a process with this pid exists (and is not a zombie). */
export function processAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}
