import { assert, assertEquals } from "../assert.ts";
import { loadSessionSpawner } from "../../src/executor/posix_spawn.ts";
import { type LineProcess, startLine } from "../../src/executor/start_line.ts";
import { readsStdin } from "../proc.ts";
import { waitFor } from "../runner/support.ts";
import { withTempDir } from "../temp_dir.ts";

const LINUX = Deno.build.os === "linux";
const spawner = LINUX ? await loadSessionSpawner() : null;

/** A line that prints its shell's pid, process group and session (from `/proc`). */
const IDS_LINE = "echo $$ $(cut -d' ' -f5,6 /proc/$$/stat)";

const decoder = new TextDecoder();

async function textOf(source: LineProcess["stdout"]): Promise<string> {
  let text = "";
  for await (const chunk of source) text += decoder.decode(chunk, { stream: true });
  return text;
}

/** Runs `line` with the session spawner, giving the go-ahead; resolves with what it did. */
async function run(line: string, cwd: string, env: Record<string, string> = {}) {
  const process = await startLine(line, { cwd, env }, spawner);
  process.goAhead();
  const [stdout, stderr, status] = await Promise.all([
    textOf(process.stdout),
    textOf(process.stderr),
    process.status,
  ]);
  return { process, stdout, stderr, status };
}

Deno.test({
  name: "posix_spawn: available on Linux with glibc when FFI is granted",
  ignore: !LINUX,
  fn: () => assert(spawner !== null, "no session spawner: glibc or the FFI permission missing"),
});

Deno.test({
  name: "posix_spawn: a shell line leads its own process group and session",
  ignore: spawner === null,
  fn: () =>
    withTempDir("prunner-spawn-", async (dir) => {
      const { process, stdout, status } = await run(IDS_LINE, dir);
      assertEquals(status, { success: true, code: 0, signal: null });
      const [pid, group, session] = stdout.trim().split(" ");
      assertEquals([pid, group, session], [String(process.pid), pid, pid]);
    }),
});

Deno.test({
  name: "posix_spawn: a plain command is the started process itself and leads its session",
  ignore: spawner === null,
  fn: () =>
    withTempDir("prunner-spawn-", async (dir) => {
      await Deno.writeTextFile(`${dir}/ids.sh`, `${IDS_LINE}\n`);
      const { process, stdout } = await run(`/bin/sh ${dir}/ids.sh`, dir);
      const [pid, group, session] = stdout.trim().split(" ");
      assertEquals([pid, group, session], [String(process.pid), pid, pid]);
    }),
});

Deno.test({
  name: "posix_spawn: output, exit code, working directory and environment arrive as with sh",
  ignore: spawner === null,
  fn: () =>
    withTempDir("prunner-spawn-", async (dir) => {
      const { stdout, stderr, status } = await run(
        "echo out; echo err >&2; pwd; echo $GREETING; exit 3",
        dir,
        { GREETING: "hello" },
      );
      assertEquals(stdout, `out\n${await Deno.realPath(dir)}\nhello\n`);
      assertEquals(stderr, "err\n");
      assertEquals(status, { success: false, code: 3, signal: null });
    }),
});

Deno.test({
  name: "posix_spawn: signal dispositions, mask and stdin are those Deno.Command gives",
  ignore: spawner === null,
  fn: () =>
    withTempDir("prunner-spawn-", async (dir) => {
      const line = "grep -E '^Sig(Ign|Blk)' /proc/self/status; readlink /proc/self/fd/0";
      const { stdout } = await run(line, dir);
      const viaDeno = await startLine(line, { cwd: dir, env: {} }, null);
      viaDeno.goAhead();
      assertEquals(stdout, await textOf(viaDeno.stdout));
      // Deno ignores SIGPIPE (13); a task must not inherit that (`yes | head` would never end).
      const ignored = BigInt(`0x${stdout.match(/SigIgn:\t(\w+)/)![1]}`);
      assertEquals(ignored & (1n << 12n), 0n);
      assertEquals(stdout.match(/SigBlk:\t(\w+)/)![1], "0000000000000000");
      assert(stdout.endsWith("/dev/null\n"), stdout);
    }),
});

Deno.test({
  name: "posix_spawn: output of a background process is read until its pipe closes",
  ignore: spawner === null,
  fn: () =>
    withTempDir("prunner-spawn-", async (dir) => {
      // Nothing but the pipe keeps the event loop busy once the line's own process has ended.
      const { stdout, status } = await run("(sleep 0.3; echo late) & echo early", dir);
      assertEquals(status.code, 0);
      assertEquals(stdout, "early\nlate\n");
    }),
});

Deno.test({
  name: "posix_spawn: long output arrives whole through the reused buffer",
  ignore: spawner === null,
  fn: () =>
    withTempDir("prunner-spawn-", async (dir) => {
      const { stdout, status } = await run("seq 1 200000", dir);
      assertEquals(status.code, 0);
      const expected = Array.from({ length: 200000 }, (_, i) => `${i + 1}\n`).join("");
      assertEquals(stdout.length, expected.length);
      assert(stdout === expected, "the output differs from seq's");
    }),
});

Deno.test({
  name: "posix_spawn: a chunk kept in use is not overwritten by later reads",
  ignore: spawner === null,
  fn: () =>
    withTempDir("prunner-spawn-", async (dir) => {
      const process = await startLine(
        "printf first; sleep 0.2; seq 1 100000",
        { cwd: dir, env: {} },
        spawner,
      );
      process.goAhead();
      const output = process.stdout as Exclude<LineProcess["stdout"], ReadableStream>;
      let first: Uint8Array | null = null;
      let rest = 0;
      for await (const chunk of output) {
        if (first === null) {
          first = chunk;
          output.keepLastChunk();
        } else rest += chunk.length;
      }
      await textOf(process.stderr);
      assertEquals(decoder.decode(first!), "first");
      assert(rest > 500_000, `only ${rest} bytes after the first chunk`);
    }),
});

Deno.test({
  name: "posix_spawn: a process ended by a signal reports it",
  ignore: spawner === null,
  fn: () =>
    withTempDir("prunner-spawn-", async (dir) => {
      const process = await startLine("sleep 60", { cwd: dir, env: {} }, spawner);
      Deno.kill(-process.pid, "SIGTERM");
      assertEquals(await process.status, { success: false, code: 143, signal: "SIGTERM" });
    }),
});

Deno.test({
  name: "posix_spawn: a gated line runs only after its go-ahead, and not at all without",
  ignore: spawner === null,
  fn: () =>
    withTempDir("prunner-spawn-", async (dir) => {
      const held = await startLine("echo > ran", { cwd: dir, env: {} }, spawner);
      assert(held.gated);
      // The shell blocks reading its go-ahead from stdin: it has not run the line.
      await waitFor("the shell to wait for its go-ahead", () => readsStdin(held.pid));
      assertEquals(await Deno.stat(`${dir}/ran`).then(() => true, () => false), false);
      held.goAhead();
      assertEquals((await held.status).code, 0);
      assertEquals((await Deno.stat(`${dir}/ran`)).isFile, true);

      const never = await startLine("echo > never", { cwd: dir, env: {} }, spawner);
      Deno.kill(-never.pid, "SIGKILL");
      assertEquals((await never.status).signal, "SIGKILL");
      never.goAhead(); // After the end: nothing to write to, and no error.
      assertEquals(await Deno.stat(`${dir}/never`).then(() => true, () => false), false);
    }),
});

Deno.test({
  name: "posix_spawn: a program missing from the PATH is left to Deno.Command, which says so",
  ignore: spawner === null,
  fn: () =>
    withTempDir("prunner-spawn-", async (dir) => {
      const { stderr, status } = await run("no-such-program-here --flag", dir);
      assertEquals(status.code, 127);
      assert(stderr.includes("no-such-program-here"), stderr);
    }),
});

Deno.test({
  name: "posix_spawn: the task's own PATH finds its programs; relative paths start in cwd",
  ignore: spawner === null,
  fn: () =>
    withTempDir("prunner-spawn-", async (dir) => {
      await Deno.mkdir(`${dir}/bin`);
      await Deno.writeTextFile(`${dir}/bin/hello`, "#!/bin/sh\necho hello from $0\n");
      await Deno.chmod(`${dir}/bin/hello`, 0o755);
      const onPath = await run("hello", dir, { PATH: `${dir}/bin:/usr/bin:/bin` });
      assertEquals(onPath.stdout, `hello from ${dir}/bin/hello\n`);
      const relative = await run("./bin/hello", dir);
      assertEquals(relative.stdout, "hello from ./bin/hello\n");
    }),
});

Deno.test({
  name: "posix_spawn: starting many lines leaves no file descriptor open",
  ignore: spawner === null,
  fn: () =>
    withTempDir("prunner-spawn-", async (dir) => {
      const openFds = () => [...Deno.readDirSync("/proc/self/fd")].length;
      await run("/bin/true", dir); // Loads what the first spawn loads.
      const before = openFds();
      for (let i = 0; i < 50; i++) await run(i % 2 ? "/bin/true" : "echo $0", dir);
      assertEquals(openFds(), before);
    }),
});

Deno.test({
  name: "posix_spawn: before the start, the caller learns the process's stdout pipe",
  ignore: spawner === null,
  async fn() {
    let announced = 0;
    const process = await spawner!({
      path: "/bin/sleep",
      argv: ["sleep", "30"],
      env: {},
      cwd: "/",
      stdinPipe: false,
      beforeSpawn: (pipe) => announced = pipe,
    });
    try {
      assert(process !== null);
      assertEquals(await Deno.readLink(`/proc/${process.pid}/fd/1`), `pipe:[${announced}]`);
    } finally {
      if (process) {
        Deno.kill(process.pid, "SIGKILL");
        await process.status;
        for await (const _ of process.stdout);
        for await (const _ of process.stderr);
      }
    }
  },
});
