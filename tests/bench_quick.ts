/**
 * The benchmark's full check, kept out of `deno task test` because it runs every case:
 * `deno task bench:check` (and `.ci/run`) runs `scripts/bench.ts --quick` with all cases, and
 * with `--compare-prunner`, and checks the JSON it writes. No timing is asserted, only that
 * every case ran (or was skipped for a stated reason) and produced numbers.
 */
import { assert, assertEquals } from "./assert.ts";
import { assertMeasured, REPO, type Report, runBench, tempDirs } from "./bench_run.ts";
import { postgresMissing } from "./postgres.ts";

Deno.test("bench --quick runs every case and writes numbers to --json", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bench-test-" });
  try {
    const before = await tempDirs();
    const json = `${dir}/bench.json`;
    const { code, stdout, stderr } = await runBench(["--quick", "--json", json]);
    assertEquals(code, 0, `bench failed:\n${stdout}\n${stderr}`);
    const report: Report = JSON.parse(await Deno.readTextFile(json));

    assertEquals(report.quick, true);
    assert(report.machine.nproc > 0 && report.machine.cpu !== "", "machine described");
    assertEquals(report.results.map((result) => result.id), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const result of report.results) {
      if (result.status === "skipped") {
        assert(result.note, `case ${result.id} is skipped without a reason`);
        const mayBeSkipped = result.id === 3 || result.id === 8 ||
          (result.id === 10 && postgresMissing !== null);
        assert(mayBeSkipped, `case ${result.id} must not be skipped`);
        continue;
      }
      assertEquals(result.status, "ok", `case ${result.id}: ${result.note}`);
      assertMeasured(result);
    }
    const withTargets = report.results.flatMap((result) => result.metrics)
      .filter((metric) => metric.pass !== undefined);
    assert(withTargets.length >= 7, "the targets of the issues are evaluated");
    const page = report.results.find((result) => result.id === 6)?.metrics
      .find((metric) => metric.name === "GET /pipelines/jobs?limit=50, median");
    assert(page?.pass !== undefined, "case 6 measures a page of 50 against its 50 ms target");
    if (postgresMissing === null) {
      const cluster = report.results.find((result) => result.id === 10)?.metrics
        .find((metric) => metric.name === "time per job, cluster ÷ one node");
      assert(cluster?.pass !== undefined, "case 10 measures the cluster against its 1.5 × target");
    }
    assert(stdout.includes("| case"), "the table is printed");
    assertEquals(await tempDirs(), before, "temporary directories are removed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bench --compare-prunner runs cases 2, 4 and 5 against another binary; --load fetch", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bench-test-" });
  try {
    // Our own prunner behind a wrapper stands in for the Go binary: same flags, same API.
    const wrapper = `${dir}/prunner`;
    await Deno.writeTextFile(
      wrapper,
      `#!/bin/sh\nexec "${Deno.execPath()}" run -A "${REPO}main.ts" "$@"\n`,
    );
    await Deno.chmod(wrapper, 0o755);
    const json = `${dir}/bench.json`;
    const { code, stdout, stderr } = await runBench([
      "--quick",
      "--only",
      "2,4,5,7,8",
      "--load",
      "fetch",
      "--compare-prunner",
      wrapper,
      "--json",
      json,
    ]);
    assertEquals(code, 0, `bench failed:\n${stdout}\n${stderr}`);
    const report: Report = JSON.parse(await Deno.readTextFile(json));
    assertEquals(report.results.map((result) => result.id), [2, 4, 5, 7, 8]);
    assertEquals(report.results[3].status, "ok", report.results[3].note);
    assert(report.results[3].note?.includes("fetch loops"), report.results[3].note);
    const compare = report.results[4];
    assertEquals(compare.status, "ok", compare.note);
    assert(!compare.note?.includes("case "), `a comparison failed: ${compare.note}`);
    const names = compare.metrics.map((metric) => metric.name);
    for (
      const expected of ["go: end-to-end (case 2)", "go: latency p99 (case 4)", "deno ÷ go, jobs/s"]
    ) {
      assert(names.includes(expected), `case 8 lacks ${expected}: ${names.join(", ")}`);
    }
    for (const metric of compare.metrics) {
      assert(
        Number.isFinite(metric.value) || (metric.value === null && metric.remark),
        `${metric.name}: ${metric.value} without a remark`,
      );
    }
    assert(
      compare.metrics.some((metric) => metric.value === null),
      "case 8 says what it cannot compare",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
