/**
 * The `next`/`before` cursor of the paged job listing: an opaque, URL-safe string encoding the
 * last job of a page (its creation time and id).
 *
 * @module
 */
import type { JobCursor } from "../store/types.ts";

/**
 * Encodes a cursor as base64url of `[created, id]`.
 *
 * @example
 * ```ts
 * const text = encodeCursor({ created: 1764331200000, id: "52a5cb79-…" });
 * decodeCursor(text); // { created: 1764331200000, id: "52a5cb79-…" }
 * ```
 */
export function encodeCursor(cursor: JobCursor): string {
  const bytes = new TextEncoder().encode(JSON.stringify([cursor.created, cursor.id]));
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Decodes a cursor made by `encodeCursor`; `null` when `text` is not one. */
export function decodeCursor(text: string): JobCursor | null {
  if (!/^[A-Za-z0-9_-]{1,2800}$/.test(text)) return null;
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
    const value: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    if (
      Array.isArray(value) && value.length === 2 && Number.isSafeInteger(value[0]) &&
      typeof value[1] === "string"
    ) {
      return { created: value[0], id: value[1] };
    }
  } catch {
    // Not base64 or not JSON: not a cursor.
  }
  return null;
}
