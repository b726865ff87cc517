/**
 * Following a job: every task's output as it is written (`GET /job/logs/stream`, one stream
 * per task) while the job is watched until it ends.
 *
 * @module
 */
import type { PrunnerClient } from "./api.ts";
import { UnknownTaskError, UnsupportedError } from "./errors.ts";
import { decodeLogEvent } from "./events.ts";
import type { JobJson, LogStream, TaskStatus } from "./json.ts";
import { watchJob } from "./watch.ts";

/** A piece of a task's output. */
export interface OutputChunk {
  task: string;
  stream: LogStream;
  text: string;
}

/** How `followJob` reports. */
export interface FollowOptions {
  /** Called with each piece of output, in the order it arrives. */
  onOutput: (chunk: OutputChunk) => void;
  /** Called when a task's output has ended, with its status and exit code. */
  onTaskEnd?: (task: string, end: { status: TaskStatus; exitCode: number }) => void;
  /** Called with the job whenever it may have changed. */
  onChange?: (job: JobJson) => void;
  /** Stops following. */
  signal?: AbortSignal;
  /** Only this task's output; the job is still watched until it ends. */
  task?: string;
}

/** How long the output of started tasks may keep arriving after the job has ended. */
const DRAIN_MS = 10_000;

/**
 * Streams the output of a job's tasks until the job has ended and resolves with the ended job.
 * Tasks that never started (skipped, or the job was canceled first) have no output. A task's
 * output comes after the output of the tasks it depends on; tasks that run side by side mix.
 *
 * @example
 * ```ts
 * const job = await followJob(client, jobId, {
 *   onOutput: ({ task, text }) => console.log(task, text),
 * });
 * ```
 * @throws {UnsupportedError} when the server has no event or log streams.
 * @throws {UnknownTaskError} when `task` is not a task of the job.
 */
export async function followJob(
  client: PrunnerClient,
  id: string,
  options: FollowOptions,
): Promise<JobJson> {
  const probe = await client.events({ signal: options.signal });
  if (probe === null) {
    throw new UnsupportedError("following output (GET /events)", client.url);
  }
  await probe.cancel();

  const job = await client.job(id);
  const names = job.tasks.map((t) => t.name);
  if (options.task !== undefined && !names.includes(options.task)) {
    throw new UnknownTaskError(id, options.task, names);
  }
  const tasks = options.task === undefined ? names : [options.task];
  const streams = new Map(tasks.map((task) => [task, new AbortController()]));
  const abortAll = () => streams.forEach((controller) => controller.abort());
  options.signal?.addEventListener("abort", abortAll, { once: true });

  let failure: { error: unknown } | null = null;
  // A task's output is read once the output of the tasks it depends on has ended, so that it
  // never shows before theirs. It cannot start before they end, so this delays nothing.
  const done = new Map<string, Promise<void>>();
  for (const task of job.tasks) {
    if (!streams.has(task.name)) continue;
    const before = (task.dependsOn ?? []).flatMap((name) => done.get(name) ?? []);
    done.set(
      task.name,
      Promise.all(before).then(() =>
        readTask(client, id, task.name, streams.get(task.name)!.signal, options)
      ).catch((error) => {
        failure ??= { error };
      }),
    );
  }
  const reading = [...done.values()];
  try {
    const ended = await watchJob(client, id, {
      onChange: options.onChange,
      signal: options.signal,
    });
    // Tasks that never started will not get output; the others end on their own.
    for (const task of ended.tasks) {
      if (task.start === undefined) streams.get(task.name)?.abort();
    }
    const timer = setTimeout(abortAll, DRAIN_MS);
    await Promise.all(reading);
    clearTimeout(timer);
    if (failure !== null) throw (failure as { error: unknown }).error;
    return ended;
  } finally {
    abortAll();
    await Promise.all(reading);
    options.signal?.removeEventListener("abort", abortAll);
  }
}

async function readTask(
  client: PrunnerClient,
  id: string,
  task: string,
  signal: AbortSignal,
  options: FollowOptions,
): Promise<void> {
  try {
    const events = await client.logStream(id, task, signal);
    for await (const message of events) {
      const event = decodeLogEvent(message);
      if (event?.type === "end") {
        options.onTaskEnd?.(task, { status: event.status, exitCode: event.exitCode });
        return;
      }
      if (event !== null) options.onOutput({ task, stream: event.type, text: event.text });
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}
