/**
 * Typed readers for the values of a definition file. Each reader returns `null` for a value
 * that is absent or YAML null (the caller applies the default) and also after recording an
 * issue for a value of the wrong type or range.
 *
 * @module
 */
import { isMap, isScalar, isSeq, type Node } from "yaml";
import { DurationError, parseDuration } from "./duration.ts";
import type { DefinitionIssue } from "./error.ts";
import {
  deref,
  describe,
  entries,
  type Entry,
  isNull,
  lineOf,
  scalarText,
  type SourceFile,
} from "./nodes.ts";
import { closest } from "./suggest.ts";
import type { EnvMap } from "./types.ts";

/** Where in a file values are being read; issues are recorded in `issues`. */
export interface Scope {
  readonly file: SourceFile;
  readonly issues: DefinitionIssue[];
  readonly pipeline: string | null;
  readonly task: string | null;
  /** Prefix for field names of a nested section, e.g. `on_error`. */
  readonly section: string | null;
}

/** Records an issue at `node`'s line; `field` is prefixed with the scope's section. */
export function report(scope: Scope, field: string | null, node: Node | null, problem: string) {
  const sectionField = scope.section === null
    ? field
    : field === null
    ? scope.section
    : `${scope.section}.${field}`;
  scope.issues.push({
    file: scope.file.path,
    line: lineOf(scope.file, node),
    column: null,
    pipeline: scope.pipeline,
    task: scope.task,
    field: sectionField,
    problem,
  });
}

/** The entries of a mapping, reporting merge keys (`<<`) that cannot be merged. */
export function mapEntries(scope: Scope, node: Node): Entry[] {
  if (!isMap(node)) return [];
  return entries(scope.file, node, (bad, problem) => report(scope, "<<", bad, problem));
}

/**
 * Reports every key that is not in `valid`, suggesting the closest valid key or listing them
 * all. Returns how many keys were unknown.
 */
export function checkKeys(scope: Scope, fields: readonly Entry[], valid: readonly string[]) {
  let unknown = 0;
  for (const entry of fields) {
    if (valid.includes(entry.name)) continue;
    unknown++;
    const suggestion = closest(entry.name, valid);
    report(
      scope,
      null,
      entry.key,
      suggestion === null
        ? `unknown key "${entry.name}"; valid keys are ${valid.join(", ")}`
        : `unknown key "${entry.name}", did you mean "${suggestion}"?`,
    );
  }
  return unknown;
}

/** An integer ≥ `min`. */
export function readInteger(scope: Scope, entry: Entry, min: number): number | null {
  const node = entry.value;
  if (isNull(node)) return null;
  if (
    isScalar(node) && typeof node.value === "number" && Number.isInteger(node.value) &&
    node.value >= min
  ) {
    return node.value;
  }
  report(scope, entry.name, entry.key, `must be an integer ≥ ${min}, got ${describe(node)}`);
  return null;
}

/** `true` or `false` (YAML 1.1 spellings such as `yes` and `off` included, as in prunner). */
export function readBoolean(scope: Scope, entry: Entry): boolean | null {
  const node = entry.value;
  if (isNull(node)) return null;
  if (isScalar(node) && typeof node.value === "boolean") return node.value;
  report(scope, entry.name, entry.key, `must be true or false, got ${describe(node)}`);
  return null;
}

/** A Go duration (`300ms`, `10s`, `1m30s`, `48h`) that is not negative, in milliseconds. */
export function readDuration(scope: Scope, entry: Entry): number | null {
  const node = entry.value;
  if (isNull(node)) return null;
  const text = isScalar(node) ? scalarText(node) : null;
  let ms: number | null = null;
  if (text !== null) {
    try {
      ms = parseDuration(text);
    } catch (error) {
      if (!(error instanceof DurationError)) throw error;
    }
  }
  if (ms === null) {
    report(
      scope,
      entry.name,
      entry.key,
      `must be a duration with a unit, such as "300ms", "10s", "1m30s" or "48h", got ${
        describe(node)
      }`,
    );
    return null;
  }
  if (ms < 0) {
    report(scope, entry.name, entry.key, `must not be negative, got ${describe(node)}`);
    return null;
  }
  return ms;
}

/** One of `choices`; a misspelling gets a suggestion. */
export function readChoice<T extends string>(
  scope: Scope,
  entry: Entry,
  choices: readonly T[],
): T | null {
  const node = entry.value;
  if (isNull(node)) return null;
  const value = isScalar(node) ? node.value : null;
  const match = choices.find((choice) => choice === value);
  if (match !== undefined) return match;
  const suggestion = typeof value === "string" ? closest(value, choices) : null;
  report(
    scope,
    entry.name,
    entry.key,
    `must be one of ${choices.map((c) => `"${c}"`).join(", ")}, got ${describe(node)}${
      suggestion === null ? "" : `; did you mean "${suggestion}"?`
    }`,
  );
  return null;
}

/** A list of strings; numbers and booleans become their source text, as in prunner. */
export function readStringList(scope: Scope, entry: Entry): string[] | null {
  const node = entry.value;
  if (isNull(node)) return null;
  if (!isSeq(node)) {
    report(scope, entry.name, entry.key, `must be a list of strings, got ${describe(node)}`);
    return null;
  }
  const list: string[] = [];
  node.items.forEach((item, index) => {
    const itemNode = deref(scope.file, item);
    const text = scalarText(itemNode);
    if (text !== null) {
      list.push(text);
      return;
    }
    const hint = isMap(itemNode) ? ` (quote the item if it contains ": ")` : "";
    report(
      scope,
      entry.name,
      itemNode,
      `item ${index + 1} must be a string, got ${describe(itemNode)}${hint}`,
    );
  });
  return list;
}

/** A mapping of environment variable names to strings; numbers and booleans become text. */
export function readEnv(scope: Scope, entry: Entry): EnvMap | null {
  const node = entry.value;
  if (isNull(node)) return null;
  if (!isMap(node)) {
    report(
      scope,
      entry.name,
      entry.key,
      `must be a mapping of variable names to values, got ${describe(node)}`,
    );
    return null;
  }
  const env: EnvMap = {};
  for (const variable of mapEntries(scope, node)) {
    const text = scalarText(variable.value);
    if (text === null) {
      report(
        scope,
        `${entry.name}.${variable.name}`,
        variable.key,
        `must be a string, got ${describe(variable.value)}`,
      );
    } else {
      env[variable.name] = text;
    }
  }
  return env;
}

/** A non-empty string scalar. */
export function readText(scope: Scope, entry: Entry): string | null {
  const node = entry.value;
  if (isScalar(node) && typeof node.value === "string" && node.value.trim() !== "") {
    return node.value.trim();
  }
  report(scope, entry.name, entry.key, `must be a non-empty string, got ${describe(node)}`);
  return null;
}

/** Trigger variables: a mapping of names to JSON data (see `toData`), at most `MAX_DEPTH` deep. */
export function readVariables(scope: Scope, entry: Entry): Record<string, unknown> | null {
  if (isNull(entry.value)) return null;
  if (!isMap(entry.value)) {
    report(
      scope,
      entry.name,
      entry.key,
      `must be a mapping of variable names to values, got ${describe(entry.value)}`,
    );
    return null;
  }
  const data = toData(scope, entry.value, 1);
  if (data === TOO_DEEP) {
    report(scope, entry.name, entry.key, `must not be nested more than ${MAX_DEPTH} levels deep`);
    return null;
  }
  return data as Record<string, unknown>;
}

/** How deep trigger variables may nest (the variables themselves are 1), as a request's may. */
const MAX_DEPTH = 64;
const TOO_DEEP = Symbol("too deep");

/**
 * A YAML value as JSON data: keys as written (`on`, `n` and `123` stay text, as in every other
 * mapping of a definition file), numbers, booleans and null as YAML 1.1 reads them, other
 * scalars (dates) as their source text.
 */
function toData(scope: Scope, node: Node | null, depth: number): unknown {
  if ((isMap(node) || isSeq(node)) && depth > MAX_DEPTH) return TOO_DEEP;
  if (isMap(node)) {
    const result: Record<string, unknown> = {};
    for (const field of mapEntries(scope, node)) {
      const value = toData(scope, field.value, depth + 1);
      if (value === TOO_DEEP) return TOO_DEEP;
      result[field.name] = value;
    }
    return result;
  }
  if (isSeq(node)) {
    const result: unknown[] = [];
    for (const item of node.items) {
      const value = toData(scope, deref(scope.file, item), depth + 1);
      if (value === TOO_DEEP) return TOO_DEEP;
      result.push(value);
    }
    return result;
  }
  if (!isScalar(node) || node.value === null) return null;
  const { value } = node;
  if (typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  return scalarText(node);
}
