// Secrets in inventories: `{ env: NAME }`, `{ file: path }` or plain text, all
// turned into Secret at load time so that a missing variable or file is an
// input error at its line before any host is touched, and so that nothing
// downstream ever holds a password as a bare string. Messages name the
// variable or file to fix, never the value.

import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { didYouMean, InputError } from '../errors.js';
import { Secret, secretMasker } from '../secret.js';
import type { SourceFile, YamlPath } from '../source.js';
import type { InventoryWarning } from './types.js';

/** What the secret readers need: where to report, and where relative paths start. */
export interface LoadContext {
  source: SourceFile;
  /** Folder of the inventory file; relative paths in it are relative to this. */
  baseDir: string;
  errors: InputError[];
  warnings: InventoryWarning[];
  /** Whether the inventory file can be read by group or others (plaintext secrets in it are exposed). */
  sharedFile: boolean;
}

export function newLoadContext(source: SourceFile, baseDir: string): LoadContext {
  return { source, baseDir, errors: [], warnings: [], sharedFile: isShared(source.path) };
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type SecretRef = { env: unknown } | { file: unknown };

/** A mapping with exactly one key, `env` or `file`: the only shapes that mean "a secret from elsewhere". */
export function isSecretRef(value: unknown): value is SecretRef {
  if (!isPlainMapping(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === 'env' || keys[0] === 'file');
}

/**
 * A field that only ever holds a secret (password, passphrase). `what` names
 * the field in messages ("ssh.password"). Problems are pushed to ctx.errors and
 * undefined is returned, so loading can go on and report everything at once.
 */
export function readSecretField(value: unknown, path: YamlPath, what: string, ctx: LoadContext): Secret | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') {
    // Created first so that the masker knows the value before the warning copies its line.
    const secret = new Secret(value, 'inline');
    if (ctx.sharedFile) {
      const location = ctx.source.locate(path);
      ctx.warnings.push({
        message: `${what} is written in plain text in a file that other users can read`,
        location: { ...location, lineText: secretMasker.mask(location.lineText ?? '') },
        hint: `chmod 600 ${ctx.source.path}, or use { env: NAME } or { file: path } instead`,
      });
    }
    return secret;
  }
  if (typeof value === 'number' || typeof value === 'boolean') {
    ctx.errors.push(ctx.source.error(path, `${what} must be text`, `quote it so YAML keeps it as written: "…"`));
    return undefined;
  }
  if (isSecretRef(value)) return readSecretRef(value, path, what, ctx);
  if (isPlainMapping(value)) {
    const keys = Object.keys(value);
    const odd = keys.find((k) => k !== 'env' && k !== 'file');
    const guess = odd === undefined ? undefined : didYouMean(odd, ['env', 'file']);
    ctx.errors.push(
      ctx.source.error(
        odd === undefined ? path : [...path, odd],
        keys.length === 0 ? `${what} is an empty mapping` : `${what} must be { env: NAME } or { file: path }, with exactly one key`,
        guess ? `did you mean "${guess}"?` : 'write the password as text, { env: VARIABLE } or { file: ./path }',
        odd !== undefined,
      ),
    );
    return undefined;
  }
  ctx.errors.push(ctx.source.error(path, `${what} must be text, { env: NAME } or { file: path }`));
  return undefined;
}

/** Read `{ env: NAME }` / `{ file: path }`; errors point at the name or path. */
export function readSecretRef(ref: SecretRef, path: YamlPath, what: string, ctx: LoadContext): Secret | undefined {
  if ('env' in ref) {
    const name = ref.env;
    const at = [...path, 'env'];
    if (typeof name !== 'string' || !ENV_NAME.test(name)) {
      ctx.errors.push(ctx.source.error(at, `${what}: env must be the name of an environment variable`, 'for example { env: SSH_PASSWORD }'));
      return undefined;
    }
    const value = process.env[name];
    if (value === undefined) {
      ctx.errors.push(
        ctx.source.error(at, `environment variable ${name} is not set (${what} reads it)`, `set it before running runbook: export ${name}=…`),
      );
      return undefined;
    }
    if (value === '') {
      ctx.errors.push(ctx.source.error(at, `environment variable ${name} is empty (${what} reads it)`, `set ${name} to the secret's value`));
      return undefined;
    }
    return new Secret(value, `env:${name}`);
  }
  const file = ref.file;
  const at = [...path, 'file'];
  if (typeof file !== 'string' || file === '') {
    ctx.errors.push(ctx.source.error(at, `${what}: file must be a path`, 'for example { file: ./secrets/password }'));
    return undefined;
  }
  const full = resolveInventoryPath(file, ctx.baseDir);
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be read (permission denied)' : code === 'EISDIR' ? 'is a folder' : 'cannot be read';
    const shown = full === file ? file : `${file} (${full})`;
    ctx.errors.push(
      ctx.source.error(at, `secret file ${shown} ${why} (${what} reads it)`, 'create the file or fix the path; relative paths start at the inventory file\'s folder'),
    );
    return undefined;
  }
  // Editors and `echo` add a final newline that is never part of the secret.
  const value = text.replace(/\r?\n$/, '');
  if (value === '') {
    ctx.errors.push(ctx.source.error(at, `secret file ${full} is empty (${what} reads it)`));
    return undefined;
  }
  if (isShared(full)) {
    ctx.warnings.push({
      message: `secret file ${full} can be read by other users`,
      location: ctx.source.locate(at),
      hint: `chmod 600 ${full}`,
    });
  }
  return new Secret(value, `file:${full}`);
}

/**
 * Vars whose value is exactly `{ env: NAME }` or `{ file: path }` become
 * Secrets. Only a var's own value is looked at, not mappings nested inside it:
 * a nested `{ file: out.log }` is far more likely configuration than a secret.
 */
export function resolveVarSecrets(vars: Record<string, unknown>, path: YamlPath, ctx: LoadContext): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(vars)) {
    if (isSecretRef(value)) {
      const secret = readSecretRef(value, [...path, key], `var "${key}"`, ctx);
      if (secret) out[key] = secret;
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** `~` is the home folder; relative paths start at the inventory's folder, not the current directory. */
export function resolveInventoryPath(p: string, baseDir: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/')) return resolve(homedir(), p.slice(2));
  return isAbsolute(p) ? p : resolve(baseDir, p);
}

export function isPlainMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Secret);
}

function isShared(path: string): boolean {
  try {
    return (statSync(path).mode & 0o044) !== 0;
  } catch {
    return false;
  }
}
