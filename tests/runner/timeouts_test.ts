/**
 * Timeouts and retries through the runner, with tasks run as real processes by the task
 * executor process.
 */
import type { Definitions } from "../../src/definition/types.ts";
import type { Job } from "../../src/engine/job.ts";
import type { RunnerEvent } from "../../src/runner/events.ts";
import { createRunner } from "../../src/runner/runner.ts";
import { startTaskExecutor } from "../../src/executor/task_executor.ts";
import { assert, assertEquals } from "../assert.ts";
import { pipeline } from "../engine/fixtures.ts";
import {
  completed,
  dirLogs,
  logText,
  memoryStore,
  processAlive,
  testRunner,
  waitFor,
} from "./support.ts";
import { withTempDir } from "../temp_dir.ts";

const HOUR = 3_600_000;

const schedule = (pipeline: string) => ({
  pipeline,
  variables: null,
  user: "tester",
  queuePartition: null,
});

/** Waits for a pid written to `path` by a task. */
function pidIn(path: string): Promise<number> {
  return waitFor(`a pid in ${path}`, async () => {
    const text = await Deno.readTextFile(path).catch(() => "");
    return text.trim() ? Number(text) : 0;
  });
}

Deno.test("a task over its timeout is killed with its process group and fails", async () => {
  await using t = await testRunner([
    pipeline({
      name: "hang",
      tasks: {
        stuck: { script: ["sh -c 'sleep 300 & echo $! > child.pid; wait'"], timeoutMs: 1500 },
        after: { script: ["echo must not run"], dependsOn: ["stuck"] },
      },
    }),
    pipeline({ name: "warm_up", tasks: { a: { script: ["true"] } } }),
  ]);
  // The limit counts from the task's start in the runner: with the executor process already
  // running, the task's child has long written its pid when the limit passes.
  await completed(t.runner, (await t.runner.schedule(schedule("warm_up"))).id);
  const timedOut: string[] = [];
  t.runner.events.subscribe((event) => {
    if (event.type === "task_timed_out") timedOut.push(`${event.task.name}:${event.by}`);
  });
  const job = await t.runner.schedule(schedule("hang"));
  const child = await pidIn(`${t.dir}/child.pid`);
  const done = await completed(t.runner, job.id);
  const [stuck, after] = done.tasks;
  assertEquals([stuck.status, stuck.errored, stuck.error], [
    "error",
    true,
    "timed out after 1.5s",
  ]);
  assertEquals(after.status, "skipped");
  assertEquals(done.lastError, 'task "stuck" failed: timed out after 1.5s');
  assertEquals(timedOut, ["stuck:task"]);
  await waitFor("the task's child to be killed", () => !processAlive(child));
});

Deno.test("a pipeline timeout ends the job, and on_error still runs", async () => {
  await using t = await testRunner([pipeline({
    name: "slow",
    timeoutMs: 400,
    tasks: {
      a: { script: ["sleep 300"] },
      b: { script: ["echo never"], dependsOn: ["a"] },
    },
    onError: {
      script: ["echo {{ .failedTaskName }}: {{ .failedTaskError }}"],
      env: {},
      timeoutMs: null,
    },
  })]);
  const job = await t.runner.schedule(schedule("slow"));
  const done = await completed(t.runner, job.id);
  assertEquals(done.lastError, "pipeline timed out after 400ms");
  assertEquals(done.tasks.map((task) => [task.name, task.status]), [
    ["a", "error"],
    ["b", "canceled"],
    ["on_error", "done"],
  ]);
  assertEquals(done.tasks[0].error, "pipeline timed out after 400ms");
  assertEquals(
    await logText(t.runner, job.id, "on_error"),
    "a: pipeline timed out after 400ms\n",
  );
});

Deno.test("a flaky task succeeds on its second attempt; each attempt's output is kept", async () => {
  await using t = await testRunner([pipeline({
    name: "flaky",
    tasks: {
      fetch: {
        script: [
          "echo attempt",
          "if [ -f marker ]; then echo second; else touch marker; echo first >&2; exit 3; fi",
        ],
        retries: 2,
      },
      use: { script: ["echo used"], dependsOn: ["fetch"] },
    },
  })]);
  const seen: string[] = [];
  t.runner.events.subscribe((event) => {
    if (event.type === "task_finished" && event.task.name === "fetch") {
      seen.push(`${event.task.attempt}:${event.task.status}`);
    }
  });
  const job = await t.runner.schedule(schedule("flaky"));
  const done = await completed(t.runner, job.id);
  assertEquals(done.errored, false);
  const fetch = done.tasks[0];
  assertEquals([fetch.status, fetch.attempt, fetch.error, fetch.exitCode], ["done", 2, null, 0]);
  assertEquals(seen, ["1:waiting", "2:done"]);
  assertEquals(await logText(t.runner, job.id, "fetch"), "attempt\nsecond\n", "the last attempt");
  assertEquals(await logText(t.runner, job.id, "fetch", "stderr"), "");
  assertEquals(await Deno.readTextFile(`${t.dir}/${job.id}/fetch.stderr.log`), "first\n");
  assertEquals(await logText(t.runner, job.id, "use"), "used\n");
});

Deno.test("a task that keeps failing fails the job after its last retry", async () => {
  await using t = await testRunner([pipeline({
    name: "broken",
    tasks: { a: { script: ["echo try >> tries", "exit 4"], retries: 2 } },
  })]);
  const done = await completed(t.runner, (await t.runner.schedule(schedule("broken"))).id);
  assertEquals([done.tasks[0].status, done.tasks[0].attempt], ["error", 3]);
  assertEquals(done.lastError, 'task "a" failed: exit status 4');
  assertEquals(await Deno.readTextFile(`${t.dir}/tries`), "try\ntry\ntry\n");
});

Deno.test("a timed-out attempt runs again with retry_on_timeout", async () => {
  await using t = await testRunner([
    pipeline({
      name: "hangs_once",
      tasks: {
        a: {
          script: ["if [ -f marker ]; then echo ok; else touch marker; sleep 300; fi"],
          timeoutMs: 1500,
          retries: 1,
          retryOnTimeout: true,
        },
      },
    }),
    pipeline({ name: "warm_up", tasks: { a: { script: ["true"] } } }),
  ]);
  // With the executor process running, the first attempt has long touched its marker when its
  // time is up.
  await completed(t.runner, (await t.runner.schedule(schedule("warm_up"))).id);
  const done = await completed(t.runner, (await t.runner.schedule(schedule("hangs_once"))).id);
  assertEquals([done.tasks[0].status, done.tasks[0].attempt], ["done", 2]);
  assertEquals(await logText(t.runner, done.id, "a"), "ok\n");
});

Deno.test("cancel interrupts a retry delay at once", async () => {
  await using t = await testRunner([pipeline({
    name: "patient",
    tasks: { a: { script: ["exit 1"], retries: 3, retryDelayMs: HOUR } },
  })]);
  const job = await t.runner.schedule(schedule("patient"));
  const waiting = await waitFor("the retry delay", async () => {
    const current = await t.runner.getJob(job.id);
    return current?.tasks[0].retryAt !== undefined ? current : null;
  });
  assert(waiting.tasks[0].retryAt! > Date.now() + HOUR / 2, "an hour's delay");
  await t.runner.cancel(job.id);
  const done = await completed(t.runner, job.id);
  assertEquals(done.canceled, true);
  assertEquals([done.tasks[0].status, done.tasks[0].attempt], ["canceled", 1]);
  await t.runner.idle();
});

/** Two runners in turn over one store, as prunner before and after a restart. */
async function restartRunner(
  definitions: Definitions,
  dir: string,
  store: ReturnType<typeof memoryStore>,
  now: () => number = Date.now,
) {
  const executor = startTaskExecutor();
  const runner = createRunner({ definitions, store, logs: dirLogs(dir), executor, cwd: dir, now });
  const unfinished = [...store.saved.values()].filter((job) => !job.completed);
  await runner.restore(unfinished.map((job) => structuredClone(job)));
  return {
    runner,
    async [Symbol.asyncDispose]() {
      await runner.shutdown("cancel");
      await executor.close();
    },
  };
}

Deno.test("a retry delay survives a restart: the job goes on after it", async () => {
  await withTempDir("prunner-retry-", async (dir) => {
    const definitions: Definitions = new Map([[
      "flaky",
      pipeline({
        name: "flaky",
        tasks: {
          a: {
            script: ["if [ -f marker ]; then echo second; else touch marker; exit 3; fi"],
            retries: 1,
            retryDelayMs: HOUR,
          },
          b: { script: ["echo b"], dependsOn: ["a"] },
        },
      }),
    ]]);
    const store = memoryStore();
    let id: string;
    {
      await using first = await restartRunner(definitions, dir, store);
      id = (await first.runner.schedule(schedule("flaky"))).id;
      await waitFor("the retry delay", async () => {
        return (await first.runner.getJob(id))?.tasks[0].retryAt !== undefined;
      });
      // A graceful shutdown does not wait out the hour.
      await first.runner.shutdown("graceful");
    }
    const parked = store.saved.get(id)!;
    assertEquals(parked.completed, false);
    assertEquals([parked.tasks[0].status, parked.tasks[0].attempt], ["waiting", 1]);

    // The next prunner starts once the hour has passed.
    const events: RunnerEvent["type"][] = [];
    await using second = await restartRunner(definitions, dir, store, () => Date.now() + HOUR);
    second.runner.events.subscribe((event) => events.push(event.type));
    const done = await completed(second.runner, id);
    assertEquals(done.errored, false);
    assertEquals(done.tasks.map((task) => [task.name, task.status, task.attempt]), [
      ["a", "done", 2],
      ["b", "done", 1],
    ]);
    assertEquals(await logText(second.runner, id, "a"), "second\n");
    assert(!events.includes("job_started"), "the job was not started again");
  });
});

Deno.test("restore: a retry wait whose pipeline lost the task is interrupted", async () => {
  await withTempDir("prunner-retry-", async (dir) => {
    const before = pipeline({
      name: "p",
      tasks: { a: { script: ["exit 1"], retries: 1, retryDelayMs: HOUR } },
    });
    const store = memoryStore();
    let id: string;
    {
      await using first = await restartRunner(new Map([["p", before]]), dir, store);
      id = (await first.runner.schedule(schedule("p"))).id;
      await waitFor("the retry delay", async () => {
        return (await first.runner.getJob(id))?.tasks[0].retryAt !== undefined;
      });
      // Shutting down with cancel sets the waiting job aside too: nothing of it runs.
      await first.runner.shutdown("cancel");
    }
    assertEquals(store.saved.get(id)!.completed, false);
    const after = pipeline({ name: "p", tasks: { renamed: { script: ["true"] } } });
    await using second = await restartRunner(new Map([["p", after]]), dir, store);
    const job: Job = (await second.runner.getJob(id))!;
    assertEquals(job.completed, true);
    assertEquals(job.lastError, 'interrupted: pipeline "p" no longer has the job\'s tasks');
  });
});
