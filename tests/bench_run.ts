/**
 * Runs `scripts/bench.ts` as a subprocess for the benchmark's tests, and reads what it writes.
 */

import { assert } from "./assert.ts";

const BENCH = new URL("../scripts/bench.ts", import.meta.url).pathname;

/** The repository's root, where the benchmark runs. */
export const REPO = new URL("../", import.meta.url).pathname;

/** What `--json FILE` holds. */
export interface Report {
  quick: boolean;
  machine: { nproc: number; cpu: string; deno: string };
  results: {
    id: number;
    status: "ok" | "skipped" | "failed";
    note?: string;
    metrics: { name: string; value: unknown; unit: string; remark?: string; pass?: boolean }[];
  }[];
}

/** Runs the benchmark with `args`; resolves with its exit code and output. */
export async function runBench(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", BENCH, ...args],
    cwd: REPO,
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** The names of the benchmark's temporary directories that exist now. */
export async function tempDirs(): Promise<Set<string>> {
  const names = new Set<string>();
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  for await (const entry of Deno.readDir(tmp)) {
    if (entry.name.startsWith("prunner-bench-")) names.add(entry.name);
  }
  return names;
}

/** Asserts that a case reported metrics and that every one of them is a finite number. */
export function assertMeasured(result: Report["results"][number]): void {
  assert(result.metrics.length > 0, `case ${result.id} has no metrics`);
  for (const metric of result.metrics) {
    assert(
      typeof metric.value === "number" && Number.isFinite(metric.value),
      `case ${result.id} ${metric.name}: ${metric.value} is not a number`,
    );
  }
}
