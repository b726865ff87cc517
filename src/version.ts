/**
 * The prunner version, taken from deno.json so `deno run` and compiled binaries agree.
 *
 * @module
 */
import config from "../deno.json" with { type: "json" };

/** This build's version, e.g. `0.1.0`. */
export const VERSION: string = config.version;
