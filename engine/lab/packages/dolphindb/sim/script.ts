// A small DolphinDB script interpreter: enough of the language for the
// document's administration scripts. Statements are separated by `;` or line
// breaks (not inside brackets or braces); it knows string, number, date and
// `symbol literals, vectors `[…]`, ranges `a..b`, pairs `a:b`, variables,
// `x = expr`, function calls (named arguments allowed, `obj.f(…)` is
// `f(obj, …)`), `!`, comparisons, `&&`/`||`, `if (…) {…} else {…}` and
// `use module`. Anything else is a syntax error, as in DolphinDB.
//
// Values print as the DolphinDB console prints them: scalars as their text,
// vectors as `["a","b"]`, tables as a header, a line of dashes per column and
// one line per row, columns left-aligned and one space apart.

export interface Table {
  kind: 'table';
  columns: string[];
  rows: Array<Array<string | number | boolean | null>>;
}
export interface DateValue {
  kind: 'date';
  text: string;
}
export interface Opaque {
  kind: 'range' | 'pair' | 'const' | 'handle';
  text: string;
  parts?: Value[];
}
export type Value = null | boolean | number | string | Value[] | Table | DateValue | Opaque;

export class ScriptError extends Error {}

export interface Session {
  user: string | undefined;
  modules: Set<string>;
  vars: Map<string, Value>;
}

export type Fn = (args: Value[], session: Session) => Promise<Value>;

export interface Outcome {
  /** What the console printed, statement by statement. */
  output: string[];
  /** `<statement> => <message>` for the statement that failed (the script stops there). */
  error?: string;
}

type Tok = { t: 'str' | 'sym' | 'num' | 'date' | 'id' | 'op' | 'nl' | 'eof'; v: string; at: number; end: number };

const CONSTANTS = new Set(['VALUE', 'RANGE', 'HASH', 'LIST', 'COMPO', 'SYMBOL', 'STRING', 'DATETIME', 'DATE', 'TIMESTAMP', 'DOUBLE', 'FLOAT', 'INT', 'LONG', 'BOOL', 'CHAR', 'SHORT', 'TSDB', 'OLAP']);

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const ch = src[i]!;
    const rest = src.slice(i);
    if (ch === '\n') {
      out.push({ t: 'nl', v: '\n', at: i, end: i + 1 });
      i++;
      continue;
    }
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (rest.startsWith('//')) {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (rest.startsWith('/*')) {
      const end = src.indexOf('*/', i + 2);
      i = end < 0 ? src.length : end + 2;
      continue;
    }
    if (ch === '"' || ch === "'") {
      let j = i + 1;
      let v = '';
      for (; j < src.length && src[j] !== ch; j++) {
        if (src[j] === '\\' && j + 1 < src.length) {
          const e = src[++j]!;
          v += e === 'n' ? '\n' : e === 't' ? '\t' : e;
        } else v += src[j];
      }
      if (j >= src.length) throw new ScriptError('The string is not closed');
      out.push({ t: 'str', v, at: i, end: j + 1 });
      i = j + 1;
      continue;
    }
    let m: RegExpExecArray | null;
    if ((m = /^`([A-Za-z0-9_.:/\-]*)/.exec(rest))) {
      out.push({ t: 'sym', v: m[1]!, at: i, end: i + m[0].length });
      i += m[0].length;
      continue;
    }
    if ((m = /^\d{4}\.\d{2}\.\d{2}(?:T\d{2}:\d{2}:\d{2}(?:\.\d+)?)?/.exec(rest))) {
      out.push({ t: 'date', v: m[0], at: i, end: i + m[0].length });
      i += m[0].length;
      continue;
    }
    if ((m = /^\d+(?:\.\d+(?!\.))?/.exec(rest))) {
      out.push({ t: 'num', v: m[0], at: i, end: i + m[0].length });
      i += m[0].length;
      continue;
    }
    if ((m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest))) {
      out.push({ t: 'id', v: m[0], at: i, end: i + m[0].length });
      i += m[0].length;
      continue;
    }
    if ((m = /^(?:\.\.|==|!=|<=|>=|&&|\|\||[()[\]{},=;.!:<>+\-*/])/.exec(rest))) {
      out.push({ t: 'op', v: m[0], at: i, end: i + m[0].length });
      i += m[0].length;
      continue;
    }
    throw new ScriptError(`Cannot recognize the token ${ch}`);
  }
  out.push({ t: 'eof', v: '', at: src.length, end: src.length });
  return out;
}

type Expr =
  | { k: 'lit'; v: Value }
  | { k: 'var'; name: string }
  | { k: 'vec'; items: Expr[] }
  | { k: 'call'; name: string; args: Expr[] }
  | { k: 'un'; op: string; e: Expr }
  | { k: 'bin'; op: string; a: Expr; b: Expr };

type Stmt =
  | { k: 'expr'; e: Expr; text: string }
  | { k: 'assign'; name: string; e: Expr; text: string }
  | { k: 'use'; module: string; text: string }
  | { k: 'if'; cond: Expr; then: Stmt[]; else: Stmt[]; text: string };

class Parser {
  private p = 0;
  private depth = 0;
  constructor(
    private readonly src: string,
    private readonly toks: Tok[],
  ) {}

  private peek(skipNl = this.depth > 0): Tok {
    let q = this.p;
    if (skipNl) while (this.toks[q]!.t === 'nl') q++;
    return this.toks[q]!;
  }
  private next(skipNl = this.depth > 0): Tok {
    if (skipNl) while (this.toks[this.p]!.t === 'nl') this.p++;
    return this.toks[this.p++]!;
  }
  private isOp(v: string, skipNl = this.depth > 0): boolean {
    const t = this.peek(skipNl);
    return t.t === 'op' && t.v === v;
  }
  private expect(v: string): void {
    const t = this.next();
    if (t.t !== 'op' || t.v !== v) throw new ScriptError(`Syntax error: expected ${v} but got ${t.t === 'eof' ? 'the end of the script' : JSON.stringify(t.v)}`);
  }
  private nested<T>(fn: () => T): T {
    this.depth++;
    try {
      return fn();
    } finally {
      this.depth--;
    }
  }

  statements(untilBrace: boolean): Stmt[] {
    const out: Stmt[] = [];
    for (;;) {
      while (this.peek(false).t === 'nl' || (this.peek(false).t === 'op' && this.peek(false).v === ';')) this.p++;
      const t = this.peek(false);
      if (t.t === 'eof') {
        if (untilBrace) throw new ScriptError('Syntax error: a { block is not closed');
        return out;
      }
      if (untilBrace && t.t === 'op' && t.v === '}') return out;
      out.push(this.statement());
    }
  }

  private statement(): Stmt {
    const start = this.peek(false).at;
    const t = this.peek(false);
    const text = (): string => this.src.slice(start, this.toks[this.p - 1]!.end).trim();
    if (t.t === 'id' && t.v === 'use') {
      this.next(false);
      const m = this.next(false);
      if (m.t !== 'id') throw new ScriptError('Syntax error: use needs a module name');
      return { k: 'use', module: m.v, text: text() };
    }
    if (t.t === 'id' && t.v === 'if') {
      this.next(false);
      this.expect('(');
      const cond = this.nested(() => this.expr());
      this.expect(')');
      const then = this.block();
      let els: Stmt[] = [];
      const save = this.p;
      const e = this.peek(true);
      if (e.t === 'id' && e.v === 'else') {
        this.next(true);
        els = this.block();
      } else this.p = save;
      return { k: 'if', cond, then, else: els, text: text() };
    }
    if (t.t === 'id' && ['def', 'for', 'do', 'while', 'try'].includes(t.v)) throw new ScriptError(`The simulated DolphinDB does not run ${t.v} statements`);
    if (t.t === 'id' && this.toks[this.p + 1]?.t === 'op' && this.toks[this.p + 1]!.v === '=') {
      this.p += 2;
      const e = this.expr();
      return { k: 'assign', name: t.v, e, text: text() };
    }
    const e = this.expr();
    const after = this.peek(false);
    if (!(after.t === 'nl' || after.t === 'eof' || (after.t === 'op' && (after.v === ';' || after.v === '}')))) {
      throw new ScriptError(`Syntax error near ${JSON.stringify(after.v)}`);
    }
    return { k: 'expr', e, text: text() };
  }

  private block(): Stmt[] {
    if (this.isOp('{', true)) {
      this.next(true);
      const body = this.statements(true);
      this.expect('}');
      return body;
    }
    while (this.peek(false).t === 'nl') this.p++;
    return [this.statement()];
  }

  private expr(): Expr {
    return this.binary(0);
  }

  private static readonly LEVELS: string[][] = [['||', 'or'], ['&&', 'and'], ['==', '!=', '<', '>', '<=', '>='], [':', '..'], ['+', '-'], ['*', '/']];

  private binary(level: number): Expr {
    if (level >= Parser.LEVELS.length) return this.unary();
    let a = this.binary(level + 1);
    for (;;) {
      const t = this.peek();
      const ops = Parser.LEVELS[level]!;
      if (!((t.t === 'op' || t.t === 'id') && ops.includes(t.v))) return a;
      this.next();
      const b = this.binary(level + 1);
      a = { k: 'bin', op: t.v, a, b };
    }
  }

  private unary(): Expr {
    if (this.isOp('!') || this.isOp('-')) {
      const op = this.next().v;
      return { k: 'un', op, e: this.unary() };
    }
    let e = this.primary();
    while (this.isOp('.', false)) {
      this.next(false);
      const name = this.next();
      if (name.t !== 'id') throw new ScriptError('Syntax error after .');
      const args = this.isOp('(', false) ? this.args() : [];
      e = { k: 'call', name: name.v, args: [e, ...args] };
    }
    return e;
  }

  private args(): Expr[] {
    this.expect('(');
    return this.nested(() => {
      const out: Expr[] = [];
      if (this.isOp(')')) {
        this.next();
        return out;
      }
      for (;;) {
        // Named arguments (table=x) count by position here.
        if (this.peek().t === 'id' && this.toks[this.p + 1]?.t === 'op' && this.toks[this.p + 1]!.v === '=') this.p += 2;
        out.push(this.expr());
        if (this.isOp(')')) {
          this.next();
          return out;
        }
        this.expect(',');
      }
    });
  }

  private primary(): Expr {
    const t = this.next();
    switch (t.t) {
      case 'str':
        return { k: 'lit', v: t.v };
      case 'num':
        return { k: 'lit', v: Number(t.v) };
      case 'date':
        return { k: 'lit', v: { kind: 'date', text: t.v } };
      case 'sym': {
        const items: Value[] = [t.v];
        while (this.peek(false).t === 'sym' && this.peek(false).at === this.toks[this.p - 1]!.end) items.push(this.next(false).v);
        return { k: 'lit', v: items.length === 1 ? items[0]! : items };
      }
      case 'id':
        if (this.isOp('(', false)) return { k: 'call', name: t.v, args: this.args() };
        return { k: 'var', name: t.v };
      case 'op':
        if (t.v === '(') {
          const e = this.nested(() => this.expr());
          this.expect(')');
          return e;
        }
        if (t.v === '[') {
          return this.nested(() => {
            const items: Expr[] = [];
            if (this.isOp(']')) {
              this.next();
              return { k: 'vec', items };
            }
            for (;;) {
              items.push(this.expr());
              if (this.isOp(']')) {
                this.next();
                return { k: 'vec', items };
              }
              this.expect(',');
            }
          });
        }
        throw new ScriptError(`Syntax error near ${JSON.stringify(t.v)}`);
      case 'nl':
      case 'eof':
        throw new ScriptError('Syntax error: the statement is incomplete');
    }
  }
}

export function parseScript(src: string): Stmt[] {
  return new Parser(src, tokenize(src)).statements(false);
}

function truthy(v: Value): boolean {
  return v !== null && v !== false && v !== 0 && v !== '';
}

/** Text of a scalar as the console prints it. */
export function scalarText(v: Value): string {
  if (v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map((x) => (typeof x === 'string' ? JSON.stringify(x) : scalarText(x))).join(',')}]`;
  if (v.kind === 'table') return `table(${v.columns.length} columns, ${v.rows.length} rows)`;
  return v.text;
}

export function formatValue(v: Value): string | undefined {
  if (v === null) return undefined;
  if (typeof v === 'object' && !Array.isArray(v) && v.kind === 'table') return formatTable(v);
  return scalarText(v);
}

export function formatTable(t: Table): string {
  const cells = t.rows.map((r) => t.columns.map((_, i) => scalarText(r[i] ?? null)));
  const widths = t.columns.map((c, i) => Math.max(c.length, 1, ...cells.map((r) => r[i]!.length)));
  const line = (parts: string[]): string => parts.map((p, i) => p.padEnd(widths[i]!)).join(' ').trimEnd();
  return [line(t.columns), widths.map((w) => '-'.repeat(w)).join(' '), ...cells.map(line)].join('\n');
}

function equal(a: Value, b: Value): boolean {
  return scalarText(a) === scalarText(b);
}

export class Interpreter {
  constructor(private readonly fns: Record<string, Fn>) {}

  private async eval(e: Expr, s: Session): Promise<Value> {
    switch (e.k) {
      case 'lit':
        return e.v;
      case 'var': {
        if (s.vars.has(e.name)) return s.vars.get(e.name)!;
        if (e.name === 'true' || e.name === 'false') return e.name === 'true';
        if (e.name === 'NULL') return null;
        if (CONSTANTS.has(e.name)) return { kind: 'const', text: e.name };
        throw new ScriptError(`Cannot recognize the token ${e.name}`);
      }
      case 'vec': {
        const out: Value[] = [];
        for (const x of e.items) out.push(await this.eval(x, s));
        return out;
      }
      case 'un': {
        const v = await this.eval(e.e, s);
        if (e.op === '!') return !truthy(v);
        if (typeof v !== 'number') throw new ScriptError('The operand of - must be a number');
        return -v;
      }
      case 'bin': {
        const a = await this.eval(e.a, s);
        if (e.op === '&&' || e.op === 'and') return truthy(a) && truthy(await this.eval(e.b, s));
        if (e.op === '||' || e.op === 'or') return truthy(a) || truthy(await this.eval(e.b, s));
        const b = await this.eval(e.b, s);
        switch (e.op) {
          case '==':
            return equal(a, b);
          case '!=':
            return !equal(a, b);
          case '..':
            return { kind: 'range', text: `${scalarText(a)}..${scalarText(b)}`, parts: [a, b] };
          case ':':
            return { kind: 'pair', text: `${scalarText(a)}:${scalarText(b)}`, parts: [a, b] };
        }
        if (typeof a === 'number' && typeof b === 'number') {
          switch (e.op) {
            case '<':
              return a < b;
            case '>':
              return a > b;
            case '<=':
              return a <= b;
            case '>=':
              return a >= b;
            case '+':
              return a + b;
            case '-':
              return a - b;
            case '*':
              return a * b;
            case '/':
              return a / b;
          }
        }
        if (e.op === '+' && typeof a === 'string' && typeof b === 'string') return a + b;
        throw new ScriptError(`The simulated DolphinDB cannot apply ${e.op} to these operands`);
      }
      case 'call': {
        const fn = Object.hasOwn(this.fns, e.name) ? this.fns[e.name] : undefined;
        if (fn === undefined) throw new ScriptError(`Cannot recognize the token ${e.name}`);
        const args: Value[] = [];
        for (const x of e.args) args.push(await this.eval(x, s));
        return fn(args, s);
      }
    }
  }

  private async exec(stmts: Stmt[], s: Session, out: string[]): Promise<void> {
    for (const st of stmts) {
      try {
        switch (st.k) {
          case 'use':
            if (st.module !== 'ops') throw new ScriptError(`Can't find module [${st.module}]`);
            s.modules.add(st.module);
            break;
          case 'assign':
            s.vars.set(st.name, await this.eval(st.e, s));
            break;
          case 'if':
            await this.exec(truthy(await this.eval(st.cond, s)) ? st.then : st.else, s, out);
            break;
          case 'expr': {
            const text = formatValue(await this.eval(st.e, s));
            if (text !== undefined) out.push(text);
            break;
          }
        }
      } catch (e) {
        if (e instanceof Failed) throw e;
        throw new Failed(`${shown(st.text)} => ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  async run(script: string, s: Session): Promise<Outcome> {
    const output: string[] = [];
    let stmts: Stmt[];
    try {
      stmts = parseScript(script);
    } catch (e) {
      return { output, error: e instanceof Error ? e.message : String(e) };
    }
    try {
      await this.exec(stmts, s, output);
      return { output };
    } catch (e) {
      return { output, error: e instanceof Error ? e.message : String(e) };
    }
  }
}

class Failed extends Error {}

/** A statement as errors show it: one line, and never a login's password. */
function shown(text: string): string {
  const one = text.replace(/\s+/g, ' ');
  return /^login\s*\(/.test(one) ? 'login(...)' : one.length > 200 ? `${one.slice(0, 197)}...` : one;
}
