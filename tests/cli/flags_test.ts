import { type CliCommand, CliError, parseCli, type ServeOptions } from "../../src/cli/flags.ts";
import { OPTIONS } from "../../src/cli/options.ts";
import { COMMANDS } from "../../src/cli/commands.ts";
import { PrunnerError } from "../../src/errors.ts";
import { assert, assertEquals, assertMatch, assertThrows } from "../assert.ts";

const DEFAULTS: ServeOptions = {
  verbose: false,
  disableAnsi: false,
  config: ".prunner.yml",
  jwtSecret: null,
  data: ".prunner",
  databaseUrl: null,
  nodeName: null,
  heartbeatTimeoutMs: 15_000,
  pattern: "**/pipelines.{yml,yaml}",
  path: ".",
  address: "localhost:9009",
  envFiles: [".env", ".env.local"],
  watch: false,
  pollIntervalMs: 30_000,
  idempotencyTtlMs: 24 * 60 * 60 * 1000,
  ui: true,
};

function serve(args: string[], env: Record<string, string | undefined> = {}): ServeOptions {
  const command = parseCli(args, env);
  assertEquals(command.kind, "serve");
  return (command as Extract<CliCommand, { kind: "serve" }>).options;
}

function cliError(args: string[], env: Record<string, string | undefined> = {}): CliError {
  const error = assertThrows(() => parseCli(args, env), CliError);
  assert(error instanceof PrunnerError, "CliError extends PrunnerError");
  assertEquals(error.exitCode, 2);
  assert(!error.message.includes("\n"), `one line: ${JSON.stringify(error.message)}`);
  return error;
}

const SECRET_A = "flag-secret-0123456789";
const SECRET_B = "env-secret-0123456789";

/** Per option: a flag value, an env value and what each resolves to. */
const CASES: {
  key: keyof ServeOptions;
  flag: string;
  env: string;
  flagArgs: string[];
  flagValue: unknown;
  envValue: string;
  envResult: unknown;
}[] = [
  {
    key: "verbose",
    flag: "--verbose",
    env: "PRUNNER_VERBOSE",
    flagArgs: ["--verbose=false"],
    flagValue: false,
    envValue: "true",
    envResult: true,
  },
  {
    key: "disableAnsi",
    flag: "--disable-ansi",
    env: "PRUNNER_DISABLE_ANSI",
    flagArgs: ["--disable-ansi=0"],
    flagValue: false,
    envValue: "1",
    envResult: true,
  },
  {
    key: "config",
    flag: "--config",
    env: "PRUNNER_CONFIG",
    flagArgs: ["--config", "flag.yml"],
    flagValue: "flag.yml",
    envValue: "env.yml",
    envResult: "env.yml",
  },
  {
    key: "jwtSecret",
    flag: "--jwt-secret",
    env: "PRUNNER_JWT_SECRET",
    flagArgs: ["--jwt-secret", SECRET_A],
    flagValue: SECRET_A,
    envValue: SECRET_B,
    envResult: SECRET_B,
  },
  {
    key: "data",
    flag: "--data",
    env: "PRUNNER_DATA",
    flagArgs: ["--data", "flag-data"],
    flagValue: "flag-data",
    envValue: "env-data",
    envResult: "env-data",
  },
  {
    key: "pattern",
    flag: "--pattern",
    env: "PRUNNER_PATTERN",
    flagArgs: ["--pattern", "*.yml"],
    flagValue: "*.yml",
    envValue: "**/*.yaml",
    envResult: "**/*.yaml",
  },
  {
    key: "path",
    flag: "--path",
    env: "PRUNNER_PATH",
    flagArgs: ["--path", "flag-path"],
    flagValue: "flag-path",
    envValue: "env-path",
    envResult: "env-path",
  },
  {
    key: "address",
    flag: "--address",
    env: "PRUNNER_ADDRESS",
    flagArgs: ["--address", ":8080"],
    flagValue: ":8080",
    envValue: "127.0.0.1:7070",
    envResult: "127.0.0.1:7070",
  },
  {
    key: "databaseUrl",
    flag: "--database-url",
    env: "PRUNNER_DATABASE_URL",
    flagArgs: ["--database-url", "postgres://flag@db/prunner"],
    flagValue: "postgres://flag@db/prunner",
    envValue: "postgres://env@db/prunner",
    envResult: "postgres://env@db/prunner",
  },
  {
    key: "nodeName",
    flag: "--node-name",
    env: "PRUNNER_NODE_NAME",
    flagArgs: ["--node-name", "web-1"],
    flagValue: "web-1",
    envValue: "web-2",
    envResult: "web-2",
  },
  {
    key: "heartbeatTimeoutMs",
    flag: "--heartbeat-timeout",
    env: "PRUNNER_HEARTBEAT_TIMEOUT",
    flagArgs: ["--heartbeat-timeout", "30s"],
    flagValue: 30_000,
    envValue: "5s",
    envResult: 5_000,
  },
  {
    key: "envFiles",
    flag: "--env-files",
    env: "PRUNNER_ENV_FILES",
    flagArgs: ["--env-files", "a.env"],
    flagValue: ["a.env"],
    envValue: "b.env,c.env",
    envResult: ["b.env", "c.env"],
  },
  {
    key: "watch",
    flag: "--watch",
    env: "PRUNNER_WATCH",
    flagArgs: ["--watch=FALSE"],
    flagValue: false,
    envValue: "True",
    envResult: true,
  },
  {
    key: "pollIntervalMs",
    flag: "--poll-interval",
    env: "PRUNNER_POLL_INTERVAL",
    flagArgs: ["--poll-interval", "1m30s"],
    flagValue: 90_000,
    envValue: "500ms",
    envResult: 500,
  },
  {
    key: "idempotencyTtlMs",
    flag: "--idempotency-ttl",
    env: "PRUNNER_IDEMPOTENCY_TTL",
    flagArgs: ["--idempotency-ttl", "1h"],
    flagValue: 3_600_000,
    envValue: "48h",
    envResult: 172_800_000,
  },
  {
    key: "ui",
    flag: "--ui",
    env: "PRUNNER_UI",
    flagArgs: ["--ui=false"],
    flagValue: false,
    envValue: "0",
    envResult: false,
  },
];

Deno.test("parseCli: no arguments serves with prunner's defaults", () => {
  assertEquals(serve([]), DEFAULTS);
});

Deno.test("parseCli: every option is covered by the precedence cases", () => {
  assertEquals(CASES.map((c) => c.flag).sort(), OPTIONS.map((o) => `--${o.name}`).sort());
  assertEquals(CASES.map((c) => c.env).sort(), OPTIONS.map((o) => o.env).sort());
});

for (const c of CASES) {
  Deno.test(`parseCli: ${c.flag} precedence flag > ${c.env} > default`, () => {
    assertEquals(serve([])[c.key], DEFAULTS[c.key], "default");
    assertEquals(serve([], { [c.env]: c.envValue })[c.key], c.envResult, "env over default");
    assertEquals(serve(c.flagArgs)[c.key], c.flagValue, "flag over default");
    assertEquals(
      serve(c.flagArgs, { [c.env]: c.envValue })[c.key],
      c.flagValue,
      "flag over env",
    );
  });
}

Deno.test("parseCli: --ui is on by default; the flag wins over PRUNNER_UI both ways", () => {
  assertEquals(serve(["--ui"], { PRUNNER_UI: "false" }).ui, true);
  assertEquals(serve(["--ui=true"], { PRUNNER_UI: "0" }).ui, true);
  assertEquals(serve(["-ui=false"], { PRUNNER_UI: "true" }).ui, false);
});

Deno.test("parseCli: boolean flags without a value are true and win over a false env", () => {
  const options = serve(["-v", "--disable-ansi", "--watch"], {
    PRUNNER_VERBOSE: "0",
    PRUNNER_DISABLE_ANSI: "false",
    PRUNNER_WATCH: "FALSE",
  });
  assertEquals([options.verbose, options.disableAnsi, options.watch], [true, true, true]);
});

Deno.test("parseCli: env booleans accept true/false/1/0 in any case", () => {
  for (const [value, expected] of [["TRUE", true], ["tRuE", true], ["1", true], ["False", false]]) {
    assertEquals(serve([], { PRUNNER_VERBOSE: value as string }).verbose, expected, `${value}`);
  }
});

Deno.test("parseCli: an empty env variable counts as unset, except for env files", () => {
  const options = serve([], { PRUNNER_DATA: "", PRUNNER_VERBOSE: "", PRUNNER_JWT_SECRET: "" });
  assertEquals(options.data, ".prunner");
  assertEquals(options.verbose, false);
  assertEquals(options.jwtSecret, null);
  assertEquals(serve([], { PRUNNER_ENV_FILES: "" }).envFiles, []);
});

Deno.test("parseCli: --env-files is repeatable, comma separated, and empty disables", () => {
  assertEquals(
    serve(["--env-files", "a,b", "--env-files=c", "--env-files", " d "]).envFiles,
    ["a", "b", "c", "d"],
  );
  assertEquals(serve(["--env-files", ""]).envFiles, []);
  assertEquals(serve(["--env-files="], { PRUNNER_ENV_FILES: "x" }).envFiles, []);
});

Deno.test("parseCli: global options before and after the command", () => {
  for (const args of [["--data", "x", "debug"], ["debug", "--data", "x"], ["debug", "-data=x"]]) {
    const command = parseCli(args, {});
    assertEquals(command.kind, "debug", args.join(" "));
    assertEquals((command as Extract<CliCommand, { kind: "debug" }>).options.data, "x");
  }
});

Deno.test("parseCli: Go-style single dash long flags and --flag=value", () => {
  const options = serve(["-path", "examples", "-watch", "-poll-interval=5s", "--address=:1"]);
  assertEquals(
    [options.path, options.watch, options.pollIntervalMs, options.address],
    ["examples", true, 5000, ":1"],
  );
});

Deno.test("parseCli: a flag value that looks like a flag is taken as the value", () => {
  assertEquals(serve(["--data", "--watch=x"]).data, "--watch=x");
});

Deno.test("parseCli: version and help commands", () => {
  assertEquals(parseCli(["version"], {}), { kind: "version" });
  for (const args of [["help"], ["h"], ["--help"], ["-h"], ["--watch", "-h"]]) {
    const command = parseCli(args, {});
    assertEquals(command.kind, "help", args.join(" "));
    assertMatch((command as { text: string }).text, /^NAME:\n {3}prunner - runs pipelines/);
  }
  for (const args of [["help", "debug"], ["debug", "--help"], ["h", "debug"]]) {
    const text = (parseCli(args, {}) as { text: string }).text;
    assertMatch(text, /prunner debug - Show where the JWT secret comes from/);
  }
});

Deno.test("parseCli: version and help ignore malformed option values", () => {
  assertEquals(parseCli(["version"], { PRUNNER_VERBOSE: "nope" }), { kind: "version" });
  assertEquals(parseCli(["help"], { PRUNNER_POLL_INTERVAL: "x" }).kind, "help");
});

Deno.test("parseCli: the help text lists every flag, its env variable and default", () => {
  const text = (parseCli(["help"], {}) as { text: string }).text;
  for (const option of OPTIONS) {
    const line = text.split("\n").find((l) => l.trimStart().startsWith(`--${option.name}`));
    assert(line, `help lists --${option.name}`);
    assert(line.includes(`[$${option.env}]`), `--${option.name} names $${option.env}`);
    if (option.short) assert(line.includes(`-${option.short}`), `short -${option.short}`);
  }
  assertMatch(text, /--verbose, -v +Log debug messages as well \(default: false\)/);
  assertMatch(text, /\(default: "\.prunner\.yml"\)/);
  assertMatch(text, /\(default: "\*\*\/pipelines\.\{yml,yaml\}"\)/);
  assertMatch(text, /\(default: "\.env", "\.env\.local"\)/);
  assertMatch(text, /\(default: 30s\)/);
  assertMatch(text, /--help, -h +Print this help/);
  for (const command of COMMANDS) {
    const label = [command.name, ...command.aliases].join(", ");
    assertMatch(text, new RegExp(`^ {3}${label}\\b.* {2}${command.summary}$`, "m"));
  }
});

Deno.test("parseCli: --database-url takes PostgreSQL URLs only, and never echoes them", () => {
  assertEquals(
    serve(["--database-url", "postgresql://u@db:5432/p"]).databaseUrl,
    "postgresql://u@db:5432/p",
  );
  for (const bad of ["nonsense", "http://u:secret@db/p"]) {
    const error = cliError(["--database-url", bad]);
    assertMatch(error.message, /^invalid value for --database-url: not a PostgreSQL URL/);
    assert(!error.message.includes("secret"), error.message);
  }
  assertMatch(
    cliError([], { PRUNNER_DATABASE_URL: "mysql://db/p" }).message,
    /^invalid value for \$PRUNNER_DATABASE_URL \(--database-url\)/,
  );
});

Deno.test("parseCli: an unknown flag exits 2 and names it, with a suggestion", () => {
  const error = cliError(["--dat", "x"]);
  assertMatch(error.message, /^unknown flag --dat \(did you mean --data\?\)/);
  assertMatch(cliError(["debug", "--nope"]).message, /^unknown flag --nope/);
});

Deno.test("parseCli: an unknown command or a stray argument exits 2", () => {
  assertMatch(cliError(["serve"]).message, /^unknown command "serve"/);
  assertMatch(cliError(["foo", "bar"]).message, /^unknown command "foo"; run "prunner help"/);
  assertMatch(
    cliError(["schedul", "x"]).message,
    /^unknown command "schedul" \(did you mean "schedule"\?\)/,
  );
  assertMatch(
    cliError(["debug", "extra"]).message,
    /^unexpected argument "extra" for command debug/,
  );
  assertMatch(
    cliError(["cancel", "a", "b"]).message,
    /^unexpected argument "b" for command cancel/,
  );
  assertMatch(cliError(["help", "nope"]).message, /no help topic for "nope"/);
});

Deno.test("parseCli: a missing value exits 2 and names the flag", () => {
  for (const flag of ["--data", "--config", "--poll-interval", "--env-files", "--jwt-secret"]) {
    assertEquals(cliError([flag]).message, `missing value for ${flag}`);
  }
  assertEquals(cliError(["debug", "--address"]).message, "missing value for --address");
});

Deno.test("parseCli: a bad duration exits 2 and names the flag or env variable", () => {
  assertMatch(
    cliError(["--poll-interval", "abc"]).message,
    /^invalid value for --poll-interval: invalid duration "abc"/,
  );
  assertMatch(
    cliError([], { PRUNNER_POLL_INTERVAL: "10" }).message,
    /^invalid value for \$PRUNNER_POLL_INTERVAL \(--poll-interval\): invalid duration "10"/,
  );
  assertMatch(
    cliError(["--poll-interval", "0s"]).message,
    /^invalid value for --poll-interval: must be greater than 0/,
  );
});

Deno.test("parseCli: a bad boolean exits 2 and names the env variable or flag", () => {
  for (const [env, flag] of [["PRUNNER_VERBOSE", "--verbose"], ["PRUNNER_WATCH", "--watch"]]) {
    const error = cliError([], { [env]: "yes" });
    assertEquals(
      error.message,
      `invalid value for $${env} (${flag}): "yes" is not a boolean (use true, false, 1 or 0)`,
    );
  }
  assertMatch(cliError(["--disable-ansi=maybe"]).message, /^invalid value for --disable-ansi: /);
});

Deno.test("parseCli: a JWT secret shorter than 16 characters exits 2", () => {
  assertMatch(
    cliError(["--jwt-secret", "0123456789abcde"]).message,
    /^invalid value for --jwt-secret: .*at least 16 characters.*got 15/,
  );
  assertMatch(
    cliError(["debug"], { PRUNNER_JWT_SECRET: "short" }).message,
    /^invalid value for \$PRUNNER_JWT_SECRET \(--jwt-secret\): /,
  );
  assertEquals(serve(["--jwt-secret", "0123456789abcdef"]).jwtSecret, "0123456789abcdef");
});

Deno.test("parseCli: an empty path-like flag exits 2", () => {
  assertEquals(cliError(["--data", ""]).message, "invalid value for --data: must not be empty");
});

function client(args: string[], env: Record<string, string | undefined> = {}) {
  const command = parseCli(args, env);
  assertEquals(command.kind, "client", args.join(" "));
  return command as Extract<CliCommand, { kind: "client" }>;
}

Deno.test("parseCli: schedule takes --var values as JSON when they are JSON", () => {
  const { request } = client([
    "schedule",
    "build",
    "--var",
    "n=3",
    "--var",
    'list=["a"]',
    "--var",
    "name=hello world",
    "--var",
    "eq=a=b",
    "--var",
    "empty=",
    "--partition",
    "site-a",
    "--vars",
    "vars.json",
    "--idempotency-key",
    "ci-run-7",
  ]);
  assertEquals(request, {
    command: "schedule",
    pipeline: "build",
    variables: [["n", 3], ["list", ["a"]], ["name", "hello world"], ["eq", "a=b"], ["empty", ""]],
    varsFile: "vars.json",
    partition: "site-a",
    idempotencyKey: "ci-run-7",
    wait: false,
    follow: false,
    json: false,
  });
  const follow = client(["schedule", "build", "--follow"]).request;
  assertEquals([follow.command, "wait" in follow && follow.wait], ["schedule", true]);
  assertEquals("idempotencyKey" in follow && follow.idempotencyKey, null);
});

Deno.test("parseCli: client commands and their arguments", () => {
  assertEquals(client(["pipelines", "--json"]).request, { command: "pipelines", json: true });
  assertEquals(client(["jobs"]).request, {
    command: "jobs",
    pipeline: null,
    limit: 20,
    json: false,
  });
  assertEquals(client(["jobs", "--pipeline", "p", "--limit", "5"]).request, {
    command: "jobs",
    pipeline: "p",
    limit: 5,
    json: false,
  });
  assertEquals(client(["job", "ID"]).request, { command: "job", id: "ID", json: false });
  assertEquals(client(["logs", "ID", "build", "--follow"]).request, {
    command: "logs",
    id: "ID",
    task: "build",
    follow: true,
    json: false,
  });
  assertEquals(client(["cancel", "ID"]).request, { command: "cancel", id: "ID" });
  assertEquals(client(["cluster"]).request, { command: "cluster", json: false });
  assertEquals(client(["cluster", "--json"]).request, { command: "cluster", json: true });
});

Deno.test("parseCli: the connection comes from --server, $PRUNNER_SERVER or --address", () => {
  const env = { PRUNNER_SERVER: "http://env:1", USER: "ann", PRUNNER_TOKEN: "t" };
  assertEquals(
    client(["jobs", "--server", "http://flag:2"], env).connection.server,
    "http://flag:2",
  );
  const fromEnv = client(["jobs"], env).connection;
  assertEquals([fromEnv.server, fromEnv.user, fromEnv.token], ["http://env:1", "ann", "t"]);
  const fromAddress = client(["jobs", "--address", ":7000", "--config", "c.yml"], {}).connection;
  assertEquals(
    [fromAddress.server, fromAddress.address, fromAddress.config, fromAddress.token],
    [null, ":7000", "c.yml", null],
  );
  assertEquals(client(["--server", "h:1", "jobs"]).connection.server, "h:1");
  assertMatch(
    cliError(["--server", "h:1"]).message,
    /^--server is for the client commands \(schedule, /,
  );
  assertMatch(cliError(["debug", "--server", "h:1"]).message, /^--server is for the client/);
  assertEquals(client(["jobs", "--jwt-secret", SECRET_A]).connection.jwtSecretFrom, "flag");
  assertEquals(client(["jobs"], { PRUNNER_JWT_SECRET: SECRET_B }).connection.jwtSecretFrom, "env");
});

Deno.test("parseCli: bad client command lines exit 2 with one line", () => {
  assertEquals(
    cliError(["schedule"]).message,
    'missing argument PIPELINE; run "prunner help" for usage',
  );
  assertMatch(
    cliError(["schedule", "x", "--var", "novalue"]).message,
    /--var: "novalue" is not KEY=VALUE/,
  );
  assertMatch(
    cliError(["schedule", "x", "--follow", "--json"]).message,
    /--json cannot be combined/,
  );
  assertMatch(cliError(["jobs", "--limit", "0"]).message, /--limit: "0" is not a whole number/);
  assertMatch(cliError(["jobs", "--limit", "x"]).message, /--limit: "x"/);
  assertMatch(cliError(["jobs", "--wait"]).message, /^unknown flag --wait/);
  assertEquals(cliError(["schedule", "x", "--var"]).message, "missing value for --var");
});

Deno.test("parseCli: every command has help naming each of its flags", () => {
  for (const spec of COMMANDS) {
    const text = (parseCli(["help", spec.name], {}) as { text: string }).text;
    assertMatch(text, new RegExp(`^ {3}prunner ${spec.name} - `, "m"));
    for (const option of spec.options) {
      const line = text.split("\n").find((l) => l.trimStart().startsWith(`--${option.name}`));
      assert(line, `help ${spec.name} lists --${option.name}`);
      if (option.env) assert(line.includes(`[$${option.env}]`), `names $${option.env}`);
    }
    assertEquals((parseCli([spec.name, "--help"], {}) as { text: string }).text, text);
  }
});
