import { assert, assertEquals } from "../assert.ts";
import type { Job } from "../../src/engine/job.ts";
import { jobListingEncoder, jobToJson } from "../../src/server/json.ts";
import type { JobStore, ListingEncoder } from "../../src/store/types.ts";
import { openKvJobStore } from "../../src/store/kv/job_store.ts";
import { FORMAT } from "../../src/store/kv/migration.ts";
import {
  holdsAny,
  type ListingItem,
  type ListingRun,
  makePack,
  mergeListing,
  packItems,
  withoutJobs,
} from "../../src/store/kv/listing_packs.ts";
import { collect, job, tempDir } from "./support.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function item(created: number, id: string, text = `${id}@${created}`) {
  return { created, id, json: encoder.encode(text) };
}

async function* from<T>(items: readonly T[]): AsyncGenerator<T> {
  yield* items;
}

const texts = (items: ListingItem[]) =>
  items.map(({ json }) => json === false ? false : decoder.decode(json));

Deno.test("listing packs: a pack gives back its jobs; taking jobs out keeps the rest", () => {
  const pack = makePack([item(3, "c"), item(2, "b", "[1,2]"), item(1, "a")]);
  assertEquals(decoder.decode(pack.json), "c@3,[1,2],a@1");
  assertEquals(texts(packItems(pack)), ["c@3", "[1,2]", "a@1"]);
  assertEquals(packItems(pack).map(({ id, created }) => `${created}${id}`), ["3c", "2b", "1a"]);
  assertEquals(texts(packItems(withoutJobs(pack, new Set(["b", "x"]))!)), ["c@3", "a@1"]);
  assertEquals(withoutJobs(pack, new Set(["a", "b", "c"])), null);
  assertEquals([holdsAny(pack, new Set(["x", "b"])), holdsAny(pack, new Set(["x"]))], [
    true,
    false,
  ]);
});

/** What a merge yields, as text: an entry's or packed job's id, or a run's JSON. */
function merged(items: (ListingItem | ListingRun)[]): string[] {
  return items.map((entry) =>
    "jobs" in entry
      ? `run ${decoder.decode(entry.json)}`
      : entry.json === false
      ? `${entry.id} from its record`
      : decoder.decode(entry.json)
  );
}

Deno.test("listing packs: entries and packs merge newest first; an entry wins over its packed copy", async () => {
  const packs = [
    makePack([item(9, "i"), item(8, "h")]),
    makePack([item(5, "e"), item(4, "d", "old d"), item(4, "c")]),
    makePack([item(2, "b"), item(1, "a")]),
  ];
  const entries: ListingItem[] = [
    item(10, "j"),
    { created: 7, id: "g", json: false },
    item(4, "d", "new d"),
    item(3, "x"),
    item(0, "z"),
  ];
  assertEquals(merged(await collect(mergeListing(from(entries), from(packs)))), [
    "j@10",
    "run i@9,h@8",
    "g from its record",
    "e@5",
    "new d",
    "c@4",
    "x@3",
    "run b@2,a@1",
    "z@0",
  ]);
  assertEquals(merged(await collect(mergeListing(from([]), from(packs.slice(0, 1))))), [
    "run i@9,h@8",
  ]);
  assertEquals(merged(await collect(mergeListing(from(entries.slice(0, 1)), from([])))), ["j@10"]);
});

/** The store's clock in these tests. */
const NOW = 1_800_000_000_000;

async function openStore(
  path: string,
  encoder: ListingEncoder = jobListingEncoder,
): Promise<JobStore> {
  return await openKvJobStore(await Deno.openKv(path), { listing: encoder, now: () => NOW });
}

/** The listing as [id, API JSON] pairs. */
async function listing(store: JobStore): Promise<[string, unknown][]> {
  return (await collect(store.listJson())).flat().flatMap((item): [string, unknown][] => {
    const jobs = JSON.parse(`[${decoder.decode(item.json)}]`) as { id: string }[];
    if ("id" in item) return [[item.id, jobs[0]]];
    assertEquals(jobs.length, item.jobs);
    return jobs.map((json) => [json.id, json]);
  });
}

function expected(jobs: Job[]): [string, unknown][] {
  return [...jobs].sort((a, b) => b.created - a.created || (a.id < b.id ? 1 : -1))
    .map((j) => [j.id, JSON.parse(JSON.stringify(jobToJson(j)))]);
}

function done(created: number): Job {
  return job({ created, completed: true, start: created, end: created + 1 });
}

async function countKeys(path: string, prefix: string): Promise<number> {
  const kv = await Deno.openKv(path);
  try {
    let count = 0;
    for await (const _ of kv.list({ prefix: [prefix] })) count++;
    return count;
  } finally {
    kv.close();
  }
}

Deno.test("listing packs: packing moves completed jobs into packs; the listing stays the same", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/jobs.kv`;
  const store = await openStore(path);
  try {
    const jobs = Array.from({ length: 600 }, (_, i) => done(1000 + i));
    await Promise.all(jobs.map((j) => store.save(j)));
    const before = await listing(store);
    assertEquals(before, expected(jobs));
    // At most the number asked for per call.
    assertEquals(await store.packListing(250), 250);
    assertEquals(await listing(store), before);
    let moved = 250;
    while (true) {
      const more = await store.packListing();
      if (more === 0) break;
      moved += more;
    }
    assertEquals(moved, 600);
    assertEquals(await listing(store), before);
  } finally {
    await store.close();
  }
  assertEquals(await countKeys(path, "listed"), 0);
  const packs = await countKeys(path, "listed_pack");
  assert(packs >= 3 && packs <= 10, `${packs} packs`);
});

Deno.test("listing packs: packing stops at a job still running and goes on once it completed", async () => {
  await using dir = await tempDir();
  const store = await openStore(`${dir.path}/jobs.kv`);
  try {
    const jobs = Array.from({ length: 20 }, (_, i) => done(NOW - 1000 + i));
    const running = job({ created: NOW - 990.5, start: NOW - 990 });
    await Promise.all([...jobs, running].map((j) => store.save(j)));
    // The ten older than the running job.
    assertEquals(await store.packListing(), 10);
    assertEquals(await store.packListing(), 0);
    running.completed = true;
    running.end = NOW;
    await store.save(running);
    assertEquals(await store.packListing(), 11);
    assertEquals(await listing(store), expected([...jobs, running]));
  } finally {
    await store.close();
  }
});

Deno.test("listing packs: a job running for over an hour does not hold packing up", async () => {
  await using dir = await tempDir();
  const store = await openStore(`${dir.path}/jobs.kv`);
  try {
    const old = NOW - 2 * 60 * 60 * 1000;
    const jobs = Array.from({ length: 6 }, (_, i) => done(old + i * 10));
    const running = job({ created: old + 25, start: old + 25 });
    await Promise.all([...jobs, running].map((j) => store.save(j)));
    assertEquals(await store.packListing(), 6);
    assertEquals(await listing(store), expected([...jobs, running]));
  } finally {
    await store.close();
  }
});

Deno.test("listing packs: deleted jobs leave their packs; a job saved again is listed once", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/jobs.kv`;
  const store = await openStore(path);
  try {
    const jobs = Array.from({ length: 300 }, (_, i) => done(1000 + i));
    await Promise.all(jobs.map((j) => store.save(j)));
    while (await store.packListing() > 0);
    const gone = [jobs[0], jobs[1], jobs[150], jobs[299]];
    await store.delete(gone.map((j) => j.id));
    let kept = jobs.filter((j) => !gone.includes(j));
    assertEquals(await listing(store), expected(kept));
    // Saved again after packing: its own entry wins, listed once.
    kept[10].user = "someone else";
    await store.save(kept[10]);
    assertEquals(await listing(store), expected(kept));
    assertEquals(await store.packListing(), 0);
    await store.delete(kept.map((j) => j.id));
    kept = [];
    assertEquals(await listing(store), []);
  } finally {
    await store.close();
  }
  assertEquals(await countKeys(path, "listed_pack"), 0);
  assertEquals(await countKeys(path, "listed"), 0);
});

for (const format of [2, 3]) {
  Deno.test(`listing packs: a database of format ${format} opens and is stored as the current one`, async () => {
    await using dir = await tempDir();
    const path = `${dir.path}/jobs.kv`;
    const first = await openStore(path);
    const saved = [done(1000), done(2000)];
    await Promise.all(saved.map((j) => first.save(j)));
    assertEquals(await first.packListing(1), 1);
    await first.close();
    // What that format left: no listing version.
    const kv = await Deno.openKv(path);
    await kv.set(["format"], format);
    await kv.delete(["listing_version"]);
    kv.close();
    const second = await openStore(path);
    try {
      assertEquals(await listing(second), expected(saved));
    } finally {
      await second.close();
    }
    const reopened = await Deno.openKv(path);
    try {
      assertEquals((await reopened.get(["format"])).value, FORMAT);
      assertEquals((await reopened.get(["listing_version"])).value, jobListingEncoder.version);
    } finally {
      reopened.close();
    }
  });
}

Deno.test("listing packs: listings kept by another encoder version are built again, packs too", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/jobs.kv`;
  const tagged = (tag: string): ListingEncoder => ({
    version: tag,
    encode: (j) => encoder.encode(JSON.stringify({ id: j.id, tag })),
  });
  const jobs = Array.from({ length: 30 }, (_, i) => done(1000 + i));
  const tagsOf = async (store: JobStore) =>
    (await listing(store)).map(([id, json]) => [id, (json as { tag: string }).tag]);
  const first = await openStore(path, tagged("one"));
  try {
    await Promise.all(jobs.map((j) => first.save(j)));
    assertEquals(await first.packListing(20), 20);
    assertEquals(new Set((await tagsOf(first)).map(([, tag]) => tag)), new Set(["one"]));
  } finally {
    await first.close();
  }
  const second = await openStore(path, tagged("two"));
  try {
    const tags = await tagsOf(second);
    assertEquals(tags.map(([id]) => id), expected(jobs).map(([id]) => id));
    assertEquals(new Set(tags.map(([, tag]) => tag)), new Set(["two"]));
  } finally {
    await second.close();
  }
  assertEquals(await countKeys(path, "listed_pack"), 0);
});

Deno.test("listing packs: a long listing calls releaseListed after each share of bytes read", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/jobs.kv`;
  const writer = await openStore(path);
  const jobs = Array.from({ length: 200 }, (_, i) => done(1000 + i));
  await Promise.all(jobs.map((j) => writer.save(j)));
  while (await writer.packListing() > 0);
  await writer.close();
  for (const [share, expected] of [[4096, 2], [50_000, 1], [1 << 20, 0]]) {
    let releases = 0;
    const store = await openKvJobStore(await Deno.openKv(path), {
      listing: jobListingEncoder,
      releaseListed: () => releases++,
      releaseListedBytes: share,
    });
    try {
      // Two packs of about 35 KB each.
      const items = (await collect(store.listJson())).flat();
      assertEquals(items.map((item) => "jobs" in item), [true, true]);
      assertEquals(releases, expected, `every ${share} bytes`);
    } finally {
      await store.close();
    }
  }
});
