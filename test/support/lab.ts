// Real SSH hosts for integration and end-to-end suites. useLab() brings a lab
// with a unique name and subnet up before the suite and always brings it down
// after it, even when setup or tests fail, so suites can run in parallel and
// leave nothing behind.

import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { compiledServer } from '../../engine/lab/compiled.js';
import { LabError, labDown, labUp, loadLab, type LabHost, type LabState } from '../../engine/lab/index.js';
import { packageRoot } from '../../engine/paths.js';

export interface UseLabOptions {
  hosts: number;
  /** Default: a fresh random name, so parallel suites never share a lab. */
  name?: string;
  /** Default: a free 198.19.<k>.0/24 chosen at random. */
  subnet?: string;
}

export interface SshResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface SshOptions {
  input?: string | Buffer;
  /** Default 60 s; the ssh client is killed after it. */
  timeoutMs?: number;
}

export interface LabHandle {
  readonly name: string;
  /** The lab as recorded now (re-read on every access, so it follows `grow`). */
  readonly state: LabState;
  readonly subnet: string;
  readonly inventoryPath: string;
  readonly hosts: LabHost[];
  readonly keyPath: string;
  readonly knownHostsPath: string;
  host(name: string): LabHost;
  /** Bring the lab to `hosts` hosts (runs `lab up` again). */
  grow(hosts: number): Promise<LabState>;
  /** Run `cmd` on a host with the system ssh client, the lab key and strict host key checking. */
  sshExec(host: string | LabHost, cmd: string, opts?: SshOptions): Promise<SshResult>;
}

export function useLab(opts: UseLabOptions): LabHandle {
  const name = opts.name ?? `t${randomBytes(4).readUInt32BE().toString(36).slice(0, 6)}`;
  let subnet = opts.subnet;

  beforeAll(async () => {
    // Parallel suites may draw the same subnet; the lab refuses a taken one, so draw again.
    for (let attempt = 1; ; attempt++) {
      const tryNet = subnet ?? `198.19.${randomInt(1, 255)}.0/24`;
      try {
        await labUp({ hosts: opts.hosts, name, subnet: tryNet });
        subnet = tryNet;
        return;
      } catch (err) {
        if (opts.subnet !== undefined || attempt >= 8 || !(err instanceof LabError && err.code === 'subnet-in-use')) throw err;
      }
    }
  });

  afterAll(async () => {
    await labDown({ name });
  });

  const current = (): LabState => {
    const state = loadLab(name);
    if (state === undefined) throw new Error(`lab ${name} is not up (used outside the suite, or its beforeAll failed)`);
    return state;
  };

  const handle: LabHandle = {
    name,
    get state() {
      return current();
    },
    get subnet() {
      return current().subnet;
    },
    get inventoryPath() {
      return current().inventoryPath;
    },
    get hosts() {
      return current().hosts;
    },
    get keyPath() {
      return current().privateKeyFile;
    },
    get knownHostsPath() {
      return current().knownHostsFile;
    },
    host(hostName: string): LabHost {
      const found = current().hosts.find((h) => h.name === hostName);
      if (!found) throw new Error(`lab ${name} has no host ${hostName}`);
      return found;
    },
    grow(hosts: number): Promise<LabState> {
      return labUp({ hosts, name, subnet: current().subnet });
    },
    sshExec(host: string | LabHost, cmd: string, sshOpts: SshOptions = {}): Promise<SshResult> {
      const h = typeof host === 'string' ? handle.host(host) : host;
      const state = current();
      return runSsh(
        [
          '-F', 'none',
          '-i', state.privateKeyFile,
          '-o', 'IdentitiesOnly=yes',
          '-o', `UserKnownHostsFile=${state.knownHostsFile}`,
          '-o', 'GlobalKnownHostsFile=/dev/null',
          '-o', 'StrictHostKeyChecking=yes',
          '-o', 'BatchMode=yes',
          '-o', 'ConnectTimeout=10',
          '-o', 'LogLevel=ERROR',
          `root@${h.address}`,
          '--',
          cmd,
        ],
        sshOpts,
      );
    },
  };
  return handle;
}

function runSsh(args: string[], opts: SshOptions): Promise<SshResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ssh ${args.slice(-2).join(' ')} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/**
 * Make sure dist/ holds an up-to-date compiled engine/lab/packages/<product>/<name>.ts,
 * compiling just that file when it does not, so package tests need no full
 * `npm run build` first (which `npm test` does anyway).
 */
export async function ensureCompiledServer(product: string, name: string): Promise<void> {
  try {
    compiledServer(product, name);
    return;
  } catch (err) {
    if (!(err instanceof LabError && err.code === 'not-built')) throw err;
  }
  // Rooted at packages/, so the simulators' imports of ../../sim-common/ compile to their place in dist/ too.
  const srcDir = join(packageRoot, 'engine', 'lab', 'packages');
  const args = [
    join(packageRoot, 'node_modules', 'typescript', 'bin', 'tsc'),
    '--ignoreConfig', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
    '--types', 'node', '--strict', '--skipLibCheck', '--sourceMap',
    '--rootDir', srcDir, '--outDir', join(packageRoot, 'dist', 'engine', 'lab', 'packages'),
    join(srcDir, product, `${name}.ts`),
  ];
  const result = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: packageRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => out.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output: Buffer.concat(out).toString('utf8') }));
  });
  if (result.code !== 0) throw new Error(`compiling ${product}/${name}.ts failed:\n${result.output}`);
  compiledServer(product, name);
}
