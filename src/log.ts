/**
 * Logging setup. Modules log through logtape's `getLogger(["prunner", …])` (e.g.
 * `getLogger(["prunner", "http"])`); {@linkcode setupLogging} decides where records go (stderr
 * only) and how they look: readable and coloured on a terminal, logfmt with `--disable-ansi` or
 * when stderr is not a terminal. `--verbose` adds the debug level.
 *
 * @module
 */
import {
  configure,
  getAnsiColorFormatter,
  getTextFormatter,
  type LogRecord,
  type TextFormatter,
} from "@logtape/logtape";
import { logfmtFormatter, PLACEHOLDER } from "./logfmt.ts";

/** Where log lines are written. */
export interface LogOutput {
  /** Writes one formatted record (ending in a newline). */
  write(text: string): void;
  /** Whether a person is watching: selects the readable format instead of logfmt. */
  isTerminal: boolean;
}

/** Logging options, as given on the command line. */
export interface LogOptions {
  verbose: boolean;
  disableAnsi: boolean;
}

/** The log line formats: coloured or plain text for terminals, logfmt for machines. */
export type LogFormat = "color" | "plain" | "logfmt";

/**
 * Configures logging for the `prunner` categories (and logtape's own warnings). May be called
 * again (e.g. in tests); each call replaces the previous configuration.
 *
 * @example
 * ```ts
 * await setupLogging({ verbose: false, disableAnsi: false });
 * getLogger(["prunner"]).info("Listening on {url}", { url: "http://localhost:9009" });
 * ```
 */
export async function setupLogging(
  options: LogOptions,
  output: LogOutput = stderrOutput(),
): Promise<void> {
  const format: LogFormat = options.disableAnsi || !output.isTerminal
    ? "logfmt"
    : Deno.noColor
    ? "plain"
    : "color";
  const formatter = createFormatter(format, { stacks: options.verbose });
  await configure({
    reset: true,
    sinks: { stderr: immediateSink((record: LogRecord) => output.write(formatter(record))) },
    loggers: [
      { category: ["prunner"], lowestLevel: options.verbose ? "debug" : "info", sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

/**
 * Marks a sink as one that formats each record before it returns, so logtape need not copy the
 * record's properties for it first (as it does for sinks that might keep records for later).
 * That copy was a fifth of what an access log line cost.
 */
function immediateSink(sink: (record: LogRecord) => void): (record: LogRecord) => void {
  return Object.defineProperty(sink, Symbol.for("LogTape.sinkSnapshotPolicy.immediate"), {
    value: true,
  });
}

/**
 * A formatter for one of the log formats; with `stacks` (`--verbose`), logfmt shows errors with
 * their stack traces, else with their messages and causes. logfmt lines look like
 * `time=2026-11-28T12:00:00.000Z level=info logger=prunner msg="Listening" url=http://…`; the text
 * formats show the time, level, category and message, followed by the properties the message
 * does not mention as `key=value`.
 *
 * @example
 * ```ts
 * const line = createFormatter("logfmt")(record);
 * ```
 */
export function createFormatter(
  format: LogFormat,
  errors: { stacks: boolean } = { stacks: false },
): TextFormatter {
  if (format === "logfmt") return logfmtFormatter(errors);
  const options = { timestamp: "date-time", category: ".", value: "bare" } as const;
  if (format === "plain") {
    return getTextFormatter({
      ...options,
      format: ({ timestamp, level, category, message, record }) =>
        `${timestamp} ${level} ${category}: ${message}${extraProperties(record)}`,
    });
  }
  return getAnsiColorFormatter({
    ...options,
    format: ({ timestamp, level, category, message, record }) => {
      const extra = extraProperties(record);
      return `${timestamp} ${level} ${category}: ${message}${extra && `${DIM}${extra}${RESET}`}`;
    },
  });
}

const DIM = "\x1b[2m";
const RESET = "\x1b[0m";
// deno-lint-ignore no-control-regex
const BARE_VALUE = /^[^\s"=\\\x00-\x1f\x7f-\x9f]+$/;

/** ` key=value` for each property that the message template does not interpolate. */
function extraProperties(record: LogRecord): string {
  const used = new Set<string>();
  if (typeof record.rawMessage === "string") {
    for (const match of record.rawMessage.matchAll(PLACEHOLDER)) used.add(match[1].trim());
  }
  return Object.entries(record.properties)
    .filter(([key]) => !used.has(key))
    .map(([key, value]) => ` ${key}=${showValue(value)}`)
    .join("");
}

function showValue(value: unknown): string {
  const text = typeof value === "string"
    ? value
    : Deno.inspect(value, { colors: false, compact: true, breakLength: Infinity });
  if (BARE_VALUE.test(text)) return text;
  return JSON.stringify(text).replace(
    /[\x7f-\x9f]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Log text not yet written to stderr. */
let pending = "";
/** Pending text beyond this is written at once. */
const MAX_PENDING = 64 * 1024;
let flushTimer: ReturnType<typeof setTimeout> | undefined;
const encoder = new TextEncoder();

/**
 * Writes log lines that are still buffered to stderr. Lines are buffered for at most one turn of
 * the event loop; call this before `Deno.exit`.
 */
export function flushLogs(): void {
  clearTimeout(flushTimer);
  flushTimer = undefined;
  let bytes = encoder.encode(pending);
  pending = "";
  while (bytes.length > 0) bytes = bytes.subarray(Deno.stderr.writeSync(bytes));
}

/**
 * Stderr, written once per turn of the event loop: lines logged meanwhile (e.g. the access lines
 * of concurrent requests) cost one write instead of one each.
 */
function stderrOutput(): LogOutput {
  return {
    isTerminal: Deno.stderr.isTerminal(),
    write(text: string) {
      pending += text;
      if (pending.length > MAX_PENDING) flushLogs();
      else flushTimer ??= setTimeout(flushLogs, 0);
    },
  };
}
