/**
 * Timeouts, retries and metrics end to end: a real prunner process, real task processes, the
 * HTTP API.
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { parseMetrics, value } from "../metrics/parse.ts";
import { processAlive } from "../runner/support.ts";
import { startPrunner, waitFor, workspace } from "./support.ts";

const PIPELINES = `
pipelines:
  ok:
    tasks:
      hello:
        script: [echo hello]
  failing:
    tasks:
      broken:
        script: [exit 3]
  flaky:
    tasks:
      fetch:
        retries: 2
        retry_delay: 100ms
        script:
          - echo attempt
          - if [ -f flaky.marker ]; then echo second; else touch flaky.marker; exit 3; fi
  hang:
    tasks:
      stuck:
        timeout: 2s
        script:
          - sh -c 'sleep 300 & echo $! > hang.pid; wait'
  hang_pipeline:
    timeout: 2s
    tasks:
      stuck:
        script: [sleep 300]
    on_error:
      script: ['echo "{{ .failedTaskError }}"']
  exclusive:
    queue_limit: 0
    tasks:
      wait:
        script: ["while [ ! -f exclusive.go ]; do sleep 0.05; done"]
  patient:
    tasks:
      fetch:
        retries: 1
        retry_delay: 5s
        script:
          - if [ -f patient.marker ]; then echo second; else touch patient.marker; exit 3; fi
`;

/** Waits for a pid written to `path` by a task. */
function pidIn(path: string): Promise<number> {
  return waitFor(`a pid in ${path}`, async () => {
    const text = await Deno.readTextFile(path).catch(() => "");
    return text.trim() ? Number(text) : 0;
  });
}

Deno.test("timeouts and retries through the API, counted in GET /metrics", async () => {
  await using ws = await workspace(PIPELINES);
  await using prunner = await startPrunner(ws);

  const unauthorized = await fetch(`${prunner.url}/metrics`);
  assertEquals(unauthorized.status, 401);
  await unauthorized.body?.cancel();

  const ok = await prunner.completed(await prunner.schedule("ok"));
  assertEquals(ok.errored, false);
  const failing = await prunner.completed(await prunner.schedule("failing"));
  assertEquals(failing.errored, true);

  const flakyId = await prunner.schedule("flaky");
  const flaky = await prunner.completed(flakyId);
  assertEquals(flaky.errored, false);
  const fetchTask = flaky.tasks[0] as { status: string; attempt?: number };
  assertEquals([fetchTask.status, fetchTask.attempt], ["done", 2]);
  const logs = await prunner.json<{ stdout: string }>(
    "GET",
    `/job/logs?id=${flakyId}&task=fetch`,
  );
  assertEquals(logs.stdout, "attempt\nsecond\n", "the logs API shows the last attempt");

  const hangId = await prunner.schedule("hang");
  const child = await pidIn(`${ws.root}/hang.pid`);
  const hang = await prunner.completed(hangId);
  assertEquals([hang.tasks[0].status, hang.tasks[0].error], ["error", "timed out after 2s"]);
  await waitFor("the timed-out task's child to be killed", () => !processAlive(child));

  const pipelineId = await prunner.schedule("hang_pipeline");
  const timedOut = await prunner.completed(pipelineId);
  assertEquals(timedOut.lastError, "pipeline timed out after 2s");
  assertEquals(timedOut.tasks.map((task) => task.status), ["error", "done"]);
  const onError = await prunner.json<{ stdout: string }>(
    "GET",
    `/job/logs?id=${pipelineId}&task=on_error`,
  );
  assertEquals(onError.stdout, "pipeline timed out after 2s\n");

  const exclusive = await prunner.schedule("exclusive");
  await waitFor("the exclusive job to start", async () => (await prunner.job(exclusive)).start);
  const refused = await prunner.request("POST", "/pipelines/schedule", { pipeline: "exclusive" });
  assertEquals(refused.status, 400);
  await refused.body?.cancel();

  const running = await scrape(prunner.request);
  assertEquals(value(running, "prunner_jobs_running", { pipeline: "exclusive" }), 1);
  await Deno.writeTextFile(`${ws.root}/exclusive.go`, "");
  await prunner.completed(exclusive);

  const metrics = await scrape(prunner.request);
  const of = (name: string, labels: Record<string, string> = {}) => value(metrics, name, labels);
  for (const pipeline of ["ok", "failing", "flaky", "hang", "hang_pipeline", "exclusive"]) {
    assertEquals(of("prunner_jobs_scheduled_total", { pipeline }), 1, pipeline);
    assertEquals(of("prunner_job_start_latency_seconds_count", { pipeline }), 1, pipeline);
    assertEquals(of("prunner_jobs_running", { pipeline }), 0, pipeline);
  }
  assertEquals(of("prunner_jobs_finished_total", { pipeline: "ok", outcome: "done" }), 1);
  assertEquals(of("prunner_jobs_finished_total", { pipeline: "failing", outcome: "failed" }), 1);
  assertEquals(of("prunner_jobs_finished_total", { pipeline: "flaky", outcome: "done" }), 1);
  assertEquals(of("prunner_jobs_finished_total", { pipeline: "hang", outcome: "failed" }), 1);
  assertEquals(
    of("prunner_job_duration_seconds_count", { pipeline: "failing", outcome: "failed" }),
    1,
  );
  assertEquals(of("prunner_task_retries_total", { pipeline: "flaky" }), 1);
  assertEquals(
    of("prunner_task_duration_seconds_count", { pipeline: "flaky", result: "error" }),
    1,
  );
  assertEquals(of("prunner_task_duration_seconds_count", { pipeline: "flaky", result: "done" }), 1);
  assertEquals(of("prunner_task_timeouts_total", { pipeline: "hang", timeout: "task" }), 1);
  assertEquals(
    of("prunner_task_timeouts_total", { pipeline: "hang_pipeline", timeout: "pipeline" }),
    1,
  );
  assertEquals(
    of("prunner_jobs_refused_total", { pipeline: "exclusive", reason: "queue_disabled" }),
    1,
  );
  assertEquals(of("prunner_store_write_failures_total"), 0);
  assertEquals(of("prunner_executor_restarts_total"), 0);
  assert(of("process_resident_memory_bytes")! > 0, "process metrics");
});

Deno.test("cancel interrupts a retry delay; a restart during one goes on after it", async () => {
  await using ws = await workspace(PIPELINES);
  let id: string;
  {
    await using prunner = await startPrunner(ws);
    id = await prunner.schedule("patient");
    await waitFor("the retry delay", async () => {
      const task = (await prunner.job(id)).tasks[0] as { retryAt?: string };
      return task.retryAt !== undefined;
    });
    assertEquals(await prunner.stop("SIGINT"), 0, "shutdown does not wait out the delay");
    assertMatch(prunner.stderr(), /waits out a retry delay; it goes on after the restart/);
  }
  await using prunner = await startPrunner(ws);
  const done = await prunner.completed(id);
  const task = done.tasks[0] as { status: string; attempt?: number };
  assertEquals([done.errored, task.status, task.attempt], [false, "done", 2]);
  assertMatch(prunner.stderr(), /goes on: it was waiting out a retry delay/);

  await Deno.remove(`${ws.root}/patient.marker`);
  const canceled = await prunner.schedule("patient");
  await waitFor("the retry delay", async () => {
    const task = (await prunner.job(canceled)).tasks[0] as { retryAt?: string };
    return task.retryAt !== undefined;
  });
  await prunner.request("POST", `/job/cancel?id=${canceled}`).then((r) => r.body?.cancel());
  const job = await prunner.job(canceled);
  assertEquals([job.completed, job.canceled, job.tasks[0].status], [true, true, "canceled"]);
});

async function scrape(
  request: (method: string, path: string) => Promise<Response>,
): Promise<ReturnType<typeof parseMetrics>> {
  const response = await request("GET", "/metrics");
  assertEquals(response.status, 200);
  assertMatch(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parseMetrics(await response.text());
}
