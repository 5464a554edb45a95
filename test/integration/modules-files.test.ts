// upload, unzip, template, file and fetch against real hosts: the controller
// itself (LocalConnection, whose /bin/sh is dash here) and a throwaway sshd on
// 127.0.0.1 (SshConnection), logged in as its unprivileged test account. Both
// are this machine, so the tests check what the modules claim by looking at
// the files directly.

import { execFileSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { chmodSync, chownSync, closeSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Connection, ModuleDef, ModuleResult } from '../../engine/api.js';
import { LocalConnection } from '../../engine/connection/local.js';
import { SshConnection } from '../../engine/connection/ssh.js';
import { createModuleContext, type ContextEvent } from '../../engine/context.js';
import { Secret } from '../../engine/secret.js';
import { sh } from '../../engine/quote.js';
import fetch from '../../modules/fetch.js';
import file from '../../modules/file.js';
import template from '../../modules/template.js';
import unzip from '../../modules/unzip.js';
import upload from '../../modules/upload.js';
import { useLab } from '../support/lab.js';
import { sshTarget, startSshd, type TestSshd } from '../support/sshd.js';

const dir = mkdtempSync(join(tmpdir(), 'runbook-modules-files-'));
// The ssh test account must be able to reach the folders handed to it.
chmodSync(dir, 0o755);
let sshd: TestSshd | undefined;

beforeAll(async () => {
  sshd = await startSshd();
});

/** A folder the ssh test account owns, as a deploy user would own its application folders. */
function ownedByTestAccount(path: string): string {
  mkdirSync(path, { recursive: true });
  const id = (flag: string) => Number(execFileSync('id', [flag, sshd!.user], { encoding: 'utf8' }).trim());
  chownSync(path, id('-u'), id('-g'));
  return path;
}

afterAll(async () => {
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const openSsh = (): Promise<SshConnection> => SshConnection.connect(sshTarget(sshd!));

interface Transport {
  name: string;
  open(): Promise<Connection>;
  /** The account the host side runs as. */
  user(): string;
  /** Make a folder the host side may write to. */
  area(path: string): string;
  /** After the transport's tests. */
  done?(): void;
}

// upload and unzip keep hash records under $HOME/.cache/runbook on the host;
// for the controller-as-host that is this process's HOME, pointed into the
// test folder while the local tests run so nothing is left in the real one.
const localHome = join(dir, 'local-home');
const realHome = process.env['HOME'];

const transports: Transport[] = [
  {
    name: 'local',
    open: async () => {
      mkdirSync(localHome, { recursive: true });
      process.env['HOME'] = localHome;
      return new LocalConnection();
    },
    done: () => {
      if (realHome === undefined) delete process.env['HOME'];
      else process.env['HOME'] = realHome;
    },
    user: () => 'root',
    area: (path) => {
      mkdirSync(path, { recursive: true });
      return path;
    },
  },
  { name: 'ssh', open: openSsh, user: () => sshd!.user, area: ownedByTestAccount },
];

interface RunOptions {
  check?: boolean;
  diff?: boolean;
  vars?: Record<string, unknown>;
  signal?: AbortSignal;
  onEvent?: (e: ContextEvent) => void;
  runCache?: Map<string, unknown>;
}

async function runModule(mod: ModuleDef, args: unknown, conn: Connection, o: RunOptions = {}): Promise<ModuleResult> {
  const ctx = createModuleContext({
    host: { name: 'h1', address: '127.0.0.1' },
    vars: o.vars ?? {},
    conn,
    check: o.check,
    diff: o.diff,
    signal: o.signal,
    onEvent: o.onEvent,
    runCache: o.runCache,
    baseDir: join(dir, 'playbook'),
  });
  return mod.run(ctx, mod.schema.parse(args));
}

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
const modeOf = (path: string): number => statSync(path).mode & 0o7777;
/** Leftover temporary files anywhere under a folder (the modules promise none). */
const leftovers = (root: string): string[] => (readdirSync(root, { recursive: true }) as string[]).filter((n) => /runbook-(tmp|unzip-)/.test(n));

function write(path: string, content: string | Buffer): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, content);
  return path;
}

/** A folder laid out like a vendor package: one top-level folder with a few files. */
function packageTree(root: string, top: string, version: string): string {
  write(join(root, top, 'sbin', 'start-standalone.sh'), `#!/bin/sh\necho ${version}\n`);
  write(join(root, top, 'conf', 'iotdb-system.properties'), `dn_rpc_port=6667\n`);
  write(join(root, top, 'lib', 'iotdb-server.jar'), `jar ${version}\n`);
  write(join(root, top, 'README'), `IoTDB ${version} (simulated)\n`);
  return root;
}

describe.each(transports)('file modules over $name', (t) => {
  let conn: Connection;
  const area = join(dir, t.name);
  const local = join(dir, 'playbook', t.name);

  beforeAll(async () => {
    t.area(area);
    mkdirSync(local, { recursive: true });
    conn = await t.open();
  });
  afterAll(async () => {
    await conn?.close();
    t.done?.();
  });

  test('upload: a new file, then ok by sha256, then replaced atomically keeping its mode', async () => {
    const src = write(join(local, 'app.conf'), 'listen=8080\n');
    const dest = join(area, 'up', 'app.conf');

    const first = await runModule(upload, { src: `${t.name}/app.conf`, dest, mode: '0640' }, conn);
    expect(first.status, first.msg).toBe('changed');
    expect(readFileSync(dest, 'utf8')).toBe('listen=8080\n');
    expect(modeOf(dest)).toBe(0o640);

    const again = await runModule(upload, { src, dest }, conn);
    expect(again).toMatchObject({ status: 'ok', msg: `remote file already has sha256 ${sha256(src).slice(0, 12)}…` });

    writeFileSync(src, 'listen=9090\n');
    const check = await runModule(upload, { src, dest }, conn, { check: true, diff: true });
    expect(check.status).toBe('changed');
    expect(check.diff).toContain('-listen=8080\n+listen=9090\n');
    expect(readFileSync(dest, 'utf8')).toBe('listen=8080\n');

    const replaced = await runModule(upload, { src, dest }, conn);
    expect(replaced.status, replaced.msg).toBe('changed');
    expect(readFileSync(dest, 'utf8')).toBe('listen=9090\n');
    expect(modeOf(dest)).toBe(0o640);
    expect(leftovers(area)).toEqual([]);
  });

  test('upload: dest ending in "/" and a directory tree; a second run is ok', async () => {
    write(join(local, 'tree', 'a.txt'), 'a\n');
    write(join(local, 'tree', 'sub', "it's b.txt"), 'b\n');
    const into = join(area, 'into') + '/';
    const first = await runModule(upload, { src: `${t.name}/tree`, dest: into }, conn);
    expect(first.msg).toBe(`uploaded to ${join(area, 'into', 'tree')}: 2 of 2 files (4 B), 2 new directories`);
    expect(readFileSync(join(area, 'into', 'tree', 'sub', "it's b.txt"), 'utf8')).toBe('b\n');

    const again = await runModule(upload, { src: `${t.name}/tree`, dest: into }, conn);
    expect(again).toMatchObject({ status: 'ok', msg: `all 2 files under ${join(area, 'into', 'tree')} already match by sha256` });
    expect(leftovers(area)).toEqual([]);
  });

  test('unzip: a zip renamed with rename_to, ok on the second run, force overlays and keeps files not in the archive', async () => {
    const top = 'apache-iotdb-1.3.0-all-bin';
    const staging = packageTree(join(dir, `${t.name}-zip-src`), top, '1.3.0');
    const archive = join(area, 'pkg', `${top}.zip`);
    mkdirSync(join(area, 'pkg'), { recursive: true });
    execFileSync('zip', ['-q', '-r', archive, top], { cwd: staging });
    const dest = join(area, 'opt');

    const first = await runModule(unzip, { src: archive, dest, rename_to: 'iotdb' }, conn);
    expect(first).toMatchObject({ status: 'changed', msg: `extracted 4 files from ${top}.zip to ${dest}/iotdb (renamed from ${top})` });
    expect(readFileSync(join(dest, 'iotdb', 'README'), 'utf8')).toBe('IoTDB 1.3.0 (simulated)\n');
    expect(readFileSync(join(dest, 'iotdb', '.runbook-unzip'), 'utf8')).toBe(`sha256 ${sha256(archive)}\n`);
    expect(statSync(join(dest, 'iotdb', 'sbin', 'start-standalone.sh')).isFile()).toBe(true);

    const again = await runModule(unzip, { src: archive, dest, rename_to: 'iotdb' }, conn);
    expect(again).toMatchObject({ status: 'ok', msg: `${top}.zip (sha256 ${sha256(archive).slice(0, 12)}…) is already extracted in ${dest}/iotdb` });

    // Data written by the service, and a config the operator edited, inside the extracted folder.
    write(join(dest, 'iotdb', 'data', 'datanode', 'wal'), 'precious');
    writeFileSync(join(dest, 'iotdb', 'README'), 'edited');
    const forced = await runModule(unzip, { src: archive, dest, rename_to: 'iotdb', force: true }, conn);
    expect(forced.msg).toBe(`extracted 4 files from ${top}.zip over the existing ${dest}/iotdb (files not in the archive were kept)`);
    expect(readFileSync(join(dest, 'iotdb', 'data', 'datanode', 'wal'), 'utf8')).toBe('precious');
    expect(readFileSync(join(dest, 'iotdb', 'README'), 'utf8')).toBe('IoTDB 1.3.0 (simulated)\n');
    expect(leftovers(dest)).toEqual([]);
  });

  test('unzip: a tar.gz with rename_to and a new version over it; an archive without one top folder is kept as it is', async () => {
    const dest = join(area, 'taos');
    const v1 = join(area, 'pkg', 'TDengine-server-3.3.1.0.tar.gz');
    const v2 = join(area, 'pkg', 'TDengine-server-3.3.2.0.tar.gz');
    mkdirSync(join(area, 'pkg'), { recursive: true });
    execFileSync('tar', ['-czf', v1, '-C', packageTree(join(dir, `${t.name}-tgz1`), 'TDengine-server-3.3.1.0', '3.3.1'), 'TDengine-server-3.3.1.0']);
    execFileSync('tar', ['-czf', v2, '-C', packageTree(join(dir, `${t.name}-tgz2`), 'TDengine-server-3.3.2.0', '3.3.2'), 'TDengine-server-3.3.2.0']);

    expect((await runModule(unzip, { src: v1, dest, rename_to: 'server' }, conn)).msg).toBe(
      `extracted 4 files from TDengine-server-3.3.1.0.tar.gz to ${dest}/server (renamed from TDengine-server-3.3.1.0)`,
    );
    expect((await runModule(unzip, { src: v1, dest, rename_to: 'server' }, conn)).status).toBe('ok');
    const upgraded = await runModule(unzip, { src: v2, dest, rename_to: 'server' }, conn);
    expect(upgraded.msg).toContain('over the existing');
    expect(readFileSync(join(dest, 'server', 'README'), 'utf8')).toBe('IoTDB 3.3.2 (simulated)\n');
    expect((await runModule(unzip, { src: v2, dest, rename_to: 'server' }, conn)).status).toBe('ok');

    // Several entries at the top: extracted as they are, with the marker beside them.
    const flat = join(area, 'pkg', 'scripts.tar');
    write(join(dir, `${t.name}-flat`, 'a.sh'), 'a');
    write(join(dir, `${t.name}-flat`, 'tools', 'b.sh'), 'b');
    execFileSync('tar', ['-cf', flat, '-C', join(dir, `${t.name}-flat`), 'a.sh', 'tools']);
    const scripts = join(area, 'scripts');
    expect((await runModule(unzip, { src: flat, dest: scripts }, conn)).msg).toBe(`extracted 2 files from scripts.tar to ${scripts}`);
    expect(readFileSync(join(scripts, 'tools', 'b.sh'), 'utf8')).toBe('b');
    expect((await runModule(unzip, { src: flat, dest: scripts }, conn)).status).toBe('ok');
    // ok without extracting again: no temporary folder was made (grep's status is 2 here, with a match).
    expect(leftovers(scripts)).toEqual([]);

    // rename_to needs a single top folder: fails, and leaves nothing behind.
    const refused = await runModule(unzip, { src: flat, dest: join(area, 'refused'), rename_to: 'x' }, conn);
    expect(refused).toMatchObject({ status: 'failed', msg: 'rename_to needs an archive with a single top-level folder; scripts.tar has 2 entries at its top (a.sh, tools/)' });
    expect(readdirSync(join(area, 'refused'))).toEqual([]);

    // A corrupt archive: the extraction fails and dest is untouched.
    const broken = write(join(area, 'pkg', 'broken.tar.gz'), 'not gzip at all');
    const failed = await runModule(unzip, { src: broken, dest: join(area, 'broken') }, conn);
    expect(failed.status).toBe('failed');
    expect(failed.msg).toMatch(/^extracting broken\.tar\.gz into .* failed on h1 \(exit 2: .*\); nothing in .* was changed$/);
    expect(readdirSync(join(area, 'broken'))).toEqual([]);
  });

  test('unzip: entries starting with a dot are placed too, force copies several entries over, and a folder that cannot be placed fails without leftovers', async () => {
    const src = join(dir, `${t.name}-dots`);
    write(join(src, '.env'), 'A=1\n');
    write(join(src, '..hidden'), 'h');
    write(join(src, 'bin', 'run.sh'), 'run');
    const flat = join(area, 'pkg', 'dots.tar');
    mkdirSync(join(area, 'pkg'), { recursive: true });
    execFileSync('tar', ['-cf', flat, '-C', src, '.env', '..hidden', 'bin']);
    const dest = join(area, 'dots');
    expect((await runModule(unzip, { src: flat, dest }, conn)).msg).toBe(`extracted 3 files from dots.tar to ${dest}`);
    expect(readdirSync(dest).sort()).toEqual(['..hidden', '.env', '.runbook-unzip.dots.tar', 'bin']);

    write(join(dest, 'bin', 'local.sh'), 'mine');
    writeFileSync(join(dest, '.env'), 'A=2\n');
    const forced = await runModule(unzip, { src: flat, dest, force: true }, conn);
    expect(forced).toMatchObject({ status: 'changed', msg: `extracted 3 files from dots.tar over the existing ${dest} (files not in the archive were kept)`, data: { merged: true } });
    expect(readFileSync(join(dest, '.env'), 'utf8')).toBe('A=1\n');
    expect(readFileSync(join(dest, 'bin', 'local.sh'), 'utf8')).toBe('mine');
    expect(leftovers(dest)).toEqual([]);

    // rename_to names a file that is in the way: the archive's folder cannot go there.
    const top = 'app-1.0';
    const staging = packageTree(join(dir, `${t.name}-blocked`), top, '1.0');
    const archive = join(area, 'pkg', `${top}.tar.gz`);
    execFileSync('tar', ['-czf', archive, '-C', staging, top]);
    const blocked = join(area, 'blocked');
    // Made by the connection's user, who must be able to write beside it.
    expect((await conn.exec(sh`mkdir -p -- ${blocked} && printf 'a file, not a folder' > ${join(blocked, 'app')}`)).exitCode).toBe(0);
    const stuck = await runModule(unzip, { src: archive, dest: blocked, rename_to: 'app' }, conn);
    expect(stuck.status).toBe('failed');
    expect(stuck.msg).toMatch(new RegExp(`^moving the extracted ${top}\\.tar\\.gz into ${blocked}/app failed on h1 \\(exit 1: .*\\)$`));
    expect(readFileSync(join(blocked, 'app'), 'utf8')).toBe('a file, not a folder');
    expect(readdirSync(blocked)).toEqual(['app']);
  });

  test('unzip: a local archive with remote_src false is copied over, extracted, and the copy removed', async () => {
    const staging = packageTree(join(dir, `${t.name}-local-zip`), 'dolphindb', '2.00');
    execFileSync('zip', ['-q', '-r', join(local, 'dolphindb.zip'), 'dolphindb'], { cwd: staging });
    const dest = join(area, 'ddb');
    const first = await runModule(unzip, { src: `${t.name}/dolphindb.zip`, dest, remote_src: false }, conn);
    expect(first.msg).toBe(`extracted 4 files from dolphindb.zip to ${dest}/dolphindb`);
    expect(readdirSync(dest)).toEqual(['dolphindb']);
    expect((await runModule(unzip, { src: `${t.name}/dolphindb.zip`, dest, remote_src: false }, conn)).status).toBe('ok');
  });

  test('template: created, then --diff and backup on a change (secrets masked in the diff), ok when unchanged; a failed validate keeps the old file', async () => {
    write(join(local, 'templates', 'iotdb-system.properties.hbs'), 'dn_rpc_port={{ port }}\nauth={{ password }}\n');
    const src = `${t.name}/templates/iotdb-system.properties.hbs`;
    const dest = join(area, 'conf', 'iotdb-system.properties');
    const password = new Secret(`pw-${t.name}-3f9a`);

    const created = await runModule(template, { src, dest, header: true, mode: '0600' }, conn, { vars: { port: 6667, password } });
    expect(created.status, created.msg).toBe('changed');
    expect(readFileSync(dest, 'utf8')).toBe(
      `# This file is generated by runbook from the template ${src}.\n# Do not edit it by hand: runbook overwrites it on its next run.\ndn_rpc_port=6667\nauth=pw-${t.name}-3f9a\n`,
    );
    expect(modeOf(dest)).toBe(0o600);

    const same = await runModule(template, { src, dest, header: true }, conn, { vars: { port: 6667, password }, diff: true });
    expect(same.status).toBe('ok');
    expect(same.diff).toBeUndefined();

    const updated = await runModule(template, { src, dest, header: true, backup: true }, conn, { vars: { port: 6668, password }, diff: true });
    expect(updated.status, updated.msg).toBe('changed');
    expect(updated.diff).toContain('-dn_rpc_port=6667\n+dn_rpc_port=6668\n');
    expect(updated.diff).toContain(' auth=********\n');
    expect(updated.diff).not.toContain(password.reveal());
    const backup = String(updated.data?.backup_file);
    expect(backup).toMatch(/iotdb-system\.properties\.\d{8}T\d{6}Z\.bak$/);
    expect(readFileSync(backup, 'utf8')).toContain('dn_rpc_port=6667\n');
    expect(readFileSync(dest, 'utf8')).toContain('dn_rpc_port=6668\n');
    expect(modeOf(dest)).toBe(0o600);

    const refused = await runModule(template, { src, dest, header: true, validate: 'grep -q "port=7" %s' }, conn, { vars: { port: 6669, password } });
    expect(refused.status).toBe('failed');
    expect(refused.msg).toMatch(/^validation failed, so .*iotdb-system\.properties was left as it was/);
    expect(readFileSync(dest, 'utf8')).toContain('dn_rpc_port=6668\n');
    expect(leftovers(join(area, 'conf'))).toEqual([]);
  });

  test('file: directory, touch, symlink (created, ok, repointed), absent', async () => {
    const d = join(area, 'files', 'data');
    expect((await runModule(file, { path: d, state: 'directory', mode: '0750' }, conn)).msg).toBe(`created directory ${d} with mode 0750`);
    expect(modeOf(d)).toBe(0o750);
    expect((await runModule(file, { path: d, state: 'directory', mode: '0750', owner: t.user(), recurse: true }, conn)).status).toBe('ok');

    const marker = join(d, '.deployed');
    expect((await runModule(file, { path: marker, state: 'touch', mode: '0600' }, conn)).status).toBe('changed');
    expect((await runModule(file, { path: marker, state: 'touch', mode: '0600' }, conn)).status).toBe('ok');
    expect(modeOf(marker)).toBe(0o600);

    const link = join(area, 'files', 'current');
    expect((await runModule(file, { path: link, state: 'symlink', src: 'data' }, conn)).status).toBe('changed');
    expect((await runModule(file, { path: link, state: 'symlink', src: 'data' }, conn)).status).toBe('ok');
    mkdirSync(join(area, 'files', 'data2'));
    // The old link points at a directory: without mv -T the new link would land inside it.
    expect((await runModule(file, { path: link, state: 'symlink', src: 'data2' }, conn)).msg).toBe(`repointed symlink ${link} from data to data2`);
    expect(readlinkSync(link)).toBe('data2');
    expect(readdirSync(d)).toEqual(['.deployed']);

    expect((await runModule(file, { path: d, state: 'absent' }, conn, { check: true })).status).toBe('changed');
    expect(existsSync(d)).toBe(true);
    expect((await runModule(file, { path: d, state: 'absent' }, conn)).msg).toBe(`removed directory ${d}`);
    expect(existsSync(d)).toBe(false);
    expect((await runModule(file, { path: d, state: 'absent' }, conn)).status).toBe('ok');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  test('fetch: a file and a directory to <dest>/<host>/<path>; second runs are ok; a changed tree is mirrored', async () => {
    const remote = join(area, 'logs');
    write(join(remote, 'app.log'), 'line 1\n');
    write(join(remote, 'old', 'gc.log'), 'gc\n');
    const dest = `${t.name}-fetched`;
    const localRoot = join(dir, 'playbook', dest, 'h1', ...remote.split('/').filter(Boolean));

    const one = await runModule(fetch, { src: join(remote, 'app.log'), dest }, conn);
    expect(one.status, one.msg).toBe('changed');
    expect(readFileSync(join(localRoot, 'app.log'), 'utf8')).toBe('line 1\n');
    expect((await runModule(fetch, { src: join(remote, 'app.log'), dest }, conn)).status).toBe('ok');

    const tree = await runModule(fetch, { src: remote, dest, limit_kbit: 100_000 }, conn);
    expect(tree.msg).toBe(`fetched ${remote} (2 files, 10 B) to ${localRoot}`);
    expect(readFileSync(join(localRoot, 'old', 'gc.log'), 'utf8')).toBe('gc\n');
    expect((await runModule(fetch, { src: remote, dest }, conn)).status).toBe('ok');

    rmSync(join(remote, 'old'), { recursive: true });
    write(join(remote, 'new.log'), 'new\n');
    expect((await runModule(fetch, { src: remote, dest }, conn)).status).toBe('changed');
    expect(readdirSync(localRoot).sort()).toEqual(['app.log', 'new.log']);
    expect(leftovers(join(dir, 'playbook', dest))).toEqual([]);
  });
});

describe('large uploads over ssh', () => {
  const big = join(dir, 'big.bin');
  const SIZE = 200 * 1024 * 1024;

  beforeAll(() => {
    // Incompressible and written in 1 MiB pieces, so the test itself stays small in memory.
    const fd = openSync(big, 'w');
    try {
      const piece = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < SIZE / piece.length; i++) {
        randomFillSync(piece);
        writeSync(fd, piece);
      }
    } finally {
      closeSync(fd);
    }
  });

  test('200 MB streams with flat memory (RSS grows < 100 MB); a second run is ok by sha256 without sending it again', async () => {
    const conn = await openSsh();
    try {
      const dest = join(ownedByTestAccount(join(dir, 'remote-big')), 'big.bin');
      const runCache = new Map<string, unknown>();
      const before = process.memoryUsage().rss;
      let peak = before;
      let lastProgress = { bytes: 0, total: 0 };
      const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
      let result: ModuleResult;
      try {
        result = await runModule(upload, { src: big, dest }, conn, {
          runCache,
          onEvent: (e) => {
            if (e.type === 'progress') lastProgress = { bytes: e.bytes, total: e.total };
            peak = Math.max(peak, process.memoryUsage().rss);
          },
        });
      } finally {
        clearInterval(sample);
      }
      expect(result.status, result.msg).toBe('changed');
      expect(lastProgress).toEqual({ bytes: SIZE, total: SIZE });
      expect(peak - before).toBeLessThan(100 * 1024 * 1024);
      expect(statSync(dest).size).toBe(SIZE);
      expect(sha256(dest)).toBe(result.data?.sha256);

      let sent = 0;
      const again = await runModule(upload, { src: big, dest }, conn, { runCache, onEvent: (e) => e.type === 'progress' && (sent = e.bytes) });
      expect(again).toMatchObject({ status: 'ok', msg: `remote file already has sha256 ${String(result.data?.sha256).slice(0, 12)}…` });
      expect(sent).toBe(0);
    } finally {
      await conn.close();
    }
  });

  test('an upload aborted midway leaves nothing at the final path and no temporary file', async () => {
    const conn = await openSsh();
    try {
      const destDir = ownedByTestAccount(join(dir, 'remote-aborted'));
      const controller = new AbortController();
      const run = runModule(upload, { src: big, dest: join(destDir, 'big.bin') }, conn, {
        signal: controller.signal,
        onEvent: (e) => {
          if (e.type === 'progress' && e.bytes >= 20 * 1024 * 1024) controller.abort(new Error('interrupted by the test'));
        },
      });
      await expect(run).rejects.toThrow('interrupted by the test');
      expect(readdirSync(destDir)).toEqual([]);
    } finally {
      await conn.close();
    }
  });
});

describe('hash records on a lab host: warm runs skip the hash, changed files are still caught', () => {
  const lab = useLab({ hosts: 1 });
  const MB = 1024 * 1024;
  let conn: SshConnection;
  const sh = async (cmd: string): Promise<string> => {
    const r = await lab.sshExec('node1', cmd);
    if (r.code !== 0) throw new Error(`${cmd} failed on node1: ${r.stderr}`);
    return r.stdout;
  };
  /** Overwrite the start of a remote file with other bytes of the same length, then put its mtime back (touch -d). */
  const tamper = async (path: string): Promise<void> => {
    const mtime = (await sh(`stat -c %y -- ${path}`)).trim();
    await sh(`printf 'TAMPERED' | dd of=${path} bs=1 seek=0 conv=notrunc 2>/dev/null && touch -d '${mtime}' -- ${path}`);
    expect((await sh(`stat -c '%y %s' -- ${path}`)).trim()).toMatch(new RegExp(`^${mtime.replace(/[.+]/g, '\\$&')} `));
  };
  const recordOf = (path: string) => `/root/.cache/runbook/sha256/${createHash('sha256').update(path).digest('hex')}`;

  beforeAll(async () => {
    const host = lab.host('node1');
    conn = await SshConnection.connect({
      name: 'node1',
      address: host.address,
      port: 22,
      user: 'root',
      auth: { privateKeyFile: lab.keyPath },
      knownHostsFile: lab.knownHostsPath,
    });
  });
  afterAll(async () => {
    await conn?.close();
  });

  test('upload: the second run answers from the record (a forged record is believed), a same-size change with the old mtime is replaced', async () => {
    const src = join(dir, 'records', 'pkg.bin');
    write(src, randomFillSync(Buffer.alloc(2 * MB)));
    const dest = '/opt/rec/pkg.bin';

    const first = await runModule(upload, { src, dest }, conn);
    expect(first.status, first.msg).toBe('changed');
    const record = (await sh(`cat ${recordOf(dest)}`)).trim();
    expect(record).toMatch(new RegExp(`^\\d+:\\d+:${2 * MB}:\\d+\\.\\d{9}:\\d+\\.\\d{9} ${sha256(src)}$`));

    const again = await runModule(upload, { src, dest }, conn);
    expect(again).toMatchObject({ status: 'ok', msg: `remote file already has sha256 ${sha256(src).slice(0, 12)}…` });

    // Proof that the file is not hashed when the identity matches: a record
    // claiming another sum for the same identity is believed, so a local file
    // with that other content counts as already there.
    const other = write(join(dir, 'records', 'other.bin'), 'other content\n');
    await sh(`printf '%s %s\\n' '${record.split(' ')[0]}' '${sha256(other)}' > ${recordOf(dest)}`);
    const believed = await runModule(upload, { src: other, dest }, conn);
    expect(believed).toMatchObject({ status: 'ok', msg: `remote file already has sha256 ${sha256(other).slice(0, 12)}…` });
    await sh(`printf '%s %s\\n' '${record.split(' ')[0]}' '${sha256(src)}' > ${recordOf(dest)}`);

    // Same size, same mtime, other content: ctime moved, so upload hashes, sees the difference and replaces it.
    await tamper(dest);
    const replaced = await runModule(upload, { src, dest }, conn);
    expect(replaced.status, replaced.msg).toBe('changed');
    expect(replaced.msg).toMatch(/^replaced \/opt\/rec\/pkg\.bin \(sha256 [0-9a-f]{12}… → /);
    expect((await sh(`sha256sum < ${dest}`)).split(' ')[0]).toBe(sha256(src));
    expect(await runModule(upload, { src, dest }, conn)).toMatchObject({ status: 'ok' });
  });

  test('unzip: a later run is ok from the record without upload in it; another archive of the same size written in place with the old mtime is extracted again', async () => {
    const zipOf = (version: string): string => {
      const tree = join(dir, 'records', `zip-${version}`);
      packageTree(tree, 'app', version);
      const zip = join(dir, 'records', `app-${version}.zip`);
      execFileSync('zip', ['-q', '-r', '-0', '-X', zip, 'app'], { cwd: tree });
      return zip;
    };
    const [v1, v2] = [zipOf('1.0'), zipOf('9.9')];
    expect(statSync(v2).size).toBe(statSync(v1).size);
    const archive = '/opt/rec/app.zip';
    expect((await runModule(upload, { src: v1, dest: archive }, conn)).status).toBe('changed');
    const args = { src: archive, dest: '/opt/rec/out' };
    expect((await runModule(unzip, args, conn)).status).toBe('changed');

    // A new run (fresh run cache, no upload before it): the probe takes the sum from the record.
    expect(await runModule(unzip, args, conn)).toMatchObject({ status: 'ok', data: { sha256: sha256(v1) } });

    // Version 9.9 written over the same inode, then the old mtime put back.
    const mtime = (await sh(`stat -c %y -- ${archive}`)).trim();
    const put = await lab.sshExec('node1', `cat > ${archive} && touch -d '${mtime}' -- ${archive}`, { input: readFileSync(v2) });
    expect(put.code, put.stderr).toBe(0);
    expect((await sh(`stat -c '%y %s' -- ${archive}`)).trim()).toBe(`${mtime} ${statSync(v1).size}`);
    const redone = await runModule(unzip, args, conn);
    expect(redone.status, redone.msg).toBe('changed');
    expect(redone.data?.['sha256']).toBe(sha256(v2));
    expect(await sh('cat /opt/rec/out/app/README')).toBe('IoTDB 9.9 (simulated)\n');
  });
});
