// The host-side hash records (modules/lib/remote-files.ts, "Hash records"):
// the shell that upload and unzip send is run here with the local /bin/sh
// against real files, so what is tested is the script itself, not its text.
// test/integration/modules-files.test.ts proves the same on a lab host over SSH.

import { spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createModuleContext } from '../../../engine/context.js';
import { localSha256, parseStat, recordScript, statCommand, type StatOptions } from '../../../modules/lib/remote-files.js';
import unzip from '../../../modules/unzip.js';
import upload from '../../../modules/upload.js';
import { FakeConnection, sha256 } from '../../support/fake-connection.js';

let tmp: string;
let home: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'runbook-records-'));
  home = join(tmp, 'home');
  mkdirSync(home);
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

function sh(script: string): string {
  const res = spawnSync('/bin/sh', ['-c', script], { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home }, encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`sh exited ${res.status}: ${res.stderr}`);
  return res.stdout;
}

/** upload's look at `path`: the parsed stat, and whether the sha256 came from the record. */
function look(path: string, records: StatOptions['records'] = 'use-and-save'): { sha256: string | undefined; fromRecord: boolean } {
  const out = sh(statCommand(path, { hash: true, records }));
  return { sha256: parseStat(out, { hash: true })?.sha256, fromRecord: / record\n$/.test(out) };
}

const recordsDir = () => join(home, '.cache', 'runbook', 'sha256');
const records = () => {
  try {
    return readdirSync(recordsDir());
  } catch {
    return [];
  }
};

describe('hash records on the host', () => {
  test('the first look hashes and records the identity; the next one answers from the record, in a folder only the user can read', () => {
    const f = join(tmp, 'pkg.zip');
    writeFileSync(f, 'archive bytes v1');
    expect(look(f)).toEqual({ sha256: sha256('archive bytes v1'), fromRecord: false });
    expect(records()).toEqual([sha256(f)]);
    const line = readFileSync(join(recordsDir(), sha256(f)), 'utf8');
    const st = statSync(f, { bigint: true });
    expect(line).toMatch(new RegExp(`^${st.dev}:${st.ino}:16:\\d+\\.\\d{9}:\\d+\\.\\d{9} ${sha256('archive bytes v1')}\\n$`));
    expect(statSync(recordsDir()).mode & 0o777).toBe(0o700);
    expect(statSync(join(recordsDir(), sha256(f))).mode & 0o777).toBe(0o600);

    expect(look(f)).toEqual({ sha256: sha256('archive bytes v1'), fromRecord: true });
  });

  test('a record that matches the identity is believed: the file is not read at all', () => {
    const f = join(tmp, 'pkg.zip');
    writeFileSync(f, 'real content');
    look(f);
    const rec = join(recordsDir(), sha256(f));
    const [identity] = readFileSync(rec, 'utf8').split(' ');
    writeFileSync(rec, `${identity} ${'ab'.repeat(32)}\n`);
    expect(look(f)).toEqual({ sha256: 'ab'.repeat(32), fromRecord: true });
  });

  test('new content of the same size with the mtime put back (touch -d) is hashed again: ctime moved', () => {
    const f = join(tmp, 'pkg.zip');
    writeFileSync(f, 'content AAAA');
    look(f);
    const mtime = sh(`stat -c %y -- '${f}'`).trim();
    sh(`printf 'content BBBB' > '${f}' && touch -d '${mtime}' -- '${f}'`);
    expect(sh(`stat -c %y -- '${f}'`).trim()).toBe(mtime);
    expect(look(f)).toEqual({ sha256: sha256('content BBBB'), fromRecord: false });
    // And the new content is what is recorded now.
    expect(look(f)).toEqual({ sha256: sha256('content BBBB'), fromRecord: true });
  });

  test('a file replaced by another (mv over it) or only chmod-ed is hashed again', () => {
    const f = join(tmp, 'pkg.zip');
    writeFileSync(f, 'one');
    look(f);
    sh(`chmod 600 -- '${f}'`);
    expect(look(f).fromRecord).toBe(false);
    writeFileSync(join(tmp, 'other'), 'two');
    sh(`mv -f -- '${join(tmp, 'other')}' '${f}'`);
    expect(look(f)).toEqual({ sha256: sha256('two'), fromRecord: false });
  });

  test('check mode reads records but writes none', () => {
    const f = join(tmp, 'pkg.zip');
    writeFileSync(f, 'x');
    expect(look(f, 'use')).toEqual({ sha256: sha256('x'), fromRecord: false });
    expect(records()).toEqual([]);
  });

  test('a corrupt record is ignored and replaced', () => {
    const f = join(tmp, 'pkg.zip');
    writeFileSync(f, 'x');
    look(f);
    const rec = join(recordsDir(), sha256(f));
    const [identity] = readFileSync(rec, 'utf8').split(' ');
    writeFileSync(rec, `${identity} not-a-sha256\n`);
    expect(look(f)).toEqual({ sha256: sha256('x'), fromRecord: false });
    expect(look(f).fromRecord).toBe(true);
  });

  test.skipIf(process.getuid?.() !== 0)('a record the user does not own is not trusted, and none is written into a home the user does not own', () => {
    const f = join(tmp, 'pkg.zip');
    writeFileSync(f, 'x');
    look(f);
    const rec = join(recordsDir(), sha256(f));
    chownSync(rec, 65534, 65534);
    expect(look(f).fromRecord).toBe(false);
    rmSync(recordsDir(), { recursive: true });
    chownSync(home, 65534, 65534);
    expect(look(f).fromRecord).toBe(false);
    expect(records()).toEqual([]);
  });

  test('recordScript records a file runbook has just written, so the next look needs no hash', () => {
    const f = join(tmp, "it's here.zip");
    writeFileSync(f, 'uploaded');
    sh(recordScript(f, sha256('uploaded')));
    expect(look(f)).toEqual({ sha256: sha256('uploaded'), fromRecord: true });
  });
});

describe('upload and unzip share the record of a path', () => {
  test('a record-backed look makes upload ok, and unzip (in another run) consults the same record', async () => {
    writeFileSync(join(tmp, 'pkg.zip'), 'zip bytes');
    const sum = sha256('zip bytes');
    const ctx = (conn: FakeConnection) => createModuleContext({ host: { name: 'h1', address: '198.19.0.11' }, vars: {}, conn, baseDir: tmp });

    const up = new FakeConnection([
      { run: statCommand('/opt/pkg.zip', { hash: true, records: 'use-and-save' }), stdout: `regular file|644|root|root|0|0|9\n${sum} record\n` },
    ]);
    const r1 = await upload.run(ctx(up), upload.schema.parse({ src: 'pkg.zip', dest: '/opt/pkg.zip' }));
    expect(r1.status).toBe('ok');
    expect(r1.msg).toBe(`remote file already has sha256 ${sum.slice(0, 12)}…`);
    up.assertDone();

    // A fresh run cache, as in a later run: unzip looks the hash up in the same record file.
    const recordFile = `"$HOME/.cache/runbook/sha256/${sha256('/opt/pkg.zip')}"`;
    expect(up.executed[0]!.command).toContain(recordFile);
    const un = new FakeConnection([{ match: '^for c in unzip; ', stdout: `sha256 ${sum}\n/opt/app/.runbook-unzip\n` }]);
    const r2 = await unzip.run(ctx(un), unzip.schema.parse({ src: '/opt/pkg.zip', dest: '/opt', rename_to: 'app' }));
    expect(r2.status).toBe('ok');
    expect(un.executed[0]!.command).toContain(recordFile);
    un.assertDone();
  });
});

describe('hash records on the controller (the local side of upload)', () => {
  const saved = process.env['RUNBOOK_HOME'];
  beforeEach(() => {
    process.env['RUNBOOK_HOME'] = join(tmp, 'runbook-home');
  });
  afterEach(() => {
    if (saved === undefined) delete process.env['RUNBOOK_HOME'];
    else process.env['RUNBOOK_HOME'] = saved;
  });
  /** A new run: a fresh run cache each time. */
  const hashOnce = (path: string) => localSha256(createModuleContext({ host: { name: 'h1', address: '198.19.0.11' }, vars: {}, conn: new FakeConnection(), baseDir: tmp }), path);
  const recordFile = (path: string) => join(tmp, 'runbook-home', 'cache', 'sha256', sha256(path));

  test('the first run hashes and records; a later run believes a record whose identity matches; a same-size rewrite with the old mtime is hashed again', async () => {
    const f = join(tmp, 'pkg.zip');
    writeFileSync(f, 'package v1');
    expect(await hashOnce(f)).toBe(sha256('package v1'));
    const [identity, sum] = readFileSync(recordFile(f), 'utf8').trim().split(' ');
    expect(sum).toBe(sha256('package v1'));
    expect(statSync(recordFile(f)).mode & 0o777).toBe(0o600);

    // Believed without reading the file: a forged sum for the same identity comes back.
    writeFileSync(recordFile(f), `${identity} ${'cd'.repeat(32)}\n`);
    expect(await hashOnce(f)).toBe('cd'.repeat(32));

    const mtime = sh(`stat -c %y -- '${f}'`).trim();
    writeFileSync(f, 'package v2');
    sh(`touch -d '${mtime}' -- '${f}'`);
    expect(sh(`stat -c %y -- '${f}'`).trim()).toBe(mtime);
    expect(await hashOnce(f)).toBe(sha256('package v2'));
  });
});
