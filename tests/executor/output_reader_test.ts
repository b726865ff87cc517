import { assert, assertEquals } from "../assert.ts";
import { loadSessionSpawner } from "../../src/executor/posix_spawn.ts";
import { type LineProcess, startLine } from "../../src/executor/start_line.ts";
import { childEnv } from "../child_env.ts";
import { writesStdout } from "../proc.ts";
import { waitFor } from "../runner/support.ts";
import { withTempDir } from "../temp_dir.ts";

const spawner = Deno.build.os === "linux" ? await loadSessionSpawner() : null;
const decoder = new TextDecoder();

type Output = Exclude<LineProcess["stdout"], ReadableStream>;

async function textOf(source: LineProcess["stdout"]): Promise<string> {
  let text = "";
  for await (const chunk of source) text += decoder.decode(chunk, { stream: true });
  return text;
}

Deno.test({
  name: "output reader: a pipe nobody asks to read holds its writer back, then gives all",
  ignore: spawner === null,
  fn: () =>
    withTempDir("prunner-output-", async (dir) => {
      const bytes = 4 * 1024 * 1024;
      const process = await startLine(`head -c ${bytes} /dev/zero`, { cwd: dir, env: {} }, spawner);
      process.goAhead();
      let ended = false;
      process.status.then(() => ended = true);
      const stderr = textOf(process.stderr);
      const chunks = (process.stdout as Output)[Symbol.asyncIterator]();
      let read = (await chunks.next()).value!.length;
      // Nothing reads: `head` fills the pipe and waits in `write` for the reader.
      await waitFor("head to wait for the reader", () => writesStdout(process.pid));
      assert(!ended, "the writer ended while its pipe was not read");
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
        read += next.value.length;
      }
      assertEquals(read, bytes);
      assertEquals((await process.status).code, 0);
      assertEquals(await stderr, "");
    }),
});

Deno.test({
  name: "output reader: many processes' pipes are read at once, each whole and apart",
  ignore: spawner === null,
  fn: () =>
    withTempDir("prunner-output-", async (dir) => {
      const runs = await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const line = `sh -c 'echo out ${i}; sleep 0.0${
            i % 10
          }; echo err ${i} >&2; echo end ${i}'`;
          const process = await startLine(line, { cwd: dir, env: {} }, spawner);
          process.goAhead();
          const [stdout, stderr, status] = await Promise.all([
            textOf(process.stdout),
            textOf(process.stderr),
            process.status,
          ]);
          return { i, stdout, stderr, code: status.code };
        }),
      );
      for (const { i, stdout, stderr, code } of runs) {
        assertEquals({ stdout, stderr, code }, {
          stdout: `out ${i}\nend ${i}\n`,
          stderr: `err ${i}\n`,
          code: 0,
        });
      }
    }),
});

Deno.test({
  name: "output reader: once every pipe has ended, nothing keeps Deno from exiting",
  ignore: spawner === null,
  fn: () =>
    withTempDir("prunner-output-", async (dir) => {
      const module = new URL("../../src/executor/posix_spawn.ts", import.meta.url).href;
      await Deno.writeTextFile(
        `${dir}/script.ts`,
        `import { loadSessionSpawner } from ${JSON.stringify(module)};
const spawn = (await loadSessionSpawner())!;
const child = (await spawn({
  path: "/bin/sh", argv: ["sh", "-c", "read go; echo hi"], env: {}, cwd: "/", stdinPipe: true,
}))!;
const decoder = new TextDecoder();
const chunks = child.stdout[Symbol.asyncIterator]();
// The first read finds nothing (the shell waits for its go-ahead): the reader waits in epoll.
const first = chunks.next();
child.goAhead();
let text = decoder.decode((await first).value);
for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
  text += decoder.decode(next.value);
}
for await (const _ of child.stderr) text += "?";
await child.status;
console.log(text.trim());
`,
      );
      const script = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", `${dir}/script.ts`],
        env: childEnv({}),
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const timer = setTimeout(() => script.kill("SIGKILL"), 60_000);
      const { code, stdout, stderr } = await script.output();
      clearTimeout(timer);
      assertEquals(decoder.decode(stderr), "");
      assertEquals({ code, stdout: decoder.decode(stdout) }, { code: 0, stdout: "hi\n" });
    }),
});
