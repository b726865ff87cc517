import { assert, assertEquals } from "../assert.ts";
import { waitFor } from "../runner/support.ts";
import { idleRelease, intervalClock } from "../../src/memory/idle.ts";
import { mallocTrim, releaseMemory } from "../../src/memory/release.ts";
import { v8Collection, v8YoungCollection } from "../../src/memory/v8_gc.ts";

/** A clock whose time and checks the test drives: `tick()` runs the check once. */
function manualClock() {
  let check: (() => void) | null = null;
  const clock = {
    time: 0,
    now: () => clock.time,
    every(run: () => void) {
      check = run;
      return () => check = null;
    },
    /** Advances the time by `ms` and runs the check, as the interval would. */
    tick(ms: number) {
      clock.time += ms;
      assert(check !== null, "the check still runs");
      check();
    },
    get stopped() {
      return check === null;
    },
  };
  return clock;
}

Deno.test("idle release: runs once after activity stops, again after new activity", () => {
  const clock = manualClock();
  let releases = 0;
  const idle = idleRelease(50, () => releases++, clock);
  idle.activity();
  idle.activity();
  clock.tick(10);
  clock.tick(49);
  assertEquals(releases, 0, "49 ms after the last activity");
  clock.tick(1);
  assertEquals(releases, 1, "50 ms after the last activity");
  for (let i = 0; i < 10; i++) clock.tick(1_000);
  assertEquals(releases, 1, "no activity since the release, so no other release");
  idle.activity();
  clock.tick(10);
  clock.tick(50);
  assertEquals(releases, 2);
  idle.stop();
  assert(clock.stopped, "stop ends the checks");
});

Deno.test("idle release: activity keeps postponing it", () => {
  const clock = manualClock();
  let releases = 0;
  const idle = idleRelease(2_000, () => releases++, clock);
  for (let i = 0; i < 10; i++) {
    idle.activity();
    clock.tick(1_000);
  }
  assertEquals(releases, 0, "10 s of activity every second");
  clock.tick(1_999);
  assertEquals(releases, 0);
  clock.tick(1);
  assertEquals(releases, 1);
});

Deno.test("idle release: on the real clock it runs once activity stops", async () => {
  let releases = 0;
  const idle = idleRelease(50, () => releases++, intervalClock(10));
  idle.activity();
  await waitFor("a release", () => releases === 1, 10_000);
  idle.stop();
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
