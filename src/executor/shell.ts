/**
 * How a script line becomes a process: `sh -c LINE` leading its own process group (and
 * session), or `cmd` on Windows when no `sh` is on the PATH. A plain command (see
 * `isPlainCommand`) runs without a shell: every program started costs about as much as the
 * command itself, and the shell would only start the command.
 *
 * A new session is made in one of two ways. Where the `setsid` program is on the PATH (Linux),
 * the line runs as `setsid sh -c LINE`: Deno starts `setsid` the fast way (without copying the
 * calling process), and `setsid` makes itself a session leader before it executes `sh`.
 * Elsewhere Deno's `detached: true` does it, which makes Deno fork the calling process first:
 * that costs time in proportion to the caller's memory.
 *
 * @module
 */
import { findOnPath, WINDOWS_PATHS } from "./path_lookup.ts";

/** The command and arguments that run one script line. */
export interface ShellCommand {
  readonly program: string;
  readonly args: string[];
  /** Whether Deno must make the new session itself (`detached: true`). */
  readonly detached: boolean;
  /**
   * The line waits for one byte on its stdin before it runs (and then gets `/dev/null` as its
   * stdin): the go-ahead, sent once prunner knows the line's process group. A line that is not
   * gated is started only once it may run.
   */
  readonly gated: boolean;
}

/**
 * Runs `$1` once a byte arrives on stdin, in the same shell, with the positional parameters
 * empty and stdin from /dev/null, as `sh -c LINE` would. If stdin ends first (the executor died
 * before prunner learned of the line), nothing runs.
 */
const GATED_LINE =
  'IFS= read -r _ || exit 125; exec </dev/null; __l=$1; set --; eval "unset _ __l; $__l"';

/**
 * Words of a plain command: letters, digits and `_ . / : = + , @ % -` (and `~` inside the
 * first word), so a shell would neither expand nor split anything in it.
 */
const PLAIN_COMMAND =
  /^[ \t]*[A-Za-z0-9_./:+,@%][A-Za-z0-9_./:=+,@%~-]*([ \t]+[A-Za-z0-9_./:=+,@%-]+)*[ \t]*$/;

/**
 * Names that are shell builtins or reserved words in dash, busybox `sh` or bash: a line that
 * starts with one needs the shell.
 */
const SHELL_WORDS = new Set(
  (". : [ [[ alias bg bind break builtin caller case cd chdir command compgen complete continue " +
    "declare dirs disown do done echo elif else enable esac eval exec exit export false fc fg fi " +
    "for function getopts hash help history if in jobs kill let local logout mapfile popd " +
    "printf pushd pwd read readarray readonly return select set shift shopt source suspend " +
    "test then time times trap true type typeset ulimit umask unalias unset until wait while")
    .split(" "),
);

/**
 * Whether `line` is one command of plain words (no quotes, expansions, redirections, operators,
 * globs or assignments) naming a program rather than a shell builtin: running the program
 * directly then does what `sh -c LINE` would, without starting a shell.
 *
 * @example
 * ```ts
 * isPlainCommand("./flow job:run --id 42"); // true
 * isPlainCommand("make test && make dist"); // false
 * isPlainCommand("echo hello"); // false: a builtin
 * ```
 */
export function isPlainCommand(line: string): boolean {
  if (!PLAIN_COMMAND.test(line)) return false;
  const first = line.trim().split(/[ \t]+/)[0];
  return !first.includes("=") && !SHELL_WORDS.has(first);
}

const IS_WINDOWS = Deno.build.os === "windows";

let windowsHasSh: boolean | undefined;
let setsidPath: string | null | undefined;

/**
 * Where the `setsid` program is, from prunner's PATH (looked up once per process), or `null`.
 * Lines run it by this path: a task's own PATH may not include it.
 */
function findSetsid(): string | null {
  if (setsidPath === undefined) {
    const path = IS_WINDOWS ? null : findOnPath("setsid", prunnerPath(), Deno.cwd());
    setsidPath = path?.startsWith("/") ? path : null;
  }
  return setsidPath;
}

/** prunner's own PATH (none: no directory). */
function prunnerPath(): string {
  return Deno.env.get("PATH") ?? "";
}

/** Whether the `setsid` program is on prunner's PATH. */
export function setsidAvailable(): boolean {
  return findSetsid() !== null;
}

/** The process that runs a script line, before anything makes it a session leader. */
export interface LineCommand {
  /** The program and its arguments (`argv`, the program first). */
  readonly argv: string[];
  /** Whether the line waits for a go-ahead on its stdin (see `ShellCommand.gated`). */
  readonly gated: boolean;
}

/**
 * The command of `line` on a Unix system: its words for a plain command, otherwise `sh` running
 * the line once it gets the go-ahead.
 *
 * @example
 * ```ts
 * lineCommand("./flow job:run --id 42"); // { argv: ["./flow", "job:run", "--id", "42"], gated: false }
 * lineCommand("make test"); // { argv: ["sh", "-c", GATED_LINE, "sh", "make test"], gated: true }
 * ```
 */
export function lineCommand(line: string): LineCommand {
  return isPlainCommand(line)
    ? { argv: line.trim().split(/[ \t]+/), gated: false }
    : { argv: ["sh", "-c", GATED_LINE, "sh", line], gated: true };
}

/**
 * Returns the command that runs `line` through the platform's shell as the leader of a new
 * process group: through `setsid` when `useSetsid` (and it is on the PATH), otherwise with
 * `detached: true`.
 *
 * @example
 * ```ts
 * shellCommand("make test", true);
 * // { program: "/usr/bin/setsid", args: ["sh", "-c", GATED_LINE, "sh", "make test"],
 * //   detached: false, gated: true }
 * shellCommand("make test", false);
 * // { program: "sh", args: ["-c", GATED_LINE, "sh", "make test"], detached: true, gated: true }
 * shellCommand("./flow job:run --id 42", true);
 * // { program: "/usr/bin/setsid", args: ["./flow", "job:run", "--id", "42"], detached: false,
 * //   gated: false }
 * ```
 */
export function shellCommand(line: string, useSetsid = setsidAvailable()): ShellCommand {
  if (!IS_WINDOWS) {
    const { argv, gated } = lineCommand(line);
    const setsid = useSetsid ? findSetsid() : null;
    return setsid !== null
      ? { program: setsid, args: argv, detached: false, gated }
      : { program: argv[0], args: argv.slice(1), detached: true, gated };
  }
  windowsHasSh ??= findOnPath("sh.exe", prunnerPath(), Deno.cwd(), WINDOWS_PATHS) !== null;
  return windowsHasSh
    ? { program: "sh", args: ["-c", line], detached: true, gated: false }
    : { program: "cmd", args: ["/d", "/s", "/c", line], detached: true, gated: false };
}
