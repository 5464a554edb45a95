// Table-driven cases for the file-moving modules (one YAML file per case under
// test/unit/modules/<module>/), plus what a case file cannot express: a
// transfer that fails midway, transfers refused by the SSH user's permissions
// (become), progress events, the run-wide hash cache, a directory fetch with a
// real archive, and secrets in template diffs.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { DownloadOptions, ModuleDef, UploadOptions } from '../../../engine/api.js';
import { createModuleContext, type ContextEvent } from '../../../engine/context.js';
import { Secret } from '../../../engine/secret.js';
import fetch from '../../../modules/fetch.js';
import file from '../../../modules/file.js';
import template from '../../../modules/template.js';
import unzip from '../../../modules/unzip.js';
import upload from '../../../modules/upload.js';
import { statCommand } from '../../../modules/lib/remote-files.js';
import { FakeConnection, sha256, type ExpectedCommand } from '../../support/fake-connection.js';
import { runModuleCases } from '../../support/module-cases.js';

const cases = (name: string) => join(import.meta.dirname, name);

describe('upload', () => runModuleCases(upload, cases('upload')));
describe('template', () => runModuleCases(template, cases('template')));
describe('file', () => runModuleCases(file, cases('file')));
describe('fetch', () => runModuleCases(fetch, cases('fetch')));
describe('unzip', () => runModuleCases(unzip, cases('unzip')));

// The schema is the documentation; its examples must be valid against it.
test.each([upload, unzip, template, file, fetch].flatMap((m) => m.examples.map((e) => [m.name, e.title, e.yaml, m] as const)))(
  '%s example "%s" is valid',
  (name, _title, yaml, mod) => {
    const doc = parse(yaml) as Record<string, unknown>;
    expect(Object.keys(doc)).toEqual([name]);
    const parsed = (mod as ModuleDef).schema.safeParse(doc[name]);
    expect(parsed.success, parsed.error?.message).toBe(true);
  },
);

/** A fake host whose SFTP side refuses some paths, as an unprivileged SSH user's would. */
class RestrictedHost extends FakeConnection {
  constructor(
    expected: ExpectedCommand[],
    readonly refuse: (path: string) => Error | undefined,
  ) {
    super(expected);
  }

  override async upload(source: string | Buffer, remotePath: string, opts: UploadOptions = {}): Promise<void> {
    const err = this.refuse(remotePath);
    if (err) throw err;
    return super.upload(source, remotePath, opts);
  }

  override async download(remotePath: string, localPath: string, opts: DownloadOptions = {}): Promise<void> {
    const err = this.refuse(remotePath);
    if (err) throw err;
    return super.download(remotePath, localPath, opts);
  }
}

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'runbook-files-test-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

function context(conn: FakeConnection, o: { vars?: Record<string, unknown>; diff?: boolean; become?: boolean; events?: ContextEvent[]; runCache?: Map<string, unknown> } = {}) {
  return createModuleContext({
    host: { name: 'h1', address: '198.19.0.10' },
    vars: o.vars ?? {},
    conn,
    diff: o.diff,
    become: o.become,
    baseDir: tmp,
    runCache: o.runCache,
    onEvent: o.events ? (e) => o.events!.push(e) : undefined,
  });
}

const run = (mod: ModuleDef, args: unknown, ctx: ReturnType<typeof context>) => mod.run(ctx, mod.schema.parse(args));

const probe = (path: string) =>
  `p=${path}; [ -e "$p" ] || [ -L "$p" ] || { echo absent; exit 0; }; LC_ALL=C stat -c '%F|%a|%U|%G|%u|%g|%s' -- "$p" && { [ -L "$p" ] || [ ! -f "$p" ] || sha256sum < "$p"; }`;
/** upload's look at a file also consults the host's hash record (see hash-records.test.ts). */
const uploadProbe = (path: string) => statCommand(path, { hash: true, records: 'use-and-save' });
const TEMP = '\\.app\\.conf\\.runbook-tmp-[0-9a-f]{8}';

describe('upload, beyond the cases', () => {
  test('a transfer that fails midway removes its temporary file and reports the transfer error', async () => {
    writeFileSync(join(tmp, 'app.conf'), 'x\n');
    const conn = new RestrictedHost(
      [{ run: uploadProbe('/opt/app/app.conf'), stdout: 'absent\n' }, { match: `^rm -f -- /opt/app/${TEMP}$` }],
      () => new Error('upload to h1:/opt/app/.app.conf failed: connection reset'),
    );
    await expect(run(upload, { src: 'app.conf', dest: '/opt/app/app.conf' }, context(conn))).rejects.toThrow('connection reset');
    conn.assertDone();
  });

  test('when the SSH user may not write into the folder, the file is staged in its own temp folder and copied with become', async () => {
    writeFileSync(join(tmp, 'app.conf'), 'listen=8080\n');
    const conn = new RestrictedHost(
      [
        { run: uploadProbe('/opt/app/app.conf'), stdout: 'absent\n' },
        { run: 'mkdir -p -- /opt/app' },
        { run: 'mktemp -d', stdout: '/tmp/tmp.St4g3d\n' },
        { match: `^\\(umask 077 && cp -- /tmp/tmp\\.St4g3d/upload /opt/app/${TEMP}\\)$` },
        { run: 'rm -rf -- /tmp/tmp.St4g3d' },
        { match: `^\\{ chmod 0640 -- /opt/app/${TEMP} && mv -f -- ` },
      ],
      (path) => (path.startsWith('/opt/') ? new Error(`upload to h1:${path} failed: Permission denied`) : undefined),
    );
    const result = await run(upload, { src: 'app.conf', dest: '/opt/app/app.conf', mode: '0640' }, context(conn, { become: true }));
    expect(result.status, result.msg).toBe('changed');
    conn.assertDone();
    // The staging folder is made as the SSH user (become off), so the transfer can write into it; the rest runs under sudo.
    expect(conn.executed.map((e) => [e.command.slice(0, 12), e.opts.become])).toEqual([
      [uploadProbe('/opt/app/app.conf').slice(0, 12), true],
      ['mkdir -p -- ', true],
      ['mktemp -d', false],
      ['(umask 077 &', true],
      ['rm -rf -- /t', true],
      ['{ chmod 0640', true],
    ]);
    expect(conn.uploads.map((u) => [u.remotePath, u.content.toString(), u.mode, u.makeParents, u.then])).toEqual([['/tmp/tmp.St4g3d/upload', 'listen=8080\n', 0o640, false, undefined]]);
  });

  test('without become, the folder is made and the file renamed into place in the upload\'s own session', async () => {
    writeFileSync(join(tmp, 'app.conf'), 'listen=8080\n');
    const conn = new FakeConnection([{ run: uploadProbe('/opt/app/app.conf'), stdout: 'absent\n' }, { match: `^\\{ chmod 0640 -- /opt/app/${TEMP} && mv -f -- ` }]);
    const result = await run(upload, { src: 'app.conf', dest: '/opt/app/app.conf', mode: '0640' }, context(conn));
    expect(result.status, result.msg).toBe('changed');
    conn.assertDone();
    expect(conn.uploads).toHaveLength(1);
    expect(conn.uploads[0]!.makeParents).toBe(true);
    expect(conn.uploads[0]!.then).toMatch(new RegExp(`^\\{ chmod 0640 -- /opt/app/${TEMP} && mv -f -- /opt/app/${TEMP} /opt/app/app\\.conf `));
  });

  test('without become, a folder the SSH user may not write is still reached through staging, and the rename follows the copy', async () => {
    writeFileSync(join(tmp, 'app.conf'), 'listen=8080\n');
    const conn = new RestrictedHost(
      [
        { run: uploadProbe('/opt/app/app.conf'), stdout: 'absent\n' },
        { run: 'mktemp -d', stdout: '/tmp/tmp.St4g3d\n' },
        { match: `^mkdir -p -- /opt/app && \\(umask 077 && cp -- /tmp/tmp\\.St4g3d/upload /opt/app/${TEMP}\\)$` },
        { match: `^\\{ mv -f -- /opt/app/${TEMP} /opt/app/app\\.conf ` },
        { run: 'rm -rf -- /tmp/tmp.St4g3d' },
      ],
      (path) => (path.startsWith('/opt/') ? new Error(`upload to h1:${path} failed: Permission denied`) : undefined),
    );
    const result = await run(upload, { src: 'app.conf', dest: '/opt/app/app.conf' }, context(conn));
    expect(result.status, result.msg).toBe('changed');
    conn.assertDone();
    expect(conn.uploads.map((u) => [u.remotePath, u.makeParents, u.then])).toEqual([['/tmp/tmp.St4g3d/upload', false, undefined]]);
  });

  test('progress is reported as bytes of the whole transfer, labelled with the destination', async () => {
    writeFileSync(join(tmp, 'app.conf'), 'listen=8080\n');
    const events: ContextEvent[] = [];
    const conn = new FakeConnection([{ run: uploadProbe('/opt/app/app.conf'), stdout: 'absent\n' }, { match: '^\\{ mv -f -- ' }]);
    await run(upload, { src: 'app.conf', dest: '/opt/app/app.conf' }, context(conn, { events }));
    expect(events).toEqual([{ type: 'progress', host: 'h1', bytes: 12, total: 12, label: '/opt/app/app.conf' }]);
  });

  test('the local sha256 is computed once per run, shared by every host, and again when the file changes', async () => {
    const src = join(tmp, 'app.conf');
    writeFileSync(src, 'listen=8080\n');
    const runCache = new Map<string, unknown>();
    const sum = sha256('listen=8080\n');
    const same = `regular file|644|a|a|1|1|12\n${sum}  -\n`;
    for (let host = 0; host < 3; host++) {
      const conn = new FakeConnection([{ run: uploadProbe('/opt/app/app.conf'), stdout: same }]);
      expect((await run(upload, { src: 'app.conf', dest: '/opt/app/app.conf' }, context(conn, { runCache }))).status).toBe('ok');
    }
    // One local hash for every host (the cache also remembers each host's verified remote sha256).
    expect([...runCache.keys()].filter((k) => k.startsWith('sha256:'))).toEqual([expect.stringMatching(/^sha256:.*\/app\.conf:12:/)]);

    writeFileSync(src, 'listen=9090\n');
    // Check mode reads the host's hash record but never writes one.
    const conn = new FakeConnection([{ run: statCommand('/opt/app/app.conf', { hash: true, records: 'use' }), stdout: same }]);
    const result = await run(upload, { src: 'app.conf', dest: '/opt/app/app.conf' }, { ...context(conn, { runCache }), check: true });
    expect(result.msg).toContain(`→ ${sha256('listen=9090\n').slice(0, 12)}…`);
  });
});

describe('template, beyond the cases', () => {
  test('the diff never shows a secret, though the file gets its real value', async () => {
    mkdirSync(join(tmp, 'templates'));
    writeFileSync(join(tmp, 'templates', 'users.conf.hbs'), 'user=root\npassword={{ pw }}\n');
    const pw = new Secret('Tr0ub4dor&3-unit');
    const conn = new FakeConnection([
      { run: probe('/etc/users.conf'), stdout: `regular file|600|root|root|0|0|30\n${sha256('old')}  -\n` },
      { run: 'cat -- /etc/users.conf', stdout: 'user=root\npassword=Tr0ub4dor&3-unit-old\n' },
      { match: '^\\{ chmod 0600 -- ' },
    ]);
    const result = await run(template, { src: 'users.conf.hbs', dest: '/etc/users.conf' }, context(conn, { vars: { pw }, diff: true }));
    expect(result.status).toBe('changed');
    expect(result.diff).toContain('-password=********-old\n+password=********\n');
    expect(result.diff).not.toContain('Tr0ub4dor');
    expect(conn.uploads[0]?.content.toString()).toBe('user=root\npassword=Tr0ub4dor&3-unit\n');
  });
});

describe('fetch, beyond the cases', () => {
  test('a directory is packed on the host, downloaded once, unpacked beside the local copy and swapped in; the archive is removed', async () => {
    // The archive the host would make: ./conf with two files.
    const staging = join(tmp, 'staging', 'conf');
    mkdirSync(join(staging, 'sub'), { recursive: true });
    writeFileSync(join(staging, 'a.txt'), 'a\n');
    writeFileSync(join(staging, 'sub', 'b.txt'), 'b\n');
    const archive = join(tmp, 'conf.tar.gz');
    execFileSync('tar', ['-czf', archive, '-C', join(tmp, 'staging'), './conf']);
    // A stale local copy with a file that is gone on the host.
    mkdirSync(join(tmp, 'out', 'conf'), { recursive: true });
    writeFileSync(join(tmp, 'out', 'conf', 'stale.txt'), 'old');

    const conn = new FakeConnection([
      { run: `p=/opt/app/conf; [ -e "$p" ] || { echo absent; exit 0; }; LC_ALL=C stat -L -c '%F|%a|%U|%G|%u|%g|%s' -- "$p" && { [ ! -f "$p" ] || sha256sum < "$p"; }`, stdout: 'directory|755|a|a|1|1|4096\n' },
      {
        match: '^d=/opt/app/conf; ',
        stdout: `directory|755|a|a|1|1|4096|.\nregular file|644|a|a|1|1|2|./a.txt\ndirectory|755|a|a|1|1|4096|./sub\nregular file|644|a|a|1|1|2|./sub/b.txt\n--sha256--\n${sha256('a\n')}  ./a.txt\n${sha256('b\n')}  ./sub/b.txt\n`,
      },
      { run: 'mktemp', stdout: '/tmp/tmp.Arch1v\n' },
      { run: 'tar -czf /tmp/tmp.Arch1v -C /opt/app ./conf' },
      { run: 'rm -f -- /tmp/tmp.Arch1v' },
    ]);
    conn.remoteFiles.set('/tmp/tmp.Arch1v', readFileSync(archive));
    const result = await run(fetch, { src: '/opt/app/conf', dest: 'out/', flat: true, limit_kbit: 1000 }, context(conn));
    expect(result).toMatchObject({ status: 'changed', msg: `fetched /opt/app/conf (2 files, 4 B) to ${join(tmp, 'out', 'conf')}` });
    conn.assertDone();
    expect(conn.executed.find((e) => e.command === 'mktemp')?.opts.become).toBe(false);
    expect(conn.downloads[0]?.opts.limitKbit).toBe(1000);
    expect(readFileSync(join(tmp, 'out', 'conf', 'sub', 'b.txt'), 'utf8')).toBe('b\n');
    expect(execFileSync('find', ['.'], { cwd: join(tmp, 'out'), encoding: 'utf8' }).split('\n').filter(Boolean).sort()).toEqual([
      '.',
      './conf',
      './conf/a.txt',
      './conf/sub',
      './conf/sub/b.txt',
    ]);
  });

  test('a file the SSH user may not read is copied with become into a file of its own, downloaded, and the copy removed', async () => {
    const conn = new RestrictedHost(
      [
        { run: `p=/var/lib/db/key; [ -e "$p" ] || { echo absent; exit 0; }; LC_ALL=C stat -L -c '%F|%a|%U|%G|%u|%g|%s' -- "$p" && { [ ! -f "$p" ] || sha256sum < "$p"; }`, stdout: `regular file|600|root|root|0|0|4\n${sha256('key\n')}  -\n` },
        { run: 'mktemp', stdout: '/tmp/tmp.C0py\n' },
        { run: 'cat -- /var/lib/db/key > /tmp/tmp.C0py' },
        { run: 'rm -f -- /tmp/tmp.C0py' },
      ],
      (path) => (path === '/var/lib/db/key' ? new Error('download of h1:/var/lib/db/key failed: Permission denied') : undefined),
    );
    conn.remoteFiles.set('/tmp/tmp.C0py', Buffer.from('key\n'));
    const result = await run(fetch, { src: '/var/lib/db/key', dest: 'keys/key', flat: true }, context(conn));
    expect(result.status, result.msg).toBe('changed');
    conn.assertDone();
    expect(readFileSync(join(tmp, 'keys', 'key'), 'utf8')).toBe('key\n');
  });
});
