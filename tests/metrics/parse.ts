/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4) for tests: it
 * rejects what a Prometheus server would reject (samples of undeclared families, samples
 * before their `# TYPE`, malformed labels or values, a series given twice), so a test that
 * parses the output also checks that it is well formed.
 *
 * (The npm parsers looked at merge every labelled histogram of a family into one series.)
 */

/** One sample line. */
export interface Sample {
  /** The sample's own name: the family name, or with `_bucket`, `_sum`, `_count`. */
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A metric family: its type, help and samples. */
export interface Family {
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = ["counter", "gauge", "histogram", "summary", "untyped"];
const SUFFIXES: Record<string, string[]> = {
  histogram: ["_bucket", "_sum", "_count"],
  summary: ["_sum", "_count"],
};

/**
 * Parses exposition text into metric families by name.
 *
 * @throws {Error} naming the line that is not valid.
 */
export function parseMetrics(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  text.split("\n").forEach((line, index) => {
    const fail = (problem: string): never => {
      throw new Error(`metrics line ${index + 1}: ${problem}: ${JSON.stringify(line)}`);
    };
    if (line.trim() === "") return;
    const meta = /^# (HELP|TYPE) ([^ ]+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      if (!NAME.test(name)) fail("invalid metric name");
      const family = families.get(name) ?? { type: "untyped", help: "", samples: [] };
      families.set(name, family);
      if (kind === "HELP") family.help = rest.replace(/\\n/g, "\n").replace(/\\\\/g, "\\");
      else if (!TYPES.includes(rest)) fail("unknown type");
      else if (family.samples.length > 0) fail("TYPE after samples");
      else family.type = rest;
      return;
    }
    if (line.startsWith("#")) return;
    const sample = parseSample(line, fail);
    const family = familyOf(families, sample.name) ?? fail("sample of an undeclared family");
    const key = sample.name + JSON.stringify(Object.entries(sample.labels).sort());
    if (seen.has(key)) fail("series given twice");
    seen.add(key);
    family.samples.push(sample);
  });
  return families;
}

function familyOf(families: Map<string, Family>, name: string): Family | undefined {
  const own = families.get(name);
  if (own) return own;
  for (const [base, family] of families) {
    if ((SUFFIXES[family.type] ?? []).some((suffix) => base + suffix === name)) return family;
  }
  return undefined;
}

function parseSample(line: string, fail: (problem: string) => never): Sample {
  let rest = line;
  const name = NAME.exec(rest)?.[0] ?? fail("invalid metric name");
  rest = rest.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith("{")) {
    rest = rest.slice(1);
    while (!rest.startsWith("}")) {
      const label = LABEL_NAME.exec(rest)?.[0] ?? fail("invalid label name");
      rest = rest.slice(label.length);
      if (!rest.startsWith('="')) fail(`label ${label} without ="value"`);
      rest = rest.slice(2);
      let value = "";
      while (!rest.startsWith('"')) {
        if (rest === "") fail("unterminated label value");
        if (rest.startsWith("\\")) {
          const escaped = rest[1];
          value += escaped === "n"
            ? "\n"
            : escaped === "\\" || escaped === '"'
            ? escaped
            : fail("invalid escape in a label value");
          rest = rest.slice(2);
        } else {
          value += rest[0];
          rest = rest.slice(1);
        }
      }
      rest = rest.slice(1);
      if (label in labels) fail(`label ${label} given twice`);
      labels[label] = value;
      if (rest.startsWith(",")) rest = rest.slice(1);
      else if (!rest.startsWith("}")) fail("expected , or } after a label");
    }
    rest = rest.slice(1);
  }
  const parts = rest.trim().split(/ +/);
  if (!rest.startsWith(" ") || parts.length < 1 || parts.length > 2) fail("expected a value");
  const value = parseValue(parts[0]) ?? fail("invalid value");
  if (parts.length === 2 && !/^-?\d+$/.test(parts[1])) fail("invalid timestamp");
  return { name, labels, value };
}

/** A float as Prometheus reads it (Go's `ParseFloat`: `NaN` and `Inf` in any case). */
function parseValue(text: string): number | null {
  if (/^nan$/i.test(text)) return NaN;
  const infinity = /^([+-]?)inf(inity)?$/i.exec(text);
  if (infinity) return infinity[1] === "-" ? -Infinity : Infinity;
  const value = Number(text);
  return text !== "" && !Number.isNaN(value) ? value : null;
}

/**
 * The value of the sample called `name` whose labels include `labels`, or `undefined`.
 *
 * @example
 * ```ts
 * value(families, "prunner_jobs_finished_total", { pipeline: "build", outcome: "done" });
 * value(families, "prunner_job_duration_seconds_count", { pipeline: "build" });
 * ```
 */
export function value(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return familyOf(families, name)?.samples.find((s) =>
    s.name === name && Object.entries(labels).every(([key, v]) => s.labels[key] === v)
  )?.value;
}
