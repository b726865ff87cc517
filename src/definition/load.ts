/**
 * Finding and loading all definition files below a directory.
 *
 * @module
 */
import { glob } from "tinyglobby";
import { DefinitionError, type DefinitionIssue } from "./error.ts";
import { parseFile } from "./parse.ts";
import type { Definitions, PipelineDefinition } from "./types.ts";

/** Where to look for definition files (prunner's `--path` and `--pattern`). */
export interface LoadOptions {
  /** Base directory of the search. */
  readonly path: string;
  /** Glob below `path`, e.g. `**\/pipelines.{yml,yaml}`. */
  readonly pattern: string;
}

/** The loaded pipelines and the files they came from. */
export interface LoadResult {
  /** All pipelines by name, in file order. */
  readonly definitions: Definitions;
  /** Every matching file, sorted, as `path` joined with the match. */
  readonly files: string[];
}

/** Directories never searched: prunner's data, dependencies and git internals. */
const SKIPPED_DIRECTORIES = [".prunner", "node_modules", ".git"];

/**
 * Lists the files matching `pattern` below `path`, following symbolic links, sorted. Paths are
 * `path` joined with the match, so they are relative to the working directory when `path` is.
 * A file reached along several paths (through a symbolic link) is listed once, under the path
 * that sorts first.
 *
 * @example
 * ```ts
 * await findDefinitionFiles({ path: "examples", pattern: "**\/pipelines.{yml,yaml}" });
 * // ["examples/pipelines.yml"]
 * ```
 * @throws {DefinitionError} when `path` is not a directory.
 */
export async function findDefinitionFiles(options: LoadOptions): Promise<string[]> {
  await assertDirectory(options.path);
  const matches = await glob(options.pattern, {
    cwd: options.path,
    dot: true,
    followSymbolicLinks: true,
    onlyFiles: true,
    expandDirectories: false,
    ignore: SKIPPED_DIRECTORIES.map((name) => `**/${name}/**`),
  });
  const files: string[] = [];
  const seen = new Set<string>();
  for (const file of matches.map((match) => joinPath(options.path, match)).sort(compareCodeUnits)) {
    const real = await Deno.realPath(file);
    if (seen.has(real)) continue;
    seen.add(real);
    files.push(file);
  }
  return files;
}

/**
 * Loads every definition file below `options.path`. Files load in sorted order; no files means
 * no pipelines (the caller decides whether to warn).
 *
 * @example
 * ```ts
 * const { definitions, files } = await loadDefinitions({
 *   path: ".",
 *   pattern: "**\/pipelines.{yml,yaml}",
 * });
 * ```
 * @throws {DefinitionError} listing the problems of all files, including a pipeline name
 * declared in two files.
 */
export async function loadDefinitions(options: LoadOptions): Promise<LoadResult> {
  const files = await findDefinitionFiles(options);
  const definitions = new Map<string, PipelineDefinition>();
  const declaredAt = new Map<string, string>();
  const issues: DefinitionIssue[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (error) {
      issues.push(fileIssue(file, `cannot read the file: ${(error as Error).message}`));
      continue;
    }
    const parsed = parseFile(text, file);
    issues.push(...parsed.issues);
    for (const [name, definition] of parsed.pipelines) {
      const line = parsed.lines.get(name) ?? null;
      const here = line === null ? file : `${file}:${line}`;
      const earlier = declaredAt.get(name);
      if (earlier !== undefined) {
        issues.push({
          ...fileIssue(file, `already declared in ${earlier}; pipeline names must be unique`),
          line,
          pipeline: name,
        });
        continue;
      }
      declaredAt.set(name, here);
      definitions.set(name, definition);
    }
  }
  if (issues.length > 0) throw new DefinitionError(issues);
  return { definitions, files };
}

async function assertDirectory(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new DefinitionError([fileIssue(path, "the pipeline directory does not exist")]);
    }
    throw error;
  }
  if (!info.isDirectory) {
    throw new DefinitionError([fileIssue(path, "the pipeline path is not a directory")]);
  }
}

function fileIssue(file: string, problem: string): DefinitionIssue {
  return { file, line: null, column: null, pipeline: null, task: null, field: null, problem };
}

function joinPath(base: string, relative: string): string {
  if (base === "" || base === ".") return relative;
  return base.endsWith("/") ? base + relative : `${base}/${relative}`;
}

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
