/**
 * The template lexer: splits a template into text and action tokens exactly as Go's
 * `text/template/parse` lexer does, including trim markers, comments and its error texts.
 *
 * @module
 */
import { byteLength, describeRune, quote } from "./strconv.ts";

/** Token types, in Go's order (everything after `Keyword` is a keyword). */
export const T = {
  Error: 0,
  Bool: 1,
  Char: 2,
  CharConstant: 3,
  Comment: 4,
  Complex: 5,
  Assign: 6,
  Declare: 7,
  EOF: 8,
  Field: 9,
  Identifier: 10,
  LeftDelim: 11,
  LeftParen: 12,
  Number: 13,
  Pipe: 14,
  RawString: 15,
  RightDelim: 16,
  RightParen: 17,
  Space: 18,
  String: 19,
  Text: 20,
  Variable: 21,
  Keyword: 22,
  Block: 23,
  Break: 24,
  Continue: 25,
  Dot: 26,
  Define: 27,
  Else: 28,
  End: 29,
  If: 30,
  Nil: 31,
  Range: 32,
  Template: 33,
  With: 34,
} as const;

/** A token type. */
export type ItemType = typeof T[keyof typeof T];

/** A token: `pos` is the offset in the source (UTF-16 units), `line` its 1-based line. */
export interface Item {
  typ: ItemType;
  pos: number;
  val: string;
  line: number;
}

const KEYWORDS: Record<string, ItemType> = {
  ".": T.Dot,
  block: T.Block,
  break: T.Break,
  continue: T.Continue,
  define: T.Define,
  else: T.Else,
  end: T.End,
  if: T.If,
  range: T.Range,
  nil: T.Nil,
  template: T.Template,
  with: T.With,
};

/** How Go prints a token in "unexpected ..." errors. */
export function itemString(item: Item): string {
  if (item.typ === T.EOF) return "EOF";
  if (item.typ === T.Error) return item.val;
  if (item.typ > T.Keyword) return `<${item.val}>`;
  if (byteLength(item.val) > 10) return quote([...item.val].slice(0, 10).join("")) + "...";
  return quote(item.val);
}

const LEFT = "{{";
const RIGHT = "}}";
const EOF = -1;

interface Lexer {
  input: string;
  pos: number;
  start: number;
  atEOF: boolean;
  parenDepth: number;
  line: number;
  startLine: number;
  insideAction: boolean;
  items: Item[];
}

type StateFn = (l: Lexer) => StateFn | null;

function isSpace(r: number): boolean {
  return r === 0x20 || r === 0x09 || r === 0x0d || r === 0x0a;
}

const ALNUM = /^[\p{L}\p{Nd}_]$/u;

function isAlphaNumeric(r: number): boolean {
  if (r < 0) return false;
  if (r < 0x80) {
    return r === 0x5f || (r >= 0x30 && r <= 0x39) || ((r | 0x20) >= 0x61 && (r | 0x20) <= 0x7a);
  }
  return ALNUM.test(String.fromCodePoint(r));
}

function next(l: Lexer): number {
  if (l.pos >= l.input.length) {
    l.atEOF = true;
    return EOF;
  }
  const r = l.input.codePointAt(l.pos)!;
  l.pos += r > 0xffff ? 2 : 1;
  if (r === 0x0a) l.line++;
  return r;
}

function backup(l: Lexer): void {
  if (l.atEOF || l.pos === 0) return;
  const low = l.input.charCodeAt(l.pos - 1);
  const pair = low >= 0xdc00 && low <= 0xdfff && l.pos >= 2 &&
    l.input.charCodeAt(l.pos - 2) >= 0xd800 && l.input.charCodeAt(l.pos - 2) <= 0xdbff;
  l.pos -= pair ? 2 : 1;
  if (low === 0x0a) l.line--;
}

function peek(l: Lexer): number {
  const r = next(l);
  backup(l);
  return r;
}

function thisItem(l: Lexer, typ: ItemType): Item {
  const item = { typ, pos: l.start, val: l.input.slice(l.start, l.pos), line: l.startLine };
  l.start = l.pos;
  l.startLine = l.line;
  return item;
}

function emit(l: Lexer, typ: ItemType): null {
  l.items.push(thisItem(l, typ));
  return null;
}

function ignore(l: Lexer): void {
  l.line += countNewlines(l.input.slice(l.start, l.pos));
  l.start = l.pos;
  l.startLine = l.line;
}

function accept(l: Lexer, valid: string): boolean {
  const r = next(l);
  if (r !== EOF && valid.includes(String.fromCodePoint(r))) return true;
  backup(l);
  return false;
}

function acceptRun(l: Lexer, valid: string): void {
  while (accept(l, valid));
}

function errorf(l: Lexer, message: string): null {
  l.items.push({ typ: T.Error, pos: l.start, val: message, line: l.startLine });
  l.start = 0;
  l.pos = 0;
  l.input = "";
  return null;
}

function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf("\n"); i >= 0; i = s.indexOf("\n", i + 1)) n++;
  return n;
}

function hasLeftTrimMarker(s: string, at: number): boolean {
  return s.length - at >= 2 && s[at] === "-" && isSpace(s.charCodeAt(at + 1));
}

function hasRightTrimMarker(s: string, at: number): boolean {
  return s.length - at >= 2 && isSpace(s.charCodeAt(at)) && s[at + 1] === "-";
}

function trimLeftLength(s: string, from: number): number {
  let i = from;
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  return i - from;
}

function atRightDelim(l: Lexer): [boolean, boolean] {
  if (hasRightTrimMarker(l.input, l.pos) && l.input.startsWith(RIGHT, l.pos + 2)) {
    return [true, true];
  }
  return [l.input.startsWith(RIGHT, l.pos), false];
}

function lexText(l: Lexer): StateFn | null {
  const x = l.input.indexOf(LEFT, l.pos);
  if (x >= 0) {
    if (x > l.pos) {
      l.pos = x;
      let trim = 0;
      if (hasLeftTrimMarker(l.input, l.pos + LEFT.length)) {
        let i = l.pos;
        while (i > l.start && isSpace(l.input.charCodeAt(i - 1))) i--;
        trim = l.pos - i;
      }
      l.pos -= trim;
      l.line += countNewlines(l.input.slice(l.start, l.pos));
      const item = thisItem(l, T.Text);
      l.pos += trim;
      ignore(l);
      if (item.val.length > 0) {
        l.items.push(item);
        return null;
      }
    }
    return lexLeftDelim;
  }
  l.pos = l.input.length;
  if (l.pos > l.start) {
    l.line += countNewlines(l.input.slice(l.start, l.pos));
    return emit(l, T.Text);
  }
  return emit(l, T.EOF);
}

function lexLeftDelim(l: Lexer): StateFn | null {
  l.pos += LEFT.length;
  const trimSpace = hasLeftTrimMarker(l.input, l.pos);
  const afterMarker = trimSpace ? 2 : 0;
  if (l.input.startsWith("/*", l.pos + afterMarker)) {
    l.pos += afterMarker;
    ignore(l);
    return lexComment;
  }
  const item = thisItem(l, T.LeftDelim);
  l.insideAction = true;
  l.pos += afterMarker;
  ignore(l);
  l.parenDepth = 0;
  l.items.push(item);
  return null;
}

function lexComment(l: Lexer): StateFn | null {
  l.pos += 2;
  const x = l.input.indexOf("*/", l.pos);
  if (x < 0) return errorf(l, "unclosed comment");
  l.pos = x + 2;
  const [delim, trimSpace] = atRightDelim(l);
  if (!delim) return errorf(l, "comment ends before closing delimiter");
  l.line += countNewlines(l.input.slice(l.start, l.pos));
  thisItem(l, T.Comment);
  if (trimSpace) l.pos += 2;
  l.pos += RIGHT.length;
  if (trimSpace) l.pos += trimLeftLength(l.input, l.pos);
  ignore(l);
  return lexText;
}

function lexRightDelim(l: Lexer): StateFn | null {
  const [, trimSpace] = atRightDelim(l);
  if (trimSpace) {
    l.pos += 2;
    ignore(l);
  }
  l.pos += RIGHT.length;
  const item = thisItem(l, T.RightDelim);
  if (trimSpace) {
    l.pos += trimLeftLength(l.input, l.pos);
    ignore(l);
  }
  l.insideAction = false;
  l.items.push(item);
  return null;
}

function lexInsideAction(l: Lexer): StateFn | null {
  const [delim] = atRightDelim(l);
  if (delim) {
    if (l.parenDepth === 0) return lexRightDelim;
    return errorf(l, "unclosed left paren");
  }
  const r = next(l);
  if (r === EOF) return errorf(l, "unclosed action");
  if (isSpace(r)) {
    backup(l);
    return lexSpace;
  }
  const c = String.fromCodePoint(r);
  switch (c) {
    case "=":
      return emit(l, T.Assign);
    case ":":
      if (next(l) !== 0x3d) return errorf(l, "expected :=");
      return emit(l, T.Declare);
    case "|":
      return emit(l, T.Pipe);
    case '"':
      return lexQuote;
    case "`":
      return lexRawQuote;
    case "$":
      return lexVariable;
    case "'":
      return lexChar;
    case "(":
      l.parenDepth++;
      return emit(l, T.LeftParen);
    case ")":
      l.parenDepth--;
      if (l.parenDepth < 0) return errorf(l, "unexpected right paren");
      return emit(l, T.RightParen);
  }
  if (c === ".") {
    if (l.pos < l.input.length) {
      const d = l.input[l.pos];
      if (d < "0" || d > "9") return lexField;
    }
  }
  if (c === "." || c === "+" || c === "-" || (c >= "0" && c <= "9")) {
    backup(l);
    return lexNumber;
  }
  if (isAlphaNumeric(r)) {
    backup(l);
    return lexIdentifier;
  }
  if (r < 0x7f && r >= 0x20) return emit(l, T.Char);
  return errorf(l, `unrecognized character in action: ${describeRune(r)}`);
}

function lexSpace(l: Lexer): StateFn | null {
  let numSpaces = 0;
  while (isSpace(peek(l))) {
    next(l);
    numSpaces++;
  }
  if (hasRightTrimMarker(l.input, l.pos - 1) && l.input.startsWith(RIGHT, l.pos + 1)) {
    backup(l);
    if (numSpaces === 1) return lexRightDelim;
  }
  return emit(l, T.Space);
}

function atTerminator(l: Lexer): boolean {
  const r = peek(l);
  if (isSpace(r)) return true;
  if (r === EOF) return true;
  if (".,|:)(".includes(String.fromCodePoint(r))) return true;
  return l.input.startsWith(RIGHT, l.pos);
}

function lexIdentifier(l: Lexer): StateFn | null {
  let r: number;
  while (isAlphaNumeric(r = next(l)));
  backup(l);
  const word = l.input.slice(l.start, l.pos);
  if (!atTerminator(l)) return errorf(l, `bad character ${describeRune(r)}`);
  const keyword = Object.hasOwn(KEYWORDS, word) ? KEYWORDS[word] : undefined;
  if (keyword !== undefined) return emit(l, keyword);
  if (word[0] === ".") return emit(l, T.Field);
  if (word === "true" || word === "false") return emit(l, T.Bool);
  return emit(l, T.Identifier);
}

function lexFieldOrVariable(l: Lexer, typ: ItemType): StateFn | null {
  if (atTerminator(l)) return emit(l, typ === T.Variable ? T.Variable : T.Dot);
  let r: number;
  while (isAlphaNumeric(r = next(l)));
  backup(l);
  if (!atTerminator(l)) return errorf(l, `bad character ${describeRune(r)}`);
  return emit(l, typ);
}

function lexField(l: Lexer): StateFn | null {
  return lexFieldOrVariable(l, T.Field);
}

function lexVariable(l: Lexer): StateFn | null {
  if (atTerminator(l)) return emit(l, T.Variable);
  return lexFieldOrVariable(l, T.Variable);
}

function lexQuoted(l: Lexer, close: number, typ: ItemType, message: string): StateFn | null {
  for (;;) {
    let r = next(l);
    if (r === 0x5c) {
      r = next(l);
      if (r !== EOF && r !== 0x0a) continue;
      return errorf(l, message);
    }
    if (r === EOF || r === 0x0a) return errorf(l, message);
    if (r === close) return emit(l, typ);
  }
}

function lexChar(l: Lexer): StateFn | null {
  return lexQuoted(l, 0x27, T.CharConstant, "unterminated character constant");
}

function lexQuote(l: Lexer): StateFn | null {
  return lexQuoted(l, 0x22, T.String, "unterminated quoted string");
}

function lexRawQuote(l: Lexer): StateFn | null {
  for (;;) {
    const r = next(l);
    if (r === EOF) return errorf(l, "unterminated raw quoted string");
    if (r === 0x60) return emit(l, T.RawString);
  }
}

function scanNumber(l: Lexer): boolean {
  accept(l, "+-");
  let digits = "0123456789_";
  if (accept(l, "0")) {
    if (accept(l, "xX")) digits = "0123456789abcdefABCDEF_";
    else if (accept(l, "oO")) digits = "01234567_";
    else if (accept(l, "bB")) digits = "01_";
  }
  acceptRun(l, digits);
  if (accept(l, ".")) acceptRun(l, digits);
  if (digits.length === 11 && accept(l, "eE")) {
    accept(l, "+-");
    acceptRun(l, "0123456789_");
  }
  if (digits.length === 23 && accept(l, "pP")) {
    accept(l, "+-");
    acceptRun(l, "0123456789_");
  }
  accept(l, "i");
  if (isAlphaNumeric(peek(l))) {
    next(l);
    return false;
  }
  return true;
}

function lexNumber(l: Lexer): StateFn | null {
  if (!scanNumber(l)) {
    return errorf(l, `bad number syntax: ${quote(l.input.slice(l.start, l.pos))}`);
  }
  const sign = peek(l);
  if (sign === 0x2b || sign === 0x2d) {
    if (!scanNumber(l) || l.input[l.pos - 1] !== "i") {
      return errorf(l, `bad number syntax: ${quote(l.input.slice(l.start, l.pos))}`);
    }
    return emit(l, T.Complex);
  }
  return emit(l, T.Number);
}

/**
 * Splits `input` into tokens, ending with an EOF token or with the first error token.
 *
 * @example
 * ```ts
 * lex("a{{.x}}").map((i) => i.val); // ["a", "{{", ".x", "}}", ""]
 * ```
 */
export function lex(input: string): Item[] {
  const l: Lexer = {
    input,
    pos: 0,
    start: 0,
    atEOF: false,
    parenDepth: 0,
    line: 1,
    startLine: 1,
    insideAction: false,
    items: [],
  };
  for (;;) {
    let state: StateFn | null = l.insideAction ? lexInsideAction : lexText;
    const before = l.items.length;
    while (state) state = state(l);
    const last = l.items[l.items.length - 1];
    if (l.items.length > before && (last.typ === T.EOF || last.typ === T.Error)) return l.items;
  }
}
