import {
  DurationError,
  formatDuration,
  formatDurationShort,
  parseDuration,
} from "../src/definition/duration.ts";
import { assertEquals, assertThrows } from "./assert.ts";

Deno.test("parseDuration reads Go durations into milliseconds", () => {
  const cases: [string, number][] = [
    ["300ms", 300],
    ["10s", 10_000],
    ["1m30s", 90_000],
    ["48h", 172_800_000],
    ["0", 0],
    ["1.5h", 5_400_000],
    [".5s", 500],
    ["1500us", 1.5],
    ["-5s", -5000],
    ["1h2m3.5s", 3_723_500],
  ];
  for (const [text, ms] of cases) assertEquals(parseDuration(text), ms, text);
});

Deno.test("parseDuration refuses anything else and quotes the value", () => {
  for (const text of ["", "10", "abc", "1x", "s", "10s ", " 10s", "1d", "--1s"]) {
    assertThrows(() => parseDuration(text), DurationError, `"${text}"`);
  }
});

Deno.test("formatDuration writes Go durations", () => {
  assertEquals(formatDuration(0), "0s");
  assertEquals(formatDuration(300), "300ms");
  assertEquals(formatDuration(90_000), "1m30s");
  assertEquals(formatDuration(172_800_000), "48h0m0s");
});

Deno.test("formatDurationShort leaves out zero trailing units", () => {
  assertEquals(formatDurationShort(600_000), "10m");
  assertEquals(formatDurationShort(3_600_000), "1h");
  assertEquals(formatDurationShort(5_400_000), "1h30m");
  assertEquals(formatDurationShort(3_600_000 + 5_000), "1h0m5s");
  assertEquals(formatDurationShort(90_000), "1m30s");
  assertEquals(formatDurationShort(1500), "1.5s");
  assertEquals(formatDurationShort(250), "250ms");
  assertEquals(formatDurationShort(0), "0s");
  assertEquals(formatDurationShort(10_000), "10s");
});
