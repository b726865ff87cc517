import { assertEquals, assertMatch } from "../assert.ts";
import { workspace } from "./support.ts";
import { childEnv } from "../child_env.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

async function runMain(args: string[], cwd: string) {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd,
    env: childEnv({ PRUNNER_JWT_SECRET: "startup-test-secret-0123456789" }),
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code, stderr: new TextDecoder().decode(stderr).trim() };
}

Deno.test("a bad flag exits with status 2 and one line naming it", async () => {
  await using ws = await workspace("pipelines: {}\n");
  const unknown = await runMain(["--bogus"], ws.root);
  assertEquals(unknown.code, 2);
  assertEquals(unknown.stderr.split("\n").length, 1, unknown.stderr);
  assertMatch(unknown.stderr, /--bogus/);
  const duration = await runMain(["--poll-interval", "soon"], ws.root);
  assertEquals(duration.code, 2);
  assertMatch(duration.stderr, /--poll-interval.*"soon"/);
});

Deno.test("invalid definitions stop startup with the file, line and field", async () => {
  await using ws = await workspace("pipelines:\n  p:\n    concurrency: 0\n    tasks: {}\n");
  const result = await runMain(
    ["--path", ws.pipelines, "--data", ws.data, "--env-files", "", "--address", "127.0.0.1:0"],
    ws.root,
  );
  assertEquals(result.code, 1);
  assertMatch(result.stderr, /pipelines\.yml:3: pipeline "p", field "concurrency"/);
});
