/**
 * The template functions: Go's builtins (`and`, `or`, `not`, `len`, `index`, `slice`, `print`,
 * `printf`, `println`, `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `html`, `js`, `urlquery`, `call`),
 * prunner's `default` and our `shellquote`, with Go's results and error texts.
 *
 * @module
 */
import { formatString, formatValue, sprint, sprintf, sprintln } from "./fmt.ts";
import { byteLength, compareStrings, fromUtf8, isPrint, utf8 } from "./strconv.ts";
import { GoByte, type GoMap, Iface, isTrue, kindOf, mapGet, typeName, unwrap } from "./value.ts";

/** A function failed; exec reports it as `error calling NAME: MESSAGE`. */
export class CallError extends Error {}

/**
 * How an argument reaches a function, mirroring the Go parameter types: `value` is
 * `reflect.Value` (sees the `interface {}` wrapper and untyped nil), `any` is `interface{}`,
 * `string` must be a string.
 */
export type Param = "value" | "any" | "string";

/**
 * A template function: fixed parameters, an optional variadic tail and its body; `special`
 * functions (`and`, `or`, `call`) need the unevaluated arguments and are run by exec.
 */
export type TemplateFunc =
  & { params: Param[]; variadic?: Param }
  & ({ fn: (args: unknown[]) => unknown } | { special: "and" | "or" | "call" });

type BasicKind = "bool" | "int" | "uint" | "float" | "string" | "invalid";

function basicKind(v: unknown): BasicKind {
  switch (kindOf(v)) {
    case "bool":
      return "bool";
    case "int":
      return "int";
    case "uint8":
      return "uint";
    case "float64":
      return "float";
    case "string":
      return "string";
    default:
      return "invalid";
  }
}

function num(v: unknown): bigint {
  return v instanceof GoByte ? BigInt(v.value) : v as bigint;
}

function isValid(v: unknown): boolean {
  return kindOf(v) !== "nil";
}

function eq(args: unknown[]): boolean {
  const a = unwrap(args[0]);
  if (args.length < 2) throw new CallError("missing argument for comparison");
  const k1 = basicKind(a);
  for (const raw of args.slice(1)) {
    const b = unwrap(raw);
    const k2 = basicKind(b);
    let truth = false;
    if (k1 !== k2) {
      if ((k1 === "int" && k2 === "uint") || (k1 === "uint" && k2 === "int")) {
        truth = num(a) === num(b);
      } else if (isValid(a) && isValid(b)) {
        throw new CallError(
          `incompatible types for comparison: ${typeName(a)} and ${typeName(b)}`,
        );
      }
    } else if (k1 === "int" || k1 === "uint") {
      truth = num(a) === num(b);
    } else if (k1 !== "invalid") {
      truth = a === b;
    } else {
      if (isValid(a) && isValid(b) && kindOf(a) !== kindOf(b)) {
        throw new CallError(
          `non-comparable types ${formatString(a)}: ${typeName(a)}, ${typeName(b)}: ${
            formatValue(b)
          }`,
        );
      }
      if (!isValid(a) || !isValid(b)) truth = isValid(a) === isValid(b);
      else throw new CallError(`non-comparable type ${formatString(b)}: ${typeName(b)}`);
    }
    if (truth) return true;
  }
  return false;
}

function lt([x, y]: unknown[]): boolean {
  const a = unwrap(x);
  const k1 = basicKind(a);
  if (k1 === "invalid") throw new CallError("invalid type for comparison");
  const b = unwrap(y);
  const k2 = basicKind(b);
  if (k2 === "invalid") throw new CallError("invalid type for comparison");
  if (k1 !== k2) {
    if ((k1 === "int" && k2 === "uint") || (k1 === "uint" && k2 === "int")) {
      return num(a) < num(b);
    }
    throw new CallError(`incompatible types for comparison: ${typeName(a)} and ${typeName(b)}`);
  }
  switch (k1) {
    case "bool":
      throw new CallError("invalid type for comparison");
    case "string":
      return compareStrings(a as string, b as string) < 0;
    case "float":
      return (a as number) < (b as number);
    default:
      return num(a) < num(b);
  }
}

function le(args: unknown[]): boolean {
  return lt(args) || eq(args);
}

/** Go's `indexArg`: an int index within `0..cap`. */
function indexArg(index: unknown, cap: number): number {
  let x: bigint;
  if (typeof index === "bigint" || index instanceof GoByte) x = num(index);
  else if (index === null || index === undefined) {
    throw new CallError("cannot index slice/array with nil");
  } else throw new CallError(`cannot index slice/array with type ${typeName(index)}`);
  if (x < 0n || x > BigInt(cap)) throw new CallError(`index out of range: ${x}`);
  return Number(x);
}

function index([first, ...indexes]: unknown[]): unknown {
  let item = unwrap(first);
  if (!isValid(item)) throw new CallError("index of untyped nil");
  for (const raw of indexes) {
    const i = unwrap(raw);
    if (item instanceof Iface) {
      if (!isValid(item.inner)) throw new CallError("index of nil pointer");
      item = item.inner;
    }
    switch (kindOf(item)) {
      case "list": {
        const list = item as unknown[];
        const x = indexArg(i, list.length);
        if (x === list.length) throw new CallError("reflect: slice index out of range");
        item = new Iface(list[x]);
        break;
      }
      case "string": {
        const bytes = utf8(item as string);
        const x = indexArg(i, bytes.length);
        if (x === bytes.length) throw new CallError("reflect: string index out of range");
        item = new GoByte(bytes[x]);
        break;
      }
      case "map": {
        if (!isValid(i)) throw new CallError("value is nil; should be of type string");
        if (typeof i !== "string") {
          throw new CallError(`value has type ${typeName(i)}; should be string`);
        }
        item = new Iface(mapGet(item as GoMap, i).value);
        break;
      }
      default:
        throw new CallError(`can't index item of type ${typeName(item)}`);
    }
  }
  return item;
}

function slice([first, ...indexes]: unknown[]): unknown {
  const item = unwrap(first);
  if (!isValid(item)) throw new CallError("slice of untyped nil");
  if (indexes.length > 3) throw new CallError(`too many slice indexes: ${indexes.length}`);
  const kind = kindOf(item);
  let length: number;
  if (kind === "string") {
    if (indexes.length === 3) throw new CallError("cannot 3-index slice a string");
    length = byteLength(item as string);
  } else if (kind === "list") {
    length = (item as unknown[]).length;
  } else throw new CallError(`can't slice item of type ${typeName(item)}`);
  const idx = [0, length, 0];
  indexes.forEach((i, n) => idx[n] = indexArg(i, length));
  if (idx[0] > idx[1]) throw new CallError(`invalid slice index: ${idx[0]} > ${idx[1]}`);
  if (indexes.length === 3 && idx[1] > idx[2]) {
    throw new CallError(`invalid slice index: ${idx[1]} > ${idx[2]}`);
  }
  if (kind === "string") return fromUtf8(utf8(item as string).slice(idx[0], idx[1]));
  return (item as unknown[]).slice(idx[0], idx[1]);
}

function length([arg]: unknown[]): bigint {
  if (arg instanceof Iface && !isValid(arg.inner)) throw new CallError("len of nil pointer");
  const item = unwrap(arg);
  switch (kindOf(item)) {
    case "string":
      return BigInt(byteLength(item as string));
    case "list":
      return BigInt((item as unknown[]).length);
    case "map":
      return BigInt(Object.keys(item as GoMap).length);
    case "nil":
      throw new CallError("reflect: call of reflect.Value.Type on zero Value");
    default:
      throw new CallError(`len of type ${typeName(item)}`);
  }
}

/** Go's `evalArgs`: the text the escaping functions work on. */
function evalArgs(args: unknown[]): string {
  if (args.length === 1 && typeof args[0] === "string") return args[0];
  return sprint(args.map((a) => isValid(a) ? a : "<no value>"));
}

const HTML_ESCAPES: Record<string, string> = {
  "\0": "\uFFFD",
  '"': "&#34;",
  "'": "&#39;",
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
};

function html(args: unknown[]): string {
  return evalArgs(args).replace(/[\0"'&<>]/g, (c) => HTML_ESCAPES[c]);
}

const JS_ESCAPES: Record<string, string> = {
  "\\": "\\\\",
  "'": "\\'",
  '"': '\\"',
  "<": "\\u003C",
  ">": "\\u003E",
  "&": "\\u0026",
  "=": "\\u003D",
};

function js(args: unknown[]): string {
  let out = "";
  for (const ch of evalArgs(args)) {
    const r = ch.codePointAt(0)!;
    if (Object.hasOwn(JS_ESCAPES, ch)) out += JS_ESCAPES[ch];
    else if (r < 0x20) out += "\\u00" + r.toString(16).toUpperCase().padStart(2, "0");
    else if (r < 0x80 || isPrint(r)) out += ch;
    else out += "\\u" + r.toString(16).toUpperCase().padStart(4, "0");
  }
  return out;
}

function urlquery(args: unknown[]): string {
  let out = "";
  for (const b of utf8(evalArgs(args))) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === " ") out += "+";
    else out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/**
 * prunner's `default FALLBACK VALUE`: FALLBACK when VALUE is an empty string, list or map, or
 * `false`; VALUE otherwise (numbers, including 0, and nil are returned unchanged).
 */
function defaultFunc([fallback, value]: unknown[]): unknown {
  switch (kindOf(value)) {
    case "string":
    case "list":
      return (value as string | unknown[]).length === 0 ? fallback : value;
    case "map":
      return Object.keys(value as GoMap).length === 0 ? fallback : value;
    case "bool":
      return value ? value : fallback;
    default:
      return value;
  }
}

/** Quotes for POSIX sh: `'...'` with each `'` written as `'\''`. */
function shellquote([value]: unknown[]): string {
  return "'" + evalArgs([value]).replaceAll("'", "'\\''") + "'";
}

/**
 * Go's `call`: no template value is a function, so it always fails, with Go's message.
 * `calleeName` is how the function argument was written in the template.
 */
export function callFunction(calleeName: string, fn: unknown): never {
  const v = unwrap(fn);
  if (!isValid(v)) throw new CallError("call of nil");
  throw new CallError(`non-function ${calleeName} of type ${typeName(v)}`);
}

const V: Param = "value";
const A: Param = "any";

/** Every function a template may call. */
export const FUNCS: Readonly<Record<string, TemplateFunc>> = {
  and: { params: [V], variadic: V, special: "and" },
  or: { params: [V], variadic: V, special: "or" },
  call: { params: [V], variadic: V, special: "call" },
  not: { params: [V], fn: ([v]) => !isTrue(v) },
  len: { params: [V], fn: length },
  index: { params: [V], variadic: V, fn: index },
  slice: { params: [V], variadic: V, fn: slice },
  eq: { params: [V], variadic: V, fn: eq },
  ne: { params: [V, V], fn: (args) => !eq(args) },
  lt: { params: [V, V], fn: lt },
  le: { params: [V, V], fn: le },
  gt: { params: [V, V], fn: (args) => !le(args) },
  ge: { params: [V, V], fn: (args) => !lt(args) },
  print: { params: [], variadic: A, fn: sprint },
  printf: { params: ["string"], variadic: A, fn: ([f, ...rest]) => sprintf(f as string, rest) },
  println: { params: [], variadic: A, fn: sprintln },
  html: { params: [], variadic: A, fn: html },
  js: { params: [], variadic: A, fn: js },
  urlquery: { params: [], variadic: A, fn: urlquery },
  default: { params: [A, A], fn: defaultFunc },
  shellquote: { params: [A], fn: shellquote },
};

/** The names the parser accepts as functions. */
export const FUNC_NAMES: ReadonlySet<string> = new Set(Object.keys(FUNCS));
