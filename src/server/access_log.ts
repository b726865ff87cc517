/**
 * One access log line per request.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { MiddlewareHandler } from "hono";

/**
 * Logs method, path, status, duration and user of every request at info level, with the query
 * and the user agent added when the logger is enabled for debug. For a streamed body the
 * duration is the time until the response started.
 *
 * @example
 * ```ts
 * app.use(accessLog(getLogger(["prunner", "http"])));
 * ```
 */
export function accessLog(logger: Logger): MiddlewareHandler<{ Variables: { user?: string } }> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const properties: Record<string, unknown> = {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      user: c.get("user") ?? "",
    };
    if (logger.isEnabledFor("debug")) {
      const url = new URL(c.req.url);
      properties.query = url.search;
      properties.userAgent = c.req.header("user-agent") ?? "";
    }
    logger.info("{method} {path} {status} {durationMs}ms user={user}", properties);
  };
}
