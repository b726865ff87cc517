import { assert, assertEquals, assertThrows } from "../assert.ts";
import {
  createLogStore,
  jobLogDir,
  logPath,
  MAX_TASK_FILE_NAME,
  openLog,
  removeJobLogs,
} from "../../src/store/logs.ts";
import { tempDir } from "./support.ts";

const ID = "6f1c2a9e-1111-4222-8333-444455556666";

Deno.test("log files are one per task and stream below the job's directory", () => {
  assertEquals(logPath("/data/logs", ID, "build", "stdout"), `/data/logs/${ID}/build.stdout.log`);
  assertEquals(
    logPath("/data/logs", ID, "build / test", "stderr"),
    `/data/logs/${ID}/build%20%2F%20test.stderr.log`,
  );
});

Deno.test("later attempts of a task get files of their own", () => {
  assertEquals(logPath("/l", ID, "build", "stdout", 1), `/l/${ID}/build.stdout.log`);
  assertEquals(logPath("/l", ID, "build", "stdout", 2), `/l/${ID}/build~2.stdout.log`);
  const names = ["build", "build~2", "build.2", "x".repeat(300)];
  const files = names.flatMap((name) =>
    [1, 2, 3].map((attempt) => logPath("/l", ID, name, "stderr", attempt))
  );
  assertEquals(new Set(files).size, files.length, "distinct for every name and attempt");
});

Deno.test("any task name becomes one safe, distinct file name", () => {
  const names = [
    "a/b",
    "a\\b",
    "..",
    ".",
    "",
    "C:x",
    '*?<>|"',
    "~",
    "%2F",
    "tab\there",
    "ü € 𝄞",
    "lone \ud800 surrogate",
    "x".repeat(300),
    "x".repeat(300) + "y",
    "é".repeat(150),
  ];
  const files = names.map((name) => logPath("/logs", ID, name, "stdout"));
  assertEquals(new Set(files).size, names.length);
  for (const file of files) {
    const name = file.slice(`/logs/${ID}/`.length);
    assertEquals(name.replace(/[A-Za-z0-9%._~!'()-]/g, ""), "", name);
    assert(name.length <= MAX_TASK_FILE_NAME + 17 + ".stdout.log".length, name);
  }
  assert(files[12].includes("~") && files[13].includes("~"), "long names are cut and hashed");
  assert(!files[7].includes("~"), "a ~ in a name is encoded");
});

Deno.test("a job id cannot leave the logs directory", () => {
  assertEquals(jobLogDir("/logs", ".."), "/logs/%2E%2E");
  assertEquals(jobLogDir("/logs", "../etc"), "/logs/%2E%2E%2Fetc");
  assertThrows(() => jobLogDir("/logs", ""), TypeError);
});

Deno.test("openLog streams a written file and is null without one", async () => {
  await using tmp = await tempDir();
  const logs = createLogStore(tmp.path);
  assertEquals(await openLog(tmp.path, ID, "build", "stdout"), null);
  await Deno.mkdir(jobLogDir(tmp.path, ID), { recursive: true });
  const bytes = new Uint8Array(300_000).map((_, i) => i % 251);
  await Deno.writeFile(logs.path(ID, "build: ü", "stdout"), bytes);
  const stream = await logs.open(ID, "build: ü", "stdout");
  assert(stream !== null);
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert(chunks.length > 1, "read in chunks");
  assertEquals(new Uint8Array(await new Blob(chunks as BlobPart[]).arrayBuffer()), bytes);
  assertEquals(await logs.open(ID, "build: ü", "stderr"), null);
});

/** How many of this process's file descriptors have `path` open (Linux: `/proc/self/fd`). */
async function openDescriptors(path: string): Promise<number> {
  let count = 0;
  for await (const entry of Deno.readDir("/proc/self/fd")) {
    const target = await Deno.readLink(`/proc/self/fd/${entry.name}`).catch(() => null);
    if (target === path) count++;
  }
  return count;
}

Deno.test({
  name: "canceling a log stream closes the file",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using tmp = await tempDir();
    // The real path, as the descriptors' links name it.
    const logsDir = await Deno.realPath(tmp.path);
    const logs = createLogStore(logsDir);
    await Deno.mkdir(jobLogDir(logsDir, ID), { recursive: true });
    const path = logs.path(ID, "t", "stdout");
    await Deno.writeFile(path, new Uint8Array(500_000));
    const stream = await logs.open(ID, "t", "stdout");
    const reader = stream!.getReader();
    await reader.read();
    assertEquals(await openDescriptors(path), 1);
    await reader.cancel();
    assertEquals(await openDescriptors(path), 0);
  },
});

Deno.test("removeJobLogs removes the job's files and ignores missing ones", async () => {
  await using tmp = await tempDir();
  const logs = createLogStore(tmp.path);
  for (const id of [ID, "other"]) {
    await Deno.mkdir(jobLogDir(tmp.path, id), { recursive: true });
    await Deno.writeTextFile(logs.path(id, "t", "stdout"), "out");
  }
  await removeJobLogs(tmp.path, ID);
  await removeJobLogs(tmp.path, ID);
  assertEquals(await openLog(tmp.path, ID, "t", "stdout"), null);
  const remaining = [];
  for await (const entry of Deno.readDir(tmp.path)) remaining.push(entry.name);
  assertEquals(remaining, ["other"]);
});
