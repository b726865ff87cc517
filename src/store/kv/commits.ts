/**
 * Fitting writes into Deno KV's atomic commits. A write is a list of mutations; mutations that
 * must be applied together form a {@linkcode Unit}, and {@linkcode groupCommits} puts units, in
 * order, into as few commits as Deno KV's limits allow. Sizes are computed as Deno KV counts
 * them (keys exactly, values as an upper bound), so a commit built here is never refused for
 * its size.
 *
 * @module
 */

/** Deno KV's limits on one atomic commit (the same locally and over KV Connect). */
export const KV_LIMITS = {
  mutations: 1000,
  /** Keys and values of all mutations together. */
  totalBytes: 819_200,
  /** Keys of all mutations together. */
  totalKeyBytes: 81_920,
  valueBytes: 65_536,
  keyBytes: 2048,
  /** Keys per `getMany`. */
  getMany: 10,
} as const;

/** One key set or deleted, with its encoded size. */
export interface Mutation {
  readonly key: Deno.KvKey;
  /** `undefined` deletes the key. */
  readonly value: unknown;
  /** Milliseconds after which Deno KV may delete the key by itself (see `Deno.Kv.set`). */
  readonly expireIn?: number;
  readonly keyBytes: number;
  readonly bytes: number;
}

/** Mutations that must be committed together, with their sizes summed. */
export interface Unit {
  readonly mutations: Mutation[];
  readonly keyBytes: number;
  readonly bytes: number;
}

/**
 * A mutation that sets `key` to `value`; with `expireIn`, Deno KV deletes the key some time
 * after that many milliseconds (not at once: readers check the expiry themselves).
 *
 * @throws {RangeError} when the key is longer than Deno KV takes.
 * @example
 * ```ts
 * set(["jobs", 1700000000000, "6f1c…"], bytes);
 * ```
 */
export function set(key: Deno.KvKey, value: unknown, expireIn?: number): Mutation {
  const keyBytes = keySize(key);
  if (keyBytes > KV_LIMITS.keyBytes) {
    throw new RangeError(
      `its key ${JSON.stringify(key)} needs ${keyBytes} bytes, at most ${KV_LIMITS.keyBytes} ` +
        `are possible (is the pipeline name or job id that long?)`,
    );
  }
  const mutation = { key, value, keyBytes, bytes: keyBytes + valueSize(value) };
  return expireIn === undefined ? mutation : { ...mutation, expireIn };
}

/**
 * A mutation that deletes `key`.
 *
 * @example
 * ```ts
 * remove(["unfinished", job.created, job.id]);
 * ```
 */
export function remove(key: Deno.KvKey): Mutation {
  const keyBytes = keySize(key);
  return { key, value: undefined, keyBytes, bytes: keyBytes };
}

/**
 * Mutations to commit together.
 *
 * @example
 * ```ts
 * const unit = unitOf([set(["a"], 1), remove(["b"])]);
 * ```
 */
export function unitOf(mutations: Mutation[]): Unit {
  let keyBytes = 0;
  let bytes = 0;
  for (const mutation of mutations) {
    keyBytes += mutation.keyBytes;
    bytes += mutation.bytes;
  }
  return { mutations, keyBytes, bytes };
}

/**
 * Whether a unit fits into one commit.
 *
 * @example
 * ```ts
 * if (!fits(unit)) throw new RangeError("too big for one commit");
 * ```
 */
export function fits(unit: Unit): boolean {
  return unit.mutations.length <= KV_LIMITS.mutations && unit.bytes <= KV_LIMITS.totalBytes &&
    unit.keyBytes <= KV_LIMITS.totalKeyBytes;
}

/**
 * Groups units, in order, into as few commits as Deno KV's limits allow; a unit is never split
 * (one that does not fit alone gets a commit of its own, which Deno KV refuses).
 *
 * @example
 * ```ts
 * for (const units of groupCommits([unitOf([set(["a"], 1)]), unitOf([set(["b"], 2)])])) {
 *   await commit(kv, units);
 * }
 * ```
 */
export function groupCommits<U extends Unit>(units: readonly U[]): U[][] {
  const commits: U[][] = [];
  let current: U[] = [];
  let mutations = 0;
  let bytes = 0;
  let keyBytes = 0;
  for (const unit of units) {
    if (
      current.length > 0 &&
      (mutations + unit.mutations.length > KV_LIMITS.mutations ||
        bytes + unit.bytes > KV_LIMITS.totalBytes ||
        keyBytes + unit.keyBytes > KV_LIMITS.totalKeyBytes)
    ) {
      commits.push(current);
      current = [];
      mutations = bytes = keyBytes = 0;
    }
    current.push(unit);
    mutations += unit.mutations.length;
    bytes += unit.bytes;
    keyBytes += unit.keyBytes;
  }
  if (current.length > 0) commits.push(current);
  return commits;
}

/**
 * Applies the units' mutations in one atomic commit.
 *
 * @throws {Error} when Deno KV does not apply the commit.
 * @example
 * ```ts
 * await commit(kv, [unitOf([set(["health"], Date.now())])]);
 * ```
 */
export async function commit(kv: Deno.Kv, units: readonly Unit[]): Promise<void> {
  const operation = kv.atomic();
  for (const unit of units) {
    for (const { key, value, expireIn } of unit.mutations) {
      if (value === undefined) operation.delete(key);
      else operation.set(key, value, expireIn === undefined ? undefined : { expireIn });
    }
  }
  const result = await operation.commit();
  if (!result.ok) throw new Error("the atomic commit was not applied");
}

/**
 * Encoded size of a key as Deno KV counts it: a string costs its UTF-8 bytes, one more per NUL
 * character and 2 bytes; a number 9, anything else 16 at most.
 *
 * @example
 * ```ts
 * keySize(["jobs", 1, "ü"]); // 4 + 9 + 4
 * ```
 */
export function keySize(key: Deno.KvKey): number {
  let size = 0;
  for (const part of key) {
    if (typeof part === "string") size += 2 + utf8Length(part) + countNul(part);
    else if (typeof part === "number") size += 9;
    else size += 16;
  }
  return size;
}

/**
 * An upper bound of a value's encoded size.
 *
 * @example
 * ```ts
 * valueSize(new Uint8Array(10)); // 10
 * ```
 */
export function valueSize(value: unknown): number {
  if (value instanceof Uint8Array) return value.length;
  if (typeof value === "string") return 8 + 3 * value.length;
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + valueSize(item), 8);
  return 16;
}

function utf8Length(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) length += 1;
    else if (code < 0x800) length += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      length += 4;
      i++;
    } else length += 3;
  }
  return length;
}

function countNul(text: string): number {
  let count = 0;
  for (let i = text.indexOf("\0"); i !== -1; i = text.indexOf("\0", i + 1)) count++;
  return count;
}
