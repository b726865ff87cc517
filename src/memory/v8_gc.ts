/**
 * V8's garbage collections, reached without a command line flag. A full collection shrinks
 * the heap and returns its pages (measured on 2 million small objects dropped: 258 → 47 MiB of
 * RSS).
 *
 * Kept apart from `release.ts`: loading `node:v8` and `node:vm` costs ~7 MiB, which the server
 * has loaded anyway and the task executor process does without (its heap stays small with its
 * 1 MiB semi-space).
 *
 * @module
 */
import v8 from "node:v8";
import vm from "node:vm";

/** V8's `gc` function, or `null` where it cannot be reached. */
function exposedGc(): ((options?: { type: "major" | "minor" }) => void) | null {
  try {
    // `--expose-gc` set at run time makes `gc` a global of contexts created afterwards.
    v8.setFlagsFromString("--expose-gc");
    const gc: unknown = vm.runInNewContext("typeof gc === 'function' ? gc : null");
    return typeof gc === "function" ? gc as (options?: { type: "major" | "minor" }) => void : null;
  } catch {
    return null;
  }
}

/**
 * V8's full garbage collection, or `null` where it cannot be reached.
 *
 * @example
 * ```ts
 * v8Collection()?.();
 * ```
 */
export function v8Collection(): (() => void) | null {
  const gc = exposedGc();
  return gc === null ? null : () => gc();
}

/**
 * A collection of V8's young generation only (a scavenge, about a millisecond): frees what was
 * allocated and dropped since the last one, such as the buffers of a long listing.
 *
 * @example
 * ```ts
 * v8YoungCollection()?.();
 * ```
 */
export function v8YoungCollection(): (() => void) | null {
  const gc = exposedGc();
  return gc === null ? null : () => gc({ type: "minor" });
}
