// Connecting to a real OpenSSH server: every way of logging in, the errors a
// person sees when it fails, and host key checking against known_hosts.

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprint } from '../../engine/connection/known-hosts.js';
import { SshConnection, type SshTarget } from '../../engine/connection/ssh.js';
import { HostKeyError, UnreachableError } from '../../engine/errors.js';
import { Secret } from '../../engine/secret.js';
import { sshTarget, startSshAgent, startSshd, type TestAgent, type TestSshd } from '../support/sshd.js';

let sshd: TestSshd | undefined;
let agent: TestAgent | undefined;
/** A key the server does not know. */
let strangerKey: string;
const opened: SshConnection[] = [];

beforeAll(async () => {
  delete process.env.SSH_AUTH_SOCK;
  sshd = await startSshd();
  strangerKey = join(sshd.dir, 'stranger');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', strangerKey]);
});

afterAll(async () => {
  await Promise.allSettled(opened.map((c) => c.close()));
  await agent?.stop();
  await sshd?.stop();
});

async function connect(target: SshTarget, options: Parameters<typeof SshConnection.connect>[1] = {}): Promise<SshConnection> {
  const connection = await SshConnection.connect(target, options);
  opened.push(connection);
  return connection;
}

/** The connect error, asserted to be an UnreachableError; its person-facing text is format(). */
async function connectError(target: SshTarget, options: Parameters<typeof SshConnection.connect>[1] = {}): Promise<UnreachableError> {
  try {
    await connect(target, options);
  } catch (err) {
    expect(err).toBeInstanceOf(UnreachableError);
    return err as UnreachableError;
  }
  throw new Error('connected, but a failure was expected');
}

async function whoami(connection: SshConnection): Promise<string> {
  return (await connection.exec('id -un')).stdout.trim();
}

describe('logging in', () => {
  it('with a private key file', async () => {
    expect(await whoami(await connect(sshTarget(sshd!)))).toBe(sshd!.user);
  });

  it('with a passphrase-protected key and its passphrase', async () => {
    const target = sshTarget(sshd!, { auth: { privateKeyFile: sshd!.protectedKeyFile, passphrase: new Secret(sshd!.passphrase) } });
    expect(await whoami(await connect(target))).toBe(sshd!.user);
  });

  it('says a protected key needs its passphrase, and when the passphrase is wrong', async () => {
    const missing = await connectError(sshTarget(sshd!, { auth: { privateKeyFile: sshd!.protectedKeyFile } }));
    expect(missing.format()).toMatch(/cannot use private key .*client_protected/);
    expect(missing.format()).toMatch(/protected by a passphrase; give it as the host's passphrase/);
    const wrong = await connectError(
      sshTarget(sshd!, { auth: { privateKeyFile: sshd!.protectedKeyFile, passphrase: new Secret('not-the-passphrase') } }),
    );
    expect(wrong.format()).toMatch(/the passphrase does not open this key/);
    expect(wrong.format()).not.toContain('not-the-passphrase');
  });

  it('with a password', async () => {
    const target = sshTarget(sshd!, { auth: { password: new Secret(sshd!.password) } });
    expect(await whoami(await connect(target))).toBe(sshd!.user);
  });

  it('with ssh-agent, from the inventory or from SSH_AUTH_SOCK', async () => {
    agent = await startSshAgent(sshd!.dir, [sshd!.plainKeyFile]);
    expect(await whoami(await connect(sshTarget(sshd!, { auth: { agent: agent.socket } })))).toBe(sshd!.user);
    process.env.SSH_AUTH_SOCK = agent.socket;
    try {
      expect(await whoami(await connect(sshTarget(sshd!, { auth: {} })))).toBe(sshd!.user);
    } finally {
      delete process.env.SSH_AUTH_SOCK;
    }
  });

  it('falls through to the next method when one is refused', async () => {
    const target = sshTarget(sshd!, { auth: { privateKeyFile: strangerKey, password: new Secret(sshd!.password) } });
    expect(await whoami(await connect(target))).toBe(sshd!.user);
  });

  it('lists what it tried when every method fails, never the password', async () => {
    const password = 'Wrong-Password-123';
    const err = await connectError(sshTarget(sshd!, { auth: { privateKeyFile: strangerKey, password: new Secret(password) } }));
    const text = err.format();
    expect(text).toContain(`authentication failed for ${sshd!.user}@127.0.0.1:${sshd!.port}`);
    expect(text).toContain(`tried key file ${strangerKey}, password`);
    // The server does not offer keyboard-interactive, so it was not tried.
    expect(text).not.toContain('keyboard-interactive (password)');
    expect(text).toContain('the server accepts publickey, password');
    expect(text).not.toContain(password);
    expect(JSON.stringify(err)).not.toContain(password);
  });

  it('refuses to dial with no way to log in', async () => {
    const err = await connectError(sshTarget(sshd!, { auth: {} }));
    expect(err.format()).toMatch(/no way to log in .*no private key, password or ssh-agent/);
  });
});

describe('unreachable hosts', () => {
  let silent: Server | undefined;
  const sockets = new Set<Socket>();

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => (silent ? silent.close(resolve) : resolve(undefined)));
  });

  it('says the connection was refused', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    const err = await connectError(sshTarget(sshd!, { port }));
    expect(err.format()).toMatch(new RegExp(`connection refused by .*127\\.0\\.0\\.1:${port}: nothing listens on port ${port}`));
    expect(err.format()).toMatch(/hint: check that sshd runs/);
  });

  it('gives up on a port that never speaks SSH', async () => {
    silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent!.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const err = await connectError(sshTarget(sshd!, { port }), { connectTimeoutMs: 500 });
    expect(err.format()).toMatch(/timed out after 1 s waiting for the SSH handshake/);
  });
});

describe('host keys', () => {
  const ed25519 = () => sshd!.hostKeys.find((k) => k.type === 'ssh-ed25519')!;
  const knownHostsWith = (text: string) => {
    const file = join(sshd!.dir, `known_hosts-${Math.random().toString(36).slice(2)}`);
    writeFileSync(file, text);
    return file;
  };

  it('refuses an unknown key, showing its fingerprint and how to accept it', async () => {
    const file = knownHostsWith('');
    const err = await connectError(sshTarget(sshd!, { knownHostsFile: file }));
    expect(err).toBeInstanceOf(HostKeyError);
    const text = err.format();
    expect(text).toContain(`presented ssh-ed25519 key ${fingerprint(ed25519().blob)}`);
    expect(text).toContain('--accept-new-host-keys');
    expect(text).toContain(`ssh-keyscan -p ${sshd!.port} 127.0.0.1 >> ${file}`);
    expect(readFileSync(file, 'utf8')).toBe('');
  });

  it('records an unknown key with acceptNewHostKeys, and knows it afterwards', async () => {
    const file = knownHostsWith('# mine\n');
    await connect(sshTarget(sshd!, { knownHostsFile: file }), { acceptNewHostKeys: true });
    expect(readFileSync(file, 'utf8')).toBe(`# mine\n[127.0.0.1]:${sshd!.port} ${ed25519().publicLine}\n`);
    // ssh itself agrees with what was written.
    expect(execFileSync('ssh-keygen', ['-F', `[127.0.0.1]:${sshd!.port}`, '-f', file], { encoding: 'utf8' })).toContain(ed25519().publicLine);
    await connect(sshTarget(sshd!, { knownHostsFile: file }));
  });

  it('refuses a changed key even with acceptNewHostKeys, naming the line to remove', async () => {
    const impostor = readFileSync(`${strangerKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    const text = `# first line\n[127.0.0.1]:${sshd!.port} ${impostor}\n`;
    const file = knownHostsWith(text);
    const err = await connectError(sshTarget(sshd!, { knownHostsFile: file }), { acceptNewHostKeys: true });
    expect(err).toBeInstanceOf(HostKeyError);
    expect(err.format()).toContain('has CHANGED');
    expect(err.format()).toContain(`${file} line 2 records a different ssh-ed25519 key`);
    expect(err.format()).toContain(`ssh-keygen -R '[127.0.0.1]:${sshd!.port}' -f ${file}`);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('asks the server for a key type known_hosts has, when only that one is recorded', async () => {
    for (const type of ['ecdsa-sha2-nistp256', 'ssh-rsa']) {
      const file = sshd!.writeKnownHosts([type]);
      expect(await whoami(await connect(sshTarget(sshd!, { knownHostsFile: file })))).toBe(sshd!.user);
    }
  });

  it('matches hashed known_hosts entries', async () => {
    const file = sshd!.writeKnownHosts();
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'pipe' });
    expect(readFileSync(file, 'utf8')).not.toContain('127.0.0.1');
    expect(await whoami(await connect(sshTarget(sshd!, { knownHostsFile: file })))).toBe(sshd!.user);
  });

  it('refuses a revoked key', async () => {
    const file = knownHostsWith(`${sshd!.knownHostsLines()}@revoked * ${ed25519().publicLine}\n`);
    const err = await connectError(sshTarget(sshd!, { knownHostsFile: file }), { acceptNewHostKeys: true });
    expect(err).toBeInstanceOf(HostKeyError);
    expect(err.format()).toMatch(/is marked @revoked in .* line 4/);
  });
});

describe('the account', () => {
  it('explains become when sudo wants a password', async () => {
    const connection = await connect(sshTarget(sshd!));
    const result = await connection.exec('true', { become: true });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('sudo: a password is required');
    expect(result.stderr).toContain(`become failed: sudo asks ${sshd!.user} for a password`);
  });

  it('reads the profile for loginShell', async () => {
    writeFileSync(join(sshd!.home, '.profile'), 'export RUNBOOK_FROM_PROFILE=yes\n');
    const connection = await connect(sshTarget(sshd!));
    const command = `printf '%s' "$RUNBOOK_FROM_PROFILE"`;
    expect((await connection.exec(command, { loginShell: true })).stdout).toBe('yes');
    expect((await connection.exec(command)).stdout).toBe('');
  });
});
