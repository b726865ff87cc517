/**
 * The messages between prunner and its task executor process, one JSON object per line: prunner
 * writes requests to the executor's stdin, the executor writes results to its stdout.
 *
 * @module
 */
import type { TaskOutcome } from "../engine/task_graph.ts";
import type { TaskSpec } from "./run_task.ts";

/** The argument that makes prunner's entry point run as the task executor process. */
export const EXECUTOR_ARG = "__task-executor";

/**
 * prunner → executor: start a task (a `held` one runs its first line only after a `go` for it),
 * let a held task run, kill a started one, or answer to show it is alive.
 */
export type ExecutorRequest =
  | { readonly type: "run"; readonly id: number; readonly spec: TaskSpec; readonly held?: true }
  | { readonly type: "go"; readonly id: number }
  | { readonly type: "kill"; readonly id: number }
  | { readonly type: "ping"; readonly id: number };

/**
 * executor → prunner: a line of a task started (its pid is its process group's id, which prunner
 * signals itself should the executor die), a task has finished, or the answer to a ping.
 */
export type ExecutorResult =
  | { readonly type: "started"; readonly id: number; readonly pid: number }
  | { readonly type: "done"; readonly id: number; readonly outcome: TaskOutcome }
  | { readonly type: "pong"; readonly id: number };

/** Writes messages as JSON lines. */
export interface LineWriter {
  /** Queues a message; queued messages are written together at the end of the microtask turn. */
  send(message: unknown): void;
  /** Writes what is queued and `message` at once, without waiting for the microtask turn. */
  sendNow(message: unknown): void;
  /** Writes what is queued and closes the stream. */
  close(): Promise<void>;
}

/**
 * Writes messages to `stream` as JSON lines, a burst of messages in one write. After a write
 * fails (the reader is gone), further messages are dropped.
 */
export function lineWriter(stream: WritableStream<Uint8Array>): LineWriter {
  const writer = stream.getWriter();
  const encoder = new TextEncoder();
  let pending: string[] = [];
  let failed = false;
  const flush = () => {
    if (pending.length === 0) return;
    const text = pending.join("");
    pending = [];
    writer.write(encoder.encode(text)).catch(() => {
      failed = true;
    });
  };
  return {
    send(message) {
      if (failed) return;
      if (pending.length === 0) queueMicrotask(flush);
      pending.push(JSON.stringify(message) + "\n");
    },
    sendNow(message) {
      if (failed) return;
      pending.push(JSON.stringify(message) + "\n");
      flush();
    },
    close() {
      flush();
      return writer.close().catch(() => {});
    },
  };
}

/** Yields the JSON values of a stream of JSON lines; blank lines are skipped. */
export async function* readLines(stream: AsyncIterable<Uint8Array>): AsyncGenerator<unknown> {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of stream) {
    const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
    rest = lines.pop()!;
    for (const line of lines) if (line.trim() !== "") yield JSON.parse(line);
  }
  rest += decoder.decode();
  if (rest.trim() !== "") yield JSON.parse(rest);
}
