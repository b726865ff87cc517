/**
 * Go's `fmt` printing (`Sprint`, `Sprintln`, `Sprintf`) for template values, with Go's output
 * for every verb, flag, width and precision, including its `%!verb(type=value)` error texts.
 *
 * One deviation: `%p` prints `%!p(...)` for every value (Go prints a memory address for lists
 * and maps, which no template can rely on).
 *
 * @module
 */
import {
  canBackquote,
  compareStrings,
  formatFloat,
  isPrint,
  quote,
  quoteRune,
  runeCount,
  utf8,
} from "./strconv.ts";
import { GoByte, type GoMap, kindOf, typeName, unwrap } from "./value.ts";

interface Printer {
  buf: string;
  plus: boolean;
  minus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  sharpV: boolean;
  plusV: boolean;
  wid: number;
  widPresent: boolean;
  prec: number;
  precPresent: boolean;
}

function newPrinter(): Printer {
  return {
    buf: "",
    plus: false,
    minus: false,
    sharp: false,
    space: false,
    zero: false,
    sharpV: false,
    plusV: false,
    wid: 0,
    widPresent: false,
    prec: 0,
    precPresent: false,
  };
}

function clearFlags(p: Printer): void {
  p.plus =
    p.minus =
    p.sharp =
    p.space =
    p.zero =
    p.sharpV =
    p.plusV =
      false;
  p.wid = p.prec = 0;
  p.widPresent = p.precPresent = false;
}

function writePadding(p: Printer, n: number): void {
  if (n > 0) p.buf += (p.zero && !p.minus ? "0" : " ").repeat(n);
}

function pad(p: Printer, s: string): void {
  if (!p.widPresent || p.wid === 0) {
    p.buf += s;
    return;
  }
  const width = p.wid - runeCount(s);
  if (p.minus) {
    p.buf += s;
    writePadding(p, width);
  } else {
    writePadding(p, width);
    p.buf += s;
  }
}

function withoutZero(p: Printer, fn: () => void): void {
  const old = p.zero;
  p.zero = false;
  fn();
  p.zero = old;
}

function badVerb(p: Printer, verb: string, arg: unknown): void {
  p.buf += "%!" + verb + "(";
  if (kindOf(arg) === "nil") p.buf += "<nil>";
  else {
    p.buf += typeName(arg) + "=";
    printArg(p, arg, "v");
  }
  p.buf += ")";
}

function truncate(p: Printer, s: string): string {
  if (!p.precPresent) return s;
  let n = p.prec;
  let i = 0;
  for (const ch of s) {
    if (--n < 0) return s.slice(0, i);
    i += ch.length;
  }
  return s;
}

const LOWER = "0123456789abcdefx";
const UPPER = "0123456789ABCDEFX";

function fmtInteger(p: Printer, value: bigint, signed: boolean, base: number, verb: string) {
  const digits = verb === "X" ? UPPER : LOWER;
  const negative = signed && value < 0n;
  let u = negative ? -value : value;
  let prec = 0;
  if (p.precPresent) {
    prec = p.prec;
    if (prec === 0 && u === 0n) {
      withoutZero(p, () => writePadding(p, p.wid));
      return;
    }
  } else if (p.zero && !p.minus && p.widPresent) {
    prec = p.wid;
    if (negative || p.plus || p.space) prec--;
  }
  let s = "";
  const b = BigInt(base);
  do {
    s = digits[Number(u % b)] + s;
    u /= b;
  } while (u > 0n);
  s = s.padStart(prec, "0");
  if (p.sharp) {
    if (base === 2) s = "0b" + s;
    else if (base === 8 && s[0] !== "0") s = "0" + s;
    else if (base === 16) s = "0" + digits[16] + s;
  }
  if (verb === "O") s = "0o" + s;
  if (negative) s = "-" + s;
  else if (p.plus) s = "+" + s;
  else if (p.space) s = " " + s;
  withoutZero(p, () => pad(p, s));
}

function fmtUnicode(p: Printer, u: bigint): void {
  let prec = 4;
  if (p.precPresent && p.prec > 4) prec = p.prec;
  let s = "U+" + u.toString(16).toUpperCase().padStart(prec, "0");
  if (p.sharp && u <= 0x10ffffn && isPrint(Number(u))) {
    s += " '" + String.fromCodePoint(Number(u)) + "'";
  }
  withoutZero(p, () => pad(p, s));
}

function runeOf(u: bigint): number {
  if (u < 0n || u > 0x10ffffn) return 0xfffd;
  const r = Number(u);
  return r >= 0xd800 && r <= 0xdfff ? 0xfffd : r;
}

function printInteger(p: Printer, v: bigint, signed: boolean, verb: string, arg: unknown) {
  const unsigned = !signed ? v : v < 0n ? v + (1n << 64n) : v;
  switch (verb) {
    case "v":
      if (p.sharpV && !signed) {
        const sharp = p.sharp;
        p.sharp = true;
        fmtInteger(p, v, false, 16, "x");
        p.sharp = sharp;
      } else fmtInteger(p, v, signed, 10, verb);
      return;
    case "d":
      return fmtInteger(p, v, signed, 10, verb);
    case "b":
      return fmtInteger(p, v, signed, 2, verb);
    case "o":
    case "O":
      return fmtInteger(p, v, signed, 8, verb);
    case "x":
    case "X":
      return fmtInteger(p, v, signed, 16, verb);
    case "c":
      return pad(p, String.fromCodePoint(runeOf(unsigned)));
    case "q":
      return pad(p, quoteRune(runeOf(unsigned), p.plus));
    case "U":
      return fmtUnicode(p, unsigned);
    default:
      badVerb(p, verb, arg);
  }
}

function sharpFloat(num: string, verb: string, prec: number): string {
  let digits = 0;
  if (verb === "v" || verb === "g" || verb === "G" || verb === "x") digits = prec === -1 ? 6 : prec;
  let tail = "";
  let hasDecimalPoint = false;
  let sawNonzeroDigit = false;
  for (let i = 1; i < num.length; i++) {
    const c = num[i];
    if (c === ".") hasDecimalPoint = true;
    else if (c === "p" || c === "P" || ((c === "e" || c === "E") && verb !== "x" && verb !== "X")) {
      tail = num.slice(i);
      num = num.slice(0, i);
    } else {
      if (c !== "0") sawNonzeroDigit = true;
      if (sawNonzeroDigit) digits--;
    }
  }
  if (!hasDecimalPoint) {
    if (num.length === 2 && num[1] === "0") digits--;
    num += ".";
  }
  if (digits > 0) num += "0".repeat(digits);
  return num + tail;
}

function fmtFloat(p: Printer, v: number, verb: string, prec: number): void {
  if (p.precPresent) prec = p.prec;
  let num = formatFloat(v, verb, prec);
  num = num[0] === "-" || num[0] === "+" ? num : "+" + num;
  if (p.space && num[0] === "+" && !p.plus) num = " " + num.slice(1);
  if (num[1] === "I" || num[1] === "N") {
    if (num[1] === "N" && !p.space && !p.plus) num = num.slice(1);
    withoutZero(p, () => pad(p, num));
    return;
  }
  if (p.sharp && verb !== "b") num = sharpFloat(num, verb, prec);
  if (p.plus || num[0] !== "+") {
    if (p.zero && !p.minus && p.widPresent && p.wid > num.length) {
      p.buf += num[0];
      writePadding(p, p.wid - num.length);
      p.buf += num.slice(1);
      return;
    }
    pad(p, num);
    return;
  }
  pad(p, num.slice(1));
}

function printFloat(p: Printer, v: number, verb: string): void {
  switch (verb) {
    case "v":
      return fmtFloat(p, v, "g", -1);
    case "b":
    case "g":
    case "G":
    case "x":
    case "X":
      return fmtFloat(p, v, verb, -1);
    case "f":
    case "e":
    case "E":
      return fmtFloat(p, v, verb, 6);
    case "F":
      return fmtFloat(p, v, "f", 6);
    default:
      badVerb(p, verb, v);
  }
}

function fmtQ(p: Printer, s: string): void {
  s = truncate(p, s);
  if (p.sharp && canBackquote(s)) pad(p, "`" + s + "`");
  else pad(p, quote(s, p.plus));
}

function fmtSx(p: Printer, s: string, upper: boolean): void {
  const digits = upper ? UPPER : LOWER;
  const bytes = utf8(s);
  let length = bytes.length;
  if (p.precPresent && p.prec < length) length = p.prec;
  let width = 2 * length;
  if (width === 0) {
    if (p.widPresent) writePadding(p, p.wid);
    return;
  }
  if (p.space) width = (p.sharp ? width * 2 : width) + length - 1;
  else if (p.sharp) width += 2;
  if (p.widPresent && p.wid > width && !p.minus) writePadding(p, p.wid - width);
  let out = p.sharp ? "0" + digits[16] : "";
  for (let i = 0; i < length; i++) {
    if (p.space && i > 0) out += p.sharp ? " 0" + digits[16] : " ";
    out += digits[bytes[i] >> 4] + digits[bytes[i] & 15];
  }
  p.buf += out;
  if (p.widPresent && p.wid > width && p.minus) writePadding(p, p.wid - width);
}

function printString(p: Printer, s: string, verb: string): void {
  switch (verb) {
    case "v":
      if (p.sharpV) fmtQ(p, s);
      else pad(p, truncate(p, s));
      return;
    case "s":
      return pad(p, truncate(p, s));
    case "x":
    case "X":
      return fmtSx(p, s, verb === "X");
    case "q":
      return fmtQ(p, s);
    default:
      badVerb(p, verb, s);
  }
}

function printElement(p: Printer, v: unknown, verb: string): void {
  if (kindOf(v) === "nil") p.buf += p.sharpV ? "interface {}(nil)" : "<nil>";
  else printConcrete(p, v, verb);
}

function printConcrete(p: Printer, v: unknown, verb: string): void {
  switch (kindOf(v)) {
    case "bool":
      if (verb === "t" || verb === "v") pad(p, String(v));
      else badVerb(p, verb, v);
      return;
    case "float64":
      return printFloat(p, v as number, verb);
    case "int":
      return printInteger(p, v as bigint, true, verb, v);
    case "uint8":
      return printInteger(p, BigInt((v as GoByte).value), false, verb, v);
    case "string":
      return printString(p, v as string, verb);
    case "list": {
      const list = v as unknown[];
      p.buf += p.sharpV ? "[]interface {}{" : "[";
      list.forEach((item, i) => {
        if (i > 0) p.buf += p.sharpV ? ", " : " ";
        printElement(p, item, verb);
      });
      p.buf += p.sharpV ? "}" : "]";
      return;
    }
    case "map": {
      const map = v as GoMap;
      p.buf += p.sharpV ? "map[string]interface {}{" : "map[";
      sortedKeys(map).forEach((key, i) => {
        if (i > 0) p.buf += p.sharpV ? ", " : " ";
        printString(p, key, verb);
        p.buf += ":";
        printElement(p, map[key], verb);
      });
      p.buf += p.sharpV ? "}" : "]";
      return;
    }
    case "nil":
      badVerb(p, verb, null);
  }
}

function printArg(p: Printer, arg: unknown, verb: string): void {
  if (kindOf(arg) === "nil") {
    if (verb === "T" || verb === "v") pad(p, "<nil>");
    else badVerb(p, verb, null);
    return;
  }
  const kind = kindOf(arg);
  if (verb === "T") pad(p, truncate(p, typeName(arg)));
  else if (verb === "p" || (verb === "w" && (kind === "list" || kind === "map"))) {
    badVerb(p, verb, arg);
  } else printConcrete(p, arg, verb);
}

/** Map keys in Go's order (`fmtsort`: by UTF-8 bytes). */
export function sortedKeys(map: GoMap): string[] {
  return Object.keys(map).sort(compareStrings);
}

function parsenum(s: string, start: number, end: number): [number, boolean, number] {
  if (start >= end) return [0, false, end];
  let num = 0;
  let isnum = false;
  let i = start;
  for (; i < end && s[i] >= "0" && s[i] <= "9"; i++) {
    if (num > 1e6) return [0, false, end];
    num = num * 10 + Number(s[i]);
    isnum = true;
  }
  return [num, isnum, i];
}

function intFromArg(args: unknown[], argNum: number): [number, boolean, number] {
  if (argNum >= args.length) return [0, false, argNum];
  const a = args[argNum];
  let num = 0;
  let isInt = false;
  if (typeof a === "bigint" && a >= -(1n << 63n) && a < 1n << 63n) {
    num = Number(a);
    isInt = true;
  } else if (a instanceof GoByte) {
    num = a.value;
    isInt = true;
  }
  if (num > 1e6 || num < -1e6) return [0, false, argNum + 1];
  return [num, isInt, argNum + 1];
}

/** Go's `fmt.Sprintf`. Values are template values (see value.ts). */
export function sprintf(format: string, rawArgs: unknown[]): string {
  const args = rawArgs.map(unwrap);
  const p = newPrinter();
  const end = format.length;
  let argNum = 0;
  let afterIndex = false;
  let reordered = false;
  let goodArgNum = true;

  const argNumber = (i: number): [number, number, boolean] => {
    if (i >= end || format[i] !== "[") return [argNum, i, false];
    reordered = true;
    const close = format.indexOf("]", i + 1);
    if (end - i < 3 || close < 0) {
      goodArgNum = false;
      return [argNum, i + 1, false];
    }
    const [width, ok, newi] = parsenum(format, i + 1, close);
    if (!ok || newi !== close) {
      goodArgNum = false;
      return [argNum, close + 1, false];
    }
    if (width - 1 >= 0 && width - 1 < args.length) return [width - 1, close + 1, true];
    goodArgNum = false;
    return [argNum, close + 1, true];
  };

  for (let i = 0; i < end;) {
    goodArgNum = true;
    const lasti = i;
    while (i < end && format[i] !== "%") i++;
    if (i > lasti) p.buf += format.slice(lasti, i);
    if (i >= end) break;
    i++;
    clearFlags(p);
    let simple = false;
    for (; i < end; i++) {
      const c = format[i];
      if (c === "#") p.sharp = true;
      else if (c === "0") p.zero = true;
      else if (c === "+") p.plus = true;
      else if (c === "-") p.minus = true;
      else if (c === " ") p.space = true;
      else {
        if (c >= "a" && c <= "z" && argNum < args.length) {
          if (c === "v" || c === "w") {
            p.sharpV = p.sharp;
            p.sharp = false;
            p.plusV = p.plus;
            p.plus = false;
          }
          printArg(p, args[argNum], c);
          argNum++;
          i++;
          simple = true;
        }
        break;
      }
    }
    if (simple) continue;

    [argNum, i, afterIndex] = argNumber(i);
    if (i < end && format[i] === "*") {
      i++;
      [p.wid, p.widPresent, argNum] = intFromArg(args, argNum);
      if (!p.widPresent) p.buf += "%!(BADWIDTH)";
      if (p.wid < 0) {
        p.wid = -p.wid;
        p.minus = true;
        p.zero = false;
      }
      afterIndex = false;
    } else {
      [p.wid, p.widPresent, i] = parsenum(format, i, end);
      if (afterIndex && p.widPresent) goodArgNum = false;
    }
    if (i + 1 < end && format[i] === ".") {
      i++;
      if (afterIndex) goodArgNum = false;
      [argNum, i, afterIndex] = argNumber(i);
      if (i < end && format[i] === "*") {
        i++;
        [p.prec, p.precPresent, argNum] = intFromArg(args, argNum);
        if (p.prec < 0) {
          p.prec = 0;
          p.precPresent = false;
        }
        if (!p.precPresent) p.buf += "%!(BADPREC)";
        afterIndex = false;
      } else {
        [p.prec, p.precPresent, i] = parsenum(format, i, end);
        if (!p.precPresent) {
          p.prec = 0;
          p.precPresent = true;
        }
      }
    }
    if (!afterIndex) [argNum, i, afterIndex] = argNumber(i);
    if (i >= end) {
      p.buf += "%!(NOVERB)";
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    if (verb === "%") p.buf += "%";
    else if (!goodArgNum) p.buf += "%!" + verb + "(BADINDEX)";
    else if (argNum >= args.length) p.buf += "%!" + verb + "(MISSING)";
    else {
      if (verb === "v" || verb === "w") {
        p.sharpV = p.sharp;
        p.sharp = false;
        p.plusV = p.plus;
        p.plus = false;
      }
      printArg(p, args[argNum], verb);
      argNum++;
    }
  }
  if (!reordered && argNum < args.length) {
    clearFlags(p);
    p.buf += "%!(EXTRA ";
    args.slice(argNum).forEach((arg, i) => {
      if (i > 0) p.buf += ", ";
      if (kindOf(arg) === "nil") p.buf += "<nil>";
      else {
        p.buf += typeName(arg) + "=";
        printArg(p, arg, "v");
      }
    });
    p.buf += ")";
  }
  return p.buf;
}

/** Go's `fmt.Sprint`: operands printed with `%v`, spaced when neither side is a string. */
export function sprint(rawArgs: unknown[]): string {
  const p = newPrinter();
  let prevString = false;
  rawArgs.forEach((raw, i) => {
    const arg = unwrap(raw);
    const isString = typeof arg === "string";
    if (i > 0 && !isString && !prevString) p.buf += " ";
    printArg(p, arg, "v");
    prevString = isString;
  });
  return p.buf;
}

/** Go's `fmt.Sprintln`: operands printed with `%v`, always spaced, newline at the end. */
export function sprintln(rawArgs: unknown[]): string {
  const p = newPrinter();
  rawArgs.forEach((arg, i) => {
    if (i > 0) p.buf += " ";
    printArg(p, unwrap(arg), "v");
  });
  return p.buf + "\n";
}

/** `%v` of one value, as `{{ . }}` prints it. */
export function formatValue(v: unknown): string {
  const p = newPrinter();
  printArg(p, unwrap(v), "v");
  return p.buf;
}

/** `%s` of one value (used in Go's comparison error texts). */
export function formatString(v: unknown): string {
  const p = newPrinter();
  printArg(p, unwrap(v), "s");
  return p.buf;
}
