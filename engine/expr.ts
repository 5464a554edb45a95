// Conditions (when, until, changed_when, failed_when, assert) in CEL, evaluated
// without JavaScript eval. Variables are the host's vars, registered results
// and facts. Parsed expressions are cached: a loop of 1,000 items parses once.

import { parse } from '@marcbachmann/cel-js';
import { InputError, type SourceLocation } from './errors.js';
import { Secret } from './secret.js';

type Compiled = ReturnType<typeof parse>;
const cache = new Map<string, Compiled>();

export class ExpressionError extends InputError {}

export function compileExpression(expression: string, location?: SourceLocation): Compiled {
  let fn = cache.get(expression);
  if (!fn) {
    try {
      fn = parse(expression);
    } catch (err) {
      throw new ExpressionError(`cannot parse condition "${expression}": ${firstLine(err)}`, {
        location,
        hint: 'conditions are CEL: `result.rc == 0`, `"x" in groups`, `rows.all(r, r.Status == "Running")`; do not wrap them in {{ }}',
      });
    }
    cache.set(expression, fn);
  }
  return fn;
}

/** Evaluate a CEL expression over vars. Secrets compare by value but never print. */
export function evaluate(expression: string, vars: Record<string, unknown>, location?: SourceLocation): unknown {
  const fn = compileExpression(expression, location);
  try {
    return fromCel(fn(toCel(vars) as Record<string, unknown>));
  } catch (err) {
    const msg = firstLine(err);
    const unknownVar = /Unknown variable: (\S+)/.exec(msg);
    throw new ExpressionError(
      unknownVar ? `condition "${expression}" uses undefined variable "${unknownVar[1]}"` : `condition "${expression}" failed: ${msg}`,
      {
        location,
        hint: unknownVar
          ? `define "${unknownVar[1]}", or guard it with has(): e.g. has(result.rc) && result.rc == 0`
          : undefined,
      },
    );
  }
}

/** Evaluate and require a boolean. */
export function evaluateBool(expression: string, vars: Record<string, unknown>, location?: SourceLocation): boolean {
  const v = evaluate(expression, vars, location);
  if (typeof v !== 'boolean') {
    throw new ExpressionError(`condition "${expression}" gave ${JSON.stringify(v)}, not true or false`, {
      location,
      hint: 'compare explicitly, e.g. `x == "yes"` or `size(list) > 0`',
    });
  }
  return v;
}

function toCel(value: unknown): unknown {
  if (value instanceof Secret) return value.reveal();
  if (value === undefined) return null;
  // YAML integers arrive as JS numbers, which CEL treats as doubles; `size(x) == n`
  // would then fail with "no such overload". Whole numbers are CEL ints.
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (Array.isArray(value)) return value.map(toCel);
  if (value && typeof value === 'object' && !(value instanceof Date) && !(value instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toCel(v);
    return out;
  }
  return value;
}

function fromCel(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(fromCel);
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), fromCel(v)]));
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = fromCel(v);
    return out;
  }
  return value;
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0] ?? '';
}
