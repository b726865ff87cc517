import { DefinitionError, parseDefinitions } from "../../src/definition/mod.ts";
import { assertEquals, assertThrows } from "../assert.ts";
import { assertFixtureErrors, parseFixture } from "./support.ts";

Deno.test("YAML syntax errors name the line and column", () => {
  const error = assertFixtureErrors("syntax_error.yml.txt", [
    "fixtures/syntax_error.yml.txt:6:7: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]",
  ]);
  assertEquals(error.issues[0].line, 6);
  assertEquals(error.issues[0].column, 7);
});

Deno.test("a key given twice in one mapping is a YAML error", () => {
  assertFixtureErrors("duplicate_key.yml", [
    "fixtures/duplicate_key.yml:6:3: invalid YAML: Map keys must be unique",
  ]);
});

Deno.test("a string where a list is expected is rejected", () => {
  assertFixtureErrors("script_not_list.yml", [
    'fixtures/script_not_list.yml:5: pipeline "build", task "compile", field "script": must be a list of strings, got "make all"',
  ]);
  assertFixtureErrors("depends_on_not_list.yml", [
    'fixtures/depends_on_not_list.yml:7: pipeline "build", task "test", field "depends_on": must be a list of strings, got "compile"',
  ]);
});

Deno.test("a script line that YAML reads as a mapping points at the line, with a hint", () => {
  assertFixtureErrors("script_item_mapping.yml", [
    'fixtures/script_item_mapping.yml:7: pipeline "build", task "compile", field "script": item 2 must be a string, got a mapping (quote the item if it contains ": ")',
  ]);
});

Deno.test("concurrency must be an integer of at least 1", () => {
  assertFixtureErrors("concurrency_negative.yml", [
    'fixtures/concurrency_negative.yml:4: pipeline "deploy", field "concurrency": must be an integer ≥ 1, got -1',
  ]);
  assertFixtureErrors("concurrency_zero.yml", [
    'fixtures/concurrency_zero.yml:3: pipeline "deploy", field "concurrency": must be an integer ≥ 1, got 0',
  ]);
  assertFixtureErrors("concurrency_fraction.yml", [
    'fixtures/concurrency_fraction.yml:3: pipeline "deploy", field "concurrency": must be an integer ≥ 1, got 1.5',
  ]);
  assertFixtureErrors("concurrency_string.yml", [
    'fixtures/concurrency_string.yml:3: pipeline "deploy", field "concurrency": must be an integer ≥ 1, got "2"',
  ]);
});

Deno.test("pipelines, pipeline, tasks and task must be mappings", () => {
  assertFixtureErrors("pipelines_not_map.yml", [
    'fixtures/pipelines_not_map.yml:1: field "pipelines": must be a mapping of pipeline names to definitions, got a list',
  ]);
  assertFixtureErrors("pipeline_not_map.yml", [
    'fixtures/pipeline_not_map.yml:2: pipeline "deploy": must be a mapping of settings and tasks, got a list',
  ]);
  assertFixtureErrors("tasks_not_map.yml", [
    'fixtures/tasks_not_map.yml:3: pipeline "deploy", field "tasks": must be a mapping of task names to definitions, got a list',
  ]);
  assertFixtureErrors("task_not_map.yml", [
    'fixtures/task_not_map.yml:4: pipeline "deploy", task "ship": must be a mapping of task settings, got "echo ship"',
  ]);
});

Deno.test("booleans must be true or false", () => {
  assertFixtureErrors("bool_wrong_type.yml", [
    'fixtures/bool_wrong_type.yml:3: pipeline "deploy", field "continue_running_tasks_after_failure": must be true or false, got 1',
    'fixtures/bool_wrong_type.yml:6: pipeline "deploy", task "ship", field "allow_failure": must be true or false, got "sometimes"',
  ]);
});

Deno.test("env values must be strings and env a mapping", () => {
  assertFixtureErrors("env_not_string.yml", [
    'fixtures/env_not_string.yml:5: pipeline "deploy", field "env.HOSTS": must be a string, got a list',
    'fixtures/env_not_string.yml:8: pipeline "deploy", task "ship", field "env": must be a mapping of variable names to values, got "production"',
  ]);
});

Deno.test("queue_limit must not be negative", () => {
  assertFixtureErrors("queue_limit_negative.yml", [
    'fixtures/queue_limit_negative.yml:3: pipeline "deploy", field "queue_limit": must be an integer ≥ 0, got -1',
  ]);
});

Deno.test("start_delay must be a non-negative duration with a unit", () => {
  assertFixtureErrors("start_delay_negative.yml", [
    'fixtures/start_delay_negative.yml:4: pipeline "deploy", field "start_delay": must not be negative, got "-5s"',
  ]);
  assertFixtureErrors("start_delay_invalid.yml", [
    'fixtures/start_delay_invalid.yml:3: pipeline "deploy", field "start_delay": must be a duration with a unit, such as "300ms", "10s", "1m30s" or "48h", got "soon"',
    'fixtures/start_delay_invalid.yml:9: pipeline "sync", field "start_delay": must be a duration with a unit, such as "300ms", "10s", "1m30s" or "48h", got 10',
  ]);
});

Deno.test("timeouts and retries are checked for type and range", () => {
  assertFixtureErrors("timeouts_invalid.yml", [
    'fixtures/timeouts_invalid.yml:3: pipeline "deploy", field "timeout": must be a duration with a unit, such as "300ms", "10s", "1m30s" or "48h", got 600',
    'fixtures/timeouts_invalid.yml:6: pipeline "deploy", task "ship", field "timeout": must not be negative, got "-1m"',
    'fixtures/timeouts_invalid.yml:7: pipeline "deploy", task "ship", field "retries": must be an integer ≥ 0, got "three"',
    'fixtures/timeouts_invalid.yml:8: pipeline "deploy", task "ship", field "retry_delay": must be a duration with a unit, such as "300ms", "10s", "1m30s" or "48h", got "later"',
    'fixtures/timeouts_invalid.yml:9: pipeline "deploy", task "ship", field "retry_on_timeout": must be true or false, got "maybe"',
    'fixtures/timeouts_invalid.yml:12: pipeline "deploy", field "on_error.timeout": must be a duration with a unit, such as "300ms", "10s", "1m30s" or "48h", got a list',
  ]);
});

Deno.test("retry settings without effect are rejected", () => {
  assertFixtureErrors("retry_without_retries.yml", [
    'fixtures/retry_without_retries.yml:6: pipeline "deploy", task "ship", field "retry_delay": has no effect without retries; set retries to at least 1 or remove retry_delay',
    'fixtures/retry_without_retries.yml:7: pipeline "deploy", task "ship", field "retry_on_timeout": has no effect without retries; set retries to at least 1 or remove retry_on_timeout',
    'fixtures/retry_without_retries.yml:12: pipeline "deploy", task "fetch", field "retry_on_timeout": needs a timeout on the task (a pipeline timeout ends the job and is never retried); set timeout or remove retry_on_timeout',
  ]);
});

Deno.test("a zero timeout means no limit", () => {
  const text = "pipelines:\n  p:\n    timeout: 0\n    tasks:\n      t:\n        timeout: 0s\n";
  const p = parseDefinitions(text, "p.yml").get("p")!;
  assertEquals(p.timeoutMs, null);
  assertEquals(p.tasks.t.timeoutMs, null);
});

Deno.test("start_delay needs a wait list", () => {
  assertFixtureErrors("start_delay_without_queue.yml", [
    'fixtures/start_delay_without_queue.yml:4: pipeline "deploy", field "start_delay": needs a wait list, but queue_limit is 0: delayed jobs wait on it; remove start_delay or set queue_limit to at least 1',
  ]);
});

Deno.test("partitioned_replace needs queue_partition_limit ≥ 1 and no queue_limit", () => {
  assertFixtureErrors("partitioned_without_limit.yml", [
    'fixtures/partitioned_without_limit.yml:4: pipeline "import", field "queue_strategy": partitioned_replace needs queue_partition_limit (waiting jobs per partition, at least 1)',
  ]);
  assertFixtureErrors("partitioned_zero_limit.yml", [
    'fixtures/partitioned_zero_limit.yml:4: pipeline "import", field "queue_partition_limit": must be an integer ≥ 1, got 0',
  ]);
  assertFixtureErrors("partitioned_with_queue_limit.yml", [
    'fixtures/partitioned_with_queue_limit.yml:5: pipeline "import", field "queue_limit": is not allowed with queue_strategy partitioned_replace; use queue_partition_limit instead',
  ]);
});

Deno.test("queue_partition_limit is refused with append and replace", () => {
  assertFixtureErrors("partition_limit_without_partitions.yml", [
    'fixtures/partition_limit_without_partitions.yml:3: pipeline "appending", field "queue_partition_limit": is only allowed with queue_strategy partitioned_replace, not with append; use queue_limit instead',
    'fixtures/partition_limit_without_partitions.yml:9: pipeline "replacing", field "queue_partition_limit": is only allowed with queue_strategy partitioned_replace, not with replace; use queue_limit instead',
  ]);
});

Deno.test("an unknown queue_strategy lists the valid ones and suggests the closest", () => {
  assertFixtureErrors("unknown_strategy.yml", [
    'fixtures/unknown_strategy.yml:3: pipeline "import", field "queue_strategy": must be one of "append", "replace", "partitioned_replace", got "replcae"; did you mean "replace"?',
    'fixtures/unknown_strategy.yml:8: pipeline "export", field "queue_strategy": must be one of "append", "replace", "partitioned_replace", got "newest_wins"',
  ]);
});

Deno.test("depends_on naming a missing task points at the item", () => {
  assertFixtureErrors("missing_dependency.yml", [
    'fixtures/missing_dependency.yml:11: pipeline "release", task "build", field "depends_on": unknown task "tset", did you mean "test"?',
    'fixtures/missing_dependency.yml:12: pipeline "release", task "build", field "depends_on": unknown task "package"; tasks of this pipeline: lint, test, build',
  ]);
});

Deno.test("dependency cycles name the tasks in the cycle", () => {
  assertFixtureErrors("dependency_cycle.yml", [
    'fixtures/dependency_cycle.yml:5: pipeline "release", task "build", field "depends_on": dependency cycle: build → test → publish → build',
  ]);
  assertFixtureErrors("self_dependency.yml", [
    'fixtures/self_dependency.yml:5: pipeline "release", task "build", field "depends_on": dependency cycle: build → build',
  ]);
});

Deno.test("unknown keys at every level are reported with the closest valid key", () => {
  assertFixtureErrors("unknown_keys.yml", [
    'fixtures/unknown_keys.yml:1: unknown key "pipeline_defaults"; valid keys are pipelines',
    'fixtures/unknown_keys.yml:4: pipeline "release": unknown key "concurency", did you mean "concurrency"?',
    'fixtures/unknown_keys.yml:5: pipeline "release": unknown key "colour"; valid keys are concurrency, queue_limit, queue_partition_limit, queue_strategy, start_delay, continue_running_tasks_after_failure, retention_period, retention_count, timeout, env, tasks, on_error, schedule',
    'fixtures/unknown_keys.yml:10: pipeline "release", task "test": unknown key "depends-on", did you mean "depends_on"?',
    'fixtures/unknown_keys.yml:11: pipeline "release", task "test": unknown key "allowFailure", did you mean "allow_failure"?',
    'fixtures/unknown_keys.yml:14: pipeline "release", field "on_error": unknown key "scripts", did you mean "script"?',
  ]);
});

Deno.test("a file must have the top-level key pipelines", () => {
  assertFixtureErrors("top_level_typo.yml", [
    'fixtures/top_level_typo.yml:1: unknown key "pipeline", did you mean "pipelines"?',
  ]);
  assertFixtureErrors("top_level_without_pipelines.yml", [
    'fixtures/top_level_without_pipelines.yml:1: missing the top-level key "pipelines"',
  ]);
  assertFixtureErrors("top_level_list.yml", [
    'fixtures/top_level_list.yml:1: the top level must be a mapping with the key "pipelines", got a list',
  ]);
});

Deno.test("an empty file, a file of comments and an empty pipelines key have no pipelines", () => {
  assertEquals(parseFixture("empty.yml").size, 0);
  assertEquals(parseFixture("comments_only.yml").size, 0);
  assertEquals(parseFixture("null_pipelines.yml").size, 0);
});

Deno.test("retention_count and retention_period must not be negative", () => {
  assertFixtureErrors("retention_count_negative.yml", [
    'fixtures/retention_count_negative.yml:3: pipeline "nightly", field "retention_count": must be an integer ≥ 0, got -3',
  ]);
  assertFixtureErrors("retention_period_negative.yml", [
    'fixtures/retention_period_negative.yml:3: pipeline "nightly", field "retention_period": must not be negative, got "-48h"',
  ]);
});

Deno.test("retention 0 means no limit, as in prunner", () => {
  const nightly = parseFixture("retention_zero.yml").get("nightly")!;
  assertEquals(nightly.retentionCount, null);
  assertEquals(nightly.retentionPeriodMs, null);
});

Deno.test("the task name on_error is reserved", () => {
  assertFixtureErrors("reserved_task_name.yml", [
    'fixtures/reserved_task_name.yml:4: pipeline "deploy", task "on_error": the task name "on_error" is reserved for the pipeline\'s on_error handler; rename the task',
  ]);
});

Deno.test("all problems of a file are reported at once, in line order", () => {
  const error = assertFixtureErrors("many_errors.yml", [
    'fixtures/many_errors.yml:3: pipeline "deploy", field "concurrency": must be an integer ≥ 1, got 0',
    'fixtures/many_errors.yml:4: pipeline "deploy", field "queue_limit": must be an integer ≥ 0, got -2',
    'fixtures/many_errors.yml:7: pipeline "deploy", task "ship", field "script": must be a list of strings, got "echo ship"',
    'fixtures/many_errors.yml:10: pipeline "sync", field "start_delay": must be a duration with a unit, such as "300ms", "10s", "1m30s" or "48h", got "later"',
  ]);
  assertEquals(error.issues.map((issue) => issue.pipeline), ["deploy", "deploy", "deploy", "sync"]);
  assertEquals(error.issues[2].task, "ship");
  assertEquals(error.issues[2].field, "script");
});

Deno.test("merge keys must merge other mappings", () => {
  assertFixtureErrors("bad_merge.yml", [
    'fixtures/bad_merge.yml:3: pipeline "deploy", field "<<": a merge key cannot merge a mapping into itself',
    'fixtures/bad_merge.yml:6: pipeline "deploy", task "ship", field "<<": a merge key needs a mapping, got "not a mapping"',
  ]);
});

Deno.test("a file holds one YAML document", () => {
  assertFixtureErrors("two_documents.yml", [
    "fixtures/two_documents.yml:3:1: invalid YAML: a definition file holds one YAML document; remove the second `---` or move it to its own file",
  ]);
});

Deno.test("schedule entries with bad expressions, zones or fields name pipeline and field", () => {
  const file = "fixtures/schedule_invalid.yml";
  assertFixtureErrors("schedule_invalid.yml", [
    `${file}:4: pipeline "nightly", field "schedule[0].cron": invalid cron expression: Invalid value for minute: 61`,
    `${file}:6: pipeline "nightly", field "schedule[1].timezone": unknown time zone "Europe/Berln"; use an IANA name such as "Europe/Berlin" or "UTC"`,
    `${file}:7: pipeline "nightly", field "schedule[1].catch_up": must be one of "none", "latest", "all", got "everything"`,
    `${file}:8: pipeline "nightly", field "schedule[2].cron": is missing: say when it runs, e.g. cron: "30 3 * * *"`,
    `${file}:9: pipeline "nightly", field "schedule[3].cron": @every needs a duration such as "15m" or "1h30m", got "@every 10 minutes"`,
    `${file}:10: pipeline "nightly", field "schedule[3].variables": must be a mapping of variable names to values, got a list`,
    `${file}:11: pipeline "nightly", field "schedule[4].cron": "0 0 31 2 *" never matches a date; check the day of month against the month`,
    `${file}:13: pipeline "nightly", field "schedule[5]": unknown key "timzone", did you mean "timezone"?`,
    `${file}:14: pipeline "nightly", field "schedule[6].cron": repeats schedule[5] (same cron and timezone); merge the two entries`,
    `${file}:15: pipeline "nightly", field "schedule[7]": must be a mapping with a "cron" key, got "@daily"`,
    `${file}:20: pipeline "weekly", field "schedule": must be a list of triggers such as "- cron: 30 3 * * *", got "@weekly"`,
  ]);
});

Deno.test("@every shorter than a second and six-field cron expressions are refused", () => {
  const text = (cron: string) =>
    `pipelines:\n  p:\n    schedule:\n      - cron: "${cron}"\n    tasks: {}\n`;
  const problem = (cron: string) => {
    try {
      parseDefinitions(text(cron), "pipelines.yml");
      return null;
    } catch (error) {
      return (error as Error).message;
    }
  };
  assertEquals(
    problem("@every 500ms"),
    'pipelines.yml:4: pipeline "p", field "schedule[0].cron": @every needs at least 1s, got "@every 500ms"',
  );
  assertEquals(problem("0 30 3 * * *")?.includes("requires exactly 5 parts"), true);
  assertEquals(problem("@hourly"), null);
});

Deno.test("trigger variables nested more than 64 levels deep are refused", () => {
  const nested = (depth: number) => "{a: ".repeat(depth) + "1" + "}".repeat(depth);
  const text = (depth: number) =>
    `pipelines:\n  p:\n    schedule:\n      - cron: "@daily"\n        variables: ${
      nested(depth)
    }\n    tasks: {}\n`;
  // The variables mapping is the first level, as in a schedule request (MAX_VARIABLES_DEPTH).
  assertEquals(parseDefinitions(text(64), "pipelines.yml").get("p")?.schedule.length, 1);
  assertThrows(
    () => parseDefinitions(text(65), "pipelines.yml"),
    DefinitionError,
    'pipelines.yml:5: pipeline "p", field "schedule[0].variables": must not be nested more than 64 levels deep',
  );
});
