// `runbook lab` against the real kernel: namespaces, a bridge, and an sshd per
// host. Needs root, ip, unshare, sshd, ssh and ssh-keygen on the controller.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  buildLabPackage,
  formatLabStatus,
  LabError,
  labDown,
  labStatus,
  labUp,
  simulatedPackages,
  type LabState,
} from '../../engine/lab/index.js';
import { isRunning } from '../../engine/lab/processes.js';
import { ensureCompiledServer, useLab } from '../support/lab.js';

const run = promisify(execFile);

/** Send one line to address:port and return the first line of the answer. */
function ask(address: string, port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address, port });
    let got = '';
    socket.setTimeout(5000, () => socket.destroy(new Error(`no answer from ${address}:${port}`)));
    socket.on('connect', () => socket.write(`${line}\n`));
    socket.on('data', (c: Buffer) => {
      got += c.toString('utf8');
      if (got.includes('\n')) {
        socket.destroy();
        resolve(got.split('\n')[0]!);
      }
    });
    socket.on('error', reject);
  });
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function links(): Promise<string[]> {
  return (JSON.parse((await run('ip', ['-j', 'link', 'show'])).stdout) as Array<{ ifname: string }>).map((l) => l.ifname);
}

async function namespaces(): Promise<string[]> {
  return (await run('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
}

describe('runbook lab', () => {
  const lab = useLab({ hosts: 2 });

  it('lets the lab key in, checking host keys strictly, and gives each host its own hostname', async () => {
    const [one, two] = await Promise.all([lab.sshExec('node1', 'hostname'), lab.sshExec('node2', 'hostname')]);
    expect(one).toMatchObject({ code: 0, stdout: 'node1\n' });
    expect(two).toMatchObject({ code: 0, stdout: 'node2\n' });

    // The same connection with a known_hosts that lacks the key must be refused.
    const dir = mkdtempSync(join(tmpdir(), 'rb-lab-kh-'));
    const empty = join(dir, 'known_hosts');
    writeFileSync(empty, '');
    const refused = await run('ssh', [
      '-F', 'none', '-i', lab.keyPath, '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${empty}`,
      '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes',
      `root@${lab.host('node1').address}`, 'true',
    ]).then(() => 'connected', (err: { stderr: string }) => err.stderr);
    rmSync(dir, { recursive: true, force: true });
    expect(refused).toMatch(/Host key verification failed/);
  });

  it('keeps /opt, /data, /tmp and /root private to each host', async () => {
    const marker = `rb-lab-test-${randomBytes(4).toString('hex')}`;
    const dirs = ['/opt', '/data', '/tmp', '/root'];
    const write = await lab.sshExec('node1', dirs.map((d) => `echo here > ${d}/${marker}`).join(' && '));
    expect(write.code).toBe(0);
    const probe = dirs.map((d) => `test -e ${d}/${marker} && echo ${d}; `).join('') + 'true';
    expect((await lab.sshExec('node1', probe)).stdout.split('\n').filter(Boolean)).toEqual(dirs);
    expect((await lab.sshExec('node2', probe)).stdout).toBe('');
    expect(dirs.filter((d) => existsSync(join(d, marker)))).toEqual([]);
  });

  it('lets hosts reach each other by address and by name, and the controller reach every host', async () => {
    const node2 = lab.host('node2');
    const banner = (host: string): string =>
      `node -e "const s=require('net').connect(22,'${host}');s.once('data',d=>{process.stdout.write(String(d).split('\\\\r')[0]+'\\\\n');process.exit(0)});s.on('error',e=>{console.error(e.message);process.exit(1)})"`;
    const byAddress = await lab.sshExec('node1', banner(node2.address));
    const byName = await lab.sshExec('node1', `getent hosts node2 && ${banner('node2')}`);
    expect(byAddress).toMatchObject({ code: 0, stdout: expect.stringMatching(/^SSH-2\.0-/) });
    expect(byName).toMatchObject({ code: 0, stdout: expect.stringMatching(new RegExp(`^${escape(node2.address)}\\s+${escape(node2.fqdn)}\\s+node2\\nSSH-2\\.0-`)) });
    for (const h of lab.hosts) {
      const socket = connect({ host: h.address, port: 22 });
      const first = await new Promise<string>((resolve, reject) => {
        socket.once('data', (d: Buffer) => resolve(d.toString('latin1')));
        socket.once('error', reject);
      });
      socket.destroy();
      expect(first, h.name).toMatch(/^SSH-2\.0-/);
    }
  });

  it('keeps a daemon started with setsid nohup running after the ssh session ends', async () => {
    const started = await lab.sshExec('node1', 'setsid nohup sleep 600 >/dev/null 2>&1 </dev/null & echo $!');
    expect(started.code).toBe(0);
    const pid = Number(started.stdout.trim());
    expect(pid).toBeGreaterThan(1);
    // Wait (up to 10 s) until the session that started it has closed, leaving only this one.
    const check = await lab.sshExec(
      'node1',
      `i=0; while [ "$(pgrep -c -f '^sshd: root@')" -gt 1 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; ` +
        `echo sessions=$(pgrep -c -f '^sshd: root@'); tr '\\0' ' ' < /proc/${pid}/cmdline; echo; kill ${pid}`,
    );
    expect(check.code).toBe(0);
    expect(check.stdout).toBe('sessions=1\nsleep 600 \n');
  });

  it('adds node3 when brought up with 3 hosts, leaving node1 running as it was', async () => {
    const before = lab.host('node1').sshdPid;
    const state: LabState = await lab.grow(3);
    expect(state.added).toEqual(['node3']);
    expect(state.restarted).toEqual([]);
    expect(lab.host('node1').sshdPid).toBe(before);
    expect(isRunning(before)).toBe(true);
    expect(await lab.sshExec('node3', 'hostname')).toMatchObject({ code: 0, stdout: 'node3\n' });
    // node1's /etc/hosts is the lab's file, updated in place, so it already knows node3.
    expect((await lab.sshExec('node1', 'getent hosts node3')).stdout).toMatch(new RegExp(`^${escape(lab.host('node3').address)}\\s+node3`));

    const again = await lab.grow(2);
    expect(again.added).toEqual([]);
    expect(again.hosts.map((h) => h.name)).toEqual(['node1', 'node2', 'node3']);
  });

  it('refuses a second lab on a subnet that is taken, leaving nothing behind', async () => {
    const other = `${lab.name}x`;
    const err: unknown = await labUp({ hosts: 1, name: other, subnet: lab.subnet }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LabError);
    expect(err).toMatchObject({ code: 'subnet-in-use', message: expect.stringContaining(`on interface ${lab.state.bridge}`) });
    expect((await namespaces()).filter((n) => n.startsWith(`runbook-${other}-`))).toEqual([]);
    expect((await labStatus({ name: other })).exists).toBe(false);
  });

  it('writes a runbook inventory of the lab hosts', () => {
    const inv = parse(readFileSync(lab.inventoryPath, 'utf8')) as {
      ssh: Record<string, unknown>;
      vars: Record<string, unknown>;
      hosts: Record<string, { address: string; vars: { hostname: string } }>;
      groups: { lab: { hosts: string[] } };
    };
    expect(inv.ssh).toEqual({ user: 'root', port: 22, private_key_file: lab.keyPath, known_hosts: lab.knownHostsPath });
    expect(inv.vars).toEqual({});
    // `hostname` is what `hostname -f` says on the host: its FQDN.
    expect(inv.hosts).toEqual(Object.fromEntries(lab.hosts.map((h) => [h.name, { address: h.address, vars: { hostname: `${h.name}.${lab.name}.runbook` } }])));
    expect(inv.groups).toEqual({ lab: { hosts: ['node1', 'node2', 'node3'] } });
  });

  it('reports every host alive and reachable in status', async () => {
    const status = await labStatus({ name: lab.name });
    expect(status.exists).toBe(true);
    expect(status.hosts.map((h) => [h.name, h.hostname, h.sshdAlive, h.port22Reachable])).toEqual([
      ['node1', 'node1', true, true],
      ['node2', 'node2', true, true],
      ['node3', 'node3', true, true],
    ]);
    expect(formatLabStatus(status)).toContain('all 3 hosts up');
  });

  describe('simulated packages', () => {
    let outDir: string;
    beforeAll(async () => {
      outDir = mkdtempSync(join(tmpdir(), 'rb-lab-pkg-'));
      await ensureCompiledServer('demo', 'server');
    });
    afterAll(() => rmSync(outDir, { recursive: true, force: true }));

    it('builds the demo archive with its layout, and the same sha256 every time', async () => {
      const first = await buildLabPackage('demo', { outDir });
      expect(first).toMatchObject({ path: join(outDir, 'demo-1.0.0-simulated.tar.gz'), rebuilt: true });
      const listing = (await run('tar', ['-tvzf', first.path])).stdout;
      const entries = listing.split('\n').filter(Boolean).map((l) => l.split(/\s+/));
      expect(entries.map((e) => e.at(-1))).toEqual([
        'demo-1.0.0/', 'demo-1.0.0/README.txt', 'demo-1.0.0/bin/', 'demo-1.0.0/bin/demo-server', 'demo-1.0.0/bin/start.sh',
        'demo-1.0.0/bin/stop.sh', 'demo-1.0.0/conf/', 'demo-1.0.0/conf/demo.conf', 'demo-1.0.0/lib/', 'demo-1.0.0/lib/demo-server.mjs',
        'demo-1.0.0/logs/',
      ]);
      const modes = Object.fromEntries(entries.map((e) => [e.at(-1), e[0]]));
      expect(modes['demo-1.0.0/bin/start.sh']).toBe('-rwxr-xr-x');
      expect(modes['demo-1.0.0/conf/demo.conf']).toBe('-rw-r--r--');
      expect((await run('tar', ['-xzOf', first.path, 'demo-1.0.0/conf/demo.conf'])).stdout).toMatch(/^port=7070$/m);

      const second = await buildLabPackage('demo', { outDir });
      expect(second).toMatchObject({ sha256: first.sha256, rebuilt: false });
      // Forget the build record: a real rebuild must still give identical bytes.
      rmSync(join(outDir, '.demo-1.0.0-simulated.tar.gz.build.json'));
      const third = await buildLabPackage('demo', { outDir });
      expect(third).toMatchObject({ sha256: first.sha256, rebuilt: true });
    });

    it('writes zip archives deterministically too, keeping executable bits', async () => {
      simulatedPackages['zip-fixture'] = {
        product: 'zip-fixture',
        version: '0.1-simulated',
        archiveName: 'zip-fixture-0.1-simulated.zip',
        topDir: 'zip-fixture-0.1',
        format: 'zip',
        description: 'test fixture',
        async build(dir) {
          mkdirSync(join(dir, 'sbin'));
          writeFileSync(join(dir, 'sbin', 'start.sh'), '#!/bin/sh\necho started\n');
          chmodSync(join(dir, 'sbin', 'start.sh'), 0o700);
          writeFileSync(join(dir, 'README'), 'simulated\n');
        },
      };
      try {
        const first = await buildLabPackage('zip-fixture', { outDir });
        rmSync(join(outDir, '.zip-fixture-0.1-simulated.zip.build.json'));
        const again = await buildLabPackage('zip-fixture', { outDir });
        expect(again).toMatchObject({ sha256: first.sha256, rebuilt: true });
        const info = (await run('zipinfo', [first.path])).stdout;
        expect(info).toMatch(/^-rwxr-xr-x .* zip-fixture-0\.1\/sbin\/start\.sh$/m);
        expect(info).toMatch(/^drwxr-xr-x .* zip-fixture-0\.1\/$/m);
      } finally {
        delete simulatedPackages['zip-fixture'];
      }
    });

    it('runs the demo server on a lab host, which refuses to start on a taken port', async () => {
      const { path } = await buildLabPackage('demo', { outDir });
      expect((await lab.sshExec('node1', 'tar -xzf - -C /opt', { input: readFileSync(path) })).code).toBe(0);
      const start = await lab.sshExec('node1', '/opt/demo-1.0.0/bin/start.sh');
      expect(start).toMatchObject({ code: 0, stdout: expect.stringMatching(/^demo-server started \(pid \d+\)/) });
      expect(await ask(lab.host('node1').address, 7070, 'version')).toMatch(/simulated/);

      const second = await lab.sshExec('node1', 'node /opt/demo-1.0.0/bin/demo-server; echo "exit=$?"');
      expect(second.stdout).toBe('exit=1\n');
      expect((await lab.sshExec('node1', 'cat /opt/demo-1.0.0/logs/demo.log')).stdout).toMatch(/ERROR port 7070 is already in use; demo-server not started/);

      expect(await lab.sshExec('node1', '/opt/demo-1.0.0/bin/stop.sh')).toMatchObject({ code: 0, stdout: expect.stringMatching(/^demo-server stopped/) });
      expect((await lab.sshExec('node2', 'test -e /opt/demo-1.0.0 || echo absent')).stdout).toBe('absent\n');
    });
  });

  it('removes every namespace, interface, process and file on down, and down again is a no-op', async () => {
    const state = lab.state;
    const pids = state.hosts.map((h) => h.sshdPid);
    const res = await labDown({ name: lab.name });
    expect(res.removed).toContain(`bridge ${state.bridge}`);
    expect(res.removed).toContain(`directory ${state.stateDir}`);

    expect((await namespaces()).filter((n) => state.hosts.some((h) => h.netns === n))).toEqual([]);
    expect((await links()).filter((l) => l === state.bridge || state.hosts.some((h) => h.veth === l))).toEqual([]);
    expect(pids.filter(isRunning)).toEqual([]);
    expect(existsSync(state.stateDir)).toBe(false);

    expect(await labDown({ name: lab.name })).toEqual({ removed: [] });
    expect((await labStatus({ name: lab.name })).exists).toBe(false);
  });
});
