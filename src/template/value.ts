/**
 * How Go values are represented while a template runs. Template data is JSON-decoded, so the
 * Go types are the ones `encoding/json` produces for `interface{}`:
 *
 * | Go type                  | JavaScript value                          |
 * | ------------------------ | ----------------------------------------- |
 * | `float64`                | `number` (every JSON number)              |
 * | `int`                    | `bigint` (number literals, `len`, ranges) |
 * | `uint8`                  | {@link GoByte} (`index` into a string)    |
 * | `string`, `bool`         | `string`, `boolean`                       |
 * | `[]interface {}`         | array                                     |
 * | `map[string]interface {}`| plain object                              |
 * | nil                      | `null` (also `undefined`)                 |
 *
 * @module
 */

/** A Go `uint8`, produced by indexing a string. */
export class GoByte {
  constructor(readonly value: number) {}
}

/**
 * A value whose static Go type is `interface {}`: an element of a map or list before a
 * pipeline unwraps it. Go's error messages name the type `interface {}` for these.
 */
export class Iface {
  constructor(readonly inner: unknown) {}
}

/** A Go map decoded from JSON. */
export type GoMap = Record<string, unknown>;

/** The Go kinds a template value can have. */
export type Kind = "nil" | "bool" | "int" | "uint8" | "float64" | "string" | "list" | "map";

/** Strips the `interface {}` wrapper, as Go's `indirectInterface`. */
export function unwrap(v: unknown): unknown {
  return v instanceof Iface ? v.inner : v;
}

/** The kind of a (non-wrapped) value. */
export function kindOf(v: unknown): Kind {
  switch (typeof v) {
    case "string":
      return "string";
    case "number":
      return "float64";
    case "bigint":
      return "int";
    case "boolean":
      return "bool";
    case "object":
      if (v === null) return "nil";
      if (Array.isArray(v)) return "list";
      if (v instanceof GoByte) return "uint8";
      if (v instanceof Iface) return kindOf(v.inner);
      return "map";
    default:
      return "nil";
  }
}

const TYPE_NAMES: Record<Kind, string> = {
  nil: "<nil>",
  bool: "bool",
  int: "int",
  uint8: "uint8",
  float64: "float64",
  string: "string",
  list: "[]interface {}",
  map: "map[string]interface {}",
};

/** Go's name for the dynamic type of `v` (`interface {}` for a wrapped value). */
export function typeName(v: unknown): string {
  return v instanceof Iface ? "interface {}" : TYPE_NAMES[kindOf(v)];
}

/** Own-property lookup in a Go map. */
export function mapGet(m: GoMap, key: string): { found: boolean; value: unknown } {
  return Object.hasOwn(m, key) ? { found: true, value: m[key] } : { found: false, value: null };
}

/** Go's `IsTrue`: false, 0, nil and empty strings, lists and maps are false. */
export function isTrue(v: unknown): boolean {
  const x = unwrap(v);
  switch (kindOf(x)) {
    case "nil":
      return false;
    case "bool":
      return x as boolean;
    case "int":
      return x !== 0n;
    case "uint8":
      return (x as GoByte).value !== 0;
    case "float64":
      return x !== 0;
    case "string":
      return (x as string).length > 0;
    case "list":
      return (x as unknown[]).length > 0;
    case "map":
      return Object.keys(x as GoMap).length > 0;
  }
}
