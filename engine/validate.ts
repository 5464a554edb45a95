// Schema checks whose errors point into YAML: each zod issue is mapped back to
// the node it is about, with "did you mean …" for misspelt keys.

import type { z } from 'zod';
import { didYouMean, InputError } from './errors.js';
import type { SourceFile, YamlPath } from './source.js';

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
  throw schemaErrors(res.error, source, basePath, what)[0]!;
}

/** All problems zod found, each as an InputError at its YAML position. */
export function schemaErrors(error: z.ZodError, source: SourceFile, basePath: YamlPath, what: string): InputError[] {
  const out: InputError[] = [];
  for (const issue of error.issues) {
    const path = [...basePath, ...(issue.path as Array<string | number>)];
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(error, issue.path);
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
    const field = issue.path.length ? `"${issue.path.join('.')}"` : what;
    out.push(source.error(path, `${field}: ${describeIssue(issue)}`, hintFor(issue)));
  }
  return out;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') {
    const received = (issue as { input?: unknown }).input;
    if (received === undefined) return `is required (expected ${issue.expected})`;
    return `expected ${issue.expected}, got ${typeName(received)}`;
  }
  return issue.message;
}

function hintFor(issue: z.core.$ZodIssue): string | undefined {
  if (issue.code === 'invalid_type' && issue.expected === 'number') return 'write numbers without quotes';
  return undefined;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Keys the schema accepts at `path`, recovered from zod's error context (best effort). */
function knownKeys(error: z.ZodError, _path: PropertyKey[]): string[] {
  const issue = error.issues.find((i) => i.code === 'unrecognized_keys') as { known?: string[] } | undefined;
  return issue?.known ?? [];
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
