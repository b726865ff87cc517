/**
 * The pipelines: `GET /pipelines`, `GET /pipelines/status` and scheduling a job of one with
 * `POST /pipelines/schedule`.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Logger } from "@logtape/logtape";
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ShuttingDownError } from "../../errors.ts";
import type { RunnerApi } from "../../runner/api.ts";
import { pipelineStatusToJson, pipelineToJson } from "../json.ts";
import { listPipelinesRoute, pipelinesStatusRoute, scheduleRoute } from "../routes.ts";
import { IDEMPOTENCY_KEY_HEADER, IDEMPOTENCY_REPLAYED_HEADER } from "../schemas.ts";
import { apiRouter, type AppEnv } from "./sub_app.ts";

/** Largest accepted request body, in bytes. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** What `pipelineRoutes` needs. */
export interface PipelineRoutesOptions {
  /** Lists the pipelines and schedules their jobs. */
  runner: Pick<RunnerApi, "listPipelines" | "schedule" | "scheduleOnce">;
  /** While true, scheduling answers 503. */
  isShuttingDown: () => boolean;
  /** Where scheduled jobs are logged. */
  logger: Logger;
}

/**
 * The pipeline routes. A scheduled job belongs to the user the request's token names, which the
 * authentication in front of these routes has put into the context; so does an
 * `Idempotency-Key`, which makes a retry get the job of the first request.
 *
 * @example
 * ```ts
 * app.route("/", pipelineRoutes({ runner, isShuttingDown: () => false, logger }));
 * ```
 */
export function pipelineRoutes(options: PipelineRoutesOptions): OpenAPIHono<AppEnv> {
  const { runner, isShuttingDown, logger } = options;
  const app = apiRouter();

  app.openapi(listPipelinesRoute, (c) => {
    return c.json({ pipelines: runner.listPipelines().map(pipelineToJson) }, 200);
  });

  app.openapi(pipelinesStatusRoute, (c) => {
    return c.json({ pipelines: runner.listPipelines().map(pipelineStatusToJson) }, 200);
  });

  app.openapi({ ...scheduleRoute, middleware: [readBodyAsJson, limitBody] }, async (c) => {
    if (isShuttingDown()) throw new ShuttingDownError();
    const body = c.req.valid("json");
    const key = c.req.valid("header")[IDEMPOTENCY_KEY_HEADER];
    const user = c.get("user");
    const request = {
      pipeline: body.pipeline,
      variables: body.variables ?? null,
      user,
      queuePartition: body.queuePartition || null,
    };
    const { job, replayed } = key === undefined
      ? { job: await runner.schedule(request), replayed: false }
      : await runner.scheduleOnce(request, key);
    if (replayed) {
      logger.info("Job {jobId} of pipeline {pipeline} was asked for again by {user} (same key)", {
        jobId: job.id,
        pipeline: job.pipeline,
        user,
      });
      c.header(IDEMPOTENCY_REPLAYED_HEADER, "true");
    } else {
      logger.info("Job {jobId} of pipeline {pipeline} scheduled by {user}", {
        jobId: job.id,
        pipeline: job.pipeline,
        user,
      });
    }
    return c.json({ jobId: job.id }, 202);
  });

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
  // Only a request without a JSON type is copied: the copy cost a schedule request about a
  // tenth of a millisecond (bench case 2).
  if (!/^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i.test(raw.headers.get("content-type") ?? "")) {
    const headers = new Headers(raw.headers);
    headers.set("content-type", "application/json");
    c.req.raw = new Request(raw.url, { method: raw.method, headers, body: raw.body });
  }
  await next();
};

/** Answers 413 for request bodies over `MAX_BODY_BYTES`, without reading more than that. */
const limitBody = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: (c) =>
    c.json({ error: `request body too large: at most ${MAX_BODY_BYTES} bytes are accepted` }, 413),
});
