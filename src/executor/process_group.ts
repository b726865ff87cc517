/**
 * Signalling the process group of a script line: every line leads its own group (see
 * `shell.ts`), so a signal to the group reaches everything the line started.
 *
 * @module
 */

const IS_WINDOWS = Deno.build.os === "windows";

/** How long a task's processes get between SIGINT and SIGKILL unless told otherwise. */
export const KILL_TIMEOUT_MS = 2000;

/**
 * Sends a signal to the process group led by `pid` (every process the line started, background
 * children included). When there is no such group, the process alone gets it: `setsid` may not
 * have made its group yet, and on Windows there are no process groups. A process that is
 * already gone is not an error.
 */
export function signalGroup(pid: number, signal: Deno.Signal): void {
  if (!IS_WINDOWS) {
    try {
      Deno.kill(-pid, signal);
      return;
    } catch {
      // No such group (yet, or any more).
    }
  }
  try {
    Deno.kill(pid, signal);
  } catch {
    // The process has exited already.
  }
}

/**
 * Stops the process group led by `pid`: SIGINT now, SIGKILL `killTimeoutMs` later. The SIGKILL
 * is sent even when the leader has ended by then, since another process of the group may ignore
 * SIGINT; a group that is gone by then is not an error.
 *
 * @example
 * ```ts
 * stopGroup(child.pid, 2000); // SIGINT now, SIGKILL in 2 s
 * ```
 */
export function stopGroup(pid: number, killTimeoutMs: number): void {
  signalGroup(pid, "SIGINT");
  setTimeout(() => signalGroup(pid, "SIGKILL"), killTimeoutMs);
}
