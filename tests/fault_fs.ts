/**
 * Real file system faults for tests: a small tmpfs that fills up, and an ext4 image that the
 * kernel turns read-only while files are open (as it does after an I/O error with
 * `errors=remount-ro`). Mounting needs root on Linux; where it is impossible, the functions say
 * why and the caller skips or falls back to an injected fault.
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
    async [Symbol.asyncDispose]() {
      // Lazy: a process that still has a file open there must not keep the mount.
      await run("umount", ["-l", dir]);
    },
  };
}

/** A mounted ext4 image. */
export interface Ext4Image extends AsyncDisposable {
  readonly path: string;
  /**
   * Makes the kernel record a file system error: with `errors=remount-ro` it turns the file
   * system read-only at once, open files included (`emergency_ro`).
   */
  forceReadOnly(): Promise<void>;
  /** Unmounts, repairs with `e2fsck` and mounts again read-write (nothing may use it). */
  repair(): Promise<void>;
}

/**
 * Mounts a new ext4 image of `sizeMiB` on `dir` with `errors=remount-ro`, or returns why it
 * cannot. The image lives next to `dir`; it is unmounted and removed on dispose.
 */
export async function ext4Image(dir: string, sizeMiB: number): Promise<Ext4Image | string> {
  if (Deno.build.os !== "linux") return "ext4 images need Linux";
  if (Deno.uid() !== 0) return "mounting an ext4 image needs root";
  const image = `${dir}.ext4`;
  const fail = async (why: string) => {
    await Deno.remove(image).catch(() => {});
    return why;
  };
  await Deno.writeFile(image, new Uint8Array()).catch(() => {});
  await Deno.truncate(image, sizeMiB * 1024 * 1024);
  const made = await run("mkfs.ext4", ["-q", "-F", image]);
  if (made !== null) return fail(`cannot make an ext4 file system: ${made}`);
  const mount = () => run("mount", ["-o", "loop,errors=remount-ro", image, dir]);
  const mounted = await mount();
  if (mounted !== null) return fail(`cannot mount an ext4 image: ${mounted}`);
  const device = async () => {
    const { stdout } = await new Deno.Command("findmnt", { args: ["-n", "-o", "SOURCE", dir] })
      .output();
    return new TextDecoder().decode(stdout).trim().split("/").pop()!;
  };
  const trigger = `/sys/fs/ext4/${await device()}/trigger_fs_error`;
  if (!(await Deno.stat(trigger).then(() => true, () => false))) {
    await run("umount", [dir]);
    return fail(`this kernel has no ${trigger} to force an ext4 file system read-only`);
  }
  return {
    path: dir,
    async forceReadOnly() {
      await Deno.writeTextFile(`/sys/fs/ext4/${await device()}/trigger_fs_error`, "test\n");
    },
    async repair() {
      const failed = await run("umount", [dir]) ??
        // e2fsck exits 1 when it fixed something.
        await run("sh", ["-c", `e2fsck -fy '${image}' >/dev/null; [ $? -le 1 ]`]) ??
        await mount();
      if (failed !== null) throw new Error(`cannot repair ${image}: ${failed}`);
    },
    async [Symbol.asyncDispose]() {
      await run("umount", ["-l", dir]);
      await Deno.remove(image).catch(() => {});
    },
  };
}
