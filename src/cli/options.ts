/**
 * prunner's global options: names, environment variables and defaults as in the Go prunner's
 * CLI, with help texts of our own. The parser and the help text are both built from this table.
 *
 * @module
 */

/** How an option's value is read. */
export type OptionKind = "boolean" | "string" | "secret" | "list" | "duration";

/** One global option. */
export interface OptionSpec {
  /** Long flag name without dashes, e.g. `poll-interval`. */
  readonly name: string;
  /** One-letter alias without the dash, if any. */
  readonly short?: string;
  /** The environment variable that sets the option when the flag is not given. */
  readonly env: string;
  readonly kind: OptionKind;
  /** The default as shown in the help text; `null` when there is none. */
  readonly defaultValue: string | boolean | readonly string[] | null;
  readonly usage: string;
}

/** The smallest accepted JWT secret length, as prunner enforces it. */
export const MIN_JWT_SECRET_LENGTH = 16;

/** All global options, in the order of prunner's help text. */
export const OPTIONS: readonly OptionSpec[] = [
  {
    name: "verbose",
    short: "v",
    env: "PRUNNER_VERBOSE",
    kind: "boolean",
    defaultValue: false,
    usage: "Log debug messages as well",
  },
  {
    name: "disable-ansi",
    env: "PRUNNER_DISABLE_ANSI",
    kind: "boolean",
    defaultValue: false,
    usage: "Log plain logfmt lines without colours, even on a terminal",
  },
  {
    name: "config",
    env: "PRUNNER_CONFIG",
    kind: "string",
    defaultValue: ".prunner.yml",
    usage:
      "YAML file holding jwt_secret; the server writes a random one into it when no secret is given",
  },
  {
    name: "jwt-secret",
    env: "PRUNNER_JWT_SECRET",
    kind: "secret",
    defaultValue: null,
    usage:
      `Secret that signs and checks API tokens (HS256), ${MIN_JWT_SECRET_LENGTH} characters or more`,
  },
  {
    name: "data",
    env: "PRUNNER_DATA",
    kind: "string",
    defaultValue: ".prunner",
    usage: "Directory for the job store and the output of every task",
  },
  {
    name: "database-url",
    env: "PRUNNER_DATABASE_URL",
    kind: "string",
    defaultValue: null,
    usage: "Keep jobs in this PostgreSQL database (postgres://user:password@host:port/name) " +
      "instead of --data; every prunner started with the same database is a node of one " +
      "cluster. Task output is spooled in --data and copied into the database",
  },
  {
    name: "node-name",
    env: "PRUNNER_NODE_NAME",
    kind: "string",
    defaultValue: null,
    usage: "This node's name in a cluster (--database-url); unique per node, the same after a " +
      "restart. Default: hostname:port",
  },
  {
    name: "heartbeat-timeout",
    env: "PRUNNER_HEARTBEAT_TIMEOUT",
    kind: "duration",
    defaultValue: "15s",
    usage: "In a cluster: how long a node may miss heartbeats before the others take it for " +
      "dead and cancel its jobs; a node cut off from the database stops its tasks before that",
  },
  {
    name: "pattern",
    env: "PRUNNER_PATTERN",
    kind: "string",
    defaultValue: "**/pipelines.{yml,yaml}",
    usage: "Glob, relative to --path, of the files that declare pipelines",
  },
  {
    name: "path",
    env: "PRUNNER_PATH",
    kind: "string",
    defaultValue: ".",
    usage: "Directory searched for pipeline files",
  },
  {
    name: "address",
    env: "PRUNNER_ADDRESS",
    kind: "string",
    defaultValue: "localhost:9009",
    usage: "Host and port of the HTTP API; also where client commands connect by default",
  },
  {
    name: "env-files",
    env: "PRUNNER_ENV_FILES",
    kind: "list",
    defaultValue: [".env", ".env.local"],
    usage:
      "Dotenv files read in this order, their values replacing the environment's; empty reads none",
  },
  {
    name: "watch",
    env: "PRUNNER_WATCH",
    kind: "boolean",
    defaultValue: false,
    usage: "Reload the pipeline files whenever they change",
  },
  {
    name: "poll-interval",
    env: "PRUNNER_POLL_INTERVAL",
    kind: "duration",
    defaultValue: "30s",
    usage: "How often --watch looks for changed pipeline files",
  },
  {
    name: "idempotency-ttl",
    env: "PRUNNER_IDEMPOTENCY_TTL",
    kind: "duration",
    defaultValue: "24h",
    usage: "How long a schedule request's Idempotency-Key is kept for its retries",
  },
  {
    name: "ui",
    env: "PRUNNER_UI",
    kind: "boolean",
    defaultValue: true,
    usage: "Serve the web UI at /ui/ (set to false to turn it off)",
  },
];
