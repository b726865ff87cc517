/**
 * `GET /metrics`: prunner's metrics for Prometheus.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { metricsRoute } from "../routes.ts";
import { apiRouter, type AppEnv } from "./sub_app.ts";

/** Metrics in a text format, e.g. prunner's `Metrics`. */
export interface MetricsSource {
  /** The `Content-Type` of the text. */
  readonly contentType: string;
  text(): Promise<string>;
}

/**
 * The metrics route, serving what `metrics` renders at the time of the request.
 *
 * @example
 * ```ts
 * app.route("/", metricsRoutes(createMetrics({ load: () => [] })));
 * ```
 */
export function metricsRoutes(metrics: MetricsSource): OpenAPIHono<AppEnv> {
  const app = apiRouter();
  app.openapi(metricsRoute, async (c) => {
    return c.text(await metrics.text(), 200, { "content-type": metrics.contentType });
  });
  return app;
}
