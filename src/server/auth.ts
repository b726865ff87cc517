/**
 * JWT bearer authentication as prunner does it: HS256 with the shared secret, `exp` and `nbf`
 * honoured, every other algorithm (including `none`) refused.
 *
 * @module
 */
import { verify } from "hono/jwt";

/** The outcome of checking an `Authorization` header. */
export type AuthResult =
  | { ok: true; user: string }
  | { ok: false; reason: string };

const BEARER = /^bearer\s+(\S+)\s*$/i;

const REASONS: Record<string, string> = {
  JwtTokenExpired: "token expired (exp)",
  JwtTokenNotBefore: "token not valid yet (nbf)",
  JwtTokenIssuedAt: "token issued in the future (iat)",
  JwtTokenSignatureMismatched: "token signature does not match the secret",
  JwtAlgorithmMismatch: "token must be signed with HS256",
  JwtHeaderInvalid: 'invalid token header: expected {"alg":"HS256","typ":"JWT"}',
};

/**
 * Checks an `Authorization` header value. The token's `sub` claim is the user ("" without one).
 *
 * @example
 * ```ts
 * const result = await authenticate(request.headers.get("authorization"), secret);
 * if (!result.ok) console.log(result.reason);
 * ```
 */
export async function authenticate(header: string | null, secret: string): Promise<AuthResult> {
  if (header === null || header.trim() === "") {
    return { ok: false, reason: 'missing Authorization header: expected "Bearer <JWT>"' };
  }
  const match = BEARER.exec(header);
  if (!match) {
    return { ok: false, reason: 'malformed Authorization header: expected "Bearer <JWT>"' };
  }
  try {
    const claims = await verify(match[1], secret, "HS256");
    return { ok: true, user: typeof claims.sub === "string" ? claims.sub : "" };
  } catch (error) {
    const name = error instanceof Error ? error.name : "";
    return { ok: false, reason: REASONS[name] ?? "invalid token: not a JWT signed with HS256" };
  }
}
