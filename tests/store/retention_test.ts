import { assertEquals } from "../assert.ts";
import type { Definitions } from "../../src/definition/types.ts";
import type { Job } from "../../src/engine/job.ts";
import {
  hasRetention,
  type RetentionCandidate,
  retentionFilter,
} from "../../src/engine/retention.ts";
import { openDataDir } from "../../src/store/data_dir.ts";
import { jobListingEncoder } from "../../src/server/json.ts";
import { applyRetention } from "../../src/store/retention.ts";
import { jobLogDir } from "../../src/store/logs.ts";
import { pipeline } from "../engine/fixtures.ts";
import { collect, job, tempDir } from "./support.ts";

const HOUR = 3_600_000;
const NOW = 100 * HOUR;

/** Jobs newest first: `c` completed, `r` running, `w` waiting; each ended `i` hours ago. */
function candidates(pattern: string): RetentionCandidate[] {
  return [...pattern].map((kind, i) => ({
    id: `${kind}${i}`,
    completed: kind === "c",
    created: NOW - (i + 1) * HOUR,
    end: kind === "c" ? NOW - i * HOUR : null,
  }));
}

function removed(
  rules: { retentionCount: number | null; retentionPeriodMs: number | null } | null,
  jobs: RetentionCandidate[],
): string[] {
  return jobs.filter(retentionFilter(rules, NOW)).map((j) => j.id);
}

Deno.test("retention_count keeps the newest N completed jobs; running and waiting stay", () => {
  const jobs = candidates("rcwccrcc");
  assertEquals(removed({ retentionCount: 2, retentionPeriodMs: null }, jobs), [
    "c4",
    "c6",
    "c7",
  ]);
  assertEquals(removed({ retentionCount: 0, retentionPeriodMs: null }, jobs), [
    "c1",
    "c3",
    "c4",
    "c6",
    "c7",
  ]);
  assertEquals(removed({ retentionCount: 10, retentionPeriodMs: null }, jobs), []);
});

Deno.test("retention_period removes completed jobs that ended more than D ago", () => {
  const jobs = candidates("ccwcrc");
  assertEquals(removed({ retentionCount: null, retentionPeriodMs: 2 * HOUR }, jobs), ["c3", "c5"]);
  const noEnd = [{ id: "x", completed: true, created: NOW - 3 * HOUR, end: null }];
  assertEquals(removed({ retentionCount: null, retentionPeriodMs: 2 * HOUR }, noEnd), ["x"]);
});

Deno.test("with count and period, whichever removes first applies", () => {
  const jobs = candidates("cccccc");
  assertEquals(removed({ retentionCount: 4, retentionPeriodMs: 2 * HOUR }, jobs), [
    "c3",
    "c4",
    "c5",
  ]);
  assertEquals(removed({ retentionCount: 1, retentionPeriodMs: 2 * HOUR }, jobs), [
    "c1",
    "c2",
    "c3",
    "c4",
    "c5",
  ]);
});

Deno.test("a pipeline that no longer exists loses all completed jobs, nothing else", () => {
  assertEquals(removed(null, candidates("cwcrc")), ["c0", "c2", "c4"]);
  assertEquals(hasRetention(null), true);
  assertEquals(hasRetention({ retentionCount: null, retentionPeriodMs: null }), false);
  assertEquals(hasRetention({ retentionCount: 3, retentionPeriodMs: null }), true);
});

Deno.test("applyRetention removes records and log files of expired jobs only", async () => {
  await using tmp = await tempDir();
  const data = await openDataDir(tmp.path, { listing: jobListingEncoder });
  try {
    const made: Job[] = [];
    const add = (name: string, pattern: string) => {
      // Newest first in `pattern`, like `candidates`.
      [...pattern].forEach((kind, i) => {
        made.push(job({
          pipeline: name,
          created: NOW - (i + 1) * HOUR,
          completed: kind === "c",
          start: kind === "w" ? null : NOW - (i + 1) * HOUR,
          end: kind === "c" ? NOW - i * HOUR : null,
          lastError: `${name}/${kind}${i}`,
        }));
      });
    };
    add("counted", "rcccc");
    add("aged", "cccwc"); // c2 ended exactly 2 h ago: not more than the period
    add("both", "ccccc");
    add("gone", "cwcr");
    add("kept", "cccc");
    await Promise.all(made.map((j) => data.store.save(j)));
    for (const j of made) {
      await Deno.mkdir(jobLogDir(data.logsDir, j.id), { recursive: true });
      await Deno.writeTextFile(data.logs.path(j.id, "only", "stdout"), j.lastError!);
    }
    const definitions: Definitions = new Map([
      ["counted", pipeline({ name: "counted", retentionCount: 2 })],
      ["aged", pipeline({ name: "aged", retentionPeriodMs: 2 * HOUR })],
      ["both", pipeline({ name: "both", retentionCount: 3, retentionPeriodMs: 1 * HOUR })],
      ["kept", pipeline({ name: "kept" })],
    ]);

    const reported: string[] = [];
    const count = await applyRetention(
      data.store,
      data.logs,
      definitions,
      NOW,
      (ids) => reported.push(...ids),
    );

    const remaining = (await collect(data.store.list())).map((j) => j.lastError).sort();
    const expected = [
      "counted/r0",
      "counted/c1",
      "counted/c2",
      "aged/c0",
      "aged/c1",
      "aged/c2",
      "aged/w3",
      "both/c0",
      "both/c1",
      "gone/w1",
      "gone/r3",
      "kept/c0",
      "kept/c1",
      "kept/c2",
      "kept/c3",
    ].sort();
    assertEquals(remaining, expected);
    assertEquals(count, made.length - expected.length);
    const removedIds = made.filter((j) => !expected.includes(j.lastError!)).map((j) => j.id);
    assertEquals(reported.sort(), removedIds.sort(), "every removed id is reported once");
    const logDirs: string[] = [];
    for await (const entry of Deno.readDir(data.logsDir)) logDirs.push(entry.name);
    const remainingIds = made.filter((j) => expected.includes(j.lastError!)).map((j) => j.id);
    assertEquals(logDirs.sort(), remainingIds.sort());
    assertEquals(await applyRetention(data.store, data.logs, definitions, NOW), 0);
  } finally {
    await data.close();
  }
});

Deno.test("applyRetention works through more jobs than one batch", async () => {
  await using tmp = await tempDir();
  const data = await openDataDir(tmp.path, { listing: jobListingEncoder });
  try {
    const jobs = Array.from(
      { length: 450 },
      (_, i) => job({ pipeline: "many", created: i, completed: true, end: i }),
    );
    await Promise.all(jobs.map((j) => data.store.save(j)));
    const definitions: Definitions = new Map([
      ["many", pipeline({ name: "many", retentionCount: 5 })],
    ]);
    assertEquals(await applyRetention(data.store, data.logs, definitions, NOW), 445);
    assertEquals(
      (await collect(data.store.list())).map((j) => j.created),
      [449, 448, 447, 446, 445],
    );
  } finally {
    await data.close();
  }
});
