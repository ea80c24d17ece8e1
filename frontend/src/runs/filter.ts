// Filter expressions over runs, the page's copy of livepanel/runs_filter.py: the same grammar,
// operators, lookups and error messages, so an expression means the same in the runs table, in
// `panel.runs(filter=...)` and on the server. tests/runs_filter_cases.json is run by both.
// Parsed here, never evaluated as JavaScript. Pure: no DOM.
//
//   expr   := and ("or" and)*
//   and    := unary ("and" unary)*
//   unary  := "not" unary | "(" expr ")" | value OP value
//   OP     := == != < <= > >= ~      (~: the right side is a regular expression searched in the left)
//   value  := NAME | "string" | 'string' | number | true | false | null

import type { RunRow } from "../wire";

export const MAX_FILTER = 2000;
export const MAX_DEPTH = 32;
export const MAX_PATTERN = 200;
const FIELDS = new Set(["name", "env", "status", "alerts", "created", "updated", "steps"]);
const KEYWORDS = new Set(["and", "or", "not", "true", "false", "null", "None", "True", "False"]);

/** An expression that does not parse; the text says where. */
export class FilterError extends Error {}

type Value = number | string | boolean | null | object;
/** a number that was written as a float (its repr in messages is Python's: 1.0, 1e-05) */
class Float {
  constructor(readonly v: number) {}
}
type TokValue = Value | Float;
interface Token {
  kind: "num" | "str" | "op" | "paren" | "name" | "const" | "and" | "or" | "not";
  value: TokValue;
  at: number;
}
type Node =
  | { t: "or" | "and"; a: Node; b: Node }
  | { t: "not"; a: Node }
  | { t: "cmp"; op: string; left: Operand; right: Operand | { t: "regex"; re: RegExp } };
type Operand = { t: "name"; name: string } | { t: "const"; value: Value };

const MISSING = Symbol("missing");

// \w and \d as Python's re has them for text (any letter or digit, not only ASCII)
// whitespace as Python's str.isspace() has it (its re's \s and strip())
const SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const BLANK = new RegExp(`^[${SPACE}]*$`, "u");
const LEADING = new RegExp(`^[${SPACE}]+`, "u");
const TOKEN = new RegExp(
  `[${SPACE}]*(?:` +
    String.raw`(?<num>[-+]?(?:\p{Nd}+\.?\p{Nd}*|\.\p{Nd}+)(?:[eE][-+]?\p{Nd}+)?(?![\p{L}\p{N}_/.\-]))` +
    String.raw`|(?<str>"(?:[^"\\]|\\[^\n])*"|'(?:[^'\\]|\\[^\n])*')` +
    String.raw`|(?<op>==|!=|<=|>=|<|>|~)` +
    String.raw`|(?<paren>[()])` +
    String.raw`|(?<name>[A-Za-z_][\p{L}\p{N}_./\-]*))`,
  "uy",
);

/** Python's repr of a string (the quotes and escapes its messages show). */
export function pyRepr(v: TokValue): string {
  if (v instanceof Float) return floatRepr(v.v);
  if (v === null) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : floatRepr(v);
  if (typeof v !== "string") return String(v);
  const q = v.includes("'") && !v.includes('"') ? '"' : "'";
  let out = q;
  for (const ch of v) {
    const c = ch.codePointAt(0)!;
    if (ch === "\\") out += "\\\\";
    else if (ch === q) out += "\\" + q;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || c === 0x7f) out += "\\x" + c.toString(16).padStart(2, "0");
    else out += ch;
  }
  return out + q;
}

/** Python's repr of a float: positional from 1e-4 up to 1e16, else 1e-05 / 1e+16. */
function floatRepr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mant, expText] = x.toExponential().split("e");
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) return `${mant}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  const s = String(x); // positional in this range
  return s.includes(".") ? s : s + ".0";
}

function tokens(text: string): Token[] {
  const out: Token[] = [];
  let pos = 0;
  while (pos < text.length) {
    const rest = text.slice(pos);
    if (BLANK.test(rest)) break;
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(text);
    if (!m || !m.groups) {
      const start = text.length - rest.replace(LEADING, "").length;
      throw new FilterError(`cannot read ${pyRepr(text.slice(start, start + 20))} at position ${start} of the filter`);
    }
    const g = m.groups;
    const kind = (Object.keys(g) as Token["kind"][]).find((k) => g[k] !== undefined)!;
    const raw = g[kind]!;
    const at = m.index + m[0].length - raw.length;
    let value: TokValue = raw;
    let k: Token["kind"] = kind;
    if (kind === "num") {
      const n = Number(raw.replace(/\p{Nd}/gu, (d) => String(digitValue(d))));
      value = /[.eE]/.test(raw) ? new Float(n) : n;
    } else if (kind === "str") {
      value = raw.slice(1, -1).replace(/\\(["'\\])/g, "$1"); // \" \' \\; other backslashes stay (regexes)
    } else if (kind === "name" && KEYWORDS.has(raw)) {
      // as on the server, a keyword's value is None in messages ("unexpected None"), true/false their own
      k = raw === "and" || raw === "or" || raw === "not" ? raw : "const";
      value = raw === "true" || raw === "True" ? true : raw === "false" || raw === "False" ? false : null;
    }
    out.push({ kind: k, value, at });
    pos = m.index + m[0].length;
  }
  return out;
}

/** A Unicode decimal digit's value (Python's float() and int() read any of them): digits come in
 * contiguous runs of ten, from 0 to 9. */
function digitValue(d: string): number {
  const c = d.codePointAt(0)!;
  let first = c;
  while (first > 0 && /\p{Nd}/u.test(String.fromCodePoint(first - 1))) first--;
  return (c - first) % 10;
}

function plain(v: TokValue): Value {
  return v instanceof Float ? v.v : v;
}

class Parser {
  private i = 0;
  private depth = 0;
  private readonly toks: Token[];

  constructor(text: string) {
    this.toks = tokens(text);
  }

  parse(): Node {
    if (!this.toks.length) throw new FilterError("the filter is empty");
    const tree = this.expr();
    if (this.i < this.toks.length) {
      const t = this.toks[this.i];
      throw new FilterError(`unexpected ${pyRepr(t.value)} at position ${t.at} of the filter (missing 'and' or 'or'?)`);
    }
    return tree;
  }

  private peek(): Token | null {
    return this.i < this.toks.length ? this.toks[this.i] : null;
  }

  private take(what: string): Token {
    const t = this.peek();
    if (!t) throw new FilterError(`the filter ends where ${what} was expected`);
    this.i++;
    return t;
  }

  private expr(): Node {
    let node = this.conj();
    while (this.peek()?.kind === "or") {
      this.i++;
      node = { t: "or", a: node, b: this.conj() };
    }
    return node;
  }

  private conj(): Node {
    let node = this.unary();
    while (this.peek()?.kind === "and") {
      this.i++;
      node = { t: "and", a: node, b: this.unary() };
    }
    return node;
  }

  private unary(): Node {
    this.depth++;
    if (this.depth > MAX_DEPTH) throw new FilterError(`the filter nests more than ${MAX_DEPTH} deep`);
    try {
      const t = this.take("a comparison");
      if (t.kind === "not") return { t: "not", a: this.unary() };
      if (t.kind === "paren" && t.value === "(") {
        const node = this.expr();
        const closing = this.take("')'");
        if (closing.value !== ")") throw new FilterError(`expected ')' at position ${closing.at} of the filter, got ${pyRepr(closing.value)}`);
        return node;
      }
      const left = this.value(t);
      const op = this.take("an operator (== != < <= > >= ~)");
      if (op.kind !== "op") throw new FilterError(`expected an operator (== != < <= > >= ~) at position ${op.at}, got ${pyRepr(op.value)}`);
      const right = this.value(this.take(`a value after ${pyRepr(op.value)}`));
      if (op.value === "~") {
        if (right.t !== "const" || typeof right.value !== "string") throw new FilterError(`~ at position ${op.at} needs a quoted regular expression on its right`);
        return { t: "cmp", op: "~", left, right: { t: "regex", re: compileRegex(right.value) } };
      }
      return { t: "cmp", op: op.value as string, left, right };
    } finally {
      this.depth--;
    }
  }

  private value(t: Token): Operand {
    if (t.kind === "name") return { t: "name", name: t.value as string };
    if (t.kind === "num" || t.kind === "str" || t.kind === "const") return { t: "const", value: plain(t.value) };
    throw new FilterError(`expected a name or a value at position ${t.at} of the filter, got ${pyRepr(t.value)}`);
  }
}

/** A parsed expression: `matches(row)` for a run's row. */
export class Filter {
  constructor(
    readonly text: string,
    private readonly tree: Node,
  ) {}

  matches(row: RunRow): boolean {
    return evaluate(this.tree, row);
  }
}

/** Parse an expression (throws FilterError naming the fault and its position). */
export function parse(text: string): Filter {
  if (typeof text !== "string") throw new FilterError(`a filter must be a string, got ${typeof text}`);
  if (text.length > MAX_FILTER) throw new FilterError(`a filter is ${text.length} characters long; the limit is ${MAX_FILTER}`);
  return new Filter(text, new Parser(text).parse());
}

const has = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/** A name's value in a run's row (MISSING when the row has none). */
export function lookup(row: RunRow, name: string): Value | typeof MISSING {
  const r = row as unknown as Record<string, unknown>;
  if (FIELDS.has(name)) {
    if (name === "name" || name === "env") return (r.env as Value) ?? null;
    return has(r, name) ? ((r[name] as Value) ?? null) : MISSING;
  }
  const config = (row.config ?? {}) as Record<string, Value>;
  const summary = (row.summary ?? {}) as Record<string, Value>;
  const metrics = (row.metrics ?? {}) as unknown as Record<string, Record<string, Value>>;
  const stat = (m: Record<string, Value>, s: string) => (m && has(m, s) ? m[s] : MISSING);
  if (has(config, name)) return config[name];
  if (has(summary, name)) return summary[name];
  if (has(metrics, name)) return stat(metrics[name], "last");
  const dot = name.indexOf(".");
  const prefix = dot < 0 ? name : name.slice(0, dot);
  const key = dot < 0 ? "" : name.slice(dot + 1);
  if (prefix === "config") return has(config, key) ? config[key] : MISSING;
  if (prefix === "summary") return has(summary, key) ? summary[key] : MISSING;
  if (prefix === "metric" || prefix === "metrics") {
    if (has(metrics, key)) return stat(metrics[key], "last");
    const last = key.lastIndexOf(".");
    const base = last < 0 ? "" : key.slice(0, last);
    const s = last < 0 ? key : key.slice(last + 1);
    if (has(metrics, base) && ["last", "min", "max", "step"].includes(s)) return stat(metrics[base], s);
  }
  return MISSING;
}

/** Numbers (bools among them: true == 1) compare with numbers, strings with strings. */
function kindOf(v: Value): string {
  if (v === null) return "null";
  if (typeof v === "number" || typeof v === "boolean") return "number";
  return typeof v === "string" ? "string" : "other";
}

function num(v: Value): Value {
  return typeof v === "boolean" ? Number(v) : v;
}

function evaluate(node: Node, row: RunRow): boolean {
  switch (node.t) {
    case "or":
      return evaluate(node.a, row) || evaluate(node.b, row);
    case "and":
      return evaluate(node.a, row) && evaluate(node.b, row);
    case "not":
      return !evaluate(node.a, row);
  }
  const get = (o: Operand) => (o.t === "name" ? lookup(row, o.name) : o.value);
  const a0 = get(node.left);
  if (node.right.t === "regex") {
    if (typeof a0 !== "string") return false;
    node.right.re.lastIndex = 0;
    return node.right.re.test(a0);
  }
  const b0 = get(node.right);
  const a = num(a0 === MISSING ? null : a0);
  const b = num(b0 === MISSING ? null : b0);
  const ka = kindOf(a);
  const kb = kindOf(b);
  if (node.op === "==" || node.op === "!=") {
    const same = ka === kb && (ka === "other" ? JSON.stringify(a) === JSON.stringify(b) : a === b);
    return node.op === "==" ? same : !same;
  }
  if (a === null || b === null || ka !== kb || ka === "other") return false;
  const x = a as number | string;
  const y = b as number | string;
  if (typeof x === "string" && typeof y === "string") {
    const c = codePointCompare(x, y);
    return node.op === "<" ? c < 0 : node.op === "<=" ? c <= 0 : node.op === ">" ? c > 0 : c >= 0;
  }
  return node.op === "<" ? x < y : node.op === "<=" ? x <= y : node.op === ">" ? x > y : x >= y;
}

/** Python orders strings by code point (JavaScript's < by UTF-16 unit). */
function codePointCompare(a: string, b: string): number {
  if (a === b) return 0;
  const A = [...a];
  const B = [...b];
  for (let i = 0; i < Math.min(A.length, B.length); i++) {
    if (A[i] !== B[i]) return A[i].codePointAt(0)! - B[i].codePointAt(0)!;
  }
  return A.length - B.length;
}

// ---- regular expressions: the same refusals as the server, then the browser's RegExp.
// The pattern is read with Python's syntax (the server's) and written out as a JavaScript one:
// (?P<name>...) is (?<name>...), \A and \Z are the ends, {,n} is {0,n}, leading (?i) (?m) (?s) are
// flags, and \w \d \s \b . ^ $ mean what they mean in Python (Unicode classes; $ before a last \n).

type RNode =
  | { op: "LIT"; c: string }
  | { op: "IN"; neg: boolean; key: string }
  | { op: "ANY" | "AT" }
  | { op: "REPEAT"; min: number; max: number; items: RNode[] }
  | { op: "SUB"; items: RNode[] }
  | { op: "BRANCH"; alts: RNode[][] }
  | { op: "ASSERT"; items: RNode[] }
  | { op: "GROUPREF" };

const UNBOUNDED = Infinity;
const WORD = "[\\p{L}\\p{N}_]";
const LOOKBEHIND = (() => {
  try {
    return new RegExp("(?<=a)b").test("ab");
  } catch {
    return false;
  }
})();
const ESCAPES_OK = new Set("AbBdDsSwWZafnrtvxuUN0123456789".split(""));

class RegexReader {
  i = 0;
  out = "";
  flags = "";
  /** capturing groups opened so far, those closed, the named ones (a backreference must name a closed one) */
  private opened = 0;
  /** in the set being read: the classes whose complement it holds (\W, \S) */
  private complements: string[] = [];
  /** capturing groups written for possessive repeats and atomic groups */
  private extra = 0;
  private readonly closed = new Set<number>();
  private readonly names = new Map<string, number>();

  constructor(readonly p: string) {}

  fail(msg: string): never {
    throw new FilterError(`bad regular expression ${pyRepr(this.p.slice(0, MAX_PATTERN))}: ${msg}`);
  }

  parseAll(): RNode[] {
    // global flags, Python style, only at the start
    let m: RegExpMatchArray | null;
    while ((m = this.p.slice(this.i).match(/^\(\?([aiLmsux]+)\)/))) {
      for (const f of m[1]) {
        if ("ims".includes(f)) {
          if (!this.flags.includes(f)) this.flags += f;
        } else if (f !== "u") this.fail(`the flag (?${f}) is not supported in the page`);
      }
      this.i += m[0].length;
    }
    const items = this.alternation(0);
    if (this.i < this.p.length) this.fail(`unbalanced parenthesis at position ${this.i}`);
    return items;
  }

  private alternation(depth: number): RNode[] {
    const alts: RNode[][] = [this.sequence(depth)];
    while (this.p[this.i] === "|") {
      this.i++;
      this.out += "|";
      alts.push(this.sequence(depth));
    }
    if (alts.length === 1) return alts[0];
    // Python's parser moves a common prefix out of the branches and turns single characters into a set
    const items: RNode[] = [];
    for (;;) {
      if (alts.some((a) => !a.length)) break;
      const first = JSON.stringify(alts[0][0]);
      if (!alts.every((a) => JSON.stringify(a[0]) === first)) break;
      items.push(alts[0][0]);
      for (const a of alts) a.shift();
    }
    if (alts.every((a) => a.length === 1 && (a[0].op === "LIT" || (a[0].op === "IN" && !a[0].neg)))) {
      items.push({ op: "IN", neg: false, key: "set" });
      return items;
    }
    items.push({ op: "BRANCH", alts });
    return items;
  }

  private sequence(depth: number): RNode[] {
    const items: RNode[] = [];
    /** where each item's output starts, and the capturing groups written before it */
    const starts: { out: number; groups: number }[] = [];
    const p = this.p;
    while (this.i < p.length && p[this.i] !== "|" && !(p[this.i] === ")" && depth > 0)) {
      const c = p[this.i];
      if (c === ")") this.fail(`unbalanced parenthesis at position ${this.i}`);
      if ("*+?{".includes(c)) {
        const q = this.quantifier();
        if (!q) {
          // a "{" that is not a repeat is a literal, as in Python
          this.i++;
          starts.push({ out: this.out.length, groups: this.opened + this.extra });
          this.out += "\\{";
          items.push({ op: "LIT", c: "{" });
          continue;
        }
        const last = items.pop();
        if (!last || last.op === "AT") this.fail(`nothing to repeat at position ${q.at}`);
        if (last.op === "REPEAT") this.fail(`multiple repeat at position ${q.at}`);
        items.push({ op: "REPEAT", min: q.min, max: q.max, items: [last] });
        if (q.possessive) {
          // X*+ as JavaScript can have it: (?=(X*))\n takes what X* takes and never gives any back
          const start = starts[starts.length - 1];
          const n = start.groups + 1;
          this.out = `${this.out.slice(0, start.out)}(?=(${this.out.slice(start.out)}))(?:\\${n})`;
          this.extra++;
        }
        continue;
      }
      const start = { out: this.out.length, groups: this.opened + this.extra };
      const atom = this.atom(depth);
      if (atom) {
        items.push(atom);
        starts.push(start);
      }
    }
    return items;
  }

  /** a quantifier at i (written out), or null when "{" is not one */
  private quantifier(): { min: number; max: number; at: number; possessive: boolean } | null {
    const p = this.p;
    const at = this.i;
    let min = 0;
    let max = UNBOUNDED;
    if (p[at] === "{") {
      const m = p.slice(at).match(/^\{(\d*)(,?)(\d*)\}/);
      if (!m || (!m[1] && !m[2])) return null;
      min = m[1] ? Number(m[1]) : 0;
      max = m[2] ? (m[3] ? Number(m[3]) : UNBOUNDED) : min;
      if (max < min) this.fail(`min repeat greater than max repeat at position ${at + 1}`);
      this.i += m[0].length;
      this.out += `{${min}${m[2] ? "," + (m[3] ?? "") : ""}}`;
    } else {
      this.i++;
      this.out += p[at];
      if (p[at] === "+") min = 1;
      if (p[at] === "?") max = 1;
    }
    let possessive = false;
    if (p[this.i] === "?") {
      this.i++;
      this.out += "?";
    } else if (p[this.i] === "+") {
      this.i++;
      possessive = true;
    }
    return { min, max, at, possessive };
  }

  private atom(depth: number): RNode | null {
    const p = this.p;
    const c = p[this.i];
    if (c === "(") return this.group(depth);
    if (c === "[") return this.charClass();
    if (c === ".") {
      this.i++;
      this.out += this.flags.includes("s") ? "[\\s\\S]" : "[^\\n]"; // Python's . stops only at \n
      return { op: "ANY" };
    }
    if (c === "^" || c === "$") {
      this.i++;
      // Python's $ also matches before a last \n; with (?m), ^ and $ are at \n only (not \r, \u2028)
      const multi = this.flags.includes("m");
      // (the pattern never has JavaScript's m flag: ^ and $ alone are the text's ends)
      if (c === "^") this.out += multi ? "(?:^|(?<=\\n))" : "^";
      else this.out += multi ? "(?=\\n|$)" : "(?=\\n?$)";
      return { op: "AT" };
    }
    if (c === "\\") return this.escape(false);
    this.i++;
    this.out += c === "/" ? "\\/" : c === "]" || c === "}" ? "\\" + c : c;
    return { op: "LIT", c };
  }

  private escape(inClass: boolean): RNode {
    const p = this.p;
    const at = this.i;
    const e = p[at + 1];
    if (e === undefined) this.fail(`bad escape (end of pattern) at position ${at}`);
    this.i += 2;
    if (/[A-Za-z0-9]/.test(e)) {
      if (!ESCAPES_OK.has(e)) this.fail(`bad escape \\${e} at position ${at}`);
      if (/[1-9]/.test(e) && !inClass) {
        // as Python reads it: three octal digits are a character, else a group's number
        let digits = e;
        if (/[0-9]/.test(p[this.i] ?? "")) digits += p[this.i++];
        if (digits.length === 2 && /^[0-7]{2}$/.test(digits) && /[0-7]/.test(p[this.i] ?? "")) {
          const code = parseInt(digits + p[this.i++], 8);
          if (code > 0o377) this.fail(`octal escape value \\${code.toString(8)} outside of range 0-0o377 at position ${at}`);
          this.out += "\\x" + code.toString(16).padStart(2, "0");
          return { op: "LIT", c: String.fromCharCode(code) };
        }
        const group = Number(digits);
        if (group > this.opened) this.fail(`invalid group reference ${group} at position ${at + 1}`);
        if (!this.closed.has(group)) this.fail(`cannot refer to an open group at position ${at}`);
        return { op: "GROUPREF" };
      }
      if (e === "A" || e === "Z") {
        if (inClass) this.fail(`bad escape \\${e} at position ${at}`);
        this.out += e === "A" ? "^" : "$";
        return { op: "AT" };
      }
      if (e === "b" || e === "B") {
        if (inClass) {
          if (e === "B") this.fail(`bad escape \\${e} at position ${at}`);
          this.out += "\\x08";
          return { op: "LIT", c: "\b" };
        }
        // a word boundary by Python's (Unicode) word characters
        // (a browser without lookbehind, Safari before 16.4, gets JavaScript's ASCII \b)
        if (!LOOKBEHIND) this.out += "\\" + e;
        else this.out += e === "b" ? `(?:(?<=${WORD})(?!${WORD})|(?<!${WORD})(?=${WORD}))` : `(?:(?<=${WORD})(?=${WORD})|(?<!${WORD})(?!${WORD})(?:(?<=[\\s\\S])|(?=[\\s\\S])))`;
        return { op: "AT" };
      }
      if (e === "x" || e === "u" || e === "U") {
        const n = e === "x" ? 2 : e === "u" ? 4 : 8;
        const hex = p.slice(this.i, this.i + n);
        if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) this.fail(`incomplete escape \\${e}${hex} at position ${at}`);
        this.i += n;
        const cp = parseInt(hex, 16);
        if (cp > 0x10ffff) this.fail(`bad escape \\${e}${hex} at position ${at}`);
        const ch = String.fromCodePoint(cp);
        for (let k = 0; k < ch.length; k++) this.out += "\\u" + ch.charCodeAt(k).toString(16).padStart(4, "0");
        return { op: "LIT", c: ch };
      }
      if (e === "N") this.fail(`\\N{...} is not supported in the page (position ${at})`);
      if (e === "0") {
        let oct = "";
        while (oct.length < 2 && /[0-7]/.test(p[this.i] ?? "")) oct += p[this.i++];
        this.out += "\\x" + parseInt(oct || "0", 8).toString(16).padStart(2, "0");
        return { op: "LIT", c: String.fromCharCode(parseInt(oct || "0", 8)) };
      }
      if (inClass && /[1-7]/.test(e)) {
        // in a set, Python reads up to three octal digits as a character
        let oct = e;
        while (oct.length < 3 && /[0-7]/.test(p[this.i] ?? "")) oct += p[this.i++];
        const code = parseInt(oct, 8);
        if (code > 0o377) this.fail(`octal escape value \\${oct} outside of range 0-0o377 at position ${at}`);
        this.out += "\\x" + code.toString(16).padStart(2, "0");
        return { op: "LIT", c: String.fromCharCode(code) };
      }
      if (inClass && /[89]/.test(e)) this.fail(`bad escape \\${e} at position ${at}`);
      if ("dDsSwW".includes(e)) {
        // Python's classes are Unicode ones: \w any letter or digit, \d any decimal digit, \s its whitespace
        const inside = { d: "\\p{Nd}", D: "\\P{Nd}", w: "\\p{L}\\p{N}_", s: SPACE, W: "", S: "" }[e]!;
        if (inClass && !inside) {
          // \W or \S in a set: the set is written again at its end (JavaScript sets cannot hold a negated class)
          if (p[this.i] === "-" && p[this.i + 1] !== "]") this.fail(`bad character range \\${e}-${p[this.i + 1] ?? ""} at position ${at}`);
          this.complements.push(e === "W" ? "\\p{L}\\p{N}_" : SPACE);
          return { op: "IN", neg: false, key: e };
        }
        this.out += inClass ? inside : e === "w" ? WORD : e === "W" ? `[^\\p{L}\\p{N}_]` : e === "s" ? `[${SPACE}]` : e === "S" ? `[^${SPACE}]` : inside;
        return { op: "IN", neg: false, key: e };
      }
      this.out += "\\" + e; // \a \f \n \r \t \v
      return { op: "LIT", c: e };
    }
    // any other character stands for itself
    this.out += /[\^$\\.*+?()[\]{}|/]/.test(e) || (inClass && e === "-") ? "\\" + e : e;
    return { op: "LIT", c: e };
  }

  private charClass(): RNode {
    const p = this.p;
    const start = this.i;
    this.i++;
    const outStart = this.out.length;
    this.complements = [];
    this.out += "[";
    let neg = false;
    if (p[this.i] === "^") {
      neg = true;
      this.i++;
      this.out += "^";
    }
    let first = true;
    for (;;) {
      if (this.i >= p.length) this.fail(`unterminated character set at position ${start}`);
      const c = p[this.i];
      if (c === "]" && !first) break;
      first = false;
      if (c === "\\") this.escape(true);
      else {
        this.i++;
        this.out += c === "]" || c === "[" || c === "/" ? "\\" + c : c;
      }
    }
    this.i++;
    this.out += "]";
    if (this.complements.length) {
      // [a\S] is [a] or not-space; [^a\S] is neither a nor not-space
      const members = this.out.slice(outStart + (neg ? 2 : 1), -1);
      const others = this.complements;
      this.out =
        this.out.slice(0, outStart) +
        (neg ? `(?:(?![${members}])${others.map((c) => `(?=[${c}])`).join("")}[\\s\\S])` : `(?:[${members}]|${others.map((c) => `[^${c}]`).join("|")})`);
      this.complements = [];
    }
    return { op: "IN", neg, key: p.slice(start, this.i) };
  }

  private group(depth: number): RNode | null {
    const p = this.p;
    const at = this.i;
    const rest = p.slice(at);
    let kind: "SUB" | "ASSERT" = "SUB";
    let m: RegExpMatchArray | null;
    let group = 0;
    let atomic = 0;
    if ((m = rest.match(/^\(\?P<([A-Za-z_]\w*)>/))) {
      if (this.names.has(m[1])) this.fail(`redefinition of group name ${pyRepr(m[1])} at position ${at + 4}`);
      this.out += `(?<${m[1]}>`;
      group = ++this.opened;
      this.names.set(m[1], group);
    } else if ((m = rest.match(/^\(\?P=([A-Za-z_]\w*)\)/))) {
      const ref = this.names.get(m[1]);
      if (ref === undefined) this.fail(`unknown group name ${pyRepr(m[1])} at position ${at + 4}`);
      if (!this.closed.has(ref)) this.fail(`cannot refer to an open group at position ${at}`);
      this.i += m[0].length;
      return { op: "GROUPREF" };
    } else if (rest.startsWith("(?P=") || rest.startsWith("(?(")) {
      // a named backreference or a conditional: refused below, skipped here (to its closing parenthesis)
      let open = 0;
      for (let k = at; k < p.length; k++) {
        if (p[k] === "\\") k++;
        else if (p[k] === "(") open++;
        else if (p[k] === ")" && --open === 0) {
          this.i = k + 1;
          return { op: "GROUPREF" };
        }
      }
      this.fail(`missing ), unterminated subpattern at position ${at}`);
    } else if ((m = rest.match(/^\(\?>/))) {
      // an atomic group as JavaScript can have it: (?=(...))\n
      atomic = this.opened + this.extra + 1;
      this.extra++;
      this.out += "(?=(";
    } else if ((m = rest.match(/^\(\?(:|=|!|<=|<!)/))) {
      if (m[1] !== ":") kind = "ASSERT";
      this.out += (kind === "ASSERT" ? "(?:" : "") + m[0]; // a lookaround in a group: it may be repeated
    } else if ((m = rest.match(/^\(\?#[^)]*\)/))) {
      this.i += m[0].length; // a comment
      return null;
    } else if (/^\(\?[aiLmsux-]+:/.test(rest)) {
      this.fail(`scoped flags ${rest.slice(0, rest.indexOf(":") + 1)}...) are not supported in the page (position ${at})`);
    } else if (rest.startsWith("(?")) {
      this.fail(`unknown extension ${rest.slice(0, 3)} at position ${at}`);
    } else {
      m = ["("] as unknown as RegExpMatchArray;
      this.out += "(";
      group = ++this.opened;
    }
    this.i += m[0].length;
    const items = this.alternation(depth + 1);
    if (p[this.i] !== ")") this.fail(`missing ), unterminated subpattern at position ${at}`);
    this.i++;
    this.out += kind === "ASSERT" ? "))" : atomic ? `))(?:\\${atomic})` : ")";
    if (group) this.closed.add(group);
    return kind === "ASSERT" ? { op: "ASSERT", items } : { op: "SUB", items };
  }
}

function* walk(items: RNode[], repeated: boolean): Generator<[RNode, boolean]> {
  for (const n of items) {
    yield [n, repeated];
    if (n.op === "REPEAT") yield* walk(n.items, true);
    else if (n.op === "SUB" || n.op === "ASSERT") yield* walk(n.items, repeated);
    else if (n.op === "BRANCH") for (const b of n.alts) yield* walk(b, repeated);
  }
}

/** A regular expression that cannot take exponential time, refused as the server refuses it: a repeat
 * of something that itself repeats or branches, a backreference, more than two unbounded repeats. */
export function compileRegex(pattern: string): RegExp {
  if (pattern.length > MAX_PATTERN) throw new FilterError(`a regular expression in a filter is at most ${MAX_PATTERN} characters long`);
  const reader = new RegexReader(pattern);
  const tree = reader.parseAll();
  let unbounded = 0;
  for (const [n, repeated] of walk(tree, false)) {
    if (n.op === "GROUPREF") throw new FilterError(`regular expression ${pyRepr(pattern)}: backreferences are not supported in filters`);
    if (n.op === "REPEAT") {
      if (repeated) throw new FilterError(`regular expression ${pyRepr(pattern)}: a repeat inside a repeat can take forever`);
      if (n.max === UNBOUNDED) unbounded++;
    }
    if (n.op === "BRANCH" && repeated) throw new FilterError(`regular expression ${pyRepr(pattern)}: alternatives inside a repeat can take forever`);
  }
  if (unbounded > 2) throw new FilterError(`regular expression ${pyRepr(pattern)}: at most two unbounded repeats (*, +, {n,})`);
  try {
    return new RegExp(reader.out, (reader.flags.includes("i") ? "i" : "") + "u");
  } catch (exc) {
    return reader.fail((exc as Error).message.replace(/^Invalid regular expression: /, ""));
  }
}
