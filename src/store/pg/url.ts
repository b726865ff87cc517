/**
 * Naming a database in messages. Apart from `sql.ts`, so that naming one does not load the
 * database client.
 *
 * @module
 */

/**
 * The URL without its password, to name the database in messages.
 *
 * @example
 * ```ts
 * redactUrl("postgres://prunner:secret@db/prunner"); // "postgres://prunner@db/prunner"
 * ```
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = "";
    return parsed.href;
  } catch {
    return "the database URL (it is not a valid URL)";
  }
}
