/**
 * Reading the `yaml` package's document tree: aliases and merge keys (`<<`) resolved, line
 * numbers, and values described the way a user wrote them.
 *
 * @module
 */
import {
  type Document,
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  type LineCounter,
  type Node,
  type YAMLMap,
} from "yaml";

/** A parsed definition file. */
export interface SourceFile {
  /** The path used in messages and as `sourcePath`. */
  readonly path: string;
  readonly doc: Document;
  readonly lines: LineCounter;
}

/** One key of a mapping, with merge keys already expanded. */
export interface Entry {
  /** The key as written (`on`, `yes` and `123` stay text, as Go's YAML decoder keeps them). */
  readonly name: string;
  readonly key: Node | null;
  /** The value, aliases resolved; `null` when absent. */
  readonly value: Node | null;
}

/** Follows an alias to the anchored node; anything that is not a node becomes `null`. */
export function deref(file: SourceFile, node: unknown): Node | null {
  if (isAlias(node)) return node.resolve(file.doc) ?? null;
  return isNode(node) ? node : null;
}

/** True for an absent value and for YAML null (`~`, `null` or nothing after the colon). */
export function isNull(node: Node | null): boolean {
  return node === null || (isScalar(node) && node.value === null);
}

/** The 1-based line where `node` starts, or `null` when it has no position. */
export function lineOf(file: SourceFile, node: Node | null): number | null {
  const offset = node?.range?.[0];
  return offset === undefined ? null : file.lines.linePos(offset).line;
}

/**
 * A scalar as text, the way Go's YAML decoder fills a `string` field: the source text for
 * numbers and booleans (`0x1F` stays `0x1F`), `""` for null. `null` for lists and mappings.
 */
export function scalarText(node: Node | null): string | null {
  if (node === null) return "";
  if (!isScalar(node)) return null;
  if (node.value === null) return "";
  if (typeof node.value === "string") return node.value;
  return node.source ?? String(node.value);
}

/** Describes a value for messages: `-1`, `"abc"`, `true`, `null`, `a list`, `a mapping`. */
export function describe(node: Node | null): string {
  if (isNull(node)) return "null";
  if (isSeq(node)) return "a list";
  if (isMap(node)) return "a mapping";
  if (isScalar(node)) {
    return typeof node.value === "string"
      ? JSON.stringify(node.value)
      : node.source ?? String(node.value);
  }
  return String(node);
}

/**
 * The entries of a mapping in source order, with YAML merge keys (`<<: *anchor`) expanded: keys
 * written in the mapping win over merged ones, and earlier merge sources win over later ones.
 * Merge values that are not mappings, or that contain the mapping itself, go to `onBadMerge`.
 */
export function entries(
  file: SourceFile,
  map: YAMLMap,
  onBadMerge: (node: Node | null, problem: string) => void,
  expanding: ReadonlySet<YAMLMap> = new Set([map]),
): Entry[] {
  const own: Entry[] = [];
  const merged: Entry[] = [];
  for (const pair of map.items) {
    const key = deref(file, pair.key);
    const value = deref(file, pair.value);
    if (isMergeKey(key)) {
      for (const source of isSeq(value) ? value.items.map((item) => deref(file, item)) : [value]) {
        if (!isMap(source)) {
          onBadMerge(source ?? key, `a merge key needs a mapping, got ${describe(source)}`);
        } else if (expanding.has(source)) {
          onBadMerge(key, "a merge key cannot merge a mapping into itself");
        } else {
          merged.push(...entries(file, source, onBadMerge, new Set([...expanding, source])));
        }
      }
      continue;
    }
    own.push({ name: keyName(key), key, value });
  }
  const seen = new Set(own.map((entry) => entry.name));
  for (const entry of merged) {
    if (seen.has(entry.name)) continue;
    seen.add(entry.name);
    own.push(entry);
  }
  return own;
}

function isMergeKey(key: Node | null): boolean {
  return isScalar(key) && typeof key.value === "symbol" && key.value.description === "<<";
}

function keyName(key: Node | null): string {
  const text = scalarText(key);
  return text ?? String(key);
}
