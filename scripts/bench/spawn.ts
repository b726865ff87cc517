/**
 * The reference points without a runner: spawning `sh -c /bin/true` directly (case 1, the
 * ceiling) and GNU parallel running the same command (case 3, what a user would otherwise reach
 * for).
 *
 * @module
 */
import { TRUE_COMMAND } from "./sizes.ts";

/** How long a batch of runs took. */
export interface Rate {
  count: number;
  seconds: number;
  perSecond: number;
}

function rate(count: number, startedMs: number): Rate {
  const seconds = (performance.now() - startedMs) / 1000;
  return { count, seconds, perSecond: count / seconds };
}

/**
 * Case 1: `count` × `sh -c /bin/true` through `Deno.Command`, `parallelism` at a time.
 *
 * @throws {Error} when a run fails.
 */
export async function spawnLimit(count: number, parallelism: number): Promise<Rate> {
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < count) {
      next++;
      const { success } = await new Deno.Command("sh", {
        args: ["-c", TRUE_COMMAND],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).output();
      if (!success) throw new Error(`sh -c ${TRUE_COMMAND} failed`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallelism, count) }, worker));
  return rate(count, started);
}

/**
 * Case 3: GNU parallel running `/bin/true` `count` times with `-j parallelism` (shell `/bin/sh`, as
 * prunner's `sh -c`). Resolves with `null` when `parallel` is not installed.
 *
 * @throws {Error} when parallel fails.
 */
export async function gnuParallel(count: number, parallelism: number): Promise<Rate | null> {
  const started = performance.now();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("parallel", {
      args: ["--will-cite", `-j${parallelism}`, "-N0", TRUE_COMMAND],
      env: { PARALLEL_SHELL: "/bin/sh" },
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  const writer = child.stdin.getWriter();
  await writer.write(
    new TextEncoder().encode(Array.from({ length: count }, (_, i) => i).join("\n") + "\n"),
  );
  await writer.close();
  const [errors, { success }] = await Promise.all([
    new Response(child.stderr).text(),
    child.status,
  ]);
  if (!success) throw new Error(`parallel failed: ${errors.trim()}`);
  return rate(count, started);
}
