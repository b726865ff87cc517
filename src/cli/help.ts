/**
 * Help texts in the layout of prunner's (urfave/cli) help: NAME, USAGE, COMMANDS, GLOBAL OPTIONS
 * with defaults and environment variables.
 *
 * @module
 */
import { OPTIONS, type OptionSpec } from "./options.ts";

/** A command of the prunner CLI. */
export interface CommandSpec {
  readonly name: "debug" | "version" | "help";
  readonly aliases: readonly string[];
  readonly usage: string;
  readonly description: string;
}

/** The commands, in the order of prunner's help text. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    name: "debug",
    aliases: [],
    usage: "Get authorization information for debugging",
    description: [
      "Prints where the JWT secret comes from, a token for local development and a curl example.",
      "Like the server, it creates the config file with a new secret if no secret is set.",
      'With MINIMAL_OUTPUT=1 it prints only "Bearer <token>", for scripts.',
    ].join("\n"),
  },
  {
    name: "version",
    aliases: [],
    usage: "Print the current version",
    description: "Prints the prunner version and the versions of Deno, V8 and TypeScript.",
  },
  {
    name: "help",
    aliases: ["h"],
    usage: "Shows a list of commands or help for one command",
    description: "Shows the list of commands and global options, or the help of one command.",
  },
];

const INDENT = "   ";

/**
 * The help text of prunner, or of one of its commands.
 *
 * @example
 * ```ts
 * console.log(helpText());
 * console.log(helpText("debug"));
 * ```
 */
export function helpText(command?: CommandSpec["name"]): string {
  const spec = COMMANDS.find((c) => c.name === command);
  return spec ? commandHelp(spec) : rootHelp();
}

function rootHelp(): string {
  const commands = table(COMMANDS.map((c) => [[c.name, ...c.aliases].join(", "), c.usage]));
  const options = table([
    ...OPTIONS.map((o) => [optionLabel(o), optionUsage(o)] as [string, string]),
    ["--help, -h", "show help (default: false)"],
  ]);
  return [
    "NAME:",
    `${INDENT}prunner - Pipeline runner`,
    "",
    "USAGE:",
    `${INDENT}prunner [global options] command [command options] [arguments...]`,
    "",
    "DESCRIPTION:",
    `${INDENT}Without a command, prunner loads the pipeline definitions and serves the HTTP API.`,
    `${INDENT}Global options may also follow the command, e.g. "prunner debug --config my.yml".`,
    "",
    "COMMANDS:",
    ...commands,
    "",
    "GLOBAL OPTIONS:",
    ...options,
    "",
    "Options can be passed as command line flags or as environment variables (flags win).",
  ].join("\n");
}

function commandHelp(spec: CommandSpec): string {
  const usage = spec.name === "help" ? "prunner help [command]" : `prunner ${spec.name}`;
  return [
    "NAME:",
    `${INDENT}prunner ${spec.name} - ${spec.usage}`,
    "",
    "USAGE:",
    `${INDENT}${usage}`,
    "",
    "DESCRIPTION:",
    ...spec.description.split("\n").map((line) => INDENT + line),
    "",
    "OPTIONS:",
    ...table([["--help, -h", "show help (default: false)"]]),
    "",
    'See "prunner help" for the global options.',
  ].join("\n");
}

function optionLabel(option: OptionSpec): string {
  const value = option.kind === "boolean" ? "" : " value";
  return `--${option.name}${value}${option.short ? `, -${option.short}` : ""}`;
}

function optionUsage(option: OptionSpec): string {
  const parts = [option.usage];
  const value = option.defaultValue;
  if (typeof value === "boolean" || (typeof value === "string" && option.kind === "duration")) {
    parts.push(`(default: ${value})`);
  } else if (typeof value === "string") {
    parts.push(`(default: ${JSON.stringify(value)})`);
  } else if (Array.isArray(value)) {
    parts.push(`(default: ${value.map((v) => JSON.stringify(v)).join(", ")})`);
  }
  if (option.kind === "list") parts.push("(accepts multiple inputs, repeated or comma separated)");
  parts.push(`[$${option.env}]`);
  return parts.join(" ");
}

function table(rows: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  return rows.map(([label, text]) => `${INDENT}${label.padEnd(width)}${text}`);
}
