/**
 * The runner over a store whose writes fail on demand (an injected fault; the end-to-end tests in
 * tests/app/faults_test.ts use a real full or read-only file system).
 */
import type { Definitions, PipelineDefinition } from "../../src/definition/types.ts";
import type { Job } from "../../src/engine/job.ts";
import { JobNotStoredError, VariablesTooDeepError } from "../../src/errors.ts";
import { startTaskExecutor } from "../../src/executor/task_executor.ts";
import { createRunner, MAX_VARIABLES_DEPTH, nestingDepth } from "../../src/runner/runner.ts";
import { StoreWriteError } from "../../src/store/errors.ts";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { pipeline } from "../engine/fixtures.ts";
import { processWithArgument, readsStdin } from "../proc.ts";
import { completed, dirLogs, memoryStore, processAlive, waitFor } from "./support.ts";

/** A memory store whose saves fail with `fault` while it is set, as a full disk's would. */
function faultyStore() {
  const store = memoryStore();
  const faulty = {
    ...store,
    fault: null as string | null,
    attempts: 0,
    /** While set, saves of started jobs wait for it, as saves on a slow disk would. */
    slowStarts: null as PromiseWithResolvers<void> | null,
    async save(job: Job) {
      faulty.attempts++;
      if (job.start !== null && faulty.slowStarts !== null) await faulty.slowStarts.promise;
      if (faulty.fault !== null) {
        return Promise.reject(new StoreWriteError(job.id, new Error(faulty.fault), "/data"));
      }
      return store.save(job);
    },
  };
  return faulty;
}

async function faultyRunner(pipelines: PipelineDefinition[]) {
  const dir = await Deno.makeTempDir({ prefix: "prunner-store-faults-" });
  const store = faultyStore();
  const executor = startTaskExecutor({ processes: 1 });
  const definitions: Definitions = new Map(pipelines.map((p) => [p.name, p]));
  const runner = createRunner({
    definitions,
    store,
    logs: dirLogs(dir),
    executor,
    cwd: dir,
    killTimeoutMs: 500,
  });
  return {
    runner,
    store,
    dir,
    async [Symbol.asyncDispose]() {
      store.fault = null;
      store.slowStarts?.resolve();
      await runner.shutdown("cancel");
      await runner.flush(10_000);
      await executor.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const request = (pipeline: string, variables: Record<string, unknown> | null = null) => ({
  pipeline,
  variables,
  user: "tester",
  queuePartition: null,
});

const MARK = pipeline({ name: "mark", tasks: { mark: { script: ["touch {{ .name }}"] } } });
const GATED = pipeline({
  name: "gated",
  tasks: { wait: { script: ["while [ ! -e {{ .gate }} ]; do sleep 0.02; done", "echo passed"] } },
});

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("store faults: a job that cannot be stored is refused and nothing of it runs", async () => {
  await using t = await faultyRunner([MARK]);
  t.store.fault = "database or disk is full";
  const error = await assertRejects(
    () => t.runner.schedule(request("mark", { name: "refused" })),
    JobNotStoredError,
  );
  assertEquals(
    error.message,
    "cannot store the job: database or disk is full (data directory /data)",
  );
  assertEquals(t.runner.listPipelines()[0].running, false, "the slot is given back");
  t.store.fault = null;
  // The next job gets the only slot (concurrency 1) and runs; the refused one never did.
  const job = await t.runner.schedule(request("mark", { name: "accepted" }));
  assertEquals((await completed(t.runner, job.id)).tasks[0].status, "done");
  assert(await exists(`${t.dir}/accepted`));
  assertEquals(await exists(`${t.dir}/refused`), false);
  assertEquals([...t.store.saved.keys()], [job.id]);
});

Deno.test("store faults: a job that starts at once is stored with its start in one commit", async () => {
  await using t = await faultyRunner([MARK]);
  const saves: Job[] = [];
  const save = t.store.save;
  t.store.save = (job: Job) => {
    saves.push(structuredClone(job));
    return save(job);
  };
  const job = await t.runner.schedule(request("mark", { name: "marked" }));
  const first = saves.find((saved) => saved.id === job.id)!;
  assert(first.start !== null, "the job's first commit lacks its start");
  assertEquals([first.tasks[0].status, first.tasks[0].start !== null], ["running", true]);
  assertEquals((await completed(t.runner, job.id)).tasks[0].status, "done");
});

const SHELL_LINE = "touch {{ .name }} && true";
const SHELL = pipeline({ name: "shell", tasks: { mark: { script: [SHELL_LINE] } } });

/** The shell of `SHELL_LINE` for `name`, once it is blocked reading its go-ahead. */
async function heldShell(name: string): Promise<number> {
  // The line's shell is started at once and blocks reading its go-ahead from stdin: until a byte
  // arrives there, the line cannot run (see GATED_LINE in src/executor/shell.ts).
  const shell = await waitFor(
    "the line's shell",
    () => processWithArgument(SHELL_LINE.replace("{{ .name }}", name)),
  );
  await waitFor("the shell to wait for its go-ahead", () => readsStdin(shell));
  return shell;
}

Deno.test("store faults: a shell line starts while its job is being stored, and runs once stored", async () => {
  await using t = await faultyRunner([SHELL]);
  const disk = Promise.withResolvers<void>();
  t.store.slowStarts = disk;
  const scheduling = t.runner.schedule(request("shell", { name: "marked" }));
  const shell = await heldShell("marked");
  assertEquals(await exists(`${t.dir}/marked`), false, "the line ran before its job was stored");
  assertEquals(t.store.saved.size, 0);
  assert(await readsStdin(shell), "the shell went on before its job was stored");
  disk.resolve();
  const job = await scheduling;
  assertEquals((await completed(t.runner, job.id)).tasks[0].status, "done");
  assert(await exists(`${t.dir}/marked`));
});

Deno.test("store faults: a later task's shell line waits for its go-ahead until its start is stored", async () => {
  const steps = pipeline({
    name: "steps",
    tasks: {
      first: { script: ["while [ ! -e {{ .gate }} ]; do sleep 0.02; done"] },
      mark: { script: [SHELL_LINE], dependsOn: ["first"] },
    },
  });
  await using t = await faultyRunner([steps]);
  const job = await t.runner.schedule(request("steps", { gate: "gate", name: "marked" }));
  const disk = Promise.withResolvers<void>();
  t.store.slowStarts = disk;
  await Deno.writeTextFile(`${t.dir}/gate`, "");
  const shell = await heldShell("marked");
  assertEquals(await exists(`${t.dir}/marked`), false, "the line ran before its start was stored");
  assertEquals(t.store.saved.get(job.id)?.tasks.find((task) => task.name === "mark")?.start, null);
  assert(await readsStdin(shell), "the shell went on before its start was stored");
  disk.resolve();
  assertEquals((await completed(t.runner, job.id)).tasks[1].status, "done");
  assert(await exists(`${t.dir}/marked`));
});

Deno.test("store faults: the held shell of a job that cannot be stored ends without running", async () => {
  await using t = await faultyRunner([SHELL]);
  const disk = Promise.withResolvers<void>();
  t.store.slowStarts = disk;
  t.store.fault = "database or disk is full";
  const scheduling = t.runner.schedule(request("shell", { name: "refused" }));
  const shell = await heldShell("refused");
  disk.resolve();
  await assertRejects(() => scheduling, JobNotStoredError);
  await waitFor("the held shell to end", () => !processAlive(shell));
  assertEquals(await exists(`${t.dir}/refused`), false, "the line of a refused job ran");
  assertEquals(t.store.saved.size, 0);
});

Deno.test("store faults: a job stored after shutdown began stays waiting, its held shell unrun", async () => {
  await using t = await faultyRunner([SHELL]);
  const disk = Promise.withResolvers<void>();
  t.store.slowStarts = disk;
  const scheduling = t.runner.schedule(request("shell", { name: "late" }));
  const shell = await heldShell("late");
  // A job whose first commit is in flight does not keep the stop waiting.
  await t.runner.shutdown("cancel");
  disk.resolve();
  const job = await scheduling;
  await waitFor("the held shell to end", () => !processAlive(shell));
  const stored = await waitFor("the job stored as waiting", () => {
    const saved = t.store.saved.get(job.id);
    return saved?.start === null ? saved : null;
  });
  assertEquals(stored.tasks[0].status, "waiting");
  assertEquals(stored.completed, false);
  assertEquals(await exists(`${t.dir}/late`), false, "the line ran after shutdown began");
});

Deno.test("store faults: a plain command of a job that cannot be stored is never started", async () => {
  await using t = await faultyRunner([MARK]);
  const disk = Promise.withResolvers<void>();
  t.store.slowStarts = disk;
  t.store.fault = "database or disk is full";
  const scheduling = t.runner.schedule(request("mark", { name: "refused" }));
  await waitFor("the job's commit to be in flight", () => t.store.attempts > 0);
  disk.resolve();
  await assertRejects(() => scheduling, JobNotStoredError);
  t.store.fault = null;
  // The executor handles its requests in order: once the next task has run, the refused one's
  // kill has been handled, and a command started before it would have run.
  const job = await t.runner.schedule(request("mark", { name: "accepted" }));
  assertEquals((await completed(t.runner, job.id)).tasks[0].status, "done");
  assertEquals(await exists(`${t.dir}/refused`), false, "the command of a refused job ran");
});

Deno.test("store faults: a refused replacement leaves the waiting job in its place", async () => {
  const replace = pipeline({
    ...GATED,
    name: "replace",
    queueLimit: 1,
    queueStrategy: "replace",
  });
  await using t = await faultyRunner([replace]);
  const running = await t.runner.schedule(request("replace", { gate: "gate1" }));
  const waiting = await t.runner.schedule(request("replace", { gate: "gate2" }));
  t.store.fault = "read-only file system";
  await assertRejects(
    () => t.runner.schedule(request("replace", { gate: "gate3" })),
    JobNotStoredError,
  );
  t.store.fault = null;
  await Deno.writeTextFile(`${t.dir}/gate1`, "");
  await Deno.writeTextFile(`${t.dir}/gate2`, "");
  assertEquals((await completed(t.runner, running.id)).canceled, false);
  const second = await completed(t.runner, waiting.id);
  assertEquals([second.canceled, second.tasks[0].status], [false, "done"]);
});

Deno.test("store faults: changes of running jobs are kept, retried and stored once possible", async () => {
  await using t = await faultyRunner([GATED]);
  const job = await t.runner.schedule(request("gated", { gate: "gate" }));
  await waitFor("the job to start", () => t.store.saved.get(job.id)?.start);
  t.store.fault = "No space left on device (os error 28)";
  await Deno.writeTextFile(`${t.dir}/gate`, "");
  const done = await completed(t.runner, job.id);
  assertEquals(done.tasks[0].status, "done");
  await waitFor("a failed save", () => t.runner.storeFailure());
  assertEquals(t.store.saved.get(job.id)?.completed, false, "the store missed the change");
  // The API shows memory, listing included.
  const listed: (Job | Uint8Array)[] = [];
  for await (const batch of t.runner.listJobs()) listed.push(...batch);
  assertEquals(listed.map((item) => item instanceof Uint8Array ? "stored" : item.completed), [
    true,
  ]);
  const attempts = t.store.attempts;
  await waitFor("a retry", () => t.store.attempts > attempts);
  t.store.fault = null;
  await waitFor("the retry to store the change", () => t.runner.storeFailure() === null);
  assertEquals(t.store.saved.get(job.id), await t.runner.getJob(job.id));
});

Deno.test("store faults: flush says which jobs' changes could not be stored", async () => {
  await using t = await faultyRunner([GATED]);
  const job = await t.runner.schedule(request("gated", { gate: "gate" }));
  t.store.fault = "I/O error";
  await Deno.writeTextFile(`${t.dir}/gate`, "");
  await completed(t.runner, job.id);
  assertEquals(await t.runner.flush(300), [job.id]);
  t.store.fault = null;
  assertEquals(await t.runner.flush(10_000), []);
  assertEquals(t.store.saved.get(job.id)?.completed, true);
});

Deno.test("store faults: variables nested deeper than the limit are refused first", async () => {
  await using t = await faultyRunner([MARK]);
  const nest = (depth: number) => {
    let value: unknown = "leaf";
    for (let i = 1; i < depth; i++) value = [value];
    return { name: "x", deep: value };
  };
  assertEquals(nestingDepth(nest(MAX_VARIABLES_DEPTH)), MAX_VARIABLES_DEPTH);
  // Far beyond what JSON.stringify can handle; checked without recursion.
  const hostile = nest(20_000);
  await assertRejects(
    () => t.runner.schedule(request("no-such-pipeline", hostile)),
    VariablesTooDeepError,
    `at most ${MAX_VARIABLES_DEPTH} levels`,
  );
  await assertRejects(
    () => t.runner.schedule(request("mark", nest(MAX_VARIABLES_DEPTH + 1))),
    VariablesTooDeepError,
  );
  const job = await t.runner.schedule(request("mark", nest(MAX_VARIABLES_DEPTH)));
  assertEquals((await completed(t.runner, job.id)).tasks[0].status, "done");
});
