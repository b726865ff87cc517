/**
 * Job-variable templates for script lines: the subset of Go's `text/template` that prunner
 * uses, with Go's output and error messages. A template behaves like
 * `template.New("interpolate").Option("missingkey=error").Funcs(default, shellquote)` in Go,
 * executed on JSON-decoded variables.
 *
 * - Actions: `{{ .name }}`, `{{ .a.b }}`, `.`, `$`, `{{ if }}`/`{{ else if }}`/`{{ else }}`,
 *   `{{ range }}` (with `$v :=`, `$i, $v :=`, `{{ else }}`, `{{ break }}`, `{{ continue }}`),
 *   `{{ with }}`, pipelines `|`, `$x :=` and `$x =`, `( ... )`, trim markers `{{-`/`-}}` and
 *   comments opened with `{{/*`. `{{ define }}`, `{{ template }}` and `{{ block }}` are
 *   refused, and complex number literals are not supported.
 * - Functions: Go's builtins (`and or not len index slice print printf println eq ne lt le gt
 *   ge html js urlquery call`), prunner's `default FALLBACK VALUE` and `shellquote VALUE`.
 * - Values print as Go's `fmt` prints them: JSON numbers are `float64` (`3`, `1.655371e+06`),
 *   lists `[a b]`, objects `map[k:v]` (sorted keys), a nil value `<no value>`.
 *
 * @example
 * ```ts
 * import { renderTemplate } from "./mod.ts";
 *
 * renderTemplate("deploy {{ .branch | shellquote }}", { branch: "it's main" });
 * // "deploy 'it'\''s main'"
 * ```
 *
 * @module
 */
import { TEMPLATE_NAME, TemplateError } from "./error.ts";
import { execute } from "./exec.ts";
import { FUNC_NAMES } from "./funcs.ts";
import { type ListNode, parse } from "./parse.ts";

export { TemplateError } from "./error.ts";

/** A parsed template that can be rendered any number of times. */
export interface Template {
  /** The template text. */
  readonly source: string;
  /**
   * Renders with `data` as `.` and `$`.
   *
   * @throws {TemplateError} when execution fails, e.g. on a missing key.
   */
  render(data: Record<string, unknown>): string;
}

/**
 * Parses a template once for repeated rendering.
 *
 * @example
 * ```ts
 * const t = parseTemplate("echo {{ .n }}");
 * t.render({ n: 3 }); // "echo 3"
 * t.render({ n: 1655371 }); // "echo 1.655371e+06"
 * ```
 * @throws {TemplateError} with Go's parse error text, e.g.
 * `template: interpolate:1: function "foo" not defined`.
 */
export function parseTemplate(source: string): Template {
  const root: ListNode = guardDepth(() => parse(source, FUNC_NAMES));
  return { source, render: (data) => guardDepth(() => execute(source, root, data)) };
}

/**
 * Go has no recursion limit for deeply nested templates or values; JavaScript has. Such input
 * fails with a TemplateError instead of a bare RangeError.
 */
function guardDepth<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof RangeError && error.message.includes("call stack")) {
      throw new TemplateError(
        `template: ${TEMPLATE_NAME}: the template or a variable is nested too deeply to render`,
      );
    }
    throw error;
  }
}

/**
 * Parses and renders a template in one step, as prunner renders each script line before it
 * runs.
 *
 * @example
 * ```ts
 * renderTemplate("{{ default \"main\" .branch }}", { branch: "" }); // "main"
 * renderTemplate("echo {{ .x }}", {});
 * // throws TemplateError: template: interpolate:1:8: executing "interpolate" at <.x>:
 * //   map has no entry for key "x"
 * ```
 * @throws {TemplateError} when the template does not parse or fails to execute.
 */
export function renderTemplate(source: string, data: Record<string, unknown>): string {
  return parseTemplate(source).render(data);
}
