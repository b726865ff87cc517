/**
 * Reading a process's output pipe through a `node:net` socket, which waits for data without
 * blocking a thread, straight into the shared copy buffers (`copy_buffers.ts`).
 *
 * @module
 */
import { giveBackCopyBuffer, takeCopyBuffer } from "./copy_buffers.ts";

/**
 * An output stream of a process, read into one reused copy buffer (see `copy_buffers.ts`): a
 * chunk is valid until the next one is asked for. Iterate it once.
 */
export interface ProcessOutput extends AsyncIterable<Uint8Array> {
  /**
   * The chunk handed out last stays in use (by a write that was given up, say): the reads after
   * it go to a new buffer, and that one is not reused.
   */
  keepLastChunk(): void;
}

/** Reads the pipe whose read end is the file descriptor `fd`; the output owns and closes it. */
export type PipeReader = (fd: number) => ProcessOutput;

/**
 * A pipe reader of this process (it loads `node:net` once).
 *
 * @example
 * ```ts
 * const read = await loadPipeReader();
 * for await (const chunk of read(fd)) console.log(chunk.length);
 * ```
 */
export async function loadPipeReader(): Promise<PipeReader> {
  const { Socket } = await import("node:net");
  return (fd) => socketOutput(Socket, fd);
}

/**
 * Reads the pipe `fd` into copy buffers (`onread`); reading pauses while a chunk is handed out.
 * The socket may ask for the buffer of its next read while a chunk is still out, so it gets
 * one that does not hold that chunk: two buffers take turns.
 */
function socketOutput(Socket: typeof import("node:net").Socket, fd: number): ProcessOutput {
  /** The buffers this output owns (at most two). */
  const owned: Uint8Array[] = [];
  /** The buffer of the chunk handed out, until the next one is asked for. */
  let out: Uint8Array | null = null;
  let chunk: Uint8Array | null = null;
  let ended = false;
  let failure: { error: unknown } | null = null;
  let wake: (() => void) | null = null;
  const socket = new Socket(
    {
      fd,
      readable: true,
      writable: false,
      onread: {
        buffer: () => {
          const free = owned.find((buffer) => buffer !== out && buffer.buffer !== chunk?.buffer);
          if (free) return free;
          const taken = takeCopyBuffer();
          owned.push(taken);
          return taken;
        },
        callback: (bytes: number, target: Uint8Array) => {
          chunk = target.subarray(0, bytes);
          wake?.();
          return false; // Paused until the chunk has been used.
        },
      },
    } as ConstructorParameters<typeof Socket>[0],
  );
  socket.on("end", () => {
    ended = true;
    wake?.();
  });
  socket.on("error", (error) => {
    failure = { error };
    wake?.();
  });
  return {
    keepLastChunk() {
      // Neither read into again nor given back.
      if (out !== null) owned.splice(owned.indexOf(out), 1);
      out = null;
    },
    async *[Symbol.asyncIterator]() {
      try {
        while (true) {
          while (chunk === null && !ended && failure === null) {
            await new Promise<void>((resolve) => wake = resolve);
            wake = null;
          }
          if (chunk !== null) {
            const value: Uint8Array = chunk;
            chunk = null;
            out = owned.find((buffer) => buffer.buffer === value.buffer) ?? null;
            yield value;
            out = null;
            socket.resume();
            continue;
          }
          if (failure !== null) throw (failure as { error: unknown }).error;
          return;
        }
      } finally {
        socket.destroy();
        out = null;
        for (const buffer of owned.splice(0)) giveBackCopyBuffer(buffer);
      }
    },
  };
}
