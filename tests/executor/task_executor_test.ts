import { assertEquals, assertMatch } from "../assert.ts";
import { processAlive, waitFor } from "../runner/support.ts";
import { EXECUTOR_ARG, type TaskSpec } from "../../src/executor/protocol.ts";
import {
  executorCommand,
  startTaskExecutor,
  type TaskExecutorOptions,
} from "../../src/executor/task_executor.ts";
import { signalsDelivered } from "../proc.ts";
import { valueWithin } from "../../src/timeout.ts";
import { withTempDir } from "../temp_dir.ts";

const POSIX = Deno.build.os !== "windows";

function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  return withTempDir("prunner-executor-", fn);
}

function spec(dir: string, lines: string[], name = "task"): TaskSpec {
  return {
    lines,
    variables: { name: "world" },
    env: { GREETING: "hello" },
    cwd: dir,
    allowFailure: false,
    stdoutPath: `${dir}/logs/${name}.stdout.log`,
    stderrPath: `${dir}/logs/${name}.stderr.log`,
    killTimeoutMs: 2000,
  };
}

async function withExecutor(
  options: TaskExecutorOptions,
  fn: (executor: ReturnType<typeof startTaskExecutor>) => Promise<void>,
): Promise<void> {
  const executor = startTaskExecutor(options);
  try {
    await fn(executor);
  } finally {
    await executor.close();
  }
}

/** Waits until a task has written a pid (and a newline) to `path`, and returns it. */
function pidFrom(path: string): Promise<number> {
  return waitFor(`a pid in ${path}`, async () => {
    const text = await Deno.readTextFile(path).catch(() => "");
    return text.endsWith("\n") ? Number(text) : 0;
  });
}

/** The executor's command, recording each start of a process as a line in `starts`. */
function countingCommand(starts: string): { program: string; args: string[] } {
  const { program, args } = executorCommand();
  const quoted = [program, ...args].map((arg) => `'${arg}'`).join(" ");
  return { program: "sh", args: ["-c", `echo started >> '${starts}'; exec ${quoted}`] };
}

Deno.test({
  name: "task executor: runs a task in its process, with variables, env and both logs",
  ignore: !POSIX,
  fn: () =>
    withDir((dir) =>
      withExecutor({}, async (executor) => {
        const run = executor.run(
          spec(dir, ["echo {{ .name }} $GREETING", "echo oops >&2", "exit 3"]),
        );
        assertEquals(await run.done, {
          exitCode: 3,
          error: "exit status 3",
          killed: false,
          logged: ["stdout", "stderr"],
        });
        assertEquals(await Deno.readTextFile(`${dir}/logs/task.stdout.log`), "world hello\n");
        assertEquals(await Deno.readTextFile(`${dir}/logs/task.stderr.log`), "oops\n");
      })
    ),
});

Deno.test({
  name: "task executor: a held task's first line runs once ready settles; killed, never",
  ignore: !POSIX,
  fn: () =>
    withDir((dir) =>
      withExecutor({}, async (executor) => {
        const ready = Promise.withResolvers<void>();
        const held = executor.run(
          spec(dir, ["echo first > first", "echo second > second"]),
          ready.promise,
        );
        const killed = executor.run(
          spec(dir, ["echo ran > killed"], "killed"),
          new Promise(() => {}),
        );
        // Both are started and wait; an unheld task runs meanwhile.
        await executor.run(spec(dir, ["true"], "other")).done;
        killed.kill();
        assertEquals((await killed.done).killed, true);
        assertEquals(await Deno.stat(`${dir}/first`).then(() => true, () => false), false);
        ready.resolve();
        assertEquals((await held.done).exitCode, 0);
        assertEquals(await Deno.readTextFile(`${dir}/second`), "second\n");
        assertEquals(await Deno.stat(`${dir}/killed`).then(() => true, () => false), false);
      })
    ),
});

Deno.test({
  name: "task executor: kill stops the task's whole process group",
  ignore: !POSIX,
  fn: () =>
    withDir((dir) =>
      withExecutor({}, async (executor) => {
        const run = executor.run(spec(dir, ["sleep 60 & echo $! > child.pid; wait"]));
        const pid = await pidFrom(`${dir}/child.pid`);
        run.kill();
        const outcome = await run.done;
        assertEquals(outcome.killed, true);
        await waitFor("the background child to end", () => !processAlive(pid));
      })
    ),
});

Deno.test({
  name: "task executor: close kills the running tasks and ends the process",
  ignore: !POSIX,
  fn: () =>
    withDir(async (dir) => {
      const executor = startTaskExecutor({});
      const run = executor.run(spec(dir, ["echo $$ > task.pid; sleep 60"]));
      const pid = await pidFrom(`${dir}/task.pid`);
      await executor.close();
      assertEquals((await run.done).killed, true);
      await waitFor("the task to end", () => !processAlive(pid));
    }),
});

Deno.test({
  name: "task executor: SIGINT and SIGTERM do not stop the process; prunner decides",
  ignore: !POSIX,
  fn: () =>
    withDir((dir) =>
      withExecutor({}, async (executor) => {
        const parent = async (name: string) => {
          const run = executor.run(spec(dir, [`echo $PPID > ${name}`], name));
          assertEquals((await run.done).exitCode, 0);
          return Number(await Deno.readTextFile(`${dir}/${name}`));
        };
        const pid = await parent("first");
        Deno.kill(pid, "SIGTERM");
        Deno.kill(pid, "SIGINT");
        await waitFor("the signals to reach the process", () => signalsDelivered(pid));
        assertEquals(processAlive(pid), true);
        assertEquals(await parent("second"), pid, "the same process runs the next task");
      })
    ),
});

Deno.test({
  name: "task executor: a process that ends unexpectedly fails its tasks, saying so",
  ignore: !POSIX,
  fn: () => {
    const exits: string[] = [];
    return withDir((dir) =>
      withExecutor(
        {
          command: { program: "sh", args: ["-c", "read request; exit 7"] },
          onUnexpectedExit: (reason) => exits.push(reason),
        },
        async (executor) => {
          const outcome = await executor.run(spec(dir, ["true"])).done;
          assertEquals(outcome.exitCode, -1);
          assertEquals(outcome.killed, false);
          assertMatch(
            outcome.error ?? "",
            /^the task executor process \(pid \d+\) ended unexpectedly: exit status 7$/,
          );
          // The next task starts a new process (which fails the same way here).
          assertMatch((await executor.run(spec(dir, ["true"])).done).error ?? "", /exit status 7/);
          assertEquals(exits.length, 2, "the hook hears of each unexpected end");
          assertMatch(exits[1], /ended unexpectedly: exit status 7$/);
        },
      )
    );
  },
});

Deno.test({
  name: "task executor: a process that answers garbage is stopped and its tasks fail",
  ignore: !POSIX,
  fn: () =>
    withDir((dir) =>
      withExecutor(
        {
          // Answers garbage, then waits for its input to end, as the real process does.
          command: { program: "sh", args: ["-c", "read request; echo garbage; cat >/dev/null"] },
        },
        async (executor) => {
          const outcome = await executor.run(spec(dir, ["true"])).done;
          assertMatch(outcome.error ?? "", /task executor process \(pid \d+\) ended unexpectedly/);
        },
      )
    ),
});

Deno.test({
  name: "task executor: when no process can be started, tasks run in the calling process",
  ignore: !POSIX,
  fn: () =>
    withDir((dir) =>
      withExecutor(
        { command: { program: `${dir}/no-such-program`, args: [] } },
        async (executor) => {
          const outcome = await executor.run(spec(dir, ["echo {{ .name }}"])).done;
          assertEquals(outcome, { exitCode: 0, error: null, killed: false, logged: ["stdout"] });
          assertEquals(await Deno.readTextFile(`${dir}/logs/task.stdout.log`), "world\n");
        },
      )
    ),
});

Deno.test({
  name: "task executor: a second process starts only while the first is busy",
  ignore: !POSIX,
  fn: () =>
    withDir(async (dir) => {
      const starts = `${dir}/starts`;
      const count = async () => (await Deno.readTextFile(starts).catch(() => "")).length / 8;
      await withExecutor({ command: countingCommand(starts), processes: 2 }, async (executor) => {
        for (let i = 0; i < 3; i++) {
          assertEquals((await executor.run(spec(dir, ["true"])).done).exitCode, 0);
        }
        assertEquals(await count(), 1, "tasks one after another share one process");
        const runs = [1, 2, 3].map((i) => executor.run(spec(dir, ["sleep 0.2"], `t${i}`)));
        for (const run of runs) assertEquals((await run.done).exitCode, 0);
        assertEquals(await count(), 2, "concurrent tasks start at most the second process");
      });
    }),
});

Deno.test({
  name: "task executor: many concurrent tasks each get their own outcome",
  ignore: !POSIX,
  fn: () =>
    withDir((dir) =>
      withExecutor({}, async (executor) => {
        const runs = Array.from(
          { length: 40 },
          (_, i) => executor.run(spec(dir, [`exit ${i % 5}`], `t${i}`)),
        );
        const codes = (await Promise.all(runs.map((run) => run.done))).map((o) => o.exitCode);
        assertEquals(codes, Array.from({ length: 40 }, (_, i) => i % 5));
      })
    ),
});

Deno.test({
  name: "task executor: prunner's entry point with __task-executor serves as the process",
  ignore: !POSIX,
  fn: () =>
    withDir((dir) => {
      // What a compiled binary runs: itself with the executor argument.
      const main = new URL("../../main.ts", import.meta.url).pathname;
      const command = {
        program: Deno.execPath(),
        args: ["run", "--allow-all", "--quiet", main, EXECUTOR_ARG],
      };
      return withExecutor({ command }, async (executor) => {
        const outcome = await executor.run(spec(dir, ["echo {{ .name }} $GREETING"])).done;
        assertEquals(outcome, { exitCode: 0, error: null, killed: false, logged: ["stdout"] });
        assertEquals(await Deno.readTextFile(`${dir}/logs/task.stdout.log`), "world hello\n");
      });
    }),
});

Deno.test({
  name: "task executor: a process other than the first stops after being idle",
  ignore: !POSIX,
  fn: () =>
    withDir((dir) =>
      withExecutor({ processes: 2, idleStopMs: 300 }, async (executor) => {
        // Two tasks at once: the second runs in the second process. $PPID is the executor.
        const runs = ["a", "b"].map((name) =>
          executor.run(spec(dir, [`echo $PPID > ${name}.pid; sleep 0.5`], name))
        );
        for (const run of runs) assertEquals((await run.done).exitCode, 0);
        const first = Number(await Deno.readTextFile(`${dir}/a.pid`));
        const second = Number(await Deno.readTextFile(`${dir}/b.pid`));
        assertEquals(first === second, false, "the tasks ran in two processes");
        await waitFor("the idle second process to stop", () => !processAlive(second));
        assertEquals(processAlive(first), true, "the first process stays");
        const outcome = await executor.run(spec(dir, ["echo $PPID > c.pid"], "c")).done;
        assertEquals(outcome, { exitCode: 0, error: null, killed: false, logged: [] });
        assertEquals(Number(await Deno.readTextFile(`${dir}/c.pid`)), first);
      })
    ),
});

Deno.test({
  name: "task executor: requests read from a file (not a pipe) are served too",
  ignore: !POSIX,
  fn: () =>
    withDir(async (dir) => {
      // Its stdin is a pipe when prunner starts it; anything else is read the way Deno reads.
      await Deno.writeTextFile(`${dir}/requests`, '{"type":"ping","id":7}\n');
      const main = new URL("../../main.ts", import.meta.url).pathname;
      const child = new Deno.Command("sh", {
        args: [
          "-c",
          'exec "$@" < "$0"',
          `${dir}/requests`,
          Deno.execPath(),
          "run",
          "-A",
          "--quiet",
          main,
          EXECUTOR_ARG,
        ],
        stdout: "piped",
      }).spawn();
      const { stdout, success } = await child.output();
      assertEquals(success, true);
      assertEquals(new TextDecoder().decode(stdout), '{"type":"pong","id":7}\n');
    }),
});

Deno.test({
  name: "task executor: a held task killed before its go-ahead ends without running its line",
  ignore: !POSIX,
  fn: () =>
    withDir((dir) =>
      withExecutor({}, async (executor) => {
        // The go-ahead never comes, as for a job that could not be stored. A plain command
        // starts only once it may run; a shell line's shell starts at once and waits.
        const never = new Promise<void>(() => {});
        const plain = executor.run(spec(dir, ["touch plain"], "plain"), never);
        const shell = executor.run(spec(dir, ["touch shell && true"], "shell"), never);
        plain.kill();
        shell.kill();
        const ended = (run: { done: Promise<{ killed: boolean }> }) =>
          valueWithin(run.done.then((outcome) => outcome.killed), 30_000);
        assertEquals([await ended(plain), await ended(shell)], [true, true], "not ended as killed");
        // The executor handles requests in order: the next task's run follows both kills.
        assertEquals((await executor.run(spec(dir, ["true"], "next")).done).exitCode, 0);
        assertEquals(await Deno.stat(`${dir}/plain`).then(() => true, () => false), false);
        assertEquals(await Deno.stat(`${dir}/shell`).then(() => true, () => false), false);
      })
    ),
});

/**
 * A stand-in for the executor process: it answers the first four run requests with a wrong
 * result for task 1, one of an unknown type for task 2, a rejection of task 3 and a good result
 * for task 4, and a wrong result for no task it runs; then it notes kill requests in `kills`
 * and answers pings.
 */
const WRONG_RESULTS_EXECUTOR = String.raw`
read -r a; read -r b; read -r c; read -r d
echo '{"type":"done","id":1,"outcome":{"exitCode":"zero","error":null,"killed":false}}'
echo '{"type":"finished","id":2}'
echo '{"type":"rejected","id":3,"error":"a \"run\" message has an invalid spec.cwd"}'
echo '{"type":"pong","id":99,"extra":true}'
echo '{"type":"started","id":98,"pid":-1}'
echo '{"type":"done","id":4,"outcome":{"exitCode":0,"error":null,"killed":false}}'
while read -r line; do
  case "$line" in
    *'"kill"'*) echo "$line" >> kills ;;
    *'"ping"'*) printf '{"type":"pong","id":%s}\n' "$(echo "$line" | sed 's/.*"id":\([0-9]*\).*/\1/')" ;;
  esac
done`;

Deno.test({
  name: "task executor: a result it cannot use fails the task it names; other tasks carry on",
  ignore: !POSIX,
  fn: () =>
    withDir((dir) => {
      const command = { program: "sh", args: ["-c", `cd '${dir}' && ${WRONG_RESULTS_EXECUTOR}`] };
      return withExecutor({ command, processes: 1 }, async (executor) => {
        const runs = [1, 2, 3, 4].map((n) => executor.run(spec(dir, ["exit 0"], `task${n}`)));
        const [wrong, unknown, rejected, good] = await Promise.all(runs.map((run) => run.done));
        const unusable = "the task executor process sent what prunner cannot use: ";
        assertEquals(wrong, {
          exitCode: -1,
          error: unusable +
            'a "done" message has an invalid outcome.exitCode: expected an integer, got "zero"',
          killed: false,
        });
        assertEquals(
          unknown.error,
          unusable + 'a message has an unknown type "finished" (known: started, done, pong, ' +
            "rejected)",
        );
        assertEquals(rejected, {
          exitCode: -1,
          error: 'the task executor process could not use a request: a "run" message has an ' +
            "invalid spec.cwd",
          killed: false,
        });
        assertEquals(good, { exitCode: 0, error: null, killed: false });
        // Whatever is left of the tasks it could not follow is stopped.
        const kills = await waitFor("three kill requests", async () => {
          const text = await Deno.readTextFile(`${dir}/kills`).catch(() => "");
          return text.split("\n").length > 3 ? text : null;
        });
        assertEquals(kills.trim().split("\n").map((line) => JSON.parse(line).id), [1, 2, 3]);
        assertEquals(await executor.check(5000), null, "the process still answers");
      });
    }),
});

Deno.test({
  name: "task executor: a wrong result that names no task stops the process; its tasks fail",
  ignore: !POSIX,
  fn: () =>
    withDir((dir) =>
      withExecutor(
        {
          // Its one result has no id: it may have been the end of any task.
          command: {
            program: "sh",
            args: ["-c", `read request; echo '{"type":"done","outcome":{}}'; cat >/dev/null`],
          },
        },
        async (executor) => {
          const outcome = await executor.run(spec(dir, ["true"])).done;
          assertMatch(outcome.error ?? "", /task executor process \(pid \d+\) ended unexpectedly/);
        },
      )
    ),
});
