/**
 * A task's output: `GET /job/logs` (both streams as JSON), `GET /job/logs/stream` (followed as
 * Server-Sent Events while the task runs) and `GET /job/logs/raw` (one log file as a download).
 *
 * @module
 */
import type { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Logger } from "@logtape/logtape";
import type { TypedResponse } from "hono";
import { JobNotFoundError } from "../../errors.ts";
import type { RunnerApi } from "../../runner/api.ts";
import type { LogStore } from "../../store/types.ts";
import { TaskNotFoundError } from "../errors.ts";
import { followLog, type TaskWatchSource, watchTask } from "../log_follow.ts";
import { jobLogsRawRoute, jobLogsRoute, jobLogsStreamRoute } from "../routes.ts";
import type { LogsResponseSchema } from "../schemas.ts";
import { SSE_HEADERS } from "../sse.ts";
import { logsBody } from "../stream.ts";
import { apiRouter, type AppEnv, streamedJson, streamErrorReporter } from "./sub_app.ts";

/** In a cluster: what `GET /job/logs/stream` needs to follow tasks that run on other nodes. */
export interface ClusterLogs {
  /** This node's name, as jobs it runs have it in `node`. */
  node: string;
  /** The log store the nodes share. */
  logs: Pick<LogStore, "read" | "watchOutput">;
}

/** What `logRoutes` needs. */
export interface LogRoutesOptions {
  /** Finds jobs, opens their log files and tells when a followed task ends. */
  runner: Pick<RunnerApi, "getJob" | "openLog" | "logPath"> & TaskWatchSource;
  /** Where failed response bodies are logged. */
  logger: Logger;
  /** Ends the followed logs' streams when aborted (server shutdown). */
  signal?: AbortSignal;
  /** How often a followed log file is looked at while its task runs, in ms. */
  pollMs?: number;
  /** Idle time before a followed log's stream sends a keepalive comment, in ms. */
  keepaliveMs?: number;
  /**
   * In a cluster: the output of a task whose job another node runs is followed in the shared
   * store. Without it, followed output is always read from this node's log files.
   */
  cluster?: ClusterLogs;
  /** How often a followed task's output is read again from the store without a notice, in ms. */
  storePollMs?: number;
  /** How long a task another node ran must bring no output after its end before `end`, in ms. */
  settleMs?: number;
}

/**
 * The log routes. Each answers 404 when the job is unknown or has no task of that name, before
 * any log file is opened.
 *
 * @example
 * ```ts
 * app.route("/", logRoutes({ runner, logger, signal }));
 * ```
 */
export function logRoutes(options: LogRoutesOptions): OpenAPIHono<AppEnv> {
  const { runner, signal } = options;
  const app = apiRouter();
  const reportStreamError = streamErrorReporter(options.logger);

  const findTask = async (id: string, task: string) => {
    const job = await runner.getJob(id);
    if (job === null) throw new JobNotFoundError(id);
    if (!job.tasks.some((t) => t.name === task)) throw new TaskNotFoundError(id, task);
    return job;
  };

  app.openapi(jobLogsRoute, async (c) => {
    const query = c.req.valid("query");
    const id = query.id.toLowerCase();
    await findTask(id, query.task);
    const stdout = await runner.openLog(id, query.task, "stdout");
    let stderr: ReadableStream<Uint8Array> | null;
    try {
      stderr = await runner.openLog(id, query.task, "stderr");
    } catch (error) {
      await stdout?.cancel();
      throw error;
    }
    return streamedJson<z.infer<typeof LogsResponseSchema>>(
      logsBody(stdout, stderr, reportStreamError),
    );
  });

  app.openapi(jobLogsStreamRoute, async (c) => {
    const query = c.req.valid("query");
    const id = query.id.toLowerCase();
    const job = await findTask(id, query.task);
    const { cluster } = options;
    const body = followLog({
      paths: (attempt) => ({
        stdout: runner.logPath(id, query.task, "stdout", attempt),
        stderr: runner.logPath(id, query.task, "stderr", attempt),
      }),
      watch: (stopped) => watchTask(runner, job, query.task, stopped),
      stored: cluster && {
        node: cluster.node,
        read: (stream, attempt, offset, maxBytes) =>
          cluster.logs.read(id, query.task, stream, attempt, offset, maxBytes),
        watch: cluster.logs.watchOutput &&
          ((listener) => cluster.logs.watchOutput!(id, listener)),
      },
      signal,
      pollMs: options.pollMs,
      storePollMs: options.storePollMs,
      settleMs: options.settleMs,
      keepaliveMs: options.keepaliveMs,
      onError: reportStreamError,
    });
    return new Response(body, { headers: SSE_HEADERS });
  });

  app.openapi(jobLogsRawRoute, async (c) => {
    const query = c.req.valid("query");
    const id = query.id.toLowerCase();
    await findTask(id, query.task);
    const log = await runner.openLog(id, query.task, query.stream);
    const name = `${id}-${query.task}.${query.stream}.log`;
    return new Response(log, {
      headers: {
        "content-type": "text/plain; charset=utf-8",
        "content-disposition": `attachment; filename="${asciiFileName(name)}"; ` +
          `filename*=UTF-8''${encodeURIComponent(name)}`,
      },
    }) as Response & TypedResponse<string, 200, "text">;
  });

  return app;
}

/** A file name for the `filename=` fallback: ASCII letters, digits, `.`, `-` and `_` only. */
function asciiFileName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, "_");
}
