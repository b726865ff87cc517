/**
 * Real file system faults for tests: a small tmpfs that fills up, remounted read-only at will.
 * Mounting needs root on Linux; where it is impossible, `smallFileSystem` says why and the
 * caller falls back to an injected fault.
 *
 * @module
 */

/** A mounted tmpfs. */
export interface SmallFileSystem extends AsyncDisposable {
  readonly path: string;
  /** Fills the free space with a file (`<path>/filler`); returns its size in bytes. */
  fill(): Promise<number>;
  /** Removes the filler file. */
  free(): Promise<void>;
  /** Remounts read-only (`true`) or read-write (`false`). */
  readOnly(on: boolean): Promise<void>;
}

async function run(program: string, args: string[]): Promise<string | null> {
  try {
    const { success, stderr } = await new Deno.Command(program, { args, stdout: "null" })
      .output();
    return success ? null : new TextDecoder().decode(stderr).trim() || `${program} failed`;
  } catch (error) {
    return `${program}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/**
 * Mounts a tmpfs of `size` (e.g. `"3m"`) on `dir`, or returns why it cannot. Unmounted on
 * dispose, whatever happened.
 */
export async function smallFileSystem(
  dir: string,
  size: string,
): Promise<SmallFileSystem | string> {
  if (Deno.build.os !== "linux") return "tmpfs mounts need Linux";
  if (Deno.uid() !== 0) return "mounting a tmpfs needs root";
  const failed = await run("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
  if (failed !== null) return `cannot mount a tmpfs: ${failed}`;
  const filler = `${dir}/filler`;
  return {
    path: dir,
    async fill() {
      const file = await Deno.open(filler, { write: true, create: true, append: true });
      const chunk = new Uint8Array(64 * 1024);
      let size = 0;
      try {
        for (let n = chunk.length; n >= 1; n = Math.floor(n / 2)) {
          while (true) {
            try {
              size += await file.write(chunk.subarray(0, n));
            } catch {
              break;
            }
          }
        }
      } finally {
        file.close();
      }
      return size;
    },
    async free() {
      await Deno.remove(filler).catch(() => {});
    },
    async readOnly(on) {
      const failed = await run("mount", ["-o", `remount,${on ? "ro" : "rw"}`, dir]);
      if (failed !== null) throw new Error(`cannot remount ${dir}: ${failed}`);
    },
    async [Symbol.asyncDispose]() {
      // Lazy: a process that still has a file open there must not keep the mount.
      await run("umount", ["-l", dir]);
    },
  };
}
