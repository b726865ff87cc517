/**
 * Where the client connects and how it authenticates: the server URL (`--server`,
 * `$PRUNNER_SERVER`, or the `--address` prunner itself would listen on) and a bearer token
 * (`$PRUNNER_TOKEN`, or signed locally from the JWT secret as `prunner debug` finds it).
 *
 * @module
 */
import { sign } from "hono/jwt";
import { userInfo } from "node:os";
import { resolve } from "node:path";
import { findJwtSecret } from "../config/dynamic_config.ts";
import { NoCredentialsError } from "./errors.ts";

/** What the client needs to know to connect, resolved from flags and environment. */
export interface ConnectionOptions {
  /** The server's base URL from `--server`/`$PRUNNER_SERVER`, or `null` to use `address`. */
  server: string | null;
  /** prunner's listen address (`--address`/`$PRUNNER_ADDRESS`). */
  address: string;
  /** A ready token from `$PRUNNER_TOKEN`, or `null` to sign one. */
  token: string | null;
  /** The dynamic config file that may hold the secret (`--config`). */
  config: string;
  /** The secret from `--jwt-secret`/`$PRUNNER_JWT_SECRET`, or `null`. */
  jwtSecret: string | null;
  /** Whether `jwtSecret` came from the flag or the environment variable. */
  jwtSecretFrom: "flag" | "env" | null;
  /** The user name, the `sub` of signed tokens; `null` to ask the operating system. */
  user: string | null;
}

/** A bearer token and a description of where it comes from, for error messages. */
export interface Credentials {
  /** The `Authorization` header value; signed tokens are renewed before they expire. */
  authorization(): Promise<string>;
  /** Where the token comes from, e.g. "the token came from $PRUNNER_TOKEN". */
  readonly source: string;
}

/** How long a locally signed token is valid. */
const TOKEN_LIFETIME_SECONDS = 60 * 60;
/** A signed token is renewed when it has less than this left. */
const RENEW_BEFORE_SECONDS = 5 * 60;

/**
 * The URL a local client uses for a listen address: `localhost` for an empty or unspecified
 * host (`:9009`, `0.0.0.0:9009`, `[::]:9009`).
 *
 * @example
 * ```ts
 * addressUrl(":9009"); // "http://localhost:9009"
 * addressUrl("127.0.0.1:8080"); // "http://127.0.0.1:8080"
 * ```
 */
export function addressUrl(address: string): string {
  const colon = address.lastIndexOf(":");
  const host = colon === -1 ? address : address.slice(0, colon);
  const port = colon === -1 ? "" : address.slice(colon);
  const local = ["", "0.0.0.0", "::", "[::]"].includes(host) ? "localhost" : host;
  return `http://${local}${port}`;
}

/**
 * The server's base URL without a trailing slash: `server` when given (`http://` is added to a
 * bare `host:port`), else the URL of prunner's listen `address`.
 *
 * @example
 * ```ts
 * serverUrl({ server: "ci.example.com:9009", address: "localhost:9009" });
 * // "http://ci.example.com:9009"
 * ```
 */
export function serverUrl(options: Pick<ConnectionOptions, "server" | "address">): string {
  if (options.server === null) return addressUrl(options.address);
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(options.server)
    ? options.server
    : `http://${options.server}`;
  return url.replace(/\/+$/, "");
}

/**
 * The credentials for the options: `$PRUNNER_TOKEN` as it is, else an HS256 token signed with
 * the JWT secret from `--jwt-secret`, `$PRUNNER_JWT_SECRET` or the config file, with `sub` set to
 * the user name. Unlike the server, the client never creates a secret.
 *
 * @example
 * ```ts
 * const credentials = await resolveCredentials(options);
 * await fetch(url, { headers: { authorization: await credentials.authorization() } });
 * ```
 * @throws {NoCredentialsError} when there is neither a token nor a secret.
 * @throws {ConfigError} when the config file cannot be read or is malformed.
 */
export async function resolveCredentials(options: ConnectionOptions): Promise<Credentials> {
  if (options.token !== null) {
    const header = `Bearer ${options.token}`;
    return {
      authorization: () => Promise.resolve(header),
      source: "the token came from $PRUNNER_TOKEN",
    };
  }
  const found = await findJwtSecret({ configPath: options.config, jwtSecret: options.jwtSecret });
  if (found === null) throw new NoCredentialsError(resolve(options.config));
  const source = found.source === "config-file"
    ? `the token was signed with jwt_secret from ${resolve(options.config)}`
    : `the token was signed with the secret from ${
      options.jwtSecretFrom === "flag" ? "--jwt-secret" : "$PRUNNER_JWT_SECRET"
    }`;
  const user = options.user ?? systemUser();
  let current: { header: string; exp: number } | null = null;
  return {
    source,
    async authorization() {
      const now = Math.floor(Date.now() / 1000);
      if (current === null || current.exp - now < RENEW_BEFORE_SECONDS) {
        const exp = now + TOKEN_LIFETIME_SECONDS;
        const token = await sign({ sub: user, iat: now, exp }, found.secret, "HS256");
        current = { header: `Bearer ${token}`, exp };
      }
      return current.header;
    },
  };
}

/** The name of the user running the process, as the operating system knows it. */
function systemUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}
