/**
 * `GET /events`: every change of jobs and pipelines as Server-Sent Events.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { EventFeed } from "../events.ts";
import { eventsRoute } from "../routes.ts";
import { SSE_HEADERS } from "../sse.ts";
import { apiRouter, type AppEnv } from "./sub_app.ts";

/**
 * The events route: each request opens a stream of `feed`, resuming after the client's
 * `Last-Event-ID` when it sends one.
 *
 * @example
 * ```ts
 * app.route("/", eventRoutes(createEventFeed(runner.events, { signal })));
 * ```
 */
export function eventRoutes(feed: EventFeed): OpenAPIHono<AppEnv> {
  const app = apiRouter();
  app.openapi(eventsRoute, (c) => {
    const body = feed.open(c.req.header("last-event-id") ?? null);
    return new Response(body, { headers: SSE_HEADERS });
  });
  return app;
}
