/**
 * Text output of the client commands: aligned tables, job states, durations and task-prefixed
 * output lines. Pure functions; colours only when asked for.
 *
 * @module
 */
import type { ListedPipeline } from "../client/api.ts";
import type { ClusterJson, JobJson } from "../client/json.ts";

/** What a job is doing or how it ended. */
export type JobState = "waiting" | "running" | "succeeded" | "failed" | "canceled";

/**
 * The state of a job.
 *
 * @example
 * ```ts
 * jobState({ completed: true, canceled: false, errored: true }); // "failed"
 * ```
 */
export function jobState(
  job: Pick<JobJson, "completed" | "canceled" | "errored" | "start">,
): JobState {
  if (job.canceled) return "canceled";
  if (job.completed) return job.errored ? "failed" : "succeeded";
  return job.start === undefined ? "waiting" : "running";
}

const ANSI = {
  red: "\x1b[31m",
  green: "\x1b[32m",
  yellow: "\x1b[33m",
  blue: "\x1b[34m",
  magenta: "\x1b[35m",
  cyan: "\x1b[36m",
  gray: "\x1b[90m",
  bold: "\x1b[1m",
  reset: "\x1b[0m",
} as const;

/** A colour name of {@linkcode paint}. */
export type Colour = Exclude<keyof typeof ANSI, "reset">;

/** `text` in `colour` when `enabled`, else `text` as it is. */
export function paint(text: string, colour: Colour | null, enabled: boolean): string {
  return enabled && colour !== null && text !== "" ? `${ANSI[colour]}${text}${ANSI.reset}` : text;
}

const STATE_COLOURS: Record<string, Colour> = {
  succeeded: "green",
  done: "green",
  failed: "red",
  error: "red",
  canceled: "yellow",
  running: "cyan",
  waiting: "gray",
  skipped: "gray",
};

/** A job or task state, coloured when `colour`. */
export function paintState(state: string, colour: boolean): string {
  return paint(state, STATE_COLOURS[state] ?? null, colour);
}

// deno-lint-ignore no-control-regex
const ANSI_PATTERN = /\x1b\[[0-9;]*m/g;

/**
 * Rows as columns separated by two spaces, each as wide as its widest cell (colour codes do not
 * count); the last column is not padded.
 *
 * @example
 * ```ts
 * table([["ID", "STATE"], ["1", "done"]]); // "ID  STATE\n1   done"
 * ```
 */
export function table(rows: readonly (readonly string[])[]): string {
  const visible = (cell: string) => cell.replace(ANSI_PATTERN, "").length;
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, visible(cell)));
  }
  return rows.map((row) =>
    row.map((cell, i) =>
      i === row.length - 1 ? cell : cell + " ".repeat(widths[i] - visible(cell) + 2)
    ).join("").trimEnd()
  ).join("\n");
}

/**
 * A duration for people: `850ms`, `12s`, `1m05s`, `2h03m`.
 *
 * @example
 * ```ts
 * formatDuration(65_000); // "1m05s"
 * ```
 */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}

/**
 * Elapsed time as a clock for the status line: `0:07`, `12:30`, `1:02:03`.
 *
 * @example
 * ```ts
 * formatClock(65_000); // "1:05"
 * ```
 */
export function formatClock(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const ss = String(seconds % 60).padStart(2, "0");
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}:${ss}`;
  return `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, "0")}:${ss}`;
}

/** An RFC 3339 time as `YYYY-MM-DD HH:MM:SS` in UTC, or "" when absent. */
export function formatTime(time: string | undefined): string {
  return time === undefined ? "" : time.replace("T", " ").replace(/(\.\d+)?Z$/, "");
}

/** How long something between `start` and `end` (or `now` while running) took; "" if unstarted. */
export function elapsed(start: string | undefined, end: string | undefined, now: Date): string {
  if (start === undefined) return "";
  const until = end === undefined ? now.getTime() : Date.parse(end);
  return formatDuration(until - Date.parse(start));
}

/**
 * The table of `prunner pipelines`; a NEXT RUN column (UTC) when a pipeline has a `schedule`.
 */
export function pipelinesTable(pipelines: readonly ListedPipeline[], colour: boolean): string {
  const counts = pipelines.some((p) => p.runningJobs !== undefined);
  const nextRuns = pipelines.some((p) => p.nextRun !== undefined);
  const header = counts
    ? ["PIPELINE", "SCHEDULABLE", "RUNNING", "WAITING"]
    : ["PIPELINE", "SCHEDULABLE", "RUNNING"];
  if (nextRuns) header.push("NEXT RUN");
  const rows = pipelines.map((p) => {
    const running = counts ? String(p.runningJobs ?? 0) : p.running ? "yes" : "no";
    const row = [
      p.pipeline,
      p.schedulable ? "yes" : "no",
      paint(running, p.running ? "cyan" : null, colour),
    ];
    if (counts) row.push(String(p.waitingJobs ?? 0));
    if (nextRuns) row.push(formatTime(p.nextRun));
    return row;
  });
  return table([header.map((h) => paint(h, "bold", colour)), ...rows]);
}

/** The table of `prunner jobs`. */
export function jobsTable(jobs: readonly JobJson[], colour: boolean, now: Date): string {
  const header = ["ID", "PIPELINE", "STATE", "CREATED", "DURATION", "USER"];
  const rows = jobs.map((job) => [
    job.id,
    job.pipeline,
    paintState(jobState(job), colour),
    formatTime(job.created),
    elapsed(job.start, job.end, now),
    job.user,
  ]);
  return table([header.map((h) => paint(h, "bold", colour)), ...rows]);
}

/**
 * The table of `prunner cluster`: each node's name (the one that answered marked), address,
 * heartbeat age, whether it is alive or silent, and how many jobs it runs.
 *
 * @example
 * ```ts
 * clusterTable(await client.cluster(), false);
 * // NODE                    ADDRESS            HEARTBEAT  STATE   JOBS
 * // web-1:9009 (answering)  http://web-1:9009  1s ago     alive   2
 * ```
 */
export function clusterTable(cluster: ClusterJson, colour: boolean): string {
  const header = ["NODE", "ADDRESS", "HEARTBEAT", "STATE", "JOBS"];
  const rows = cluster.nodes.map((node) => [
    node.self ? `${node.name} (answering)` : node.name,
    node.address,
    `${formatDuration(node.heartbeatAgeMs)} ago`,
    paint(node.alive ? "alive" : "silent", node.alive ? "green" : "red", colour),
    String(node.jobs.length),
  ]);
  return table([header.map((h) => paint(h, "bold", colour)), ...rows]);
}

/** The text of `prunner job ID`: the job's fields, then a table of its tasks. */
export function jobDetail(job: JobJson, colour: boolean, now: Date): string {
  const fields: [string, string][] = [
    ["Job", job.id],
    ["Pipeline", job.pipeline],
    ["State", paintState(jobState(job), colour)],
    ["User", job.user],
    ["Created", formatTime(job.created)],
    ["Started", formatTime(job.start)],
    ["Ended", formatTime(job.end)],
    ["Duration", elapsed(job.start, job.end, now)],
  ];
  if (job.trigger !== undefined) {
    const { cron, timezone, planned } = job.trigger;
    fields.push(["Trigger", `${cron} (${timezone}), tick of ${formatTime(planned)}`]);
  }
  if (job.variables !== undefined) fields.push(["Variables", JSON.stringify(job.variables)]);
  if (job.lastError !== undefined) fields.push(["Error", paint(job.lastError, "red", colour)]);
  const head = table(fields.filter(([, value]) => value !== "").map(([k, v]) => [`${k}:`, v]));
  const tasks = table([
    ["TASK", "STATE", "EXIT", "DURATION", "ERROR"].map((h) => paint(h, "bold", colour)),
    ...job.tasks.map((task) => [
      task.name,
      paintState(task.status, colour) + retryNote(task),
      task.start === undefined ? "" : String(task.exitCode),
      elapsed(task.start, task.end, now),
      task.error ?? "",
    ]),
  ]);
  return `${head}\n\n${tasks}`;
}

/** ` (attempt 2, retry at …)` for a task with retries, else "". */
function retryNote(task: JobJson["tasks"][number]): string {
  const notes = [];
  if (task.attempt) notes.push(`attempt ${task.attempt}`);
  if (task.retryAt) notes.push(`retry at ${formatTime(task.retryAt)}`);
  return notes.length > 0 ? ` (${notes.join(", ")})` : "";
}

/**
 * The line that ends `--wait` and `--follow`: the job's id and outcome.
 *
 * @example
 * ```ts
 * summary(job, new Date()); // "job 3f1c… failed after 4s: task \"test\" exited with 1"
 * ```
 */
export function summary(job: JobJson, now: Date): string {
  const took = elapsed(job.start, job.end, now);
  const state = jobState(job);
  const head = `job ${job.id} (${job.pipeline}) ${state}`;
  if (state === "succeeded") return `${head} in ${took}`;
  const after = took ? ` after ${took}` : "";
  return job.lastError ? `${head}${after}: ${job.lastError}` : `${head}${after}`;
}

const TASK_COLOURS: readonly Colour[] = ["cyan", "magenta", "blue", "yellow", "green"];

/**
 * Splits the output of several tasks into lines, each led by its task's name (padded to the
 * longest name, coloured when asked for). Text without a newline yet is held back until its line
 * is complete, per task and stream, so that lines of different tasks never mix.
 *
 * @example
 * ```ts
 * const lines = linePrefixer(["build", "test"], false);
 * lines.push("build", "stdout", "compiling\nlink"); // ["build | compiling"]
 * lines.flush(); // [["stdout", "build | link"]]
 * ```
 */
export function linePrefixer(tasks: readonly string[], colour: boolean) {
  const width = Math.max(0, ...tasks.map((t) => t.length));
  const pending = new Map<string, string>();
  const prefix = (task: string) => {
    const index = tasks.indexOf(task);
    const name = paint(
      task.padEnd(width),
      TASK_COLOURS[Math.max(0, index) % TASK_COLOURS.length],
      colour,
    );
    return `${name} | `;
  };
  return {
    /** Adds output; returns the lines it completed, prefixed, without their newlines. */
    push(task: string, stream: "stdout" | "stderr", text: string): string[] {
      const key = `${stream}\u0000${task}`;
      const parts = ((pending.get(key) ?? "") + text).split("\n");
      pending.set(key, parts.pop()!);
      return parts.map((line) => prefix(task) + line.replace(/\r$/, ""));
    },
    /** The incomplete last lines (of `only` that task), prefixed, with their streams. */
    flush(only?: string): ["stdout" | "stderr", string][] {
      const rest: ["stdout" | "stderr", string][] = [];
      for (const [key, text] of pending) {
        const [stream, task] = key.split("\u0000") as ["stdout" | "stderr", string];
        if (only !== undefined && task !== only) continue;
        if (text !== "") rest.push([stream, prefix(task) + text]);
        pending.delete(key);
      }
      return rest;
    },
  };
}
