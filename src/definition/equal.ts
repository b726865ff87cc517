/**
 * Structural equality of definition sets, so a reload only swaps definitions that changed.
 *
 * @module
 */
import type { Definitions } from "./types.ts";

/**
 * True when both sets have the same pipeline names and every pipeline is structurally equal,
 * `sourcePath` included. Order of pipelines, tasks and env entries does not matter; order of
 * script lines and `depends_on` does.
 *
 * @example
 * ```ts
 * const a = parseDefinitions(text, "pipelines.yml");
 * definitionsEqual(a, parseDefinitions(text, "pipelines.yml")); // true
 * definitionsEqual(a, parseDefinitions(text, "other/pipelines.yml")); // false: sourcePath differs
 * ```
 */
export function definitionsEqual(a: Definitions, b: Definitions): boolean {
  if (a.size !== b.size) return false;
  for (const [name, pipeline] of a) {
    if (!b.has(name) || !dataEqual(pipeline, b.get(name))) return false;
  }
  return true;
}

/** Deep equality of JSON-like data: primitives, arrays and plain objects. */
function dataEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length &&
      a.every((item, i) => dataEqual(item, b[i]));
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x);
  return keys.length === Object.keys(y).length &&
    keys.every((key) => Object.hasOwn(y, key) && dataEqual(x[key], y[key]));
}
