// Schema checks whose errors point into YAML: each zod issue is mapped back to
// the node it is about, with "did you mean …" for misspelt keys.

import { z } from 'zod';
import { didYouMean, InputError, InputErrors } from './errors.js';
import type { SourceFile, YamlPath } from './source.js';

// A ZodError does not say which keys the object that rejected a key accepts,
// and most callers hold only the error. zod hands every raw issue, with the
// schema that raised it, to the global customError before finalising it, and
// copies the issue's own fields into the final one: so stamping the accepted
// keys onto unrecognized_keys issues here makes them available to every
// caller. Returning undefined leaves the message to zod (and any earlier hook).
const previousCustomError = z.config().customError;
z.config({
  customError: (issue) => {
    if (issue.code === 'unrecognized_keys') {
      const shape = (issue.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def?.shape;
      if (shape) (issue as { known?: string[] }).known = Object.keys(shape);
    }
    return previousCustomError?.(issue);
  },
});

/** Validate `value` (found at `basePath` in `source`) and return the parsed data or throw InputErrors. */
export function parseWithSchema<S extends z.ZodType>(
  schema: S,
  value: unknown,
  source: SourceFile,
  basePath: YamlPath,
  what: string,
): z.output<S> {
  const res = schema.safeParse(value);
  if (res.success) return res.data;
  const errors = schemaErrors(res.error, source, basePath, what, { schema, value });
  throw errors.length === 1 ? errors[0]! : new InputErrors(errors);
}

/**
 * What was validated, so messages can name the schema's keys at an issue's
 * path ("did you mean …" for a misspelt key) and show what was found there.
 * Optional: without it messages are less specific but still positioned.
 */
export interface SchemaContext {
  schema?: z.ZodType | undefined;
  value?: unknown;
}

/** All problems zod found, each as an InputError at its YAML position. */
export function schemaErrors(
  error: z.ZodError,
  source: SourceFile,
  basePath: YamlPath,
  what: string,
  context: SchemaContext = {},
): InputError[] {
  const out: InputError[] = [];
  for (const issue of error.issues) {
    const path = [...basePath, ...(issue.path as Array<string | number>)];
    if (issue.code === 'unrecognized_keys') {
      // The stamp names the very object that refused the key; the schema walk covers issues raised with a custom message.
      const stamped = stampedKeys(issue);
      const known = stamped.length > 0 || !context.schema ? stamped : knownKeys(context.schema, issue.path, context.value);
      for (const key of issue.keys) {
        const guess = didYouMean(key, known);
        out.push(
          source.error(
            [...path, key],
            `unknown key "${key}" in ${what}`,
            guess ? `did you mean "${guess}"?` : known.length ? `allowed keys: ${known.join(', ')}` : undefined,
            true,
          ),
        );
      }
      continue;
    }
    const field = issue.path.length ? `"${issue.path.join('.')}" in ${what}` : what;
    const input = inputAt(issue, context);
    out.push(source.error(path, `${field}: ${describeIssue(issue, input)}`, hintFor(issue, input)));
  }
  return out;
}

function stampedKeys(issue: z.core.$ZodIssue): string[] {
  const known = (issue as { known?: unknown }).known;
  return Array.isArray(known) ? known.filter((k): k is string => typeof k === 'string') : [];
}

const NOT_FOUND = Symbol('not found');

/** The offending value: from the issue when zod reported it, else looked up in the validated value. */
function inputAt(issue: z.core.$ZodIssue, context: SchemaContext): unknown {
  if ('input' in issue) return issue.input;
  if (!('value' in context)) return NOT_FOUND;
  let cur: unknown = context.value;
  for (const part of issue.path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[part as PropertyKey];
  }
  return cur;
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  // A schema's own message ("mode must be quoted octal text…") knows more than any rewording here.
  if ((issue.code === 'invalid_type' && !/^Invalid input/.test(issue.message)) || (issue.code === 'invalid_value' && !/^Invalid (option|input)/.test(issue.message))) {
    return issue.message;
  }
  if (issue.code === 'invalid_type') {
    const expected = expectedName(issue.expected);
    if (input === NOT_FOUND) {
      // zod only says what it received in its message.
      const received = /received (\w+)/.exec(issue.message)?.[1];
      return received === 'undefined' || received === undefined ? `is required (expected ${expected})` : `expected ${expected}, got ${received}`;
    }
    if (input === undefined) return `is required (expected ${expected})`;
    return `expected ${expected}, got ${typeName(input)}`;
  }
  if (issue.code === 'invalid_union') {
    // A union of plain types ("true or a path") fails with one type error per
    // option; say which types would do instead of zod's bare "Invalid input".
    const expected = issue.errors.map((branch) => (branch.length === 1 && branch[0]!.code === 'invalid_type' && branch[0]!.path.length === 0 ? branch[0]!.expected : undefined));
    if (expected.length > 0 && expected.every((e) => e !== undefined)) {
      const names = [...new Set(expected.map((e) => expectedName(e!)))];
      return `expected ${names.join(' or ')}${input === NOT_FOUND ? '' : `, got ${typeName(input)}`}`;
    }
  }
  if (issue.code === 'invalid_value' && issue.values.length > 0) {
    const got = input === NOT_FOUND ? '' : `, got ${typeName(input)}`;
    return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}${got}`;
  }
  return issue.message;
}

function hintFor(issue: z.core.$ZodIssue, input: unknown): string | undefined {
  if (issue.code === 'invalid_type' && issue.expected === 'number' && typeof input === 'string' && input.trim() !== '' && !Number.isNaN(Number(input))) {
    return 'write numbers without quotes';
  }
  if (issue.code === 'invalid_value' && typeof input === 'string') {
    const guess = didYouMean(input, issue.values.filter((v): v is string => typeof v === 'string'));
    if (guess) return `did you mean "${guess}"?`;
  }
  return undefined;
}

function expectedName(expected: string): string {
  if (expected === 'object' || expected === 'record' || expected === 'map') return 'a mapping';
  if (expected === 'array' || expected === 'tuple' || expected === 'set') return 'a list';
  return expected;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

interface SchemaDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  valueType?: z.ZodType;
  element?: z.ZodType;
  options?: readonly z.ZodType[];
  discriminator?: string;
  in?: z.ZodType;
  out?: z.ZodType;
  getter?: () => z.ZodType;
  left?: z.ZodType;
  right?: z.ZodType;
  items?: readonly z.ZodType[];
  rest?: z.ZodType | null;
}

function defOf(schema: z.ZodType): SchemaDef {
  return (schema as unknown as { _zod: { def: SchemaDef } })._zod.def;
}

/** Keys the schema accepts for the mapping at `path` (the input `value` picks a discriminated union's branch). */
export function knownKeys(schema: z.ZodType, path: readonly PropertyKey[], value?: unknown): string[] {
  const keys = new Set<string>();
  collectKeys(schema, [...path], value, keys, 0);
  return [...keys];
}

function collectKeys(schema: z.ZodType, path: PropertyKey[], value: unknown, into: Set<string>, depth: number): void {
  // Recursive (lazy) schemas could otherwise walk forever.
  if (depth > 64) return;
  const def = defOf(schema);
  const next = (s: z.ZodType | undefined, p: PropertyKey[] = path, v: unknown = value): void => {
    if (s) collectKeys(s, p, v, into, depth + 1);
  };
  const child = (key: PropertyKey): unknown =>
    value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'nonoptional':
    case 'catch':
    case 'readonly':
      return next(def.innerType);
    case 'pipe':
      // A transform's input side is what the user wrote.
      return next(defOf(def.in!).type === 'transform' ? def.out : def.in);
    case 'lazy':
      return next(def.getter?.());
    case 'intersection':
      next(def.left);
      return next(def.right);
    case 'union': {
      const options = def.options ?? [];
      const disc = def.discriminator;
      const tag = disc === undefined ? undefined : child(disc);
      const picked =
        disc !== undefined && tag !== undefined
          ? options.filter((o) => defOf(o).shape?.[disc]?.safeParse(tag).success)
          : [];
      for (const o of picked.length > 0 ? picked : options) next(o);
      return;
    }
    case 'object': {
      if (path.length === 0) {
        for (const k of Object.keys(def.shape ?? {})) into.add(k);
        return;
      }
      const [head, ...rest] = path;
      return next(def.shape?.[String(head)], rest, child(head!));
    }
    case 'record': {
      if (path.length === 0) return;
      const [head, ...rest] = path;
      return next(def.valueType, rest, child(head!));
    }
    case 'array': {
      if (path.length === 0) return;
      const [head, ...rest] = path;
      return next(def.element, rest, child(head!));
    }
    case 'tuple': {
      if (path.length === 0) return;
      const [head, ...rest] = path;
      const i = Number(head);
      return next(def.items?.[i] ?? def.rest ?? undefined, rest, child(head!));
    }
    default:
      return;
  }
}

/** Keys of an object schema, for "did you mean" on unknown keys. */
export function objectKeys(schema: z.ZodType): string[] {
  const shape = (schema as unknown as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : [];
}

/** Check a plain mapping's keys against an allowed list, reporting each unknown key with a suggestion. */
export function checkKeys(
  value: Record<string, unknown>,
  allowed: readonly string[],
  source: SourceFile,
  path: YamlPath,
  what: string,
): InputError[] {
  const out: InputError[] = [];
  for (const key of Object.keys(value)) {
    if (allowed.includes(key)) continue;
    const guess = didYouMean(key, allowed);
    out.push(
      source.error([...path, key], `unknown key "${key}" in ${what}`, guess ? `did you mean "${guess}"?` : `allowed keys: ${allowed.join(', ')}`, true),
    );
  }
  return out;
}
