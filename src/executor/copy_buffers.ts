/**
 * The buffers task output is copied through, shared by all outputs of a process. Most tasks
 * print little or nothing: a new 64 KiB buffer per stream and task was most of what a busy
 * executor allocated, and its memory grew with the allocations (measured: 35 → 55 MiB RSS over
 * 1,500 tasks). An output takes a buffer when it starts and gives it back when it ends.
 *
 * @module
 */

/** Size of a copy buffer. */
export const COPY_BUFFER_BYTES = 64 * 1024;

/** Spare buffers kept at most (beyond that, buffers given back are dropped). */
const SPARE_BUFFERS = 16;

const spare: Uint8Array[] = [];

/**
 * A copy buffer: a spare one, or a new one.
 *
 * @example
 * ```ts
 * const buffer = takeCopyBuffer();
 * // … read output into it …
 * giveBackCopyBuffer(buffer);
 * ```
 */
export function takeCopyBuffer(): Uint8Array {
  return spare.pop() ?? new Uint8Array(COPY_BUFFER_BYTES);
}

/** Keeps `buffer` for the next output; call it only once nothing uses the buffer any more. */
export function giveBackCopyBuffer(buffer: Uint8Array): void {
  if (buffer.byteLength === COPY_BUFFER_BYTES && spare.length < SPARE_BUFFERS) spare.push(buffer);
}
