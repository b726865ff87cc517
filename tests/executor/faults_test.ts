/**
 * Faults of log files and executor processes: a full device, a file system that never answers,
 * an executor process killed under its tasks.
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { processAlive, waitFor } from "../runner/support.ts";
import type { TaskOutcome } from "../../src/engine/task_graph.ts";
import type { TaskSpec } from "../../src/executor/protocol.ts";
import { runTask } from "../../src/executor/run_task.ts";
import { startTaskExecutor } from "../../src/executor/task_executor.ts";
import { withTempDir } from "../temp_dir.ts";
import { smallFileSystem } from "../fault_fs.ts";

const LINUX = Deno.build.os === "linux";

function spec(dir: string, lines: string[], paths: Partial<TaskSpec> = {}): TaskSpec {
  return {
    lines,
    variables: {},
    env: {},
    cwd: dir,
    allowFailure: false,
    stdoutPath: `${dir}/logs/task.stdout.log`,
    stderrPath: `${dir}/logs/task.stderr.log`,
    killTimeoutMs: 500,
    ...paths,
  };
}

/** Waits until `path` holds a pid and a newline, and returns it. */
function pidFrom(path: string): Promise<number> {
  return waitFor(`a pid in ${path}`, async () => {
    const text = await Deno.readTextFile(path).catch(() => "");
    return text.endsWith("\n") ? Number(text) : 0;
  });
}

/** More output than the pipes between a task and its log file hold. */
const BLOCKING_OUTPUT = "echo $$ > task.pid; exec head -c 1000000 /dev/zero";

/** Waits until the process is blocked writing to a pipe nobody reads; returns its pid. */
function blockedWriting(pid: number): Promise<number> {
  return waitFor(`process ${pid} to block writing its output`, async () => {
    const wchan = await Deno.readTextFile(`/proc/${pid}/wchan`).catch(() => "");
    return wchan.includes("pipe_write") ? pid : 0;
  });
}

/** A named pipe: opening it for writing blocks until a reader opens it, as a hung mount would. */
async function fifo(path: string): Promise<void> {
  const { success } = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert(success, `mkfifo ${path} failed`);
}

for (const where of ["in-process", "executor process"] as const) {
  /** Runs the task in the calling process or in an executor process. */
  const run = async (
    taskSpec: TaskSpec,
    fn: (done: Promise<TaskOutcome>, kill: () => void) => Promise<void>,
  ): Promise<void> => {
    if (where === "in-process") {
      const task = runTask(taskSpec);
      return await fn(task.done, task.kill);
    }
    const executor = startTaskExecutor({ processes: 1 });
    try {
      const task = executor.run(taskSpec);
      await fn(task.done, task.kill);
    } finally {
      await executor.close();
    }
  };

  Deno.test({
    name: `log faults (${where}): a full disk drops the output, counted, and the task ends`,
    ignore: !LINUX,
    fn: () =>
      withTempDir("prunner-faults-", async (dir) => {
        const logs = `${dir}/logs`;
        await Deno.mkdir(logs);
        const mounted = await smallFileSystem(logs, "1m");
        await using _ = typeof mounted === "string" ? null : mounted;
        let stdoutPath = `${logs}/task.stdout.log`;
        if (typeof mounted === "string") {
          if (where !== "in-process") {
            console.log(`skipped: ${mounted} (the in-process case writes to /dev/full instead)`);
            return;
          }
          console.log(`${mounted}: writing to /dev/full instead`);
          stdoutPath = "/dev/full";
        } else {
          await mounted.fill();
        }
        // 2 MB is far more than a pipe holds: the task ends only if its output is read.
        await run(
          spec(dir, ["head -c 2000000 /dev/zero", "echo still here >&2", "exit 3"], {
            stdoutPath,
            stderrPath: `${dir}/task.stderr.log`,
          }),
          async (done) => {
            const outcome = await done;
            assertEquals([outcome.exitCode, outcome.error], [3, "exit status 3"]);
            assertEquals(outcome.dropped?.stdout?.bytes, 2_000_000);
            assertMatch(outcome.dropped?.stdout?.reason ?? "", /No space left on device/);
            assertEquals(outcome.dropped?.stderr, undefined);
            assertEquals(await Deno.readTextFile(`${dir}/task.stderr.log`), "still here\n");
          },
        );
      }),
  });

  Deno.test({
    name: `log faults (${where}): a log file that never opens does not keep a kill waiting`,
    ignore: !LINUX,
    fn: () =>
      withTempDir("prunner-faults-", async (dir) => {
        await Deno.mkdir(`${dir}/logs`);
        await fifo(`${dir}/logs/task.stdout.log`);
        await run(spec(dir, [BLOCKING_OUTPUT]), async (done, kill) => {
          const pid = await blockedWriting(await pidFrom(`${dir}/task.pid`));
          kill();
          const outcome = await done;
          assertEquals(outcome.killed, true);
          assertMatch(outcome.dropped?.stdout?.reason ?? "", /did not finish within 500 ms/);
          await waitFor("the task's process to end", () => !processAlive(pid));
        });
      }),
  });

  Deno.test({
    name: `log faults (${where}): a write that never finishes does not keep a kill waiting`,
    ignore: !LINUX,
    fn: () =>
      withTempDir("prunner-faults-", async (dir) => {
        await Deno.mkdir(`${dir}/logs`);
        const path = `${dir}/logs/task.stdout.log`;
        await fifo(path);
        // A reader that never reads: writes block once the pipe's buffer is full.
        const reader = new Deno.Command("sh", {
          args: ["-c", `exec 3<'${path}'; exec sleep 600`],
        }).spawn();
        try {
          await run(spec(dir, [BLOCKING_OUTPUT]), async (done, kill) => {
            const pid = await blockedWriting(await pidFrom(`${dir}/task.pid`));
            kill();
            const outcome = await done;
            assertEquals(outcome.killed, true);
            assertMatch(outcome.dropped?.stdout?.reason ?? "", /did not finish within 500 ms/);
            assert((outcome.dropped?.stdout?.bytes ?? 0) > 0);
            await waitFor("the task's process to end", () => !processAlive(pid));
          });
        } finally {
          reader.kill("SIGKILL");
          await reader.status;
        }
      }),
  });
}

Deno.test({
  name: "executor faults: a killed executor process leaves no task process behind",
  ignore: !LINUX,
  fn: () =>
    withTempDir("prunner-faults-", async (dir) => {
      const executor = startTaskExecutor({ processes: 1 });
      try {
        // The line's shell ignores SIGINT, so only the SIGKILL after the kill timeout ends it.
        const task = executor.run(
          spec(dir, [
            "echo $PPID > executor.pid; trap '' INT; sleep 60 & echo $! > sleep.pid; wait",
          ]),
        );
        const sleeper = await pidFrom(`${dir}/sleep.pid`);
        const executorPid = await pidFrom(`${dir}/executor.pid`);
        Deno.kill(executorPid, "SIGKILL");
        const outcome = await task.done;
        assertMatch(
          outcome.error ?? "",
          /^the task executor process \(pid \d+\) ended unexpectedly: signal: killed$/,
        );
        await waitFor("the task's background process to end", () => !processAlive(sleeper));
        const next = executor.run(spec(dir, ["echo next"], { stdoutPath: `${dir}/next.log` }));
        assertEquals(await next.done, {
          exitCode: 0,
          error: null,
          killed: false,
          logged: ["stdout"],
        });
        assertEquals(await Deno.readTextFile(`${dir}/next.log`), "next\n");
        assertEquals(await executor.check(10_000), null);
      } finally {
        await executor.close();
      }
    }),
});

Deno.test({
  name: "executor faults: check answers null for a live process and names a closed executor",
  ignore: !LINUX,
  fn: async () => {
    const executor = startTaskExecutor({ processes: 1 });
    assertEquals(await executor.check(30_000), null);
    await executor.close();
    assertEquals(await executor.check(30_000), "the task executor is stopped");
  },
});

Deno.test({
  name: "executor faults: a line waits for prunner to know its group, then runs as sh -c would",
  ignore: !LINUX,
  fn: () =>
    withTempDir("prunner-faults-", async (dir) => {
      // stdin is /dev/null (cat ends at once), no positional parameters, no helper variables.
      const outcome = await runTask(
        spec(dir, ['cat; echo "$# $0 ${__l-none}"; exit 4']),
        { started: (pid) => Deno.writeTextFileSync(`${dir}/group`, `${pid}`) },
      ).done;
      assertEquals(outcome, {
        exitCode: 4,
        error: "exit status 4",
        killed: false,
        logged: ["stdout"],
      });
      assertEquals(await Deno.readTextFile(`${dir}/logs/task.stdout.log`), "0 sh none\n");
      assert(Number(await Deno.readTextFile(`${dir}/group`)) > 0);
    }),
});
