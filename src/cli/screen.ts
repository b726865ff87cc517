/**
 * Where the client commands write: standard output and error, and on a terminal a status line
 * at the bottom that output lines are written above.
 *
 * @module
 */

/** A place to write text to, synchronously. */
export interface Sink {
  writeSync(bytes: Uint8Array): number;
  isTerminal(): boolean;
}

/** The client's output. */
export interface Screen {
  /** Colours on standard output (a terminal and no `NO_COLOR`). */
  readonly colour: boolean;
  /** Standard error is a terminal, so a status line can be shown there. */
  readonly interactive: boolean;
  /** Writes to standard output. */
  out(text: string): void;
  /** Writes to standard error. */
  err(text: string): void;
  /** Shows `text` as the status line (terminal only); `null` removes it. */
  status(text: string | null): void;
}

const encoder = new TextEncoder();
const CLEAR_LINE = "\r\x1b[2K";

function writeAll(sink: Sink, text: string): void {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(sink.writeSync(bytes));
}

/**
 * A screen over two sinks (by default the process's standard output and error).
 *
 * @example
 * ```ts
 * const screen = createScreen(Deno.env.toObject());
 * screen.status("running build");
 * screen.out("a line\n"); // written above the status line
 * ```
 */
export function createScreen(
  env: Record<string, string | undefined>,
  stdout: Sink = Deno.stdout,
  stderr: Sink = Deno.stderr,
): Screen {
  const noColour = env.NO_COLOR !== undefined && env.NO_COLOR !== "";
  const interactive = stderr.isTerminal();
  let line: string | null = null;
  const around = (write: () => void) => {
    if (line !== null) writeAll(stderr, CLEAR_LINE);
    write();
    if (line !== null) writeAll(stderr, line);
  };
  return {
    colour: stdout.isTerminal() && !noColour,
    interactive,
    out: (text) => around(() => writeAll(stdout, text)),
    err: (text) => around(() => writeAll(stderr, text)),
    status(text) {
      if (!interactive) return;
      writeAll(stderr, CLEAR_LINE + (text ?? ""));
      line = text;
    },
  };
}
