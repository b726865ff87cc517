/**
 * Following a task that another node runs, through PostgreSQL: node A's log store spools and
 * ships the output, a follower on node B (a log store with a spool directory of its own) sends
 * each step as its ship's notice arrives, and `end` once the task ended.
 */
import { assertEquals } from "../assert.ts";
import { followLog, type TaskEnd } from "../../src/server/log_follow.ts";
import { jobLogDir } from "../../src/store/logs.ts";
import { createPgLogStore } from "../../src/store/pg/log_store.ts";
import { migrate } from "../../src/store/pg/schema.ts";
import { connect } from "../../src/store/pg/sql.ts";
import { postgresMissing, startPostgres } from "../postgres.ts";
import { tempDir } from "../store/support.ts";
import { readSse, type SseMessage } from "./sse.ts";

if (postgresMissing !== null) console.warn(`PostgreSQL follower test skipped: ${postgresMissing}`);

Deno.test({
  name: "a follower on another node sees each shipped step while the task runs, then end",
  ignore: postgresMissing !== null,
  async fn() {
    await using server = await startPostgres();
    await using dir = await tempDir();
    const url = await server.database();
    const [sqlA, sqlB] = [connect(url), connect(url)];
    await migrate(sqlA);
    const nodeA = createPgLogStore(sqlA, `${dir.path}/a`, { shipEveryMs: 60_000 });
    const nodeB = createPgLogStore(sqlB, `${dir.path}/b`);
    try {
      const jobId = crypto.randomUUID();
      const ended = Promise.withResolvers<TaskEnd>();
      const body = followLog({
        paths: (attempt) => ({
          stdout: nodeB.path(jobId, "build", "stdout", attempt),
          stderr: nodeB.path(jobId, "build", "stderr", attempt),
        }),
        watch: () => ({ ended: ended.promise, attempt: () => 1, node: () => "a" }),
        stored: {
          node: "b",
          read: (stream, attempt, offset, maxBytes) =>
            nodeB.read(jobId, "build", stream, attempt, offset, maxBytes),
          watch: (listener) => nodeB.watchOutput(jobId, listener),
        },
        // No re-read without a notice (nor after a keepalive) within the test: the notices
        // bring every step.
        storePollMs: 60_000,
        keepaliveMs: 60_000,
        settleMs: 100,
      });
      const sse = readSse(new Response(body));
      await Deno.mkdir(jobLogDir(`${dir.path}/a`, jobId), { recursive: true });
      nodeA.started(jobId, "build");
      const write = async (stream: "stdout" | "stderr", text: string) => {
        await Deno.writeTextFile(nodeA.path(jobId, "build", stream), text, { append: true });
        await nodeA.ship(jobId, "build", stream);
      };

      const seen: SseMessage[] = [];
      const until = async (stream: "stdout" | "stderr", text: string) => {
        await sse.collect((m) => {
          seen.push(m);
          return summarize(seen)[stream].endsWith(text);
        });
      };
      for (let step = 1; step <= 3; step++) {
        await write("stdout", `step ${step}\n`);
        await until("stdout", `step ${step}\n`);
      }
      await write("stderr", "a warning\n");
      await until("stderr", "a warning\n");
      // 600 kB: more than two chunks of the store, read 64 KiB at a time.
      const big = "x".repeat(999) + "\n";
      await write("stdout", big.repeat(600));
      await until("stdout", big.repeat(600));
      assertEquals(summarize(seen).end, null, "no end while the task runs");

      await Deno.writeTextFile(nodeA.path(jobId, "build", "stdout"), "last\n", { append: true });
      await nodeA.ended(jobId, "build");
      ended.resolve({ status: "done", exitCode: 0 });
      seen.push(...await sse.collect());
      assertEquals(seen.at(-1)?.event, "end");
      assertEquals(summarize(seen), {
        stdout: "step 1\nstep 2\nstep 3\n" + big.repeat(600) + "last\n",
        stderr: "a warning\n",
        end: { status: "done", exitCode: 0 },
      });
    } finally {
      await Promise.all([nodeA.stop(), nodeB.stop()]);
      await Promise.all([sqlA.end(), sqlB.end()]);
    }
  },
});

function summarize(messages: SseMessage[]) {
  const summary = { stdout: "", stderr: "", end: null as unknown };
  for (const message of messages) {
    if (message.event === "stdout" || message.event === "stderr") {
      summary[message.event] += JSON.parse(message.data).text;
    } else if (message.event === "end") {
      summary.end = JSON.parse(message.data);
    }
  }
  return summary;
}
