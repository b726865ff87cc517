/**
 * What a pipeline's `on_error` script gets to know about the failure.
 *
 * @module
 */
import type { Job, Task } from "../engine/job.ts";
import type { LogStream } from "./api.ts";

/** How much of a failed task's output `on_error` receives, from the end, in bytes. */
export const ON_ERROR_OUTPUT_BYTES = 64 * 1024;

/**
 * The variables of an `on_error` run: the job's own, plus the failed task's name, exit code,
 * error and the last {@linkcode ON_ERROR_OUTPUT_BYTES} of its output.
 *
 * @example
 * ```ts
 * const variables = await onErrorVariables(job, firstFailedTask(job), (task, stream) =>
 *   logs.path(job.id, task, stream));
 * ```
 */
export async function onErrorVariables(
  job: Job,
  failed: Task | undefined,
  logPath: (task: string, stream: LogStream) => string,
): Promise<Record<string, unknown>> {
  return {
    ...(job.variables ?? {}),
    failedTaskName: failed?.name ?? "",
    failedTaskExitCode: failed?.exitCode ?? 0,
    failedTaskError: failed?.error ?? "",
    failedTaskStdout: failed ? await readTail(logPath(failed.name, "stdout")) : "",
    failedTaskStderr: failed ? await readTail(logPath(failed.name, "stderr")) : "",
  };
}

/** Reads at most the last {@linkcode ON_ERROR_OUTPUT_BYTES} of a log file; "" when missing. */
async function readTail(path: string): Promise<string> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch {
    return "";
  }
  try {
    const size = (await file.stat()).size;
    const start = Math.max(0, size - ON_ERROR_OUTPUT_BYTES);
    await file.seek(start, Deno.SeekMode.Start);
    const buffer = new Uint8Array(size - start);
    let read = 0;
    while (read < buffer.length) {
      const n = await file.read(buffer.subarray(read));
      if (n === null) break;
      read += n;
    }
    return new TextDecoder().decode(buffer.subarray(0, read));
  } finally {
    file.close();
  }
}
