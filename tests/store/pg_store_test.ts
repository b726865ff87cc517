import { assert, assertEquals, assertRejects } from "../assert.ts";
import {
  DatabaseOpenError,
  StoreFormatError,
  StoreReadError,
  StoreWriteError,
} from "../../src/store/errors.ts";
import { jobLogDir } from "../../src/store/logs.ts";
import { LOG_CHUNK_BYTES } from "../../src/store/pg/log_store.ts";
import { openPgStore, type PgStore, type PgStoreOptions } from "../../src/store/pg/open.ts";
import { SCHEMA_VERSION } from "../../src/store/pg/schema.ts";
import type { ListingEncoder } from "../../src/store/types.ts";
import { jobListingEncoder as listing } from "../../src/server/json.ts";
import { postgresMissing, startPostgres, type TestPostgres } from "../postgres.ts";
import { waitFor } from "../runner/support.ts";
import { collect, job, tempDir } from "./support.ts";

if (postgresMissing !== null) console.warn(`PostgreSQL store tests skipped: ${postgresMissing}`);

/** The tests below, run one after the other on one throwaway server. */
const cases: [string, (server: TestPostgres, spool: string) => Promise<void>][] = [];

function pgTest(name: string, fn: (server: TestPostgres, spool: string) => Promise<void>): void {
  cases.push([name, fn]);
}

function open(url: string, spoolDir: string, options: Partial<PgStoreOptions> = {}) {
  return openPgStore(url, { listing, spoolDir, ...options });
}

async function disposable(pg: PgStore): Promise<PgStore & AsyncDisposable> {
  return await Promise.resolve({ ...pg, [Symbol.asyncDispose]: () => pg.close() });
}

pgTest(
  "two stores opening a fresh database at once apply each migration once",
  async (server, spool) => {
    const url = await server.database();
    const opened = await Promise.all(Array.from({ length: 4 }, () => open(url, spool)));
    try {
      const rows = await opened[0].sql<{ version: number }[]>`
      SELECT version FROM prunner_schema ORDER BY version`;
      assertEquals(
        rows.map((row) => row.version),
        Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
      );
      const saved = job();
      await opened[1].store.save(saved);
      assertEquals(await opened[2].store.get(saved.id), saved);
    } finally {
      await Promise.all(opened.map((pg) => pg.close()));
    }
  },
);

pgTest("a database of a newer prunner is refused", async (server, spool) => {
  const url = await server.database();
  {
    await using pg = await disposable(await open(url, spool));
    await pg.sql`INSERT INTO prunner_schema (version) VALUES (${SCHEMA_VERSION + 1})`;
  }
  const error = await assertRejects(() => open(url, spool), DatabaseOpenError, "newer prunner");
  assert(error.cause instanceof StoreFormatError, String(error.cause));
});

pgTest(
  "a database that cannot be reached is a DatabaseOpenError without the password",
  async (_server, spool) => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr as Deno.NetAddr;
    listener.close();
    const error = await assertRejects(
      () => open(`postgres://prunner:secret@127.0.0.1:${port}/prunner`, spool),
      DatabaseOpenError,
      `postgres://prunner@127.0.0.1:${port}/prunner`,
    );
    assert(!error.message.includes("secret"), error.message);
    await assertRejects(() => open("nonsense", spool), DatabaseOpenError, "not a valid URL");
  },
);

pgTest(
  "a damaged row is a StoreReadError naming it; listings skip and report it",
  async (server, spool) => {
    const damaged: StoreReadError[] = [];
    await using pg = await disposable(
      await open(await server.database(), spool, { onDamaged: (e) => damaged.push(e) }),
    );
    const good = job();
    const bad = job();
    await Promise.all([good, bad].map((j) => pg.store.save(j)));
    await pg.sql`UPDATE prunner_jobs SET state = '{', listing = NULL WHERE id = ${bad.id}`;
    await assertRejects(() => pg.store.get(bad.id), StoreReadError, bad.id);
    assertEquals(await collect(pg.store.list()), [good]);
    assertEquals(
      (await collect(pg.store.listJson())).flat().map((item) => "id" in item && item.id),
      [good.id],
    );
    assertEquals(damaged.map((error) => error.jobId), [bad.id, bad.id]);
  },
);

pgTest(
  "a job that cannot be stored fails alone; a failing transaction fails all its saves",
  async (server, spool) => {
    await using pg = await disposable(await open(await server.database(), spool));
    const bad = job({ id: "a\0b" });
    const good = job();
    const results = await Promise.allSettled([pg.store.save(bad), pg.store.save(good)]);
    assert(results[0].status === "rejected" && results[0].reason instanceof StoreWriteError);
    assertEquals(results[1].status, "fulfilled");
    assertEquals(await pg.store.get(good.id), good);

    await pg.sql`ALTER TABLE prunner_jobs ADD CONSTRAINT test_positive CHECK (created > 0)`;
    const jobs = [job(), job({ created: -1 })];
    for (const result of await Promise.allSettled(jobs.map((j) => pg.store.save(j)))) {
      assert(
        result.status === "rejected" && result.reason instanceof StoreWriteError,
        String(result.status),
      );
      assert(result.reason.message.includes("test_positive"), result.reason.message);
    }
    assertEquals(await pg.store.get(jobs[0].id), null);
  },
);

pgTest("listing bytes that are not UTF-8 text are listed as built", async (server, spool) => {
  const odd = [new Uint8Array([0xff, 0x22]), new TextEncoder().encode('"a\0b"')];
  let next = 0;
  const encoder: ListingEncoder = { version: "odd", encode: () => odd[next++ % 2] };
  await using pg = await disposable(
    await open(await server.database(), spool, { listing: encoder }),
  );
  await Promise.all([job({ created: 2 }), job({ created: 1 })].map((j) => pg.store.save(j)));
  const [{ stored }] = await pg.sql<{ stored: number }[]>`
    SELECT count(listing)::int AS stored FROM prunner_jobs`;
  assertEquals(stored, 0, "neither is kept as text");
  next = 0;
  const listed = (await collect(pg.store.listJson())).flat().map((item) => item.json);
  assertEquals(listed, odd);
});

pgTest("listings stored by another encoder version are built again", async (server, spool) => {
  const url = await server.database();
  const encoder = (version: string): ListingEncoder => ({
    version,
    encode: (j) => new TextEncoder().encode(JSON.stringify({ id: j.id, version })),
  });
  const saved = job();
  {
    await using first = await disposable(await open(url, spool, { listing: encoder("1") }));
    await first.store.save(saved);
  }
  await using second = await disposable(await open(url, spool, { listing: encoder("2") }));
  const [[item]] = await collect(second.store.listJson());
  assertEquals(JSON.parse(new TextDecoder().decode(item.json)), { id: saved.id, version: "2" });
});

pgTest(
  "ship copies only what is new; another node reads it, the writer its spool",
  async (server, spool) => {
    const url = await server.database();
    await using writer = await disposable(await open(url, `${spool}/a`));
    await using reader = await disposable(await open(url, `${spool}/b`));
    const id = job().id;
    const path = writer.logs.path(id, "build", "stdout");
    assertEquals(await writer.logs.ship(id, "build", "stdout"), 0, "no spool file yet");
    await Deno.mkdir(jobLogDir(`${spool}/a`, id), { recursive: true });
    const first = new Uint8Array(100).fill(1);
    await Deno.writeFile(path, first);
    assertEquals(await writer.logs.ship(id, "build", "stdout"), 100);
    assertEquals(await writer.logs.ship(id, "build", "stdout"), 0);
    const more = new Uint8Array(LOG_CHUNK_BYTES * 2 + 10).map((_, i) => i % 253);
    await Deno.writeFile(path, more, { append: true });
    const [a, b] = await Promise.all([
      writer.logs.ship(id, "build", "stdout"),
      reader.logs.ship(id, "build", "stdout"),
    ]);
    assertEquals(a, more.length, "the other node has no spool file");
    assertEquals(b, 0);
    const all = new Uint8Array([...first, ...more]);
    const read = async (pg: PgStore) =>
      new Uint8Array(await new Response(await pg.logs.open(id, "build", "stdout")).arrayBuffer());
    assertEquals(await read(reader), all);
    const [{ chunks }] = await reader.sql<{ chunks: number }[]>`
    SELECT count(*)::int AS chunks FROM prunner_log_chunks WHERE job_id = ${id}`;
    assertEquals(chunks, 4);
    await Deno.writeFile(path, new Uint8Array([7]), { append: true });
    assertEquals((await read(writer)).length, all.length + 1, "the writer reads its spool file");
    await writer.logs.remove(id);
    assertEquals(await reader.logs.open(id, "build", "stdout"), null);
    assertEquals(await writer.logs.open(id, "build", "stdout"), null);
  },
);

/** The text another node (no spool files) reads for `task`'s stdout; `null` while it cannot. */
async function readElsewhere(reader: PgStore, id: string, task: string): Promise<string | null> {
  try {
    const output = await reader.logs.open(id, task, "stdout");
    return output === null ? "" : await new Response(output).text();
  } catch {
    return null;
  }
}

pgTest(
  "a running attempt's output is shipped while it runs, the rest once it ends",
  async (server, spool) => {
    const url = await server.database();
    await using writer = await disposable(await open(url, `${spool}/a`, { shipEveryMs: 50 }));
    await using reader = await disposable(await open(url, `${spool}/b`));
    const id = job().id;
    writer.logs.started(id, "build");
    await Deno.mkdir(jobLogDir(`${spool}/a`, id), { recursive: true });
    const path = writer.logs.path(id, "build", "stdout");
    await Deno.writeTextFile(path, "one\n");
    await waitFor(
      "the first line in the database",
      async () => await readElsewhere(reader, id, "build") === "one\n",
      10_000,
    );
    await Deno.writeTextFile(path, "two\n", { append: true });
    await waitFor(
      "the second line in the database",
      async () => await readElsewhere(reader, id, "build") === "one\ntwo\n",
      10_000,
    );
    await Deno.writeTextFile(path, "three\n", { append: true });
    await writer.logs.ended(id, "build");
    assertEquals(await readElsewhere(reader, id, "build"), "one\ntwo\nthree\n");
  },
);

/**
 * A store on a new database that ships every 50 ms and reports ship failures into `reports`
 * (spool `a`), and one that reads the output elsewhere (spool `b`).
 */
async function reportingWriter(server: TestPostgres, spool: string) {
  const url = await server.database();
  const reports: unknown[] = [];
  const writer = await open(url, `${spool}/a`, {
    shipEveryMs: 50,
    onShipFailure: (error) => reports.push(error),
  });
  const reader = await open(url, `${spool}/b`);
  return {
    writer,
    reader,
    reports,
    async [Symbol.asyncDispose]() {
      await writer.close();
      await reader.close();
    },
  };
}

pgTest(
  "ships that fail while the database is away are retried, after the end too, reported once",
  async (server, spool) => {
    await using nodes = await reportingWriter(server, spool);
    const { writer, reader, reports } = nodes;
    const id = job().id;
    writer.logs.started(id, "build");
    await Deno.mkdir(jobLogDir(`${spool}/a`, id), { recursive: true });
    const path = writer.logs.path(id, "build", "stdout");
    await Deno.writeTextFile(path, "before\n");
    await waitFor(
      "the output in the database",
      async () => await readElsewhere(reader, id, "build") === "before\n",
      10_000,
    );
    await server.stop();
    try {
      await Deno.writeTextFile(path, "while away\n", { append: true });
      await waitFor("the failure to be reported", () => reports.length > 0, 10_000);
      await Deno.writeTextFile(path, "last\n", { append: true });
      await writer.logs.ended(id, "build");
    } finally {
      await server.start();
    }
    await waitFor(
      "all of the output in the database",
      async () => await readElsewhere(reader, id, "build") === "before\nwhile away\nlast\n",
      10_000,
    );
    await waitFor("the recovery to be reported", () => reports.at(-1) === null, 10_000);
    assertEquals(reports.length, 2, `one failure, one recovery: ${reports}`);
    assert(reports[0] instanceof Error, String(reports[0]));
  },
);

pgTest(
  "an attempt's end asks the database nothing when it holds all of the output already",
  async (server, spool) => {
    await using nodes = await reportingWriter(server, spool);
    const { writer, reader, reports } = nodes;
    const [shipped, silent] = [job().id, job().id];
    writer.logs.started(shipped, "build");
    writer.logs.started(silent, "build");
    for (const id of [shipped, silent]) {
      await Deno.mkdir(jobLogDir(`${spool}/a`, id), { recursive: true });
      for (const stream of ["stdout", "stderr"] as const) {
        await Deno.writeTextFile(writer.logs.path(id, "build", stream), "");
      }
    }
    await Deno.writeTextFile(writer.logs.path(shipped, "build", "stdout"), "all\n");
    await waitFor(
      "the output in the database",
      async () => await readElsewhere(reader, shipped, "build") === "all\n",
      10_000,
    );
    // With the database away, a ship would fail and be reported.
    await server.stop();
    try {
      await writer.logs.ended(shipped, "build");
      await writer.logs.ended(silent, "build");
    } finally {
      await server.start();
    }
    assertEquals(reports, []);
    assertEquals(await readElsewhere(reader, shipped, "build"), "all\n");
  },
);

pgTest(
  "an attempt's end copies only the streams the executor says it wrote to",
  async (server, spool) => {
    await using nodes = await reportingWriter(server, spool);
    const { writer, reader, reports } = nodes;
    const [wrote, silent] = [job().id, job().id];
    for (const id of [wrote, silent]) {
      await Deno.mkdir(jobLogDir(`${spool}/a`, id), { recursive: true });
      await Deno.writeTextFile(writer.logs.path(id, "build", "stdout"), "out\n");
      await Deno.writeTextFile(writer.logs.path(id, "build", "stderr"), "err\n");
    }
    // No shipper ran for these attempts: only their ends copy output.
    await writer.logs.ended(wrote, "build", 1, ["stdout"]);
    await writer.logs.ended(silent, "build", 1, []);
    const stored = async (id: string, stream: "stdout" | "stderr") => {
      const output = await reader.logs.open(id, "build", stream);
      return output === null ? null : await new Response(output).text();
    };
    assertEquals(await stored(wrote, "stdout"), "out\n");
    assertEquals(await stored(wrote, "stderr"), null);
    assertEquals(await stored(silent, "stdout"), null);
    assertEquals(await stored(silent, "stderr"), null);
    assertEquals(reports, []);
  },
);

pgTest("stop ships what running attempts wrote, and ends their shippers", async (server, spool) => {
  const url = await server.database();
  await using reader = await disposable(await open(url, `${spool}/b`));
  const writer = await open(url, `${spool}/a`, { shipEveryMs: 60_000 });
  const id = job().id;
  writer.logs.started(id, "build");
  await Deno.mkdir(jobLogDir(`${spool}/a`, id), { recursive: true });
  await Deno.writeTextFile(writer.logs.path(id, "build", "stdout"), "cut off\n");
  // No ship is due for a minute: only the close copies it (and the test's timer check fails
  // should a shipper's timer outlive the store).
  await writer.close();
  assertEquals(await readElsewhere(reader, id, "build"), "cut off\n");
});

/** Writes `text` to the end of an attempt's spool file of `pg`, creating it. */
async function spool(pg: PgStore, dir: string, id: string, text: string): Promise<void> {
  await Deno.mkdir(jobLogDir(dir, id), { recursive: true });
  await Deno.writeTextFile(pg.logs.path(id, "build", "stdout"), text, { append: true });
}

pgTest("a ship tells the watchers of its job on every node", async (server, dir) => {
  const url = await server.database();
  await using writer = await disposable(await open(url, `${dir}/a`));
  await using reader = await disposable(await open(url, `${dir}/b`));
  const [x, y, z] = [job().id, job().id, job().id];
  const calls: string[] = [];
  const unwatch = [x, y].map((id) => reader.logs.watchOutput(id, () => calls.push(id)));
  // Once listening, each watcher is called, in case output was stored before.
  await waitFor("the watchers to be called", () => calls.includes(x) && calls.includes(y));
  calls.length = 0;
  await spool(writer, `${dir}/a`, x, "x\n");
  await writer.logs.ship(x, "build", "stdout");
  await waitFor("x's watcher", () => calls.includes(x));
  await spool(writer, `${dir}/a`, z, "z\n");
  await writer.logs.ship(z, "build", "stdout");
  assertEquals(await writer.logs.ship(x, "build", "stdout"), 0, "nothing new: no notice");
  await spool(writer, `${dir}/a`, y, "y\n");
  await writer.logs.ship(y, "build", "stdout");
  await waitFor("y's watcher", () => calls.includes(y));
  // Notices arrive in commit order: none for z nor for the empty ship came in between.
  assertEquals(calls, [x, y]);
  assertEquals(
    new TextDecoder().decode(await reader.logs.read(y, "build", "stdout", 1, 0, 64)),
    "y\n",
    "the output is there when its notice arrives",
  );
  for (const stop of unwatch) stop();
});

pgTest(
  "watchers hear ships again after the database was away",
  async (server, dir) => {
    const url = await server.database();
    await using writer = await disposable(await open(url, `${dir}/a`));
    await using reader = await disposable(await open(url, `${dir}/b`, { listenCheckMs: 50 }));
    const id = job().id;
    let calls = 0;
    const unwatch = reader.logs.watchOutput(id, () => calls++);
    await waitFor("listening", () => calls > 0);
    await server.stop();
    try {
      await waitFor("the database to be away", async () => {
        try {
          await reader.sql`SELECT 1`;
          return false;
        } catch {
          return true;
        }
      });
    } finally {
      await server.start();
    }
    await waitFor("a ship to be heard again", async () => {
      calls = 0;
      await spool(writer, `${dir}/a`, id, "more\n").catch(() => {});
      await writer.logs.ship(id, "build", "stdout").catch(() => 0);
      await new Promise((resolve) => setTimeout(resolve, 100));
      return calls > 0;
    }, 60_000);
    calls = 0;
    await spool(writer, `${dir}/a`, id, "last\n");
    await writer.logs.ship(id, "build", "stdout");
    await waitFor("the last ship to be heard", () => calls > 0);
    unwatch();
  },
);

Deno.test({
  name: "PostgreSQL store",
  ignore: postgresMissing !== null,
  async fn(t) {
    await using server = await startPostgres();
    for (const [name, fn] of cases) {
      await t.step(name, async () => {
        await using dir = await tempDir();
        await fn(server, dir.path);
      });
    }
  },
});
