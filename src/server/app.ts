/**
 * The HTTP API as a Hono app: JWT authentication, JSON errors and the access log in front of
 * one sub-app per resource (`./routes/`), which serve prunner's routes and a generated OpenAPI
 * document.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { getLogger, type Logger } from "@logtape/logtape";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { RunnerApi } from "../runner/api.ts";
import { serveUi } from "../ui/serve.ts";
import { accessLog } from "./access_log.ts";
import { authenticate } from "./auth.ts";
import { statusFor } from "./errors.ts";
import { createEventFeed } from "./events.ts";
import { healthRoute, metricsRoute, openApiRoute, ROUTES } from "./routes.ts";
import { clusterRoutes, type ClusterView } from "./routes/cluster.ts";
import { eventRoutes } from "./routes/events.ts";
import { type HealthProblems, healthRoutes } from "./routes/health.ts";
import { jobRoutes } from "./routes/jobs.ts";
import { type ClusterLogs, logRoutes } from "./routes/logs.ts";
import { metricsRoutes, type MetricsSource } from "./routes/metrics.ts";
import { openApiRoutes } from "./routes/openapi.ts";
import { pipelineRoutes } from "./routes/pipelines.ts";
import { apiRouter, type AppEnv } from "./routes/sub_app.ts";

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
   * `null` when fine, and in a cluster its `cluster` section. Without it, health reports both
   * as fine.
   */
  health?: () => Promise<HealthProblems>;
  /** Serve the web UI's files at `/ui/` (without a token); default false. */
  ui?: boolean;
  /**
   * In a cluster: this node and the nodes `GET /cluster` lists (its `ClusterMember`). Without
   * it `GET /cluster` answers 404: cluster mode is off.
   */
  cluster?: ClusterView;
  /**
   * In a cluster (`--database-url`): this node's name and the shared log store, so that
   * `GET /job/logs/stream` follows the output of tasks that other nodes run.
   */
  clusterLogs?: ClusterLogs;
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
  /**
   * How often a task another node runs is read again from the store without a notice of new
   * output, in ms (default 2 s).
   */
  logStorePollMs?: number;
  /** How long a task another node ran must bring no output after its end before `end` (1 s). */
  logSettleMs?: number;
}

/**
 * Creates the whole HTTP API. Every route requires `Authorization: Bearer <JWT>` except
 * `GET /openapi.json`, which is public: it shows only the shape of the API, which is published
 * with prunner anyway, so documentation tools and client generators can read it without a token;
 * `GET /health`, which shows no job data; and, with `ui: true`, the web UI's static files under
 * `/ui/`, which ask for a token themselves.
 *
 * @example
 * ```ts
 * const metrics = createMetrics({ load: () => [] });
 * const app = createApp({ runner, secret, isShuttingDown: () => false, metrics });
 * const server = await startServer(app, "localhost:9009");
 * ```
 */
export function createApp(options: AppOptions): OpenAPIHono<AppEnv> {
  const { runner, secret, isShuttingDown, signal, streams = {} } = options;
  const logger = options.logger ?? getLogger(["prunner", "http"]);
  const app = apiRouter();

  app.use(accessLog(logger, new Set([healthRoute.path, metricsRoute.path])));
  if (options.ui) app.use(serveUi());
  app.use(async (c, next) => {
    if (c.req.path === openApiRoute.path || c.req.path === healthRoute.path) return await next();
    const result = await authenticate(c.req.header("authorization") ?? null, secret);
    if (!result.ok) return c.json({ error: result.reason }, 401);
    c.set("user", result.user);
    await next();
  });

  const feed = createEventFeed(runner.events, {
    capacity: streams.eventRingSize,
    maxBytes: streams.eventRingBytes,
    keepaliveMs: streams.keepaliveMs,
    signal,
  });
  app.route("/", healthRoutes(options.health));
  app.route("/", pipelineRoutes({ runner, isShuttingDown, logger }));
  app.route("/", jobRoutes({ runner, logger }));
  app.route(
    "/",
    logRoutes({
      runner,
      logger,
      signal,
      pollMs: streams.logPollMs,
      keepaliveMs: streams.keepaliveMs,
      cluster: options.clusterLogs,
      storePollMs: streams.logStorePollMs,
      settleMs: streams.logSettleMs,
    }),
  );
  app.route("/", eventRoutes(feed));
  app.route("/", clusterRoutes(options.cluster));
  app.route("/", metricsRoutes(options.metrics));
  app.route("/", openApiRoutes(app));

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
