// A throwaway real OpenSSH server for integration tests: its own temp dir,
// host keys, client keys, config and log, listening on 127.0.0.1 only.
// stop() ends it (and its per-connection children) by pid, removes the test
// account it may have created and deletes the directory; a process 'exit'
// hook does the same if a test run dies before afterAll.
//
// Tests log in as a dedicated account, not root: password auth needs a real
// account with a known password (sshd checks the shadow file), and root's
// shell here is bash, which sources ~/.bashrc for every command sshd runs
// (on this machine that costs ~130 ms of pyenv per command). startSshd()
// creates `rbssh-<hex>` with a random password and /bin/sh as its shell, and
// stop() deletes it with `userdel -r`. A fresh name per run means two runs at
// once never delete each other's account.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import type { SshTarget } from '../../engine/connection/ssh.js';
import { join } from 'node:path';

export const SSHD_ADDRESS = '127.0.0.1';

export interface HostKeyInfo {
  type: string;
  /** The key blob the server presents. */
  blob: Buffer;
  /** `type base64` as in a .pub file. */
  publicLine: string;
}

interface TestUser {
  name: string;
  password: string;
  home: string;
}

export interface TestSshd {
  address: string;
  port: number;
  /** Every port it listens on; `port` is the first. */
  ports: number[];
  dir: string;
  /** The server's host keys (ed25519, ecdsa, rsa). */
  hostKeys: HostKeyInfo[];
  /** The test account (shell /bin/sh): logs in with either key or its password; no sudo rights. */
  user: string;
  password: string;
  home: string;
  /** root logs in with either key (for become). */
  rootUser: 'root';
  plainKeyFile: string;
  protectedKeyFile: string;
  passphrase: string;
  /** known_hosts lines for this server (first port), one per chosen key type. */
  knownHostsLines(types?: string[]): string;
  log(): string;
  /** Logins the server accepted so far ("Accepted publickey for …" lines). */
  acceptedLogins(): number;
  /** The per-connection sshd processes (privileged monitors): one per open TCP connection. */
  connectionPids(): number[];
  /** A known_hosts file holding this server's keys (all types unless narrowed). */
  writeKnownHosts(types?: string[]): string;
  /** Starts sshd on its ports, once; with deferListen, nothing listens before this. */
  listen(): Promise<void>;
  stop(): Promise<void>;
}

export interface SshdOptions {
  maxSessions?: number;
  /** Listen on this many ports (all on 127.0.0.1): a second port is a second known_hosts name. */
  ports?: number;
  /**
   * Prepare everything (keys, account, config, ports chosen) but start
   * listening only when listen() is called: for a host that is still coming
   * up when a client dials it.
   */
  deferListen?: boolean;
}

const SSHD = '/usr/sbin/sshd';

export async function startSshd(options: SshdOptions = {}): Promise<TestSshd> {
  const dir = mkdtempSync(join(tmpdir(), 'runbook-sshd-'));
  // sshd reads authorized_keys as the logging-in user, so the path must be traversable.
  chmodSync(dir, 0o755);
  const cleanup = new Cleanup(dir);
  try {
    return await setUp(dir, options, cleanup);
  } catch (err) {
    cleanup.runSync();
    throw err;
  }
}

async function setUp(dir: string, options: SshdOptions, cleanup: Cleanup): Promise<TestSshd> {
  ensurePrivsepDir();
  const hostKeys: HostKeyInfo[] = [];
  for (const type of ['ed25519', 'ecdsa', 'rsa']) {
    const file = join(dir, `ssh_host_${type}_key`);
    keygen(file, type, '');
    const publicLine = readFileSync(`${file}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
    hostKeys.push({ type: publicLine.split(' ')[0]!, blob: Buffer.from(publicLine.split(' ')[1]!, 'base64'), publicLine });
  }
  const plainKeyFile = join(dir, 'client_plain');
  const protectedKeyFile = join(dir, 'client_protected');
  const passphrase = randomBytes(9).toString('base64');
  keygen(plainKeyFile, 'ed25519', '');
  keygen(protectedKeyFile, 'ed25519', passphrase);
  const authorized = [plainKeyFile, protectedKeyFile].map((f) => readFileSync(`${f}.pub`, 'utf8')).join('');

  const keysDir = join(dir, 'authorized_keys');
  mkdirSync(keysDir, { mode: 0o755 });
  writeFileSync(join(keysDir, 'root'), authorized, { mode: 0o644 });

  const testUser = createUser(dir, cleanup);
  writeFileSync(join(keysDir, testUser.name), authorized, { mode: 0o644 });

  const logFile = join(dir, 'sshd.log');
  const choosePorts = async () => {
    const ports: number[] = [];
    while (ports.length < (options.ports ?? 1)) {
      const candidate = await freePort();
      if (!ports.includes(candidate)) ports.push(candidate);
    }
    return ports;
  };
  const launch = async (ports: number[]) => {
    const config = join(dir, 'sshd_config');
    writeFileSync(config, sshdConfig(dir, ports, options.maxSessions ?? 10));
    const logFd = openSync(logFile, 'a');
    const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', logFd] });
    closeSync(logFd);
    cleanup.sshd = child;
    try {
      for (const p of ports) await waitForBanner(p, child, logFile);
    } catch (err) {
      await cleanup.stopSshd();
      throw err;
    }
  };
  let lastError: Error | undefined;
  // A port found free can be taken before sshd binds it; try a few. A
  // deferred server keeps the ports it was given: clients already know them.
  for (let attempt = 0; attempt < 3; attempt++) {
    const ports = await choosePorts();
    const port = ports[0]!;
    let listening: Promise<void> | undefined;
    const listen = () => (listening ??= launch(ports));
    if (!options.deferListen) {
      try {
        await listen();
      } catch (err) {
        lastError = err as Error;
        continue;
      }
    }
    const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
    const knownHostsLines = (types?: string[]) =>
      hostKeys
        .filter((k) => types === undefined || types.includes(k.type))
        .map((k) => `[${SSHD_ADDRESS}]:${port} ${k.publicLine}\n`)
        .join('');
    return {
      address: SSHD_ADDRESS,
      port,
      ports,
      dir,
      hostKeys,
      user: testUser.name,
      password: testUser.password,
      home: testUser.home,
      rootUser: 'root',
      plainKeyFile,
      protectedKeyFile,
      passphrase,
      knownHostsLines,
      log,
      acceptedLogins: () => log().split('\n').filter((l) => /^Accepted \S+ for /.test(l)).length,
      connectionPids: () => (cleanup.sshd?.pid === undefined ? [] : childrenOf(cleanup.sshd.pid)),
      writeKnownHosts: (types) => {
        const file = join(dir, `known_hosts-${randomBytes(3).toString('hex')}`);
        writeFileSync(file, knownHostsLines(types));
        return file;
      },
      listen,
      stop: () => cleanup.run(),
    };
  }
  throw new Error(`sshd did not start: ${lastError?.message ?? 'unknown reason'}`);
}

function sshdConfig(dir: string, ports: number[], maxSessions: number): string {
  return [
    ...ports.map((p) => `Port ${p}`),
    `ListenAddress ${SSHD_ADDRESS}`,
    ...['ed25519', 'ecdsa', 'rsa'].map((t) => `HostKey ${join(dir, `ssh_host_${t}_key`)}`),
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys', '%u')}`,
    'StrictModes no',
    'PubkeyAuthentication yes',
    'PasswordAuthentication yes',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    'UsePAM no',
    `MaxSessions ${maxSessions}`,
    'MaxStartups 100',
    'UseDNS no',
    'PrintMotd no',
    'LogLevel VERBOSE',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
}

function keygen(file: string, type: string, passphrase: string): void {
  const bits = type === 'rsa' ? ['-b', '2048'] : [];
  execFileSync('ssh-keygen', ['-q', '-t', type, ...bits, '-N', passphrase, '-C', 'runbook-test', '-f', file], { stdio: 'pipe' });
}

/**
 * sshd refuses to start without its privilege separation directory, which
 * Debian creates at boot for the system sshd; a container may not have it.
 * It is left in place: removing it would break any other sshd on the machine.
 */
function ensurePrivsepDir(): void {
  if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755, recursive: true });
}

function createUser(dir: string, cleanup: Cleanup): TestUser {
  const name = `rbssh-${randomBytes(4).toString('hex')}`;
  const home = join(dir, 'home');
  const password = randomBytes(12).toString('base64');
  // useradd fails if another process holds the passwd lock; retry briefly.
  retry(() => execFileSync('useradd', ['--create-home', '--home-dir', home, '--shell', '/bin/sh', name], { stdio: 'pipe' }));
  cleanup.user = name;
  retry(() => execFileSync('chpasswd', { input: `${name}:${password}\n`, stdio: ['pipe', 'pipe', 'pipe'] }));
  return { name, password, home };
}

function retry(action: () => void): void {
  for (let attempt = 1; ; attempt++) {
    try {
      action();
      return;
    } catch (err) {
      if (attempt >= 5) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200 * attempt);
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, SSHD_ADDRESS, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls until the port answers with an SSH banner (or sshd has exited). */
async function waitForBanner(port: number, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`sshd exited: ${readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join(' | ')}`);
    }
    if (await readsBanner(port)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`sshd did not answer on ${SSHD_ADDRESS}:${port} within 15 s`);
}

function readsBanner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: SSHD_ADDRESS, port });
    let data = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('data', (d) => {
      data += d.toString('latin1');
      if (data.includes('\n')) done(data.startsWith('SSH-2.0-'));
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(data.startsWith('SSH-2.0-')));
  });
}

/** Live (not zombie) processes whose command line (arguments joined by spaces) contains `text`. */
export function processesMatching(text: string): number[] {
  return liveProcesses().filter((p) => p.commandLine.includes(text)).map((p) => p.pid);
}

/** Live processes whose command line is exactly `commandLine`. */
export function processesRunning(commandLine: string): number[] {
  return liveProcesses().filter((p) => p.commandLine === commandLine).map((p) => p.pid);
}

function liveProcesses(): Array<{ pid: number; commandLine: string }> {
  const found: Array<{ pid: number; commandLine: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const commandLine = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0$/, '').replace(/\0/g, ' ');
      found.push({ pid: Number(entry), commandLine });
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/** A process and everything below it, parents first. */
export function processTree(pid: number): number[] {
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...childrenOf(tree[i]!));
  return tree;
}

function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // Gone already.
    }
  }
  return children;
}

/** Everything a test sshd leaves behind, undone in one place. */
class Cleanup {
  sshd: ChildProcess | undefined;
  user: string | undefined;
  #done = false;
  readonly #onExit = () => this.runSync();

  constructor(readonly dir: string) {
    process.once('exit', this.#onExit);
  }

  async stopSshd(): Promise<void> {
    const child = this.sshd;
    this.sshd = undefined;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // Per-connection sshd processes outlive the listener; end them too.
    for (const pid of childrenOf(child.pid)) killQuietly(pid);
    killQuietly(child.pid);
    const timer = setTimeout(() => child.pid !== undefined && killQuietly(child.pid, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  async run(): Promise<void> {
    if (this.#done) return;
    await this.stopSshd();
    this.runSync();
  }

  runSync(): void {
    if (this.#done) return;
    this.#done = true;
    process.removeListener('exit', this.#onExit);
    if (this.sshd?.pid !== undefined) {
      for (const pid of childrenOf(this.sshd.pid)) killQuietly(pid, 'SIGKILL');
      killQuietly(this.sshd.pid, 'SIGKILL');
    }
    if (this.user !== undefined) {
      try {
        retry(() => execFileSync('userdel', ['--remove', '--force', this.user!], { stdio: 'pipe' }));
      } catch {
        // Reported by the test that checks for leftovers; nothing more to do here.
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGTERM'): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

export interface TestAgent {
  socket: string;
  stop(): Promise<void>;
}

/** Starts ssh-agent in the foreground on its own socket and loads keys into it. */
export async function startSshAgent(dir: string, keyFiles: string[]): Promise<TestAgent> {
  const socket = join(dir, `agent-${randomBytes(3).toString('hex')}.sock`);
  const child = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    killQuietly(child.pid);
    await exited;
  };
  try {
    const deadline = Date.now() + 10_000;
    while (!existsSync(socket)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('ssh-agent did not create its socket');
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const key of keyFiles) execFileSync('ssh-add', ['-q', key], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'pipe' });
  } catch (err) {
    await stop();
    throw err;
  }
  return { socket, stop };
}

/** Where an SshConnection reaches the test server: the test account with the plain key, all host keys known. */
export function sshTarget(sshd: TestSshd, overrides: Partial<SshTarget> = {}): SshTarget {
  return {
    name: 'testhost',
    address: sshd.address,
    port: sshd.port,
    user: sshd.user,
    auth: { privateKeyFile: sshd.plainKeyFile },
    knownHostsFile: sshd.writeKnownHosts(),
    ...overrides,
  };
}
