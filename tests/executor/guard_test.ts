import {
  applyGuardMessage,
  type GuardState,
  guardTargets,
} from "../../src/executor/guard_process.ts";
import { guardCommand, startGuardedExecutor } from "../../src/executor/guarded_executor.ts";
import { loadSessionSpawner } from "../../src/executor/posix_spawn.ts";
import { processAlive, waitFor } from "../runner/support.ts";
import { childWithArgument } from "../proc.ts";
import { assert, assertEquals } from "../assert.ts";

const LINUX = Deno.build.os === "linux";
const spawner = LINUX ? await loadSessionSpawner() : null;

/** The inode of the pipe that is file descriptor `fd` of process `pid`. */
async function pipeOf(pid: number, fd: number): Promise<number> {
  const link = await Deno.readLink(`/proc/${pid}/fd/${fd}`);
  return Number(/^pipe:\[(\d+)\]$/.exec(link)![1]);
}

Deno.test("guard messages: announced, started, ended; pings answered; nonsense ignored", () => {
  const state: GuardState = new Map();
  assertEquals(applyGuardMessage(state, "s 1 4711"), null);
  assertEquals(state.get("1"), { pipe: 4711, pid: null });
  applyGuardMessage(state, "p 1 1234");
  assertEquals(state.get("1"), { pipe: 4711, pid: 1234 });
  applyGuardMessage(state, "p 2 99"); // Started without an announcement (Deno.Command).
  assertEquals(state.get("2"), { pipe: 0, pid: 99 });
  for (const nonsense of ["", "x 1 2", "p 1 -5", "p 1 abc", "s", "e"]) {
    assertEquals(applyGuardMessage(state, nonsense), null);
  }
  assertEquals(state.get("1"), { pipe: 4711, pid: 1234 });
  applyGuardMessage(state, "e 1");
  assertEquals([...state.keys()], ["2"]);
  assertEquals(applyGuardMessage(state, "ping 7"), "pong 7");
});

Deno.test({
  name: "guard targets: a process known only by its pipe is found in /proc",
  ignore: !LINUX,
  async fn() {
    // Not a group leader: found as a process. A leader (detached): found as its group.
    const plain = new Deno.Command("sleep", { args: ["30"], stdout: "piped" }).spawn();
    const leader = new Deno.Command("sleep", { args: ["30"], stdout: "piped", detached: true })
      .spawn();
    try {
      const state: GuardState = new Map([
        ["1", { pipe: await pipeOf(plain.pid, 1), pid: null }],
        ["2", { pipe: await pipeOf(leader.pid, 1), pid: null }],
        ["3", { pipe: 1, pid: 4242 }],
      ]);
      const targets = guardTargets(state);
      assertEquals(targets.processes, [plain.pid]);
      assertEquals(targets.groups.sort(), [4242, leader.pid].sort());
    } finally {
      for (const child of [plain, leader]) {
        child.kill("SIGKILL");
        await child.status;
        await child.stdout.cancel();
      }
    }
  },
});

Deno.test({
  name: "guard process: when its input ends it ends what it guards, announced ones too",
  ignore: spawner === null,
  async fn() {
    const started = new Deno.Command("sleep", { args: ["30"], stdout: "piped", detached: true })
      .spawn();
    // Announced only: prunner died before it learned the pid.
    const announced = new Deno.Command("sleep", { args: ["30"], stdout: "piped", detached: true })
      .spawn();
    const command = guardCommand(100);
    const guard = new Deno.Command(command.program, {
      args: [...command.args],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    try {
      const writer = guard.stdin.getWriter();
      const messages = `s 1 ${await pipeOf(started.pid, 1)}\np 1 ${started.pid}\n` +
        `s 2 ${await pipeOf(announced.pid, 1)}\nping 3\n`;
      await writer.write(new TextEncoder().encode(messages));
      const reader = guard.stdout.getReader();
      assertEquals(new TextDecoder().decode((await reader.read()).value), "pong 3\n");
      reader.releaseLock();
      await writer.close();
      assertEquals((await started.status).signal, "SIGINT");
      assertEquals((await announced.status).signal, "SIGINT");
      assertEquals((await guard.status).code, 0);
    } finally {
      for (const child of [started, announced]) {
        if (processAlive(child.pid)) child.kill("SIGKILL");
        await child.status;
        await child.stdout.cancel();
      }
      await guard.stdout.cancel().catch(() => {});
    }
  },
});

Deno.test({
  name: "guarded executor: tasks run in this process; a killed guard is replaced and told",
  ignore: spawner === null,
  async fn() {
    const dir = await Deno.makeTempDir();
    const restarts: string[] = [];
    const executor = (await startGuardedExecutor({
      killTimeoutMs: 100,
      onUnexpectedExit: (reason) => restarts.push(reason),
      restartAtOnceAfterMs: 0,
    }))!;
    try {
      assertEquals(await executor.check(5000), null);
      const run = executor.run({
        lines: [`echo $PPID > ${dir}/parent; echo $$ > ${dir}/pid; exec sleep 30`],
        variables: {},
        env: {},
        cwd: dir,
        allowFailure: false,
        stdoutPath: `${dir}/out.log`,
        stderrPath: `${dir}/err.log`,
        killTimeoutMs: 100,
      });
      const pid = await waitFor("the task's pid", async () => {
        const text = await Deno.readTextFile(`${dir}/pid`).catch(() => "");
        return text.trim() ? Number(text) : 0;
      });
      assertEquals(Number(await Deno.readTextFile(`${dir}/parent`)), Deno.pid);
      const isGuard = (argument: string) => argument.endsWith("guard_process.ts");
      const guard = (await childWithArgument(Deno.pid, isGuard))!;
      Deno.kill(guard, "SIGKILL");
      await waitFor("the restart", () => restarts.length === 1);
      // Replaced at once, without waiting for a line or a check.
      await waitFor("a new guard", async () => {
        const next = await childWithArgument(Deno.pid, isGuard);
        return next !== null && next !== guard;
      });
      assertEquals(await executor.check(5000), null);
      assert(processAlive(pid), "the task ended with its guard");
      run.kill();
      assertEquals((await run.done).killed, true);
    } finally {
      await executor.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "guarded executor: a guard that ends at once is started again only when asked",
  ignore: spawner === null,
  async fn() {
    let spawns = 0;
    const restarts: string[] = [];
    const executor = (await startGuardedExecutor({
      killTimeoutMs: 100,
      command: { program: "/bin/true", args: [] },
      spawner: (options) => {
        spawns++;
        return spawner!(options);
      },
      onUnexpectedExit: (reason) => restarts.push(reason),
    }))!;
    try {
      await waitFor("the guard's end", () => restarts.length === 1);
      // Not restarted from its own end (that would have started one in the same turn).
      assertEquals(spawns, 1);
      assert(/task guard process \(pid \d+\) ended unexpectedly/.test(restarts[0]), restarts[0]);
      // A health check starts one and reports what it finds.
      assert(await executor.check(5000) !== null);
      assertEquals(spawns, 2);
    } finally {
      await executor.close();
    }
  },
});
