// known_hosts files here are made and read by OpenSSH's own ssh-keygen, so
// the parser is checked against the real format, hashed names included.

import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appendKnownHosts,
  checkHostKey,
  entryMatchesHost,
  fingerprint,
  formatKnownHostLine,
  keyTypeOf,
  knownHostName,
  knownKeyTypes,
  parseKnownHosts,
} from '../../../engine/connection/known-hosts.js';

let dir: string;
const keys: Record<'ed25519' | 'ecdsa' | 'rsa' | 'other', { blob: Buffer; line: string; pubFile: string }> = {} as never;

function makeKey(name: keyof typeof keys, type: string): void {
  const file = join(dir, `key_${name}`);
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-C', '', '-f', file]);
  const line = readFileSync(`${file}.pub`, 'utf8').trim();
  keys[name] = { blob: Buffer.from(line.split(' ')[1]!, 'base64'), line, pubFile: `${file}.pub` };
}

/** Asks ssh-keygen itself whether a known_hosts file has a host. */
function sshKeygenFinds(file: string, hostName: string): boolean {
  try {
    execFileSync('ssh-keygen', ['-F', hostName, '-f', file], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'runbook-known-hosts-'));
  makeKey('ed25519', 'ed25519');
  makeKey('ecdsa', 'ecdsa');
  makeKey('rsa', 'rsa');
  makeKey('other', 'ed25519');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const pub = (name: keyof typeof keys) => keys[name].line.split(' ').slice(0, 2).join(' ');

describe('names and fingerprints', () => {
  it('names hosts off port 22 with brackets, as OpenSSH does', () => {
    expect(knownHostName('db1.example', 22)).toBe('db1.example');
    expect(knownHostName('127.0.0.1', 2222)).toBe('[127.0.0.1]:2222');
  });

  it('computes the fingerprint ssh-keygen prints', () => {
    for (const name of ['ed25519', 'ecdsa', 'rsa'] as const) {
      const printed = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', keys[name].pubFile], { encoding: 'utf8' });
      expect(printed).toContain(fingerprint(keys[name].blob));
    }
  });

  it('reads the key type from the blob', () => {
    expect(keyTypeOf(keys.ed25519.blob)).toBe('ssh-ed25519');
    expect(keyTypeOf(keys.ecdsa.blob)).toBe('ecdsa-sha2-nistp256');
    expect(keyTypeOf(keys.rsa.blob)).toBe('ssh-rsa');
    expect(keyTypeOf(Buffer.from([0, 0]))).toBe('unknown');
  });
});

describe('parseKnownHosts', () => {
  it('reads plain, bracketed, marked and commented lines and skips junk', () => {
    const text = [
      '# a comment',
      '',
      `db1,10.0.0.1 ${pub('ed25519')} root@db1`,
      `[127.0.0.1]:2222 ${pub('ecdsa')}`,
      `@revoked * ${pub('other')}`,
      '@cert-authority *.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      'not a valid line',
      'host ssh-ed25519 !!!notbase64',
    ].join('\n');
    const entries = parseKnownHosts(text);
    expect(entries.map((e) => [e.line, e.marker, e.hosts, e.keyType])).toEqual([
      [3, undefined, 'db1,10.0.0.1', 'ssh-ed25519'],
      [4, undefined, '[127.0.0.1]:2222', 'ecdsa-sha2-nistp256'],
      [5, '@revoked', '*', 'ssh-ed25519'],
      [6, '@cert-authority', '*.example', 'ssh-ed25519'],
    ]);
    expect(entries[0]!.key.equals(keys.ed25519.blob)).toBe(true);
  });

  it('matches names hashed by ssh-keygen -H', () => {
    const file = join(dir, 'hashed');
    writeFileSync(file, `[127.0.0.1]:2222 ${pub('ed25519')}\ndb1.example ${pub('rsa')}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'pipe' });
    const entries = parseKnownHosts(readFileSync(file, 'utf8'));
    expect(entries.every((e) => e.hosts.startsWith('|1|'))).toBe(true);
    expect(checkHostKey(entries, { address: '127.0.0.1', port: 2222, key: keys.ed25519.blob }).status).toBe('known');
    expect(checkHostKey(entries, { address: 'DB1.example', port: 22, key: keys.rsa.blob }).status).toBe('known');
    expect(checkHostKey(entries, { address: '127.0.0.1', port: 22, key: keys.ed25519.blob }).status).toBe('unknown');
    expect(checkHostKey(entries, { address: '127.0.0.1', port: 2223, key: keys.ed25519.blob }).status).toBe('unknown');
  });

  it('applies wildcards and negations like OpenSSH', () => {
    const entry = { hosts: '*.prod.example,!bastion.prod.example,10.1.?.5' };
    expect(entryMatchesHost(entry, 'db1.prod.example')).toBe(true);
    expect(entryMatchesHost(entry, 'bastion.prod.example')).toBe(false);
    expect(entryMatchesHost(entry, '10.1.2.5')).toBe(true);
    expect(entryMatchesHost(entry, '10.1.22.5')).toBe(false);
    expect(entryMatchesHost(entry, 'prod.example')).toBe(false);
    expect(entryMatchesHost({ hosts: '[10.0.0.*]:2222' }, '[10.0.0.7]:2222')).toBe(true);
    expect(entryMatchesHost({ hosts: '[10.0.0.*]:2222' }, '10.0.0.7')).toBe(false);
    expect(entryMatchesHost({ hosts: 'a.b' }, 'aXb')).toBe(false);
  });
});

describe('checkHostKey', () => {
  const entries = () =>
    parseKnownHosts(
      [
        `[127.0.0.1]:2222 ${pub('ed25519')}`,
        `[127.0.0.1]:2222 ${pub('rsa')}`,
        `@revoked [127.0.0.1]:2224 ${pub('ecdsa')}`,
      ].join('\n'),
    );

  it('knows a recorded key, whichever of the host\'s types the server shows', () => {
    expect(checkHostKey(entries(), { address: '127.0.0.1', port: 2222, key: keys.rsa.blob })).toMatchObject({ status: 'known', entry: { line: 2 } });
    expect(checkHostKey(entries(), { address: '127.0.0.1', port: 2222, key: keys.ed25519.blob }).status).toBe('known');
  });

  it('calls a different key of a recorded type changed, naming the line', () => {
    expect(checkHostKey(entries(), { address: '127.0.0.1', port: 2222, key: keys.other.blob })).toMatchObject({
      status: 'changed',
      entries: [{ line: 1 }],
    });
  });

  it('calls a key of a type not recorded for the host unknown, listing the recorded types', () => {
    expect(checkHostKey(entries(), { address: '127.0.0.1', port: 2222, key: keys.ecdsa.blob })).toEqual({
      status: 'unknown',
      knownTypes: ['ssh-ed25519', 'ssh-rsa'],
    });
    expect(knownKeyTypes(entries(), '127.0.0.1', 2222)).toEqual(['ssh-ed25519', 'ssh-rsa']);
  });

  it('refuses revoked keys', () => {
    expect(checkHostKey(entries(), { address: '127.0.0.1', port: 2224, key: keys.ecdsa.blob }).status).toBe('revoked');
  });
});

describe('appendKnownHosts', () => {
  it('writes several hosts in one atomic write that ssh-keygen can read back', async () => {
    const file = join(dir, 'append-several');
    writeFileSync(file, `# keep me\nold.example ${pub('rsa')}`); // no trailing newline on purpose
    chmodSync(file, 0o640);
    const inodeBefore = statSync(file).ino;
    await appendKnownHosts(file, [
      { address: '127.0.0.1', port: 2222, key: keys.ed25519.blob },
      { address: '127.0.0.1', port: 2222, key: keys.ed25519.blob },
      { address: 'db2.example', port: 22, key: keys.ecdsa.blob },
      { address: 'old.example', port: 22, key: keys.rsa.blob },
    ]);
    const text = readFileSync(file, 'utf8');
    expect(text).toBe(
      [
        '# keep me',
        `old.example ${pub('rsa')}`,
        formatKnownHostLine({ address: '127.0.0.1', port: 2222, key: keys.ed25519.blob }),
        formatKnownHostLine({ address: 'db2.example', port: 22, key: keys.ecdsa.blob }),
        '',
      ].join('\n'),
    );
    // A new inode means the file was replaced by rename, never rewritten in place.
    expect(statSync(file).ino).not.toBe(inodeBefore);
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(sshKeygenFinds(file, '[127.0.0.1]:2222')).toBe(true);
    expect(sshKeygenFinds(file, 'db2.example')).toBe(true);
  });

  it('creates a missing file (and directory) with private permissions', async () => {
    const file = join(dir, 'new-dir', 'known_hosts');
    await appendKnownHosts(file, [{ address: '10.0.0.9', port: 22, key: keys.ed25519.blob }]);
    expect(readFileSync(file, 'utf8')).toBe(`10.0.0.9 ${pub('ed25519')}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('loses no line when appends race each other', async () => {
    const file = join(dir, 'append-race');
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => appendKnownHosts(file, [{ address: `10.0.1.${i}`, port: 22, key: keys.ed25519.blob }])),
    );
    const entries = parseKnownHosts(readFileSync(file, 'utf8'));
    expect(entries.map((e) => e.hosts).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `10.0.1.${i}`).sort());
  });
});
