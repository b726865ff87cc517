import { assert, assertEquals, assertMatch } from "../assert.ts";
import { childEnv } from "../child_env.ts";
import { processAlive } from "../runner/support.ts";
import { startPrunner, waitFor, workspace } from "./support.ts";

const PIPELINES = `
pipelines:
  quick:
    tasks:
      hello:
        script:
          - echo hello {{ .name }}
  slow:
    concurrency: 1
    tasks:
      wait:
        script:
          - echo $$ > {{ .pidfile }}
          - sleep {{ .sleep }}
          - echo slept
`;

Deno.test("jobs and their logs survive a restart", async () => {
  await using ws = await workspace(PIPELINES);
  let id: string;
  {
    await using prunner = await startPrunner(ws);
    id = await prunner.schedule("quick", { name: "again" });
    await prunner.completed(id);
    assertEquals(await prunner.stop("SIGINT"), 0);
  }
  await using prunner = await startPrunner(ws);
  const job = await prunner.job(id);
  assertEquals([job.completed, job.canceled, job.errored], [true, false, false]);
  const logs = await prunner.json<{ stdout: string }>("GET", `/job/logs?id=${id}&task=hello`);
  assertEquals(logs.stdout, "hello again\n");
});

Deno.test("SIGINT waits for the running job; the waiting one runs after the restart", async () => {
  await using ws = await workspace(PIPELINES);
  let running: string, waiting: string;
  {
    await using prunner = await startPrunner(ws);
    running = await prunner.schedule("slow", { sleep: 1, pidfile: "a.pid" });
    waiting = await prunner.schedule("slow", { sleep: 0, pidfile: "b.pid" });
    await waitFor("the first job to start", async () => (await prunner.job(running)).start);
    const stopped = prunner.stop("SIGINT");
    await waitFor("schedules to be refused", async () => {
      const response = await prunner.request("POST", "/pipelines/schedule", { pipeline: "quick" });
      await response.body?.cancel();
      return response.status === 503;
    });
    assertEquals(await stopped, 0);
  }
  await using prunner = await startPrunner(ws);
  const first = await prunner.job(running);
  assertEquals([first.completed, first.canceled, first.tasks[0].status], [true, false, "done"]);
  const second = await prunner.completed(waiting);
  assertEquals([second.canceled, second.tasks[0].status], [false, "done"]);
});

Deno.test("SIGTERM kills running jobs and records them canceled", async () => {
  await using ws = await workspace(PIPELINES);
  let id: string;
  let pid: number;
  {
    await using prunner = await startPrunner(ws);
    id = await prunner.schedule("slow", { sleep: 300, pidfile: "t.pid" });
    pid = await waitFor("the task's pid", async () => {
      const text = await Deno.readTextFile(`${ws.root}/t.pid`).catch(() => "");
      return text.trim() ? Number(text) : 0;
    });
    assertEquals(await prunner.stop("SIGTERM"), 0);
  }
  assertEquals(processAlive(pid), false);
  await using prunner = await startPrunner(ws);
  const job = await prunner.job(id);
  assertEquals([job.completed, job.canceled, job.tasks[0].status], [true, true, "canceled"]);
});

Deno.test("after SIGKILL, running jobs are reported canceled and no acknowledged job is lost", async () => {
  await using ws = await workspace(PIPELINES);
  const ids: string[] = [];
  let running: string;
  {
    await using prunner = await startPrunner(ws);
    for (let i = 0; i < 20; i++) ids.push(await prunner.schedule("quick", { name: `n${i}` }));
    running = await prunner.schedule("slow", { sleep: 1, pidfile: "k.pid" });
    // Its task has run (a task runs only once its start is stored).
    await waitFor(
      "the slow job's task to run",
      () => Deno.stat(`${ws.root}/k.pid`).catch(() => null),
    );
    await prunner.stop("SIGKILL");
  }
  await using prunner = await startPrunner(ws);
  const job = await prunner.job(running);
  assertEquals([job.completed, job.canceled], [true, true]);
  assertMatch(job.lastError ?? "", /interrupted/);
  for (const id of ids) {
    const quick = await prunner.job(id);
    assertEquals(quick.pipeline, "quick");
  }
});

Deno.test("after SIGKILL, the tasks prunner was running are stopped too", async () => {
  await using ws = await workspace(PIPELINES);
  await using prunner = await startPrunner(ws);
  await prunner.schedule("slow", { sleep: 300, pidfile: "orphan.pid" });
  const pid = await waitFor("the task's pid", async () => {
    const text = await Deno.readTextFile(`${ws.root}/orphan.pid`).catch(() => "");
    return text.trim() ? Number(text) : 0;
  });
  await prunner.stop("SIGKILL");
  await waitFor("the task to end", () => !processAlive(pid));
});

Deno.test("a second prunner on the same data directory is refused", async () => {
  await using ws = await workspace(PIPELINES);
  await using first = await startPrunner(ws);
  const second = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../main.ts", import.meta.url).pathname,
      "--path",
      ws.pipelines,
      "--data",
      ws.data,
      "--env-files",
      "",
      "--address",
      "127.0.0.1:0",
      "--jwt-secret",
      "another-secret-of-enough-length",
    ],
    cwd: ws.root,
    env: childEnv(),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(second.success, false);
  const message = new TextDecoder().decode(second.stderr);
  assert(message.includes(ws.data), message);
  assert(message.includes(String(first.pid)), message);
});

Deno.test("retention removes old jobs and those of removed pipelines with their logs", async () => {
  await using ws = await workspace(`
pipelines:
  kept:
    retention_count: 2
    tasks:
      t:
        script: [echo kept]
  doomed:
    tasks:
      t:
        script: [echo doomed]
`);
  const kept: string[] = [];
  let doomed: string;
  {
    await using prunner = await startPrunner(ws);
    for (let i = 0; i < 4; i++) kept.push(await prunner.schedule("kept"));
    for (const id of kept) await prunner.completed(id);
    doomed = await prunner.schedule("doomed");
    await prunner.completed(doomed);
    await waitFor("retention by count", async () => {
      const response = await prunner.request("GET", `/job/detail?id=${kept[0]}`);
      await response.body?.cancel();
      return response.status === 404;
    });
    assertEquals((await prunner.request("GET", `/job/detail?id=${kept[1]}`)).status, 404);
    assertEquals((await prunner.job(kept[3])).completed, true);
    assertEquals(await prunner.stop("SIGINT"), 0);
  }
  await Deno.stat(`${ws.data}/logs/${doomed}`);
  await ws.writePipelines(`
pipelines:
  kept:
    retention_count: 2
    tasks:
      t:
        script: [echo kept]
`);
  await using prunner = await startPrunner(ws);
  await waitFor("the removed pipeline's job to go", async () => {
    const response = await prunner.request("GET", `/job/detail?id=${doomed}`);
    await response.body?.cancel();
    return response.status === 404;
  });
  const gone = await Deno.stat(`${ws.data}/logs/${doomed}`).then(() => false, () => true);
  assert(gone, "log files removed");
  assertEquals((await prunner.job(kept[2])).completed, true);
});

Deno.test("a second SIGINT cancels the jobs the first one waits for", async () => {
  await using ws = await workspace(PIPELINES);
  let id: string;
  {
    await using prunner = await startPrunner(ws);
    id = await prunner.schedule("slow", { sleep: 300, pidfile: "s.pid" });
    await waitFor(
      "the task to start",
      () => Deno.stat(`${ws.root}/s.pid`).then(() => true, () => false),
    );
    Deno.kill(prunner.pid, "SIGINT");
    await waitFor("the graceful shutdown", () => /waiting for running jobs/.test(prunner.stderr()));
    assertEquals(await prunner.stop("SIGINT"), 0);
  }
  await using prunner = await startPrunner(ws);
  const job = await prunner.job(id);
  assertEquals([job.completed, job.canceled, job.tasks[0].status], [true, true, "canceled"]);
});
