/**
 * Command line parsing with prunner's flags, environment variables and defaults
 * (flag > environment variable > default).
 *
 * @module
 */
import { Command, CommanderError } from "commander";
import { parseDuration } from "../definition/duration.ts";
import { errorMessage, PrunnerError } from "../errors.ts";
import type { ConnectionOptions } from "../client/connection.ts";
import { closest } from "../definition/suggest.ts";
import {
  type CommandName,
  COMMANDS,
  type CommandSpec,
  findCommand,
  SERVER_OPTION,
} from "./commands.ts";
import { helpText } from "./help.ts";
import { MIN_JWT_SECRET_LENGTH, OPTIONS, type OptionSpec } from "./options.ts";

/** The options of `prunner` (serve) and `prunner debug`, resolved from flags, env and defaults. */
export interface ServeOptions {
  /** Debug level logging (`--verbose`, `-v`). */
  verbose: boolean;
  /** logfmt log lines instead of coloured ones (`--disable-ansi`). */
  disableAnsi: boolean;
  /** The dynamic config file (`--config`), `.prunner.yml` by default. */
  config: string;
  /** The JWT secret from `--jwt-secret`/`PRUNNER_JWT_SECRET`; `null` to use the config file. */
  jwtSecret: string | null;
  /** The data directory (`--data`), `.prunner` by default. */
  data: string;
  /** The PostgreSQL database that holds the jobs (`--database-url`); `null` for Deno KV. */
  databaseUrl: string | null;
  /** This node's name in a cluster (`--node-name`); `null` for `hostname:port`. */
  nodeName: string | null;
  /** How long a silent node counts as alive, in milliseconds (`--heartbeat-timeout`, 15s). */
  heartbeatTimeoutMs: number;
  /** Glob for definition files (`--pattern`), `**\/pipelines.{yml,yaml}` by default. */
  pattern: string;
  /** Base directory of the definition scan (`--path`), `.` by default. */
  path: string;
  /** Listen address (`--address`), `localhost:9009` by default. */
  address: string;
  /** Dotenv files to load, in order (`--env-files`); empty to load none. */
  envFiles: string[];
  /** Reload definitions when they change (`--watch`). */
  watch: boolean;
  /** How often `--watch` checks for changes, in milliseconds (`--poll-interval`, 30s). */
  pollIntervalMs: number;
  /** How long an idempotency key is kept, in milliseconds (`--idempotency-ttl`, 24h). */
  idempotencyTtlMs: number;
  /** Serve the web UI at `/ui/` (`--ui`, true by default; `--ui=false` turns it off). */
  ui: boolean;
}

/** What a client command asks the server for. */
export type ClientRequest =
  | {
    command: "schedule";
    pipeline: string;
    /** `--var` values in order, each parsed as JSON when it is JSON. */
    variables: [string, unknown][];
    /** `--vars` file, `-` for stdin, or `null`. */
    varsFile: string | null;
    partition: string | null;
    /** `--idempotency-key`, or `null` for a new random key. */
    idempotencyKey: string | null;
    wait: boolean;
    follow: boolean;
    json: boolean;
  }
  | { command: "pipelines"; json: boolean }
  | { command: "jobs"; pipeline: string | null; limit: number; json: boolean }
  | { command: "job"; id: string; json: boolean }
  | { command: "logs"; id: string; task: string | null; follow: boolean; json: boolean }
  | { command: "cancel"; id: string }
  | { command: "cluster"; json: boolean };

/** What the command line asks for. */
export type CliCommand =
  | { kind: "serve"; options: ServeOptions }
  | { kind: "debug"; options: ServeOptions }
  | { kind: "version" }
  | { kind: "help"; text: string }
  | { kind: "client"; request: ClientRequest; connection: ConnectionOptions };

/** How many jobs `prunner jobs` lists without `--limit`. */
export const DEFAULT_JOBS_LIMIT = 20;

/** A command line error: an unknown flag or command, a missing or malformed value. Exit 2. */
export class CliError extends PrunnerError {
  /** The process exit status for command line errors. */
  readonly exitCode = 2;
}

type Env = Record<string, string | undefined>;

/** The command the parser selected, with its arguments and its own options. */
interface Selected {
  command: CommandName | "serve";
  args: (string | undefined)[];
  options: Record<string, unknown>;
}

const HELP_HINT = 'run "prunner help" for usage';
const BOOLEAN_WORDS: Record<string, boolean> = { true: true, "1": true, false: false, "0": false };

/**
 * Parses prunner's command line. Global options may come before or after the command.
 * `version` and `help` ignore the values of the other options; `serve` and `debug` check them.
 *
 * @example
 * ```ts
 * const command = parseCli(["--path", "examples", "--watch"], Deno.env.toObject());
 * if (command.kind === "serve") console.log(command.options.pollIntervalMs); // 30000
 * ```
 * @throws {CliError} with a one-line message naming the flag (or environment variable) and the
 * problem, for an unknown flag or command, a missing value or a malformed value.
 */
export function parseCli(args: string[], env: Env): CliCommand {
  const { args: normalized, booleans } = normalizeArgs(args);
  const selected: Selected = { command: "serve", args: [], options: {} };
  const program = buildProgram((found) => Object.assign(selected, found));
  try {
    program.parse(normalized, { from: "user" });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    // `prunner schedule --help` asks for help, not for the missing PIPELINE.
    if (normalized.includes("--help") || normalized.includes("-h")) {
      const spec = normalized.map((word) => findCommand(word)).find((found) => found);
      return { kind: "help", text: helpText(spec?.name) };
    }
    throw new CliError(commanderMessage(error));
  }
  const flags = program.opts() as Record<string, unknown>;
  if (flags.help === true || booleans.get("help") === true) {
    return {
      kind: "help",
      text: helpText(selected.command === "serve" ? undefined : selected.command),
    };
  }
  const client = findCommand(selected.command)?.client === true;
  if (flags.server !== undefined && !client && selected.command !== "help") {
    throw new CliError(
      `--server is for the client commands (${
        COMMANDS.filter((c) => c.client).map((c) => c.name).join(", ")
      }); ${HELP_HINT}`,
    );
  }
  switch (selected.command) {
    case "serve":
      return { kind: "serve", options: resolveOptions(flags, booleans, env) };
    case "help":
      return { kind: "help", text: helpText(helpTopicName(selected.args[0])) };
    case "version":
      return { kind: "version" };
    case "debug":
      return { kind: "debug", options: resolveOptions(flags, booleans, env) };
    default:
      return {
        kind: "client",
        request: clientRequest(selected),
        connection: connectionOptions(resolveOptions(flags, booleans, env), flags, env),
      };
  }
}

function buildProgram(select: (selected: Selected) => void): Command {
  const program = new Command("prunner")
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} })
    .helpOption(false)
    .helpCommand(false)
    .option("-h, --help")
    .argument("[command...]")
    .action((words: string[]) => {
      if (words.length > 0) throw new CliError(unknownCommand(words[0]));
      select({ command: "serve", args: [], options: {} });
    });
  for (const option of OPTIONS) {
    const flags = `${option.short ? `-${option.short}, ` : ""}--${option.name}`;
    if (option.kind === "boolean") program.option(flags);
    else if (option.kind === "list") program.option(`${flags} <value>`, "", appendValue);
    else program.option(`${flags} <value>`);
  }
  // --server may come before or after a client command, like the global options.
  program.option(`--${SERVER_OPTION.name} <value>`);
  for (const spec of COMMANDS) {
    const sub = program.command(spec.name).aliases(spec.aliases).helpOption(false);
    for (const argument of spec.arguments) {
      const name = argument.name.toLowerCase();
      sub.argument(argument.optional ? `[${name}]` : `<${name}>`);
    }
    for (const option of spec.options) {
      if (option === SERVER_OPTION) continue;
      if (!option.value) sub.option(`--${option.name}`);
      else if (option.repeatable) sub.option(`--${option.name} <value>`, "", appendValue);
      else sub.option(`--${option.name} <value>`);
    }
    sub.action((...params: unknown[]) => {
      select({
        command: spec.name,
        args: params.slice(0, spec.arguments.length) as (string | undefined)[],
        options: sub.opts(),
      });
    });
  }
  return program;
}

function unknownCommand(word: string): string {
  const names = COMMANDS.flatMap((c) => [c.name, ...c.aliases]);
  const suggestion = closest(word, names);
  return `unknown command "${word}"${
    suggestion ? ` (did you mean "${suggestion}"?)` : ""
  }; ${HELP_HINT}`;
}

function clientRequest(selected: Selected): ClientRequest {
  const o = selected.options;
  const [first, second] = selected.args;
  const json = o.json === true;
  switch (selected.command) {
    case "schedule": {
      const follow = o.follow === true;
      if (follow && json) throw new CliError("--json cannot be combined with --follow");
      return {
        command: "schedule",
        pipeline: first!,
        variables: ((o.var as string[] | undefined) ?? []).map(parseVariable),
        varsFile: nonEmpty(o.vars, "--vars"),
        partition: nonEmpty(o.partition, "--partition"),
        idempotencyKey: nonEmpty(o.idempotencyKey, "--idempotency-key"),
        wait: o.wait === true || follow,
        follow,
        json,
      };
    }
    case "pipelines":
      return { command: "pipelines", json };
    case "jobs":
      return {
        command: "jobs",
        pipeline: nonEmpty(o.pipeline, "--pipeline"),
        limit: o.limit === undefined ? DEFAULT_JOBS_LIMIT : parseLimit(String(o.limit)),
        json,
      };
    case "job":
      return { command: "job", id: first!, json };
    case "logs": {
      const follow = o.follow === true;
      if (follow && json) throw new CliError("--json cannot be combined with --follow");
      return { command: "logs", id: first!, task: second ?? null, follow, json };
    }
    case "cancel":
      return { command: "cancel", id: first! };
    case "cluster":
      return { command: "cluster", json };
    default:
      throw new Error(`${selected.command} is not a client command`);
  }
}

/**
 * `KEY=VALUE` of `--var`: the value is parsed as JSON when it is JSON (`n=3`, `on=true`,
 * `list=["a"]`) and kept as a string otherwise.
 */
function parseVariable(text: string): [string, unknown] {
  const equals = text.indexOf("=");
  if (equals <= 0) {
    throw new CliError(`invalid value for --var: "${text}" is not KEY=VALUE`);
  }
  const raw = text.slice(equals + 1);
  try {
    return [text.slice(0, equals), JSON.parse(raw)];
  } catch {
    return [text.slice(0, equals), raw];
  }
}

function parseLimit(text: string): number {
  const limit = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(limit) || limit < 1) {
    throw new CliError(`invalid value for --limit: "${text}" is not a whole number above 0`);
  }
  return limit;
}

function nonEmpty(value: unknown, flag: string): string | null {
  if (value === undefined) return null;
  const text = String(value);
  if (text === "") throw new CliError(`invalid value for ${flag}: must not be empty`);
  return text;
}

function connectionOptions(
  options: ServeOptions,
  flags: Record<string, unknown>,
  env: Env,
): ConnectionOptions {
  const server = nonEmpty(flags.server, "--server") ??
    (env.PRUNNER_SERVER ? env.PRUNNER_SERVER : null);
  const secretFrom = flags.jwtSecret !== undefined ? "flag" : env.PRUNNER_JWT_SECRET ? "env" : null;
  return {
    server,
    address: options.address,
    token: env.PRUNNER_TOKEN ? env.PRUNNER_TOKEN : null,
    config: options.config,
    jwtSecret: options.jwtSecret,
    jwtSecretFrom: options.jwtSecret === null ? null : secretFrom,
    user: env.USER || env.LOGNAME || env.USERNAME || null,
  };
}

function appendValue(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function helpTopicName(topic: string | undefined): CommandSpec["name"] | undefined {
  if (topic === undefined) return undefined;
  const spec = findCommand(topic);
  if (!spec) {
    throw new CliError(
      `no help topic for "${topic}" (commands: ${COMMANDS.map((c) => c.name).join(", ")})`,
    );
  }
  return spec.name;
}

/**
 * Rewrites Go-style flags for commander: `-data x` → `--data x` (Go's flag package accepts one
 * dash for long names), and takes out `--flag=value` for booleans (`--watch=false`), which
 * commander does not know. The token after a flag that takes a value is left alone.
 */
function normalizeArgs(
  args: readonly string[],
): { args: string[]; booleans: Map<string, boolean> } {
  const out: string[] = [];
  const booleans = new Map<string, boolean>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      out.push(...args.slice(i));
      break;
    }
    const match = /^--?([^-=][^=]*)(?:=(.*))?$/s.exec(arg);
    const spec = match ? findOption(match[1]) : undefined;
    if (!match || !spec) {
      out.push(arg);
      continue;
    }
    const value = match[2];
    if (spec.kind === "boolean") {
      if (value === undefined) out.push(`--${spec.name}`);
      else booleans.set(spec.name, parseBooleanValue(value, `--${match[1]}`));
    } else if (value === undefined) {
      out.push(`--${spec.name}`);
      if (i + 1 < args.length) out.push(args[++i]);
    } else {
      out.push(`--${spec.name}=${value}`);
    }
  }
  return { args: out, booleans };
}

const HELP_OPTION: Pick<OptionSpec, "name" | "short" | "kind"> = {
  name: "help",
  short: "h",
  kind: "boolean",
};

function findOption(name: string): Pick<OptionSpec, "name" | "kind"> | undefined {
  return [...OPTIONS, HELP_OPTION].find((o) => o.name === name || o.short === name);
}

function resolveOptions(
  flags: Record<string, unknown>,
  booleans: Map<string, boolean>,
  env: Env,
): ServeOptions {
  const bool = (name: string) => resolveBoolean(option(name), flags, booleans, env);
  const text = (name: string) => resolveString(option(name), flags, env);
  return {
    verbose: bool("verbose"),
    disableAnsi: bool("disable-ansi"),
    config: text("config"),
    jwtSecret: resolveSecret(option("jwt-secret"), flags, env),
    data: text("data"),
    databaseUrl: resolveDatabaseUrl(option("database-url"), flags, env),
    nodeName: resolveNodeName(option("node-name"), flags, env),
    heartbeatTimeoutMs: resolveHeartbeatTimeout(option("heartbeat-timeout"), flags, env),
    pattern: text("pattern"),
    path: text("path"),
    address: text("address"),
    envFiles: resolveList(option("env-files"), flags, env),
    watch: bool("watch"),
    pollIntervalMs: resolveDuration(option("poll-interval"), flags, env),
    idempotencyTtlMs: resolveDuration(option("idempotency-ttl"), flags, env),
    ui: bool("ui"),
  };
}

function option(name: string): OptionSpec {
  const spec = OPTIONS.find((o) => o.name === name);
  if (!spec) throw new Error(`no option named ${name}`);
  return spec;
}

function camelCase(name: string): string {
  return name.replace(/-(\w)/g, (_, letter: string) => letter.toUpperCase());
}

/** A raw value and where it came from: the flag, the environment variable or the default. */
interface Raw<T> {
  value: T;
  source: "flag" | "env" | "default";
}

function raw(spec: OptionSpec, flags: Record<string, unknown>, env: Env): Raw<unknown> {
  const flag = flags[camelCase(spec.name)];
  if (flag !== undefined) return { value: flag, source: "flag" };
  const fromEnv = env[spec.env];
  if (fromEnv !== undefined && (fromEnv !== "" || spec.kind === "list")) {
    return { value: fromEnv, source: "env" };
  }
  return { value: spec.defaultValue, source: "default" };
}

function invalid(spec: OptionSpec, source: Raw<unknown>["source"], problem: string): CliError {
  const where = source === "env" ? `$${spec.env} (--${spec.name})` : `--${spec.name}`;
  return new CliError(`invalid value for ${where}: ${problem}`);
}

function resolveBoolean(
  spec: OptionSpec,
  flags: Record<string, unknown>,
  booleans: Map<string, boolean>,
  env: Env,
): boolean {
  const explicit = booleans.get(spec.name);
  if (explicit !== undefined) return explicit;
  const { value } = raw(spec, flags, env);
  if (typeof value === "boolean") return value;
  return parseBooleanValue(String(value), `$${spec.env} (--${spec.name})`);
}

function parseBooleanValue(value: string, where: string): boolean {
  const parsed = BOOLEAN_WORDS[value.toLowerCase()];
  if (parsed === undefined) {
    throw new CliError(
      `invalid value for ${where}: "${value}" is not a boolean (use true, false, 1 or 0)`,
    );
  }
  return parsed;
}

function resolveString(spec: OptionSpec, flags: Record<string, unknown>, env: Env): string {
  const { value, source } = raw(spec, flags, env);
  const text = String(value);
  if (text === "") throw invalid(spec, source, "must not be empty");
  return text;
}

/** An option's text with where it came from; `null` when not given or empty. */
function optionalText(
  spec: OptionSpec,
  flags: Record<string, unknown>,
  env: Env,
): { text: string; source: Raw<unknown>["source"] } | null {
  const { value, source } = raw(spec, flags, env);
  if (value === null || value === "") return null;
  return { text: String(value), source };
}

function resolveDatabaseUrl(
  spec: OptionSpec,
  flags: Record<string, unknown>,
  env: Env,
): string | null {
  const given = optionalText(spec, flags, env);
  if (given === null) return null;
  const { text, source } = given;
  const protocol = URL.canParse(text) ? new URL(text).protocol : null;
  if (protocol !== "postgres:" && protocol !== "postgresql:") {
    throw invalid(spec, source, "not a PostgreSQL URL (postgres://user:password@host:port/name)");
  }
  return text;
}

/** Heartbeats go out twenty times per timeout: closer than 150 ms apart would load the database. */
const MIN_HEARTBEAT_TIMEOUT_MS = 3000;

function resolveHeartbeatTimeout(
  spec: OptionSpec,
  flags: Record<string, unknown>,
  env: Env,
): number {
  const ms = resolveDuration(spec, flags, env);
  if (ms < MIN_HEARTBEAT_TIMEOUT_MS) {
    throw invalid(spec, raw(spec, flags, env).source, "must be at least 3s");
  }
  return ms;
}

function resolveNodeName(
  spec: OptionSpec,
  flags: Record<string, unknown>,
  env: Env,
): string | null {
  const given = optionalText(spec, flags, env);
  if (given === null) return null;
  const { text, source } = given;
  if (text.length > 200 || [...text].some((char) => char.charCodeAt(0) < 0x20)) {
    throw invalid(spec, source, "must be at most 200 characters, without control characters");
  }
  return text;
}

function resolveSecret(spec: OptionSpec, flags: Record<string, unknown>, env: Env): string | null {
  const { value, source } = raw(spec, flags, env);
  if (value === null || value === "") return null;
  const secret = String(value);
  if (secret.length < MIN_JWT_SECRET_LENGTH) {
    throw invalid(
      spec,
      source,
      `the JWT secret must be at least ${MIN_JWT_SECRET_LENGTH} characters long, got ${secret.length}`,
    );
  }
  return secret;
}

function resolveList(spec: OptionSpec, flags: Record<string, unknown>, env: Env): string[] {
  const { value } = raw(spec, flags, env);
  const values = Array.isArray(value) ? value.map(String) : [String(value)];
  return values.flatMap((v) => v.split(",")).map((v) => v.trim()).filter((v) => v !== "");
}

function resolveDuration(spec: OptionSpec, flags: Record<string, unknown>, env: Env): number {
  const { value, source } = raw(spec, flags, env);
  let ms: number;
  try {
    ms = parseDuration(String(value));
  } catch (error) {
    throw invalid(spec, source, errorMessage(error));
  }
  if (ms <= 0) throw invalid(spec, source, `must be greater than 0, got "${value}"`);
  return ms;
}

/** Turns commander's (multi-line) messages into one line that names the flag or command. */
function commanderMessage(error: CommanderError): string {
  const quoted = /'([^']+)'/.exec(error.message)?.[1] ?? "";
  switch (error.code) {
    case "commander.unknownOption": {
      const suggestion = /Did you mean (\S+)\?/.exec(error.message)?.[1];
      return `unknown flag ${quoted}${
        suggestion ? ` (did you mean ${suggestion}?)` : ""
      }; ${HELP_HINT}`;
    }
    case "commander.optionMissingArgument":
      return `missing value for ${quoted.split(" ")[0]}`;
    case "commander.excessArguments": {
      const expected = Number(/Expected (\d+)/.exec(error.message)?.[1] ?? 0);
      const given = /got \d+: (.*)\.$/s.exec(error.message)?.[1]?.split(", ") ?? [];
      const command = /for '([^']+)'/.exec(error.message)?.[1] ?? "prunner";
      const extra = given.slice(expected).map((word) => JSON.stringify(word)).join(" ");
      return `unexpected argument ${extra} for command ${command}; run "prunner help ${command}"`;
    }
    case "commander.missingArgument":
      return `missing argument ${quoted.toUpperCase()}; ${HELP_HINT}`;
    default:
      return error.message.replace(/^error: /, "").replace(/\s*\n\s*/g, " ");
  }
}
