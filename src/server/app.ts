/**
 * The HTTP API as a Hono app: prunner's routes, JWT authentication, JSON errors, access log and
 * a generated OpenAPI document.
 *
 * @module
 */
import { OpenAPIHono, type z } from "@hono/zod-openapi";
import { getLogger, type Logger } from "@logtape/logtape";
import type { Context, MiddlewareHandler, TypedResponse } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { JSONParsed } from "hono/utils/types";
import type { ZodError } from "zod";
import { errorMessage, JobNotFoundError, ShuttingDownError } from "../errors.ts";
import type { Job } from "../engine/job.ts";
import type { RunnerApi } from "../runner/api.ts";
import { serveUi } from "../ui/serve.ts";
import { VERSION } from "../version.ts";
import { accessLog } from "./access_log.ts";
import { authenticate } from "./auth.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { InvalidCursorError, JobNotShowableError, statusFor, TaskNotFoundError } from "./errors.ts";
import { createEventFeed } from "./events.ts";
import { jobToJson, pipelineStatusToJson, pipelineToJson } from "./json.ts";
import { followLog, watchTask } from "./log_follow.ts";
import {
  BEARER_AUTH,
  eventsRoute,
  healthRoute,
  jobCancelRoute,
  jobDetailRoute,
  jobLogsRawRoute,
  jobLogsRoute,
  jobLogsStreamRoute,
  listPipelinesJobsRoute,
  listPipelinesRoute,
  metricsRoute,
  openApiRoute,
  pipelinesStatusRoute,
  ROUTES,
  scheduleRoute,
} from "./routes.ts";
import {
  DEFAULT_PAGE,
  type JobSchema,
  type LogsResponseSchema,
  type PipelinesJobsResponseSchema,
} from "./schemas.ts";
import { SSE_HEADERS } from "./sse.ts";
import { logsBody, pipelinesJobsBody } from "./stream.ts";

/** Largest accepted request body, in bytes. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** What `createApp` needs. */
export interface AppOptions {
  /** The runner the API operates on. */
  runner: RunnerApi;
  /** The HS256 secret tokens must be signed with. */
  secret: string;
  /** While true, scheduling answers 503; reading still works. */
  isShuttingDown: () => boolean;
  /** What `GET /metrics` serves. */
  metrics: MetricsSource;
  /** Access and error log; defaults to the `["prunner", "http"]` category. */
  logger?: Logger;
  /**
   * Aborted when the server stops: ends the open `/events` and `/job/logs/stream` responses,
   * which would otherwise keep the server's shutdown waiting.
   */
  signal?: AbortSignal;
  /** Timings of the streaming routes (tests shorten them). */
  streams?: StreamOptions;
  /**
   * What `GET /health` reports: why the store cannot write and why tasks cannot run, each
   * `null` when fine. Without it, health reports both as fine.
   */
  health?: () => Promise<HealthProblems>;
  /** Serve the web UI's files at `/ui/` (without a token); default false. */
  ui?: boolean;
}

/** Timings and sizes of `/events` and `/job/logs/stream`. */
export interface StreamOptions {
  /** Events kept for clients reconnecting to `/events` (default 4096). */
  eventRingSize?: number;
  /** Most bytes of events kept for them (default 16 MiB). */
  eventRingBytes?: number;
  /** Idle time before a keepalive comment, in ms (default 15 s). */
  keepaliveMs?: number;
  /** How often a followed log file is looked at while its task runs, in ms (default 200). */
  logPollMs?: number;
}

/** The failing parts `GET /health` names; `null` where all is well. */
export interface HealthProblems {
  store: string | null;
  executor: string | null;
}

/** Metrics in a text format, e.g. prunner's `Metrics`. */
export interface MetricsSource {
  /** The `Content-Type` of the text. */
  readonly contentType: string;
  text(): Promise<string>;
}

/** Values handlers share through the context. */
export interface AppEnv {
  Variables: { user: string };
}

const JSON_CONTENT_TYPE = { "content-type": "application/json" };

/**
 * Creates the whole HTTP API. Every route requires `Authorization: Bearer <JWT>` except
 * `GET /openapi.json`, which is public: it shows only the shape of the API, which is published
 * with prunner anyway, so documentation tools and client generators can read it without a token;
 * and, with `ui: true`, the web UI's static files under `/ui/`, which ask for a token themselves.
 *
 * @example
 * ```ts
 * const metrics = createMetrics({ load: () => [] });
 * const app = createApp({ runner, secret, isShuttingDown: () => false, metrics });
 * const server = await startServer(app, "localhost:9009");
 * ```
 */
export function createApp(options: AppOptions): OpenAPIHono<AppEnv> {
  const { runner, secret, isShuttingDown, metrics, signal, streams = {} } = options;
  const logger = options.logger ?? getLogger(["prunner", "http"]);
  const app = new OpenAPIHono<AppEnv>({
    strict: false,
    defaultHook: (result, c) => {
      if (!result.success) return c.json({ error: describeIssues(result.error) }, 400);
    },
  });

  app.use(accessLog(logger, new Set([healthRoute.path, metricsRoute.path])));
  if (options.ui) app.use(serveUi());
  app.use(async (c, next) => {
    if (c.req.path === openApiRoute.path || c.req.path === healthRoute.path) return await next();
    const result = await authenticate(c.req.header("authorization") ?? null, secret);
    if (!result.ok) return c.json({ error: result.reason }, 401);
    c.set("user", result.user);
    await next();
  });

  const skipJob = (job: Job, error: unknown) =>
    logger.warn("Job list skips job {jobId}: its record cannot be turned into JSON: {error}", {
      jobId: job.id,
      error,
    });

  const reportStreamError = (error: unknown) =>
    logger.error("Response body failed: {error}", { error });

  app.openapi(healthRoute, async (c) => {
    const problems = await (options.health?.() ?? { store: null, executor: null });
    const failing = problems.store !== null || problems.executor !== null;
    return c.json({
      status: failing ? "failing" as const : "ok" as const,
      store: problems.store ?? "ok",
      executor: problems.executor ?? "ok",
    }, failing ? 503 : 200);
  });

  app.openapi(listPipelinesRoute, (c) => {
    return c.json({ pipelines: runner.listPipelines().map(pipelineToJson) }, 200);
  });

  const feed = createEventFeed(runner.events, {
    capacity: streams.eventRingSize,
    maxBytes: streams.eventRingBytes,
    keepaliveMs: streams.keepaliveMs,
    signal,
  });

  app.openapi(listPipelinesJobsRoute, async (c) => {
    const query = c.req.valid("query");
    const pipeline = query.pipeline || null;
    const state = query.status ?? null;
    if (query.limit !== undefined || query.before || pipeline !== null || state !== null) {
      const before = query.before ? decodeCursor(query.before) : null;
      if (query.before && before === null) throw new InvalidCursorError(query.before);
      const limit = query.limit ?? DEFAULT_PAGE;
      const page = await runner.pageJobs({ limit, before, pipeline, state });
      // Each job on its own, so that one that cannot become JSON is left out, not the page.
      const jobs: string[] = [];
      for (const job of page.jobs) {
        try {
          jobs.push(JSON.stringify(jobToJson(job)));
        } catch (error) {
          skipJob(job, error);
        }
      }
      const pipelines = JSON.stringify(runner.listPipelines().map(pipelineToJson));
      const next = page.next !== null ? `,"next":${JSON.stringify(encodeCursor(page.next))}` : "";
      return streamedJson<z.infer<typeof PipelinesJobsResponseSchema>>(
        `{"pipelines":${pipelines},"jobs":[${jobs.join(",")}]${next}}`,
      );
    }
    const body = await pipelinesJobsBody(
      runner.listPipelines(),
      runner.listJobs(),
      reportStreamError,
      skipJob,
    );
    return streamedJson<z.infer<typeof PipelinesJobsResponseSchema>>(body);
  });

  app.openapi({ ...scheduleRoute, middleware: [readBodyAsJson, limitBody] }, async (c) => {
    if (isShuttingDown()) throw new ShuttingDownError();
    const body = c.req.valid("json");
    const user = c.get("user");
    const job = await runner.schedule({
      pipeline: body.pipeline,
      variables: body.variables ?? null,
      user,
      queuePartition: body.queuePartition || null,
    });
    logger.info("Job {jobId} of pipeline {pipeline} scheduled by {user}", {
      jobId: job.id,
      pipeline: job.pipeline,
      user,
    });
    return c.json({ jobId: job.id }, 202);
  });

  app.openapi(jobDetailRoute, async (c) => {
    const id = c.req.valid("query").id.toLowerCase();
    const job = await runner.getJob(id);
    if (job === null) throw new JobNotFoundError(id);
    let body: string;
    try {
      body = JSON.stringify(jobToJson(job));
    } catch (error) {
      throw new JobNotShowableError(id, errorMessage(error));
    }
    return streamedJson<z.infer<typeof JobSchema>>(body);
  });

  app.openapi(jobLogsRoute, async (c) => {
    const query = c.req.valid("query");
    const id = query.id.toLowerCase();
    const job = await runner.getJob(id);
    if (job === null) throw new JobNotFoundError(id);
    if (!job.tasks.some((task) => task.name === query.task)) {
      throw new TaskNotFoundError(id, query.task);
    }
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

  app.openapi(pipelinesStatusRoute, (c) => {
    return c.json({ pipelines: runner.listPipelines().map(pipelineStatusToJson) }, 200);
  });

  app.openapi(eventsRoute, (c) => {
    const body = feed.open(c.req.header("last-event-id") ?? null);
    return new Response(body, { headers: SSE_HEADERS });
  });

  const findTask = async (id: string, task: string) => {
    const job = await runner.getJob(id);
    if (job === null) throw new JobNotFoundError(id);
    if (!job.tasks.some((t) => t.name === task)) throw new TaskNotFoundError(id, task);
    return job;
  };

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
      pollMs: streams.logPollMs,
      keepaliveMs: streams.keepaliveMs,
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

  app.openapi(jobCancelRoute, async (c) => {
    const id = c.req.valid("query").id.toLowerCase();
    await runner.cancel(id);
    logger.info("Job {jobId} canceled by {user}", { jobId: id, user: c.get("user") });
    return c.json(true as const, 200);
  });

  app.openapi(metricsRoute, async (c) => {
    return c.text(await metrics.text(), 200, { "content-type": metrics.contentType });
  });

  app.openAPIRegistry.registerComponent("securitySchemes", BEARER_AUTH, {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "A JWT signed HS256 with prunner's secret; its `sub` claim names the user.",
  });
  let document: ReturnType<typeof app.getOpenAPI31Document> | undefined;
  app.openapi(openApiRoute, (c) => {
    document ??= app.getOpenAPI31Document({
      openapi: "3.1.0",
      info: {
        title: "prunner HTTP API",
        version: VERSION,
        description: "Schedule pipelines and inspect jobs. Compatible with the Go prunner's API.",
      },
    });
    return c.json(document, 200);
  });

  const methodsByPath = allowedMethods();
  app.notFound((c) => {
    const allowed = methodsByPath.get(withoutTrailingSlash(c.req.path));
    if (allowed) {
      c.header("allow", allowed.join(", "));
      return c.json(
        { error: `method ${c.req.method} not allowed: use ${allowed.join(", ")}` },
        405,
      );
    }
    return c.json({ error: `not found: ${c.req.method} ${c.req.path}` }, 404);
  });

  app.onError((error, c) => errorResponse(error, c, logger));
  return app;
}

/**
 * prunner reads the schedule body as JSON whatever its Content-Type, and clients rely on that
 * (Flowpack.Prunner sends none), so the validator is told it is JSON. The request is rebuilt
 * from its parts: copying Deno's server request as a whole would tie the copy to its abort
 * signal, which Deno warns about.
 */
const readBodyAsJson: MiddlewareHandler = async (c, next) => {
  const raw = c.req.raw;
  const headers = new Headers(raw.headers);
  if (!/^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i.test(headers.get("content-type") ?? "")) {
    headers.set("content-type", "application/json");
  }
  c.req.raw = new Request(raw.url, { method: raw.method, headers, body: raw.body });
  await next();
};

/** Answers 413 for request bodies over `MAX_BODY_BYTES`, without reading more than that. */
const limitBody = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: (c) =>
    c.json({ error: `request body too large: at most ${MAX_BODY_BYTES} bytes are accepted` }, 413),
});

/** A 200 response whose body (a stream, or text made beforehand) is JSON of type `T`. */
function streamedJson<T>(
  body: ReadableStream<Uint8Array> | string,
): Response & TypedResponse<JSONParsed<T>, 200, "json"> {
  const response = new Response(body, { headers: JSON_CONTENT_TYPE });
  return response as Response & TypedResponse<JSONParsed<T>, 200, "json">;
}

/** A file name for the `filename=` fallback: ASCII letters, digits, `.`, `-` and `_` only. */
function asciiFileName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, "_");
}

function errorResponse(error: Error, c: Context, logger: Logger): Response {
  if (error instanceof HTTPException && error.status < 500) {
    return c.json({ error: error.message }, error.status);
  }
  const status = statusFor(error);
  if (status !== null) {
    // 507 is logged by the runner, once per episode rather than once per request.
    if (status === 500) {
      logger.error("{method} {path}: {error}", { method: c.req.method, path: c.req.path, error });
    }
    return c.json({ error: error.message }, status);
  }
  logger.error("{method} {path} failed: {error}", {
    method: c.req.method,
    path: c.req.path,
    error,
  });
  return c.json({ error: "internal error" }, 500);
}

function describeIssues(error: ZodError): string {
  return error.issues.map((issue) => issue.message).join("; ");
}

function allowedMethods(): Map<string, string[]> {
  const methods = new Map<string, string[]>();
  for (const route of ROUTES) {
    const path = withoutTrailingSlash(route.path);
    const method = route.method.toUpperCase();
    methods.set(path, [
      ...(methods.get(path) ?? []),
      ...(method === "GET" ? [method, "HEAD"] : [method]),
    ]);
  }
  return methods;
}

function withoutTrailingSlash(path: string): string {
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}
