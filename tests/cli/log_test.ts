import {
  configureSync,
  getLogfmtFormatter,
  getLogger,
  type LogRecord,
  reset,
  resetSync,
} from "@logtape/logtape";
import { createFormatter, type LogOutput, setupLogging } from "../../src/log.ts";
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { StoreWriteError } from "../../src/store/errors.ts";

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

function capture(isTerminal: boolean): LogOutput & { lines: string[] } {
  const lines: string[] = [];
  return { isTerminal, lines, write: (text) => lines.push(text) };
}

const RECORD: LogRecord = {
  category: ["prunner", "http"],
  level: "info",
  message: ["Listening on ", "http://localhost:9009", ""],
  rawMessage: "Listening on {url}",
  timestamp: Date.UTC(2026, 10, 28, 12, 0, 0),
  properties: { url: "http://localhost:9009", user: "j doe", count: 3 },
};

Deno.test("createFormatter: logfmt renders time, level, logger, message and properties", () => {
  assertEquals(
    createFormatter("logfmt")(RECORD),
    'time=2026-11-28T12:00:00.000Z level=info logger=prunner.http msg="Listening on http://localhost:9009" url=http://localhost:9009 user="j doe" count=3\n',
  );
});

Deno.test("createFormatter: plain text shows the properties the message does not mention", () => {
  const line = createFormatter("plain")(RECORD);
  assertMatch(
    line,
    /\[?INF\]? prunner\.http: Listening on http:\/\/localhost:9009 user="j doe" count=3\n$/,
  );
  assert(!line.includes("\x1b["), "no ANSI escapes");
  assert(!line.includes(" url="), "the interpolated property is not repeated");
});

Deno.test("createFormatter: the colour format uses ANSI escapes", () => {
  const line = createFormatter("color")(RECORD);
  assert(line.includes("\x1b["), JSON.stringify(line));
  assertMatch(
    line.replace(ANSI, ""),
    /prunner\.http: Listening on http:\/\/localhost:9009 user="j doe" count=3\n$/,
  );
});

Deno.test("setupLogging: --disable-ansi writes logfmt lines, info level without --verbose", async () => {
  const output = capture(true);
  await setupLogging({ verbose: false, disableAnsi: true }, output);
  try {
    getLogger(["prunner", "test"]).info("Hello {name}", { name: "world", extra: "a=b" });
    getLogger(["prunner", "test"]).debug("hidden");
  } finally {
    await reset();
  }
  assertEquals(output.lines.length, 1, JSON.stringify(output.lines));
  assertMatch(
    output.lines[0],
    /^time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=info logger=prunner\.test msg="Hello world" name=world extra="a=b"\n$/,
  );
});

Deno.test("setupLogging: not a terminal means logfmt; --verbose adds debug", async () => {
  const output = capture(false);
  await setupLogging({ verbose: true, disableAnsi: false }, output);
  try {
    getLogger(["prunner"]).debug("details");
  } finally {
    await reset();
  }
  assertEquals(output.lines.length, 1);
  assertMatch(output.lines[0], /^time=\S+ level=debug logger=prunner msg=details\n$/);
});

Deno.test("setupLogging: a terminal gets readable lines; calling it again replaces the setup", async () => {
  const first = capture(true);
  const second = capture(false);
  await setupLogging({ verbose: false, disableAnsi: false }, first);
  try {
    getLogger(["prunner"]).warn("Careful");
    await setupLogging({ verbose: false, disableAnsi: false }, second);
    getLogger(["prunner"]).warn("Again");
  } finally {
    await reset();
  }
  assertEquals(first.lines.length, 1);
  assertMatch(first.lines[0].replace(ANSI, ""), /WRN\]? prunner: Careful\n$/);
  assert(!first.lines[0].startsWith("time="));
  assertEquals(second.lines.length, 1);
  assertMatch(second.lines[0], /level=warning logger=prunner msg=Again/);
});

Deno.test("createFormatter: logfmt lines equal logtape's getLogfmtFormatter for tricky values", () => {
  const reference = getLogfmtFormatter();
  const ours = createFormatter("logfmt");
  const values: unknown[] = [
    "plain",
    "",
    "two words",
    'quote " and back\\slash',
    "line\nbreak\ttab\rreturn",
    "\x01control\x1b[31m",
    "c1 \x85 \x9b del \x7f",
    "replacement \ufffd",
    "a=b",
    "true",
    "null",
    "ünïcödé ✓ 𝄞",
    0,
    -1.5,
    true,
    null,
    undefined,
    10n,
    { nested: { a: [1, "x y"] } },
    ["a", 2],
  ];
  const templates = [
    "Value {value} here",
    "{value}",
    "no placeholders",
    "escaped {{braces}} {value}",
    "nested {obj.a} and {value}",
    "unknown {missing}",
  ];
  for (const value of values) {
    for (const rawMessage of templates) {
      const properties: Record<string, unknown> = {
        value,
        obj: { a: "in obj" },
        "odd key=%": value,
        "": "empty key",
      };
      const record: LogRecord = {
        category: ["prunner", "http"],
        level: "warning",
        rawMessage,
        timestamp: Date.UTC(2026, 10, 28, 12, 0, 0, 7),
        properties,
        get message() {
          return parseForTest(rawMessage, properties);
        },
      };
      assertEquals(ours(record), reference(record), `${rawMessage} with ${String(value)}`);
    }
  }
});

/** The message parts logtape would build: rendered through a real logger call. */
function parseForTest(rawMessage: string, properties: Record<string, unknown>): unknown[] {
  let parts: readonly unknown[] = [];
  const sink = (record: LogRecord) => {
    parts = record.message;
  };
  configureSync({
    reset: true,
    sinks: { capture: sink },
    loggers: [{ category: ["test"], lowestLevel: "debug", sinks: ["capture"] }],
  });
  getLogger(["test"]).info(rawMessage, properties);
  resetSync();
  return [...parts];
}

Deno.test("createFormatter: logfmt shows errors with their message and causes, never {}", () => {
  const cause = new TypeError("database or disk is full");
  const error = new StoreWriteError("52a5cb79", cause, "/var/lib/prunner/data");
  const wrapped = new Error("GET /job/detail broke", { cause: new RangeError("too deep") });
  const record: LogRecord = {
    ...RECORD,
    level: "error",
    rawMessage: "Cannot store job changes: {error}",
    message: ["Cannot store job changes: ", error, ""],
    properties: { error, other: wrapped, nested: { cause } },
  };
  const line = createFormatter("logfmt")(record);
  assert(!line.includes("{}"), line);
  assertEquals(
    line,
    "time=2026-11-28T12:00:00.000Z level=error logger=prunner.http " +
      'msg="Cannot store job changes: cannot save job 52a5cb79: database or disk is full ' +
      '(data directory /var/lib/prunner/data)" ' +
      'error="cannot save job 52a5cb79: database or disk is full (data directory ' +
      '/var/lib/prunner/data)" other="GET /job/detail broke; cause: RangeError: too deep" ' +
      'nested="{\\"cause\\":\\"TypeError: database or disk is full\\"}"\n',
  );
});

Deno.test("createFormatter: logfmt shows stack traces with --verbose", () => {
  const error = new Error("outer", { cause: new Error("inner") });
  const record: LogRecord = {
    ...RECORD,
    rawMessage: "Failed: {error}",
    message: ["Failed: ", error, ""],
    properties: { error },
  };
  const line = createFormatter("logfmt", { stacks: true })(record);
  assertMatch(line, /error="Error: outer\\n {4}at .*; cause: Error: inner\\n {4}at /);
});
