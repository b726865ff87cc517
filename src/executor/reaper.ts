/**
 * Learning how the processes `posix_spawn.ts` started ended: SIGCHLD and `waitpid` on their
 * pids only, so processes started by `Deno.Command` are left to Deno.
 *
 * @module
 */
import type { Libc } from "./libc.ts";
import { commandStatus } from "./signals.ts";

const WNOHANG = 1;

/** The status of a process someone else reaped: how it ended is not known. */
export const LOST_STATUS: Deno.CommandStatus = { success: false, code: -1, signal: null };

/** Learns how the processes started here ended. */
export interface ChildReaper {
  /** Settles when the process `pid` (a child of this process) has ended. */
  wait(pid: number): Promise<Deno.CommandStatus>;
}

/**
 * Reaps children with `waitpid(pid, WNOHANG)` whenever a SIGCHLD arrives (for any child: every
 * process waited for is tried), and every second as a safety net. Listens only while it waits.
 *
 * @example
 * ```ts
 * const reaper = childReaper(libc);
 * const status = await reaper.wait(pid); // { success: true, code: 0, signal: null }
 * ```
 */
export function childReaper(libc: Pick<Libc, "waitpid">): ChildReaper {
  const waiting = new Map<number, (status: Deno.CommandStatus) => void>();
  const statusWord = new Int32Array(1);
  let poll: ReturnType<typeof setInterval> | undefined;
  const reap = () => {
    for (const [pid, resolve] of waiting) {
      const result = libc.waitpid(pid, statusWord, WNOHANG);
      if (result === 0) continue; // Still running.
      waiting.delete(pid);
      // -1: not our child any more (someone else reaped it); its status is lost.
      resolve(result === pid ? commandStatus(statusWord[0]) : LOST_STATUS);
    }
    if (waiting.size === 0 && poll !== undefined) {
      Deno.removeSignalListener("SIGCHLD", reap);
      clearInterval(poll);
      poll = undefined;
    }
  };
  return {
    wait(pid) {
      const { promise, resolve } = Promise.withResolvers<Deno.CommandStatus>();
      waiting.set(pid, resolve);
      if (poll === undefined) {
        Deno.addSignalListener("SIGCHLD", reap);
        // A timer also keeps the event loop alive for the wait, which the listener does not.
        poll = setInterval(reap, 1000);
      }
      reap(); // It may have ended before the listener was there.
      return promise;
    },
  };
}
