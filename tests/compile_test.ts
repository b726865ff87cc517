/**
 * scripts/compile.ts: its pieces, and prunner end to end as a compiled binary of this platform
 * and as `deno run` with exactly the binary's flags and version.
 */
import { fileURLToPath, pathToFileURL } from "node:url";
import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "./assert.ts";
import { startPrunner, type Workspace, workspace } from "./app/support.ts";
import {
  binaryName,
  build,
  COMPILE_FLAGS,
  CompileError,
  denortProblem,
  resolveTarget,
  resolveVersion,
  ROOT,
  RuntimeUnavailableError,
  TARGETS,
  writeChecksums,
  writeVersionImportMap,
} from "../scripts/compile.ts";
import { UI_ASSETS } from "../src/ui/assets.gen.ts";

/** A version no checkout has, so seeing it proves it was embedded. */
const TEST_VERSION = "9.8.7-compile-test";
const PIPELINES = `pipelines:
  hello:
    tasks:
      greet:
        script:
          - echo hello-from-prunner
          - echo to-stderr >&2
`;

/** This platform's binary, or why it cannot be built here. */
type Compiled = { binary: string; dir: string } | { skip: string } | { error: unknown };

async function compileCurrent(): Promise<Compiled> {
  let target;
  try {
    target = resolveTarget("current");
  } catch (error) {
    return { skip: (error as Error).message };
  }
  const dir = await Deno.makeTempDir({ prefix: "prunner-compile-test-" });
  try {
    const [binary] = await build({
      targets: [target],
      outDir: dir,
      version: TEST_VERSION,
      env: Deno.env.toObject(),
    });
    return { binary, dir };
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    return error instanceof RuntimeUnavailableError ? { skip: error.message } : { error };
  }
}

const compiled = await compileCurrent();
if ("skip" in compiled) console.log(`skipping the compiled binary test: ${compiled.skip}`);

Deno.test({
  name: "the compiled binary shows its embedded version, runs a job and stops on SIGINT",
  ignore: "skip" in compiled,
  async fn() {
    if ("error" in compiled) throw compiled.error;
    if (!("binary" in compiled)) return;
    try {
      const sums = await Deno.readTextFile(`${compiled.dir}/SHA256SUMS`);
      assertMatch(sums, new RegExp(`^[0-9a-f]{64}  prunner-${TEST_VERSION}-\\S+\\n$`));
      await endToEnd([compiled.binary]);
    } finally {
      await Deno.remove(compiled.dir, { recursive: true });
    }
  },
});

Deno.test("main.ts under deno run with the binary's flags and version runs a job", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prunner-compile-test-" });
  try {
    const importMap = await writeVersionImportMap(TEST_VERSION, dir);
    await endToEnd([
      Deno.execPath(),
      "run",
      ...COMPILE_FLAGS,
      "--no-prompt",
      "--config",
      fileURLToPath(new URL("deno.json", ROOT)),
      "--import-map",
      importMap,
      fileURLToPath(new URL("main.ts", ROOT)),
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * Runs `command version`, then serves a workspace with `command`, schedules a job over HTTP,
 * reads its logs and stops prunner with SIGINT.
 */
async function endToEnd(command: string[]): Promise<void> {
  await using ws = await workspace(PIPELINES);
  const version = await run(command, ["version"], ws);
  assert(version.success, `version failed:\n${version.output}`);
  assert(
    version.output.includes(TEST_VERSION),
    `version shows ${JSON.stringify(version.output)}, not ${TEST_VERSION}`,
  );

  await using prunner = await startPrunner(ws, [], command);
  const jobId = await prunner.schedule("hello");
  const job = await prunner.completed(jobId, 60_000);
  assertEquals([job.errored, job.canceled], [false, false], `job failed: ${job.lastError}`);
  const logs = await prunner.json<{ stdout: string; stderr: string }>(
    "GET",
    `/job/logs?id=${jobId}&task=greet`,
  );
  assert(logs.stdout.includes("hello-from-prunner"), `stdout: ${JSON.stringify(logs.stdout)}`);
  assert(logs.stderr.includes("to-stderr"), `stderr: ${JSON.stringify(logs.stderr)}`);
  for (const [path, name] of [["/ui/", "index.html"], ["/ui/app.js", "app.js"]]) {
    const response = await fetch(`${prunner.url}${path}`);
    assertEquals(response.status, 200, `GET ${path}`);
    assert((await response.text()) === UI_ASSETS[name].body, `${path} serves the embedded ${name}`);
  }
  if (Deno.build.os === "windows") {
    // Windows has no way to send another process a console Ctrl+C: end it outright.
    await prunner.stop("SIGKILL");
  } else {
    assertEquals(await prunner.stop("SIGINT"), 0, `exit code after SIGINT:\n${prunner.stderr()}`);
  }
}

async function run(
  command: string[],
  args: string[],
  ws: Workspace,
): Promise<{ success: boolean; output: string }> {
  const { success, stdout, stderr } = await new Deno.Command(command[0], {
    args: [...command.slice(1), ...args],
    cwd: ws.root,
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return { success, output: decoder.decode(stdout) + decoder.decode(stderr) };
}

Deno.test("resolveTarget accepts triples, os-arch names and current", () => {
  assertEquals(resolveTarget("aarch64-apple-darwin").name, "darwin-aarch64");
  assertEquals(resolveTarget("windows-x86_64").triple, "x86_64-pc-windows-msvc");
  if (TARGETS.some((t) => t.triple === Deno.build.target)) {
    assertEquals(resolveTarget("current").triple, Deno.build.target);
  }
  const error = assertThrows(() => resolveTarget("riscv64"), CompileError);
  assertMatch(error.message, /unknown target "riscv64".*x86_64-unknown-linux-gnu \(linux-x86_64\)/);
});

Deno.test("binaryName is prunner-<version>-<os>-<arch>, with .exe for Windows", () => {
  assertEquals(
    TARGETS.map((t) => binaryName("1.2.3", t)),
    [
      "prunner-1.2.3-linux-x86_64",
      "prunner-1.2.3-linux-aarch64",
      "prunner-1.2.3-darwin-x86_64",
      "prunner-1.2.3-darwin-aarch64",
      "prunner-1.2.3-windows-x86_64.exe",
    ],
  );
});

Deno.test("resolveVersion prefers PRUNNER_VERSION, then the tag on HEAD, then deno.json", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prunner-version-test-" });
  try {
    const root = pathToFileURL(`${dir}/`);
    await Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify({ version: "4.5.6" }));
    assertEquals(await resolveVersion({ PRUNNER_VERSION: "v1.2.3" }, root), "1.2.3");
    assertEquals(await resolveVersion({ PRUNNER_VERSION: "2.0.0-rc.1" }, root), "2.0.0-rc.1");
    await assertRejects(() => resolveVersion({ PRUNNER_VERSION: "latest" }, root), CompileError);
    assertEquals(await resolveVersion({}, root), "4.5.6");

    const git = async (...args: string[]) => {
      const { success, stderr } = await new Deno.Command("git", {
        args: ["-c", "user.name=test", "-c", "user.email=test@example.com", ...args],
        cwd: dir,
        stdout: "null",
        stderr: "piped",
      }).output();
      assert(success, `git ${args.join(" ")}: ${new TextDecoder().decode(stderr)}`);
    };
    await git("init", "-q");
    await git("commit", "-q", "--allow-empty", "-m", "release");
    assertEquals(await resolveVersion({}, root), "4.5.6", "untagged HEAD");
    await git("tag", "v7.8.9");
    assertEquals(await resolveVersion({}, root), "7.8.9");
    assertEquals(await resolveVersion({ PRUNNER_VERSION: "v1.0.0" }, root), "1.0.0");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeChecksums lists every binary of the version in sha256sum format", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prunner-sums-test-" });
  try {
    await Deno.writeTextFile(`${dir}/prunner-1.0.0-windows-x86_64.exe`, "");
    await Deno.writeTextFile(`${dir}/prunner-1.0.0-linux-x86_64`, "abc");
    await Deno.writeTextFile(`${dir}/prunner-0.9.0-linux-x86_64`, "old");
    await Deno.writeTextFile(`${dir}/notes.txt`, "other");
    await writeChecksums(dir, "1.0.0");
    assertEquals(
      await Deno.readTextFile(`${dir}/SHA256SUMS`),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  " +
        "prunner-1.0.0-linux-x86_64\n" +
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  " +
        "prunner-1.0.0-windows-x86_64.exe\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("denortProblem recognizes deno compile's runtime failures only", () => {
  const download = `Compile main.ts to prunner
Download https://dl.deno.land/release/v2.9.6/denort-aarch64-apple-darwin.zip
error: Writing deno compile executable to temporary file 'prunner.tmp-060d020ceeb87b22'

Caused by:
    0: Setting up base binary.
    1: error sending request for url (https://dl.deno.land/release/v2.9.6/denort-aarch64-apple-darwin.zip): client error (Connect): dns error
    2: client error (Connect)`;
  assertEquals(
    denortProblem(download),
    "downloading https://dl.deno.land/release/v2.9.6/denort-aarch64-apple-darwin.zip failed",
  );
  assertEquals(
    denortProblem("Caused by:\n    0: Could not find denort at '/opt/denort'\n"),
    "DENORT_BIN /opt/denort does not exist",
  );
  assertEquals(
    denortProblem(
      "TS2307 [ERROR]: Cannot find module 'file:///x.ts'.\nerror: Type checking failed.",
    ),
    null,
  );
});

Deno.test("build refuses a DENORT_BIN that cannot serve as the runtime", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prunner-denort-test-" });
  try {
    const target = resolveTarget("linux-aarch64");
    const attempt = (denort: string, targets = [target]) =>
      build({ targets, outDir: dir, version: TEST_VERSION, env: { DENORT_BIN: denort } });

    const missing = await assertRejects(() => attempt(`${dir}/denort`), RuntimeUnavailableError);
    assertMatch(missing.message, /DENORT_BIN .*denort does not exist/);
    assertMatch(missing.message, /set DENORT_BIN to a denort binary of Deno .* for aarch64-/);

    const cli = await assertRejects(() => attempt(Deno.execPath()), RuntimeUnavailableError);
    assertMatch(cli.message, /is the deno CLI/);

    const many = await assertRejects(() => attempt(Deno.execPath(), [...TARGETS]), CompileError);
    assertMatch(many.message, /DENORT_BIN is a runtime for one target/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task compile reports a missing runtime in one line and exits 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prunner-cli-test-" });
  try {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        fileURLToPath(new URL("scripts/compile.ts", ROOT)),
        "--target",
        "linux-x86_64",
        "--out-dir",
        dir,
      ],
      env: { DENORT_BIN: `${dir}/no-such-denort`, NO_COLOR: "1" },
      stdout: "null",
    }).output();
    const text = new TextDecoder().decode(stderr);
    assertEquals(code, 1, text);
    assertMatch(text, /^compile: Deno's runtime \(denort .*reachable\.\n$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
