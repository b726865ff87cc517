import { assert, assertEquals, assertThrows } from "../assert.ts";
import {
  commit,
  fits,
  groupCommits,
  keySize,
  KV_LIMITS,
  remove,
  set,
  type Unit,
  unitOf,
} from "../../src/store/kv/commits.ts";
import { collect } from "./support.ts";

/** A unit of `count` mutations of `valueBytes` each, keys named after `name`. */
function unitOfSize(name: string, count: number, valueBytes = 0): Unit {
  return unitOf(
    Array.from({ length: count }, (_, i) => set([name, i], new Uint8Array(valueBytes))),
  );
}

/** The names of the units in each commit. */
function names(commits: Unit[][]): string[][] {
  return commits.map((units) => units.map((unit) => String(unit.mutations[0].key[0])));
}

Deno.test("keySize counts as Deno KV does: UTF-8 bytes, NUL escapes, 2 per string", () => {
  assertEquals(keySize(["ab"]), 4);
  assertEquals(keySize(["ü"]), 4);
  assertEquals(keySize(["€"]), 5);
  assertEquals(keySize(["𝄞"]), 6);
  assertEquals(keySize(["a\0b"]), 6);
  assertEquals(keySize(["jobs", 1, "id"]), 6 + 9 + 4);
  assertEquals(keySize([true]), 16);
});

Deno.test("set refuses a key longer than Deno KV takes, naming its size", () => {
  const key = ["by_pipeline", "p".repeat(KV_LIMITS.keyBytes)];
  const error = assertThrows(() => set(key, 1), RangeError);
  assert(error.message.includes(`${keySize(key)} bytes`), error.message);
  assertEquals(remove(key).keyBytes, keySize(key));
});

Deno.test("a unit sums the sizes of its mutations", () => {
  const unit = unitOf([set(["a"], new Uint8Array(10)), remove(["bc"])]);
  assertEquals([unit.mutations.length, unit.keyBytes, unit.bytes], [2, 3 + 4, 3 + 10 + 4]);
  assert(fits(unit));
  assert(!fits(unitOfSize("many", KV_LIMITS.mutations + 1)));
});

Deno.test("groupCommits keeps the order and splits only at a limit", () => {
  assertEquals(groupCommits([]), []);
  const small = ["a", "b", "c"].map((name) => unitOfSize(name, 1));
  assertEquals(names(groupCommits(small)), [["a", "b", "c"]]);

  const byMutations = ["a", "b", "c"].map((name) => unitOfSize(name, 400));
  assertEquals(names(groupCommits(byMutations)), [["a", "b"], ["c"]]);

  const byBytes = ["a", "b", "c", "d"].map((name) => unitOfSize(name, 5, 60_000));
  assertEquals(names(groupCommits(byBytes)), [["a", "b"], ["c", "d"]]);

  const longKey = (name: string) =>
    unitOf(Array.from({ length: 30 }, (_, i) => set([name, i, "k".repeat(1000)], 1)));
  const byKeys = ["a", "b", "c"].map(longKey);
  assert(byKeys[0].keyBytes * 3 > KV_LIMITS.totalKeyBytes);
  assertEquals(names(groupCommits(byKeys)), [["a", "b"], ["c"]]);
});

Deno.test("groupCommits gives a unit too big for any commit one of its own", () => {
  const units = [
    unitOfSize("a", 1),
    unitOfSize("big", KV_LIMITS.mutations + 5),
    unitOfSize("c", 1),
  ];
  assertEquals(names(groupCommits(units)), [["a"], ["big"], ["c"]]);
});

Deno.test("commit applies the sets and deletes of its units at once", async () => {
  using kv = await Deno.openKv(":memory:");
  await kv.set(["old"], 1);
  await commit(kv, [unitOf([set(["a"], 1), remove(["old"])]), unitOf([set(["b"], 2)])]);
  const entries = await collect(kv.list({ prefix: [] }));
  assertEquals(entries.map(({ key, value }) => [key, value]), [[["a"], 1], [["b"], 2]]);
});
