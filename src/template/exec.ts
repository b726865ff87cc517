/**
 * The template evaluator: walks a parsed tree over JSON-decoded data with the semantics of Go's
 * `text/template` under `missingkey=error`, failing with Go's messages
 * (`template: interpolate:LINE:COL: executing "interpolate" at <NODE>: ...`).
 *
 * @module
 */
import { TEMPLATE_NAME, TemplateError } from "./error.ts";
import { formatValue, sortedKeys } from "./fmt.ts";
import { CallError, callFunction, FUNCS, type Param } from "./funcs.ts";
import type {
  BranchNode,
  ChainNode,
  CommandNode,
  FieldNode,
  IdentifierNode,
  ListNode,
  Node,
  NumberNode,
  Operand,
  PipeNode,
  Statement,
  VariableNode,
} from "./parse.ts";
import { nodeString } from "./parse.ts";
import { byteLength, quote } from "./strconv.ts";
import { type GoMap, Iface, isTrue, kindOf, mapGet, typeName, unwrap } from "./value.ts";

/** No value flows into this command from a previous pipeline stage. */
const MISSING = Symbol("missing");

/** Parameter type `none`: Go's untyped `nil` type (the receiver of a chain). */
type ArgType = Param | "none";

type Signal = "break" | "continue" | undefined;

interface State {
  source: string;
  node: Node;
  vars: { name: string; value: unknown }[];
  out: string;
}

function isInvalid(v: unknown): boolean {
  return !(v instanceof Iface) && kindOf(v) === "nil";
}

function fail(s: State, message: string): never {
  const before = s.source.slice(0, s.node.pos);
  const lineStart = before.lastIndexOf("\n") + 1;
  const line = before.split("\n").length;
  const col = byteLength(before.slice(lineStart));
  throw new TemplateError(
    `template: ${TEMPLATE_NAME}:${line}:${col}: executing "${TEMPLATE_NAME}" at <${
      nodeString(s.node)
    }>: ${message}`,
  );
}

function varValue(s: State, name: string): unknown {
  for (let i = s.vars.length - 1; i >= 0; i--) if (s.vars[i].name === name) return s.vars[i].value;
  fail(s, `undefined variable: ${name}`);
}

function setVar(s: State, name: string, value: unknown): void {
  for (let i = s.vars.length - 1; i >= 0; i--) {
    if (s.vars[i].name === name) {
      s.vars[i].value = value;
      return;
    }
  }
  fail(s, `undefined variable: ${name}`);
}

/** Runs `list` with `data` as dot and `$`, returning the output. */
export function execute(source: string, root: ListNode, data: unknown): string {
  const s: State = { source, node: root, vars: [{ name: "$", value: data }], out: "" };
  walk(s, data, root);
  return s.out;
}

function walk(s: State, dot: unknown, node: Statement): Signal {
  s.node = node;
  switch (node.type) {
    case "action": {
      const val = evalPipeline(s, dot, node.pipe);
      if (node.pipe.decl.length === 0) {
        s.node = node;
        s.out += isInvalid(val) ? "<no value>" : formatValue(val);
      }
      return;
    }
    case "break":
    case "continue":
      return node.type;
    case "if":
    case "with":
      return walkIfOrWith(s, dot, node);
    case "list":
      for (const n of node.nodes) {
        const signal = walk(s, dot, n);
        if (signal) return signal;
      }
      return;
    case "range":
      walkRange(s, dot, node);
      return;
    case "text":
      s.out += node.text;
      return;
  }
}

function walkIfOrWith(s: State, dot: unknown, node: BranchNode): Signal {
  const mark = s.vars.length;
  try {
    const val = evalPipeline(s, dot, node.pipe);
    if (isTrue(val)) return walk(s, node.type === "with" ? val : dot, node.list);
    if (node.elseList) return walk(s, dot, node.elseList);
  } finally {
    s.vars.length = mark;
  }
}

function walkRange(s: State, dot: unknown, r: BranchNode): void {
  s.node = r;
  const outer = s.vars.length;
  try {
    const val = unwrap(evalPipeline(s, dot, r.pipe));
    const mark = s.vars.length;
    const { decl, isAssign } = r.pipe;
    const iteration = (index: unknown, elem: unknown): boolean => {
      if (decl.length > 0) {
        if (!isAssign) s.vars[s.vars.length - 1].value = elem;
        else setVar(s, decl[0].ident[0], decl.length > 1 ? index : elem);
      }
      if (decl.length > 1) {
        if (isAssign) setVar(s, decl[1].ident[0], elem);
        else s.vars[s.vars.length - 2].value = index;
      }
      try {
        return walk(s, elem, r.list) === "break";
      } finally {
        s.vars.length = mark;
      }
    };
    let ran = false;
    switch (kindOf(val)) {
      case "int": {
        if (decl.length > 1) {
          fail(s, `can't use ${formatValue(val)} to iterate over more than one variable`);
        }
        for (let i = 0n; i < (val as bigint); i++) {
          ran = true;
          if (iteration(null, i)) break;
        }
        break;
      }
      case "list": {
        const list = val as unknown[];
        for (let i = 0; i < list.length; i++) {
          ran = true;
          if (iteration(BigInt(i), new Iface(list[i]))) break;
        }
        break;
      }
      case "map": {
        const map = val as GoMap;
        for (const key of sortedKeys(map)) {
          ran = true;
          if (iteration(key, new Iface(map[key]))) break;
        }
        break;
      }
      case "nil":
        break;
      default:
        fail(s, `range can't iterate over ${formatValue(val)}`);
    }
    if (!ran && r.elseList) walk(s, dot, r.elseList);
  } finally {
    s.vars.length = outer;
  }
}

function evalPipeline(s: State, dot: unknown, pipe: PipeNode): unknown {
  s.node = pipe;
  let value: unknown = MISSING;
  for (const cmd of pipe.cmds) value = unwrap(evalCommand(s, dot, cmd, value));
  for (const v of pipe.decl) {
    if (pipe.isAssign) setVar(s, v.ident[0], value);
    else s.vars.push({ name: v.ident[0], value });
  }
  return value;
}

function notAFunction(s: State, args: Operand[], final: unknown): void {
  if ((args && args.length > 1) || final !== MISSING) {
    fail(s, `can't give argument to non-function ${nodeString(args![0])}`);
  }
}

function evalCommand(s: State, dot: unknown, cmd: CommandNode, final: unknown): unknown {
  const first = cmd.args[0];
  switch (first.type) {
    case "field":
      return evalFieldNode(s, dot, first, cmd.args, final);
    case "chain":
      return evalChainNode(s, dot, first, cmd.args, final);
    case "identifier":
      return evalFunction(s, dot, first, cmd, cmd.args, final);
    case "pipe":
      notAFunction(s, cmd.args, final);
      return evalPipeline(s, dot, first);
    case "variable":
      return evalVariableNode(s, first, cmd.args, final);
  }
  s.node = first;
  notAFunction(s, cmd.args, final);
  switch (first.type) {
    case "bool":
      return first.value;
    case "dot":
      return dot;
    case "nil":
      return fail(s, "nil is not a command");
    case "number":
      return idealConstant(s, first);
    case "string":
      return first.text;
  }
}

function idealConstant(s: State, n: NumberNode): unknown {
  s.node = n;
  const hexInt = /^0[xX]./.test(n.text) && !/[pP]/.test(n.text);
  if (n.isFloat && !hexInt && !n.text.startsWith("'") && /[.eEpP]/.test(n.text)) return n.float;
  if (n.isInt) return n.int;
  fail(s, `${n.text} overflows int`);
}

function evalFieldNode(
  s: State,
  dot: unknown,
  field: FieldNode,
  args: Operand[],
  final: unknown,
): unknown {
  s.node = field;
  return evalFieldChain(s, dot, field.ident, args, final);
}

function evalChainNode(
  s: State,
  dot: unknown,
  chain: ChainNode,
  args: Operand[],
  final: unknown,
): unknown {
  s.node = chain;
  if (chain.node.type === "nil") {
    fail(s, `indirection through explicit nil in ${nodeString(chain)}`);
  }
  const receiver = evalArg(s, dot, "none", chain.node);
  return evalFieldChain(s, receiver, chain.field, args, final);
}

function evalVariableNode(
  s: State,
  variable: VariableNode,
  args: Operand[],
  final: unknown,
): unknown {
  s.node = variable;
  const value = varValue(s, variable.ident[0]);
  if (variable.ident.length === 1) {
    notAFunction(s, args, final);
    return value;
  }
  return evalFieldChain(s, value, variable.ident.slice(1), args, final);
}

function evalFieldChain(
  s: State,
  receiver: unknown,
  ident: string[],
  args: Operand[],
  final: unknown,
): unknown {
  for (const name of ident.slice(0, -1)) receiver = evalField(s, name, [], MISSING, receiver);
  return evalField(s, ident[ident.length - 1], args, final, receiver);
}

function evalField(
  s: State,
  name: string,
  args: Operand[],
  final: unknown,
  receiver: unknown,
): unknown {
  if (isInvalid(receiver)) fail(s, `nil data; no entry for key ${quote(name)}`);
  const typ = typeName(receiver);
  const value = unwrap(receiver);
  if (receiver instanceof Iface && kindOf(value) === "nil") {
    fail(s, `nil pointer evaluating ${typ}.${name}`);
  }
  if (kindOf(value) === "map") {
    if (args.length > 1 || final !== MISSING) {
      fail(s, `${name} is not a method but has arguments`);
    }
    const entry = mapGet(value as GoMap, name);
    if (!entry.found) fail(s, `map has no entry for key ${quote(name)}`);
    return new Iface(entry.value);
  }
  fail(s, `can't evaluate field ${name} in type ${typ}`);
}

function evalFunction(
  s: State,
  dot: unknown,
  node: IdentifierNode,
  cmd: Node,
  args: Operand[],
  final: unknown,
): unknown {
  s.node = node;
  const name = node.ident;
  const f = FUNCS[name];
  const given = args.slice(1);
  const numIn = given.length + (final === MISSING ? 0 : 1);
  let numFixed = given.length;
  if (f.variadic) {
    numFixed = f.params.length;
    if (numIn < numFixed) {
      fail(s, `wrong number of args for ${name}: want at least ${numFixed} got ${given.length}`);
    }
  } else if (numIn !== f.params.length) {
    fail(s, `wrong number of args for ${name}: want ${f.params.length} got ${numIn}`);
  }

  if ("special" in f && f.special !== "call") {
    let v: unknown = null;
    for (const arg of given) {
      v = evalArg(s, dot, "value", arg);
      if (isTrue(v) === (f.special === "or")) return v;
    }
    if (final !== MISSING) v = validateType(s, final, "value");
    return v;
  }

  const argv: unknown[] = [];
  let i = 0;
  for (; i < numFixed && i < given.length; i++) argv.push(evalArg(s, dot, f.params[i], given[i]));
  if (f.variadic) {
    for (; i < given.length; i++) {
      argv.push(evalArg(s, dot, f.variadic, given[i]));
    }
  }
  if (final !== MISSING) {
    let t = f.params[f.params.length - 1];
    if (f.variadic) t = numIn - 1 < numFixed ? f.params[numIn - 1] : f.variadic;
    argv.push(validateType(s, final, t));
  }
  try {
    if ("special" in f) {
      const callee = given.length > 0
        ? nodeString(given[0])
        : typeof final === "string"
        ? final
        : isInvalid(final)
        ? "<invalid Value>"
        : `<${typeName(final)} Value>`;
      return callFunction(callee, argv[0]);
    }
    return f.fn(argv);
  } catch (error) {
    if (!(error instanceof CallError)) throw error;
    s.node = cmd;
    fail(s, `error calling ${name}: ${error.message}`);
  }
}

function validateType(s: State, value: unknown, t: ArgType): unknown {
  if (isInvalid(value)) {
    if (t === "string") fail(s, "invalid value; expected string");
    return null;
  }
  if (t === "any") return unwrap(value);
  if (t !== "string" || typeof value === "string") return value;
  if (value instanceof Iface && !isInvalid(value.inner)) {
    if (typeof value.inner === "string") return value.inner;
    value = value.inner;
  }
  fail(s, `wrong type for value; expected string; got ${typeName(value)}`);
}

function evalArg(s: State, dot: unknown, t: ArgType, n: Operand): unknown {
  s.node = n;
  switch (n.type) {
    case "dot":
      return validateType(s, dot, t);
    case "nil":
      if (t === "string") fail(s, "cannot assign nil to string");
      return null;
    case "field":
      return validateType(s, evalFieldNode(s, dot, n, [n], MISSING), t);
    case "variable":
      return validateType(s, evalVariableNode(s, n, [], MISSING), t);
    case "pipe":
      return validateType(s, evalPipeline(s, dot, n), t);
    case "identifier":
      return validateType(s, evalFunction(s, dot, n, n, [], MISSING), t);
    case "chain":
      return validateType(s, evalChainNode(s, dot, n, [], MISSING), t);
  }
  s.node = n;
  if (t === "string") {
    if (n.type === "string") return n.text;
    fail(s, `expected string; found ${nodeString(n)}`);
  }
  switch (n.type) {
    case "bool":
      return n.value;
    case "number":
      return idealConstant(s, n);
    case "string":
      return n.text;
  }
}
