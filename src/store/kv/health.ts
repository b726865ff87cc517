/**
 * The write check of a Deno KV job store: one small record, `["health"]`, rewritten with the
 * time of each check.
 *
 * @module
 */

/**
 * Writes `now` to `["health"]`, to see whether the database takes writes.
 *
 * @throws {Error} the cause when it does not.
 * @example
 * ```ts
 * await writeHealth(kv, Date.now());
 * ```
 */
export async function writeHealth(kv: Deno.Kv, now: number): Promise<void> {
  const result = await kv.set(["health"], now);
  if (!result.ok) throw new Error("the health record was not written");
}
