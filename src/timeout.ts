/**
 * Waiting for a promise with a time limit.
 *
 * @module
 */

/**
 * `promise`'s value, or `null` when it has not settled within `ms` milliseconds. A rejection
 * within the limit rejects. The timer is cleared either way, so it never keeps Deno alive.
 *
 * @example
 * ```ts
 * await valueWithin(Promise.resolve(1), 100); // 1
 * await valueWithin(new Promise(() => {}), 10); // null
 * ```
 */
export async function valueWithin<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), Math.max(0, ms));
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}
