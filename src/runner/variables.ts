/**
 * The limits on a job's variables, checked when it is scheduled: nothing accepted may later
 * fail to be stored, listed or rendered.
 *
 * @module
 */
import type { JobVariables } from "../engine/job.ts";
import { VariablesTooDeepError, VariablesTooLargeError } from "../errors.ts";

/** Largest accepted JSON encoding of a job's variables, in bytes. */
export const MAX_VARIABLES_BYTES = 1024 * 1024;

/**
 * Deepest accepted nesting of objects and arrays in a job's variables (the variables object
 * itself is level 1). Checked before anything else touches them: JSON of much deeper nesting
 * cannot be written again (`JSON.stringify` runs out of stack).
 */
export const MAX_VARIABLES_DEPTH = 64;

/**
 * Checks a schedule request's variables: depth first (without recursion), then size.
 *
 * @throws {VariablesTooDeepError} when they nest deeper than {@linkcode MAX_VARIABLES_DEPTH}.
 * @throws {VariablesTooLargeError} when their JSON is over {@linkcode MAX_VARIABLES_BYTES}.
 * @example
 * ```ts
 * checkVariables({ version: "1.4.0" }); // fine
 * checkVariables(JSON.parse("[".repeat(100) + "]".repeat(100))); // throws VariablesTooDeepError
 * ```
 */
export function checkVariables(variables: JobVariables): void {
  if (nestingDepth(variables) > MAX_VARIABLES_DEPTH) {
    throw new VariablesTooDeepError(MAX_VARIABLES_DEPTH);
  }
  const size = new TextEncoder().encode(JSON.stringify(variables)).length;
  if (size > MAX_VARIABLES_BYTES) throw new VariablesTooLargeError(size, MAX_VARIABLES_BYTES);
}

/**
 * How deeply objects and arrays nest in `value` (a scalar is 0, `{}` is 1), counted without
 * recursion so that hostile input cannot exhaust the stack; stops counting past the limit.
 *
 * @example
 * ```ts
 * nestingDepth({ a: [1, { b: 2 }] }); // 3
 * ```
 */
export function nestingDepth(value: unknown, limit = MAX_VARIABLES_DEPTH): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (item === null || typeof item !== "object") continue;
    if (depth > deepest) deepest = depth;
    if (deepest > limit) return deepest;
    for (const child of Object.values(item)) {
      if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
    }
  }
  return deepest;
}
