/**
 * Pipeline definitions: loading `pipelines.yml` files into validated, typed definitions.
 *
 * @example
 * ```ts
 * import { loadDefinitions } from "./src/definition/mod.ts";
 * const { definitions } = await loadDefinitions({ path: "examples", pattern: "**\/pipelines.{yml,yaml}" });
 * ```
 *
 * @module
 */
export { DefinitionError, type DefinitionIssue, formatIssue } from "./error.ts";
export { definitionsEqual } from "./equal.ts";
export { findDefinitionFiles, loadDefinitions, type LoadOptions, type LoadResult } from "./load.ts";
export { parseDefinitions } from "./parse.ts";
export type {
  Definitions,
  EnvMap,
  OnErrorDefinition,
  PipelineDefinition,
  QueueStrategy,
  TaskDefinition,
} from "./types.ts";
