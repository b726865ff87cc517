/**
 * The parts of Go's `strconv` and `unicode/utf8` the template engine needs: quoting, unquoting,
 * number literals and float formatting, all with Go's exact results.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 encoding of `s` (Go strings are bytes). */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Decodes UTF-8 bytes; invalid sequences become U+FFFD. */
export function fromUtf8(bytes: Uint8Array | number[]): string {
  return decoder.decode(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
}

/** Length of `s` in UTF-8 bytes, as Go's `len`. */
export function byteLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Number of code points in `s` (Go's `utf8.RuneCountInString`). */
export function runeCount(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Orders strings by code point, which is Go's byte order of their UTF-8 encodings. */
export function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codeUnitRank(x) - codeUnitRank(y);
  }
  return a.length - b.length;
}

function codeUnitRank(c: number): number {
  if (c >= 0xe000) return c - 0x800;
  if (c >= 0xd800) return c + 0x2000;
  return c;
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/** Go's `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and ASCII space. */
export function isPrint(r: number): boolean {
  if (r < 0x7f) return r >= 0x20;
  return PRINTABLE.test(String.fromCodePoint(r));
}

/** `U+0041 'A'` style, as Go's `%#U`. */
export function describeRune(r: number): string {
  const hex = "U+" + r.toString(16).toUpperCase().padStart(4, "0");
  return isPrint(r) ? `${hex} '${String.fromCodePoint(r)}'` : hex;
}

function escapeRune(r: number, quote: number, asciiOnly: boolean): string {
  if (r === quote || r === 0x5c) return "\\" + String.fromCodePoint(r);
  if (asciiOnly ? r < 0x80 && isPrint(r) : isPrint(r)) return String.fromCodePoint(r);
  switch (r) {
    case 7:
      return "\\a";
    case 8:
      return "\\b";
    case 12:
      return "\\f";
    case 10:
      return "\\n";
    case 13:
      return "\\r";
    case 9:
      return "\\t";
    case 11:
      return "\\v";
  }
  if (r < 0x20 || r === 0x7f) return "\\x" + r.toString(16).padStart(2, "0");
  if (r >= 0xd800 && r <= 0xdfff) return "\\ufffd";
  if (r < 0x10000) return "\\u" + r.toString(16).padStart(4, "0");
  return "\\U" + r.toString(16).padStart(8, "0");
}

/** Go's `strconv.Quote` (or `QuoteToASCII` with `asciiOnly`). */
export function quote(s: string, asciiOnly = false): string {
  let out = '"';
  for (const ch of s) out += escapeRune(ch.codePointAt(0)!, 0x22, asciiOnly);
  return out + '"';
}

/** Go's `strconv.QuoteRune` (or `QuoteRuneToASCII`). */
export function quoteRune(r: number, asciiOnly = false): string {
  const valid = r <= 0x10ffff && !(r >= 0xd800 && r <= 0xdfff);
  return "'" + escapeRune(valid ? r : 0xfffd, 0x27, asciiOnly) + "'";
}

/** Go's `strconv.CanBackquote`. */
export function canBackquote(s: string): boolean {
  for (const ch of s) {
    const r = ch.codePointAt(0)!;
    if (r === 0x60 || r === 0xfeff || (r < 0x20 && r !== 9) || r === 0x7f) return false;
  }
  return true;
}

/** A decoded character: `value` is a byte when `isByte` (from `\x` or octal escapes). */
interface UnquotedChar {
  value: number;
  isByte: boolean;
  tail: string;
}

const SIMPLE_ESCAPES: Record<string, number> = {
  a: 7,
  b: 8,
  f: 12,
  n: 10,
  r: 13,
  t: 9,
  v: 11,
  "\\": 0x5c,
};

/** Go's `strconv.UnquoteChar`; returns `undefined` for invalid syntax. */
export function unquoteChar(s: string, quoteChar: string): UnquotedChar | undefined {
  const c = s[0];
  if (c === quoteChar && (c === "'" || c === '"')) return undefined;
  if (c !== "\\") {
    const cp = s.codePointAt(0)!;
    return { value: cp, isByte: false, tail: s.slice(cp > 0xffff ? 2 : 1) };
  }
  if (s.length <= 1) return undefined;
  const e = s[1];
  const rest = s.slice(2);
  if (e in SIMPLE_ESCAPES) return { value: SIMPLE_ESCAPES[e], isByte: false, tail: rest };
  if (e === "'" || e === '"') {
    return e === quoteChar ? { value: e.charCodeAt(0), isByte: false, tail: rest } : undefined;
  }
  const hexLength = e === "x" ? 2 : e === "u" ? 4 : e === "U" ? 8 : 0;
  if (hexLength > 0) {
    const digits = rest.slice(0, hexLength);
    if (digits.length < hexLength || !/^[0-9a-fA-F]+$/.test(digits)) return undefined;
    const v = parseInt(digits, 16);
    if (e === "x") return { value: v, isByte: true, tail: rest.slice(hexLength) };
    if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return undefined;
    return { value: v, isByte: false, tail: rest.slice(hexLength) };
  }
  if (e >= "0" && e <= "7") {
    const digits = s.slice(1, 4);
    if (!/^[0-7]{3}$/.test(digits)) return undefined;
    const v = parseInt(digits, 8);
    return v > 255 ? undefined : { value: v, isByte: true, tail: s.slice(4) };
  }
  return undefined;
}

/** Go's `strconv.Unquote` for `"..."` and `` `...` `` literals; `undefined` for invalid syntax. */
export function unquote(literal: string): string | undefined {
  const q = literal[0];
  const body = literal.slice(1, -1);
  if (q === "`") return body.replaceAll("\r", "");
  const bytes: number[] = [];
  let rest = body;
  while (rest.length > 0) {
    const ch = unquoteChar(rest, q);
    if (!ch) return undefined;
    if (ch.isByte || ch.value < 0x80) bytes.push(ch.value);
    else bytes.push(...utf8(String.fromCodePoint(ch.value)));
    rest = ch.tail;
  }
  return fromUtf8(bytes);
}

function underscoreOK(s: string): boolean {
  let saw = "^";
  let i = 0;
  if (s[0] === "-" || s[0] === "+") s = s.slice(1);
  let hex = false;
  if (s.length >= 2 && s[0] === "0" && "bBoOxX".includes(s[1])) {
    i = 2;
    saw = "0";
    hex = s[1] === "x" || s[1] === "X";
  }
  for (; i < s.length; i++) {
    const c = s[i];
    if ((c >= "0" && c <= "9") || (hex && /[a-fA-F]/.test(c))) {
      saw = "0";
    } else if (c === "_") {
      if (saw !== "0") return false;
      saw = "_";
    } else {
      if (saw === "_") return false;
      saw = "!";
    }
  }
  return saw !== "_";
}

/** Go's `strconv.ParseInt(text, 0, 64)` (`signed`) or `ParseUint(text, 0, 64)`. */
export function parseInteger(text: string, signed: boolean): bigint | undefined {
  let s = text;
  let negative = false;
  if (signed && (s[0] === "+" || s[0] === "-")) {
    negative = s[0] === "-";
    s = s.slice(1);
  }
  if (s.length === 0) return undefined;
  let base = 10;
  if (s[0] === "0") {
    const p = s[1]?.toLowerCase();
    if (s.length >= 3 && (p === "b" || p === "o" || p === "x")) {
      base = p === "b" ? 2 : p === "o" ? 8 : 16;
      s = s.slice(2);
    } else {
      base = 8;
      s = s.slice(1);
    }
  }
  let n = 0n;
  let underscores = false;
  for (const c of s) {
    if (c === "_") {
      underscores = true;
      continue;
    }
    const d = parseInt(c, 36);
    if (Number.isNaN(d) || d >= base) return undefined;
    n = n * BigInt(base) + BigInt(d);
  }
  if (underscores && !underscoreOK(text)) return undefined;
  const max = signed ? (negative ? 1n << 63n : (1n << 63n) - 1n) : (1n << 64n) - 1n;
  if (n > max) return undefined;
  return negative ? -n : n;
}

const DECIMAL_FLOAT = /^[+-]?(?=\.?[0-9])[0-9_]*(\.[0-9_]*)?([eE][+-]?[0-9_]+)?$/;
const HEX_FLOAT = /^([+-]?)0[xX]([0-9a-fA-F_]*)(?:\.([0-9a-fA-F_]*))?[pP]([+-]?[0-9_]+)$/;

/** Go's `strconv.ParseFloat(text, 64)`; `undefined` for bad syntax or out of range. */
export function parseFloat64(text: string): number | undefined {
  if (text.includes("_") && !underscoreOK(text)) return undefined;
  const s = text.replaceAll("_", "");
  let value: number;
  const hex = HEX_FLOAT.exec(s);
  if (hex) {
    const [, sign, whole, frac = "", exp] = hex;
    if (whole.length + frac.length === 0) return undefined;
    const mantissa = Number(BigInt("0x" + (whole + frac || "0")));
    value = mantissa * 2 ** (Number(exp) - 4 * frac.length);
    if (sign === "-") value = -value;
  } else if (DECIMAL_FLOAT.test(s)) {
    value = Number(s);
  } else {
    return undefined;
  }
  return Number.isFinite(value) ? value : undefined;
}

/** Decimal digits of a float: value = 0.d1d2d3... × 10^dp, `d` without trailing zeros. */
interface Decimal {
  d: string;
  dp: number;
}

function shortestDecimal(x: number): Decimal {
  if (x === 0) return { d: "", dp: 0 };
  const [mantissa, exp] = Math.abs(x).toExponential().split("e");
  return { d: mantissa.replace(".", ""), dp: Number(exp) + 1 };
}

function exactDecimal(x: number): Decimal {
  if (x === 0) return { d: "", dp: 0 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const biased = Number(bits >> 52n);
  let mant = bits & ((1n << 52n) - 1n);
  let exp = biased - 1075;
  if (biased === 0) exp = -1074;
  else mant |= 1n << 52n;
  let digits: string;
  let dp: number;
  if (exp >= 0) {
    digits = (mant << BigInt(exp)).toString();
    dp = digits.length;
  } else {
    digits = (mant * 5n ** BigInt(-exp)).toString();
    dp = digits.length + exp;
  }
  return { d: digits.replace(/0+$/, ""), dp };
}

/** Rounds to `nd` digits, half to even (Go's `decimal.Round`). */
function roundDecimal(dec: Decimal, nd: number): Decimal {
  const { d, dp } = dec;
  if (nd < 0 || nd >= d.length) return dec;
  const half = d[nd] === "5" && nd + 1 === d.length;
  const up = half ? nd > 0 && Number(d[nd - 1]) % 2 === 1 : d[nd] >= "5";
  if (!up) return { d: d.slice(0, nd).replace(/0+$/, ""), dp };
  let i = nd - 1;
  while (i >= 0 && d[i] === "9") i--;
  if (i < 0) return { d: "1", dp: dp + 1 };
  return { d: d.slice(0, i) + String(Number(d[i]) + 1), dp };
}

function formatE(neg: boolean, dec: Decimal, prec: number, e: string): string {
  let out = (neg ? "-" : "") + (dec.d[0] ?? "0");
  if (prec > 0) out += "." + dec.d.slice(1, prec + 1).padEnd(prec, "0");
  const exp = dec.d.length === 0 ? 0 : dec.dp - 1;
  const abs = Math.abs(exp);
  return out + e + (exp < 0 ? "-" : "+") + (abs < 10 ? "0" : "") + abs;
}

function formatF(neg: boolean, dec: Decimal, prec: number): string {
  let out = neg ? "-" : "";
  if (dec.dp > 0) out += dec.d.slice(0, dec.dp).padEnd(dec.dp, "0");
  else out += "0";
  if (prec > 0) {
    out += ".";
    for (let i = 0; i < prec; i++) {
      const j = dec.dp + i;
      out += j >= 0 && j < dec.d.length ? dec.d[j] : "0";
    }
  }
  return out;
}

function formatHex(x: number, prec: number, upper: boolean): string {
  const neg = x < 0 || Object.is(x, -0);
  let mant = 0n;
  let exp = 0;
  if (x !== 0) {
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, Math.abs(x));
    const bits = view.getBigUint64(0);
    const biased = Number(bits >> 52n);
    mant = bits & ((1n << 52n) - 1n);
    exp = biased - 1023;
    if (biased === 0) {
      exp = -1022;
      while (mant < 1n << 52n) {
        mant <<= 1n;
        exp--;
      }
      mant &= (1n << 52n) - 1n;
    }
  }
  let frac = mant.toString(16).padStart(13, "0");
  let lead = x === 0 ? 0n : 1n;
  if (prec >= 0 && prec < 13) {
    const shift = BigInt(4 * (13 - prec));
    const full = (lead << 52n) | mant;
    let kept = full >> shift;
    const rest = full & ((1n << shift) - 1n);
    const halfway = 1n << (shift - 1n);
    if (rest > halfway || (rest === halfway && (kept & 1n) === 1n)) kept++;
    if (kept >> BigInt(4 * prec) >= 2n) {
      kept >>= 1n;
      exp++;
    }
    lead = kept >> BigInt(4 * prec);
    frac = prec === 0 ? "" : (kept & ((1n << BigInt(4 * prec)) - 1n)).toString(16)
      .padStart(prec, "0");
  } else if (prec < 0) {
    frac = frac.replace(/0+$/, "");
  } else {
    frac = frac.padEnd(prec, "0");
  }
  const abs = Math.abs(exp);
  let out = (neg ? "-" : "") + "0x" + lead.toString() + (frac ? "." + frac : "") + "p" +
    (exp < 0 ? "-" : "+") + (abs < 10 ? "0" : "") + abs;
  if (upper) out = out.toUpperCase();
  return out;
}

function formatBinary(x: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const neg = bits >> 63n === 1n;
  const biased = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let exp = biased - 1075;
  if (biased === 0) exp = -1074;
  else mant |= 1n << 52n;
  return (neg ? "-" : "") + mant.toString() + "p" + (exp >= 0 ? "+" : "") + exp;
}

/**
 * Go's `strconv.FormatFloat(x, fmt, prec, 64)` for `fmt` in b, e, E, f, g, G, x, X; `prec` -1
 * means the shortest representation that reads back exactly.
 */
export function formatFloat(x: number, fmt: string, prec: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "+Inf" : "-Inf";
  if (fmt === "b") return formatBinary(x);
  if (fmt === "x" || fmt === "X") return formatHex(x, prec, fmt === "X");
  const neg = x < 0 || Object.is(x, -0);
  const shortest = prec < 0;
  let dec: Decimal;
  if (shortest) {
    dec = shortestDecimal(x);
    if (fmt === "e" || fmt === "E") prec = Math.max(dec.d.length - 1, 0);
    else if (fmt === "f") prec = Math.max(dec.d.length - dec.dp, 0);
    else prec = dec.d.length;
  } else {
    const exact = exactDecimal(x);
    if (fmt === "e" || fmt === "E") dec = roundDecimal(exact, prec + 1);
    else if (fmt === "f") dec = roundDecimal(exact, exact.dp + prec);
    else {
      if (prec === 0) prec = 1;
      dec = roundDecimal(exact, prec);
    }
  }
  if (fmt === "e" || fmt === "E") return formatE(neg, dec, prec, fmt);
  if (fmt === "f") return formatF(neg, dec, prec);
  let eprec = prec;
  if (eprec > dec.d.length && dec.d.length >= dec.dp) eprec = dec.d.length;
  if (shortest) eprec = 6;
  const exp = dec.dp - 1;
  if (exp < -4 || exp >= eprec) {
    if (prec > dec.d.length) prec = dec.d.length;
    return formatE(neg, dec, prec - 1, fmt === "G" ? "E" : "e");
  }
  if (prec > dec.dp) prec = dec.d.length;
  return formatF(neg, dec, Math.max(prec - dec.dp, 0));
}
