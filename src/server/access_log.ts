/**
 * One access log line per request.
 *
 * @module
 */
import type { Logger, LogLevel } from "@logtape/logtape";
import type { MiddlewareHandler } from "hono";

/**
 * Logs method, path, status, duration and user of every request at info level, with the query
 * and the user agent added when the logger is enabled for debug. For a streamed body the
 * duration is the time until the response started. Successful requests to `quietPaths` (what
 * health checks and metrics scrapers poll every few seconds) are logged at debug level only.
 *
 * @example
 * ```ts
 * app.use(accessLog(getLogger(["prunner", "http"]), new Set(["/health"])));
 * ```
 */
export function accessLog(
  logger: Logger,
  quietPaths: ReadonlySet<string> = new Set(),
): MiddlewareHandler<{ Variables: { user?: string } }> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const path = c.req.path;
    const status = c.res.status;
    const level: LogLevel = status < 400 && quietPaths.has(path) ? "debug" : "info";
    if (!logger.isEnabledFor(level)) return;
    const method = c.req.method;
    const durationMs = Math.round((performance.now() - started) * 10) / 10;
    const user = c.get("user") ?? "";
    const properties: Record<string, unknown> = { method, path, status, durationMs, user };
    if (logger.isEnabledFor("debug")) {
      const url = new URL(c.req.url);
      properties.query = url.search;
      properties.userAgent = c.req.header("user-agent") ?? "";
    }
    // The record is built here rather than by `logger.info(template, properties)`, which
    // parses the template and wraps the record in getters: on this per-request path that was
    // a third of what the line cost. The category makes logtape hand it on unchanged.
    const record = {
      category: logger.category,
      level,
      timestamp: Date.now(),
      rawMessage: ACCESS_LINE,
      message: ["", method, " ", path, " ", status, " ", durationMs, "ms user=", user, ""],
      properties,
    };
    logger.emit(record);
  };
}

/** The access line's message template. */
const ACCESS_LINE = "{method} {path} {status} {durationMs}ms user={user}";
