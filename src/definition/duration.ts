/**
 * Go duration syntax (`300ms`, `10s`, `1m30s`, `48h`), as prunner's flags and YAML use it.
 *
 * @module
 */
import { PrunnerError } from "../errors.ts";

/** A value that is not a Go duration. */
export class DurationError extends PrunnerError {
  constructor(readonly value: string) {
    super(
      `invalid duration "${value}": expected a decimal number with a unit (ns, us, ms, s, m, h), e.g. "300ms", "10s", "1m30s"`,
    );
  }
}

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  "μs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/**
 * Parses a Go duration into milliseconds. A sign is allowed (`-5s` is -5000); `0` needs no unit.
 *
 * @example
 * ```ts
 * parseDuration("1m30s"); // 90000
 * ```
 * @throws {DurationError} when the text is not a Go duration.
 */
export function parseDuration(text: string): number {
  let rest = text;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    sign = rest.startsWith("-") ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") throw new DurationError(text);
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < rest.length) {
    const match = PART.exec(rest);
    if (!match) throw new DurationError(text);
    total += Number(match[1]) * UNIT_MS[match[2]];
  }
  return sign * total;
}

/**
 * Formats milliseconds as a Go duration, for messages and `debug` output.
 *
 * @example
 * ```ts
 * formatDuration(90000); // "1m30s"
 * ```
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  const sign = ms < 0 ? "-" : "";
  let rest = Math.abs(ms);
  if (rest < 1000) return `${sign}${rest}ms`;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = rest / 1000;
  return `${sign}${hours ? `${hours}h` : ""}${hours || minutes ? `${minutes}m` : ""}${seconds}s`;
}

/**
 * Formats milliseconds as a Go duration without zero trailing units, for messages a person
 * reads.
 *
 * @example
 * ```ts
 * formatDurationShort(600_000); // "10m" (formatDuration gives "10m0s")
 * formatDurationShort(5_400_000); // "1h30m"
 * ```
 */
export function formatDurationShort(ms: number): string {
  return formatDuration(ms).replace(/(\d[hm])0s$/, "$1").replace(/(\dh)0m$/, "$1");
}
