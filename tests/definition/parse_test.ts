import { parseDefinitions } from "../../src/definition/mod.ts";
import type { PipelineDefinition } from "../../src/definition/types.ts";
import { assertEquals } from "../assert.ts";
import { parseFixture } from "./support.ts";

const DEFAULTS = {
  sourcePath: "fixtures/defaults.yml",
  concurrency: 1,
  queueLimit: null,
  queuePartitionLimit: null,
  queueStrategy: "append",
  startDelayMs: 0,
  continueRunningTasksAfterFailure: false,
  retentionPeriodMs: null,
  retentionCount: null,
  timeoutMs: null,
  env: {},
  onError: null,
  schedule: [],
} as const;

const NO_LIMITS = { timeoutMs: null, retries: 0, retryDelayMs: 0, retryOnTimeout: false };

function task(name: string, script: string[] = []) {
  return { name, script, dependsOn: [], allowFailure: false, env: {}, ...NO_LIMITS };
}

Deno.test("defaults apply to every field left out, and a missing script means no lines", () => {
  const pipelines = parseFixture("defaults.yml");
  assertEquals([...pipelines.keys()], ["minimal", "no_tasks"]);
  assertEquals(pipelines.get("minimal"), {
    ...DEFAULTS,
    name: "minimal",
    tasks: {
      only: task("only", ["echo hello"]),
      no_script: task("no_script"),
      empty_script: task("empty_script"),
      null_task: task("null_task"),
    },
  });
  assertEquals(pipelines.get("no_tasks"), { ...DEFAULTS, name: "no_tasks", tasks: {} });
});

Deno.test("every field is read into the typed definition", () => {
  const pipelines = parseFixture("all_fields.yml");
  const expected: PipelineDefinition = {
    name: "full",
    sourcePath: "fixtures/all_fields.yml",
    concurrency: 3,
    queueLimit: 5,
    queuePartitionLimit: null,
    queueStrategy: "replace",
    startDelayMs: 90_000,
    continueRunningTasksAfterFailure: true,
    retentionPeriodMs: 48 * 3_600_000,
    retentionCount: 10,
    env: { STAGE: "production" },
    tasks: {
      build: {
        name: "build",
        script: ["echo build", "sleep 1"],
        dependsOn: [],
        allowFailure: false,
        env: { TARGET: "linux" },
        timeoutMs: 600_000,
        retries: 2,
        retryDelayMs: 30_000,
        retryOnTimeout: true,
      },
      test: {
        name: "test",
        script: ["echo test"],
        dependsOn: ["build"],
        allowFailure: true,
        env: {},
        ...NO_LIMITS,
      },
    },
    timeoutMs: 3_600_000,
    onError: {
      script: ['echo "{{ .failedTaskName }} failed"'],
      env: { CHANNEL: "ops" },
      timeoutMs: 300_000,
    },
    schedule: [
      {
        cron: "30 3 * * *",
        timezone: "Europe/Berlin",
        variables: { mode: "full", depth: 2, tags: ["a", "b"] },
        catchUp: "latest",
      },
      { cron: "@every 15m", timezone: "UTC", variables: null, catchUp: "none" },
    ],
  };
  assertEquals(pipelines.get("full"), expected);
  const partitioned = pipelines.get("partitioned")!;
  assertEquals(partitioned.queueStrategy, "partitioned_replace");
  assertEquals(partitioned.queuePartitionLimit, 2);
  assertEquals(partitioned.queueLimit, null);
});

Deno.test("values are read as Go's YAML decoder reads them, merge keys included", () => {
  const compat = parseFixture("go_compatible_values.yml").get("compat")!;
  const env = {
    RETRIES: "3",
    RATIO: "1.50",
    HEX: "0x1F",
    ENABLED: "true",
    ANSWER: "yes",
    EMPTY: "",
    QUOTED: "007",
  };
  assertEquals(compat.env, env);
  assertEquals(compat.continueRunningTasksAfterFailure, true);
  assertEquals(compat.tasks.base, {
    name: "base",
    script: ["42", "echo base"],
    dependsOn: [],
    allowFailure: true,
    env: {},
    ...NO_LIMITS,
  });
  assertEquals(compat.tasks.derived, {
    name: "derived",
    script: ["42", "echo base"],
    dependsOn: ["base"],
    allowFailure: true,
    env: { ...env, RETRIES: "5" },
    ...NO_LIMITS,
  });
});

Deno.test("pipelines keep the order of the file", () => {
  const text = "pipelines:\n  zeta: {}\n  alpha: {}\n  mid: {}\n";
  assertEquals([...parseDefinitions(text, "p.yml").keys()], ["zeta", "alpha", "mid"]);
});

Deno.test("trigger variables are JSON data; keys stay as written, dates stay text", () => {
  const text = `
pipelines:
  p:
    schedule:
      - cron: "@hourly"
        variables: &defaults { region: eu }
      - cron: "@daily"
        variables:
          <<: *defaults
          n: 3
          on: yes
          day: 2026-01-01
          ratio: 1.5
          nothing: ~
          list: [a, 0x1F, { deep: true }]
    tasks: {}
`;
  const variables = parseDefinitions(text, "pipelines.yml").get("p")?.schedule[1].variables;
  assertEquals(variables, {
    n: 3,
    on: true,
    day: "2026-01-01",
    ratio: 1.5,
    nothing: null,
    list: ["a", 31, { deep: true }],
    region: "eu",
  });
});
