/**
 * Triggers: when a pipeline's `schedule` entries tick, and which ticks start a job. Pure: the
 * clock is passed in and nothing here waits or stores. Cron expressions are read by `croner`,
 * in the trigger's time zone, with Vixie cron's rules for daylight-saving changes: a time of day
 * without wildcards or steps (`30 2 * * *`) ticks once a day, after the gap when the clocks
 * jump over it and at its first occurrence when they repeat it; other expressions tick at the
 * times that exist, on both passes through a repeated hour. `@every DURATION` ticks at whole
 * multiples of the duration since the Unix epoch.
 *
 * @module
 */
import { Cron } from "croner";
import { DurationError, parseDuration } from "../definition/duration.ts";
import type { TriggerDefinition } from "../definition/types.ts";

/** Most missed ticks `catch_up: all` runs after a downtime: the newest ones. */
export const MAX_CATCH_UP = 100;

/**
 * How late the newest tick may be and still run with `catch_up: none`: a tick is "on time" when
 * it is due at most this long ago (a busy event loop, a short stall), "missed" otherwise.
 */
export const ON_TIME_MS = 60_000;

/** The shortest `@every` interval. */
export const MIN_EVERY_MS = 1000;

/** How a trigger ticks, compiled once. */
type Ticker =
  | { readonly kind: "every"; readonly intervalMs: number }
  | { readonly kind: "cron"; readonly cron: Cron };

const EVERY = /^@every(?:\s+(.*))?$/;
const tickers = new Map<string, Ticker>();

/**
 * What is wrong with a `cron` expression, or `null` when it is valid and ticks at all.
 *
 * @example
 * ```ts
 * scheduleProblem("61 * * * *"); // "invalid cron expression: …minute: 61"
 * scheduleProblem("@every 15m"); // null
 * ```
 */
export function scheduleProblem(cron: string): string | null {
  try {
    const ticker = compile(cron, "UTC");
    if (ticker.kind === "every") {
      return ticker.intervalMs < MIN_EVERY_MS
        ? `@every needs at least ${MIN_EVERY_MS / 1000}s, got "${cron}"`
        : null;
    }
    return ticker.cron.nextRun(new Date(0)) === null
      ? `"${cron}" never matches a date; check the day of month against the month`
      : null;
  } catch (error) {
    if (error instanceof DurationError) {
      return `@every needs a duration such as "15m" or "1h30m", got "${cron}"`;
    }
    return `invalid cron expression: ${(error as Error).message.replace(/^CronPattern: /, "")}`;
  }
}

/**
 * Whether `timezone` is an IANA time zone name this runtime knows.
 *
 * @example
 * ```ts
 * isTimeZone("Europe/Berlin"); // true
 * isTimeZone("Europe/Berln"); // false
 * ```
 */
export function isTimeZone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

function compile(cron: string, timezone: string): Ticker {
  const key = `${cron}\0${timezone}`;
  let ticker = tickers.get(key);
  if (ticker === undefined) {
    const every = EVERY.exec(cron.trim());
    ticker = every ? { kind: "every", intervalMs: parseDuration(every[1]?.trim() ?? "") } : {
      kind: "cron",
      cron: new Cron(cron, {
        timezone,
        paused: true,
        mode: "5-part",
        fixedTimeRule: "no-wildcard",
      }),
    };
    tickers.set(key, ticker);
  }
  return ticker;
}

/**
 * The first tick after `after` (epoch ms), or `null` when the trigger never ticks again.
 *
 * @example
 * ```ts
 * nextTick({ cron: "@every 15m", timezone: "UTC" }, 0); // 900000
 * ```
 */
export function nextTick(
  trigger: Pick<TriggerDefinition, "cron" | "timezone">,
  after: number,
): number | null {
  const ticker = compile(trigger.cron, trigger.timezone);
  if (ticker.kind === "every") {
    return (Math.floor(after / ticker.intervalMs) + 1) * ticker.intervalMs;
  }
  return ticker.cron.nextRun(new Date(after))?.getTime() ?? null;
}

/** The newest ticks at or before `atOrBefore` and after `after`, at most `limit`, oldest first. */
function ticksBetween(
  trigger: Pick<TriggerDefinition, "cron" | "timezone">,
  after: number,
  atOrBefore: number,
  limit: number,
): number[] {
  const ticker = compile(trigger.cron, trigger.timezone);
  let ticks: number[];
  if (ticker.kind === "every") {
    const newest = Math.floor(atOrBefore / ticker.intervalMs);
    ticks = [];
    for (let k = newest; k > newest - limit; k--) ticks.push(k * ticker.intervalMs);
  } else {
    ticks = ticker.cron.previousRuns(limit, new Date(atOrBefore + 1)).map((d) => d.getTime());
  }
  return ticks.filter((tick) => tick > after && tick <= atOrBefore).reverse();
}

/** Which ticks of one trigger start a job now, and when to look again. */
export interface TickDecision {
  /** Planned times to start a job for, oldest first. */
  readonly fire: number[];
  /** The newest tick that is settled now (fired or skipped), or `now` for a new trigger. */
  readonly last: number;
  /** When the next tick is due, epoch ms; `null` when it never ticks again. */
  readonly wakeAt: number | null;
}

/**
 * Decides what one trigger does at `now`, given the newest tick already settled (`last`, from
 * the store or from the previous decision). Every tick after `last` and at or before `now` is
 * due. The newest due tick runs when it is on time (see {@linkcode ON_TIME_MS}); the others,
 * and a newest tick that is late, were missed, and `catch_up` decides: `none` runs none of
 * them, `latest` runs the newest due tick, `all` runs every due tick, the newest
 * {@linkcode MAX_CATCH_UP}. A trigger without a settled tick (new, or never stored) runs
 * nothing now and counts from `now`.
 *
 * @example
 * ```ts
 * const trigger = { cron: "@every 1m", timezone: "UTC", variables: null, catchUp: "none" };
 * decideTicks(trigger, 0, 60_000); // { fire: [60000], last: 60000, wakeAt: 120000 }
 * decideTicks(trigger, null, 90_000); // { fire: [], last: 90000, wakeAt: 120000 }
 * ```
 */
export function decideTicks(
  trigger: TriggerDefinition,
  last: number | null,
  now: number,
): TickDecision {
  if (last === null) return { fire: [], last: now, wakeAt: nextTick(trigger, now) };
  const limit = trigger.catchUp === "all" ? MAX_CATCH_UP : 1;
  const due = ticksBetween(trigger, last, now, limit);
  const newest = due.at(-1);
  const settled = newest ?? last;
  const wakeAt = nextTick(trigger, Math.max(now, settled));
  if (newest === undefined) return { fire: [], last: settled, wakeAt };
  const onTime = now - newest <= ON_TIME_MS;
  const fire = trigger.catchUp === "none" ? (onTime ? [newest] : []) : due;
  return { fire, last: settled, wakeAt };
}
