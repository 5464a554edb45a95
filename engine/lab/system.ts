// The controller-side commands the lab needs (ip, unshare, sshd, ssh-keygen,
// zip, tar) and one way to run them. The lab installs nothing itself: when a
// tool is missing it names the Debian package that provides it.

import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { argv } from '../quote.js';
import { LabError } from './errors.js';

export const toolPackages = {
  sshd: 'openssh-server',
  ip: 'iproute2',
  unshare: 'util-linux',
  nsenter: 'util-linux',
  'ssh-keygen': 'openssh-client',
  ssh: 'openssh-client',
  zip: 'zip',
  tar: 'tar',
} as const;

export type Tool = keyof typeof toolPackages;
export type Tools = Record<Tool, string>;

// sbin directories are often missing from a non-login PATH (sudo, vitest
// workers), yet that is where sshd and ip live.
const extraDirs = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Absolute path of a tool, or undefined when it is not installed. */
export function findTool(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter((d) => d.startsWith('/')), ...extraDirs];
  for (const dir of dirs) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** Resolve every tool in `names`, or fail naming each missing one and its package. */
export function requireTools<T extends Tool>(names: readonly T[], forWhat: string): Record<T, string> {
  const found = {} as Record<T, string>;
  const missing: T[] = [];
  for (const name of names) {
    const path = findTool(name);
    if (path === undefined) missing.push(name);
    else found[name] = path;
  }
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((m) => toolPackages[m]))];
    throw new LabError(
      'missing-tools',
      `${forWhat} needs ${missing.map((m) => `\`${m}\` (package ${toolPackages[m]})`).join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not installed on this machine`,
      { hint: `install ${packages.length === 1 ? 'it' : 'them'} with: apt-get install -y ${packages.join(' ')}` },
    );
  }
  return found;
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

export function requireRoot(forWhat: string): void {
  if (!isRoot()) {
    throw new LabError(
      'not-root',
      `${forWhat} must run as root: it creates network namespaces, a bridge, bind mounts and sshd processes`,
      { hint: 'run it again with sudo (e.g. `sudo runbook lab up`)' },
    );
  }
}

export interface RunOptions {
  input?: string | Buffer;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Explains the step in the error message ("create bridge rb-default-br"). */
  what: string;
  hint?: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Run a command to completion; a non-zero exit becomes a LabError that shows the command and its stderr. */
export async function run(file: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  const { code, signal, stdout, stderr, spawnError } = await runRaw(file, args, opts);
  if (spawnError !== undefined) {
    throw new LabError('command-failed', `could not ${opts.what}: cannot start ${file}: ${spawnError.message}`, {
      hint: opts.hint,
      cause: spawnError,
    });
  }
  if (code !== 0) {
    const how = signal !== null ? `was killed by ${signal}` : `exited with ${code}`;
    const detail = stderr.trim() || stdout.trim() || '(no output)';
    throw new LabError('command-failed', `could not ${opts.what}: \`${argv([file, ...args])}\` ${how}: ${detail}`, {
      hint: opts.hint,
    });
  }
  return { stdout, stderr };
}

/** Run a command and report only whether it succeeded (for removals that may find nothing to remove). */
export async function runOk(file: string, args: readonly string[]): Promise<boolean> {
  const { code, spawnError } = await runRaw(file, args, {});
  return spawnError === undefined && code === 0;
}

interface RawResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  spawnError: Error | undefined;
}

function runRaw(file: string, args: readonly string[], opts: Partial<RunOptions>): Promise<RawResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
      ...(opts.env !== undefined ? { env: opts.env } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let spawnError: Error | undefined;
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => {
      spawnError = e;
    });
    child.on('close', (code, signal) => {
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        spawnError,
      });
    });
    // A command that exits before reading its input makes the pipe error; the
    // exit code already tells the story.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}
