/**
 * `prunner version`.
 *
 * @module
 */
import { VERSION } from "../version.ts";

/**
 * The version line: prunner's version and the Deno, V8 and TypeScript versions it runs on.
 *
 * @example
 * ```ts
 * versionText(); // "prunner 0.1.0 (deno 2.9.6, v8 15.0.245.2-rusty, typescript 6.0.3)"
 * ```
 */
export function versionText(): string {
  const { deno, v8, typescript } = Deno.version;
  return `prunner ${VERSION} (deno ${deno}, v8 ${v8}, typescript ${typescript})`;
}
