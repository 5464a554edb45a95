// engine/validate.ts as the inventory uses it: zod issues at YAML positions,
// with the schema's own keys for "did you mean".

import { z } from 'zod';
import { describe, expect, test } from 'vitest';
import { SourceFile } from '../../../engine/source.js';
import { knownKeys, schemaErrors } from '../../../engine/validate.js';

function errorsFor(schema: z.ZodType, yaml: string, withContext = true): string[] {
  const source = SourceFile.parse('t.yaml', yaml);
  const value = source.toJS();
  const res = schema.safeParse(value);
  if (res.success) return [];
  return schemaErrors(res.error, source, [], 'the test', withContext ? { schema, value } : {}).map((e) => e.format().split('\n').filter((l) => !l.startsWith(' ')).join(' | '));
}

const shapes = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('circle'), radius: z.number() }),
  z.strictObject({ kind: z.literal('square'), side: z.number() }),
]);

describe('schema errors', () => {
  test('an unknown key is suggested from the object that refused it, even without the schema at hand', () => {
    const schema = z.strictObject({ outer: z.record(z.string(), z.strictObject({ retries: z.number().optional(), delay: z.number().optional() })) });
    expect(errorsFor(schema, 'outer:\n  a:\n    retires: 3\n', false)).toEqual(['t.yaml:3:5: unknown key "retires" in the test | hint: did you mean "retries"?']);
  });

  test('knownKeys walks the schema to the path, picking the discriminated branch from the value', () => {
    const schema = z.strictObject({ items: z.array(shapes).optional() });
    expect(knownKeys(schema, ['items', 0], { items: [{ kind: 'square' }] })).toEqual(['kind', 'side']);
    expect(knownKeys(schema, ['items', 0])).toEqual(['kind', 'radius', 'side']);
    expect(knownKeys(schema, [])).toEqual(['items']);
    expect(knownKeys(z.object({ a: z.string() }).optional().nullable(), [])).toEqual(['a']);
  });

  test('a union of plain types says which types would do', () => {
    const schema = z.strictObject({ agent: z.union([z.boolean(), z.string()]) });
    expect(errorsFor(schema, 'agent: 3\n')).toEqual(['t.yaml:1:8: "agent" in the test: expected boolean or string, got number 3']);
  });

  test('a missing field is "required"; a mapping where a list belongs is named as such', () => {
    const schema = z.strictObject({ name: z.string(), tags: z.array(z.string()) });
    expect(errorsFor(schema, 'tags: { a: 1 }\n')).toEqual([
      't.yaml:1:1: "name" in the test: is required (expected string)',
      't.yaml:1:7: "tags" in the test: expected a list, got a mapping',
    ]);
    // Without the value, the type zod received still shows.
    expect(errorsFor(schema, 'name: 5\ntags: []\n', false)).toEqual(['t.yaml:1:7: "name" in the test: expected string, got number']);
  });
});
