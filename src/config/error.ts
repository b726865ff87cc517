/**
 * The error for unusable configuration files: the dynamic config file and dotenv files.
 *
 * @module
 */
import { PrunnerError } from "../errors.ts";

/**
 * A configuration file that cannot be read or is malformed. The message starts with the file
 * and, where known, the 1-based line: `.env:3: expected KEY=VALUE, got "oops"`.
 */
export class ConfigError extends PrunnerError {
  constructor(readonly file: string, readonly line: number | null, readonly problem: string) {
    super(`${file}${line === null ? "" : `:${line}`}: ${problem}`);
  }
}
