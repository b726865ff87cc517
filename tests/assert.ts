/**
 * Minimal assertions for the test suite (JSR's @std/assert is not reachable from our build
 * machines).
 *
 * @module
 */

/** Thrown when an assertion fails. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

/** Fails unless `condition` is truthy. */
export function assert(condition: unknown, message = "expected a truthy value"): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Fails unless `actual` and `expected` are structurally equal (plain data, Maps, Sets, Dates). */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  if (!deepEqual(actual, expected)) {
    throw new AssertionError(
      `${message ? message + ": " : ""}values differ\n  actual:   ${show(actual)}\n  expected: ${
        show(expected)
      }`,
    );
  }
}

/** Fails if `actual` and `expected` are structurally equal. */
export function assertNotEquals<T>(actual: T, expected: T, message?: string): void {
  if (deepEqual(actual, expected)) {
    throw new AssertionError(`${message ? message + ": " : ""}values are equal: ${show(actual)}`);
  }
}

/** Fails unless `text` matches `pattern`. */
export function assertMatch(text: string, pattern: RegExp, message?: string): void {
  if (!pattern.test(text)) {
    throw new AssertionError(
      `${message ? message + ": " : ""}${show(text)} does not match ${pattern}`,
    );
  }
}

/** Fails unless `fn` throws (optionally an instance of `type` whose message includes `includes`). */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  type?: new (...args: any[]) => E,
  includes?: string,
): E {
  try {
    fn();
  } catch (error) {
    return checkError(error, type, includes);
  }
  throw new AssertionError("expected the function to throw");
}

/** Fails unless `fn` rejects (optionally an instance of `type` whose message includes `includes`). */
export async function assertRejects<E extends Error = Error>(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  type?: new (...args: any[]) => E,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    return checkError(error, type, includes);
  }
  throw new AssertionError("expected the promise to reject");
}

function checkError<E extends Error>(
  error: unknown,
  // deno-lint-ignore no-explicit-any
  type?: new (...args: any[]) => E,
  includes?: string,
): E {
  if (type && !(error instanceof type)) {
    throw new AssertionError(`expected ${type.name}, got ${show(error)}`);
  }
  const message = error instanceof Error ? error.message : String(error);
  if (includes !== undefined && !message.includes(includes)) {
    throw new AssertionError(
      `expected the message to include ${show(includes)}, got ${show(message)}`,
    );
  }
  return error as E;
}

function show(value: unknown): string {
  return Deno.inspect(value, { depth: 10, colors: false, strAbbreviateSize: 2000 });
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Date) return a.getTime() === (b as Date).getTime();
  if (a instanceof Map) {
    const other = b as Map<unknown, unknown>;
    if (a.size !== other.size) return false;
    for (const [k, v] of a) if (!other.has(k) || !deepEqual(v, other.get(k))) return false;
    return true;
  }
  if (a instanceof Set) {
    const other = b as Set<unknown>;
    return a.size === other.size && [...a].every((v) => other.has(v));
  }
  if (ArrayBuffer.isView(a)) {
    const x = a as unknown as ArrayLike<number>;
    const y = b as unknown as ArrayLike<number>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  }
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((k) =>
    Object.prototype.hasOwnProperty.call(b, k) &&
    deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  );
}
