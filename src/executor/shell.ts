/**
 * How a script line becomes a process: `sh -c LINE` in its own process group, or `cmd` on
 * Windows when no `sh` is on the PATH.
 *
 * @module
 */

/** The command and arguments that run one script line. */
export interface ShellCommand {
  readonly program: string;
  readonly args: string[];
  /**
   * The line waits for one byte on its stdin before it runs (and then gets `/dev/null` as its
   * stdin): the go-ahead, sent once prunner knows the line's process group.
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

const IS_WINDOWS = Deno.build.os === "windows";

let windowsHasSh: boolean | undefined;

/** Returns the command that runs `line` through the platform's shell. */
export function shellCommand(line: string): ShellCommand {
  if (!IS_WINDOWS) return { program: "sh", args: ["-c", GATED_LINE, "sh", line], gated: true };
  windowsHasSh ??= findOnPath("sh.exe");
  return windowsHasSh
    ? { program: "sh", args: ["-c", line], gated: false }
    : { program: "cmd", args: ["/d", "/s", "/c", line], gated: false };
}

function findOnPath(file: string): boolean {
  const dirs = (Deno.env.get("PATH") ?? "").split(";").filter(Boolean);
  return dirs.some((dir) => {
    try {
      return Deno.statSync(`${dir}\\${file}`).isFile;
    } catch {
      return false;
    }
  });
}

/**
 * Sends a signal to the process group led by `pid` (every process the line started, background
 * children included). On Windows, where there are no process groups, the process alone.
 * A group that is already gone is not an error.
 */
export function signalGroup(pid: number, signal: Deno.Signal): void {
  try {
    if (IS_WINDOWS) Deno.kill(pid, signal);
    else Deno.kill(-pid, signal);
  } catch {
    // The group has exited already.
  }
}

const SIGNAL_NAMES: Partial<Record<Deno.Signal, string>> = {
  SIGINT: "interrupt",
  SIGKILL: "killed",
  SIGTERM: "terminated",
  SIGHUP: "hangup",
  SIGQUIT: "quit",
  SIGPIPE: "broken pipe",
  SIGSEGV: "segmentation fault",
  SIGABRT: "aborted",
};

/** Describes how a process ended, as Go's `exec.ExitError` does: `exit status 42`, `signal: killed`. */
export function describeStatus(status: Deno.CommandStatus): string {
  if (status.signal) return `signal: ${SIGNAL_NAMES[status.signal] ?? status.signal}`;
  return `exit status ${status.code}`;
}
