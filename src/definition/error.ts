/**
 * The error thrown for invalid pipeline definitions: every problem found, each with its place.
 *
 * @module
 */
import { PrunnerError } from "../errors.ts";

/** One problem in a definition file, and where it is. */
export interface DefinitionIssue {
  /** The file, as found by the loader (or as given to `parseDefinitions`). */
  readonly file: string;
  /** 1-based line, when the YAML parser knows it. */
  readonly line: number | null;
  /** 1-based column; only YAML syntax errors have one. */
  readonly column: number | null;
  /** The pipeline the problem is in, if any. */
  readonly pipeline: string | null;
  /** The task the problem is in, if any. */
  readonly task: string | null;
  /** The YAML key, e.g. `concurrency` or `on_error.script`. */
  readonly field: string | null;
  /** What is wrong and, where possible, how to fix it. */
  readonly problem: string;
}

/**
 * Formats an issue as `FILE:LINE[:COL]: pipeline "P", task "T", field "F": PROBLEM`; parts that
 * do not apply are left out.
 *
 * @example
 * ```ts
 * formatIssue({
 *   file: "pipelines.yml", line: 12, column: null, pipeline: "deploy", task: null,
 *   field: "concurrency", problem: "must be an integer ≥ 1, got -1",
 * });
 * // 'pipelines.yml:12: pipeline "deploy", field "concurrency": must be an integer ≥ 1, got -1'
 * ```
 */
export function formatIssue(issue: DefinitionIssue): string {
  let position = issue.file;
  if (issue.line !== null) position += `:${issue.line}`;
  if (issue.line !== null && issue.column !== null) position += `:${issue.column}`;
  const where = [
    issue.pipeline === null ? null : `pipeline "${issue.pipeline}"`,
    issue.task === null ? null : `task "${issue.task}"`,
    issue.field === null ? null : `field "${issue.field}"`,
  ].filter((part) => part !== null).join(", ");
  return where === "" ? `${position}: ${issue.problem}` : `${position}: ${where}: ${issue.problem}`;
}

/** Pipeline definitions that cannot be loaded; the message has one line per issue. */
export class DefinitionError extends PrunnerError {
  /** Creates the error from at least one issue, in the order they are to be reported. */
  constructor(readonly issues: readonly DefinitionIssue[]) {
    super(issues.map(formatIssue).join("\n"));
  }
}
