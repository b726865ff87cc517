/**
 * The help texts: the list of commands with the global options, and each command's own help.
 *
 * @module
 */
import {
  type CommandName,
  type CommandOptionSpec,
  COMMANDS,
  type CommandSpec,
} from "./commands.ts";
import { OPTIONS, type OptionSpec } from "./options.ts";

const INDENT = "   ";
const HELP_ROW: readonly [string, string] = ["--help, -h", "Print this help"];

/**
 * The help text of prunner, or of one of its commands.
 *
 * @example
 * ```ts
 * console.log(helpText());
 * console.log(helpText("schedule"));
 * ```
 */
export function helpText(command?: CommandName): string {
  const spec = COMMANDS.find((c) => c.name === command);
  return spec ? commandHelp(spec) : rootHelp();
}

function rootHelp(): string {
  const commands = table(COMMANDS.map((c) => [commandLabel(c), c.summary]));
  const options = table([
    ...OPTIONS.map((o) => [optionLabel(o), optionUsage(o)] as [string, string]),
    HELP_ROW,
  ]);
  return [
    "NAME:",
    `${INDENT}prunner - runs pipelines of shell tasks behind an HTTP API, and is its client`,
    "",
    "USAGE:",
    ...table([
      ["prunner [global options]", "serve the pipelines"],
      ["prunner COMMAND [arguments] [options]", "run a command"],
    ]),
    "",
    "DESCRIPTION:",
    `${INDENT}Without a command, prunner loads the pipeline files and serves the HTTP API.`,
    `${INDENT}The commands from "schedule" to "cluster" talk to a running prunner: they connect`,
    `${INDENT}to --server (default: the --address below) with the token in $PRUNNER_TOKEN, or`,
    `${INDENT}one they sign with the secret from --jwt-secret, $PRUNNER_JWT_SECRET or --config.`,
    "",
    "COMMANDS:",
    ...commands,
    "",
    "GLOBAL OPTIONS (before or after the command):",
    ...options,
    "",
    "A flag wins over its environment variable, which wins over the default.",
    'Run "prunner help COMMAND" for the arguments and options of a command.',
  ].join("\n");
}

function commandHelp(spec: CommandSpec): string {
  const rows: [string, string][] = spec.options.map((o) => [commandOptionLabel(o), optionText(o)]);
  const lines = [
    "NAME:",
    `${INDENT}prunner ${spec.name} - ${spec.summary}`,
    "",
    "USAGE:",
    `${INDENT}prunner ${commandLabel(spec)}${spec.options.length > 0 ? " [options]" : ""}`,
    "",
    "DESCRIPTION:",
    ...spec.description.map((line) => INDENT + line),
    "",
    "OPTIONS:",
    ...table([...rows, HELP_ROW]),
    "",
  ];
  if (spec.client) {
    lines.push(
      "The token comes from $PRUNNER_TOKEN, or is signed with the secret from --jwt-secret,",
      "$PRUNNER_JWT_SECRET or the --config file. These and the other global options are listed",
      'by "prunner help".',
    );
  } else {
    lines.push('The global options are listed by "prunner help".');
  }
  return lines.join("\n");
}

function commandLabel(spec: CommandSpec): string {
  const args = spec.arguments.map((a) => a.optional ? `[${a.name}]` : a.name);
  return [[spec.name, ...spec.aliases].join(", "), ...args].join(" ");
}

function commandOptionLabel(option: CommandOptionSpec): string {
  return `--${option.name}${option.value ? ` ${option.value}` : ""}`;
}

function optionText(option: CommandOptionSpec): string {
  const parts = [option.usage];
  if (option.repeatable) parts.push("(repeat for more)");
  if (option.env) parts.push(`[$${option.env}]`);
  return parts.join(" ");
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
  if (option.kind === "list") parts.push("(repeat the flag or separate with commas)");
  parts.push(`[$${option.env}]`);
  return parts.join(" ");
}

function table(rows: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  return rows.map(([label, text]) => `${INDENT}${label.padEnd(width)}${text}`);
}
