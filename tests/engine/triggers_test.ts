import type { CatchUp, TriggerDefinition } from "../../src/definition/types.ts";
import { decideTicks, MAX_CATCH_UP, nextTick, ON_TIME_MS } from "../../src/engine/triggers.ts";
import { triggerId } from "../../src/engine/job.ts";
import { assertEquals } from "../assert.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function trigger(cron: string, timezone = "UTC", catchUp: CatchUp = "none"): TriggerDefinition {
  return { cron, timezone, variables: null, catchUp };
}

const at = (iso: string) => new Date(iso).getTime();
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Runs a trigger on a fake clock from `from` to `until`, waking exactly when the engine asks,
 * and returns every planned time it fired, as ISO strings.
 */
function fired(definition: TriggerDefinition, from: number, until: number): string[] {
  const result: string[] = [];
  let decision = decideTicks(definition, null, from);
  while (decision.wakeAt !== null && decision.wakeAt <= until) {
    decision = decideTicks(definition, decision.last, decision.wakeAt);
    result.push(...decision.fire.map(iso));
  }
  return result;
}

Deno.test("a tick exactly at a minute boundary fires then, and not a millisecond before", () => {
  const everyMinute = trigger("* * * * *");
  const tick = at("2026-12-07T10:05:00Z");
  const before = decideTicks(everyMinute, tick - MINUTE, tick - 1);
  assertEquals(before, { fire: [], last: tick - MINUTE, wakeAt: tick });
  assertEquals(decideTicks(everyMinute, tick - MINUTE, tick), {
    fire: [tick],
    last: tick,
    wakeAt: tick + MINUTE,
  });
  // Asked again at the same moment (or a little later), the tick is settled: it fires once.
  assertEquals(decideTicks(everyMinute, tick, tick + 500).fire, []);
});

Deno.test("a new trigger fires nothing of the past and counts from now", () => {
  const daily = trigger("30 3 * * *", "UTC", "all");
  const now = at("2026-12-07T10:00:00Z");
  assertEquals(decideTicks(daily, null, now), {
    fire: [],
    last: now,
    wakeAt: at("2026-12-08T03:30:00Z"),
  });
});

Deno.test("@every ticks at multiples of its interval since the Unix epoch", () => {
  const every = trigger("@every 15m");
  assertEquals(nextTick(every, 0), 15 * MINUTE);
  assertEquals(iso(nextTick(every, at("2026-12-07T10:07:13Z"))!), "2026-12-07T10:15:00.000Z");
  // Not aligned to the hour: the 1000th multiple of 7 minutes, then the 1001st.
  assertEquals(nextTick(trigger("@every 7m"), 1000 * 7 * MINUTE - 1), 1000 * 7 * MINUTE);
  assertEquals(nextTick(trigger("@every 7m"), 1000 * 7 * MINUTE), 1001 * 7 * MINUTE);
});

Deno.test("Europe/Berlin: a daily time in the skipped hour runs once after the gap", () => {
  // 2026-03-29 02:00 CET becomes 03:00 CEST: 02:30 does not exist that day.
  const daily = trigger("30 2 * * *", "Europe/Berlin");
  assertEquals(fired(daily, at("2026-03-27T12:00:00Z"), at("2026-03-31T00:00:00Z")), [
    "2026-03-28T01:30:00.000Z", // 02:30 CET
    "2026-03-29T01:00:00.000Z", // 03:00 CEST, the first time after the gap
    "2026-03-30T00:30:00.000Z", // 02:30 CEST
  ]);
});

Deno.test("Europe/Berlin: a daily time in the repeated hour runs once, at its first pass", () => {
  // 2026-10-25 03:00 CEST becomes 02:00 CET: 02:30 happens twice.
  const daily = trigger("30 2 * * *", "Europe/Berlin");
  assertEquals(fired(daily, at("2026-10-23T12:00:00Z"), at("2026-10-27T00:00:00Z")), [
    "2026-10-24T00:30:00.000Z",
    "2026-10-25T00:30:00.000Z", // 02:30 CEST; 02:30 CET an hour later does not tick
    "2026-10-26T01:30:00.000Z",
  ]);
});

Deno.test("America/New_York: daily times around both changes, each once", () => {
  // 2026-03-08 02:00 EST becomes 03:00 EDT; 2026-11-01 02:00 EDT becomes 01:00 EST.
  const spring = trigger("30 2 * * *", "America/New_York");
  assertEquals(fired(spring, at("2026-03-07T00:00:00Z"), at("2026-03-09T12:00:00Z")), [
    "2026-03-07T07:30:00.000Z", // 02:30 EST
    "2026-03-08T07:00:00.000Z", // 03:00 EDT, after the gap
    "2026-03-09T06:30:00.000Z", // 02:30 EDT
  ]);
  const fall = trigger("30 1 * * *", "America/New_York");
  assertEquals(fired(fall, at("2026-10-31T00:00:00Z"), at("2026-11-02T12:00:00Z")), [
    "2026-10-31T05:30:00.000Z",
    "2026-11-01T05:30:00.000Z", // 01:30 EDT; 01:30 EST does not tick
    "2026-11-02T06:30:00.000Z",
  ]);
});

Deno.test("America/New_York: an every-30-minutes trigger runs through both passes of 01:xx", () => {
  const halfHourly = trigger("*/30 * * * *", "America/New_York");
  assertEquals(fired(halfHourly, at("2026-11-01T04:45:00Z"), at("2026-11-01T07:00:00Z")), [
    "2026-11-01T05:00:00.000Z", // 01:00 EDT
    "2026-11-01T05:30:00.000Z", // 01:30 EDT
    "2026-11-01T06:00:00.000Z", // 01:00 EST
    "2026-11-01T06:30:00.000Z", // 01:30 EST
    "2026-11-01T07:00:00.000Z", // 02:00 EST
  ]);
  // The skipped hour has no ticks; the real hours around it do.
  const spring = fired(halfHourly, at("2026-03-08T06:45:00Z"), at("2026-03-08T07:30:00Z"));
  assertEquals(spring, [
    "2026-03-08T07:00:00.000Z", // 03:00 EDT
    "2026-03-08T07:30:00.000Z", // 03:30 EDT
  ]);
});

Deno.test("catch_up decides what runs of the ticks missed during a downtime", () => {
  const last = at("2026-12-07T00:00:00Z");
  const now = last + 10 * HOUR + 5 * MINUTE; // ten hourly ticks missed
  const ticks = Array.from({ length: 10 }, (_, i) => last + (i + 1) * HOUR);
  const decide = (catchUp: CatchUp) => decideTicks(trigger("0 * * * *", "UTC", catchUp), last, now);
  assertEquals(decide("none"), { fire: [], last: ticks[9], wakeAt: last + 11 * HOUR });
  assertEquals(decide("latest"), { fire: [ticks[9]], last: ticks[9], wakeAt: last + 11 * HOUR });
  assertEquals(decide("all"), { fire: ticks, last: ticks[9], wakeAt: last + 11 * HOUR });
});

Deno.test("catch_up: all runs at most the newest MAX_CATCH_UP missed ticks", () => {
  const last = 0;
  const now = (MAX_CATCH_UP + 50) * MINUTE;
  const decision = decideTicks(trigger("@every 1m", "UTC", "all"), last, now);
  assertEquals(decision.fire.length, MAX_CATCH_UP);
  assertEquals(decision.fire[0], 51 * MINUTE);
  assertEquals(decision.fire.at(-1), now);
  assertEquals(decision.last, now);
});

Deno.test("with catch_up: none the newest tick still runs when it is only a little late", () => {
  const every = trigger("@every 5m");
  const tick = 12 * 5 * MINUTE;
  assertEquals(decideTicks(every, tick - 5 * MINUTE, tick + ON_TIME_MS).fire, [tick]);
  assertEquals(decideTicks(every, tick - 5 * MINUTE, tick + ON_TIME_MS + 1).fire, []);
});

Deno.test("a clock set back fires nothing until the next tick after the settled one", () => {
  const hourly = trigger("0 * * * *", "UTC", "all");
  const last = at("2026-12-07T10:00:00Z");
  assertEquals(decideTicks(hourly, last, last - 3 * HOUR), {
    fire: [],
    last,
    wakeAt: last + HOUR,
  });
});

Deno.test("a trigger is identified by its expression and time zone", () => {
  assertEquals(triggerId(trigger("30 3 * * *", "Europe/Berlin")), "30 3 * * * Europe/Berlin");
  assertEquals(triggerId(trigger("@daily")), "@daily UTC");
});
