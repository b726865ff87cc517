import { createJob } from "../../src/engine/create_job.ts";
import { JobCompletedError, JobNotFoundError, QueueFullError } from "../../src/errors.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../assert.ts";
import { pipeline } from "../engine/fixtures.ts";
import { inProcessExecutor } from "../../src/executor/task_executor.ts";
import { createRunner } from "../../src/runner/runner.ts";
import {
  completed,
  dirLogs,
  logText,
  memoryStore,
  processAlive,
  testRunner,
  waitFor,
} from "./support.ts";

const schedule = (pipeline: string, variables: Record<string, unknown> | null = null) => ({
  pipeline,
  variables,
  user: "tester",
  queuePartition: null,
});

Deno.test("script lines run in order with variables, env and TASK_NAME", async () => {
  await using t = await testRunner([pipeline({
    name: "hello",
    env: { LEVEL: "pipeline", KEEP: "pipe" },
    tasks: {
      greet: {
        script: ["echo hello {{ .name }}", "echo $LEVEL $KEEP $TASK_NAME", "pwd"],
        env: { LEVEL: "task" },
      },
    },
  })]);
  const job = await t.runner.schedule(schedule("hello", { name: "world" }));
  assertEquals(job.user, "tester");
  const done = await completed(t.runner, job.id);
  assertEquals(done.errored, false);
  assertEquals(done.canceled, false);
  assert(done.start !== null && done.end !== null);
  assertEquals(done.tasks[0].status, "done");
  const out = await logText(t.runner, job.id, "greet");
  assertEquals(out, `hello world\ntask pipe greet\n${await Deno.realPath(t.dir)}\n`);
});

Deno.test("a running task's output can be read before it ends", async () => {
  await using t = await testRunner([pipeline({
    name: "slow",
    tasks: { talk: { script: ["echo first", "echo oops >&2", "sleep 60"] } },
  })]);
  const job = await t.runner.schedule(schedule("slow"));
  await waitFor("the first line's output", async () => {
    const [out, err] = await Promise.all([
      logText(t.runner, job.id, "talk"),
      logText(t.runner, job.id, "talk", "stderr"),
    ]);
    return out === "first\n" && err === "oops\n";
  });
  assertEquals((await t.runner.getJob(job.id))?.completed, false);
  await t.runner.cancel(job.id);
});

Deno.test("a task's end is recorded once its output is stored", async () => {
  const stored = Promise.withResolvers<void>();
  const asked: string[] = [];
  await using t = await testRunner(
    [pipeline({ name: "out", tasks: { say: { script: ["echo said"] } } })],
    "process",
    (logs) => ({
      ...logs,
      ended(jobId, task) {
        asked.push(`${jobId} ${task}`);
        return stored.promise;
      },
    }),
  );
  const job = await t.runner.schedule(schedule("out"));
  await waitFor("the output to be handed to the store", () => asked.length === 1);
  const waiting = await t.runner.getJob(job.id);
  assertEquals([waiting?.tasks[0].status, waiting?.completed], ["running", false]);
  const askedAt = Date.now();
  stored.resolve();
  const done = await completed(t.runner, job.id);
  assertEquals(done.tasks[0].status, "done");
  assertEquals(asked, [`${job.id} say`]);
  // The end is the process's, not when the output was stored.
  assert(done.tasks[0].end! <= askedAt, "the task's end is when its process ended");
});

Deno.test("a task stops at its first failing line and reports the exit status", async () => {
  await using t = await testRunner([pipeline({
    name: "fail",
    tasks: {
      a: { script: ["echo one", "exit 42", "echo never"] },
      b: { script: ["echo b"], dependsOn: ["a"] },
    },
  })]);
  const job = await completed(t.runner, (await t.runner.schedule(schedule("fail"))).id);
  assertEquals(job.errored, true);
  assertEquals(job.lastError, 'task "a" failed: exit status 42');
  assertEquals(job.tasks.map((x) => [x.name, x.status, x.exitCode, x.errored, x.error]), [
    ["a", "error", 42, true, "exit status 42"],
    ["b", "skipped", 0, false, null],
  ]);
  assertEquals(await logText(t.runner, job.id, "a"), "one\n");
});

Deno.test("allow_failure runs the remaining lines and ends done with the failing code", async () => {
  await using t = await testRunner([pipeline({
    name: "tolerant",
    tasks: {
      a: { script: ["exit 3", "echo after"], allowFailure: true },
      b: { script: ["echo b"], dependsOn: ["a"] },
    },
  })]);
  const job = await completed(t.runner, (await t.runner.schedule(schedule("tolerant"))).id);
  assertEquals(job.errored, false);
  assertEquals(job.lastError, null);
  assertEquals(job.tasks.map((x) => [x.name, x.status, x.exitCode, x.errored]), [
    ["a", "done", 3, false],
    ["b", "done", 0, false],
  ]);
  assertEquals(await logText(t.runner, job.id, "a"), "after\n");
});

Deno.test("fail-fast kills the other running tasks", async () => {
  await using t = await testRunner([pipeline({
    name: "ff",
    tasks: { slow: { script: ["sleep 30"] }, bad: { script: ["sleep 0.2", "exit 1"] } },
  })]);
  const job = await completed(t.runner, (await t.runner.schedule(schedule("ff"))).id);
  assertEquals(job.errored, true);
  assertEquals(job.canceled, false);
  const byName = Object.fromEntries(job.tasks.map((x) => [x.name, x.status]));
  assertEquals(byName, { bad: "error", slow: "canceled" });
});

Deno.test("continue_running_tasks_after_failure lets running and independent tasks finish", async () => {
  await using t = await testRunner([pipeline({
    name: "cont",
    continueRunningTasksAfterFailure: true,
    tasks: {
      bad: { script: ["exit 1"] },
      slow: { script: ["sleep 0.5", "echo slow done"] },
      after_slow: { script: ["echo after"], dependsOn: ["slow"] },
      after_bad: { script: ["echo never"], dependsOn: ["bad"] },
    },
  })]);
  const job = await completed(t.runner, (await t.runner.schedule(schedule("cont"))).id);
  const byName = Object.fromEntries(job.tasks.map((x) => [x.name, x.status]));
  assertEquals(byName, { bad: "error", slow: "done", after_slow: "done", after_bad: "skipped" });
  assertEquals(job.errored, true);
});

Deno.test("a missing template variable fails the task with Go's message", async () => {
  await using t = await testRunner([pipeline({
    name: "tpl",
    tasks: { a: { script: ["echo {{ .missing }}"] } },
  })]);
  const job = await completed(t.runner, (await t.runner.schedule(schedule("tpl", {}))).id);
  assertEquals(job.tasks[0].status, "error");
  assertMatch(job.tasks[0].error ?? "", /map has no entry for key "missing"/);
});

Deno.test("cancel kills the task's whole process group, grandchildren included", async () => {
  await using t = await testRunner([pipeline({
    name: "tree",
    tasks: { a: { script: ["sh -c 'sleep 300 & echo $! > grandchild.pid; wait'"] } },
  })]);
  const job = await t.runner.schedule(schedule("tree"));
  const pidFile = `${t.dir}/grandchild.pid`;
  const pid = await waitFor("the grandchild's pid", async () => {
    const text = await Deno.readTextFile(pidFile).catch(() => "");
    return text.trim() ? Number(text) : 0;
  });
  assert(processAlive(pid), "grandchild runs");
  await t.runner.cancel(job.id);
  const done = await completed(t.runner, job.id);
  assertEquals(done.canceled, true);
  assertEquals(done.tasks[0].status, "canceled");
  await waitFor("the grandchild to die", () => !processAlive(pid));
});

Deno.test("cancel: unknown id, completed job, and canceling twice", async () => {
  await using t = await testRunner([pipeline({ name: "quick", tasks: { a: { script: [] } } })]);
  await assertRejects(() => t.runner.cancel(crypto.randomUUID()), JobNotFoundError);
  const job = await completed(t.runner, (await t.runner.schedule(schedule("quick"))).id);
  assertEquals(job.tasks[0].status, "done");
  await assertRejects(() => t.runner.cancel(job.id), JobCompletedError, "already completed");
});

Deno.test("canceling a waiting job frees its slot and the next one runs", async () => {
  await using t = await testRunner([pipeline({
    name: "serial",
    queueLimit: 1,
    tasks: { a: { script: ["sleep {{ .sleep }}"] } },
  })]);
  const first = await t.runner.schedule(schedule("serial", { sleep: 0.5 }));
  const waiting = await t.runner.schedule(schedule("serial", { sleep: 0 }));
  await assertRejects(() => t.runner.schedule(schedule("serial", { sleep: 0 })), QueueFullError);
  await t.runner.cancel(waiting.id);
  await t.runner.cancel(waiting.id);
  const canceled = await completed(t.runner, waiting.id);
  assertEquals(canceled.canceled, true);
  assertEquals(canceled.start, null);
  const next = await t.runner.schedule(schedule("serial", { sleep: 0 }));
  const done = await completed(t.runner, next.id);
  assertEquals(done.canceled, false);
  assert(done.start! >= (await completed(t.runner, first.id)).end!, "runs after the first");
});

Deno.test("replace with queue_limit 1 and 2", async (ctx) => {
  for (const limit of [1, 2]) {
    await ctx.step(`queue_limit ${limit}`, async () => {
      await using t = await testRunner([pipeline({
        name: "rep",
        queueStrategy: "replace",
        queueLimit: limit,
        tasks: { a: { script: ["sleep {{ .sleep }}"] } },
      })]);
      const running = await t.runner.schedule(schedule("rep", { sleep: 0.5 }));
      const ids = [];
      for (let i = 0; i < 4; i++) {
        ids.push((await t.runner.schedule(schedule("rep", { sleep: 0 }))).id);
      }
      const jobs = await Promise.all([running.id, ...ids].map((id) => completed(t.runner, id)));
      const ran = jobs.filter((j) => !j.canceled).map((j) => j.id);
      const expected = limit === 1 ? [running.id, ids[3]] : [running.id, ids[0], ids[3]];
      assertEquals(ran, expected);
      for (const job of jobs.filter((j) => j.canceled)) assertEquals(job.start, null);
    });
  }
});

Deno.test("partitioned_replace replaces within a partition only", async () => {
  await using t = await testRunner([pipeline({
    name: "part",
    queueStrategy: "partitioned_replace",
    queuePartitionLimit: 1,
    tasks: { a: { script: ["sleep {{ .sleep }}"] } },
  })]);
  const part = (queuePartition: string, sleep: number) => ({
    ...schedule("part", { sleep }),
    queuePartition,
  });
  const running = await t.runner.schedule(part("x", 0.5));
  const a1 = await t.runner.schedule(part("a", 0));
  const b1 = await t.runner.schedule(part("b", 0));
  const a2 = await t.runner.schedule(part("a", 0));
  const jobs = await Promise.all(
    [running, a1, b1, a2].map((j) => completed(t.runner, j.id)),
  );
  assertEquals(jobs.map((j) => j.canceled), [false, true, false, false]);
  assertEquals(jobs[3].queuePartition, "a");
  assert(jobs[2].start! <= jobs[3].start!, "b1 was scheduled first and starts first");
});

Deno.test("start_delay debounce: only the last of five rapid schedules runs", async () => {
  await using t = await testRunner([pipeline({
    name: "debounce",
    queueStrategy: "replace",
    queueLimit: 1,
    startDelayMs: 300,
    tasks: { a: { script: ["echo {{ .n }}"] } },
  })]);
  const ids = [];
  for (let n = 0; n < 5; n++) ids.push((await t.runner.schedule(schedule("debounce", { n }))).id);
  const jobs = await Promise.all(ids.map((id) => completed(t.runner, id)));
  assertEquals(jobs.map((j) => j.canceled), [true, true, true, true, false]);
  const last = jobs[4];
  assert(last.start! - last.created >= 300, "waited for the delay");
  assertEquals(await logText(t.runner, last.id, "a"), "4\n");
});

Deno.test("a delayed job starts as soon as a long job ends", async () => {
  await using t = await testRunner([pipeline({
    name: "delayed",
    startDelayMs: 100,
    tasks: { a: { script: ["sleep {{ .sleep }}"] } },
  })]);
  const long = await t.runner.schedule(schedule("delayed", { sleep: 1 }));
  await waitFor("the long job to start", async () => (await t.runner.getJob(long.id))?.start);
  const delayed = await t.runner.schedule(schedule("delayed", { sleep: 0 }));
  const [first, second] = await Promise.all([long, delayed].map((j) => completed(t.runner, j.id)));
  assertEquals(second.canceled, false);
  assert(second.start! >= first.end!, "started after the long job");
});

Deno.test("on_error runs with the failed task's details", async () => {
  await using t = await testRunner([pipeline({
    name: "notify",
    tasks: { build: { script: ["echo building", "echo broken >&2", "exit 7"] } },
    onError: {
      script: [
        "echo {{ .failedTaskName }} {{ .failedTaskExitCode }} {{ .failedTaskError }} {{ .who }}",
        "printf '%s|%s' '{{ .failedTaskStdout }}' '{{ .failedTaskStderr }}' >&2",
        "echo $TASK_NAME $HOOK",
      ],
      env: { HOOK: "hook-env" },
      timeoutMs: null,
    },
  })]);
  const job = await completed(
    t.runner,
    (await t.runner.schedule(schedule("notify", { who: "ops" }))).id,
  );
  assertEquals(job.tasks.map((x) => [x.name, x.status]), [["build", "error"], [
    "on_error",
    "done",
  ]]);
  assertEquals(job.lastError, 'task "build" failed: exit status 7');
  assertEquals(
    await logText(t.runner, job.id, "on_error"),
    "build 7 exit status 7 ops\non_error hook-env\n",
  );
  assertEquals(await logText(t.runner, job.id, "on_error", "stderr"), "building\n|broken\n");
});

Deno.test("on_error does not run for a canceled job", async () => {
  await using t = await testRunner([pipeline({
    name: "cancelme",
    tasks: { a: { script: ["sleep 30"] } },
    onError: { script: ["echo should not run"], env: {}, timeoutMs: null },
  })]);
  const job = await t.runner.schedule(schedule("cancelme"));
  await waitFor("the task to start", async () => (await t.runner.getJob(job.id))?.tasks[0].start);
  await t.runner.cancel(job.id);
  const done = await completed(t.runner, job.id);
  assertEquals(done.tasks.map((x) => x.name), ["a"]);
});

// In-process, so that this process's memory is the one that copies the output.
Deno.test("50 MB of task output leaves the runner's memory flat", async () => {
  await using t = await testRunner(
    [pipeline({
      name: "big",
      tasks: { a: { script: ["head -c 52428800 /dev/zero | tr '\\0' x"] } },
    })],
    "in-process",
  );
  const before = Deno.memoryUsage().rss;
  const job = await completed(t.runner, (await t.runner.schedule(schedule("big"))).id, 120_000);
  const growth = Deno.memoryUsage().rss - before;
  assertEquals(job.tasks[0].status, "done");
  const stat = await Deno.stat(`${t.dir}/${job.id}/a.stdout.log`);
  assertEquals(stat.size, 52_428_800);
  assert(growth < 32 * 1024 * 1024, `RSS grew by ${growth} bytes`);
});

Deno.test("graceful shutdown refuses new jobs and waits for running ones", async () => {
  await using t = await testRunner([pipeline({
    name: "wait",
    tasks: { a: { script: ["sleep 0.3", "echo finished"] } },
  })]);
  const job = await t.runner.schedule(schedule("wait"));
  await waitFor("the task to start", async () => (await t.runner.getJob(job.id))?.tasks[0].start);
  await t.runner.shutdown("graceful");
  assertEquals(t.store.saved.get(job.id)?.completed, true);
  assertEquals(t.store.saved.get(job.id)?.canceled, false);
  assertEquals(t.runner.listPipelines()[0].schedulable, false);
  await assertRejects(() => t.runner.schedule(schedule("wait")), Error, "shutting down");
});

Deno.test("a task that ignores SIGINT is killed with SIGKILL after the kill timeout", async () => {
  await using t = await testRunner([pipeline({
    name: "stubborn",
    tasks: {
      a: { script: ["trap '' INT; echo $$ > stubborn.pid; while true; do sleep 0.1; done"] },
    },
  })]);
  const job = await t.runner.schedule(schedule("stubborn"));
  const pid = await waitFor("the shell's pid", async () => {
    const text = await Deno.readTextFile(`${t.dir}/stubborn.pid`).catch(() => "");
    return text.trim() ? Number(text) : 0;
  });
  await t.runner.cancel(job.id);
  const done = await completed(t.runner, job.id);
  assertEquals(done.tasks[0].status, "canceled");
  assertEquals(processAlive(pid), false);
});

Deno.test("restore: waiting jobs run with today's tasks, running ones are canceled", async () => {
  const old = pipeline({ name: "evolving", tasks: { gone: { script: ["echo old"] } } });
  const waiting = createJob(old, {
    id: crypto.randomUUID(),
    now: Date.now(),
    variables: null,
    user: "",
    queuePartition: null,
  });
  const wasRunning = createJob(old, {
    id: crypto.randomUUID(),
    now: Date.now() - 1000,
    variables: null,
    user: "",
    queuePartition: null,
  });
  wasRunning.start = wasRunning.created;
  wasRunning.tasks[0].status = "running";
  await using t = await testRunner([pipeline({
    name: "evolving",
    tasks: { renamed: { script: ["echo new"] } },
  })]);
  await t.runner.restore([wasRunning, waiting]);
  const canceled = await t.runner.getJob(wasRunning.id);
  assertEquals([canceled?.canceled, canceled?.tasks[0].status], [true, "canceled"]);
  const done = await completed(t.runner, waiting.id);
  assertEquals(done.tasks.map((x) => [x.name, x.status]), [["renamed", "done"]]);
  assertEquals(await logText(t.runner, waiting.id, "renamed"), "new\n");
});

Deno.test("restore: the attempts a stop cut off go to the log store before restore resolves", async () => {
  const definition = pipeline({ name: "cut", tasks: { a: { script: ["true"] } } });
  const options = { now: Date.now(), variables: null, user: "", queuePartition: null };
  const wasRunning = createJob(definition, { ...options, id: crypto.randomUUID() });
  wasRunning.start = wasRunning.created;
  Object.assign(wasRunning.tasks[0], { status: "running", start: wasRunning.created, attempt: 2 });
  const waiting = createJob(definition, { ...options, id: crypto.randomUUID() });
  const dir = await Deno.makeTempDir({ prefix: "prunner-runner-" });
  const shipped: [string, string, number | undefined][] = [];
  const logs = {
    ...dirLogs(dir),
    async ended(jobId: string, task: string, attempt?: number) {
      // Later than any microtask: restore resolving first would show here.
      await new Promise((resolve) => setTimeout(resolve, 20));
      shipped.push([jobId, task, attempt]);
    },
  };
  const runner = createRunner({
    definitions: new Map([["cut", definition]]),
    store: memoryStore(),
    logs,
    executor: inProcessExecutor,
    cwd: dir,
  });
  try {
    await runner.restore([wasRunning, waiting]);
    assertEquals(shipped, [[wasRunning.id, "a", 2]], "only the started job's attempt");
    assertEquals((await completed(runner, waiting.id)).tasks[0].status, "done");
  } finally {
    await runner.shutdown("cancel");
    await Deno.remove(dir, { recursive: true });
  }
});
