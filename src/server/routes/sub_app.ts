/**
 * What the API's sub-apps share: the values handlers find in the context, the validation hook
 * that answers an invalid request with 400 and what is wrong with it, and typed responses for
 * JSON bodies that are written out beforehand or streamed.
 *
 * @module
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Logger } from "@logtape/logtape";
import type { TypedResponse } from "hono";
import type { JSONParsed } from "hono/utils/types";
import type { ZodError } from "zod";

/** Values handlers share through the context. */
export interface AppEnv {
  Variables: { user: string };
}

/**
 * A new app for routes of the API: paths match with or without a trailing slash, and a request
 * its route's schemas refuse gets 400 `{"error"}` naming every problem. `createApp` builds
 * itself and each resource's sub-app with it, so all of them validate alike.
 *
 * @example
 * ```ts
 * const app = apiRouter();
 * app.openapi(metricsRoute, async (c) => c.text(await metrics.text(), 200));
 * ```
 */
export function apiRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    strict: false,
    defaultHook: (result, c) => {
      if (!result.success) return c.json({ error: describeIssues(result.error) }, 400);
    },
  });
}

const JSON_CONTENT_TYPE = { "content-type": "application/json" };

/** A 200 response whose body (a stream, or text made beforehand) is JSON of type `T`. */
export function streamedJson<T>(
  body: ReadableStream<Uint8Array> | string,
): Response & TypedResponse<JSONParsed<T>, 200, "json"> {
  const response = new Response(body, { headers: JSON_CONTENT_TYPE });
  return response as Response & TypedResponse<JSONParsed<T>, 200, "json">;
}

/** What a streamed body that fails after its response has started is reported with. */
export function streamErrorReporter(logger: Logger): (error: unknown) => void {
  return (error) => logger.error("Response body failed: {error}", { error });
}

function describeIssues(error: ZodError): string {
  return error.issues.map((issue) => issue.message).join("; ");
}
