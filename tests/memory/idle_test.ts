import { assert, assertEquals } from "../assert.ts";
import { waitFor } from "../runner/support.ts";
import { idleRelease } from "../../src/memory/idle.ts";
import { mallocTrim, releaseMemory } from "../../src/memory/release.ts";
import { v8Collection, v8YoungCollection } from "../../src/memory/v8_gc.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("idle release: runs once after activity stops, again after new activity", async () => {
  let releases = 0;
  const idle = idleRelease(50, () => releases++, 10);
  idle.activity();
  idle.activity();
  await waitFor("a release", () => releases === 1);
  // Nothing happened since: no further release.
  await sleep(200);
  assertEquals(releases, 1);
  idle.activity();
  await waitFor("the second release", () => releases === 2);
  idle.stop();
});

Deno.test("idle release: activity keeps postponing it; after stop it never runs", async () => {
  let releases = 0;
  const idle = idleRelease(2000, () => releases++, 10);
  for (let i = 0; i < 5; i++) {
    idle.activity();
    await sleep(20);
  }
  assertEquals(releases, 0);
  idle.stop();
  await sleep(300);
  assertEquals(releases, 0);
});

Deno.test("release: V8's full collection is reachable and shrinks the heap", () => {
  const collect = v8Collection();
  assert(collect !== null, "gc could not be reached");
  let garbage: { index: number; text: string }[] | null = [];
  for (let index = 0; index < 1_000_000; index++) garbage.push({ index, text: `item ${index}` });
  const before = Deno.memoryUsage().heapUsed;
  garbage = null;
  collect();
  const after = Deno.memoryUsage().heapUsed;
  assert(after < before / 2, `heap in use went from ${before} to only ${after} bytes`);
});

Deno.test("release: a young-generation collection frees buffers dropped since the last one", async () => {
  const collect = v8YoungCollection();
  assert(collect !== null, "gc could not be reached");
  collect();
  const before = Deno.memoryUsage().external;
  let buffers: Uint8Array[] | null = Array.from({ length: 200 }, () => new Uint8Array(64 * 1024));
  assertEquals(buffers.length, 200);
  buffers = null;
  // V8 may sweep array buffers after the collection, on another thread.
  await waitFor("the buffers to be freed", () => {
    collect();
    return Deno.memoryUsage().external < before + 4 * 1024 * 1024;
  }, 10_000);
});

Deno.test({
  name: "release: malloc_trim is called on glibc Linux, and never without FFI permission",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const trim = mallocTrim();
    assert(trim !== null, "malloc_trim could not be reached");
    trim();
    await Deno.permissions.revoke({ name: "ffi" });
    assertEquals(mallocTrim(), null);
  },
});

Deno.test("release: releaseMemory runs what is available, and is null without any", () => {
  const calls: string[] = [];
  releaseMemory(() => calls.push("a"), null, () => calls.push("b"))!();
  assertEquals(calls, ["a", "b"]);
  assertEquals(releaseMemory(null, null), null);
});
