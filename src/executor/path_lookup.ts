/**
 * Finding a program in a PATH, as a shell does: for lines that prunner starts without a shell
 * (`start_line.ts`), and for the programs prunner itself runs lines with (`shell.ts`).
 *
 * @module
 */

/** How a platform writes a PATH: what separates its directories, and the parts of a path. */
export interface PathSyntax {
  /** Between the PATH's directories: `:`, or `;` on Windows. */
  readonly list: string;
  /** Between a directory and a name: `/`, or `\` on Windows. */
  readonly separator: string;
}

/** The PATH of Linux and macOS. */
const POSIX_PATHS: PathSyntax = { list: ":", separator: "/" };

/** The PATH of Windows. */
export const WINDOWS_PATHS: PathSyntax = { list: ";", separator: "\\" };

/** What `sh` searches when there is no PATH variable. */
const DEFAULT_PATH = "/usr/bin:/bin";

/**
 * The path of the first executable file called `name` in the directories of `path`, or `null`.
 * An empty directory is the current one (`cwd`), as in `sh`. A relative directory gives a
 * relative path (looked at from `cwd`): the process that runs it starts in `cwd`. On Windows,
 * where files have no execute bits, any file counts as executable.
 *
 * @example
 * ```ts
 * findOnPath("make", "/usr/local/bin:/usr/bin", "/app"); // "/usr/bin/make"
 * findOnPath("flow", "bin", "/app"); // "bin/flow", when /app/bin/flow is executable
 * ```
 */
export function findOnPath(
  name: string,
  path: string,
  cwd: string,
  syntax: PathSyntax = POSIX_PATHS,
): string | null {
  for (const dir of path.split(syntax.list)) {
    const candidate = `${dir === "" ? "." : dir}${syntax.separator}${name}`;
    try {
      const info = Deno.statSync(
        isAbsolute(candidate, syntax) ? candidate : `${cwd}${syntax.separator}${candidate}`,
      );
      const executable = syntax === WINDOWS_PATHS || ((info.mode ?? 0) & 0o111) !== 0;
      if (info.isFile && executable) return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return null;
}

/** Whether `path` starts at a root (`/`, or on Windows `\` or a drive such as `C:\`). */
function isAbsolute(path: string, syntax: PathSyntax): boolean {
  return syntax === WINDOWS_PATHS ? /^([A-Za-z]:)?[\\/]/.test(path) : path.startsWith("/");
}

/**
 * Where `sh` would find `name` for a process with `env` in `cwd`: `name` itself when it contains
 * a `/`, else the first executable file of that name in the PATH's directories. `null` when there
 * is none.
 *
 * @example
 * ```ts
 * resolveProgram("make", { PATH: "/usr/local/bin:/usr/bin" }, "/app"); // "/usr/bin/make"
 * resolveProgram("./flow", {}, "/app"); // "./flow"
 * ```
 */
export function resolveProgram(
  name: string,
  env: Record<string, string>,
  cwd: string,
): string | null {
  if (name.includes("/")) return name;
  return findOnPath(name, env.PATH ?? DEFAULT_PATH, cwd);
}
