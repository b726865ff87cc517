/**
 * `GET /openapi.json`: the OpenAPI document of the whole API, generated from the route
 * definitions of every sub-app mounted on it. `createApp` serves it without a token.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { VERSION } from "../../version.ts";
import { BEARER_AUTH, openApiRoute } from "../routes.ts";
import { apiRouter, type AppEnv } from "./sub_app.ts";

/**
 * The document route, with the bearer token scheme the other routes name. The document of
 * `api` is made on the first request and kept, so every route must be mounted on `api` by then.
 *
 * @example
 * ```ts
 * app.route("/", openApiRoutes(app));
 * ```
 */
export function openApiRoutes(api: OpenAPIHono<AppEnv>): OpenAPIHono<AppEnv> {
  const app = apiRouter();
  app.openAPIRegistry.registerComponent("securitySchemes", BEARER_AUTH, {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "A JWT signed HS256 with prunner's secret; its `sub` claim names the user.",
  });
  let document: ReturnType<typeof api.getOpenAPI31Document> | undefined;
  app.openapi(openApiRoute, (c) => {
    document ??= api.getOpenAPI31Document({
      openapi: "3.1.0",
      info: {
        title: "prunner HTTP API",
        version: VERSION,
        description: "Schedule pipelines and inspect jobs. Compatible with the Go prunner's API.",
      },
    });
    return c.json(document, 200);
  });
  return app;
}
