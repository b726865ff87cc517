/**
 * Runs `fn` with a new temporary directory, removed afterwards whatever happens.
 *
 * @example
 * ```ts
 * await withTempDir("prunner-config-", async (dir) => {
 *   await Deno.writeTextFile(`${dir}/.prunner.yml`, "jwt_secret: …");
 * });
 * ```
 */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
