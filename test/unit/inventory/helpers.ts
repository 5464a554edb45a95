// Shared bits of the inventory tests: fixture paths, throwaway inventory files
// and the formatted text of the error a load throws.

import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';
import { InputError, InputErrors } from '../../../engine/errors.js';

export function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

/** Write files (path → text, optionally with a mode) into a fresh folder; returns the folder. */
export function tempFiles(files: Record<string, string | { text: string; mode: number }>): string {
  const dir = mkdtempSync(join(tmpdir(), 'runbook-inv-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, spec] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    const { text, mode } = typeof spec === 'string' ? { text: spec, mode: 0o600 } : spec;
    writeFileSync(path, text);
    chmodSync(path, mode);
  }
  return dir;
}

/** The InputError `fn` throws (fails the test if it throws nothing or something else). */
export function inputError(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error('expected an InputError, but nothing was thrown');
}

/** The individual problems of a load error, formatted. */
export function problems(fn: () => unknown): string[] {
  const err = inputError(fn);
  return err instanceof InputErrors ? err.errors.map((e) => e.format()) : [err.format()];
}

/** Set environment variables until the current test ends. */
export function withEnv(vars: Record<string, string>): void {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  onTestFinished(() => {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
}
