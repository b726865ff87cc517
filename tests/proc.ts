/**
 * What Linux's `/proc` says about a process: lets tests observe that a process waits, or that a
 * signal reached it, instead of sleeping and hoping.
 *
 * @module
 */

/** The pid of a process that has `text` as one of its command line arguments. */
export async function processWithArgument(text: string): Promise<number | null> {
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`).catch(() => "");
    if (cmdline.split("\0").includes(text)) return Number(entry.name);
  }
  return null;
}

/** `read(2)`'s system call number, by CPU architecture. */
const READ_SYSCALL: Record<string, string> = { x86_64: "0", aarch64: "63" };

/** Whether process `pid` is blocked in a `read` of its stdin (`/proc/PID/syscall`). */
export async function readsStdin(pid: number): Promise<boolean> {
  const fields = (await Deno.readTextFile(`/proc/${pid}/syscall`)).trim().split(" ");
  return fields[0] === READ_SYSCALL[Deno.build.arch] && fields[1] === "0x0";
}

/** `write(2)`'s system call number, by CPU architecture. */
const WRITE_SYSCALL: Record<string, string> = { x86_64: "1", aarch64: "64" };

/** Whether process `pid` is blocked in a `write` to its stdout (a full pipe, say). */
export async function writesStdout(pid: number): Promise<boolean> {
  const fields = (await Deno.readTextFile(`/proc/${pid}/syscall`)).trim().split(" ");
  return fields[0] === WRITE_SYSCALL[Deno.build.arch] && fields[1] === "0x1";
}

/**
 * Whether no signal is pending for process `pid` or any of its threads: a signal sent before
 * has been delivered (handled, ignored or fatal).
 */
export async function signalsDelivered(pid: number): Promise<boolean> {
  const pending = async (path: string) => {
    const status = await Deno.readTextFile(path).catch(() => "");
    return [...status.matchAll(/^(?:SigPnd|ShdPnd):\s*([0-9a-f]+)$/gm)]
      .some((match) => BigInt(`0x${match[1]}`) !== 0n);
  };
  if (await pending(`/proc/${pid}/status`)) return false;
  for await (const thread of Deno.readDir(`/proc/${pid}/task`)) {
    if (await pending(`/proc/${pid}/task/${thread.name}/status`)) return false;
  }
  return true;
}

/**
 * The pid of a child of `parent` that has an argument for which `matches` is true, or `null`.
 */
export async function childWithArgument(
  parent: number,
  matches: (argument: string) => boolean,
): Promise<number | null> {
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`).catch(() => "");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (ppid !== parent) continue;
    const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`).catch(() => "");
    if (cmdline.split("\0").some(matches)) return Number(entry.name);
  }
  return null;
}
