/**
 * prunner under faults, end to end: real prunner processes and the real HTTP API, the data
 * directory on a small tmpfs that fills up or turns read-only (mounted as root; where mounting is
 * impossible those tests say why and skip, and tests/runner/store_faults_test.ts covers the same
 * through an injected failing store), log files that never finish a write, a killed executor
 * process and hostile input.
 */
import { openDataDir } from "../../src/store/data_dir.ts";
import { jobListingEncoder } from "../../src/server/json.ts";
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { ext4Image, smallFileSystem } from "../fault_fs.ts";
import { processAlive } from "../runner/support.ts";
import { childWithArgument } from "../proc.ts";
import {
  type ApiJob,
  bearer,
  type PrunnerProcess,
  startPrunner,
  waitFor,
  workspace,
} from "./support.ts";

const LINUX = Deno.build.os === "linux";

const PIPELINES = `
pipelines:
  mark:
    tasks:
      mark:
        script:
          - touch {{ .dir }}/{{ .marker }}
  loud:
    tasks:
      print:
        script:
          - while [ ! -e {{ .gate }} ]; do sleep 0.02; done
          - head -c 700000 /dev/zero
          - echo finished >&2
  slow:
    tasks:
      wait:
        script:
          - echo $PPID > {{ .pidfile }}.parent; echo $$ > {{ .pidfile }}; exec sleep 300
  hang:
    tasks:
      hang:
        script:
          - echo started
          - mkfifo "$(dirname {{ .data }}/logs/*/hang.stdout.log)/hang.stderr.log"
          - echo $$ > {{ .pidfile }}; exec head -c 1000000 /dev/zero >&2
`;

/** A job as the API shows it, with the fields these tests read. */
interface Job extends ApiJob {
  tasks: (ApiJob["tasks"][number] & {
    droppedOutput?: Record<string, { bytes: number; reason: string }>;
  })[];
}

/** Sends a schedule request; returns the status and the JSON answer. */
async function schedule(
  prunner: PrunnerProcess,
  pipeline: string,
  variables: Record<string, unknown>,
): Promise<{ status: number; body: { jobId?: string; error?: string } }> {
  const response = await prunner.request("POST", "/pipelines/schedule", { pipeline, variables });
  return { status: response.status, body: await response.json() };
}

/** `GET /health` without a token. */
async function health(
  prunner: PrunnerProcess,
): Promise<{ status: number; body: Record<string, string> }> {
  const response = await fetch(`${prunner.url}/health`);
  return { status: response.status, body: await response.json() };
}

async function jobs(prunner: PrunnerProcess): Promise<Job[]> {
  return (await prunner.json<{ jobs: Job[] }>("GET", "/pipelines/jobs")).jobs;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** Waits until `path` holds a pid and returns it. */
function pidFrom(path: string): Promise<number> {
  return waitFor(`a pid in ${path}`, async () => {
    const text = await Deno.readTextFile(path).catch(() => "");
    return text.endsWith("\n") ? Number(text) : 0;
  });
}

/** Waits until the process is blocked writing to a pipe nobody reads. */
function blockedWriting(pid: number): Promise<unknown> {
  return waitFor(`process ${pid} to block writing its output`, async () => {
    const wchan = await Deno.readTextFile(`/proc/${pid}/wchan`).catch(() => "");
    return wchan.includes("pipe_write");
  });
}

/** Error values that lost their content in prunner's log (`error={}`, `"cause":{}`). */
const EMPTY_ERROR = /(error|cause)"?[=:]\s*"?\{\}/;

Deno.test({
  name: "faults: a full disk refuses new jobs (nothing of them runs), running jobs end, " +
    "and everything recovers once space is freed",
  ignore: !LINUX,
  async fn() {
    await using ws = await workspace(PIPELINES);
    await Deno.mkdir(ws.data);
    const fs = await smallFileSystem(ws.data, "3m");
    if (typeof fs === "string") {
      console.log(`skipped: ${fs} (tests/runner/store_faults_test.ts injects the fault instead)`);
      return;
    }
    await using _mount = fs;
    const before: Job[] = [];
    let stderr = "";
    {
      await using prunner = await startPrunner(ws);
      const loud = (await schedule(prunner, "loud", { gate: `${ws.root}/gate` })).body.jobId!;
      await waitFor("the loud job to start", async () => (await prunner.job(loud)).start);
      await fs.fill();

      // Fault 2: the task's log writes fail; it still ends, and the API says what was lost.
      await Deno.writeTextFile(`${ws.root}/gate`, "");
      const done = await prunner.completed(loud) as Job;
      assertEquals([done.errored, done.tasks[0].status, done.tasks[0].exitCode], [
        false,
        "done",
        0,
      ]);
      const dropped = done.tasks[0].droppedOutput?.stdout;
      assert(dropped && dropped.bytes > 0 && dropped.bytes <= 700_000, JSON.stringify(done));
      assertMatch(dropped.reason, /No space left on device/);

      // Fault 1: new jobs are refused with 507 naming the cause and the data directory.
      const refused: string[] = [];
      const accepted: string[] = [];
      for (let i = 0; refused.length === 0 && i < 20; i++) {
        const marker = `m${i}`;
        const answer = await schedule(prunner, "mark", {
          dir: ws.root,
          marker,
          pad: "x".repeat(300_000),
        });
        if (answer.status === 202) {
          accepted.push(marker);
          continue;
        }
        assertEquals(answer.status, 507, JSON.stringify(answer.body));
        assertMatch(
          answer.body.error ?? "",
          new RegExp(`^cannot store the job: .+ \\(data directory ${ws.data}\\)$`),
        );
        refused.push(marker);
      }
      assertEquals(refused.length, 1, "a full disk refuses jobs");
      const failing = await health(prunner);
      assertEquals(failing.status, 503);
      assert(failing.body.store !== "ok", JSON.stringify(failing.body));
      assertEquals(failing.body.executor, "ok");

      // Recovery without a restart.
      await fs.free();
      await waitFor("health to recover", async () => (await health(prunner)).status === 200);
      const after = (await schedule(prunner, "mark", { dir: ws.root, marker: "after" })).body
        .jobId!;
      await prunner.completed(after);
      assert(await exists(`${ws.root}/after`));
      for (const marker of refused) {
        assertEquals(await exists(`${ws.root}/${marker}`), false, `refused ${marker} ran`);
      }
      for (const job of await jobs(prunner)) await prunner.completed(job.id);
      before.push(...await jobs(prunner));
      assertEquals(await prunner.stop("SIGINT"), 0);
      stderr = prunner.stderr();
    }
    assert(!EMPTY_ERROR.test(stderr), stderr);
    await using prunner = await startPrunner(ws);
    assertEquals(await jobs(prunner), before, "the stored state equals what the API showed");
  },
});

Deno.test({
  name: "faults: a data directory turned read-only refuses jobs, keeps cancel and the stop " +
    "working, and says what it could not store",
  ignore: !LINUX,
  async fn() {
    await using ws = await workspace(PIPELINES);
    await Deno.mkdir(ws.data);
    const fs = await ext4Image(ws.data, 16);
    if (typeof fs === "string") {
      console.log(`skipped: ${fs} (tests/runner/store_faults_test.ts injects the fault instead)`);
      return;
    }
    await using _mount = fs;
    let id: string;
    {
      await using prunner = await startPrunner(ws);
      const pidfile = `${ws.root}/slow.pid`;
      id = (await schedule(prunner, "slow", { pidfile })).body.jobId!;
      const pid = await pidFrom(pidfile);
      await fs.forceReadOnly();
      const refused = await schedule(prunner, "mark", { dir: ws.root, marker: "ro" });
      assertEquals(refused.status, 507, JSON.stringify(refused.body));
      assertEquals((await schedule(prunner, "mark", { dir: ws.root, marker: "ro2" })).status, 507);
      assertMatch(
        refused.body.error ?? "",
        new RegExp(`^cannot store the job: .+ \\(data directory ${ws.data}\\)$`),
      );
      const failing = await health(prunner);
      assertEquals([failing.status, failing.body.executor], [503, "ok"]);
      assertMatch(failing.body.store, /Read-only file system/);
      // Cancel works on memory, which the API shows.
      assertEquals(await prunner.json("POST", `/job/cancel?id=${id}`), true);
      const shown = await prunner.completed(id);
      assertEquals([shown.canceled, shown.tasks[0].status], [true, "canceled"]);
      await waitFor("the task's process to end", () => !processAlive(pid));
      assertEquals(await prunner.stop("SIGINT"), 0);
      const log = prunner.stderr();
      assertMatch(log, new RegExp(`could not be stored before the stop.*${id}`));
      // Once per episode, however many requests and retries.
      assertEquals(log.match(/New jobs are refused/g)?.length, 1, log);
      assertEquals(log.match(/Cannot store job changes/g)?.length, 1, log);
      assert(!EMPTY_ERROR.test(prunner.stderr()), prunner.stderr());
    }
    // The operator repairs the file system; the job that was running is recorded as canceled.
    await fs.repair();
    await using prunner = await startPrunner(ws);
    const job = await prunner.job(id);
    assertEquals([job.completed, job.canceled, job.tasks[0].status], [true, true, "canceled"]);
    assertEquals(await exists(`${ws.root}/ro`), false);
    assertEquals(await exists(`${ws.root}/ro2`), false);
  },
});

for (const stop of ["cancel", "SIGTERM", "SIGINT twice"] as const) {
  Deno.test({
    name: `faults: ${stop} ends a task whose log write never finishes, and prunner exits`,
    ignore: !LINUX,
    async fn() {
      await using ws = await workspace(PIPELINES);
      await using prunner = await startPrunner(ws);
      const pidfile = `${ws.root}/hang.pid`;
      const id = (await schedule(prunner, "hang", { data: ws.data, pidfile })).body.jobId!;
      const pid = await pidFrom(pidfile);
      await blockedWriting(pid);
      if (stop === "cancel") {
        assertEquals(await prunner.json("POST", `/job/cancel?id=${id}`), true);
        const job = await prunner.completed(id) as Job;
        assertEquals([job.canceled, job.tasks[0].status], [true, "canceled"]);
        assertMatch(job.tasks[0].droppedOutput?.stderr?.reason ?? "", /did not finish within/);
        await waitFor("the task's process to end", () => !processAlive(pid));
        assertEquals(await prunner.stop("SIGINT"), 0);
      } else if (stop === "SIGTERM") {
        assertEquals(await prunner.stop("SIGTERM"), 0);
      } else {
        prunner.child.kill("SIGINT");
        await waitFor("the first SIGINT", () => prunner.stderr().includes("SIGINT: waiting"));
        assertEquals(await prunner.stop("SIGINT"), 0);
      }
      assertEquals(processAlive(pid), false);
    },
  });
}

Deno.test({
  name:
    "faults: a killed task guard is replaced, running tasks carry on, and SIGKILL still ends them",
  ignore: !LINUX,
  async fn() {
    await using ws = await workspace(PIPELINES);
    await using prunner = await startPrunner(ws);
    const pidfile = `${ws.root}/slow.pid`;
    const id = (await schedule(prunner, "slow", { pidfile })).body.jobId!;
    const pid = await pidFrom(pidfile);
    // The task was started from prunner's own process.
    assertEquals(Number(await Deno.readTextFile(`${pidfile}.parent`)), prunner.child.pid);
    const isGuard = (argument: string) => argument.endsWith("guard_process.ts");
    const guard = await waitFor("the guard", () => childWithArgument(prunner.child.pid, isGuard));
    Deno.kill(guard, "SIGKILL");
    // Healthy once a new guard has answered, which it reads after what it guards (a guard that
    // ended this young is replaced by the health check at the latest).
    await waitFor("prunner to be healthy", async () => (await health(prunner)).status === 200);
    const next = await childWithArgument(prunner.child.pid, isGuard);
    assert(next !== null && next !== guard, "no new guard");
    assert(processAlive(pid), "the task was stopped with the guard");
    assertEquals((await prunner.job(id)).tasks[0].status, "running");
    assertMatch(prunner.stderr(), /task guard process \(pid \d+\) ended unexpectedly/);
    await prunner.stop("SIGKILL");
    await waitFor("the task's process to end", () => !processAlive(pid));
  },
});

Deno.test({
  name: "faults: hostile variables are refused; a record that cannot become JSON breaks nothing",
  ignore: !LINUX,
  async fn() {
    await using ws = await workspace(PIPELINES);
    // Records as an older version could have written them: one too deep to become JSON again,
    // one that is not JSON at all; and one good job.
    const created = Date.now();
    const deep = "11111111-1111-4111-8111-111111111111";
    const damaged = "22222222-2222-4222-8222-222222222222";
    const good = "33333333-3333-4333-8333-333333333333";
    {
      const data = await openDataDir(ws.data, { listing: jobListingEncoder });
      const record = (id: string, variables: string) =>
        `{"id":"${id}","pipeline":"mark","tasks":[],"completed":true,"canceled":false,` +
        `"errored":false,"created":${created},"start":null,"end":${created},"lastError":null,` +
        `"variables":${variables},"user":"old","queuePartition":null}`;
      const encoder = new TextEncoder();
      const bad = [
        [deep, record(deep, `{"deep":${"[".repeat(20_000)}${"]".repeat(20_000)}}`)],
        [damaged, record(damaged, "{").slice(0, 40)],
        [good, record(good, "null")],
      ];
      for (const [id, text] of bad) {
        await data.kv.atomic()
          .set(["jobs", created, id], encoder.encode(text))
          .set(["job_ids", id], [created, "mark"])
          .set(["by_pipeline", "mark", created, id], [true, created])
          .commit();
      }
      // Written by an older version: store format 1, without listing entries.
      await data.kv.set(["format"], 1);
      await data.close();
    }
    await using prunner = await startPrunner(ws);
    const listed = await jobs(prunner);
    assertEquals(listed.map((job) => job.id), [good]);
    const page = await prunner.json<{ jobs: Job[] }>("GET", "/pipelines/jobs?limit=10");
    assertEquals(page.jobs.map((job) => job.id), [good]);
    const detail = await prunner.request("GET", `/job/detail?id=${deep}`);
    assertEquals(detail.status, 500);
    assertMatch((await detail.json()).error, /cannot be turned into JSON/);
    const broken = await prunner.request("GET", `/job/detail?id=${damaged}`);
    assertEquals(broken.status, 500);
    assertMatch((await broken.json()).error, /is not valid JSON/);

    // 20,000 nested arrays: refused up front, naming the limit; nothing is stored.
    const hostile = await fetch(`${prunner.url}/pipelines/schedule`, {
      method: "POST",
      headers: { authorization: await bearer() },
      body: `{"pipeline":"mark","variables":{"deep":${"[".repeat(20_000)}${"]".repeat(20_000)}}}`,
    });
    assertEquals(hostile.status, 400);
    assertMatch((await hostile.json()).error, /at most 64 levels/);
    assertEquals((await jobs(prunner)).map((job) => job.id), [good]);
    assertEquals(await prunner.stop("SIGINT"), 0);
    assert(!EMPTY_ERROR.test(prunner.stderr()), prunner.stderr());
    assertMatch(prunner.stderr(), /skips a damaged record: cannot read job 2222/);
  },
});
