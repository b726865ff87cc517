/**
 * Serves the web UI's files at `/ui/`. They are static and public (like `/openapi.json`): the
 * UI asks for a token and sends it with every API request, so the API stays authenticated.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { UI_ASSETS, type UiAsset } from "./assets.gen.ts";

/** The path the UI is served under. */
export const UI_PATH = "/ui";

/**
 * Only the UI's own files and the API of the same origin; inline styles for the colours of
 * 256-colour and true-colour ANSI output.
 */
const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self' " +
    "'unsafe-inline'; connect-src 'self'; img-src 'self' data: blob:; base-uri 'none'; " +
    "form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

/**
 * A middleware that answers `GET`/`HEAD` for `/ui`, `/ui/` and the UI's files, without a token,
 * and passes every other request on. `/ui` redirects to `ui/` (relative, so a reverse proxy's
 * path prefix is kept).
 *
 * @example
 * ```ts
 * app.use(serveUi()); // before the authentication middleware
 * ```
 */
export function serveUi(assets: Readonly<Record<string, UiAsset>> = UI_ASSETS): MiddlewareHandler {
  return async (c, next) => {
    // Most requests are the API's: `c.req.path` tells them apart without parsing the URL again
    // (which cost every request about 20 µs in bench case 2).
    if (!c.req.path.startsWith(UI_PATH)) return await next();
    // The app's router ignores trailing slashes (so does `c.req.path`); `/ui` and `/ui/` differ
    // here.
    const path = new URL(c.req.url).pathname;
    if (path !== UI_PATH && !path.startsWith(`${UI_PATH}/`)) return await next();
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      c.header("allow", "GET, HEAD");
      return c.json({ error: `method ${c.req.method} not allowed: use GET, HEAD` }, 405);
    }
    if (path === UI_PATH) return c.redirect(`ui/`, 308);
    const name = path === `${UI_PATH}/` ? "index.html" : path.slice(UI_PATH.length + 1);
    const asset = Object.hasOwn(assets, name) ? assets[name] : undefined;
    if (asset === undefined) return c.json({ error: `not found: ${c.req.method} ${path}` }, 404);
    return assetResponse(c, asset);
  };
}

function assetResponse(c: Context, asset: UiAsset): Response {
  const headers = { ...SECURITY_HEADERS, etag: asset.etag };
  const match = c.req.header("if-none-match");
  if (match !== undefined && match.split(",").some((tag) => tag.trim() === asset.etag)) {
    return new Response(null, { status: 304, headers });
  }
  return new Response(c.req.method === "HEAD" ? null : asset.body, {
    headers: { ...headers, "content-type": asset.type },
  });
}
