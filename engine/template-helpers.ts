// Helpers available in every template. Config-format helpers live here so that
// templates for every product share one implementation of each escaping rule.
// The format functions are exported on their own too, so they can be tested
// (and reused) without going through handlebars.

import type HandlebarsNS from 'handlebars';

type HB = typeof HandlebarsNS;

/** What handlebars passes as the last argument of every helper call. */
interface HelperOptions {
  hash?: Record<string, unknown>;
  data?: { root?: Record<string, unknown> };
  loc?: { start: { line: number; column: number } };
}

export function registerTemplateHelpers(hb: HB): void {
  hb.registerHelper('default', (value: unknown, fallback: unknown) =>
    value === undefined || value === null || value === '' ? fallback : value,
  );
  hb.registerHelper('json', (value: unknown) => JSON.stringify(value));
  hb.registerHelper('join', (list: unknown, sep: unknown) =>
    Array.isArray(list) ? list.join(typeof sep === 'string' ? sep : ',') : String(list ?? ''),
  );
  hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  hb.registerHelper('ne', (a: unknown, b: unknown) => a !== b);
  hb.registerHelper('or', (...args: unknown[]) => args.slice(0, -1).some(Boolean));
  hb.registerHelper('and', (...args: unknown[]) => args.slice(0, -1).every(Boolean));
  hb.registerHelper('not', (a: unknown) => !a);

  // {{properties value}} escapes one value; {{properties map}} renders key=value lines.
  hb.registerHelper('properties', (...args: unknown[]) => {
    const [value] = params('properties', args, 1);
    return isMap(value) ? propertiesLines(value) : propertiesEscape(scalarText(value, 'properties'));
  });
  hb.registerHelper('cfg', (...args: unknown[]) => cfgLines(mapParam('cfg', args)));
  hb.registerHelper('kv_space', (...args: unknown[]) => kvSpaceLines(mapParam('kv_space', args)));
  hb.registerHelper('csv', (...args: unknown[]) => {
    const [rows] = params('csv', args, 1);
    const hash = optionsOf(args).hash ?? {};
    const columns = hash.columns;
    return csvLines(rows, {
      header: hash.header === true,
      columns: typeof columns === 'string' ? columns.split(',').map((c) => c.trim()) : Array.isArray(columns) ? columns.map(String) : undefined,
    });
  });
  // {{generated_header}} or {{generated_header "//"}}; the template's name comes
  // from template="…" or from the runbook_template variable the template module sets.
  hb.registerHelper('generated_header', (...args: unknown[]) => {
    const opts = optionsOf(args);
    const positional = args.slice(0, -1);
    const comment = positional[0] === undefined ? '#' : positional[0];
    if (typeof comment !== 'string') throw new Error('generated_header: the comment marker must be a string, e.g. {{generated_header "//"}}');
    const named = opts.hash?.template ?? opts.data?.root?.runbook_template;
    return generatedHeader({ comment, template: typeof named === 'string' ? named : undefined });
  });
}

// ---------------------------------------------------------------------------
// Java .properties

/**
 * Escape text so java.util.Properties.load() reads back exactly this text:
 * backslash, line breaks and other control characters, a leading space, and
 * anything outside printable ASCII as \uXXXX (load() from a stream reads
 * ISO-8859-1, so raw UTF-8 would come back garbled).
 *
 * Keys also escape every space and the separators and comment starters `=`
 * `:` `#` `!`, as Properties.store() does. Values do not: after the key's
 * separator the rest of the line is the value whatever it contains, and
 * `cn_seed_config_node=10.0.0.1:10710` is how IoTDB's own files read (and how
 * a script grepping the file expects it), where store() would write `\:`.
 */
export function propertiesEscape(text: string, opts: { key?: boolean } = {}): string {
  const key = opts.key === true;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    switch (c) {
      case '\\':
        out += '\\\\';
        break;
      case '\t':
        out += '\\t';
        break;
      case '\n':
        out += '\\n';
        break;
      case '\r':
        out += '\\r';
        break;
      case '\f':
        out += '\\f';
        break;
      case '=':
      case ':':
      case '#':
      case '!':
        out += key ? `\\${c}` : c;
        break;
      case ' ':
        // The loader skips whitespace before a value, so only its first space needs protecting.
        out += key || i === 0 ? '\\ ' : ' ';
        break;
      default: {
        // UTF-16 code units, so characters beyond the BMP become a surrogate pair, as Java writes them.
        const code = text.charCodeAt(i);
        out += code < 0x20 || code > 0x7e ? `\\u${code.toString(16).toUpperCase().padStart(4, '0')}` : c;
      }
    }
  }
  return out;
}

/** A map as `key=value` lines (nested maps become dotted keys; null/undefined entries are left out). */
export function propertiesLines(map: Record<string, unknown>): string {
  return flatten(map, 'properties')
    .map(([k, v]) => `${propertiesEscape(k, { key: true })}=${propertiesEscape(v)}`)
    .join('\n');
}

// ---------------------------------------------------------------------------
// DolphinDB .cfg and TDengine taos.cfg

/**
 * DolphinDB's controller.cfg / agent.cfg / cluster.cfg: `key=value` lines. The
 * format has no escaping at all, so anything it cannot carry is an error here
 * rather than a config DolphinDB misreads.
 */
export function cfgLines(map: Record<string, unknown>): string {
  return flatten(map, 'cfg')
    .map(([k, v]) => {
      if (!/^[^\s=#]+$/.test(k)) throw new Error(`cfg: key ${JSON.stringify(k)} cannot be written: keys may not be empty or contain spaces, "=" or "#"`);
      if (/[\r\n]/.test(v)) throw new Error(`cfg: the value of ${k} contains a line break, which DolphinDB config files cannot hold`);
      return `${k}=${v}`;
    })
    .join('\n');
}

/** TDengine's taos.cfg: `key value` lines with the values lined up in one column. */
export function kvSpaceLines(map: Record<string, unknown>): string {
  const entries = flatten(map, 'kv_space');
  for (const [k, v] of entries) {
    if (!/^\S+$/.test(k)) throw new Error(`kv_space: key ${JSON.stringify(k)} cannot be written: keys may not be empty or contain whitespace`);
    if (/[\r\n]/.test(v)) throw new Error(`kv_space: the value of ${k} contains a line break, which taos.cfg cannot hold`);
  }
  const width = Math.max(0, ...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `${k.padEnd(width)} ${v}`.trimEnd()).join('\n');
}

// ---------------------------------------------------------------------------
// CSV

export interface CsvOptions {
  /** Write the column names as the first line. */
  header?: boolean | undefined;
  /** Which fields of object rows to write, in order (default: the first row's keys). */
  columns?: string[] | undefined;
}

/** Rows (arrays, or objects picked by column) as CSV lines; fields with `,`, `"` or line breaks are quoted. */
export function csvLines(rows: unknown, opts: CsvOptions = {}): string {
  if (!Array.isArray(rows)) throw new Error(`csv: expected a list of rows, got ${describe(rows)}`);
  const firstObject = rows.find(isMap);
  const columns = opts.columns ?? (firstObject ? Object.keys(firstObject) : undefined);
  const lines: string[] = [];
  if (opts.header) {
    if (!columns) throw new Error('csv: header=true needs object rows or columns="a,b"');
    lines.push(columns.map(csvField).join(','));
  }
  rows.forEach((row, i) => {
    let fields: unknown[];
    if (Array.isArray(row)) fields = row;
    else if (isMap(row)) fields = (columns ?? []).map((c) => row[c]);
    else throw new Error(`csv: row ${i + 1} is ${describe(row)}; rows must be lists or maps`);
    lines.push(fields.map((f) => csvField(f === undefined || f === null ? '' : scalarText(f, 'csv'))).join(','));
  });
  return lines.join('\n');
}

function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

// ---------------------------------------------------------------------------
// Generated-file header

export interface HeaderOptions {
  /** Line-comment marker (`#`, `//`, `;`, `--`), or `<!--` / `/*` for a block comment. Default `#`. */
  comment?: string | undefined;
  /** The template the file comes from, as the task names it. */
  template?: string | undefined;
}

/**
 * A comment saying the file is generated. Deliberately free of timestamps and
 * host names: the header must render the same on every run, or every run
 * would report the file as changed.
 */
export function generatedHeader(opts: HeaderOptions = {}): string {
  const from = opts.template ? ` from the template ${opts.template}` : '';
  const lines = [`This file is generated by runbook${from}.`, 'Do not edit it by hand: runbook overwrites it on its next run.'];
  const comment = opts.comment ?? '#';
  if (comment === '<!--') return ['<!--', ...lines.map((l) => `  ${l}`), '-->'].join('\n');
  if (comment === '/*') return ['/*', ...lines.map((l) => ` * ${l}`), ' */'].join('\n');
  if (comment === '' || /[\r\n]/.test(comment)) throw new Error('generated_header: the comment marker must be non-empty and on one line');
  return lines.map((l) => `${comment} ${l}`).join('\n');
}

// ---------------------------------------------------------------------------

function optionsOf(args: unknown[]): HelperOptions {
  return (args[args.length - 1] ?? {}) as HelperOptions;
}

/** The positional parameters of a helper call, requiring at least `min` of them. */
function params(name: string, args: unknown[], min: number): unknown[] {
  const positional = args.slice(0, -1);
  if (positional.length < min) throw new Error(`${name} needs a value: {{${name} some_var}}`);
  if (positional.slice(0, min).some((p) => p === undefined)) throw notDefined(name, optionsOf(args));
  return positional;
}

/**
 * Handlebars' strict mode does not cover helper parameters, so a misspelt
 * variable reaches the helper as undefined. Throw the error handlebars itself
 * throws for an undefined variable, so the renderer reports it as one, with
 * the variable's name and the template line, rather than as empty text.
 */
function notDefined(helper: string, opts: HelperOptions): Error {
  const at = opts.loc?.start;
  return new Error(`"value given to ${helper}" not defined in ${helper} - ${at?.line ?? 1}:${at?.column ?? 0}`);
}

function mapParam(name: string, args: unknown[]): Record<string, unknown> {
  const [value] = params(name, args, 1);
  if (!isMap(value)) throw new Error(`${name}: expected a map of settings, got ${describe(value)}`);
  return value;
}

function isMap(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'a map' : `${typeof value} ${JSON.stringify(value)}`;
}

/** The text of one setting value. Lists become comma-separated, which is what every supported format uses for multi-valued keys. */
function scalarText(value: unknown, helper: string, key?: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map((v) => scalarText(v, helper, key)).join(',');
  if (value === null || value === undefined) throw new Error(`${helper}: ${key ? `the value of ${key}` : 'the value'} is ${String(value)}`);
  // A Secret that was not revealed (or any object with its own toString) prints as itself: a Secret prints its mask.
  if (typeof value === 'object' && !isMap(value) && value.toString !== Object.prototype.toString) return String(value);
  throw new Error(`${helper}: ${key ? `the value of ${key}` : 'the value'} is ${describe(value)}; only text, numbers, booleans and lists of them can be written`);
}

/** Entries of a settings map with nested maps turned into dotted keys; null and undefined entries are skipped. */
function flatten(map: Record<string, unknown>, helper: string, prefix = ''): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(map)) {
    const key = prefix + k;
    if (v === null || v === undefined) continue;
    if (isMap(v)) out.push(...flatten(v, helper, `${key}.`));
    else out.push([key, scalarText(v, helper, key)]);
  }
  return out;
}
