// Fails any test that writes to the console: output belongs to reporters, and
// a stray console.log in a test or in engine code is a bug.

import { afterEach, beforeEach } from 'vitest';

const methods = ['log', 'info', 'warn', 'error', 'debug'] as const;
const originals = Object.fromEntries(methods.map((m) => [m, console[m]]));
let stray: string[] = [];

beforeEach(() => {
  stray = [];
  for (const m of methods) {
    console[m] = (...args: unknown[]) => {
      stray.push(`console.${m}: ${args.map(String).join(' ').slice(0, 300)}`);
    };
  }
});

afterEach(() => {
  for (const m of methods) console[m] = originals[m]!;
  if (stray.length > 0) throw new Error(`unexpected console output in the test:\n${stray.join('\n')}`);
});
