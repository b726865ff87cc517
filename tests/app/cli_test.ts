/**
 * End-to-end tests of the command-line client: `deno run main.ts <command>` against a real
 * prunner started by `startPrunner`.
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { childEnv } from "../child_env.ts";
import {
  type ApiJob,
  cliCommand,
  clientEnv,
  DENO_RUN_MAIN,
  runCli,
  SECRET,
  startPrunner,
  waitFor,
  workspace,
} from "./support.ts";

const PIPELINES = `
pipelines:
  greet:
    tasks:
      hello:
        script:
          - echo "name={{ .name }} n={{ .n }} first={{ index .list 0 }} from_file={{ .from_file }}"
  ordered:
    tasks:
      first:
        script:
          - echo one
          - echo two
      second:
        depends_on: [first]
        script:
          - echo three >&2
          - printf 'four\\nfive'
  broken:
    schedule:
      - cron: "0 0 1 1 *" # New Year: shows a next run, starts no job during the tests
    tasks:
      fails:
        script:
          - echo before
          - exit 4
  sleepy:
    tasks:
      nap:
        script:
          - echo started
          - sleep 60
  gated:
    tasks:
      hold:
        script:
          - echo waiting for the gate
          - while [ ! -f {{ shellquote .gate }} ]; do sleep 0.1; done
          - echo through
  narrow:
    concurrency: 1
    queue_limit: 1
    tasks:
      hold:
        script:
          - sleep 60
`;

const GREET_VARIABLES = { list: ["x"], name: "a", n: 1, from_file: "b" };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function oneLine(text: string): string {
  const lines = text.trimEnd().split("\n");
  assertEquals(lines.length, 1, `one line: ${JSON.stringify(text)}`);
  return lines[0];
}

Deno.test("schedule passes --var and --vars as job variables and prints the job id", async () => {
  await using ws = await workspace(PIPELINES);
  await using prunner = await startPrunner(ws);
  await Deno.writeTextFile(`${ws.root}/vars.json`, '{"from_file": "yes", "n": 1}');
  const result = await runCli(
    [
      "schedule",
      "greet",
      "--vars",
      "vars.json",
      "--var",
      "name=Ann Lee",
      "--var",
      "n=3",
      "--var",
      'list=["a","b"]',
    ],
    clientEnv(prunner),
    { cwd: ws.root },
  );
  assertEquals(result.code, 0, result.stderr);
  const id = oneLine(result.stdout);
  assertMatch(id, UUID);
  const job = await prunner.completed(id) as ApiJob & { variables: unknown; user: string };
  assertEquals(job.variables, { from_file: "yes", n: 3, name: "Ann Lee", list: ["a", "b"] });
  assertEquals(job.user, "alice");
  const logs = await prunner.json<{ stdout: string }>("GET", `/job/logs?id=${id}&task=hello`);
  assertEquals(logs.stdout, "name=Ann Lee n=3 first=a from_file=yes\n");

  const fromStdin = await runCli(
    ["schedule", "greet", "--vars", "-", "--wait"],
    clientEnv(prunner),
    {
      stdin: '{"name": "stdin", "n": 0, "list": ["z"], "from_file": "no"}',
    },
  );
  assertEquals(fromStdin.code, 0, fromStdin.stderr);
  const stdinJob = await prunner.job(oneLine(fromStdin.stdout)) as ApiJob & { variables: unknown };
  assertEquals(stdinJob.variables, { name: "stdin", n: 0, list: ["z"], from_file: "no" });
});

Deno.test("schedule --wait exits 0 on success and 1 on failure, with a summary line", async () => {
  await using ws = await workspace(PIPELINES);
  await using prunner = await startPrunner(ws);
  const ok = await runCli(["schedule", "ordered", "--wait"], clientEnv(prunner));
  assertEquals(ok.code, 0, ok.stderr);
  const id = oneLine(ok.stdout);
  assertEquals((await prunner.job(id)).completed, true, "the job had ended when the CLI returned");
  assertMatch(oneLine(ok.stderr), new RegExp(`^job ${id} \\(ordered\\) succeeded in `));

  const failed = await runCli(["schedule", "broken", "--wait"], clientEnv(prunner));
  assertEquals(failed.code, 1, failed.stderr);
  const failedId = oneLine(failed.stdout);
  assertMatch(
    oneLine(failed.stderr),
    new RegExp(`^job ${failedId} \\(broken\\) failed after .*: `),
  );
  assertEquals((await prunner.job(failedId)).errored, true);
});

Deno.test("schedule --wait exits 3 when the job is canceled with prunner cancel", async () => {
  await using ws = await workspace(PIPELINES);
  await using prunner = await startPrunner(ws);
  const waiting = cliCommand(["schedule", "sleepy", "--wait"], clientEnv(prunner)).spawn();
  const output = waiting.output();
  const jobs = () => prunner.json<{ jobs: ApiJob[] }>("GET", "/pipelines/jobs");
  const job = await waitFor("the job to run", async () => {
    const found = (await jobs()).jobs.find((j) => j.pipeline === "sleepy");
    return found?.tasks[0].status === "running" ? found : null;
  }, 60_000);
  const cancel = await runCli(["cancel", job.id], clientEnv(prunner));
  assertEquals(cancel.code, 0, cancel.stderr);
  assertEquals(oneLine(cancel.stdout), `job ${job.id} is being canceled`);
  const result = await output;
  const stderr = new TextDecoder().decode(result.stderr);
  assertEquals(result.code, 3, stderr);
  assertEquals(new TextDecoder().decode(result.stdout).trim(), job.id);
  assertMatch(stderr, new RegExp(`job ${job.id} \\(sleepy\\) canceled`));
});

Deno.test("schedule --follow prints each task's lines in order, led by the task name", async () => {
  await using ws = await workspace(PIPELINES);
  await using prunner = await startPrunner(ws);
  const result = await runCli(["schedule", "ordered", "--follow"], clientEnv(prunner));
  assertEquals(result.code, 0, result.stderr);
  const [id, ...lines] = result.stdout.trimEnd().split("\n");
  assertMatch(id, UUID);
  assertEquals(lines, ["first  | one", "first  | two", "second | four", "second | five"]);
  const stderr = result.stderr.trimEnd().split("\n");
  assertEquals(stderr[0], "second | three");
  assertMatch(stderr[1], new RegExp(`^job ${id} \\(ordered\\) succeeded in `));
  assertEquals(stderr.length, 2);

  const failed = await runCli(["schedule", "broken", "--follow"], clientEnv(prunner));
  assertEquals(failed.code, 1, failed.stderr);
  assertEquals(failed.stdout.trimEnd().split("\n").slice(1), ["fails | before"]);
});

Deno.test("on a terminal, --follow shows a status line and coloured task names", async () => {
  await using ws = await workspace(PIPELINES);
  await using prunner = await startPrunner(ws);
  const gate = `${ws.root}/gate`;
  const quote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;
  const line = [...DENO_RUN_MAIN, "schedule", "gated", "--var", `gate=${gate}`, "--follow"]
    .map(quote).join(" ");
  // script(1) runs the client on a pseudo-terminal and copies what it shows to its stdout.
  const child = new Deno.Command("script", {
    args: ["-qec", line, "/dev/null"],
    env: childEnv({ ...clientEnv(prunner), TERM: "xterm" }),
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let shown = "";
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) shown += decoder.decode(chunk, { stream: true });
  })();
  const prefix = "\x1b[36mhold\x1b[0m | ";
  await waitFor(
    "the status line with the running task, and the task's first line",
    () => /\d:\d\d running hold/.test(shown) && shown.includes(`${prefix}waiting for the gate`),
    60_000,
  );
  await Deno.writeTextFile(gate, "");
  const status = await child.status;
  await reading;
  await child.stdin.close().catch(() => {});
  await child.stderr.cancel();
  assertEquals(status.code, 0, JSON.stringify(shown));
  assert(shown.includes(`${prefix}through`), JSON.stringify(shown));
  // The status line is cleared (erase line) before each output line and at the end.
  // deno-lint-ignore no-control-regex
  assertMatch(shown, /\r\x1b\[2Kjob [0-9a-f-]+ \(gated\) succeeded in /);
});

Deno.test("logs --follow streams a running job's output until it ends", async () => {
  await using ws = await workspace(PIPELINES);
  await using prunner = await startPrunner(ws);
  const id = await prunner.schedule("sleepy");
  const following = cliCommand(["logs", id, "--follow"], clientEnv(prunner)).spawn();
  let shown = "";
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of following.stdout) shown += decoder.decode(chunk, { stream: true });
  })();
  // The line arrives while the task still runs (it sleeps for a minute after writing it).
  await waitFor("the output while the task runs", () => shown === "nap | started\n", 60_000);
  assertEquals((await prunner.job(id)).completed, false);
  await prunner.json("POST", `/job/cancel?id=${id}`);
  const status = await following.status;
  await reading;
  await following.stderr.cancel();
  assertEquals(status.code, 3);
  assertEquals(shown, "nap | started\n");
});

Deno.test("listing commands print tables, and JSON that parses with --json", async () => {
  await using ws = await workspace(PIPELINES);
  await using prunner = await startPrunner(ws);
  const env = clientEnv(prunner);
  const ids = [];
  for (const pipeline of ["ordered", "greet", "ordered"]) {
    const id = await prunner.schedule(pipeline, GREET_VARIABLES);
    await prunner.completed(id);
    ids.push(id);
  }

  const pipelines = await runCli(["pipelines", "--json"], env);
  assertEquals(pipelines.code, 0, pipelines.stderr);
  const parsed = JSON.parse(pipelines.stdout) as { pipeline: string; schedulable: boolean }[];
  assertEquals(parsed.map((p) => p.pipeline), [
    "broken",
    "gated",
    "greet",
    "narrow",
    "ordered",
    "sleepy",
  ]);
  assert(parsed.every((p) => p.schedulable), pipelines.stdout);
  const table = (await runCli(["pipelines"], env)).stdout.split("\n");
  assertMatch(table[0], /^PIPELINE +SCHEDULABLE +RUNNING +WAITING +NEXT RUN$/);
  assertMatch(table[1], /^broken +yes +0 +0 +\d{4}-01-01 00:00:00$/);
  assertMatch(table[2], /^gated +yes +0 +0$/);
  assertEquals(
    (parsed[0] as { runningJobs?: number }).runningJobs,
    0,
    "counts from /pipelines/status",
  );

  const jobs = await runCli(["jobs", "--pipeline", "ordered", "--limit", "1", "--json"], env);
  assertEquals(jobs.code, 0, jobs.stderr);
  assertEquals((JSON.parse(jobs.stdout) as ApiJob[]).map((j) => j.id), [ids[2]]);
  const all = JSON.parse((await runCli(["jobs", "--json"], env)).stdout) as ApiJob[];
  assertEquals(all.map((j) => j.id), [...ids].reverse());
  const jobsTable = (await runCli(["jobs"], env)).stdout.trimEnd().split("\n");
  assertMatch(jobsTable[0], /^ID +PIPELINE +STATE +CREATED +DURATION +USER$/);
  assertEquals(jobsTable.length, 4);
  assertMatch(jobsTable[1], new RegExp(`^${ids[2]} +ordered +succeeded +\\d{4}-\\d\\d-\\d\\d `));
  // Columns line up: every row has its state where the header has STATE.
  const stateColumn = jobsTable[0].indexOf("STATE");
  assert(
    jobsTable.slice(1).every((row) => row.slice(stateColumn).startsWith("succeeded")),
    jobsTable.join("\n"),
  );

  const job = JSON.parse((await runCli(["job", ids[0], "--json"], env)).stdout) as ApiJob;
  assertEquals([job.id, job.pipeline, job.tasks.map((t) => t.name)], [
    ids[0],
    "ordered",
    ["first", "second"],
  ]);
  const detail = (await runCli(["job", ids[0]], env)).stdout;
  assertMatch(detail, new RegExp(`^Job: +${ids[0]}$`, "m"));
  assertMatch(detail, /^State: +succeeded$/m);
  assertMatch(detail, /^Variables: +\{"list":\["x"\],"name":"a","n":1,"from_file":"b"\}$/m);
  assertMatch(detail, /^second +done +0 +/m);

  const logs = JSON.parse((await runCli(["logs", ids[0], "--json"], env)).stdout);
  assertEquals(logs, [
    { task: "first", stdout: "one\ntwo\n", stderr: "" },
    { task: "second", stdout: "four\nfive", stderr: "three\n" },
  ]);
  const one = await runCli(["logs", ids[0], "second"], env);
  assertEquals([one.stdout, one.stderr], ["four\nfive", "three\n"]);
  const prefixed = await runCli(["logs", ids[0]], env);
  assertEquals(prefixed.stdout, "first  | one\nfirst  | two\nsecond | four\nsecond | five\n");
  assertEquals(prefixed.stderr, "second | three\n");

  const scheduled = await runCli(["schedule", "greet", "--vars", "-", "--json"], env, {
    stdin: JSON.stringify(GREET_VARIABLES),
  });
  const { jobId } = JSON.parse(scheduled.stdout) as { jobId: string };
  assertMatch(jobId, UUID);
  const waited = await runCli(["schedule", "greet", "--vars", "-", "--wait", "--json"], env, {
    stdin: JSON.stringify(GREET_VARIABLES),
  });
  const ended = JSON.parse(waited.stdout) as ApiJob;
  assertEquals([ended.pipeline, ended.completed, ended.errored], ["greet", true, false]);
});

Deno.test("errors are one line: unknown pipeline, queue full, unknown job", async () => {
  await using ws = await workspace(PIPELINES);
  await using prunner = await startPrunner(ws);
  const env = clientEnv(prunner);
  const unknown = await runCli(["schedule", "greeet"], env);
  assertEquals(unknown.code, 1);
  assertEquals(
    oneLine(unknown.stderr),
    'prunner: pipeline "greeet" is not defined; defined pipelines: broken, gated, greet, narrow, ordered, sleepy',
  );
  assertEquals(unknown.stdout, "");

  assertEquals((await runCli(["schedule", "narrow"], env)).code, 0);
  assertEquals((await runCli(["schedule", "narrow"], env)).code, 0);
  const full = await runCli(["schedule", "narrow"], env);
  assertEquals(full.code, 1);
  assertMatch(oneLine(full.stderr), /^prunner: queue full: pipeline "narrow" .*\(HTTP 400\)$/);

  const done = await prunner.schedule("greet", GREET_VARIABLES);
  await prunner.completed(done);
  const again = await runCli(["cancel", done], env);
  assertEquals(again.code, 1);
  assertMatch(oneLine(again.stderr), /^prunner: job is already completed: .* \(HTTP 409\)$/);

  const missing = await runCli(["job", "52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8"], env);
  assertEquals(missing.code, 1);
  assertMatch(oneLine(missing.stderr), /^prunner: job not found: 52a5cb79.* \(HTTP 404\)$/);
});

Deno.test("a refused token names where its secret came from", async () => {
  await using ws = await workspace(PIPELINES);
  await using prunner = await startPrunner(ws);
  const server = { PRUNNER_SERVER: prunner.url };
  const wrongEnv = await runCli(["jobs"], {
    ...server,
    PRUNNER_JWT_SECRET: "wrong-secret-0123456789",
  });
  assertEquals(wrongEnv.code, 1);
  assertMatch(
    oneLine(wrongEnv.stderr),
    /^prunner: the server refused the token: token signature does not match the secret \(HTTP 401\); the token was signed with the secret from \$PRUNNER_JWT_SECRET$/,
  );
  await Deno.writeTextFile(`${ws.root}/client.yml`, "jwt_secret: another-wrong-secret-0123\n");
  const wrongFile = await runCli(["pipelines", "--config", "client.yml"], server, { cwd: ws.root });
  assertEquals(wrongFile.code, 1);
  assertMatch(
    oneLine(wrongFile.stderr),
    new RegExp(`signed with jwt_secret from ${ws.root}/client.yml$`),
  );
  const wrongToken = await runCli(["pipelines"], { ...server, PRUNNER_TOKEN: "not.a.token" });
  assertMatch(oneLine(wrongToken.stderr), /; the token came from \$PRUNNER_TOKEN$/);

  await Deno.writeTextFile(`${ws.root}/right.yml`, `jwt_secret: ${SECRET}\n`);
  const right = await runCli(["pipelines", "--config", "right.yml"], server, { cwd: ws.root });
  assertEquals(right.code, 0, right.stderr);

  const none = await runCli(["pipelines", "--config", "absent.yml"], server, { cwd: ws.root });
  assertEquals(none.code, 1);
  assertMatch(oneLine(none.stderr), /^prunner: no token: set \$PRUNNER_TOKEN/);
  assert(!(await exists(`${ws.root}/absent.yml`)), "the client creates no config file");
});

Deno.test("an unreachable server is named with its URL", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const env = { PRUNNER_JWT_SECRET: SECRET };
  const result = await runCli(["jobs", "--server", `127.0.0.1:${port}`], env);
  assertEquals(result.code, 1);
  assertMatch(
    oneLine(result.stderr),
    new RegExp(`^prunner: cannot reach prunner at http://127\\.0\\.0\\.1:${port}: .*refused`, "i"),
  );
  const fromAddress = await runCli(["pipelines", "--address", `127.0.0.1:${port}`], env);
  assertMatch(oneLine(fromAddress.stderr), new RegExp(`at http://127\\.0\\.0\\.1:${port}: `));
});

Deno.test("bad command lines exit 2 with one line and leave the server alone", async () => {
  const env = { PRUNNER_JWT_SECRET: SECRET, PRUNNER_SERVER: "127.0.0.1:9" };
  for (
    const [args, pattern] of [
      [["foo", "bar"], /^prunner: unknown command "foo"; run "prunner help" for usage$/],
      [["schedule"], /^prunner: missing argument PIPELINE/],
      [["schedule", "x", "--var", "oops"], /^prunner: invalid value for --var: "oops"/],
      [["schedule", "x", "--wiat"], /^prunner: unknown flag --wiat \(did you mean --wait\?\)/],
      [["jobs", "--limit", "-1"], /^prunner: (invalid value for --limit|unknown flag -1)/],
      [
        ["schedule", "x", "--vars", "/nonexistent.json"],
        /^prunner: invalid value for --vars: cannot read/,
      ],
    ] as const
  ) {
    const result = await runCli([...args], env);
    assertEquals(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assertMatch(oneLine(result.stderr), pattern);
  }
});

Deno.test("help describes every command", async () => {
  const result = await runCli(["help"], {});
  assertEquals(result.code, 0);
  for (const name of ["schedule", "pipelines", "jobs", "job", "logs", "cancel", "debug"]) {
    assertMatch(result.stdout, new RegExp(`^ {3}${name}\\b`, "m"));
  }
  const schedule = await runCli(["help", "schedule"], {});
  assertMatch(schedule.stdout, /--var KEY=VALUE/);
  assertMatch(schedule.stdout, /--server URL .*\[\$PRUNNER_SERVER\]/);
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
