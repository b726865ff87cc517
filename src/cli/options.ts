/**
 * prunner's global options: names, environment variables, defaults and help texts, as in
 * prunner's CLI reference. The parser and the help text are both built from this table.
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
    usage: "Enable verbose log output",
  },
  {
    name: "disable-ansi",
    env: "PRUNNER_DISABLE_ANSI",
    kind: "boolean",
    defaultValue: false,
    usage: "Force disable ANSI log output and output log in logfmt format",
  },
  {
    name: "config",
    env: "PRUNNER_CONFIG",
    kind: "string",
    defaultValue: ".prunner.yml",
    usage: "Dynamic config filename (will be created on first run if jwt-secret is not set)",
  },
  {
    name: "jwt-secret",
    env: "PRUNNER_JWT_SECRET",
    kind: "secret",
    defaultValue: null,
    usage:
      `Pre-generated shared secret for JWT authentication (at least ${MIN_JWT_SECRET_LENGTH} characters)`,
  },
  {
    name: "data",
    env: "PRUNNER_DATA",
    kind: "string",
    defaultValue: ".prunner",
    usage: "Base directory to use for storing data (metadata and job outputs)",
  },
  {
    name: "pattern",
    env: "PRUNNER_PATTERN",
    kind: "string",
    defaultValue: "**/pipelines.{yml,yaml}",
    usage: "Search pattern (glob) for pipeline configuration scan",
  },
  {
    name: "path",
    env: "PRUNNER_PATH",
    kind: "string",
    defaultValue: ".",
    usage: "Base directory to use for pipeline configuration scan",
  },
  {
    name: "address",
    env: "PRUNNER_ADDRESS",
    kind: "string",
    defaultValue: "localhost:9009",
    usage: "Listen address for HTTP API",
  },
  {
    name: "env-files",
    env: "PRUNNER_ENV_FILES",
    kind: "list",
    defaultValue: [".env", ".env.local"],
    usage:
      "Filenames with environment variables to load (dotenv style), will override existing env vars, set empty to skip loading",
  },
  {
    name: "watch",
    env: "PRUNNER_WATCH",
    kind: "boolean",
    defaultValue: false,
    usage: "Watch for pipeline configuration changes and reload them",
  },
  {
    name: "poll-interval",
    env: "PRUNNER_POLL_INTERVAL",
    kind: "duration",
    defaultValue: "30s",
    usage: "Poll interval for pipeline configuration changes (if watch is enabled)",
  },
  {
    name: "ui",
    env: "PRUNNER_UI",
    kind: "boolean",
    defaultValue: true,
    usage: "Serve the web UI at /ui/ (set to false to turn it off)",
  },
];
