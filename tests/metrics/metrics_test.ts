import type { Job } from "../../src/engine/job.ts";
import { countSaveFailures, createMetrics, type PipelineLoad } from "../../src/metrics/metrics.ts";
import { makeJob, makeTask } from "../server/support.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../assert.ts";
import { parseMetrics, value } from "./parse.ts";
import { withTempDir } from "../temp_dir.ts";
import { PERMISSION_FLAGS, ROOT } from "../../scripts/compile.ts";

const T0 = 1_000_000;

Deno.test("job and task metrics count what they are fed, by pipeline and outcome", async () => {
  let load: PipelineLoad[] = [{ pipeline: "deploy", running: 2, waiting: 3 }];
  const metrics = createMetrics({ load: () => load, processMetrics: false });
  const job = makeJob({ pipeline: "deploy", created: T0, start: T0 + 250 });
  metrics.jobScheduled(job);
  metrics.jobScheduled(job);
  metrics.jobStarted(job);
  const task = makeTask({ name: "a", start: T0 + 250, end: T0 + 2_250 });
  metrics.taskFinished(job, task, "error");
  metrics.taskRetried(job);
  metrics.taskTimedOut(job, "task");
  metrics.jobCompleted({ ...job, errored: true, end: T0 + 10_250 } as Job);
  metrics.jobRefused("deploy", "queue_full");
  metrics.storeWriteFailed();
  metrics.executorRestarted();

  const families = parseMetrics(await metrics.text());
  const of = (name: string, labels = {}) => value(families, name, labels);
  const deploy = { pipeline: "deploy" };
  assertEquals(of("prunner_jobs_scheduled_total", deploy), 2);
  assertEquals(of("prunner_jobs_finished_total", { ...deploy, outcome: "failed" }), 1);
  assertEquals(of("prunner_jobs_finished_total", { ...deploy, outcome: "done" }), undefined);
  assertEquals(of("prunner_jobs_running", deploy), 2);
  assertEquals(of("prunner_jobs_waiting", deploy), 3);
  assertEquals(of("prunner_jobs_refused_total", { ...deploy, reason: "queue_full" }), 1);
  assertEquals(of("prunner_task_timeouts_total", { ...deploy, timeout: "task" }), 1);
  assertEquals(of("prunner_task_retries_total", deploy), 1);
  assertEquals(of("prunner_store_write_failures_total"), 1);
  assertEquals(of("prunner_executor_restarts_total"), 1);

  assertEquals(of("prunner_job_start_latency_seconds_count", deploy), 1);
  assertEquals(of("prunner_job_start_latency_seconds_sum", deploy), 0.25);
  assertEquals(of("prunner_job_start_latency_seconds_bucket", { ...deploy, le: "0.1" }), 0);
  assertEquals(of("prunner_job_start_latency_seconds_bucket", { ...deploy, le: "0.5" }), 1);
  assertEquals(of("prunner_job_start_latency_seconds_bucket", { ...deploy, le: "+Inf" }), 1);
  assertEquals(of("prunner_job_duration_seconds_sum", { ...deploy, outcome: "failed" }), 10);
  assertEquals(of("prunner_task_duration_seconds_sum", { ...deploy, result: "error" }), 2);
  assertEquals(families.get("prunner_task_duration_seconds")?.type, "histogram");
  assertEquals(families.get("prunner_jobs_scheduled_total")?.type, "counter");

  load = [];
  const later = parseMetrics(await metrics.text());
  assertEquals(value(later, "prunner_jobs_running", deploy), undefined);
});

Deno.test("process metrics are collected under Deno, read from /proc", async () => {
  const metrics = createMetrics({ load: () => [] });
  const families = parseMetrics(await metrics.text());
  for (const name of ["process_resident_memory_bytes", "process_open_fds", "process_heap_bytes"]) {
    assert(value(families, name)! > 0, name);
  }
  assert(value(families, "process_cpu_seconds_total")! > 0, "CPU time");
  assert(value(families, "nodejs_heap_size_used_bytes")! > 0, "heap");
});

Deno.test("a failed save is counted and still reaches the caller", async () => {
  const failures: unknown[] = [];
  const store = {
    saved: 0,
    save(_job: Job) {
      return Promise.reject(new Error("disk full"));
    },
    get: (_id: string) => Promise.resolve(null),
  };
  const counted = countSaveFailures(store, (error) => failures.push(error));
  await assertRejects(() => counted.save(makeJob()), Error, "disk full");
  assertEquals(failures.length, 1);
  assertEquals(await counted.get("x"), null, "other methods are kept");
});

Deno.test("the test parser rejects malformed exposition text", () => {
  const bad = [
    "x 1\n",
    '# TYPE x counter\nx{a="1} 1\n',
    '# TYPE x counter\nx{a="1"} one\n',
    "# TYPE x counter\nx 1\nx 2\n",
    '# TYPE x gauge\nx_bucket{le="1"} 1\n',
  ];
  for (const text of bad) assertThrows(() => parseMetrics(text), Error, "metrics line");
  const good = parseMetrics('# TYPE x counter\nx{a="q\\"\\n",b="2",} 1.5e3\n');
  assertEquals(good.get("x")?.samples, [{ name: "x", labels: { a: 'q"\n', b: "2" }, value: 1500 }]);
});

Deno.test({
  name: "without access to /proc, memory comes from Deno and fd counts are left out",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const output = await withTempDir("prunner-metrics-", async (dir) => {
      const script = `${dir}/scrape.ts`;
      await Deno.writeTextFile(
        script,
        `import { createMetrics } from "${new URL(
          "../../src/metrics/metrics.ts",
          import.meta.url,
        )}";
        console.log(await createMetrics({ load: () => [] }).text());`,
      );
      // The permissions of the compiled binary (see scripts/compile.ts): not --allow-all.
      return await new Deno.Command(Deno.execPath(), {
        args: ["run", "--config", new URL("deno.json", ROOT).pathname, ...PERMISSION_FLAGS, script],
        stderr: "inherit",
      }).output();
    });
    assert(output.success, "the script ran");
    const families = parseMetrics(new TextDecoder().decode(output.stdout));
    assert(value(families, "process_resident_memory_bytes")! > 0, "resident memory");
    assertEquals(families.has("process_open_fds"), false);
    assertEquals(families.has("process_virtual_memory_bytes"), false);
    assert(value(families, "process_cpu_seconds_total")! > 0, "CPU time");
  },
});
