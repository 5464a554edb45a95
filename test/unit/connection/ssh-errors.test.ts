// What a person reads when a dial fails, for the failures the integration
// tests cannot cause on loopback (DNS, routing), and the host key algorithm
// order that keeps a recorded key type from being reported "unknown".

import { describe, expect, it } from 'vitest';
import { connectError, hostKeyAlgorithms, isTransientConnectFailure, type AuthPlan, type SshTarget } from '../../../engine/connection/ssh.js';
import { UnreachableError } from '../../../engine/errors.js';
import { Secret } from '../../../engine/secret.js';

const target: SshTarget = {
  name: 'datanode-3',
  address: 'db3.example',
  port: 2222,
  user: 'iotdb',
  auth: { password: new Secret('S3cret-Pa55') },
  knownHostsFile: '/home/me/.ssh/known_hosts',
};

const plan = (tried: string[], serverMethods?: string[]): AuthPlan => ({
  attempts: [],
  tried,
  serverMethods,
  handler: () => undefined,
});

function failure(code: string | undefined, level = 'client-socket', message = 'boom'): UnreachableError {
  return connectError(target, Object.assign(new Error(message), { code, level }), plan([]), [], 20_000);
}

describe('connectError', () => {
  it('names the cause and the fix for each network failure', () => {
    const cases: Array<[string, RegExp, RegExp]> = [
      ['ECONNREFUSED', /connection refused by iotdb@db3\.example:2222: nothing listens on port 2222/, /sshd runs/],
      ['ENOTFOUND', /cannot resolve the host name "db3\.example" of datanode-3/, /DNS/],
      ['EAI_AGAIN', /cannot resolve the host name/, /DNS/],
      ['EHOSTUNREACH', /no route to iotdb@db3\.example:2222/, /network/],
      ['ETIMEDOUT', /timed out connecting to iotdb@db3\.example:2222/, /firewall/],
      ['ECONNRESET', /reset the connection during the handshake/, /MaxStartups/],
    ];
    for (const [code, message, hint] of cases) {
      const err = failure(code);
      expect(err, code).toBeInstanceOf(UnreachableError);
      expect(err.message, code).toMatch(message);
      expect(err.hint, code).toMatch(hint);
      expect(err.host).toBe('datanode-3');
    }
  });

  it('reports a handshake timeout with its length', () => {
    expect(failure(undefined, 'client-timeout', 'Timed out while waiting for handshake').message).toMatch(
      /timed out after 20 s waiting for the SSH handshake with iotdb@db3\.example:2222/,
    );
  });

  it('lists tried methods and what the server accepts, never the password', () => {
    const err = connectError(
      target,
      Object.assign(new Error('All configured authentication methods failed'), { level: 'client-authentication' }),
      plan(['ssh-agent at /run/agent.sock', 'password'], ['publickey', 'password']),
      ['ssh-agent: Failed to connect to agent'],
      20_000,
    );
    const text = err.format();
    expect(text).toContain('authentication failed for iotdb@db3.example:2222: tried ssh-agent at /run/agent.sock, password; the server accepts publickey, password');
    expect(text).toContain('ssh-agent: Failed to connect to agent');
    expect(text).not.toContain('S3cret-Pa55');
  });

  it('keeps any other message', () => {
    expect(failure(undefined, 'protocol', 'Connection lost before handshake').message).toBe(
      'cannot connect to iotdb@db3.example:2222: Connection lost before handshake',
    );
  });
});

describe('isTransientConnectFailure', () => {
  const judge = (code: string | undefined, level: string, tried: string[] = []) =>
    isTransientConnectFailure(connectError(target, Object.assign(new Error('boom'), { code, level }), plan(tried), [], 20_000));

  it('marks what may pass by itself: refused, timeouts, temporary DNS trouble, a reset before any login', () => {
    for (const code of ['ECONNREFUSED', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNRESET', 'EPIPE']) expect(judge(code, 'client-socket'), code).toBe(true);
    expect(judge(undefined, 'client-timeout')).toBe(true);
  });

  it('never marks a refused login, a reset after one, or what stays wrong until someone fixes it', () => {
    expect(judge(undefined, 'client-authentication')).toBe(false);
    expect(judge('ECONNRESET', 'client-socket', ['password'])).toBe(false);
    for (const code of ['ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', undefined]) expect(judge(code, 'client-socket'), String(code)).toBe(false);
    expect(isTransientConnectFailure(new UnreachableError('connection refused'))).toBe(false);
    expect(isTransientConnectFailure('ECONNREFUSED')).toBe(false);
  });
});

describe('hostKeyAlgorithms', () => {
  it('asks first for the types known_hosts has for the host', () => {
    expect(hostKeyAlgorithms([]).slice(0, 2)).toEqual(['ssh-ed25519', 'ecdsa-sha2-nistp256']);
    expect(hostKeyAlgorithms(['ecdsa-sha2-nistp256'])[0]).toBe('ecdsa-sha2-nistp256');
    expect(hostKeyAlgorithms(['ssh-rsa']).slice(0, 3)).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  });

  it('offers every algorithm once, and ignores types it cannot use', () => {
    const list = hostKeyAlgorithms(['ssh-rsa', 'ssh-ed25519', 'ssh-dss']);
    expect(new Set(list).size).toBe(list.length);
    expect(list).not.toContain('ssh-dss');
    expect(list.slice(0, 4)).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ssh-ed25519']);
  });
});
