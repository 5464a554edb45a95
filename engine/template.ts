// Handlebars templating for task arguments and template files. Strict: an
// undefined variable is an error that names the variable and where it is used,
// never an empty string. No HTML escaping: we render configs, not pages.

import Handlebars from 'handlebars';
import { InputError, type SourceLocation } from './errors.js';
import { Secret } from './secret.js';
import { registerTemplateHelpers } from './template-helpers.js';
import { quote } from './quote.js';

const hb = Handlebars.create();
registerTemplateHelpers(hb);

const compiled = new Map<string, Handlebars.TemplateDelegate>();
const compiledShell = new Map<string, Handlebars.TemplateDelegate>();

/** Thrown by the quote helper for an undefined value; renderShell names the variable. */
class UndefinedInShell extends Error {}

/** One shell word per value; a list becomes several words. */
function shellWords(value: unknown): string {
  if (value === undefined) throw new UndefinedInShell();
  if (Array.isArray(value)) return value.map((v) => shellWords(v)).join(' ');
  if (value === null) return "''";
  if (value instanceof Secret) return quote(String(value));
  return quote(typeof value === 'object' ? JSON.stringify(value) : String(value));
}

hb.registerHelper('quote', (...args: unknown[]) => shellWords(args.length > 1 ? args[0] : undefined));

/** A template whose whole text is one variable reference yields that variable's own value (list, number, secret). */
const SINGLE_REF = /^\{\{\s*([A-Za-z_@][\w@-]*(?:\.(?:[A-Za-z_][\w-]*|\d+))*)\s*\}\}$/;

export interface RenderContext {
  /** Where the template text came from, for error messages. */
  source?: string | undefined;
  location?: SourceLocation | undefined;
  revealSecrets?: boolean | undefined;
}

export class TemplateError extends InputError {}

export function hasTemplate(text: string): boolean {
  return text.includes('{{');
}

/** Render one string. Returns the native value when the string is a single `{{ var }}`. */
export function renderValue(text: string, vars: Record<string, unknown>, ctx: RenderContext = {}): unknown {
  if (!hasTemplate(text)) return text;
  const single = SINGLE_REF.exec(text);
  if (single) {
    const value = lookupPath(vars, single[1]!);
    if (value === undefined) throw undefinedVariable(single[1]!, ctx);
    return ctx.revealSecrets && value instanceof Secret ? value.reveal() : value;
  }
  return renderString(text, vars, ctx);
}

/** Render a string to a string. */
export function renderString(text: string, vars: Record<string, unknown>, ctx: RenderContext = {}): string {
  if (!hasTemplate(text)) return text;
  let fn = compiled.get(text);
  if (!fn) {
    try {
      // Parse first so syntax errors surface here, with a position.
      hb.parse(text);
    } catch (err) {
      throw syntaxError(err, ctx);
    }
    fn = hb.compile(text, { strict: true, noEscape: true });
    compiled.set(text, fn);
  }
  const data = ctx.revealSecrets ? revealAll(vars) : vars;
  try {
    return fn(data);
  } catch (err) {
    const m = /^"([^"]+)" not defined in .* - (\d+):(\d+)/.exec((err as Error).message);
    if (m) throw undefinedVariable(missingPath(text, vars) ?? m[1]!, ctx, text, Number(m[2]), Number(m[3]));
    // Strict mode checks only the last part of a path; a missing middle part is a TypeError.
    const missing = err instanceof TypeError ? missingPath(text, vars) : undefined;
    if (missing) throw undefinedVariable(missing, ctx);
    throw syntaxError(err, ctx);
  }
}

/** The first dotted path in a template that does not resolve, as far as it resolves plus one part. */
function missingPath(text: string, vars: Record<string, unknown>): string | undefined {
  let found: string | undefined;
  const visit = (node: unknown, depth: number): void => {
    if (found || !node || typeof node !== 'object') return;
    const n = node as { type?: string; [k: string]: unknown };
    if (n.type === 'PathExpression' && depth === 0) {
      const p = n as unknown as { data: boolean; parts: string[]; original: string };
      if (p.data || p.original === 'this' || hb.helpers[p.original]) return;
      let cur: unknown = vars;
      for (let i = 0; i < p.parts.length; i++) {
        const part = p.parts[i]!;
        if (cur === null || cur === undefined || typeof cur !== 'object' || !(part in (cur as object))) {
          found = p.parts.slice(0, i + 1).join('.');
          return;
        }
        cur = (cur as Record<string, unknown>)[part];
      }
      return;
    }
    const isBlock = n.type === 'BlockStatement';
    for (const [key, child] of Object.entries(n)) {
      if (key === 'loc') continue;
      const d = isBlock && (key === 'program' || key === 'inverse') ? depth + 1 : depth;
      if (Array.isArray(child)) child.forEach((c) => visit(c, d));
      else if (child && typeof child === 'object') visit(child, d);
    }
  };
  try {
    visit(hb.parse(text), 0);
  } catch {
    return undefined;
  }
  return found;
}

/**
 * Render shell code (run's cmd): every {{ value }} becomes POSIX-quoted shell
 * words, so a value with `;`, `$(…)`, quotes or spaces stays one literal
 * argument. {{{ value }}} inserts trusted shell text as it is.
 */
export function renderShell(text: string, vars: Record<string, unknown>, ctx: RenderContext = {}): string {
  if (!hasTemplate(text)) return text;
  const single = SINGLE_REF.exec(text);
  if (single) {
    const value = lookupPath(vars, single[1]!);
    if (value === undefined) throw undefinedVariable(single[1]!, ctx);
    return shellWords(value);
  }
  let fn = compiledShell.get(text);
  if (!fn) {
    let ast: hbs.AST.Program;
    try {
      ast = hb.parse(text);
    } catch (err) {
      throw syntaxError(err, ctx);
    }
    quoteMustaches(ast);
    fn = hb.compile(ast, { strict: true, noEscape: true });
    compiledShell.set(text, fn);
  }
  try {
    return fn(vars);
  } catch (err) {
    const m = /^"([^"]+)" not defined in .* - (\d+):(\d+)/.exec((err as Error).message);
    if (m) throw undefinedVariable(missingPath(text, vars) ?? m[1]!, ctx, text, Number(m[2]), Number(m[3]));
    if (err instanceof UndefinedInShell || err instanceof TypeError) {
      const missing = missingPath(text, vars);
      if (missing) throw undefinedVariable(missing, ctx);
    }
    throw syntaxError(err, ctx);
  }
}

/** Turn each {{ x }} (and {{ helper a b }}) into {{ quote x }} / {{ quote (helper a b) }}; {{{ }}} stays raw. */
function quoteMustaches(node: unknown): void {
  if (!node || typeof node !== 'object') return;
  const n = node as { type?: string; [k: string]: unknown };
  if (n.type === 'MustacheStatement' && n['escaped'] === true) {
    const m = n as unknown as { path: hbs.AST.Expression; params: hbs.AST.Expression[]; hash?: hbs.AST.Hash; loc: hbs.AST.SourceLocation };
    const inner: hbs.AST.Expression =
      m.params.length > 0 || m.hash
        ? ({ type: 'SubExpression', path: m.path, params: m.params, hash: m.hash, loc: m.loc } as unknown as hbs.AST.Expression)
        : m.path;
    m.path = { type: 'PathExpression', data: false, depth: 0, parts: ['quote'], original: 'quote', loc: m.loc } as unknown as hbs.AST.PathExpression;
    m.params = [inner];
    delete (m as { hash?: unknown }).hash;
    return;
  }
  for (const [key, child] of Object.entries(n)) {
    if (key === 'loc') continue;
    if (Array.isArray(child)) child.forEach(quoteMustaches);
    else if (child && typeof child === 'object') quoteMustaches(child);
  }
}

/** Render every string inside a value (task args), keeping structure. */
export function renderDeep(value: unknown, vars: Record<string, unknown>, ctx: RenderContext = {}): unknown {
  if (typeof value === 'string') return renderValue(value, vars, ctx);
  if (Array.isArray(value)) return value.map((v) => renderDeep(v, vars, ctx));
  if (value && typeof value === 'object' && !(value instanceof Secret)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = renderDeep(v, vars, ctx);
    return out;
  }
  return value;
}

/** The variable names a template refers to at its top level (for static checks). */
export function referencedVariables(text: string): string[] {
  if (!hasTemplate(text)) return [];
  const names = new Set<string>();
  let ast: hbs.AST.Program;
  try {
    ast = hb.parse(text);
  } catch {
    return [];
  }
  const visit = (node: unknown, blockDepth: number): void => {
    if (!node || typeof node !== 'object') return;
    const n = node as { type?: string; [k: string]: unknown };
    if (n.type === 'PathExpression') {
      const p = n as unknown as { data: boolean; depth: number; parts: string[]; original: string };
      if (!p.data && p.depth === 0 && blockDepth === 0 && p.parts.length > 0 && p.original !== 'this' && !hb.helpers[p.original]) names.add(p.parts[0]!);
      return;
    }
    const isBlock = n.type === 'BlockStatement';
    for (const [key, child] of Object.entries(n)) {
      if (key === 'loc') continue;
      // Inside #each/#with the context changes, so names there are not top-level.
      const depth = isBlock && (key === 'program' || key === 'inverse') ? blockDepth + 1 : blockDepth;
      if (Array.isArray(child)) child.forEach((c) => visit(c, depth));
      else if (child && typeof child === 'object') visit(child, depth);
    }
  };
  visit(ast, 0);
  return [...names];
}

export function lookupPath(vars: Record<string, unknown>, path: string): unknown {
  let cur: unknown = vars;
  for (const part of path.split('.')) {
    if (cur === null || cur === undefined || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function revealAll(value: unknown): unknown {
  if (value instanceof Secret) return value.reveal();
  if (Array.isArray(value)) return value.map(revealAll);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = revealAll(v);
    return out;
  }
  return value;
}

function isUndefinedError(err: unknown): boolean {
  return err instanceof Error && / not defined in /.test(err.message);
}

function undefinedVariable(name: string, ctx: RenderContext, text?: string, line?: number, col?: number): TemplateError {
  const where = ctx.source ? ` in ${ctx.source}` : '';
  const at = line !== undefined && text !== undefined && text.includes('\n') ? ` (template line ${line}, column ${col! + 1})` : '';
  return new TemplateError(`undefined variable "${name}"${where}${at}`, {
    location: ctx.location,
    hint: `define "${name}" in the inventory, the play's vars, with -e ${name}=…, or register it in an earlier task`,
  });
}

function syntaxError(err: unknown, ctx: RenderContext): TemplateError {
  const msg = (err as Error).message.split('\n').filter((l) => l.trim() && !/^-+\^$/.test(l.trim()));
  return new TemplateError(`template syntax error${ctx.source ? ` in ${ctx.source}` : ''}: ${msg.join(' ')}`, {
    location: ctx.location,
    hint: 'runbook templates are handlebars: {{ var }}, {{#if cond}}…{{/if}}, {{#each list}}…{{/each}}',
  });
}
