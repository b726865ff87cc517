/**
 * The jobs: the listing `GET /pipelines/jobs` (all at once, or paged), `GET /job/detail` and
 * `POST /job/cancel`.
 *
 * @module
 */
import type { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Logger } from "@logtape/logtape";
import type { Job } from "../../engine/job.ts";
import { errorMessage, JobNotFoundError } from "../../errors.ts";
import type { RunnerApi } from "../../runner/api.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { InvalidCursorError, JobNotShowableError } from "../errors.ts";
import { jobToJson, pipelineToJson } from "../json.ts";
import { jobCancelRoute, jobDetailRoute, listPipelinesJobsRoute } from "../routes.ts";
import { DEFAULT_PAGE, type JobSchema, type PipelinesJobsResponseSchema } from "../schemas.ts";
import { pipelinesJobsBody } from "../stream.ts";
import { apiRouter, type AppEnv, streamedJson, streamErrorReporter } from "./sub_app.ts";

/** What `jobRoutes` needs. */
export interface JobRoutesOptions {
  /** Reads, pages and cancels jobs; lists the pipelines that the listing shows with them. */
  runner: Pick<RunnerApi, "listPipelines" | "listJobs" | "pageJobs" | "getJob" | "cancel">;
  /** Where cancels, skipped job records and failed listing bodies are logged. */
  logger: Logger;
}

/**
 * The job routes. A job whose record cannot be turned into JSON is left out of the listing
 * (and logged), and answered with 500 by `GET /job/detail`.
 *
 * @example
 * ```ts
 * app.route("/", jobRoutes({ runner, logger }));
 * ```
 */
export function jobRoutes(options: JobRoutesOptions): OpenAPIHono<AppEnv> {
  const { runner, logger } = options;
  const app = apiRouter();
  const reportStreamError = streamErrorReporter(logger);
  const skipJob = (job: Job, error: unknown) =>
    logger.warn("Job list skips job {jobId}: its record cannot be turned into JSON: {error}", {
      jobId: job.id,
      error,
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

  app.openapi(jobCancelRoute, async (c) => {
    const id = c.req.valid("query").id.toLowerCase();
    await runner.cancel(id);
    logger.info("Job {jobId} canceled by {user}", { jobId: id, user: c.get("user") });
    return c.json(true as const, 200);
  });

  return app;
}
