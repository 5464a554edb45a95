// Module documentation generated from the modules' own zod schemas: the schema
// is the only place a module's arguments are declared.

import { z } from 'zod';
import type { ModuleDef } from './api.js';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  additionalProperties?: JsonSchema | boolean;
  minimum?: number;
  maximum?: number;
  const?: unknown;
}

export interface ArgDoc {
  name: string;
  type: string;
  required: boolean;
  default?: unknown;
  description: string;
}

export function moduleArgs(mod: ModuleDef): { args: ArgDoc[]; description?: string | undefined } {
  let schema: JsonSchema;
  try {
    schema = z.toJSONSchema(mod.schema, { unrepresentable: 'any', io: 'input' }) as JsonSchema;
  } catch {
    return { args: [] };
  }
  const props = schema.properties ?? {};
  const required = new Set(schema.required ?? []);
  const args = Object.entries(props).map(([name, p]) => ({
    name,
    type: typeName(p),
    required: required.has(name) && p.default === undefined,
    ...(p.default !== undefined ? { default: p.default } : {}),
    description: p.description ?? firstDescription(p) ?? '',
  }));
  return { args, description: schema.description };
}

function firstDescription(p: JsonSchema): string | undefined {
  for (const alt of [...(p.anyOf ?? []), ...(p.oneOf ?? [])]) if (alt.description) return alt.description;
  return undefined;
}

function typeName(p: JsonSchema): string {
  if (p.enum) return p.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (p.const !== undefined) return JSON.stringify(p.const);
  const alts = p.anyOf ?? p.oneOf;
  if (alts) return [...new Set(alts.map(typeName))].join(' | ');
  if (p.type === 'array') return `list of ${p.items ? typeName(p.items) : 'any'}`;
  if (p.type === 'object') return p.properties ? 'mapping' : 'mapping';
  if (Array.isArray(p.type)) return p.type.join(' | ');
  return p.type ?? 'any';
}

export function formatModuleDoc(mod: ModuleDef): string {
  const { args, description } = moduleArgs(mod);
  const lines = [`${mod.name} — ${mod.description}`, ''];
  if (mod.local) lines.push('Runs on the controller; needs no connection.', '');
  if (mod.freeForm) lines.push(`Short form: \`${mod.name}: <${mod.freeForm}>\``, '');
  if (args.length) {
    lines.push('Arguments:');
    const width = Math.max(...args.map((a) => a.name.length));
    for (const a of args) {
      const flags = [a.type, a.required ? 'required' : undefined, a.default !== undefined ? `default ${JSON.stringify(a.default)}` : undefined]
        .filter(Boolean)
        .join(', ');
      lines.push(`  ${a.name.padEnd(width)}  ${a.description}`);
      lines.push(`  ${' '.repeat(width)}  (${flags})`);
    }
  } else if (description) {
    lines.push(description);
  }
  if (mod.examples.length) {
    lines.push('', 'Examples:');
    for (const ex of mod.examples) {
      lines.push(`  # ${ex.title}`);
      lines.push(`  - name: ${ex.title}`);
      for (const l of ex.yaml.split('\n')) lines.push(`    ${l}`);
      lines.push('');
    }
  }
  return lines.join('\n').trimEnd();
}

export function formatModuleList(mods: ModuleDef[]): string {
  const width = Math.max(...mods.map((m) => m.name.length));
  return [...mods]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((m) => `${m.name.padEnd(width)}  ${m.description.split('. ')[0]!.replace(/\.$/, '')}`)
    .concat('', 'runbook modules <name> shows a module\'s arguments and examples.')
    .join('\n');
}
