/**
 * The task executor process: runs the tasks prunner sends it (see `protocol.ts`) and reports
 * their outcomes, so that starting tasks and copying their output happen on another core than
 * the API. Where there is no `setsid` program (see `shell.ts`), starting a process in its own
 * session makes Deno fork the whole calling process, which takes time in proportion to the
 * caller's memory (about 40 µs per MiB, measured): a small process spawns several times faster
 * than the server.
 *
 * When its stdin ends (prunner stopped or died) it kills the tasks still running, waits for
 * them, and exits. SIGINT and SIGTERM do not stop it: a service manager that signals every
 * process of the service reaches prunner too, and prunner decides what happens to the tasks.
 *
 * @module
 */
import type { TaskOutcome } from "../engine/task_graph.ts";
import {
  decodeRequest,
  type ExecutorResult,
  lineWriter,
  ProtocolError,
  readMessages,
} from "./protocol.ts";
import { runTask, type TaskRun } from "./run_task.ts";
import { IDLE_RELEASE_MS, idleRelease } from "../memory/idle.ts";
import { mallocTrim } from "../memory/release.ts";

/**
 * Serves requests from `input` and writes results to `output` until `input` ends; then kills
 * the running tasks and resolves once every one has finished. A request it cannot use is
 * answered with a `rejected` result that says what is wrong with it; the others are served on.
 */
export async function serveExecutor(
  input: AsyncIterable<Uint8Array>,
  output: WritableStream<Uint8Array>,
): Promise<void> {
  const runs = new Map<number, TaskRun>();
  const idle = idleRelease(IDLE_RELEASE_MS, mallocTrim());
  /** Go-aheads of held tasks whose `go` has not arrived yet. */
  const held = new Map<number, () => void>();
  const writer = lineWriter<ExecutorResult>(output);
  try {
    for await (const request of readMessages(input, decodeRequest)) {
      idle.activity();
      if (request instanceof ProtocolError) {
        writer.send(rejection(request));
        continue;
      }
      if (request.type === "kill") {
        runs.get(request.id)?.kill();
        continue;
      }
      if (request.type === "go") {
        held.get(request.id)?.();
        held.delete(request.id);
        continue;
      }
      const { id } = request;
      if (request.type === "ping") {
        writer.send({ type: "pong", id });
        continue;
      }
      let ready: Promise<void> | undefined;
      if (request.held) {
        const go = Promise.withResolvers<void>();
        held.set(id, go.resolve);
        ready = go.promise;
      }
      const run = runTask(request.spec, {
        // At once: should this process die, prunner must know the group to end it.
        started: (pid) => writer.sendNow({ type: "started", id, pid }),
        ready,
      });
      runs.set(id, run);
      run.done.then((outcome: TaskOutcome) => {
        idle.activity();
        runs.delete(id);
        held.delete(id);
        writer.send({ type: "done", id, outcome });
      });
    }
  } finally {
    idle.stop();
    const running = [...runs.values()];
    for (const run of running) run.kill();
    await Promise.all(running.map((run) => run.done));
    await writer.close();
  }
}

/** The answer to a request that could not be used. */
function rejection(error: ProtocolError): ExecutorResult {
  return { type: "rejected", id: error.id, error: error.message };
}

/** Runs this process as the task executor on its stdin and stdout, until stdin ends. */
export async function runExecutorProcess(): Promise<void> {
  const ignore = () => {};
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, ignore);
  try {
    // Written synchronously, so a message is in the pipe before the next task line runs.
    const output = new WritableStream<Uint8Array>({
      write(chunk) {
        while (chunk.length > 0) chunk = chunk.subarray(Deno.stdout.writeSync(chunk));
      },
    });
    await serveExecutor(await requestInput(), output);
  } finally {
    for (const signal of signals) Deno.removeSignalListener(signal, ignore);
  }
}

/**
 * This process's stdin, where prunner's requests arrive. A pipe is read through a `node:net`
 * socket: Deno reads its stdin on a thread of its blocking pool, and the hand-over added about
 * 0.3 ms to every request (a round trip to an echoing process took 0.34–0.74 ms that way, 0.19–0.38
 * ms through the socket).
 */
async function requestInput(): Promise<AsyncIterable<Uint8Array>> {
  try {
    if (Deno.build.os !== "windows" && Deno.statSync("/dev/stdin").isFifo) {
      const { Socket } = await import("node:net");
      return new Socket({ fd: 0, readable: true, writable: false });
    }
  } catch {
    // No /dev/stdin, or not a pipe the socket can read: read it as Deno does.
  }
  return Deno.stdin.readable;
}

if (import.meta.main) {
  await runExecutorProcess();
  // A log file operation given up on a hung file system would keep the process alive.
  Deno.exit(0);
}
