import { assert, assertEquals, assertMatch } from "../assert.ts";
import { postgresMissing, startPostgres, type TestPostgres } from "../postgres.ts";
import { connect } from "../../src/store/pg/sql.ts";
import { createPgLogStore } from "../../src/store/pg/log_store.ts";
import type { LogStream } from "../../src/store/types.ts";
import { logPath } from "../../src/store/logs.ts";
import { tempDir } from "../store/support.ts";
import { runCli, SECRET, startPrunner, waitFor, workspace } from "./support.ts";

const PIPELINES = `
pipelines:
  quick:
    tasks:
      hello:
        script:
          - echo hello {{ .name }}
      after:
        depends_on: [hello]
        script:
          - echo after >&2
  flaky:
    tasks:
      flaky:
        retries: 1
        script:
          - echo attempt $(ls once 2>/dev/null | wc -l)
          - test -f once || (touch once && exit 1)
`;

/** Waits (at most 30 s) for the file `name` in the task's directory. */
const waitForFile = (name: string) =>
  `for i in $(seq 600); do [ -f ${name} ] && break; sleep 0.05; done`;

/** Tasks that write a line, wait for a file, write another, wait again. */
const STEPS = `
pipelines:
  steps:
    tasks:
      steps:
        script:
          - echo before
          - ${waitForFile("go")}
          - echo after
          - ${waitForFile("end")}
`;

/** Reads task output from the database as another node does, with a spool directory of its own. */
async function databaseReader(url: string) {
  const dir = await tempDir();
  const sql = connect(url, { max: 1 });
  const other = createPgLogStore(sql, dir.path);
  return {
    /** The task's stdout in the database; `null` while it cannot be read. */
    async stdout(id: string, task: string): Promise<string | null> {
      try {
        const output = await other.open(id, task, "stdout");
        return output === null ? "" : await new Response(output).text();
      } catch {
        return null;
      }
    },
    async [Symbol.asyncDispose]() {
      await sql.end();
      await dir[Symbol.asyncDispose]();
    },
  };
}

if (postgresMissing !== null) {
  console.warn(`PostgreSQL end-to-end tests skipped: ${postgresMissing}`);
}

/** A test with its own PostgreSQL server and database (`url`); skipped where there is none. */
function pgTest(name: string, fn: (url: string, server: TestPostgres) => Promise<void>): void {
  Deno.test({
    name,
    ignore: postgresMissing !== null,
    async fn() {
      await using server = await startPostgres();
      await fn(await server.database(), server);
    },
  });
}

/** Reads a task attempt's output from the database, or `null` when it has none there. */
type OutputReader = (
  id: string,
  task: string,
  stream: LogStream,
  attempt?: number,
) => Promise<string | null>;

/** Calls `fn` with a reader of task output at `url` that has no spool files, as another node. */
async function withDatabaseOutput(url: string, fn: (read: OutputReader) => Promise<void>) {
  await using dir = await tempDir();
  const sql = connect(url, { max: 1 });
  try {
    const logs = createPgLogStore(sql, dir.path);
    await fn(async (id, task, stream, attempt) => {
      const output = await logs.open(id, task, stream, attempt);
      return output === null ? null : await new Response(output).text();
    });
  } finally {
    await sql.end();
  }
}

pgTest(
  "with --database-url, jobs run, are kept in PostgreSQL and survive a restart",
  async (url) => {
    await using ws = await workspace(PIPELINES);
    let id: string;
    {
      await using prunner = await startPrunner(ws, ["--database-url", url]);
      id = await prunner.schedule("quick", { name: "pg" });
      const job = await prunner.completed(id);
      assertEquals([job.errored, job.tasks.map((t) => t.status)], [false, ["done", "done"]]);
      assertMatch(prunner.stderr(), /Jobs are kept in the PostgreSQL database/);
      // Another node, with no spool files, reads the output from the database.
      await withDatabaseOutput(url, async (read) => {
        await waitFor(
          "the output to be in the database",
          async () =>
            await read(id, "hello", "stdout") === "hello pg\n" &&
            await read(id, "after", "stderr") === "after\n",
        );
        assertEquals(
          await read(id, "hello", "stderr"),
          null,
          "a stream without output has no chunks",
        );
      });
      assertEquals(await prunner.stop("SIGINT"), 0);
      assert(!prunner.stderr().includes("level=error"), prunner.stderr());
    }
    const names: string[] = [];
    for await (const entry of Deno.readDir(ws.data)) names.push(entry.name);
    assert(!names.includes("jobs.kv"), `no Deno KV store in the data directory: ${names}`);

    await using prunner = await startPrunner(ws, ["--database-url", url]);
    const job = await prunner.job(id);
    assertEquals([job.completed, job.errored], [true, false]);
    const logs = await prunner.json<{ stdout: string }>("GET", `/job/logs?id=${id}&task=hello`);
    assertEquals(logs.stdout, "hello pg\n");
    const listed = await prunner.json<{ jobs: { id: string }[] }>("GET", "/pipelines/jobs");
    assertEquals(listed.jobs.map((j) => j.id), [id]);
  },
);

pgTest(
  "a second prunner with a live node's name is refused with a message saying why",
  async (url) => {
    await using first = await workspace(PIPELINES);
    await using second = await workspace(PIPELINES);
    const args = ["--database-url", url, "--node-name", "web-1", "--heartbeat-timeout", "3s"];
    await using running = await startPrunner(first, args);
    const refused = await runCli(
      [
        "--data",
        second.data,
        "--path",
        second.pipelines,
        "--address",
        "127.0.0.1:0",
        "--env-files",
        "",
        ...args,
      ],
      { PRUNNER_JWT_SECRET: SECRET },
      { cwd: second.root },
    );
    assert(refused.code !== 0, "the second prunner exited with an error");
    assertMatch(refused.stderr, /another node of the cluster is named web-1/);
    const answer = await running.request("GET", "/pipelines/");
    await answer.body?.cancel();
    assertEquals(answer.status, 200, "the first one goes on");
  },
);

pgTest(
  "while the database is away, jobs are refused and health fails; both recover when it is back",
  async (url, server) => {
    await using ws = await workspace(PIPELINES);
    await using prunner = await startPrunner(ws, ["--database-url", url]);
    const schedule = async () => {
      const response = await prunner.request("POST", "/pipelines/schedule", {
        pipeline: "quick",
        variables: { name: "again" },
      });
      return { status: response.status, body: await response.json() };
    };
    const health = async () => {
      const response = await prunner.request("GET", "/health");
      return { status: response.status, body: await response.text() };
    };
    assertEquals((await health()).status, 200);

    await server.stop();
    const refused = await schedule();
    assertEquals(refused.status, 503, JSON.stringify(refused.body));
    assertMatch(
      refused.body.error,
      /^the PostgreSQL database postgres:\/\/prunner@\S+ did not answer: .*try again once/,
    );
    const failing = await health();
    assert(failing.status !== 200, failing.body);

    await server.start();
    const { jobId } = await waitFor("jobs to be accepted again", async () => {
      const answer = await schedule();
      return answer.status === 202 ? answer.body as { jobId: string } : null;
    });
    assertEquals((await prunner.completed(jobId)).errored, false);
    await waitFor("health to pass again", async () => (await health()).status === 200);
  },
);

pgTest(
  "with --database-url, the output of every attempt of a retried task reaches the database",
  async (url) => {
    await using ws = await workspace(PIPELINES);
    await using prunner = await startPrunner(ws, ["--database-url", url]);
    const id = await prunner.schedule("flaky");
    const job = await prunner.completed(id);
    assertEquals([job.errored, job.tasks[0].status], [false, "done"]);
    await withDatabaseOutput(url, async (read) => {
      await waitFor(
        "both attempts' output in the database",
        async () =>
          await read(id, "flaky", "stdout", 1) === "attempt 0\n" &&
          await read(id, "flaky", "stdout", 2) === "attempt 1\n",
      );
    });
  },
);

Deno.test({
  name: "with --database-url, a running task's output reaches the database, also across an outage",
  ignore: postgresMissing !== null,
  async fn() {
    await using server = await startPostgres();
    const url = await server.database();
    await using ws = await workspace(STEPS);
    await using prunner = await startPrunner(ws, ["--database-url", url]);
    await using reader = await databaseReader(url);
    const id = await prunner.schedule("steps");
    await waitFor(
      "the first line in the database",
      async () => await reader.stdout(id, "steps") === "before\n",
    );
    assertEquals((await prunner.job(id)).tasks[0].status, "running", "the task still runs");

    await server.stop();
    try {
      await Deno.writeTextFile(`${ws.root}/go`, "");
      await waitFor(
        "the task to write its second line",
        async () =>
          await Deno.readTextFile(logPath(`${ws.data}/logs`, id, "steps", "stdout"))
            .catch(() => "") === "before\nafter\n",
      );
      await waitFor(
        "the failed copy to be logged",
        () => prunner.stderr().includes("Task output cannot be copied into the database"),
      );
      // The task ends while the database is away: its last copy is retried later.
      await Deno.writeTextFile(`${ws.root}/end`, "");
    } finally {
      await server.start();
    }
    const job = await prunner.completed(id);
    assertEquals(job.tasks[0].status, "done");
    await waitFor(
      "all of the output in the database",
      async () => await reader.stdout(id, "steps") === "before\nafter\n",
    );
    await waitFor(
      "the recovery to be logged",
      () => prunner.stderr().includes("Task output is copied into the database again"),
    );
    const failures = prunner.stderr().split("Task output cannot be copied").length - 1;
    assertEquals(failures, 1, `one warning for the outage:\n${prunner.stderr()}`);
  },
});

Deno.test({
  name: "with --database-url, output a SIGKILL cut off is copied into the database on restart",
  ignore: postgresMissing !== null,
  async fn() {
    await using server = await startPostgres();
    const url = await server.database();
    await using ws = await workspace(STEPS);
    await using reader = await databaseReader(url);
    // The restarted node has the same name: it takes its earlier run's job over.
    const node = ["--database-url", url, "--node-name", "n1", "--heartbeat-timeout", "3s"];
    let id: string;
    {
      await using prunner = await startPrunner(ws, node);
      id = await prunner.schedule("steps");
      await waitFor(
        "the first line in the database",
        async () => await reader.stdout(id, "steps") === "before\n",
      );
      // With the database away, the second line is in the spool file only when prunner dies.
      await server.stop();
      await Deno.writeTextFile(`${ws.root}/go`, "");
      await waitFor(
        "the task to write its second line",
        async () =>
          await Deno.readTextFile(logPath(`${ws.data}/logs`, id, "steps", "stdout"))
            .catch(() => "") === "before\nafter\n",
      );
      await prunner.stop("SIGKILL");
      await Deno.writeTextFile(`${ws.root}/end`, "");
      await server.start();
    }
    assertEquals(
      await waitFor("the database to answer", () => reader.stdout(id, "steps")),
      "before\n",
      "the second line is not in the database yet",
    );

    await using prunner = await startPrunner(ws, node);
    const job = await prunner.job(id);
    assertEquals([job.completed, job.canceled], [true, true]);
    await waitFor(
      "all of the output in the database",
      async () => await reader.stdout(id, "steps") === "before\nafter\n",
    );
  },
});
