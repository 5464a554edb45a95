// The connection pool against a real OpenSSH server listening on two ports
// (two known_hosts names, one machine): shared connections per endpoint,
// shared dials, and new host keys for many hosts written in one go.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { appendKnownHosts } from '../../engine/connection/known-hosts.js';
import { LocalConnection } from '../../engine/connection/local.js';
import { ConnectionPool } from '../../engine/connection/pool.js';
import { HostKeyError, UnreachableError } from '../../engine/errors.js';
import type { InventoryHost } from '../../engine/inventory/types.js';
import { startSshd, type TestSshd } from '../support/sshd.js';

// Counts known_hosts writes while keeping the real behaviour.
vi.mock('../../engine/connection/known-hosts.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../engine/connection/known-hosts.js')>();
  return { ...original, appendKnownHosts: vi.fn(original.appendKnownHosts) };
});

let sshd: TestSshd | undefined;
const pools: ConnectionPool[] = [];

beforeAll(async () => {
  delete process.env.SSH_AUTH_SOCK;
  sshd = await startSshd({ ports: 2 });
});

afterAll(async () => {
  await Promise.allSettled(pools.map((p) => p.closeAll()));
  await sshd?.stop();
});

function newPool(options: ConstructorParameters<typeof ConnectionPool>[0] = {}): ConnectionPool {
  const pool = new ConnectionPool(options);
  pools.push(pool);
  return pool;
}

function host(name: string, overrides: Partial<InventoryHost> = {}): InventoryHost {
  return {
    name,
    address: sshd!.address,
    port: sshd!.port,
    user: sshd!.user,
    auth: { privateKeyFile: sshd!.plainKeyFile },
    connection: 'ssh',
    knownHostsFile: sshd!.writeKnownHosts(),
    groups: [],
    vars: {},
    aliases: [],
    ...overrides,
  };
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('ConnectionPool', () => {
  it('shares one connection among inventory hosts on the same endpoint, and one dial among concurrent gets', async () => {
    const pool = newPool();
    const loginsBefore = sshd!.acceptedLogins();
    const [a, b, c] = await Promise.all([pool.get(host('confignode-1')), pool.get(host('datanode-1')), pool.get(host('confignode-1'))]);
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(sshd!.acceptedLogins() - loginsBefore).toBe(1);
    expect((await a.exec('echo shared')).stdout).toBe('shared\n');
    // Another user on the same machine is another endpoint.
    const root = await pool.get(host('as-root', { user: sshd!.rootUser }));
    expect(root).not.toBe(a);
    expect(sshd!.acceptedLogins() - loginsBefore).toBe(2);
  });

  it('runs connection: local hosts on the controller', async () => {
    const pool = newPool();
    const connection = await pool.get(host('controller', { connection: 'local', address: 'localhost' }));
    expect(connection).toBeInstanceOf(LocalConnection);
    expect((await connection.exec('echo here')).stdout).toBe('here\n');
  });

  it('connectAll records every new host key in one write and reports unreachable hosts without throwing', async () => {
    const knownHostsFile = join(sshd!.dir, 'pool-known-hosts');
    writeFileSync(knownHostsFile, '# runbook test\n');
    const pool = newPool({ acceptNewHostKeys: true, knownHostsFile });
    vi.mocked(appendKnownHosts).mockClear();
    const hosts = [
      host('first-port', { knownHostsFile: undefined }),
      host('first-port-as-root', { knownHostsFile: undefined, user: sshd!.rootUser }),
      host('second-port', { knownHostsFile: undefined, port: sshd!.ports[1]! }),
      host('nothing-there', { knownHostsFile: undefined, port: 1 }),
    ];
    const failures = await pool.connectAll(hosts);

    expect([...failures.keys()]).toEqual(['nothing-there']);
    expect(failures.get('nothing-there')).toBeInstanceOf(UnreachableError);
    expect(failures.get('nothing-there')!.message).toMatch(/connection refused/);
    // Three dials saw unknown keys; two distinct host names; one write.
    expect(vi.mocked(appendKnownHosts)).toHaveBeenCalledTimes(1);
    const ed25519 = sshd!.hostKeys.find((k) => k.type === 'ssh-ed25519')!.publicLine;
    const lines = readFileSync(knownHostsFile, 'utf8').split('\n');
    expect(lines[0]).toBe('# runbook test');
    expect(lines.slice(1).filter(Boolean).sort()).toEqual(
      [`[127.0.0.1]:${sshd!.port} ${ed25519}`, `[127.0.0.1]:${sshd!.ports[1]} ${ed25519}`].sort(),
    );
    // The connections are open and ready for tasks; get() hands them out without dialing again.
    const loginsBefore = sshd!.acceptedLogins();
    const connection = await pool.get(hosts[2]!);
    expect((await connection.exec('echo second')).stdout).toBe('second\n');
    expect(sshd!.acceptedLogins()).toBe(loginsBefore);
    // A host that failed stays failed for the run, without another dial.
    await expect(pool.get(hosts[3]!)).rejects.toBe(failures.get('nothing-there'));
  });

  it('refuses unknown keys without acceptNewHostKeys and writes nothing', async () => {
    const knownHostsFile = join(sshd!.dir, 'pool-known-hosts-strict');
    writeFileSync(knownHostsFile, '');
    const pool = newPool({ knownHostsFile });
    vi.mocked(appendKnownHosts).mockClear();
    const failures = await pool.connectAll([host('strict', { knownHostsFile: undefined })]);
    expect(failures.get('strict')).toBeInstanceOf(HostKeyError);
    expect(readFileSync(knownHostsFile, 'utf8')).toBe('');
    expect(vi.mocked(appendKnownHosts)).not.toHaveBeenCalled();
  });

  it('closeAll closes every connection', async () => {
    const pool = newPool();
    const before = new Set(sshd!.connectionPids());
    await pool.connectAll([host('one'), host('two', { user: sshd!.rootUser })]);
    const ours = sshd!.connectionPids().filter((pid) => !before.has(pid));
    expect(ours).toHaveLength(2);
    await pool.closeAll();
    await waitFor(() => ours.every((pid) => !sshd!.connectionPids().includes(pid)), 5000);
  });
});
