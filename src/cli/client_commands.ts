/**
 * The client commands (`schedule`, `pipelines`, `jobs`, `job`, `logs`, `cancel`, `cluster`): they
 * talk to a running prunner over its HTTP API and print tables, JSON or task output.
 *
 * @module
 */
import { errorMessage } from "../errors.ts";
import { createClient, type PrunnerClient } from "../client/api.ts";
import type { JobJson } from "../client/json.ts";
import { type ConnectionOptions, resolveCredentials, serverUrl } from "../client/connection.ts";
import { ApiError } from "../client/errors.ts";
import { followJob } from "../client/follow.ts";
import { watchJob } from "../client/watch.ts";
import { EXIT } from "./commands.ts";
import { type ClientRequest, CliError } from "./flags.ts";
import {
  clusterTable,
  formatClock,
  jobDetail,
  jobsTable,
  jobState,
  linePrefixer,
  pipelinesTable,
  summary,
} from "./render.ts";
import { createScreen, type Screen } from "./screen.ts";

/** What the client commands need from their surroundings. */
export interface ClientContext {
  /** The environment, for `NO_COLOR`. */
  env: Record<string, string | undefined>;
}

/**
 * Runs a client command; resolves with the exit status: 0, or for `schedule --wait` (and
 * `logs --follow`) 1 when the job failed and 3 when it was canceled.
 *
 * @example
 * ```ts
 * const command = parseCli(["jobs", "--limit", "5"], env);
 * if (command.kind === "client") Deno.exit(await runClient(command, { env }));
 * ```
 * @throws {PrunnerError} with a one-line message when the server cannot be reached, refuses the
 * token or the request; {@linkcode CliError} (exit 2) for an unreadable `--vars` file.
 */
export async function runClient(
  command: { request: ClientRequest; connection: ConnectionOptions },
  context: ClientContext,
): Promise<number> {
  const screen = createScreen(context.env);
  const url = serverUrl(command.connection);
  const credentials = await resolveCredentials(command.connection);
  const client = createClient(url, credentials);
  const request = command.request;
  const now = () => new Date();
  const printJson = (value: unknown) => screen.out(`${JSON.stringify(value, null, 2)}\n`);

  switch (request.command) {
    case "pipelines": {
      const pipelines = await client.pipelines();
      if (request.json) printJson(pipelines);
      else screen.out(`${pipelinesTable(pipelines, screen.colour)}\n`);
      return EXIT.succeeded;
    }
    case "jobs": {
      const jobs = await client.jobs(request);
      if (request.json) printJson(jobs);
      else if (jobs.length === 0) screen.err("no jobs\n");
      else screen.out(`${jobsTable(jobs, screen.colour, now())}\n`);
      return EXIT.succeeded;
    }
    case "job": {
      const job = await client.job(request.id);
      if (request.json) printJson(job);
      else screen.out(`${jobDetail(job, screen.colour, now())}\n`);
      return EXIT.succeeded;
    }
    case "cancel":
      await client.cancel(request.id);
      screen.out(`job ${request.id} is being canceled\n`);
      return EXIT.succeeded;
    case "cluster": {
      const cluster = await client.cluster();
      if (request.json) printJson(cluster);
      else screen.out(`${clusterTable(cluster, screen.colour)}\n`);
      return EXIT.succeeded;
    }
    case "logs":
      return request.follow
        ? exitStatus(await follow(client, screen, request.id, request.task))
        : await printLogs(client, screen, request);
    case "schedule": {
      const variables = await readVariables(request, Deno.stdin.readable);
      const id = await client.schedule({
        pipeline: request.pipeline,
        variables,
        partition: request.partition,
        idempotencyKey: request.idempotencyKey ?? crypto.randomUUID(),
      });
      if (!request.wait) {
        if (request.json) printJson({ jobId: id });
        else screen.out(`${id}\n`);
        return EXIT.succeeded;
      }
      if (!request.json) screen.out(`${id}\n`);
      const job = request.follow
        ? await follow(client, screen, id, null)
        : await withStatusLine(screen, (onChange) => watchJob(client, id, { onChange }));
      if (request.json) printJson(job);
      else screen.err(`${summary(job, now())}\n`);
      return exitStatus(job);
    }
  }
}

/** The exit status for an ended job. */
function exitStatus(job: JobJson): number {
  if (job.canceled) return EXIT.canceled;
  return job.errored ? EXIT.failed : EXIT.succeeded;
}

/** The variables of `schedule`: `--vars` first, then the `--var` values over them. */
async function readVariables(
  request: Extract<ClientRequest, { command: "schedule" }>,
  stdin: ReadableStream<Uint8Array>,
): Promise<Record<string, unknown>> {
  const variables: Record<string, unknown> = {};
  if (request.varsFile !== null) {
    const where = request.varsFile === "-" ? "standard input" : request.varsFile;
    let text: string;
    try {
      text = request.varsFile === "-"
        ? await new Response(stdin).text()
        : await Deno.readTextFile(request.varsFile);
    } catch (error) {
      throw new CliError(`invalid value for --vars: cannot read ${where}: ${errorMessage(error)}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new CliError(`invalid value for --vars: ${where} is not JSON: ${errorMessage(error)}`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new CliError(`invalid value for --vars: ${where} must hold a JSON object`);
    }
    Object.assign(variables, parsed);
  }
  for (const [key, value] of request.variables) variables[key] = value;
  return variables;
}

async function printLogs(
  client: PrunnerClient,
  screen: Screen,
  request: Extract<ClientRequest, { command: "logs" }>,
): Promise<number> {
  if (request.task !== null) {
    const logs = await client.logs(request.id, request.task);
    if (request.json) {
      screen.out(`${JSON.stringify(logs, null, 2)}\n`);
    } else {
      screen.out(logs.stdout);
      screen.err(logs.stderr);
    }
    return EXIT.succeeded;
  }
  const job = await client.job(request.id);
  const all = [];
  for (const task of job.tasks) {
    if (task.start === undefined) continue;
    try {
      all.push({ task: task.name, ...await client.logs(request.id, task.name) });
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
    }
  }
  if (request.json) {
    screen.out(`${JSON.stringify(all, null, 2)}\n`);
    return EXIT.succeeded;
  }
  const lines = linePrefixer(job.tasks.map((t) => t.name), screen.colour);
  for (const { task, stdout, stderr } of all) {
    for (const line of lines.push(task, "stdout", stdout)) screen.out(`${line}\n`);
    for (const line of lines.push(task, "stderr", stderr)) screen.err(`${line}\n`);
    for (const [stream, line] of lines.flush()) {
      if (stream === "stdout") screen.out(`${line}\n`);
      else screen.err(`${line}\n`);
    }
  }
  return EXIT.succeeded;
}

/**
 * Prints a job's output as it is written until the job ends: every task's lines led by the
 * task's name, or only `task`'s output as it is.
 */
async function follow(
  client: PrunnerClient,
  screen: Screen,
  id: string,
  task: string | null,
): Promise<JobJson> {
  const job = await client.job(id);
  const lines = linePrefixer(job.tasks.map((t) => t.name), screen.colour);
  const write = (stream: "stdout" | "stderr", text: string) =>
    stream === "stdout" ? screen.out(text) : screen.err(text);
  const ended = await withStatusLine(screen, (onChange) =>
    followJob(client, id, {
      task: task ?? undefined,
      onChange,
      onOutput(chunk) {
        if (task !== null) return write(chunk.stream, chunk.text);
        for (const line of lines.push(chunk.task, chunk.stream, chunk.text)) {
          write(chunk.stream, `${line}\n`);
        }
      },
      onTaskEnd(name) {
        if (task !== null) return;
        for (const [stream, line] of lines.flush(name)) write(stream, `${line}\n`);
      },
    }));
  for (const [stream, line] of lines.flush()) write(stream, `${line}\n`);
  return ended;
}

/**
 * Runs `wait` with a status line on a terminal: the running tasks and the time since the job
 * started, redrawn every second and whenever the job changes.
 */
async function withStatusLine(
  screen: Screen,
  wait: (onChange: (job: JobJson) => void) => Promise<JobJson>,
): Promise<JobJson> {
  if (!screen.interactive) return await wait(() => {});
  let job: JobJson | null = null;
  const started = Date.now();
  const draw = () => {
    const since = job?.start === undefined ? started : Date.parse(job.start);
    const running = job?.tasks.filter((t) => t.status === "running").map((t) => t.name) ?? [];
    const what = job === null || jobState(job) === "waiting"
      ? "waiting to start"
      : running.length > 0
      ? `running ${running.join(", ")}`
      : "running";
    screen.status(`${formatClock(Date.now() - since)} ${what}`);
  };
  const timer = setInterval(draw, 1000);
  const onInterrupt = () => {
    screen.status(null);
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  draw();
  try {
    return await wait((changed) => {
      job = changed;
      draw();
    });
  } finally {
    clearInterval(timer);
    Deno.removeSignalListener("SIGINT", onInterrupt);
    screen.status(null);
  }
}
