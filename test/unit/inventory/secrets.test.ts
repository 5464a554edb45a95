import { inspect } from 'node:util';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadInventory } from '../../../engine/inventory/load.js';
import { Secret, secretMasker } from '../../../engine/secret.js';
import { fixture, problems, tempFiles, withEnv } from './helpers.js';

const PASSPHRASE = 'phrase-7Hq2';
const DB_PASSWORD = 'db-pw-Zx81';
const FILE_PASSWORD = 'file-password-9f3k';

describe('secrets', () => {
  test('{ env } and { file } become Secrets that know where they came from', () => {
    withEnv({ RUNBOOK_TEST_KEY_PASSPHRASE: PASSPHRASE, RUNBOOK_TEST_DB_PASSWORD: DB_PASSWORD });
    const inv = loadInventory(fixture('runbook.yaml'));
    const auth = inv.hosts.get('node1')!.auth;
    expect(auth.passphrase).toBeInstanceOf(Secret);
    expect(auth.passphrase!.origin).toBe('env:RUNBOOK_TEST_KEY_PASSPHRASE');
    expect(auth.passphrase!.reveal()).toBe(PASSPHRASE);
    expect(auth.password!.origin).toBe(`file:${fixture('secrets/ssh-pass')}`);
    // The file's final newline is not part of the password.
    expect(auth.password!.reveal()).toBe(FILE_PASSWORD);
  });

  test('a var written as { env } is a Secret in the global vars and in every host\'s vars', () => {
    withEnv({ RUNBOOK_TEST_KEY_PASSPHRASE: PASSPHRASE, RUNBOOK_TEST_DB_PASSWORD: DB_PASSWORD });
    const inv = loadInventory(fixture('runbook.yaml'));
    const secret = inv.vars.db_password as Secret;
    expect(secret).toBeInstanceOf(Secret);
    expect(secret.origin).toBe('env:RUNBOOK_TEST_DB_PASSWORD');
    expect(inv.hosts.get('node3')!.vars.db_password).toBe(secret);
  });

  test('JSON, String() and inspect of the inventory never show a secret', () => {
    withEnv({ RUNBOOK_TEST_KEY_PASSPHRASE: PASSPHRASE, RUNBOOK_TEST_DB_PASSWORD: DB_PASSWORD });
    const inv = loadInventory(fixture('runbook.yaml'));
    const json = JSON.stringify(inv);
    // The dump is the real content (hosts as a list), not an empty Map.
    expect(JSON.parse(json).hosts[0].auth).toEqual({ privateKeyFile: expect.any(String), password: '********', passphrase: '********' });
    const texts = [json, String(inv), String(inv.hosts.get('node1')!.auth.password), inspect(inv, { depth: 20 })];
    for (const text of texts) {
      for (const value of [PASSPHRASE, DB_PASSWORD, FILE_PASSWORD]) expect(text).not.toContain(value);
    }
    expect(inspect(inv.hosts.get('node1')!.auth, { depth: 5 })).toContain('Secret(env:RUNBOOK_TEST_KEY_PASSPHRASE)');
  });

  test('a plaintext password is accepted, wrapped and masked, and the file text is not in the JSON', () => {
    const dir = tempFiles({ 'inv.yaml': 'hosts:\n  a:\n    password: plain-Kx93mm\n' });
    const inv = loadInventory(join(dir, 'inv.yaml'));
    const password = inv.hosts.get('a')!.auth.password!;
    expect(password.origin).toBe('inline');
    expect(password.reveal()).toBe('plain-Kx93mm');
    expect(JSON.stringify(inv)).not.toContain('plain-Kx93mm');
    expect(secretMasker.mask('login with plain-Kx93mm')).toBe('login with ********');
    // Private file: no warning.
    expect(inv.warnings).toBeUndefined();
  });

  test('a plaintext password in a file others can read gets a warning at its line', () => {
    const dir = tempFiles({ 'inv.yaml': { text: 'hosts:\n  a:\n    password: plain-Kx93mm\n', mode: 0o644 } });
    const inv = loadInventory(join(dir, 'inv.yaml'));
    expect(inv.warnings).toEqual([
      {
        message: 'host "a" password is written in plain text in a file that other users can read',
        location: expect.objectContaining({ file: join(dir, 'inv.yaml'), line: 3, col: 15 }),
        hint: `chmod 600 ${join(dir, 'inv.yaml')}, or use { env: NAME } or { file: path } instead`,
      },
    ]);
    expect(JSON.stringify(inv.warnings)).not.toContain('plain-Kx93mm');
  });

  test('a missing environment variable or file is an error at its line that names it', () => {
    const file = fixture('missing-env.yaml');
    const [env, missing] = problems(() => loadInventory(file));
    expect(env).toBe(
      [
        `${file}:3:22: environment variable RUNBOOK_TEST_NEVER_SET is not set (host "node1" password reads it)`,
        '  3 |     password: { env: RUNBOOK_TEST_NEVER_SET }',
        '                           ^',
        'hint: set it before running runbook: export RUNBOOK_TEST_NEVER_SET=…',
      ].join('\n'),
    );
    expect(missing).toContain(
      `${file}:5:25: secret file ./secrets/no-such-file (${fixture('secrets/no-such-file')}) does not exist (host "node2" passphrase reads it)`,
    );
  });

  test('errors about a secret never contain its value', () => {
    withEnv({ RUNBOOK_TEST_EMPTY: '', RUNBOOK_TEST_SET: 'never-show-Qp4' });
    const dir = tempFiles({
      'inv.yaml': 'vars:\n  a: { env: RUNBOOK_TEST_EMPTY }\n  b: { env: RUNBOOK_TEST_SET }\nhosts:\n  h:\n    password: { enf: RUNBOOK_TEST_SET }\n    passphrase: 1234\n',
    });
    const path = join(dir, 'inv.yaml');
    const texts = problems(() => loadInventory(path));
    expect(texts.map((t) => t.split('\n')[0])).toEqual([
      `${path}:2:13: environment variable RUNBOOK_TEST_EMPTY is empty (var "a" reads it)`,
      `${path}:6:17: host "h" password must be { env: NAME } or { file: path }, with exactly one key`,
      `${path}:7:17: host "h" passphrase must be text`,
    ]);
    expect(texts[1]).toContain('hint: did you mean "env"?');
    expect(texts.join('\n')).not.toContain('never-show-Qp4');
  });

  test('a secret file others can read gets a warning; an empty one is an error', () => {
    const dir = tempFiles({
      'inv.yaml': 'hosts:\n  a:\n    password: { file: pw }\n  b:\n    password: { file: empty }\n',
      pw: { text: 'from-file-Lm3\n', mode: 0o644 },
      empty: '\n',
    });
    const path = join(dir, 'inv.yaml');
    const [text] = problems(() => loadInventory(path));
    expect(text).toContain(`${path}:5:23: secret file ${join(dir, 'empty')} is empty (host "b" password reads it)`);

    const ok = tempFiles({ 'inv.yaml': 'hosts:\n  a:\n    password: { file: pw }\n', pw: { text: 'from-file-Lm3\n', mode: 0o644 } });
    const inv = loadInventory(join(ok, 'inv.yaml'));
    expect(inv.warnings?.map((w) => w.message)).toEqual([`secret file ${join(ok, 'pw')} can be read by other users`]);
  });

  test('only a var\'s own value is a secret reference, not mappings nested inside it', () => {
    const dir = tempFiles({ 'inv.yaml': 'vars:\n  logging: { output: { file: out.log } }\nhosts:\n  a:\n' });
    expect(loadInventory(join(dir, 'inv.yaml')).vars.logging).toEqual({ output: { file: 'out.log' } });
  });
});
