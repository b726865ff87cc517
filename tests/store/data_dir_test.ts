import { assert, assertEquals, assertMatch, assertRejects } from "../assert.ts";
import { openDataDir } from "../../src/store/data_dir.ts";
import { jobListingEncoder as listing } from "../../src/server/json.ts";
import { DataDirLockedError, StoreOpenError, StoreWriteError } from "../../src/store/errors.ts";
import { job, tempDir } from "./support.ts";

const dataDirModule = new URL("../../src/store/data_dir.ts", import.meta.url).href;

/**
 * Runs a separate deno process that opens `dir`; with `hold` it keeps it open until killed. The
 * script is written into `scratch`.
 */
async function opener(scratch: string, dir: string, hold: boolean): Promise<Deno.ChildProcess> {
  const script = `${scratch}/opener.ts`;
  await Deno.writeTextFile(
    script,
    `import { openDataDir } from ${JSON.stringify(dataDirModule)};
try {
  const data = await openDataDir(${JSON.stringify(dir)}, {
    listing: { version: "test", encode: (job) => new TextEncoder().encode(job.id) },
  });
  console.log("opened");
  if (${hold}) setInterval(() => {}, 1000);
  else await data.close();
} catch (error) {
  console.log(JSON.stringify({ name: error.name, message: error.message }));
  Deno.exit(3);
}
`,
  );
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-kv", "--no-config", script],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

async function firstLine(child: Deno.ChildProcess): Promise<string> {
  let text = "";
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    text += chunk;
    if (text.includes("\n")) break;
  }
  return text.split("\n")[0];
}

Deno.test("the data directory and logs/ are created on first run and hold the pid", async () => {
  await using tmp = await tempDir();
  const dir = `${tmp.path}/nested/data`;
  const data = await openDataDir(dir, { listing });
  try {
    assert((await Deno.stat(`${dir}/logs`)).isDirectory);
    assertEquals(data.logsDir, `${dir}/logs`);
    assertEquals((await Deno.readTextFile(`${dir}/prunner.lock`)).trim(), String(Deno.pid));
    const j = job();
    await data.store.save(j);
    assertEquals(await data.store.get(j.id), j);
  } finally {
    await data.close();
  }
});

Deno.test("jobs survive closing and reopening the data directory", async () => {
  await using tmp = await tempDir();
  const j = job({ variables: { big: "v".repeat(100_000) } });
  const first = await openDataDir(tmp.path, { listing });
  first.store.save(j);
  await first.close();
  const second = await openDataDir(tmp.path, { listing });
  try {
    assertEquals(await second.store.get(j.id), j);
  } finally {
    await second.close();
  }
});

Deno.test("a second process is refused with the directory and the holder's pid", async () => {
  await using tmp = await tempDir();
  const dir = `${tmp.path}/data`;
  const data = await openDataDir(dir, { listing });
  try {
    const child = await opener(tmp.path, dir, false);
    const line = await firstLine(child);
    assertEquals((await child.status).code, 3, line);
    const error = JSON.parse(line);
    assertEquals(error.name, "DataDirLockedError");
    assertMatch(error.message, new RegExp(`${dir}.*pid ${Deno.pid}\\b`));
  } finally {
    await data.close();
  }
});

Deno.test("a second opener in the same process is refused too", async () => {
  await using tmp = await tempDir();
  const data = await openDataDir(tmp.path, { listing });
  try {
    const error = await assertRejects(
      () => openDataDir(tmp.path, { listing }),
      DataDirLockedError,
      tmp.path,
    );
    assertEquals(error.pid, Deno.pid);
  } finally {
    await data.close();
  }
  const again = await openDataDir(tmp.path, { listing });
  await again.close();
});

Deno.test("a lock left by a process killed with SIGKILL does not block", async () => {
  await using tmp = await tempDir();
  const dir = `${tmp.path}/data`;
  const child = await opener(tmp.path, dir, true);
  let killed = false;
  try {
    assertEquals(await firstLine(child), "opened");
    const error = await assertRejects(() => openDataDir(dir, { listing }), DataDirLockedError);
    assertEquals(error.pid, child.pid);
    child.kill("SIGKILL");
    killed = true;
    await child.status;
  } finally {
    if (!killed) child.kill("SIGKILL");
  }
  await child.stdout.cancel().catch(() => {});
  assertEquals((await Deno.readTextFile(`${dir}/prunner.lock`)).trim(), String(child.pid));
  const data = await openDataDir(dir, { listing });
  try {
    assertEquals((await Deno.readTextFile(`${dir}/prunner.lock`)).trim(), String(Deno.pid));
  } finally {
    await data.close();
  }
});

Deno.test("a corrupt store is an error naming the file, and the file is left alone", async () => {
  await using tmp = await tempDir();
  const file = `${tmp.path}/jobs.kv`;
  const garbage = "this is not a database\n".repeat(500);
  await Deno.writeTextFile(file, garbage);
  const error = await assertRejects(() => openDataDir(tmp.path, { listing }), StoreOpenError, file);
  assertMatch(error.message, /not a database/);
  assertEquals(await Deno.readTextFile(file), garbage);
  await Deno.remove(file);
  const data = await openDataDir(tmp.path, { listing });
  await data.close();
});

Deno.test("a store in another format is refused", async () => {
  await using tmp = await tempDir();
  const data = await openDataDir(tmp.path, { listing });
  await data.kv.set(["format"], 99);
  await data.close();
  const error = await assertRejects(
    () => openDataDir(tmp.path, { listing }),
    StoreOpenError,
    "format 99",
  );
  assertMatch(error.message, new RegExp(`${tmp.path}/jobs.kv`));
});

Deno.test("a data directory that cannot be created is a StoreOpenError", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.path}/file`, "");
  await assertRejects(
    () => openDataDir(`${tmp.path}/file/data`, { listing }),
    StoreOpenError,
    "file/data",
  );
});

Deno.test("a data directory removed under prunner refuses writes and fails its check", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/data`;
  const data = await openDataDir(path, { listing });
  try {
    await data.store.save(job());
    await data.check();
    await Deno.remove(path, { recursive: true });
    await assertRejects(
      () => data.store.save(job()),
      StoreWriteError,
      `${path}/jobs.kv was removed or replaced while prunner runs`,
    );
    await assertRejects(() => data.check(), Deno.errors.NotFound);
  } finally {
    await data.close();
  }
});
