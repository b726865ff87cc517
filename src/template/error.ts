/**
 * The error a template raises when it cannot be parsed or executed.
 *
 * @module
 */
import { PrunnerError } from "../errors.ts";

/**
 * A template failed to parse or execute. The message is exactly Go's `text/template` error text,
 * e.g. `template: interpolate:1:8: executing "interpolate" at <.x>: map has no entry for key "x"`.
 */
export class TemplateError extends PrunnerError {
  constructor(message: string) {
    super(message);
  }
}

/** The template's name in error messages (prunner names every script-line template this). */
export const TEMPLATE_NAME = "interpolate";
