/**
 * How a process ended, in Deno's terms and in words: decoding a `waitpid` status word, and
 * describing a `Deno.CommandStatus` the way Go's `exec.ExitError` does.
 *
 * @module
 */

/** Linux's signal numbers (the same on x86-64 and arm64). */
const SIGNALS: (Deno.Signal | undefined)[] = [
  undefined,
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGILL",
  "SIGTRAP",
  "SIGABRT",
  "SIGBUS",
  "SIGFPE",
  "SIGKILL",
  "SIGUSR1",
  "SIGSEGV",
  "SIGUSR2",
  "SIGPIPE",
  "SIGALRM",
  "SIGTERM",
  "SIGSTKFLT",
  "SIGCHLD",
  "SIGCONT",
  "SIGSTOP",
  "SIGTSTP",
  "SIGTTIN",
  "SIGTTOU",
  "SIGURG",
  "SIGXCPU",
  "SIGXFSZ",
  "SIGVTALRM",
  "SIGPROF",
  "SIGWINCH",
  "SIGIO",
  "SIGPWR",
  "SIGSYS",
];

/**
 * A Linux `waitpid` status word as Deno reports it: exit code, or signal (code 128 + N).
 *
 * @example
 * ```ts
 * commandStatus(42 << 8); // { success: false, code: 42, signal: null }
 * commandStatus(9); // { success: false, code: 137, signal: "SIGKILL" }
 * ```
 */
export function commandStatus(word: number): Deno.CommandStatus {
  const signal = word & 0x7f;
  if (signal === 0) {
    const code = (word >> 8) & 0xff;
    return { success: code === 0, code, signal: null };
  }
  return { success: false, code: 128 + signal, signal: SIGNALS[signal] ?? null };
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
