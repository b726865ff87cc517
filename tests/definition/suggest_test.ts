import { closest, editDistance } from "../../src/definition/suggest.ts";
import { assertEquals } from "../assert.ts";

Deno.test("editDistance counts insertions, deletions, substitutions and swaps", () => {
  assertEquals(editDistance("", ""), 0);
  assertEquals(editDistance("abc", ""), 3);
  assertEquals(editDistance("depends-on", "depends_on"), 1);
  assertEquals(editDistance("concurency", "concurrency"), 1);
  assertEquals(editDistance("tset", "test"), 1);
  assertEquals(editDistance("kitten", "sitting"), 3);
});

Deno.test("closest suggests only likely typos", () => {
  const keys = ["script", "depends_on", "allow_failure", "env"];
  assertEquals(closest("dependsOn", keys), "depends_on");
  assertEquals(closest("scirpt", keys), "script");
  assertEquals(closest("ENV", keys), "env");
  assertEquals(closest("colour", keys), null);
  assertEquals(closest("x", keys), null);
});
