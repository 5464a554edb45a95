// The bad-input corpus (test/bad-inputs/<case>/): each case is a playbook
// and/or inventory (or -e file) with an expect.yaml naming the file:line:col,
// a phrase of the message and a phrase of the hint. Every case runs the real
// CLI (`runbook play … -o json`), which must exit 2, print the position, the
// message and a hint, start no run (no events, no journal) and contact no host.
//
// "No host" is proven, not assumed: every inventory in the corpus puts its
// hosts at 127.77.0.1, where this suite listens on port 22 and records every
// connection. A control run with valid input first shows that the trap does
// see runbook connect when validation lets it through.

import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { packageRoot } from '../../engine/paths.js';
import { RUNBOOK } from '../support/cli.js';

const CORPUS = join(packageRoot, 'test', 'bad-inputs');
const SHARED = join(CORPUS, '_shared');
const TRAP_ADDRESS = '127.77.0.1';
const TRAP_PORT = 22;

interface Expect {
  file: string;
  line: number;
  col: number;
  message: string;
  hint?: string;
  args?: string[];
  /** A file the test writes before the run (too big to keep in git). */
  generate?: { file: string; bytes: number };
}

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

const cases = readdirSync(CORPUS, { withFileTypes: true })
  .filter((e) => e.isDirectory() && !e.name.startsWith('_'))
  .map((e) => e.name)
  .sort();

function runPlay(cwd: string, args: string[], env: Record<string, string>): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [RUNBOOK, 'play', ...args, '-o', 'json'], {
      cwd,
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('exit', () => {
      const ms = performance.now() - started;
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr, ms });
      });
    });
  });
}

describe('the bad-input corpus', () => {
  let trap: Server;
  const connections: string[] = [];
  const sockets = new Set<Socket>();
  let work: string;
  const times: Array<[string, number]> = [];
  const env = () => ({ RUNBOOK_HOME: join(work, 'home'), RB_TRAP_PASSWORD: 'not-a-real-password' });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'rb-bad-inputs-'));
    trap = createServer((socket) => {
      connections.push(`${socket.remoteAddress}:${socket.remotePort}`);
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      // Not an SSH server: the client gives up at once, and the connection is on record.
      socket.end('not an ssh server\r\n');
    });
    await new Promise<void>((resolve, reject) => {
      trap.once('error', (err: NodeJS.ErrnoException) =>
        reject(new Error(`cannot listen on ${TRAP_ADDRESS}:${TRAP_PORT} for the no-contact check (${err.code}); is another run of this suite going on?`)),
      );
      trap.listen(TRAP_PORT, TRAP_ADDRESS, resolve);
    });
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => (trap ? trap.close(() => resolve()) : resolve()));
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('control: with valid input, runbook does connect to the trap', async () => {
    const r = await runPlay(SHARED, [join(SHARED, 'playbook.yaml'), '-i', join(SHARED, 'inventory.yaml')], env());
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain('"type":"run_start"');
    expect(connections.length).toBeGreaterThan(0);
    connections.length = 0;
  });

  test('holds at least 40 cases, each with its expectations', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    for (const name of cases) expect(existsSync(join(CORPUS, name, 'expect.yaml')), name).toBe(true);
  });

  for (const name of cases) {
    test(name, async ({ annotate }) => {
      const want = parse(readFileSync(join(CORPUS, name, 'expect.yaml'), 'utf8')) as Expect;
      let dir = join(CORPUS, name);
      if (want.generate) {
        // Generated into a copy: the corpus folder stays as it is in git.
        const copy = join(work, 'cases', name);
        cpSync(dir, copy, { recursive: true });
        const line = '# padding: an inventory this large is a mistake, and must be refused before it is read\n';
        writeFileSync(join(copy, want.generate.file), line.repeat(Math.ceil(want.generate.bytes / line.length)));
        dir = copy;
      }
      const own = (f: string) => (existsSync(join(dir, f)) ? join(dir, f) : join(SHARED, f));
      const before = connections.length;
      const runs = join(work, 'home', 'runs');
      const journals = () => (existsSync(runs) ? readdirSync(runs).sort() : []);
      const runsBefore = journals();
      const r = await runPlay(dir, [own('playbook.yaml'), '-i', own('inventory.yaml'), ...(want.args ?? [])], env());
      times.push([name, r.ms]);
      await annotate(`exit ${r.code} after ${Math.round(r.ms)} ms`);

      const shown = `${r.stderr}\n(stdout: ${r.stdout})`;
      expect(r.code, shown).toBe(2);
      // Nothing started: no event was printed, no run journal was begun, no host was contacted.
      expect(r.stdout, shown).toBe('');
      expect(journals(), shown).toEqual(runsBefore);
      expect(connections.length - before, `${name} connected to the trap`).toBe(0);

      // The position, as an absolute path or as given on the command line.
      const abs = join(dir, want.file);
      const at = [abs, relative(dir, abs)].map((f) => `${f}:${want.line}:${want.col}: `);
      expect(at.some((a) => r.stderr.includes(a)), `expected ${at[0]}… in:\n${r.stderr}`).toBe(true);
      const located = r.stderr.split('\n').find((l) => at.some((a) => l.includes(a)))!;
      expect(located, shown).toContain(want.message);
      // A fix hint is printed (the expected one when the case names it).
      const hints = r.stderr.split('\n').filter((l) => l.startsWith('hint: '));
      expect(hints.length, shown).toBeGreaterThan(0);
      if (want.hint) expect(r.stderr.slice(r.stderr.indexOf(located)), shown).toMatch(new RegExp(`hint: .*${escape(want.hint)}`));
    });
  }

  test('exit times (measured, not asserted)', async ({ annotate }) => {
    const sorted = [...times].sort((a, b) => a[1] - b[1]);
    if (sorted.length === 0) return;
    const ms = sorted.map(([, t]) => t);
    const median = ms[Math.floor(ms.length / 2)]!;
    const slowest = sorted.slice(-3).map(([n, t]) => `${n} ${Math.round(t)} ms`);
    await annotate(`${ms.length} cases: median ${Math.round(median)} ms, max ${Math.round(ms.at(-1)!)} ms, over 1 s: ${ms.filter((t) => t > 1000).length}; slowest: ${slowest.join(', ')}`);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
