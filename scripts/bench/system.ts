/**
 * Process and machine helpers for the benchmark: memory of a process from `/proc`, a registry
 * of things to clean up even when a case fails or the benchmark is interrupted, temporary
 * directories, free ports and the machine's description.
 *
 * @module
 */

const MIB = 1024 * 1024;

/** Resident memory of a process, in bytes. */
export interface Memory {
  /** `VmRSS`: resident now. */
  rss: number;
  /** `VmHWM`: the peak resident size since start or since the last {@linkcode resetPeak}. */
  hwm: number;
}

/**
 * Reads `VmRSS` and `VmHWM` of a process from `/proc/PID/status`.
 *
 * @throws {Deno.errors.NotFound} when the process does not exist (or `/proc` is missing).
 */
export async function readMemory(pid: number): Promise<Memory> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const field = (name: string): number => {
    const match = status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"));
    if (!match) throw new Error(`/proc/${pid}/status has no ${name} line`);
    return Number(match[1]) * 1024;
  };
  return { rss: field("VmRSS"), hwm: field("VmHWM") };
}

/**
 * Resets a process's `VmHWM` to its current RSS (writing `5` to `/proc/PID/clear_refs`).
 * Resolves with `false` when the kernel or the permissions do not allow it.
 */
export async function resetPeak(pid: number): Promise<boolean> {
  try {
    await Deno.writeTextFile(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** Peak memory of a process over a period, sampled and from `VmHWM`. */
export interface PeakWatch {
  /** Stops sampling; resolves with the peak RSS in bytes and the RSS at the start. */
  stop(): Promise<{ baseline: number; peak: number }>;
}

/** The summed `VmRSS` of processes; processes that have ended count 0. */
export async function readTotalRss(pids: readonly number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) total += await readMemory(pid).then((memory) => memory.rss, () => 0);
  return total;
}

/**
 * Watches the memory of processes from now on: resets their `VmHWM` when possible, samples
 * their summed `VmRSS` every `intervalMs`, and at the end takes the larger of the sampled
 * maximum and the sum of their `VmHWM`s (when reset, each covers the whole period, including
 * what sampling missed; their sum can only overstate the peak).
 */
export async function watchPeak(pids: readonly number[], intervalMs = 20): Promise<PeakWatch> {
  const reset = (await Promise.all(pids.map(resetPeak))).every(Boolean);
  const baseline = await readTotalRss(pids);
  let peak = baseline;
  let sampling = true;
  const loop = (async () => {
    while (sampling) {
      peak = Math.max(peak, await readTotalRss(pids));
      await sleep(intervalMs);
    }
  })();
  return {
    async stop() {
      sampling = false;
      await loop;
      if (reset) {
        let hwm = 0;
        for (const pid of pids) hwm += await readMemory(pid).then((memory) => memory.hwm, () => 0);
        peak = Math.max(peak, hwm);
      }
      return { baseline, peak };
    },
  };
}

/** Bytes as MiB. */
export function mib(bytes: number): number {
  return bytes / MIB;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Cleanups of everything still alive: run by {@linkcode cleanupAll} on an interrupt. */
const cleanups = new Set<() => Promise<void>>();

/**
 * Registers a cleanup; returns a function that runs it once and unregisters it.
 *
 * @example
 * ```ts
 * const dispose = track(() => Deno.remove(dir, { recursive: true }));
 * try { ... } finally { await dispose(); }
 * ```
 */
export function track(cleanup: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | null = null;
  const run = () => {
    cleanups.delete(run);
    done ??= cleanup().catch(() => {});
    return done;
  };
  cleanups.add(run);
  return run;
}

/** Runs every registered cleanup (newest first). */
export async function cleanupAll(): Promise<void> {
  for (const cleanup of [...cleanups].reverse()) await cleanup();
}

/** A temporary directory removed on dispose (and by {@linkcode cleanupAll}). */
export interface TempDir extends AsyncDisposable {
  readonly path: string;
}

/** Creates a temporary directory `prunner-bench-*`. */
export async function tempDir(): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix: "prunner-bench-" });
  const dispose = track(() => Deno.remove(path, { recursive: true }));
  return { path, [Symbol.asyncDispose]: dispose };
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Whether `name` is an executable on the `PATH`. */
export async function hasCommand(name: string): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("sh", {
      args: ["-c", 'command -v "$1" >/dev/null', "sh", name],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/**
 * The output of a command, trimmed, or `null` when it cannot run (or fails, unless
 * `anyExit`: `wrk --version` exits with 1).
 */
async function commandOutput(
  command: string,
  args: string[],
  anyExit = false,
): Promise<string | null> {
  try {
    const { success, stdout } = await new Deno.Command(command, { args, stderr: "null" })
      .output();
    return success || anyExit ? new TextDecoder().decode(stdout).trim() : null;
  } catch {
    return null;
  }
}

/** What the benchmark ran on. */
export interface Machine {
  nproc: number;
  cpu: string;
  memoryGiB: number;
  os: string;
  kernel: string;
  deno: string;
  v8: string;
  wrk: string | null;
  parallel: string | null;
}

/** Describes this machine: CPU count and model, memory, OS, Deno and load tools. */
export async function describeMachine(): Promise<Machine> {
  const read = (path: string) => Deno.readTextFile(path).catch(() => "");
  const cpuinfo = await read("/proc/cpuinfo");
  const meminfo = await read("/proc/meminfo");
  const osRelease = await read("/etc/os-release");
  const memKiB = Number(meminfo.match(/^MemTotal:\s+(\d+)/m)?.[1] ?? 0);
  const wrk = await commandOutput("wrk", ["--version"], true);
  return {
    nproc: Number(await commandOutput("nproc", [])) || navigator.hardwareConcurrency,
    cpu: cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1].trim() ?? Deno.build.arch,
    memoryGiB: Math.round(memKiB / 1024 / 1024 * 10) / 10,
    os: osRelease.match(/^PRETTY_NAME="?([^"\n]+)"?$/m)?.[1] ?? Deno.build.os,
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    wrk: wrk === null ? null : wrk.split("\n")[0],
    parallel: (await commandOutput("parallel", ["--version"]))?.split("\n")[0] ?? null,
  };
}

/** CPU time of a process, in milliseconds. */
export interface ProcessCpu {
  /** User and system time of the process itself (all its threads). */
  self: number;
  /** User and system time of its children that it has waited for. */
  children: number;
}

/** Clock ticks per second of `/proc` times (`getconf CLK_TCK`, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/**
 * Reads a process's CPU times from `/proc/PID/stat`.
 *
 * @throws {Deno.errors.NotFound} when the process does not exist.
 */
export async function readCpu(pid: number): Promise<ProcessCpu> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // Fields after the command (which may contain spaces) start at field 3.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
  const ms = (ticks: number) => ticks * 1000 / TICKS_PER_SECOND;
  return { self: ms(fields[11] + fields[12]), children: ms(fields[13] + fields[14]) };
}

/** The pids of a process's live children (from `/proc/PID/task/TID/children` of each thread). */
export function liveChildren(pid: number): number[] {
  const pids: number[] = [];
  try {
    for (const thread of Deno.readDirSync(`/proc/${pid}/task`)) {
      const children = Deno.readTextFileSync(`/proc/${pid}/task/${thread.name}/children`);
      pids.push(...children.split(" ").filter(Boolean).map(Number));
    }
  } catch {
    // The process (or a thread) ended in between.
  }
  return pids;
}

/** What the command line of one of prunner's own child processes ends with. */
const HELPER_ENDINGS = ["__task-executor", "executor_process.ts", "guard_process.ts"];

/**
 * The pids of a process's live children that are prunner's own processes (task executor or
 * guard processes), not tasks it started itself.
 */
export function helperChildren(pid: number): number[] {
  return liveChildren(pid).filter((child) => {
    try {
      const args = Deno.readTextFileSync(`/proc/${child}/cmdline`).split("\0");
      return args.some((arg) =>
        arg === "__task-guard" || HELPER_ENDINGS.some((ending) => arg.endsWith(ending))
      );
    } catch {
      return false; // Ended in between.
    }
  });
}

/**
 * Sums the CPU times of a process's live helper children (see {@linkcode helperChildren}):
 * their own time, and the time of the children they have waited for. Children that end
 * between the reads are missed.
 */
export async function readLiveChildrenCpu(pid: number): Promise<ProcessCpu> {
  const total = { self: 0, children: 0 };
  for (const child of helperChildren(pid)) {
    try {
      const cpu = await readCpu(child);
      total.self += cpu.self;
      total.children += cpu.children;
    } catch {
      // Ended in between.
    }
  }
  return total;
}

/** Busy and total CPU time of the whole machine (all CPUs) in milliseconds, from `/proc/stat`. */
export async function readMachineCpu(): Promise<{ busy: number; total: number }> {
  const line = (await Deno.readTextFile("/proc/stat")).split("\n")[0];
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.split(/\s+/).slice(1)
    .map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return {
    busy: busy * 1000 / TICKS_PER_SECOND,
    total: (busy + idle + iowait) * 1000 / TICKS_PER_SECOND,
  };
}
