/**
 * The template parser: builds the same tree as Go's `text/template/parse` and fails with the
 * same messages (`template: interpolate:LINE: ...`).
 *
 * @module
 */
import { TEMPLATE_NAME, TemplateError } from "./error.ts";
import { type Item, itemString, type ItemType, lex, T } from "./lex.ts";
import { parseFloat64, parseInteger, quote, unquote, unquoteChar } from "./strconv.ts";

/** Literal text between actions. */
export interface TextNode {
  type: "text";
  pos: number;
  text: string;
}

/** `{{ pipeline }}`. */
export interface ActionNode {
  type: "action";
  pos: number;
  pipe: PipeNode;
}

/** `$x := cmd | cmd`: optional declarations and the commands. */
export interface PipeNode {
  type: "pipe";
  pos: number;
  isAssign: boolean;
  decl: VariableNode[];
  cmds: CommandNode[];
}

/** One command of a pipeline: an operand followed by arguments. */
export interface CommandNode {
  type: "command";
  pos: number;
  args: Operand[];
}

/** `.a.b`. */
export interface FieldNode {
  type: "field";
  pos: number;
  ident: string[];
}

/** `$x.a.b` (`ident[0]` is the variable). */
export interface VariableNode {
  type: "variable";
  pos: number;
  ident: string[];
}

/** `(pipeline).a.b` or another term followed by fields. */
export interface ChainNode {
  type: "chain";
  pos: number;
  node: Operand;
  field: string[];
}

/** A function name. */
export interface IdentifierNode {
  type: "identifier";
  pos: number;
  ident: string;
}

/** A number literal, with the values Go derives from it. */
export interface NumberNode {
  type: "number";
  pos: number;
  text: string;
  isInt: boolean;
  isUint: boolean;
  isFloat: boolean;
  isComplex: boolean;
  int: bigint;
  float: number;
}

/** `.`, `nil`, `true`/`false` and string literals. */
export type LiteralNode =
  | { type: "dot"; pos: number }
  | { type: "nil"; pos: number }
  | { type: "bool"; pos: number; value: boolean }
  | { type: "string"; pos: number; quoted: string; text: string };

/** Anything that can appear as an argument of a command. */
export type Operand =
  | FieldNode
  | VariableNode
  | ChainNode
  | IdentifierNode
  | NumberNode
  | LiteralNode
  | PipeNode;

/** `{{if}}`, `{{range}}` and `{{with}}`. */
export interface BranchNode {
  type: "if" | "range" | "with";
  pos: number;
  pipe: PipeNode;
  list: ListNode;
  elseList: ListNode | null;
}

/** A sequence of statements. */
export interface ListNode {
  type: "list";
  pos: number;
  nodes: Statement[];
}

/** A node that produces output or controls flow. */
export type Statement =
  | TextNode
  | ActionNode
  | BranchNode
  | ListNode
  | { type: "break"; pos: number }
  | { type: "continue"; pos: number };

/** Any node of the tree. */
export type Node = Statement | Operand | CommandNode;

type Control = Statement | { type: "end"; pos: number } | { type: "else"; pos: number };

/** Go's `Node.String()`, used in "executing ... at <...>" messages. */
export function nodeString(n: Node): string {
  switch (n.type) {
    case "text":
      return n.text;
    case "action":
      return `{{${nodeString(n.pipe)}}}`;
    case "pipe": {
      let s = "";
      if (n.decl.length > 0) {
        s = n.decl.map(nodeString).join(", ") + (n.isAssign ? " = " : " := ");
      }
      return s + n.cmds.map(nodeString).join(" | ");
    }
    case "command":
      return n.args.map((a) => a.type === "pipe" ? `(${nodeString(a)})` : nodeString(a)).join(" ");
    case "field":
      return n.ident.map((i) => "." + i).join("");
    case "variable":
      return n.ident.join(".");
    case "chain": {
      const head = n.node.type === "pipe" ? `(${nodeString(n.node)})` : nodeString(n.node);
      return head + n.field.map((f) => "." + f).join("");
    }
    case "identifier":
      return n.ident;
    case "number":
      return n.text;
    case "dot":
      return ".";
    case "nil":
      return "nil";
    case "bool":
      return String(n.value);
    case "string":
      return n.quoted;
    case "if":
    case "range":
    case "with": {
      const elseList = n.elseList ? `{{else}}${nodeString(n.elseList)}` : "";
      return `{{${n.type} ${nodeString(n.pipe)}}}${nodeString(n.list)}${elseList}{{end}}`;
    }
    case "list":
      return n.nodes.map(nodeString).join("");
    case "break":
      return "{{break}}";
    case "continue":
      return "{{continue}}";
  }
}

interface Parser {
  items: Item[];
  index: number;
  token: Item[];
  peekCount: number;
  vars: string[];
  actionLine: number;
  rangeDepth: number;
  stackDepth: number;
  funcs: ReadonlySet<string>;
}

const MAX_STACK_DEPTH = 1000;

function fail(t: Parser, message: string): never {
  throw new TemplateError(`template: ${TEMPLATE_NAME}:${t.token[0].line}: ${message}`);
}

function next(t: Parser): Item {
  if (t.peekCount > 0) t.peekCount--;
  else t.token[0] = t.items[Math.min(t.index++, t.items.length - 1)];
  return t.token[t.peekCount];
}

function backup(t: Parser): void {
  t.peekCount++;
}

function backup2(t: Parser, t1: Item): void {
  t.token[1] = t1;
  t.peekCount = 2;
}

function backup3(t: Parser, t2: Item, t1: Item): void {
  t.token[1] = t1;
  t.token[2] = t2;
  t.peekCount = 3;
}

function peek(t: Parser): Item {
  if (t.peekCount > 0) return t.token[t.peekCount - 1];
  t.peekCount = 1;
  t.token[0] = t.items[Math.min(t.index++, t.items.length - 1)];
  return t.token[0];
}

function nextNonSpace(t: Parser): Item {
  let token: Item;
  do token = next(t); while (token.typ === T.Space);
  return token;
}

function peekNonSpace(t: Parser): Item {
  const token = nextNonSpace(t);
  backup(t);
  return token;
}

function unexpected(t: Parser, token: Item, context: string): never {
  if (token.typ === T.Error) {
    let extra = "";
    if (t.actionLine !== 0 && t.actionLine !== token.line) {
      extra = ` in action started at ${TEMPLATE_NAME}:${t.actionLine}`;
      if (token.val.endsWith(" action")) extra = extra.slice(" in action".length);
    }
    fail(t, itemString(token) + extra);
  }
  fail(t, `unexpected ${itemString(token)} in ${context}`);
}

function expect(t: Parser, expected: ItemType, context: string): Item {
  const token = nextNonSpace(t);
  if (token.typ !== expected) unexpected(t, token, context);
  return token;
}

function itemList(t: Parser): [ListNode, Control] {
  const list: ListNode = { type: "list", pos: peekNonSpace(t).pos, nodes: [] };
  while (peekNonSpace(t).typ !== T.EOF) {
    const n = textOrAction(t);
    if (n.type === "end" || n.type === "else") return [list, n];
    list.nodes.push(n);
  }
  fail(t, "unexpected EOF");
}

function textOrAction(t: Parser): Control {
  const token = nextNonSpace(t);
  switch (token.typ) {
    case T.Text:
      return { type: "text", pos: token.pos, text: token.val };
    case T.LeftDelim:
      t.actionLine = token.line;
      try {
        return action(t);
      } finally {
        t.actionLine = 0;
      }
    default:
      unexpected(t, token, "input");
  }
}

function action(t: Parser): Control {
  const token = nextNonSpace(t);
  switch (token.typ) {
    case T.Break:
    case T.Continue: {
      const name = token.typ === T.Break ? "break" : "continue";
      const after = nextNonSpace(t);
      if (after.typ !== T.RightDelim) unexpected(t, after, `{{${name}}}`);
      if (t.rangeDepth === 0) fail(t, `{{${name}}} outside {{range}}`);
      return { type: name, pos: token.pos };
    }
    case T.Else:
      return elseControl(t);
    case T.End:
      return { type: "end", pos: expect(t, T.RightDelim, "end").pos };
    case T.If:
    case T.Range:
    case T.With:
      return control(t, token.typ === T.If ? "if" : token.typ === T.Range ? "range" : "with");
    case T.Block:
    case T.Template:
      fail(t, `{{${token.val}}} is not supported: a script line is a single template`);
  }
  backup(t);
  const first = peek(t);
  return { type: "action", pos: first.pos, pipe: pipeline(t, "command", T.RightDelim) };
}

function elseControl(t: Parser): Control {
  const p = peekNonSpace(t);
  if (p.typ === T.If || p.typ === T.With) return { type: "else", pos: p.pos };
  return { type: "else", pos: expect(t, T.RightDelim, "else").pos };
}

function control(t: Parser, context: "if" | "range" | "with"): BranchNode {
  const mark = t.vars.length;
  try {
    const pipe = pipeline(t, context, T.RightDelim);
    if (context === "range") t.rangeDepth++;
    const [list, first] = itemList(t);
    let nextNode = first;
    if (context === "range") t.rangeDepth--;
    let elseList: ListNode | null = null;
    if (nextNode.type === "else") {
      const follows = peek(t).typ;
      if ((context === "if" && follows === T.If) || (context === "with" && follows === T.With)) {
        next(t);
        elseList = { type: "list", pos: nextNode.pos, nodes: [control(t, context)] };
      } else {
        [elseList, nextNode] = itemList(t);
        if (nextNode.type !== "end") fail(t, `expected end; found {{${nextNode.type}}}`);
      }
    }
    return { type: context, pos: pipe.pos, pipe, list, elseList };
  } finally {
    t.vars.length = mark;
  }
}

function pipeline(t: Parser, context: string, end: ItemType): PipeNode {
  const pipe: PipeNode = {
    type: "pipe",
    pos: peekNonSpace(t).pos,
    isAssign: false,
    decl: [],
    cmds: [],
  };
  decls: for (;;) {
    const v = peekNonSpace(t);
    if (v.typ !== T.Variable) break;
    next(t);
    const tokenAfterVariable = peek(t);
    const after = peekNonSpace(t);
    if (after.typ === T.Assign || after.typ === T.Declare) {
      pipe.isAssign = after.typ === T.Assign;
      nextNonSpace(t);
      pipe.decl.push({ type: "variable", pos: v.pos, ident: v.val.split(".") });
      t.vars.push(v.val);
    } else if (after.typ === T.Char && after.val === ",") {
      nextNonSpace(t);
      pipe.decl.push({ type: "variable", pos: v.pos, ident: v.val.split(".") });
      t.vars.push(v.val);
      if (context === "range" && pipe.decl.length < 2) {
        const p = peekNonSpace(t).typ;
        if (p === T.Variable || p === T.RightDelim || p === T.RightParen) continue decls;
        fail(t, "range can only initialize variables");
      }
      fail(t, `too many declarations in ${context}`);
    } else if (tokenAfterVariable.typ === T.Space) {
      backup3(t, v, tokenAfterVariable);
    } else {
      backup2(t, v);
    }
    break;
  }
  for (;;) {
    const token = nextNonSpace(t);
    if (token.typ === end) {
      checkPipeline(t, pipe, context);
      return pipe;
    }
    switch (token.typ) {
      case T.Bool:
      case T.CharConstant:
      case T.Complex:
      case T.Dot:
      case T.Field:
      case T.Identifier:
      case T.Number:
      case T.Nil:
      case T.RawString:
      case T.String:
      case T.Variable:
      case T.LeftParen:
        backup(t);
        pipe.cmds.push(command(t));
        break;
      default:
        unexpected(t, token, context);
    }
  }
}

function checkPipeline(t: Parser, pipe: PipeNode, context: string): void {
  if (pipe.cmds.length === 0) fail(t, `missing value for ${context}`);
  pipe.cmds.slice(1).forEach((c, i) => {
    if (["bool", "dot", "nil", "number", "string"].includes(c.args[0].type)) {
      fail(t, `non executable command in pipeline stage ${i + 2}`);
    }
  });
}

function command(t: Parser): CommandNode {
  const cmd: CommandNode = { type: "command", pos: peekNonSpace(t).pos, args: [] };
  for (;;) {
    peekNonSpace(t);
    const op = operand(t);
    if (op) cmd.args.push(op);
    const token = next(t);
    if (token.typ === T.Space) continue;
    if (token.typ === T.RightDelim || token.typ === T.RightParen) backup(t);
    else if (token.typ !== T.Pipe) unexpected(t, token, "operand");
    break;
  }
  if (cmd.args.length === 0) fail(t, "empty command");
  return cmd;
}

function operand(t: Parser): Operand | undefined {
  const node = term(t);
  if (!node || peek(t).typ !== T.Field) return node;
  const pos = peek(t).pos;
  const field: string[] = [];
  while (peek(t).typ === T.Field) field.push(next(t).val.slice(1));
  switch (node.type) {
    case "field":
      return { type: "field", pos, ident: [...node.ident, ...field] };
    case "variable":
      return { type: "variable", pos, ident: [...node.ident, ...field] };
    case "bool":
    case "string":
    case "number":
    case "nil":
    case "dot":
      fail(t, `unexpected . after term ${quote(nodeString(node))}`);
  }
  return { type: "chain", pos, node, field };
}

function term(t: Parser): Operand | undefined {
  const token = nextNonSpace(t);
  switch (token.typ) {
    case T.Identifier:
      if (!t.funcs.has(token.val)) fail(t, `function ${quote(token.val)} not defined`);
      return { type: "identifier", pos: token.pos, ident: token.val };
    case T.Dot:
      return { type: "dot", pos: token.pos };
    case T.Nil:
      return { type: "nil", pos: token.pos };
    case T.Variable: {
      const ident = token.val.split(".");
      if (!t.vars.includes(ident[0])) fail(t, `undefined variable ${quote(ident[0])}`);
      return { type: "variable", pos: token.pos, ident };
    }
    case T.Field:
      return { type: "field", pos: token.pos, ident: token.val.slice(1).split(".") };
    case T.Bool:
      return { type: "bool", pos: token.pos, value: token.val === "true" };
    case T.CharConstant:
    case T.Complex:
    case T.Number:
      return numberNode(t, token);
    case T.LeftParen: {
      if (t.stackDepth >= MAX_STACK_DEPTH) fail(t, "max expression depth exceeded");
      t.stackDepth++;
      try {
        return pipeline(t, "parenthesized pipeline", T.RightParen);
      } finally {
        t.stackDepth--;
      }
    }
    case T.String:
    case T.RawString: {
      const text = unquote(token.val);
      if (text === undefined) fail(t, "invalid syntax");
      return { type: "string", pos: token.pos, quoted: token.val, text };
    }
  }
  backup(t);
  return undefined;
}

function numberNode(t: Parser, token: Item): NumberNode {
  const text = token.val;
  const n: NumberNode = {
    type: "number",
    pos: token.pos,
    text,
    isInt: false,
    isUint: false,
    isFloat: false,
    isComplex: false,
    int: 0n,
    float: 0,
  };
  if (token.typ === T.CharConstant) {
    const ch = unquoteChar(text.slice(1), text[0]);
    if (!ch) fail(t, "invalid syntax");
    if (ch.tail !== "'") fail(t, `malformed character constant: ${text}`);
    return {
      ...n,
      isInt: true,
      isUint: true,
      isFloat: true,
      int: BigInt(ch.value),
      float: ch.value,
    };
  }
  if (token.typ === T.Complex || text.endsWith("i")) {
    fail(t, `complex number ${text} is not supported`);
  }
  const u = parseInteger(text, false);
  const i = parseInteger(text, true);
  if (i !== undefined) {
    n.isInt = n.isFloat = true;
    n.int = i;
    n.float = Number(i);
    if (i === 0n) n.isUint = true;
  } else if (u !== undefined) {
    n.isUint = n.isFloat = true;
    n.float = Number(u);
  } else {
    const f = parseFloat64(text);
    if (f !== undefined) {
      if (!/[.eEpP]/.test(text)) fail(t, `integer overflow: ${quote(text)}`);
      n.isFloat = true;
      n.float = f;
      if (Number.isInteger(f) && f >= -(2 ** 63) && f < 2 ** 63) {
        n.isInt = true;
        n.int = BigInt(f);
      }
    }
  }
  if (u !== undefined) n.isUint = true;
  if (!n.isInt && !n.isUint && !n.isFloat) fail(t, `illegal number syntax: ${quote(text)}`);
  return n;
}

/** Parses a template into its root list, checking function names against `funcs`. */
export function parse(source: string, funcs: ReadonlySet<string>): ListNode {
  const items = lex(source);
  const t: Parser = {
    items,
    index: 0,
    token: [items[0], items[0], items[0]],
    peekCount: 0,
    vars: ["$"],
    actionLine: 0,
    rangeDepth: 0,
    stackDepth: 0,
    funcs,
  };
  const root: ListNode = { type: "list", pos: peek(t).pos, nodes: [] };
  while (peek(t).typ !== T.EOF) {
    if (peek(t).typ === T.LeftDelim) {
      const delim = next(t);
      if (nextNonSpace(t).typ === T.Define) {
        fail(t, "{{define}} is not supported: a script line is a single template");
      }
      backup2(t, delim);
    }
    const n = textOrAction(t);
    if (n.type === "end" || n.type === "else") fail(t, `unexpected {{${n.type}}}`);
    root.nodes.push(n);
  }
  return root;
}
