/**
 * Parsing one `pipelines.yml` into typed, validated pipeline definitions.
 *
 * YAML is read with YAML 1.1 rules, like prunner's Go decoder: `yes`/`no`/`on`/`off` are
 * booleans, merge keys (`<<: *anchor`) work, and values of string fields (env, script lines)
 * keep their source text (`1.50` stays `1.50`).
 *
 * @module
 */
import { isMap, isSeq, LineCounter, type Node, parseDocument, type YAMLError } from "yaml";
import { DefinitionError, type DefinitionIssue } from "./error.ts";
import {
  checkKeys,
  mapEntries,
  readBoolean,
  readChoice,
  readDuration,
  readEnv,
  readInteger,
  readStringList,
  readText,
  readVariables,
  report,
  type Scope,
} from "./fields.ts";
import { deref, describe, type Entry, isNull, lineOf, type SourceFile } from "./nodes.ts";
import { checkPipelineRules, type RuleViolation } from "./rules.ts";
import { isTimeZone, scheduleProblem } from "../engine/triggers.ts";
import { triggerId } from "../engine/job.ts";
import type {
  CatchUp,
  OnErrorDefinition,
  PipelineDefinition,
  QueueStrategy,
  TaskDefinition,
  TriggerDefinition,
} from "./types.ts";

const TOP_KEYS = ["pipelines"];
const PIPELINE_KEYS = [
  "concurrency",
  "queue_limit",
  "queue_partition_limit",
  "queue_strategy",
  "start_delay",
  "continue_running_tasks_after_failure",
  "retention_period",
  "retention_count",
  "timeout",
  "env",
  "tasks",
  "on_error",
  "schedule",
];
const TASK_KEYS = [
  "script",
  "depends_on",
  "allow_failure",
  "env",
  "timeout",
  "retries",
  "retry_delay",
  "retry_on_timeout",
];
const ON_ERROR_KEYS = ["script", "env", "timeout"];
const TRIGGER_KEYS = ["cron", "timezone", "variables", "catch_up"];
const CATCH_UPS: readonly CatchUp[] = ["none", "latest", "all"];
const QUEUE_STRATEGIES: readonly QueueStrategy[] = ["append", "replace", "partitioned_replace"];

/** The pipelines of one file, the line each is declared on, and every issue found. */
export interface ParsedFile {
  readonly pipelines: Map<string, PipelineDefinition>;
  readonly lines: Map<string, number | null>;
  readonly issues: DefinitionIssue[];
}

/**
 * Parses the text of one definition file; `file` is used in messages and as `sourcePath`.
 * An empty file (or one with only comments) has no pipelines.
 *
 * @example
 * ```ts
 * const text = "pipelines:\n  hello:\n    tasks:\n      say:\n        script: [echo hi]\n";
 * parseDefinitions(text, "pipelines.yml").get("hello")?.concurrency; // 1
 * ```
 * @throws {DefinitionError} listing every problem in the file.
 */
export function parseDefinitions(text: string, file: string): Map<string, PipelineDefinition> {
  const parsed = parseFile(text, file);
  if (parsed.issues.length > 0) throw new DefinitionError(parsed.issues);
  return parsed.pipelines;
}

/** Like {@linkcode parseDefinitions}, but returns the issues instead of throwing them. */
export function parseFile(text: string, path: string): ParsedFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { version: "1.1", lineCounter: lines });
  const result: ParsedFile = { pipelines: new Map(), lines: new Map(), issues: [] };
  if (doc.errors.length > 0) {
    result.issues.push(...doc.errors.map((error) => syntaxIssue(path, error)));
    return result;
  }
  const file: SourceFile = { path, doc, lines };
  const top: Scope = { file, issues: result.issues, pipeline: null, task: null, section: null };
  const root = deref(file, doc.contents);
  if (isNull(root)) return result;
  if (!isMap(root)) {
    report(
      top,
      null,
      root,
      `the top level must be a mapping with the key "pipelines", got ${describe(root)}`,
    );
    return result;
  }
  const topEntries = mapEntries(top, root);
  const unknown = checkKeys(top, topEntries, TOP_KEYS);
  const pipelines = topEntries.find((entry) => entry.name === "pipelines");
  if (pipelines === undefined) {
    if (unknown === 0) report(top, null, root, `missing the top-level key "pipelines"`);
    return result;
  }
  if (isNull(pipelines.value)) return result;
  if (!isMap(pipelines.value)) {
    report(
      top,
      "pipelines",
      pipelines.key,
      `must be a mapping of pipeline names to definitions, got ${describe(pipelines.value)}`,
    );
    return result;
  }
  for (const entry of mapEntries(top, pipelines.value)) {
    const definition = parsePipeline({ ...top, pipeline: entry.name }, entry);
    if (definition === null) continue;
    result.pipelines.set(entry.name, definition);
    result.lines.set(entry.name, lineOf(file, entry.key));
  }
  result.issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  return result;
}

function syntaxIssue(file: string, error: YAMLError): DefinitionIssue {
  const start = error.linePos?.[0];
  const summary = error.code === "MULTIPLE_DOCS"
    ? "a definition file holds one YAML document; remove the second `---` or move it to its own file"
    : error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
  return {
    file,
    line: start?.line ?? null,
    column: start?.col ?? null,
    pipeline: null,
    task: null,
    field: null,
    problem: `invalid YAML: ${summary}`,
  };
}

/** Reads the fields of an entry's mapping value; `null` value means no fields. */
function fieldsOf(scope: Scope, entry: Entry, what: string): Entry[] | null {
  if (isNull(entry.value)) return [];
  if (isMap(entry.value)) return mapEntries(scope, entry.value);
  report(scope, null, entry.key, `must be a mapping of ${what}, got ${describe(entry.value)}`);
  return null;
}

function read<T>(fields: readonly Entry[], name: string, reader: (entry: Entry) => T | null) {
  const entry = fields.find((field) => field.name === name);
  return entry === undefined ? null : reader(entry);
}

function parsePipeline(scope: Scope, entry: Entry): PipelineDefinition | null {
  const issuesBefore = scope.issues.length;
  const fields = fieldsOf(scope, entry, "settings and tasks");
  if (fields === null) return null;
  checkKeys(scope, fields, PIPELINE_KEYS);
  const tasksEntry = fields.find((field) => field.name === "tasks");
  const tasks = tasksEntry === undefined ? [] : parseTasks(scope, tasksEntry);
  const definition: PipelineDefinition = {
    name: entry.name,
    sourcePath: scope.file.path,
    concurrency: read(fields, "concurrency", (e) => readInteger(scope, e, 1)) ?? 1,
    queueLimit: read(fields, "queue_limit", (e) => readInteger(scope, e, 0)),
    queuePartitionLimit: read(fields, "queue_partition_limit", (e) => readInteger(scope, e, 1)),
    queueStrategy: read(fields, "queue_strategy", (e) => readChoice(scope, e, QUEUE_STRATEGIES)) ??
      "append",
    startDelayMs: read(fields, "start_delay", (e) => readDuration(scope, e)) ?? 0,
    continueRunningTasksAfterFailure:
      read(fields, "continue_running_tasks_after_failure", (e) => readBoolean(scope, e)) ?? false,
    retentionPeriodMs: read(fields, "retention_period", (e) => readDuration(scope, e)) || null,
    retentionCount: read(fields, "retention_count", (e) => readInteger(scope, e, 0)) || null,
    timeoutMs: read(fields, "timeout", (e) => readDuration(scope, e)) || null,
    env: read(fields, "env", (e) => readEnv(scope, e)) ?? {},
    tasks: Object.fromEntries(tasks.map((task) => [task.definition.name, task.definition])),
    onError: read(fields, "on_error", (e) => parseOnError(scope, e)),
    schedule: read(fields, "schedule", (e) => parseSchedule(scope, e)) ?? [],
  };
  if (scope.issues.length > issuesBefore) return null;
  for (const violation of checkPipelineRules(definition)) {
    reportViolation(scope, entry, fields, tasks, violation);
  }
  return scope.issues.length > issuesBefore ? null : definition;
}

interface ParsedTask {
  readonly definition: TaskDefinition;
  readonly entry: Entry;
  readonly fields: readonly Entry[];
}

function parseTasks(scope: Scope, tasksEntry: Entry): ParsedTask[] {
  if (isNull(tasksEntry.value)) return [];
  if (!isMap(tasksEntry.value)) {
    report(
      scope,
      "tasks",
      tasksEntry.key,
      `must be a mapping of task names to definitions, got ${describe(tasksEntry.value)}`,
    );
    return [];
  }
  const tasks: ParsedTask[] = [];
  for (const entry of mapEntries(scope, tasksEntry.value)) {
    const taskScope = { ...scope, task: entry.name };
    const fields = fieldsOf(taskScope, entry, "task settings");
    if (fields === null) continue;
    checkKeys(taskScope, fields, TASK_KEYS);
    const definition: TaskDefinition = {
      name: entry.name,
      script: read(fields, "script", (e) => readStringList(taskScope, e)) ?? [],
      dependsOn: read(fields, "depends_on", (e) => readStringList(taskScope, e)) ?? [],
      allowFailure: read(fields, "allow_failure", (e) => readBoolean(taskScope, e)) ?? false,
      env: read(fields, "env", (e) => readEnv(taskScope, e)) ?? {},
      timeoutMs: read(fields, "timeout", (e) => readDuration(taskScope, e)) || null,
      retries: read(fields, "retries", (e) => readInteger(taskScope, e, 0)) ?? 0,
      retryDelayMs: read(fields, "retry_delay", (e) => readDuration(taskScope, e)) ?? 0,
      retryOnTimeout: read(fields, "retry_on_timeout", (e) => readBoolean(taskScope, e)) ?? false,
    };
    tasks.push({ definition, entry, fields });
  }
  return tasks;
}

function parseOnError(scope: Scope, entry: Entry): OnErrorDefinition | null {
  if (isNull(entry.value)) return null;
  const section: Scope = { ...scope, section: "on_error" };
  const fields = fieldsOf(section, entry, "script, env and timeout");
  if (fields === null) return null;
  checkKeys(section, fields, ON_ERROR_KEYS);
  return {
    script: read(fields, "script", (e) => readStringList(section, e)) ?? [],
    env: read(fields, "env", (e) => readEnv(section, e)) ?? {},
    timeoutMs: read(fields, "timeout", (e) => readDuration(section, e)) || null,
  };
}

function parseSchedule(scope: Scope, entry: Entry): TriggerDefinition[] | null {
  if (isNull(entry.value)) return null;
  if (!isSeq(entry.value)) {
    report(
      scope,
      "schedule",
      entry.key,
      `must be a list of triggers such as "- cron: 30 3 * * *", got ${describe(entry.value)}`,
    );
    return null;
  }
  const triggers: TriggerDefinition[] = [];
  const seen = new Map<string, number>();
  entry.value.items.forEach((item, index) => {
    const node = deref(scope.file, item);
    const section: Scope = { ...scope, section: `schedule[${index}]` };
    if (!isMap(node)) {
      report(section, null, node, `must be a mapping with a "cron" key, got ${describe(node)}`);
      return;
    }
    const fields = mapEntries(section, node);
    checkKeys(section, fields, TRIGGER_KEYS);
    const trigger = parseTrigger(section, node, fields);
    if (trigger === null) return;
    const id = triggerId(trigger);
    const first = seen.get(id);
    if (first !== undefined) {
      report(
        section,
        "cron",
        node,
        `repeats schedule[${first}] (same cron and timezone); merge the two entries`,
      );
      return;
    }
    seen.set(id, index);
    triggers.push(trigger);
  });
  return triggers;
}

function parseTrigger(
  scope: Scope,
  node: Node,
  fields: readonly Entry[],
): TriggerDefinition | null {
  const issuesBefore = scope.issues.length;
  const cronEntry = fields.find((field) => field.name === "cron");
  const cron = cronEntry === undefined ? null : readText(scope, cronEntry);
  if (cronEntry === undefined) {
    report(scope, "cron", node, `is missing: say when it runs, e.g. cron: "30 3 * * *"`);
  } else if (cron !== null) {
    const problem = scheduleProblem(cron);
    if (problem !== null) report(scope, "cron", cronEntry.key, problem);
  }
  const timezone = read(fields, "timezone", (e) => readTimeZone(scope, e)) ?? "UTC";
  const variables = read(fields, "variables", (e) => readVariables(scope, e));
  const catchUp = read(fields, "catch_up", (e) => readChoice(scope, e, CATCH_UPS)) ?? "none";
  if (scope.issues.length > issuesBefore || cron === null) return null;
  return { cron, timezone, variables, catchUp };
}

function readTimeZone(scope: Scope, entry: Entry): string | null {
  const name = readText(scope, entry);
  if (name === null || isTimeZone(name)) return name;
  report(
    scope,
    entry.name,
    entry.key,
    `unknown time zone "${name}"; use an IANA name such as "Europe/Berlin" or "UTC"`,
  );
  return null;
}

/** Reports a rule violation at the most precise node: list item, field, task or pipeline. */
function reportViolation(
  scope: Scope,
  pipeline: Entry,
  fields: readonly Entry[],
  tasks: readonly ParsedTask[],
  violation: RuleViolation,
): void {
  const task = tasks.find((t) => t.definition.name === violation.task);
  const owner = task?.entry ?? pipeline;
  const field = (task?.fields ?? fields).find((f) => f.name === violation.field);
  let node: Node | null = field?.key ?? owner.key;
  if (violation.item !== null && isSeq(field?.value)) {
    node = deref(scope.file, field.value.items[violation.item]) ?? node;
  }
  report({ ...scope, task: violation.task }, violation.field, node, violation.problem);
}
