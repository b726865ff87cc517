/**
 * The prunner version, taken from deno.json.
 *
 * `deno task compile` (scripts/compile.ts) builds binaries with an import map that resolves this
 * module's import of deno.json to a generated `{ "version": ... }` file, so a binary built from a
 * `vX.Y.Z` tag reports `X.Y.Z` even when deno.json says otherwise.
 *
 * @module
 */
import config from "../deno.json" with { type: "json" };

/** This build's version, e.g. `0.1.0`. */
export const VERSION: string = config.version;
