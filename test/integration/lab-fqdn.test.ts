// Lab host names: every lab host is `<host>.<lab>.runbook`, its `hostname -f`,
// resolved by every lab host (the lab's shared /etc/hosts) and, while the lab
// is up, by the controller (a marked block in its /etc/hosts that `lab down`
// removes, leaving the file's other bytes as they were). Needs root.

import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { beginMarker, controllerHostsFile, endMarker, setControllerHosts, withLabBlock } from '../../engine/lab/controller-hosts.js';
import { formatLabStatus, LabError, labDown, labStatus, labUp } from '../../engine/lab/index.js';
import { labPaths } from '../../engine/lab/layout.js';
import { useLab } from '../support/lab.js';

const run = promisify(execFile);

/**
 * The file without any runbook lab block (other suites' labs come and go
 * while this one runs). Written independently of the code under test.
 */
function withoutLabBlocks(text: string): string {
  return text.replace(/^# BEGIN runbook lab ([a-z0-9-]+) .*\n(?:.*\n)*?# END runbook lab \1\n/gm, '');
}

function blockOf(text: string, lab: string): string[] | undefined {
  const lines = text.split('\n');
  const from = lines.indexOf(beginMarker(lab));
  if (from < 0) return undefined;
  const to = lines.indexOf(endMarker(lab), from);
  return lines.slice(from + 1, to);
}

async function controllerResolves(name: string): Promise<string | undefined> {
  try {
    return (await run('getent', ['hosts', name])).stdout.trim().split(/\s+/)[0];
  } catch {
    return undefined; // getent exits 2 for an unknown name
  }
}

describe('the block of a lab in the controller\'s hosts file', () => {
  const entries = [
    { address: '198.19.7.2', names: ['node1.x.runbook'] },
    { address: '198.19.7.3', names: ['node2.x.runbook'] },
  ];
  const files: Record<string, string> = {
    'ending in a newline': '127.0.0.1 localhost\n::1 localhost\n',
    'without a final newline': '127.0.0.1 localhost\n10.0.0.1 box',
    empty: '',
    'with CRLF lines and a comment': '# hosts\r\n127.0.0.1 localhost\r\n',
    "holding another lab's block": `127.0.0.1 localhost\n${beginMarker('y')}\n198.19.8.2\tnode1.y.runbook\n${endMarker('y')}\n10.0.0.9 after\n`,
  };

  for (const [what, original] of Object.entries(files)) {
    it(`is added and removed again byte for byte, in a file ${what}`, () => {
      const added = withLabBlock(original, 'x', entries);
      expect(blockOf(added, 'x')).toEqual(['198.19.7.2\tnode1.x.runbook', '198.19.7.3\tnode2.x.runbook']);
      expect(withoutLabBlocks(added)).toBe(withoutLabBlocks(original));
      // Growing the lab rewrites the block in place.
      const grown = withLabBlock(added, 'x', [...entries, { address: '198.19.7.4', names: ['node3.x.runbook'] }]);
      expect(blockOf(grown, 'x')).toHaveLength(3);
      expect(grown.indexOf(beginMarker('x'))).toBe(added.indexOf(beginMarker('x')));
      expect(Buffer.from(withLabBlock(grown, 'x', []))).toEqual(Buffer.from(original));
    });
  }

  it('refuses a damaged block, naming the file and line, and changes nothing', () => {
    const text = `127.0.0.1 localhost\n${beginMarker('x')}\n198.19.7.2\tnode1.x.runbook\n`;
    let err: unknown;
    try {
      withLabBlock(text, 'x', [], '/etc/hosts');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LabError);
    expect((err as LabError).message).toMatch(/^\/etc\/hosts:3: the block of runbook lab x is damaged: the BEGIN line of lab x has no "# END runbook lab x" line/);
    expect((err as LabError).hint).toContain('edit /etc/hosts by hand');
  });

  it('survives many labs adding and removing their blocks at once, touching no other line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rb-ctl-hosts-'));
    const file = join(dir, 'hosts');
    const original = '127.0.0.1\tlocalhost\n# keep me\n10.1.1.1 other\n';
    writeFileSync(file, original, { mode: 0o640 });
    const saved = process.env.RUNBOOK_CONTROLLER_HOSTS;
    process.env.RUNBOOK_CONTROLLER_HOSTS = file;
    try {
      const labs = Array.from({ length: 12 }, (_, i) => `c${i}`);
      await Promise.all(labs.map((l, i) => setControllerHosts(l, [{ address: `198.19.${i}.2`, names: [`node1.${l}.runbook`] }])));
      const up = readFileSync(file, 'utf8');
      for (const [i, l] of labs.entries()) expect(blockOf(up, l), l).toEqual([`198.19.${i}.2\tnode1.${l}.runbook`]);
      await Promise.all(labs.map((l) => setControllerHosts(l, [])));
      expect(readFileSync(file, 'utf8')).toBe(original);
      expect(statSync(file).mode & 0o777).toBe(0o640);
    } finally {
      if (saved === undefined) delete process.env.RUNBOOK_CONTROLLER_HOSTS;
      else process.env.RUNBOOK_CONTROLLER_HOSTS = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('lab host names', () => {
  let before = '';
  let beforeMode = 0;
  beforeAll(() => {
    // Registered before useLab's own beforeAll, so this is the file without the lab.
    before = readFileSync(controllerHostsFile(), 'utf8');
    beforeMode = statSync(controllerHostsFile()).mode;
  });
  const lab = useLab({ hosts: 3 });

  it('gives every host <host>.<lab>.runbook as its hostname -f, keeping the short hostname', async () => {
    for (const h of lab.hosts) {
      expect(h.fqdn).toBe(`${h.name}.${lab.name}.runbook`);
      const r = await lab.sshExec(h, 'hostname; hostname -f');
      expect(r, h.name).toMatchObject({ code: 0, stdout: `${h.name}\n${h.fqdn}\n` });
    }
  });

  it('lets every host resolve every other host by its FQDN', async () => {
    const names = lab.hosts.map((h) => h.fqdn);
    for (const h of lab.hosts) {
      const r = await lab.sshExec(h, `getent hosts ${names.join(' ')}`);
      expect(r.code, r.stderr).toBe(0);
      const got = r.stdout.trim().split('\n').map((l) => l.split(/\s+/).slice(0, 2));
      expect(got, h.name).toEqual(lab.hosts.map((o) => [o.address, o.fqdn]));
    }
  });

  it('lets the controller resolve and reach every host by its FQDN while the lab is up', async () => {
    for (const h of lab.hosts) {
      expect(await controllerResolves(h.fqdn), h.fqdn).toBe(h.address);
      const banner = await new Promise<string>((resolve, reject) => {
        const s = connect({ host: h.fqdn, port: 22 });
        s.once('data', (d: Buffer) => {
          s.destroy();
          resolve(d.toString('latin1'));
        });
        s.once('error', reject);
      });
      expect(banner).toMatch(/^SSH-2\.0-/);
    }
    // The system ssh client, by name, with the lab's known_hosts.
    const ssh = await run('ssh', [
      '-F', 'none', '-i', lab.keyPath, '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${lab.knownHostsPath}`,
      '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes',
      `root@${lab.host('node2').fqdn}`, 'hostname -f',
    ]);
    expect(ssh.stdout).toBe(`${lab.host('node2').fqdn}\n`);
  });

  it("keeps every host's own /etc/hosts when another lab changes the controller's", async () => {
    // Replacing the controller's file (rename) would make the kernel drop the
    // hosts' bind mounts of their lab file; it must be edited in place.
    const other = `${lab.name}o`;
    await setControllerHosts(other, [{ address: '198.19.254.250', names: [`node1.${other}.runbook`] }]);
    await setControllerHosts(other, []);
    const r = await lab.sshExec('node1', 'head -n 1 /etc/hosts; getent hosts node2');
    expect(r.code, r.stderr).toBe(0);
    const [header, node2] = r.stdout.split('\n');
    expect(header).toBe(`# /etc/hosts of runbook lab ${lab.name} (generated by \`runbook lab up\`; shared by every lab host)`);
    expect(node2?.split(/\s+/)).toEqual([lab.host('node2').address, lab.host('node2').fqdn, 'node2']);
  });

  it('shows the names in lab status and in the inventory', async () => {
    const status = await labStatus({ name: lab.name });
    expect(status.controllerNames).toBe(true);
    expect(status.hosts.map((h) => h.fqdn)).toEqual(lab.hosts.map((h) => `${h.name}.${lab.name}.runbook`));
    const text = formatLabStatus(status);
    for (const h of lab.hosts) expect(text).toMatch(new RegExp(`^  ${h.name}\\s+${h.address.replace(/\./g, '\\.')}\\s+${h.fqdn.replace(/\./g, '\\.')}\\s+${h.name}\\s`, 'm'));
    const inv = parse(readFileSync(lab.inventoryPath, 'utf8')) as { hosts: Record<string, { vars: { hostname: string } }> };
    expect(Object.values(inv.hosts).map((h) => h.vars.hostname)).toEqual(lab.hosts.map((h) => h.fqdn));
  });

  it('keeps the controller block as it was when adding a host fails', async () => {
    const blocker = join(labPaths(lab.name).hostsDir, 'node4');
    // A file where node4's folder must go makes its start fail after the names were written.
    writeFileSync(blocker, 'in the way\n');
    try {
      await expect(lab.grow(4)).rejects.toThrow();
    } finally {
      rmSync(blocker, { force: true });
    }
    expect(blockOf(readFileSync(controllerHostsFile(), 'utf8'), lab.name)).toEqual(lab.hosts.map((h) => `${h.address}\t${h.fqdn}`));
    expect(readFileSync(labPaths(lab.name).hostsFile, 'utf8')).not.toContain('node4');
    expect(await controllerResolves(`node4.${lab.name}.runbook`)).toBeUndefined();
  });

  it('removes the names on down, leaving every other byte of the controller\'s hosts file as it was', async () => {
    const hosts = lab.hosts;
    const res = await labDown({ name: lab.name });
    expect(res.removed).toContain(`host names of lab ${lab.name} from ${controllerHostsFile()}`);
    const after = readFileSync(controllerHostsFile(), 'utf8');
    expect(blockOf(after, lab.name)).toBeUndefined();
    expect(after).not.toContain(`.${lab.name}.runbook`);
    expect(withoutLabBlocks(after)).toBe(withoutLabBlocks(before));
    expect(statSync(controllerHostsFile()).mode).toBe(beforeMode);
    for (const h of hosts) expect(await controllerResolves(h.fqdn), h.fqdn).toBeUndefined();
    expect((await labStatus({ name: lab.name })).controllerNames).toBe(false);
  });
});

describe('a lab up that fails', () => {
  const name = `f${randomBytes(3).toString('hex')}`;
  afterAll(async () => {
    await labDown({ name });
  });

  it('leaves no names on the controller', async () => {
    const before = readFileSync(controllerHostsFile(), 'utf8');
    // node2's folder cannot be made: the up fails after it wrote the names, and undoes everything.
    const hostsDir = labPaths(name).hostsDir;
    let err: unknown;
    for (let attempt = 0; attempt < 8; attempt++) {
      // Planted each time: a failed up removes the lab's folder.
      mkdirSync(hostsDir, { recursive: true });
      writeFileSync(join(hostsDir, 'node2'), 'in the way\n');
      err = await labUp({ hosts: 2, name, subnet: `198.19.${randomInt(1, 255)}.0/24` }).then(() => undefined, (e: unknown) => e);
      if (!(err instanceof LabError && err.code === 'subnet-in-use')) break;
    }
    expect(err).toBeDefined();
    expect(err).not.toMatchObject({ code: 'subnet-in-use' });
    const after = readFileSync(controllerHostsFile(), 'utf8');
    expect(after).not.toContain(`.${name}.runbook`);
    expect(withoutLabBlocks(after)).toBe(withoutLabBlocks(before));
    expect((await labStatus({ name })).exists).toBe(false);
  });
});
