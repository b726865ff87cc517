/**
 * Dotenv files (`--env-files`): loaded in order, later files override earlier ones and the
 * process environment, missing files are skipped, malformed lines are errors.
 *
 * Values are parsed by npm `dotenv`; since it skips lines it does not understand, every line is
 * checked here first so a typo is reported with its file and line instead of being ignored.
 *
 * @module
 */
import { errorMessage } from "../errors.ts";
import { getLogger } from "@logtape/logtape";
import { parse } from "dotenv";
import { ConfigError } from "./error.ts";

const log = getLogger(["prunner", "config"]);

const ENTRY = /^\s*(?:export\s+)?([\w.-]+)(?:\s*=|:[ \t])(.*)$/;
const QUOTES = new Set(["'", '"', "`"]);
const REST_OF_LINE_AFTER_QUOTE = /^\s*(?:#.*)?$/;
const SHOWN_CHARS = 40;

/**
 * Loads dotenv files in order and returns `base` overlaid with their variables (a later file wins
 * over an earlier one, every file over `base`). Files that do not exist are skipped. Without a
 * `base`, the result holds only the files' variables, e.g. to apply them to `Deno.env`; pass
 * `Deno.env.toObject()` as `base` to get the complete environment for task processes.
 *
 * @example
 * ```ts
 * const fromFiles = await loadEnvFiles([".env", ".env.local"]);
 * for (const [key, value] of Object.entries(fromFiles)) Deno.env.set(key, value);
 * ```
 * @throws {ConfigError} naming the file and line of a malformed line, or the file that exists
 * but cannot be read.
 */
export async function loadEnvFiles(
  files: readonly string[],
  base: Readonly<Record<string, string>> = {},
): Promise<Record<string, string>> {
  const env = { ...base };
  for (const file of files) {
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        log.debug("Env file {file} not found, skipped", { file });
        continue;
      }
      const reason = errorMessage(error);
      throw new ConfigError(file, null, `cannot read the env file: ${reason}`);
    }
    const vars = parseEnvFile(text, file);
    log.debug("Loaded {count} variable(s) from env file {file}", {
      count: Object.keys(vars).length,
      file,
    });
    Object.assign(env, vars);
  }
  return env;
}

/**
 * Parses the text of a dotenv file: `KEY=VALUE`, `export KEY=VALUE` (and `KEY: VALUE`) lines,
 * `#` comments, blank lines, and quoted values (`'…'`, `"…"`, `` `…` ``) that may span lines.
 * Later assignments of a key win.
 *
 * @example
 * ```ts
 * parseEnvFile('A=1\nexport B="two\nlines"\n', ".env"); // { A: "1", B: "two\nlines" }
 * ```
 * @throws {ConfigError} `FILE:LINE: …` for a line that is not an assignment or a quoted value
 * that is never closed.
 */
export function parseEnvFile(text: string, file: string): Record<string, string> {
  const lines = text.replace(/^\uFEFF/, "").split(/\r\n?|\n/);
  const vars: Record<string, string> = {};
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const match = ENTRY.exec(line);
    if (!match) {
      throw new ConfigError(
        file,
        i + 1,
        `expected KEY=VALUE or export KEY=VALUE, got ${JSON.stringify(shorten(trimmed))}`,
      );
    }
    const last = lastLineOfEntry(lines, i, match[2], file);
    const entry = lines.slice(i, last + 1).join("\n");
    const parsed = parse(entry);
    vars[match[1]] = parsed[match[1]] ?? "";
    i = last;
  }
  return vars;
}

/** The index of the line an entry ends on: a later one when a quoted value spans lines. */
function lastLineOfEntry(lines: string[], start: number, rawValue: string, file: string): number {
  const value = rawValue.trimStart();
  const quote = value[0];
  if (!QUOTES.has(quote)) return start;
  let text = value.slice(1);
  for (let i = start; i < lines.length; i++) {
    const close = closingQuote(text, quote);
    if (close !== -1) {
      if (i === start || REST_OF_LINE_AFTER_QUOTE.test(text.slice(close + 1))) return i;
      break;
    }
    text = lines[i + 1] ?? "";
  }
  throw new ConfigError(
    file,
    start + 1,
    `unterminated quoted value: missing the closing ${quote} at the end of a line`,
  );
}

/** The index of the first `quote` in `text` not escaped by a backslash, or -1. */
function closingQuote(text: string, quote: string): number {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "\\" && text[i + 1] === quote) i++;
    else if (text[i] === quote) return i;
  }
  return -1;
}

function shorten(text: string): string {
  return text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}…` : text;
}
