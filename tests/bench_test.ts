/**
 * A cheap check of the benchmark's wiring: arguments, a server of ours, the table and the JSON
 * report, and the removal of its temporary directories, with cases 1 and 2 at their `--quick`
 * sizes. Every case is run by `deno task bench:check` (tests/bench_quick.ts).
 */
import { assert, assertEquals } from "./assert.ts";
import { assertMeasured, type Report, runBench, tempDirs } from "./bench_run.ts";

Deno.test("bench --quick --only 1,2 writes the table and numbers to --json", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bench-test-" });
  try {
    const before = await tempDirs();
    const json = `${dir}/bench.json`;
    const { code, stdout, stderr } = await runBench(["--quick", "--only", "1,2", "--json", json]);
    assertEquals(code, 0, `bench failed:\n${stdout}\n${stderr}`);
    const report: Report = JSON.parse(await Deno.readTextFile(json));
    assertEquals(report.quick, true);
    assert(report.machine.nproc > 0 && report.machine.cpu !== "", "machine described");
    assertEquals(report.results.map((result) => result.id), [1, 2]);
    for (const result of report.results) {
      assertEquals(result.status, "ok", `case ${result.id}: ${result.note}`);
      assertMeasured(result);
    }
    const ratio = report.results[1].metrics.find((metric) => metric.name.includes("spawn limit"));
    assert(ratio?.pass !== undefined, "case 2 is measured against case 1's spawn rate");
    assert(stdout.includes("| case"), "the table is printed");
    assertEquals(await tempDirs(), before, "temporary directories are removed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bench refuses unknown arguments with its usage", async () => {
  const { code, stderr } = await runBench(["--nope"]);
  assertEquals(code, 2);
  assert(stderr.includes('unknown argument "--nope"'), stderr);
  assert(stderr.includes("usage: deno task bench"), stderr);
});
