import { assertEquals } from "../assert.ts";
import { processAlive, waitFor } from "../runner/support.ts";
import { signalGroup, stopGroup } from "../../src/executor/process_group.ts";
import { withTempDir } from "../temp_dir.ts";

const LINUX = Deno.build.os === "linux";

/** Starts `script` with `sh -c` as the leader of its own session and process group. */
function leader(script: string, cwd: string): Deno.ChildProcess {
  return new Deno.Command("sh", {
    args: ["-c", script],
    cwd,
    stdin: "null",
    stdout: "null",
    detached: true,
  }).spawn();
}

/** Waits until `path` holds a line, and returns it without the newline. */
function lineOf(path: string): Promise<string> {
  return waitFor(`a line in ${path}`, async () => {
    const text = await Deno.readTextFile(path).catch(() => "");
    return text.endsWith("\n") ? text.slice(0, -1) : "";
  });
}

Deno.test({
  name: "process group: signalGroup signals the process itself while it leads no group yet",
  ignore: !LINUX,
  async fn() {
    // Not a group leader: the state of a `setsid` that has not made its session yet.
    const child = new Deno.Command("sleep", { args: ["60"], stdin: "null", stdout: "null" })
      .spawn();
    signalGroup(child.pid, "SIGKILL");
    assertEquals((await child.status).signal, "SIGKILL");
  },
});

Deno.test({
  name: "process group: stopGroup sends SIGINT first, then SIGKILL to a group that survives it",
  ignore: !LINUX,
  fn: () =>
    withTempDir("prunner-group-", async (dir) => {
      // Handles SIGINT by noting it and carrying on: only the SIGKILL can end it.
      const child = leader(
        "trap 'echo interrupted >> signals' INT; echo ready > ready; " +
          "while :; do sleep 0.01; done",
        dir,
      );
      await lineOf(`${dir}/ready`);
      stopGroup(child.pid, 300);
      assertEquals((await child.status).signal, "SIGKILL");
      assertEquals(await Deno.readTextFile(`${dir}/signals`), "interrupted\n");
    }),
});

Deno.test({
  name: "process group: stopGroup kills what is left of the group after its leader ended",
  ignore: !LINUX,
  fn: () =>
    withTempDir("prunner-group-", async (dir) => {
      // A background job of `sh -c` ignores SIGINT: it outlives the leader, which SIGINT ends.
      const child = leader("sleep 60 & echo $! > child.pid; wait", dir);
      const background = Number(await lineOf(`${dir}/child.pid`));
      stopGroup(child.pid, 1000);
      assertEquals((await child.status).signal, "SIGINT");
      await waitFor("the background job to be killed", () => !processAlive(background));
    }),
});
