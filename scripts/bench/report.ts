/**
 * Benchmark results: metrics with optional targets, the per-case outcome, the table printed at
 * the end and the JSON written with `--json`.
 *
 * @module
 */

/** A bound a metric should meet, as the issue states it. */
export interface Target {
  op: "<" | "<=" | ">" | ">=";
  bound: number;
}

/** One measured number, or why there is none. */
export interface Metric {
  name: string;
  /** `null` when the metric cannot be measured or compared; `remark` says why. */
  value: number | null;
  unit: string;
  remark?: string;
  target?: Target;
  /** Whether the target is met; absent without a target. */
  pass?: boolean;
}

/** The outcome of one case. */
export interface CaseResult {
  id: number;
  title: string;
  status: "ok" | "skipped" | "failed";
  /** Why it was skipped or failed, or a remark on how it was measured. */
  note?: string;
  seconds: number;
  metrics: Metric[];
}

/**
 * A metric; with a target, `pass` is evaluated.
 *
 * @example
 * ```ts
 * metric("p99", 12.5, "ms", { op: "<", bound: 20 }); // pass: true
 * ```
 */
export function metric(name: string, value: number, unit: string, target?: Target): Metric {
  if (!target) return { name, value, unit };
  const pass = target.op === "<"
    ? value < target.bound
    : target.op === "<="
    ? value <= target.bound
    : target.op === ">"
    ? value > target.bound
    : value >= target.bound;
  return { name, value, unit, target, pass };
}

/**
 * A row that says what is not measured, and why, instead of leaving it out.
 *
 * @example
 * ```ts
 * unmeasured("go: startup with 100,000 jobs", "the Go prunner keeps jobs in its own file");
 * ```
 */
export function unmeasured(name: string, remark: string): Metric {
  return { name, value: null, unit: "", remark };
}

/** A number with as many decimals as its size calls for. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** The results as a Markdown table: case, metric, value, target, result. */
export function formatTable(results: readonly CaseResult[]): string {
  const rows: string[][] = [["case", "metric", "value", "target", "result"]];
  for (const result of results) {
    const label = `${result.id}. ${result.title}`;
    if (result.status !== "ok") {
      rows.push([label, "(see notes)", "", "", result.status]);
      continue;
    }
    for (const m of result.metrics) {
      const unit = m.unit === "" ? "" : ` ${m.unit}`;
      rows.push([
        label,
        m.name,
        m.value === null ? `— (${m.remark})` : `${formatNumber(m.value)}${unit}`,
        m.target ? `${m.target.op} ${formatNumber(m.target.bound)}${unit}` : "",
        m.pass === undefined ? "" : m.pass ? "pass" : "FAIL",
      ]);
    }
  }
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  const line = (row: string[]) =>
    `| ${row.map((cell, column) => cell.padEnd(widths[column])).join(" | ")} |`;
  return [
    line(rows[0]),
    `|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`,
    ...rows.slice(1).map(line),
  ].join("\n");
}

/** Notes of the cases that have one, as a list under the table. */
export function formatNotes(results: readonly CaseResult[]): string {
  return results.filter((result) => result.note)
    .map((result) => `- case ${result.id} (${result.status}): ${result.note}`)
    .join("\n");
}

/** The value at quantile `q` (0..1) of `values`, by the nearest-rank method. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new RangeError("no values to take a percentile of");
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}
