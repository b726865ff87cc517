/**
 * `prunner debug`: where the JWT secret comes from and a token for local development.
 *
 * @module
 */
import { sign } from "hono/jwt";
import { addressUrl } from "../client/connection.ts";
import { loadOrCreateJwtSecret } from "../config/dynamic_config.ts";
import type { ServeOptions } from "./flags.ts";

/** The `sub` claim of debug tokens; the server reports it as the `user` of scheduled jobs. */
export const DEBUG_SUBJECT = "prunner-debug";

/** How long a debug token is valid: one year. */
export const DEBUG_TOKEN_LIFETIME_SECONDS = 365 * 24 * 60 * 60;

/** What `prunner debug` needs beyond the options. */
export interface DebugContext {
  /** Environment; `MINIMAL_OUTPUT=1` prints only `Bearer <token>`. Default: `Deno.env`. */
  env?: Record<string, string | undefined>;
  /** The current time, for the token's `iat` and `exp`. Default: now. */
  now?: Date;
}

/**
 * The text `prunner debug` prints: where the secret comes from, an HS256 token with
 * `sub: "prunner-debug"`, `iat` and `exp` (one year), and a curl example. Like the server, it
 * creates the config file with a new secret when no secret is set, so the token stays valid for
 * the server started afterwards. Unless `ui` is false it also prints a link that opens the web UI
 * signed in (`…/ui/#token=…`: the fragment never reaches the server). With `MINIMAL_OUTPUT=1`
 * (as prunner) it is just `Bearer <token>`.
 *
 * @example
 * ```ts
 * console.log(await debugInfo(command.options));
 * ```
 * @throws {ConfigError} when the config file cannot be read, written or is malformed.
 */
export async function debugInfo(
  options: Pick<ServeOptions, "config" | "jwtSecret" | "address"> & { ui?: boolean },
  context: DebugContext = {},
): Promise<string> {
  const env = context.env ?? Deno.env.toObject();
  const now = Math.floor((context.now ?? new Date()).getTime() / 1000);
  const { secret, source } = await loadOrCreateJwtSecret({
    configPath: options.config,
    jwtSecret: options.jwtSecret,
  });
  const exp = now + DEBUG_TOKEN_LIFETIME_SECONDS;
  const token = await sign({ sub: DEBUG_SUBJECT, iat: now, exp }, secret, "HS256");
  if (env.MINIMAL_OUTPUT === "1") return `Bearer ${token}`;

  const origin = {
    "flag-or-env": "given by --jwt-secret / $PRUNNER_JWT_SECRET",
    "config-file": `read from jwt_secret in the config file ${options.config}`,
    "generated": `generated and saved as jwt_secret in the config file ${options.config}`,
  }[source];
  const expires = new Date(exp * 1000).toISOString().replace(/\.\d+Z$/, "Z");
  const uiLines = options.ui === false ? [] : [
    "",
    "Open the web UI signed in (the token is in the URL fragment, which is never sent):",
    `    ${addressUrl(options.address)}/ui/#token=${token}`,
  ];
  return [
    `JWT secret: ${origin}`,
    "",
    "Send the following HTTP header for JWT authorization:",
    `    Authorization: Bearer ${token}`,
    "",
    `The token's subject (user) is "${DEBUG_SUBJECT}"; it expires at ${expires}.`,
    "",
    "Example:",
    `    curl -H "Authorization: Bearer ${token}" ${addressUrl(options.address)}/pipelines/`,
    ...uiLines,
  ].join("\n");
}
