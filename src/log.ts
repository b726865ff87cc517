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
  const formatter = createFormatter(format);
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
 * A formatter for one of the log formats. logfmt lines look like
 * `time=2026-11-28T12:00:00.000Z level=info logger=prunner msg="Listening" url=http://…`; the text
 * formats show the time, level, category and message, followed by the properties the message
 * does not mention as `key=value`.
 *
 * @example
 * ```ts
 * const line = createFormatter("logfmt")(record);
 * ```
 */
export function createFormatter(format: LogFormat): TextFormatter {
  if (format === "logfmt") return formatLogfmt;
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
const PLACEHOLDER = /\{([^{}]*)\}/g;
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

/**
 * Formats a record as one logfmt line, as logtape's `getLogfmtFormatter()` does, in about a
 * third of its time (it was a tenth of the server's CPU time under API load, one access line per
 * request): values that need no quotes are found with one regular expression instead of a loop
 * per character, the message is rendered from a cached parse of its template, and the time and
 * logger name are reused from the previous line when they are the same.
 */
function formatLogfmt(record: LogRecord): string {
  let line = `time=${isoTime(record.timestamp)} level=${record.level} logger=${
    categoryText(record.category)
  } msg=${logfmtValue(renderMessage(record))}`;
  const properties = record.properties;
  for (const key in properties) {
    if (!Object.hasOwn(properties, key) || key === "") continue;
    line += ` ${logfmtKey(key)}=${logfmtValue(properties[key])}`;
  }
  return line + "\n";
}

/** The last timestamp formatted: records of the same millisecond share the text. */
let lastTime = { timestamp: NaN, text: "" };

function isoTime(timestamp: number): string {
  if (timestamp !== lastTime.timestamp) {
    lastTime = { timestamp, text: new Date(timestamp).toISOString() };
  }
  return lastTime.text;
}

/** Category arrays are the loggers' own, so each is joined and quoted once. */
const categoryTexts = new WeakMap<readonly string[], string>();

function categoryText(category: readonly string[]): string {
  let text = categoryTexts.get(category);
  if (text === undefined) {
    const joined = category.join(".");
    text = LOGFMT_BARE.test(joined) ? joined : logfmtValue(joined);
    categoryTexts.set(category, text);
  }
  return text;
}

// deno-lint-ignore no-control-regex
const LOGFMT_BARE = /^[^\x00-\x20"=\\\x7f-\x9f\ufffd]+$/;
// deno-lint-ignore no-control-regex
const LOGFMT_ESCAPED = /[\x00-\x1f"\\\x7f-\x9f]/g;
// deno-lint-ignore no-control-regex
const LOGFMT_BAD_KEY_CHAR = /[\x00-\x20"=%\x7f-\x9f\ufffd]/u;
const KEYWORDS = new Set(["null", "undefined", "true", "false"]);
const ESCAPES: Record<string, string> = {
  "\t": "\\t",
  "\n": "\\n",
  "\r": "\\r",
  '"': '\\"',
  "\\": "\\\\",
};

function logfmtValue(value: unknown): string {
  // Numbers, booleans and bigints print without characters that need quoting.
  const type = typeof value;
  if (type === "number" || type === "boolean" || type === "bigint") return String(value);
  const text = stringifyValue(value);
  if (LOGFMT_BARE.test(text) && !(typeof value === "string" && KEYWORDS.has(text))) return text;
  return `"${
    text.replace(
      LOGFMT_ESCAPED,
      (char) => ESCAPES[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
    )
  }"`;
}

/** A key with the characters logfmt does not allow percent-encoded (as UTF-8 bytes). */
function logfmtKey(key: string): string {
  if (SIMPLE_KEY.test(key)) return key;
  if (!LOGFMT_BAD_KEY_CHAR.test(key)) return key;
  let result = "";
  for (const char of key) {
    result += LOGFMT_BAD_KEY_CHAR.test(char)
      ? [...encoder.encode(char)].map((byte) =>
        `%${byte.toString(16).toUpperCase().padStart(2, "0")}`
      ).join("")
      : char;
  }
  return result;
}

function stringifyValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === null || typeof value !== "object") return String(value);
  try {
    const json = JSON.stringify(value);
    if (typeof json === "string") return json.startsWith('"') ? JSON.parse(json) : json;
  } catch {
    // Circular or otherwise not JSON: inspected below.
  }
  return Deno.inspect(value, { colors: false });
}

/** Message templates split into text and property names; templates are string constants. */
const templates = new Map<string, { texts: string[]; keys: string[] } | null>();
const MAX_TEMPLATES = 1000;
const SIMPLE_KEY = /^[A-Za-z_$][\w$]*$/;

/**
 * The record's message as text. Templates with only plain `{name}` placeholders are parsed once;
 * anything else (escaped braces, nested paths, tagged templates) takes logtape's own rendering.
 */
function renderMessage(record: LogRecord): string {
  const raw = record.rawMessage;
  let parsed = typeof raw === "string" ? templates.get(raw) : null;
  if (parsed === undefined && typeof raw === "string") {
    parsed = parseTemplate(raw);
    if (templates.size < MAX_TEMPLATES) templates.set(raw, parsed);
  }
  if (!parsed) return record.message.map((part) => stringifyValue(part)).join("");
  const { texts, keys } = parsed;
  let text = texts[0];
  for (let i = 0; i < keys.length; i++) {
    text += stringifyValue(record.properties[keys[i]]) + texts[i + 1];
  }
  return text;
}

function parseTemplate(raw: string): { texts: string[]; keys: string[] } | null {
  if (raw.includes("{{") || raw.includes("}}")) return null;
  const texts: string[] = [];
  const keys: string[] = [];
  let start = 0;
  for (const match of raw.matchAll(PLACEHOLDER)) {
    const key = match[1];
    if (!SIMPLE_KEY.test(key)) return null;
    texts.push(raw.slice(start, match.index));
    keys.push(key);
    start = match.index + match[0].length;
  }
  texts.push(raw.slice(start));
  return { texts, keys };
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
