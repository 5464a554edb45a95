// YAML files loaded with their positions kept, so that any value found wrong
// later (by a schema, a reference check, a template) can be reported at its
// file:line:col with the offending line and a caret.

import { readFileSync } from 'node:fs';
import { isNode, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { InputError, type SourceLocation } from './errors.js';

export type YamlPath = ReadonlyArray<string | number>;

export class SourceFile {
  readonly lines: string[];

  private constructor(
    readonly path: string,
    readonly text: string,
    readonly doc: Document,
    private readonly counter: LineCounter,
  ) {
    this.lines = text.split(/\r?\n/);
  }

  /** Parse YAML text; syntax errors become InputErrors with positions and hints. */
  static parse(path: string, text: string): SourceFile {
    const counter = new LineCounter();
    const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
    const file = new SourceFile(path, text, doc, counter);
    const first = doc.errors[0];
    if (first) {
      const offset = first.pos[0];
      const loc = file.locationAt(offset);
      throw new InputError(`YAML syntax error: ${firstLine(first.message)}`, {
        location: loc,
        hint: syntaxHint(loc.lineText ?? '', first.code),
      });
    }
    return file;
  }

  static load(path: string): SourceFile {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new InputError(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, {
        hint: code === 'ENOENT' ? 'check the path; relative paths are resolved from the current directory' : undefined,
      });
    }
    return SourceFile.parse(path, text);
  }

  /** The document as plain JavaScript values. */
  toJS(): unknown {
    return this.doc.toJS({ maxAliasCount: 1000 });
  }

  locationAt(offset: number): SourceLocation {
    const { line, col } = this.counter.linePos(offset);
    return { file: this.path, line, col, lineText: this.lines[line - 1] ?? '' };
  }

  /** Position of the node at `path`, or of its nearest existing ancestor. */
  locate(path: YamlPath, preferKey = false): SourceLocation {
    let p = [...path];
    while (p.length > 0) {
      const node = preferKey ? this.keyNode(p) : undefined;
      const target = node ?? this.doc.getIn(p, true);
      if (isNode(target) && target.range) return this.locationAt(target.range[0]);
      p = p.slice(0, -1);
    }
    const root = this.doc.contents;
    return this.locationAt(isNode(root) && root.range ? root.range[0] : 0);
  }

  /** The key node of a map entry (so "unknown key" points at the key, not its value). */
  private keyNode(path: YamlPath): Node | undefined {
    const parent = path.length > 1 ? this.doc.getIn(path.slice(0, -1), true) : this.doc.contents;
    const key = path[path.length - 1];
    if (parent && typeof parent === 'object' && 'items' in parent && Array.isArray(parent.items)) {
      for (const item of parent.items as unknown[]) {
        if (item && typeof item === 'object' && 'key' in item) {
          const k = (item as { key: unknown }).key;
          if (isNode(k) && (k as { value?: unknown }).value === key) return k;
        }
      }
    }
    return undefined;
  }

  error(path: YamlPath, message: string, hint?: string, onKey = false): InputError {
    return new InputError(message, { location: this.locate(path, onKey), hint });
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

function syntaxHint(lineText: string, code: string): string | undefined {
  if (lineText.includes('\t')) return 'YAML does not allow tabs for indentation; use spaces';
  if (/:\s*\{\{/.test(lineText)) {
    return 'a value that starts with {{ must be quoted, e.g. key: "{{ var }}"';
  }
  if (code === 'DUPLICATE_KEY') return 'each key may appear only once in a mapping';
  if (code === 'BAD_INDENT' || code === 'MISSING_CHAR') return 'check the indentation of this line against the lines above it';
  return undefined;
}
