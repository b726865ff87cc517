/**
 * HS256 JSON Web Tokens signed with WebCrypto, independently of the server's code, so the
 * benchmark authenticates against any prunner (ours or the Go original) the same way.
 *
 * @module
 */

const encoder = new TextEncoder();

function base64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/**
 * Signs `claims` as an HS256 JWT with `secret`.
 *
 * @example
 * ```ts
 * const token = await signToken({ sub: "bench" }, "a-secret-of-16-chars-or-more");
 * await fetch(url, { headers: { authorization: `Bearer ${token}` } });
 * ```
 */
export async function signToken(claims: Record<string, unknown>, secret: string): Promise<string> {
  const header = base64Url(encoder.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })));
  const payload = base64Url(encoder.encode(JSON.stringify(claims)));
  const unsigned = `${header}.${payload}`;
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const signature = await crypto.subtle.sign("HMAC", key, encoder.encode(unsigned));
  return `${unsigned}.${base64Url(new Uint8Array(signature))}`;
}
