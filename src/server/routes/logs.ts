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
import { TaskNotFoundError } from "../errors.ts";
import { followLog, type TaskWatchSource, watchTask } from "../log_follow.ts";
import { jobLogsRawRoute, jobLogsRoute, jobLogsStreamRoute } from "../routes.ts";
import type { LogsResponseSchema } from "../schemas.ts";
import { SSE_HEADERS } from "../sse.ts";
import { logsBody } from "../stream.ts";
import { apiRouter, type AppEnv, streamedJson, streamErrorReporter } from "./sub_app.ts";

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
    const body = followLog({
      paths: (attempt) => ({
        stdout: runner.logPath(id, query.task, "stdout", attempt),
        stderr: runner.logPath(id, query.task, "stderr", attempt),
      }),
      watch: (stopped) => watchTask(runner, job, query.task, stopped),
      signal,
      pollMs: options.pollMs,
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
