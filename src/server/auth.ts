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

/** Claims of a token whose signature was verified, for time checks on later requests. */
interface VerifiedToken {
  user: string;
  exp: number | null;
  nbf: number | null;
}

/** How many verified tokens are remembered; the cache starts over when full. */
const CACHE_SIZE = 1024;

/**
 * Tokens already verified, by secret and token: clients send the same token with every request,
 * and verifying its HMAC each time was most of an API request's cost.
 */
const verified = new Map<string, VerifiedToken>();

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
  const key = `${secret}\u0000${match[1]}`;
  const known = verified.get(key);
  if (known) {
    const now = Date.now() / 1000;
    if (known.exp !== null && known.exp <= now) {
      verified.delete(key);
      return { ok: false, reason: REASONS.JwtTokenExpired };
    }
    if (known.nbf !== null && known.nbf > now) {
      return { ok: false, reason: REASONS.JwtTokenNotBefore };
    }
    return { ok: true, user: known.user };
  }
  try {
    const claims = await verify(match[1], secret, "HS256");
    const user = typeof claims.sub === "string" ? claims.sub : "";
    if (verified.size >= CACHE_SIZE) verified.clear();
    verified.set(key, {
      user,
      exp: typeof claims.exp === "number" ? claims.exp : null,
      nbf: typeof claims.nbf === "number" ? claims.nbf : null,
    });
    return { ok: true, user };
  } catch (error) {
    const name = error instanceof Error ? error.name : "";
    return { ok: false, reason: REASONS[name] ?? "invalid token: not a JWT signed with HS256" };
  }
}
