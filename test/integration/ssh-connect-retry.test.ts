// The pool's dial retries against a real OpenSSH server: a host whose sshd
// starts only after the first attempt was refused still connects; a wrong
// password or an unknown host key fails at once, with a single attempt.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionPool, type ConnectRetry, type ConnectionPoolOptions } from '../../engine/connection/pool.js';
import { HostKeyError, UnreachableError } from '../../engine/errors.js';
import type { InventoryHost } from '../../engine/inventory/types.js';
import { Secret } from '../../engine/secret.js';
import { startSshd, type TestSshd } from '../support/sshd.js';

/** Listening from the start. */
let sshd: TestSshd | undefined;
const servers: TestSshd[] = [];
const pools: ConnectionPool[] = [];

beforeAll(async () => {
  delete process.env.SSH_AUTH_SOCK;
  sshd = await startSshd();
  servers.push(sshd);
});

afterAll(async () => {
  await Promise.allSettled(pools.map((p) => p.closeAll()));
  await Promise.allSettled(servers.map((s) => s.stop()));
});

function newPool(options: ConnectionPoolOptions): { pool: ConnectionPool; retries: ConnectRetry[] } {
  const retries: ConnectRetry[] = [];
  const onConnectRetry = options.onConnectRetry;
  const pool = new ConnectionPool({
    ...options,
    onConnectRetry: (retry) => {
      retries.push(retry);
      onConnectRetry?.(retry);
    },
  });
  pools.push(pool);
  return { pool, retries };
}

function host(server: TestSshd, overrides: Partial<InventoryHost> = {}): InventoryHost {
  return {
    name: 'retried',
    address: server.address,
    port: server.port,
    user: server.user,
    auth: { privateKeyFile: server.plainKeyFile },
    connection: 'ssh',
    knownHostsFile: server.writeKnownHosts(),
    groups: [],
    vars: {},
    aliases: [],
    ...overrides,
  };
}

/** TCP connections the server has seen ("Connection from …" lines, logged at VERBOSE). */
function connectionsSeen(server: TestSshd): number {
  return server.log().split('\n').filter((l) => /^Connection from /.test(l)).length;
}

describe('dial retries', () => {
  it('connects to a host whose sshd starts listening only after the first attempt was refused', async () => {
    const late = await startSshd({ deferListen: true });
    servers.push(late);
    let listening: Promise<void> | undefined;
    // Generous retries: the pool must outlast sshd's start-up, however slow the machine is today.
    const { pool, retries } = newPool({
      connectRetries: 8,
      connectRetryDelayMs: 50,
      onConnectRetry: () => {
        listening ??= late.listen();
      },
    });
    const connection = await pool.get(host(late));
    await listening;
    expect((await connection.exec('echo up')).stdout).toBe('up\n');
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries[0]).toMatchObject({ host: 'retried', attempt: 1, delayMs: 50 });
    expect(retries[0]!.error.message).toMatch(/connection refused by .*: nothing listens on port/);
    // Backoff doubles each time.
    expect(retries.map((r) => r.delayMs)).toEqual(retries.map((_, i) => 50 * 2 ** i));
    expect(late.acceptedLogins()).toBe(1);
  });

  it('gives up after the configured number of retries and says so', async () => {
    const never = await startSshd({ deferListen: true });
    servers.push(never);
    const { pool, retries } = newPool({ connectRetries: 2, connectRetryDelayMs: 10 });
    const failure = await pool.get(host(never)).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(UnreachableError);
    expect((failure as UnreachableError).message).toMatch(/connection refused .* \(gave up after 3 attempts over [\d.]+ s\)/);
    expect((failure as UnreachableError).hint).toMatch(/sshd runs/);
    expect(retries.map((r) => r.attempt)).toEqual([1, 2]);
  });

  it('never retries a wrong password', async () => {
    const { pool, retries } = newPool({ connectRetries: 3, connectRetryDelayMs: 10 });
    const before = connectionsSeen(sshd!);
    const wrong = host(sshd!, { auth: { password: new Secret(`wrong-${randomBytes(6).toString('hex')}`), agent: '' } });
    const failure = await pool.get(wrong).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(UnreachableError);
    expect((failure as UnreachableError).message).toMatch(/authentication failed/);
    expect((failure as UnreachableError).message).not.toMatch(/gave up after/);
    expect(retries).toEqual([]);
    expect(connectionsSeen(sshd!) - before).toBe(1);
  });

  it('never retries an unknown host key', async () => {
    const { pool, retries } = newPool({ connectRetries: 3, connectRetryDelayMs: 10 });
    const unknownKey = host(sshd!, { knownHostsFile: sshd!.writeKnownHosts([]) });
    const failure = await pool.get(unknownKey).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(HostKeyError);
    expect(retries).toEqual([]);
  });

  it('refuses nonsense retry settings', () => {
    expect(() => new ConnectionPool({ connectRetries: -1 })).toThrow(RangeError);
    expect(() => new ConnectionPool({ connectRetries: 1.5 })).toThrow(RangeError);
    expect(() => new ConnectionPool({ connectRetryDelayMs: -5 })).toThrow(RangeError);
  });
});
