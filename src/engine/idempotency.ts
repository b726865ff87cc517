/**
 * Idempotent scheduling: a schedule request may carry a key (`Idempotency-Key`), and a retry with
 * the same key, by the same user, while the key is kept, is answered with the job the first
 * request created instead of creating another. A retry must send the same request: what makes
 * it the same is its fingerprint, a hash of the pipeline, the variables (keys in any order) and
 * the wait-list partition. Pure functions, no I/O.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Job, JobIdempotency, JobVariables } from "./job.ts";

/** Longest idempotency key accepted, in characters. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** How long a key is kept by default: 24 hours, in ms. */
export const DEFAULT_IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/** What makes two schedule requests the same. */
export interface FingerprintedRequest {
  readonly pipeline: string;
  readonly variables: JobVariables | null;
  readonly queuePartition: string | null;
}

/**
 * The fingerprint of a schedule request: SHA-256 (hex) of its canonical JSON. `variables: null`
 * and `{}` are the same request, as they schedule the same job.
 *
 * @example
 * ```ts
 * requestFingerprint({ pipeline: "a", variables: { x: 1, y: 2 }, queuePartition: null }) ===
 *   requestFingerprint({ pipeline: "a", variables: { y: 2, x: 1 }, queuePartition: null }); // true
 * ```
 */
export function requestFingerprint(request: FingerprintedRequest): string {
  const canonical = canonicalJson([
    request.pipeline,
    request.variables ?? {},
    request.queuePartition,
  ]);
  return createHash("sha256").update(canonical).digest("hex");
}

/**
 * JSON with the keys of every object sorted, so that equal data gives equal text.
 *
 * @example
 * ```ts
 * canonicalJson({ b: [1, { d: 1, c: 2 }], a: null }); // '{"a":null,"b":[1,{"c":2,"d":1}]}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.keys(value).sort().map((key) =>
      `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`
    );
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * The idempotency record of a new job scheduled at `now` with `key`, kept for `ttlMs`.
 *
 * @example
 * ```ts
 * const idempotency = newIdempotency("retry-1", request, Date.now(), DEFAULT_IDEMPOTENCY_TTL_MS);
 * ```
 */
export function newIdempotency(
  key: string,
  request: FingerprintedRequest,
  now: number,
  ttlMs: number,
): JobIdempotency {
  return { key, fingerprint: requestFingerprint(request), expires: now + ttlMs };
}

/**
 * Whether `job` holds `user`'s `key` at `now`: it was scheduled by that user with that key,
 * and the key has not expired.
 *
 * @example
 * ```ts
 * if (!holdsKey(found, user, key, Date.now())) found = null; // a stale index entry
 * ```
 */
export function holdsKey(
  job: Pick<Job, "user" | "idempotency">,
  user: string,
  key: string,
  now: number,
): boolean {
  return job.user === user && job.idempotency?.key === key && job.idempotency.expires > now;
}

/**
 * What a request with a key gets, given the job that holds the key: that job (`replay`) when
 * the request is the same as the first, else `conflict`.
 *
 * @example
 * ```ts
 * decideReplay(job, requestFingerprint(request)); // { kind: "replay" } or { kind: "conflict" }
 * ```
 */
export function decideReplay(
  job: Pick<Job, "idempotency">,
  fingerprint: string,
): { kind: "replay" } | { kind: "conflict" } {
  return job.idempotency?.fingerprint === fingerprint ? { kind: "replay" } : { kind: "conflict" };
}

/**
 * A fixed-size digest of a user and a key, for a store's index key: any user name and key fit.
 *
 * @example
 * ```ts
 * ["idempotency", idempotencyDigest(job.user, job.idempotency.key)];
 * ```
 */
export function idempotencyDigest(user: string, key: string): string {
  return createHash("sha256").update(JSON.stringify([user, key])).digest("hex");
}
