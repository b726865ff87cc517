/**
 * The dynamic config file (`--config`, `.prunner.yml`): where the JWT secret lives when it is not
 * given by flag or environment variable. Created with a random secret on first run.
 *
 * @module
 */
import { errorMessage } from "../errors.ts";
import { Document, isMap, isScalar, LineCounter, parseDocument, type YAMLMap } from "yaml";
import { MIN_JWT_SECRET_LENGTH } from "../cli/options.ts";
import { ConfigError } from "./error.ts";

/** Where the JWT secret comes from. */
export type JwtSecretSource = "flag-or-env" | "config-file" | "generated";

/** The JWT secret and its origin. */
export interface JwtSecret {
  secret: string;
  source: JwtSecretSource;
}

/** Input of {@linkcode loadOrCreateJwtSecret}. */
export interface JwtSecretOptions {
  /** The dynamic config file. */
  configPath: string;
  /** The secret from `--jwt-secret`/`PRUNNER_JWT_SECRET` (checked by the CLI), or `null`. */
  jwtSecret: string | null;
}

/** A config document whose top level is a mapping. */
type MapDocument = Document & { contents: YAMLMap };

/** Random bytes in a generated secret (256 bits). */
const SECRET_BYTES = 32;

/**
 * Returns the JWT secret: the given one; else `jwt_secret` from the config file; else a new
 * random secret (32 random bytes, base64url), which is written to the config file (created with
 * mode 0600 if missing; other keys and comments are kept).
 *
 * @example
 * ```ts
 * const { secret, source } = await loadOrCreateJwtSecret({
 *   configPath: ".prunner.yml",
 *   jwtSecret: null,
 * });
 * ```
 * @throws {ConfigError} naming the file (and line where known) when it cannot be read or
 * written, is not valid YAML, is not a mapping, or its `jwt_secret` is not a string of at least
 * 16 characters.
 */
export async function loadOrCreateJwtSecret(options: JwtSecretOptions): Promise<JwtSecret> {
  if (options.jwtSecret !== null) return { secret: options.jwtSecret, source: "flag-or-env" };
  const { doc, secret } = await readConfigSecret(options.configPath);
  if (secret !== null) return { secret, source: "config-file" };
  const generated = generateSecret();
  doc.contents.set("jwt_secret", generated);
  await writeConfig(options.configPath, doc.toString());
  return { secret: generated, source: "generated" };
}

/**
 * Returns the JWT secret the way {@linkcode loadOrCreateJwtSecret} finds it, but never creates
 * one: `null` when neither the option nor the config file has a secret (a missing config file
 * included). For clients, which need the server's secret rather than a new one.
 *
 * @example
 * ```ts
 * const found = await findJwtSecret({ configPath: ".prunner.yml", jwtSecret: null });
 * if (found === null) console.log("no secret configured");
 * ```
 * @throws {ConfigError} as {@linkcode loadOrCreateJwtSecret} does for an unreadable or
 * malformed config file.
 */
export async function findJwtSecret(options: JwtSecretOptions): Promise<JwtSecret | null> {
  if (options.jwtSecret !== null) return { secret: options.jwtSecret, source: "flag-or-env" };
  const { secret } = await readConfigSecret(options.configPath);
  return secret === null ? null : { secret, source: "config-file" };
}

/** The parsed config file (an empty mapping when missing) and its `jwt_secret`, if set. */
async function readConfigSecret(
  path: string,
): Promise<{ doc: MapDocument; secret: string | null }> {
  const text = await readConfig(path);
  const lineCounter = new LineCounter();
  const doc = text === null ? new Document({}) : parseDocument(text, { lineCounter });
  const lineOf = (offset: number | undefined) =>
    offset === undefined ? null : lineCounter.linePos(offset).line;

  const syntaxError = doc.errors[0];
  if (syntaxError) {
    const line = syntaxError.linePos?.[0].line ?? null;
    const reason = syntaxError.message.split("\n")[0];
    throw new ConfigError(path, line, `invalid YAML in the config file: ${reason}`);
  }
  if (doc.contents === null) doc.contents = doc.createNode({});
  if (!isMap(doc.contents)) {
    throw new ConfigError(
      path,
      lineOf(doc.contents.range?.[0]),
      "the config file must be a mapping with a jwt_secret key",
    );
  }

  const node = doc.contents.get("jwt_secret", true);
  const value = isScalar(node) ? node.value : node;
  if (value === undefined || value === null || value === "") {
    return { doc: doc as MapDocument, secret: null };
  }
  const line = lineOf(node?.range?.[0]);
  if (typeof value !== "string") {
    throw new ConfigError(path, line, "jwt_secret must be a string");
  }
  if (value.length < MIN_JWT_SECRET_LENGTH) {
    throw new ConfigError(
      path,
      line,
      `jwt_secret must be at least ${MIN_JWT_SECRET_LENGTH} characters long, got ${value.length}`,
    );
  }
  return { doc: doc as MapDocument, secret: value };
}

/**
 * A new random secret: 32 bytes from `crypto.getRandomValues`, base64url encoded (43 chars).
 */
function generateSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

async function readConfig(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw new ConfigError(path, null, `cannot read the config file: ${errorMessage(error)}`);
  }
}

/** Writes through a temporary file and a rename, so a reader never sees half a file. */
async function writeConfig(path: string, text: string): Promise<void> {
  const temp = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(temp, text, { mode: 0o600, createNew: true });
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw new ConfigError(path, null, `cannot write the config file: ${errorMessage(error)}`);
  }
}
