/**
 * The messages between prunner and its task executor process, one JSON object per line: prunner
 * writes requests to the executor's stdin, the executor writes results to its stdout. Each side
 * checks every message it reads (`decodeRequest`, `decodeResult`): a message that is not what
 * this module says is answered or logged as a `ProtocolError`, and the other messages go on.
 *
 * @module
 */
import type { StreamLoss } from "../engine/job.ts";
import type { TaskOutcome } from "../engine/task_graph.ts";

/** The argument that makes prunner's entry point run as the task executor process. */
export const EXECUTOR_ARG = "__task-executor";

/** Everything needed to run a task, as it is sent to the executor process. */
export interface TaskSpec {
  /** Script lines (templates), run in order. */
  readonly lines: readonly string[];
  /** Job variables for the templates. */
  readonly variables: Record<string, unknown>;
  /** Variables set for the processes on top of prunner's own environment. */
  readonly env: Record<string, string>;
  /** Working directory of the processes. */
  readonly cwd: string;
  /** Run the remaining lines after a failing one and report success with its exit code. */
  readonly allowFailure: boolean;
  readonly stdoutPath: string;
  readonly stderrPath: string;
  /** Time between SIGINT and SIGKILL when the task is killed. */
  readonly killTimeoutMs: number;
}

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
 * signals itself should the executor die), a task has finished, the answer to a ping, or a
 * request the executor could not use (`id` is the request's, when it had a readable one).
 */
export type ExecutorResult =
  | { readonly type: "started"; readonly id: number; readonly pid: number }
  | { readonly type: "done"; readonly id: number; readonly outcome: TaskOutcome }
  | { readonly type: "pong"; readonly id: number }
  | { readonly type: "rejected"; readonly id: number | null; readonly error: string };

/**
 * A message read from the other side is not one this protocol knows: not JSON, of an unknown
 * type, or with a field missing or of the wrong kind. The message says which.
 */
export class ProtocolError extends Error {
  constructor(
    /** The type of the message, when it has a known one. */
    readonly messageType: string | null,
    /** The id of the message, when it has a readable one. */
    readonly id: number | null,
    /** What is wrong, e.g. `has an invalid spec.lines: expected an array of strings, got 3`. */
    readonly problem: string,
  ) {
    super(`${messageType === null ? "a message" : `a "${messageType}" message`} ${problem}`);
    this.name = "ProtocolError";
  }
}

/**
 * A request as the executor process reads it.
 *
 * @throws {ProtocolError} when `value` is not a request, naming the wrong field.
 * @example
 * ```ts
 * decodeRequest({ type: "kill", id: 7 }); // { type: "kill", id: 7 }
 * decodeRequest({ type: "kill" }); // throws: a "kill" message has an invalid id: …
 * ```
 */
export function decodeRequest(value: unknown): ExecutorRequest {
  return decodeMessage(value, REQUESTS);
}

/**
 * A result as prunner reads it from the executor process.
 *
 * @throws {ProtocolError} when `value` is not a result, naming the wrong field.
 * @example
 * ```ts
 * decodeResult({ type: "pong", id: 7 }); // { type: "pong", id: 7 }
 * decodeResult({ type: "started", id: 7, pid: "1" }); // throws: … has an invalid pid: …
 * ```
 */
export function decodeResult(value: unknown): ExecutorResult {
  return decodeMessage(value, RESULTS);
}

/** A JSON object as read from a line. */
type Fields = Record<string, unknown>;

/** A field of a message is missing or of the wrong kind. */
class InvalidField extends Error {
  constructor(readonly field: string, readonly expected: string, readonly value: unknown) {
    super(`${field}: expected ${expected}`);
  }
}

/** A kind of JSON value a field must have: how to tell it, and how to name it in an error. */
interface Kind<T> {
  readonly expected: string;
  is(value: unknown): value is T;
}

function kind<T>(expected: string, is: (value: unknown) => value is T): Kind<T> {
  return { expected, is };
}

const STRING = kind("a string", (value): value is string => typeof value === "string");
const BOOLEAN = kind("true or false", (value): value is boolean => typeof value === "boolean");
const INTEGER = kind("an integer", (value): value is number => Number.isSafeInteger(value));
const COUNT = kind("an integer of 0 or more", (value): value is number => isCount(value));
const PID = kind(
  "a positive integer",
  (value): value is number => Number.isSafeInteger(value) && (value as number) > 0,
);
const MILLISECONDS = kind(
  "a number of milliseconds",
  (value): value is number => typeof value === "number" && Number.isFinite(value) && value >= 0,
);
const OBJECT = kind("an object", isObject);
const STRINGS = kind(
  "an array of strings",
  (value): value is string[] => Array.isArray(value) && value.every(STRING.is),
);
const STRING_VALUES = kind(
  "an object of strings",
  (value): value is Record<string, string> =>
    isObject(value) && Object.values(value).every(STRING.is),
);
const STREAMS = kind(
  'an array of "stdout" and "stderr"',
  (value): value is ("stdout" | "stderr")[] =>
    Array.isArray(value) && value.every((stream) => stream === "stdout" || stream === "stderr"),
);
const STRING_OR_NULL = kind(
  "a string or null",
  (value): value is string | null => value === null || typeof value === "string",
);

/** The field `name` of `fields` (`prefix` says where `fields` are, for the error). */
function field<T>(fields: Fields, name: string, kind: Kind<T>, prefix = ""): T {
  const value = fields[name];
  if (!kind.is(value)) throw new InvalidField(prefix + name, kind.expected, value);
  return value;
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isObject(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const REQUESTS: Record<ExecutorRequest["type"], (message: Fields) => ExecutorRequest> = {
  run: (message) => {
    const id = field(message, "id", COUNT);
    const spec = taskSpec(field(message, "spec", OBJECT));
    if (message.held === undefined) return { type: "run", id, spec };
    if (message.held !== true) throw new InvalidField("held", "true or nothing", message.held);
    return { type: "run", id, spec, held: true };
  },
  go: (message) => ({ type: "go", id: field(message, "id", COUNT) }),
  kill: (message) => ({ type: "kill", id: field(message, "id", COUNT) }),
  ping: (message) => ({ type: "ping", id: field(message, "id", COUNT) }),
};

const RESULTS: Record<ExecutorResult["type"], (message: Fields) => ExecutorResult> = {
  started: (message) => ({
    type: "started",
    id: field(message, "id", COUNT),
    pid: field(message, "pid", PID),
  }),
  done: (message) => ({
    type: "done",
    id: field(message, "id", COUNT),
    outcome: taskOutcome(field(message, "outcome", OBJECT)),
  }),
  pong: (message) => ({ type: "pong", id: field(message, "id", COUNT) }),
  rejected: (message) => ({
    type: "rejected",
    id: message.id === null ? null : field(message, "id", COUNT),
    error: field(message, "error", STRING),
  }),
};

/** Checks the type of a message and decodes it with the decoder of that type. */
function decodeMessage<T>(value: unknown, decoders: Record<string, (message: Fields) => T>): T {
  if (!isObject(value)) throw new ProtocolError(null, null, `is not a JSON object: ${show(value)}`);
  const id = isCount(value.id) ? value.id : null;
  const type = value.type;
  if (typeof type !== "string" || !Object.hasOwn(decoders, type)) {
    const known = Object.keys(decoders).join(", ");
    throw new ProtocolError(null, id, `has an unknown type ${show(type)} (known: ${known})`);
  }
  try {
    return decoders[type](value);
  } catch (error) {
    if (!(error instanceof InvalidField)) throw error;
    const problem = `has an invalid ${error.field}: expected ${error.expected}, got ${
      show(error.value)
    }`;
    throw new ProtocolError(type, id, problem);
  }
}

function taskSpec(spec: Fields): TaskSpec {
  const at = "spec.";
  return {
    lines: field(spec, "lines", STRINGS, at),
    variables: field(spec, "variables", OBJECT, at),
    env: field(spec, "env", STRING_VALUES, at),
    cwd: field(spec, "cwd", STRING, at),
    allowFailure: field(spec, "allowFailure", BOOLEAN, at),
    stdoutPath: field(spec, "stdoutPath", STRING, at),
    stderrPath: field(spec, "stderrPath", STRING, at),
    killTimeoutMs: field(spec, "killTimeoutMs", MILLISECONDS, at),
  };
}

function taskOutcome(outcome: Fields): TaskOutcome {
  const at = "outcome.";
  const decoded: TaskOutcome = {
    exitCode: field(outcome, "exitCode", INTEGER, at),
    error: field(outcome, "error", STRING_OR_NULL, at),
    killed: field(outcome, "killed", BOOLEAN, at),
  };
  if (outcome.logged !== undefined) decoded.logged = field(outcome, "logged", STREAMS, at);
  if (outcome.dropped === undefined) return decoded;
  const dropped = field(outcome, "dropped", OBJECT, at);
  const stdout = streamLoss(dropped, "stdout");
  const stderr = streamLoss(dropped, "stderr");
  return { ...decoded, dropped: { ...(stdout && { stdout }), ...(stderr && { stderr }) } };
}

function streamLoss(dropped: Fields, stream: "stdout" | "stderr"): StreamLoss | undefined {
  if (dropped[stream] === undefined) return undefined;
  const loss = field(dropped, stream, OBJECT, "outcome.dropped.");
  const at = `outcome.dropped.${stream}.`;
  return { bytes: field(loss, "bytes", COUNT, at), reason: field(loss, "reason", STRING, at) };
}

/** A short JSON rendering of a wrong value, for error messages. */
function show(value: unknown): string {
  const text = value === undefined ? "nothing" : JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Writes messages of type `T` as JSON lines. */
export interface LineWriter<T> {
  /** Queues a message; queued messages are written together at the end of the microtask turn. */
  send(message: T): void;
  /** Writes what is queued and `message` at once, without waiting for the microtask turn. */
  sendNow(message: T): void;
  /** Writes what is queued and closes the stream. */
  close(): Promise<void>;
}

/**
 * Writes messages to `stream` as JSON lines, a burst of messages in one write. After a write
 * fails (the reader is gone), further messages are dropped.
 */
export function lineWriter<T>(stream: WritableStream<Uint8Array>): LineWriter<T> {
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

/** Yields the lines of a stream of JSON lines; blank lines are skipped. */
export async function* readLines(stream: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of stream) {
    const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
    rest = lines.pop()!;
    for (const line of lines) if (line.trim() !== "") yield line;
  }
  rest += decoder.decode();
  if (rest.trim() !== "") yield rest;
}

/**
 * Yields the messages of a stream of JSON lines as `decode` returns them, or, for a line that is
 * not JSON or that `decode` refuses, the `ProtocolError` that says why; the lines after it are
 * read on. Rejects only when the stream does.
 *
 * @example
 * ```ts
 * for await (const request of readMessages(input, decodeRequest)) {
 *   if (request instanceof ProtocolError) console.error(request.message);
 * }
 * ```
 */
export async function* readMessages<T>(
  stream: AsyncIterable<Uint8Array>,
  decode: (value: unknown) => T,
): AsyncGenerator<T | ProtocolError> {
  for await (const line of readLines(stream)) {
    let message: T | ProtocolError;
    try {
      message = decode(JSON.parse(line));
    } catch (error) {
      if (error instanceof ProtocolError) message = error;
      else if (error instanceof SyntaxError) {
        message = new ProtocolError(null, null, `is not JSON (${error.message}): ${show(line)}`);
      } else throw error;
    }
    yield message;
  }
}
