import { assertEquals } from "../assert.ts";
import { processAlive, waitFor } from "../runner/support.ts";
import type { TaskSpec } from "../../src/executor/protocol.ts";
import { runTask } from "../../src/executor/run_task.ts";
import { signalGroup } from "../../src/executor/process_group.ts";
import { isPlainCommand, setsidAvailable, shellCommand } from "../../src/executor/shell.ts";
import { withTempDir } from "../temp_dir.ts";

const LINUX = Deno.build.os === "linux";

/** A line that prints its shell's pid, process group and session (from `/proc`). */
const IDS_LINE = "echo $$ $(cut -d' ' -f5,6 /proc/$$/stat)";

/** A task of `lines` run in `dir`, logs there too. */
function spec(dir: string, lines: string[], env: Record<string, string> = {}): TaskSpec {
  return {
    lines,
    variables: {},
    env,
    cwd: dir,
    allowFailure: false,
    stdoutPath: `${dir}/out.log`,
    stderrPath: `${dir}/err.log`,
    killTimeoutMs: 2000,
  };
}

async function idsOf(useSetsid: boolean): Promise<string[]> {
  const { program, args, detached, gated } = shellCommand(IDS_LINE, useSetsid);
  const child = new Deno.Command(program, {
    args,
    detached,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  if (gated) await writer.write(new TextEncoder().encode("\n"));
  await writer.close();
  const { stdout, success } = await child.output();
  assertEquals(success, true);
  return new TextDecoder().decode(stdout).trim().split(" ");
}

Deno.test({
  name: "shell: through setsid, a line's shell leads its own process group and session",
  ignore: !LINUX || !setsidAvailable(),
  async fn() {
    const [pid, group, session] = await idsOf(true);
    assertEquals([group, session], [pid, pid]);
  },
});

Deno.test({
  name: "shell: with detached: true (no setsid), a line's shell leads its own group too",
  ignore: !LINUX,
  async fn() {
    const [pid, group, session] = await idsOf(false);
    assertEquals([group, session], [pid, pid]);
  },
});

Deno.test({
  name: "shell: a task line leads its own group; killing the group stops its background child",
  ignore: !LINUX,
  fn: () =>
    withTempDir("prunner-shell-", async (dir) => {
      const run = runTask(spec(dir, [`${IDS_LINE} > ids; sleep 60 & echo $! > child.pid; wait`]));
      const child = await waitFor("the background child's pid", async () => {
        const text = await Deno.readTextFile(`${dir}/child.pid`).catch(() => "");
        return text.endsWith("\n") ? Number(text) : 0;
      });
      const [pid, group, session] = (await Deno.readTextFile(`${dir}/ids`)).trim().split(" ");
      assertEquals([group, session], [pid, pid]);
      signalGroup(Number(pid), "SIGKILL");
      assertEquals((await run.done).exitCode, -1);
      await waitFor("the background child to end", () => !processAlive(child));
    }),
});

Deno.test({
  name: "shell: a task whose PATH lacks setsid's directory still runs",
  ignore: !LINUX,
  fn: () =>
    withTempDir("prunner-shell-", async (dir) => {
      await Deno.mkdir(`${dir}/bin`);
      await Deno.symlink("/bin/sh", `${dir}/bin/sh`);
      const run = runTask(spec(dir, ["echo $PATH"], { PATH: `${dir}/bin` }));
      assertEquals(await run.done, { exitCode: 0, error: null, killed: false, logged: ["stdout"] });
      assertEquals(await Deno.readTextFile(`${dir}/out.log`), `${dir}/bin\n`);
    }),
});

Deno.test("shell: plain commands are told apart from lines that need the shell", () => {
  const plain = ["/bin/true", "date +%s%N", "./flow job:run --id 42 --on=main", "  ls -la /tmp  "];
  const shell = [
    "echo hi", // builtins and reserved words run in the shell
    "true",
    "cd /tmp",
    "exit 3",
    "if",
    "FOO=1 cmd", // assignments, expansions, quotes, globs, operators, redirections, comments
    "cmd $HOME",
    "cmd ~/x",
    "cmd 'a b'",
    "cmd a\\ b",
    "cmd *.txt",
    "a && b",
    "a; b",
    "cmd > out",
    "cmd # note",
    "-x",
    "",
  ];
  assertEquals(plain.filter((line) => !isPlainCommand(line)), []);
  assertEquals(shell.filter(isPlainCommand), []);
});

/** Runs a one-line task in `dir`; resolves with its outcome, its pids and its output. */
async function runLine(dir: string, line: string) {
  const pids: number[] = [];
  const outcome = await runTask(spec(dir, [line]), { started: (pid) => pids.push(pid) }).done;
  const read = (path: string) => Deno.readTextFile(path).catch(() => "");
  return {
    outcome,
    pids,
    stdout: await read(`${dir}/out.log`),
    stderr: await read(`${dir}/err.log`),
  };
}

Deno.test({
  name: "shell: a plain command runs without a shell and leads its own group and session",
  ignore: !LINUX,
  fn: () =>
    withTempDir("prunner-shell-", async (dir) => {
      await Deno.writeTextFile(`${dir}/ids.sh`, `${IDS_LINE}\n`);
      const { outcome, pids, stdout } = await runLine(dir, `/bin/sh ${dir}/ids.sh`);
      assertEquals(outcome, { exitCode: 0, error: null, killed: false, logged: ["stdout"] });
      const [pid, group, session] = stdout.trim().split(" ");
      // The script's shell is the process the executor started: no shell in between.
      assertEquals([pid, group, session], [String(pids[0]), pid, pid]);
    }),
});

Deno.test({
  name: "shell: a plain command that does not exist fails with 127 and says so",
  ignore: !LINUX || !setsidAvailable(),
  fn: () =>
    withTempDir("prunner-shell-", async (dir) => {
      const { outcome, stderr } = await runLine(dir, "no-such-program-here --flag");
      assertEquals(outcome, {
        exitCode: 127,
        error: "exit status 127",
        killed: false,
        logged: ["stderr"],
      });
      assertEquals(
        stderr,
        "setsid: failed to execute no-such-program-here: No such file or directory\n",
      );
    }),
});

Deno.test({
  name: "shell: a task killed while its line's process is being started stops that process",
  ignore: !LINUX,
  fn: () =>
    withTempDir("prunner-shell-", async (dir) => {
      for (const line of ["sleep 60", "sleep 60; true"]) {
        const pids: number[] = [];
        const run = runTask({ ...spec(dir, [line]), killTimeoutMs: 100 }, {
          started: (pid) => pids.push(pid),
        });
        run.kill(); // Before the process exists: starting it is asynchronous.
        const pid = await waitFor(`${line} to start`, () => pids[0]);
        await waitFor(`${line} to end`, () => !processAlive(pid));
        assertEquals((await run.done).killed, true, line);
      }
    }),
});
