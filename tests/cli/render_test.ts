import type { JobJson } from "../../src/client/json.ts";
import {
  clusterTable,
  formatClock,
  formatDuration,
  jobDetail,
  jobsTable,
  jobState,
  linePrefixer,
  pipelinesTable,
  summary,
  table,
} from "../../src/cli/render.ts";
import { createScreen, type Sink } from "../../src/cli/screen.ts";
import { assertEquals } from "../assert.ts";

const NOW = new Date("2026-11-30T08:10:00Z");

function job(fields: Partial<JobJson> = {}): JobJson {
  return {
    id: "52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8",
    pipeline: "build",
    tasks: [],
    completed: false,
    canceled: false,
    errored: false,
    created: "2026-11-30T08:00:00Z",
    user: "ann",
    ...fields,
  };
}

Deno.test("table: columns as wide as their widest cell; colour codes take no room", () => {
  assertEquals(
    table([["ID", "STATE", "USER"], ["1", "\x1b[32mdone\x1b[0m", "ann"], ["123", "x", ""]]),
    "ID   STATE  USER\n1    \x1b[32mdone\x1b[0m   ann\n123  x",
  );
});

Deno.test("jobState: waiting, running, succeeded, failed, canceled", () => {
  assertEquals(jobState(job()), "waiting");
  assertEquals(jobState(job({ start: "2026-11-30T08:00:01Z" })), "running");
  assertEquals(jobState(job({ completed: true })), "succeeded");
  assertEquals(jobState(job({ completed: true, errored: true })), "failed");
  assertEquals(jobState(job({ completed: true, canceled: true, errored: true })), "canceled");
});

Deno.test("formatDuration: milliseconds to hours", () => {
  assertEquals(
    [850, 12_400, 65_000, 7_380_000].map(formatDuration),
    ["850ms", "12s", "1m05s", "2h03m"],
  );
});

Deno.test("formatClock: minutes and seconds, hours when needed", () => {
  assertEquals([0, 7_900, 750_000, 3_723_000].map(formatClock), [
    "0:00",
    "0:07",
    "12:30",
    "1:02:03",
  ]);
});

Deno.test("jobsTable: a running job's duration counts until now", () => {
  const text = jobsTable([job({ start: "2026-11-30T08:00:00Z" })], false, NOW);
  assertEquals(text.split("\n"), [
    "ID                                    PIPELINE  STATE    CREATED              DURATION  USER",
    "52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8  build     running  2026-11-30 08:00:00  10m00s    ann",
  ]);
});

Deno.test("clusterTable: nodes with heartbeat age, alive or silent, and their job count", () => {
  const node = {
    address: "http://10.0.0.1:9009",
    started: "2026-11-30T08:00:00Z",
    heartbeatAgeMs: 800,
    alive: true,
    self: false,
    jobs: [] as string[],
  };
  const cluster = {
    node: "web-1:9009",
    nodes: [
      { ...node, name: "web-1:9009", self: true, jobs: ["a", "b"] },
      {
        ...node,
        name: "web-2:9009",
        address: "http://10.0.0.2:9009",
        heartbeatAgeMs: 65_000,
        alive: false,
        jobs: ["c"],
      },
    ],
  };
  assertEquals(clusterTable(cluster, false).split("\n"), [
    "NODE                    ADDRESS               HEARTBEAT  STATE   JOBS",
    "web-1:9009 (answering)  http://10.0.0.1:9009  800ms ago  alive   2",
    "web-2:9009              http://10.0.0.2:9009  1m05s ago  silent  1",
  ]);
  const coloured = clusterTable(cluster, true);
  assertEquals(coloured.includes("\x1b[32malive\x1b[0m"), true);
  assertEquals(coloured.includes("\x1b[31msilent\x1b[0m"), true);
});

Deno.test("summary: the outcome with the duration and the last error", () => {
  const start = "2026-11-30T08:00:00Z";
  const end = "2026-11-30T08:00:04Z";
  assertEquals(
    summary(job({ completed: true, start, end }), NOW),
    "job 52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8 (build) succeeded in 4s",
  );
  assertEquals(
    summary(job({ completed: true, errored: true, start, end, lastError: "task x failed" }), NOW),
    "job 52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8 (build) failed after 4s: task x failed",
  );
  assertEquals(
    summary(job({ completed: true, canceled: true }), NOW),
    "job 52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8 (build) canceled",
  );
});

Deno.test("linePrefixer: whole lines only, per task and stream, padded names", () => {
  const lines = linePrefixer(["a", "long"], false);
  assertEquals(lines.push("a", "stdout", "par"), []);
  assertEquals(lines.push("long", "stdout", "x\ny"), ["long | x"]);
  assertEquals(lines.push("a", "stderr", "err\r\n"), ["a    | err"]);
  assertEquals(lines.push("a", "stdout", "tial\nnext"), ["a    | partial"]);
  assertEquals(lines.flush("long"), [["stdout", "long | y"]]);
  assertEquals(lines.flush(), [["stdout", "a    | next"]]);
  assertEquals(lines.flush(), []);
  const coloured = linePrefixer(["a"], true);
  assertEquals(coloured.push("a", "stdout", "x\n"), ["\x1b[36ma\x1b[0m | x"]);
});

function sink(terminal: boolean): Sink & { text: () => string } {
  let text = "";
  return {
    text: () => text,
    isTerminal: () => terminal,
    writeSync(bytes) {
      text += new TextDecoder().decode(bytes);
      return bytes.length;
    },
  };
}

Deno.test("screen: output goes above the status line, which is only drawn on a terminal", () => {
  const out = sink(true);
  const err = sink(true);
  const screen = createScreen({}, out, err);
  assertEquals([screen.colour, screen.interactive], [true, true]);
  screen.status("[1s] running build");
  screen.out("line\n");
  screen.status(null);
  screen.err("done\n");
  assertEquals(out.text(), "line\n");
  assertEquals(
    err.text(),
    "\r\x1b[2K[1s] running build" + "\r\x1b[2K" + "[1s] running build" + "\r\x1b[2K" + "done\n",
  );

  const piped = createScreen({}, sink(false), sink(false));
  assertEquals([piped.colour, piped.interactive], [false, false]);
  assertEquals(createScreen({ NO_COLOR: "1" }, sink(true), sink(true)).colour, false);
});

Deno.test("jobDetail: fields, variables, and tasks with their attempts", () => {
  const text = jobDetail(
    job({
      start: "2026-11-30T08:00:00Z",
      variables: { tag: "v1" },
      tasks: [
        {
          name: "build",
          status: "done",
          skipped: false,
          exitCode: 0,
          errored: false,
          start: "2026-11-30T08:00:00Z",
          end: "2026-11-30T08:00:03Z",
        },
        {
          name: "flaky",
          status: "waiting",
          skipped: false,
          exitCode: 1,
          errored: false,
          attempt: 2,
          retryAt: "2026-11-30T08:11:00Z",
          error: "exit status 1",
        },
      ],
    }),
    false,
    NOW,
  );
  assertEquals(text.split("\n"), [
    "Job:        52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8",
    "Pipeline:   build",
    "State:      running",
    "User:       ann",
    "Created:    2026-11-30 08:00:00",
    "Started:    2026-11-30 08:00:00",
    "Duration:   10m00s",
    'Variables:  {"tag":"v1"}',
    "",
    "TASK   STATE                                              EXIT  DURATION  ERROR",
    "build  done                                               0     3s",
    "flaky  waiting (attempt 2, retry at 2026-11-30 08:11:00)                  exit status 1",
  ]);
});

Deno.test("pipelinesTable: a NEXT RUN column only when a pipeline has a schedule", () => {
  const plain = { schedulable: true, running: false, runningJobs: 0, waitingJobs: 0 };
  assertEquals(pipelinesTable([{ pipeline: "build", ...plain }], false).split("\n"), [
    "PIPELINE  SCHEDULABLE  RUNNING  WAITING",
    "build     yes          0        0",
  ]);
  const listed = pipelinesTable([
    { pipeline: "build", ...plain },
    { pipeline: "nightly", ...plain, nextRun: "2026-12-08T03:30:00Z" },
  ], false);
  assertEquals(listed.split("\n"), [
    "PIPELINE  SCHEDULABLE  RUNNING  WAITING  NEXT RUN",
    "build     yes          0        0",
    "nightly   yes          0        0        2026-12-08 03:30:00",
  ]);
});

Deno.test("jobDetail: a triggered job names its trigger and tick", () => {
  const text = jobDetail(
    job({
      user: "schedule",
      trigger: { cron: "30 3 * * *", timezone: "Europe/Berlin", planned: "2026-11-30T02:30:00Z" },
    }),
    false,
    NOW,
  );
  assertEquals(
    text.split("\n")[5],
    "Trigger:   30 3 * * * (Europe/Berlin), tick of 2026-11-30 02:30:00",
  );
});
