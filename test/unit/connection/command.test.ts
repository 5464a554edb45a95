// The built command lines are run for real through dash and bash (as the
// login shell, and as the `sh` the line invokes) and their output compared
// byte for byte: quoting bugs only show when a shell reads the text.

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildCommand,
  buildKillCommand,
  buildScript,
  buildSupervisedCommand,
  commandInput,
  explainSudoFailure,
  partitionEnv,
  PgidMarkerParser,
  secretEnvInput,
} from '../../../engine/connection/command.js';
import { InputError } from '../../../engine/errors.js';
import { argv } from '../../../engine/quote.js';
import { Secret } from '../../../engine/secret.js';

const HOSTILE = [
  `it's`,
  `'`,
  `''`,
  `'\\''`,
  `"double" and \\"escaped\\"`,
  '$(touch /tmp/runbook-pwned)',
  '`touch /tmp/runbook-pwned`',
  '$HOME ${HOME} $((1+1)) $1 $@ $*',
  'new\nline\n\nand trailing\n',
  'tab\there',
  'back\\slash\\\\double',
  '; rm -rf / ; # & | && || > < >> 2>&1 *',
  '* ? [a-z] ~ ~root !bang !!',
  '{a,b} (sub) {',
  '\\',
  ' leading and trailing spaces ',
  '-n',
  'ümlaut ✓ 日本',
  '',
];

let workDir: string;
/** A PATH directory whose `sh` is bash, to check the inner `sh` may be bash too. */
let bashAsShDir: string;

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'runbook-command-'));
  bashAsShDir = join(workDir, 'bash-as-sh');
  mkdirSync(bashAsShDir);
  symlinkSync('/bin/bash', join(bashAsShDir, 'sh'));
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

interface ShellCase {
  name: string;
  loginShell: string;
  path: string;
}

function shells(): ShellCase[] {
  const path = process.env.PATH ?? '/usr/bin:/bin';
  return [
    { name: 'dash login shell, sh=dash', loginShell: '/bin/dash', path },
    { name: 'bash login shell, sh=dash', loginShell: '/bin/bash', path },
    { name: 'dash login shell, sh=bash', loginShell: '/bin/dash', path: `${bashAsShDir}:${path}` },
  ];
}

/** Runs a line the way sshd does: `<login shell> -c <line>`, with `input` on stdin. */
function runAsLoginShell(shell: ShellCase, line: string, env: Record<string, string> = {}, input?: string | Buffer) {
  const result = spawnSync(shell.loginShell, ['-c', line], {
    env: { PATH: shell.path, HOME: workDir, ...env },
    encoding: 'buffer',
    ...(input !== undefined ? { input } : {}),
  });
  return { status: result.status, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

describe('buildCommand', () => {
  for (const shell of shells()) {
    describe(shell.name, () => {
      it('passes hostile arguments through byte for byte', () => {
        const line = buildCommand(argv(['printf', '%s\\0', ...HOSTILE]));
        const out = runAsLoginShell(shell, line);
        expect(out.stderr).toBe('');
        expect(out.stdout.split('\0').slice(0, -1)).toEqual(HOSTILE);
      });

      it('exports hostile environment values verbatim', () => {
        const env = Object.fromEntries(HOSTILE.map((v, i) => [`RB_VAR_${i}`, v]));
        const command = HOSTILE.map((_, i) => `printf '%s\\0' "$RB_VAR_${i}"`).join('; ');
        const out = runAsLoginShell(shell, buildCommand(command, { env }));
        expect(out.stdout.split('\0').slice(0, -1)).toEqual(HOSTILE);
      });

      it('changes into a directory with a hostile name', () => {
        const dir = join(workDir, `it's $(x) \`y\` \n'\\'' dir`);
        mkdirSync(dir, { recursive: true });
        const out = runAsLoginShell(shell, buildCommand('pwd', { cwd: dir }));
        expect(out.stdout).toBe(`${dir}\n`);
      });

      it('keeps the command in one piece after the prefix (no precedence surprises)', () => {
        const out = runAsLoginShell(shell, buildCommand('echo first; false || echo second && echo third', { cwd: '/', env: { A: '1' } }));
        expect(out.stdout).toBe('first\nsecond\nthird\n');
      });

      it('runs here-documents and multi-line commands', () => {
        const out = runAsLoginShell(shell, buildCommand("cat <<'EOF'\n$not 'expanded'\nEOF\necho after"));
        expect(out.stdout).toBe("$not 'expanded'\nafter\n");
      });

      it('stops before the command when cd fails', () => {
        const out = runAsLoginShell(shell, buildCommand('echo ran; echo ran too', { cwd: join(workDir, 'missing') }));
        expect(out.status).toBe(1);
        expect(out.stdout).toBe('');
        expect(out.stderr).toMatch(/missing/);
      });

      it('keeps the exit code of the command', () => {
        expect(runAsLoginShell(shell, buildCommand('exit 42')).status).toBe(42);
      });

      it('reads the profile only for a login shell', () => {
        writeFileSync(join(workDir, '.profile'), 'export RB_FROM_PROFILE=profile-was-read\n');
        const command = `printf '%s' "$RB_FROM_PROFILE"`;
        expect(runAsLoginShell(shell, buildCommand(command, { loginShell: true })).stdout).toBe('profile-was-read');
        expect(runAsLoginShell(shell, buildCommand(command)).stdout).toBe('');
      });

      it('runs under sudo -n with become, environment and directory applied inside', () => {
        const out = runAsLoginShell(shell, buildCommand(`id -u; pwd; printf '%s' "$RB_X"`, { become: true, cwd: '/tmp', env: { RB_X: `it's` } }));
        expect(out.stderr).toBe('');
        expect(out.stdout).toBe(`0\n/tmp\nit's`);
      });
    });
  }

  it('always hands the login shell exec sh -c and a single word', () => {
    expect(buildCommand('echo hi')).toBe(`exec sh -c 'echo hi'`);
    expect(buildCommand('echo hi', { loginShell: true })).toBe(`exec sh -l -c 'echo hi'`);
    expect(buildCommand('echo hi', { cwd: '/opt/x y', env: { A: 'b c' } })).toBe(`exec sh -c 'cd '\\''/opt/x y'\\'' || exit 1\nexport A='\\''b c'\\''\necho hi'`);
    expect(buildCommand('id', { become: true })).toBe(`exec sh -c 'exec sudo -n sh -c id'`);
  });

  it('lets a signal death reach the caller instead of a shell exit status', () => {
    const out = spawnSync('/bin/dash', ['-c', buildCommand('kill -s TERM $$')]);
    expect(out.signal).toBe('SIGTERM');
  });

  it('rejects environment names a shell cannot export', () => {
    for (const bad of ['1A', 'A-B', 'A B', '', 'A=B', '$(x)', 'Ä']) {
      expect(() => buildScript('true', { env: { [bad]: 'v' } }), bad).toThrow(InputError);
    }
    expect(buildScript('true', { env: { _ok: 'v', A1: 'w' } })).toBe(`export _ok=v A1=w\ntrue`);
  });
});

/**
 * Secret values made of every hostile string (each made unique, and long
 * enough for the masker), plus the shapes a line-based encoding gets wrong:
 * leading, trailing and only newlines, CR LF, a line that looks like a count.
 */
const SECRET_VALUES = [
  ...HOSTILE.map((v, i) => `s${i}-${v}`),
  '\nleading-newline-secret',
  'trailing-newlines-secret\n\n',
  '\n\n\n',
  'crlf-secret\r\nline two\r\n',
  '3\n1\n2\n3',
];
const secretEnv = () => Object.fromEntries(SECRET_VALUES.map((v, i) => [`RB_SECRET_${i}`, new Secret(v).reveal()]));
const printSecrets = SECRET_VALUES.map((_, i) => `printf '%s\\0' "$RB_SECRET_${i}"`).join('; ');

describe('secret environment values', () => {
  for (const shell of shells()) {
    describe(shell.name, () => {
      it('reach the command verbatim through stdin, never through the command line', () => {
        const env = secretEnv();
        const line = buildCommand(printSecrets, { env });
        for (const value of SECRET_VALUES) {
          for (const piece of value.split('\n').filter((p) => p.length >= 3)) expect(line).not.toContain(piece);
        }
        const out = runAsLoginShell(shell, line, {}, commandInput({ env }));
        expect(out.stderr).toBe('');
        expect(out.stdout.split('\0').slice(0, -1)).toEqual(SECRET_VALUES);
      });

      it('leave the command its own stdin, byte for byte, and no helper variables', () => {
        const env = { RB_PW: new Secret(`pw-it's\n"$x"`).reveal(), RB_PLAIN: 'plain value' };
        const stdin = Buffer.from('own input\nwithout final newline');
        const command = `printf '%s|%s|' "$RB_PW" "$RB_PLAIN"; set | grep -c '^__rb_' ; cat`;
        const out = runAsLoginShell(shell, buildCommand(command, { env, cwd: '/' }), {}, commandInput({ env, stdin }));
        expect(out.stderr).toBe('');
        expect(out.stdout).toBe(`pw-it's\n"$x"|plain value|0\nown input\nwithout final newline`);
      });

      it('pass through sudo -n and a login shell', () => {
        const env = { RB_PW: new Secret('become-secret $HOME').reveal() };
        const line = buildCommand(`id -u; printf '%s' "$RB_PW"; cat`, { env, become: true, loginShell: true });
        const out = runAsLoginShell(shell, line, {}, commandInput({ env, stdin: '+stdin' }));
        expect(out.stdout).toBe('0\nbecome-secret $HOME+stdin');
      });

      it('fail loudly, before the command runs, when the values never arrive', () => {
        const env = { RB_PW: new Secret('never-sent-secret').reveal() };
        const out = runAsLoginShell(shell, buildCommand('echo ran', { env }), {}, '');
        expect(out.status).toBe(125);
        expect(out.stdout).toBe('');
        expect(out.stderr).toMatch(/did not receive its secret environment values on stdin/);
      });
    });
  }

  it('include any value with a secret inside, and nothing else', () => {
    const password = new Secret('inner-Pa55word').reveal();
    const { plain, secret } = partitionEnv({ URL: `jdbc://db?user=a&password=${password}`, MODE: 'fast', PW: password });
    expect(plain).toEqual([['MODE', 'fast']]);
    expect(secret.map(([name]) => name)).toEqual(['URL', 'PW']);
    expect(buildScript('true', { env: { MODE: 'fast' } })).toBe('export MODE=fast\ntrue');
    expect(secretEnvInput({ MODE: 'fast' }).length).toBe(0);
    expect(commandInput({ env: { MODE: 'fast' }, stdin: 'x' })).toBe('x');
    expect(secretEnvInput({ PW: password, MODE: 'fast', TWO: `${password}\nline` }).toString()).toBe(`1\n${password}\n2\n${password}\nline\n`);
  });

  it('are left to the caller with secretEnv: inherited', () => {
    const env = { RB_PW: new Secret('inherited-secret').reveal() };
    const script = buildScript('echo "$RB_PW"', { env, secretEnv: 'inherited' });
    expect(script).toBe('echo "$RB_PW"');
  });

  it('refuse a NUL byte, which no environment can hold', () => {
    expect(() => buildScript('true', { env: { A: 'x\0y' } })).toThrow(InputError);
    expect(() => secretEnvInput({ A: new Secret('nul\0secret').reveal() })).toThrow(InputError);
  });
});

describe('explainSudoFailure', () => {
  it('explains a password prompt sudo -n refused', () => {
    const text = explainSudoFailure('sudo: a password is required\n', 'deploy');
    expect(text).toMatch(/become failed: sudo asks deploy for a password/);
    expect(text).toMatch(/NOPASSWD/);
    expect(explainSudoFailure('sudo: a terminal is required to read the password; either use the -S option')).toBeDefined();
  });

  it('stays quiet for other errors', () => {
    expect(explainSudoFailure('ls: cannot access x: No such file or directory\n')).toBeUndefined();
    expect(explainSudoFailure('')).toBeUndefined();
  });
});

describe('PgidMarkerParser', () => {
  it('strips the marker line, even when split across chunks', () => {
    const parser = new PgidMarkerParser();
    expect(parser.push(Buffer.from('runbook-pg')).length).toBe(0);
    expect(parser.push(Buffer.from('id:4242\nreal ')).toString()).toBe('real ');
    expect(parser.push(Buffer.from('stderr')).toString()).toBe('stderr');
    expect(parser.pgid).toBe(4242);
  });

  it('passes stderr through untouched when there is no marker', () => {
    const parser = new PgidMarkerParser();
    expect(parser.push(Buffer.from('sudo: a password')).length).toBe(0);
    expect(parser.end().toString()).toBe('sudo: a password');
    expect(parser.pgid).toBeUndefined();
    const other = new PgidMarkerParser();
    expect(other.push(Buffer.from('runbook-pgid:12x\nmore')).toString()).toBe('runbook-pgid:12x\nmore');
    expect(other.pgid).toBeUndefined();
  });

  it('tells a session group from a timeout group, and nothing else counts as either', () => {
    const session = new PgidMarkerParser();
    expect(session.push(Buffer.from('runbook-pgid:77 session\nerr')).toString()).toBe('err');
    expect([session.pgid, session.session]).toEqual([77, true]);
    const plain = new PgidMarkerParser();
    plain.push(Buffer.from('runbook-pgid:78\n'));
    expect([plain.pgid, plain.session]).toEqual([78, false]);
    const odd = new PgidMarkerParser();
    expect(odd.push(Buffer.from('runbook-pgid:79 sessions\n')).toString()).toBe('runbook-pgid:79 sessions\n');
    expect(odd.pgid).toBeUndefined();
  });
});

/** Spawns a supervised command the way sshd would and resolves once the marker is seen. */
const startedGroups: number[] = [];

afterAll(() => {
  // A failed assertion must not leave a `sleep 300` behind.
  for (const pgid of startedGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // Already gone, as it should be.
    }
  }
});

/**
 * `detached` starts bash in a session of its own, as sshd starts every
 * session's command; without it bash shares the test runner's group, as under
 * a server that does not.
 */
function startSupervised(line: string, how: { detached?: boolean } = {}) {
  const child = spawn('/bin/bash', ['-c', line], { stdio: ['ignore', 'pipe', 'pipe'], detached: how.detached === true });
  const parser = new PgidMarkerParser();
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const pgid = new Promise<number>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += parser.push(d).toString();
      if (parser.pgid !== undefined) {
        startedGroups.push(parser.pgid);
        resolve(parser.pgid);
      }
    });
    child.on('close', () => reject(new Error(`ended before the marker; stderr: ${stderr}`)));
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, pgid, exited, parser, output: () => ({ stdout, stderr }) };
}

/** Live (not zombie) processes in a process group, read from /proc. */
function liveProcessesInGroup(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name is in parentheses and may hold spaces; fields follow the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z') pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

describe('buildSupervisedCommand', () => {
  it('reports the process group first, then runs the command with its options', async () => {
    const run = startSupervised(buildSupervisedCommand(`pwd; printf '%s' "$A" >&2`, { cwd: '/tmp', env: { A: `it's` } }));
    const pgid = await run.pgid;
    expect(pgid).toBe(run.child.pid);
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(run.output()).toEqual({ stdout: '/tmp\n', stderr: `it's` });
  });

  it('lets a kill command end the whole process group, grandchildren included', async () => {
    const run = startSupervised(buildSupervisedCommand('sleep 300 & sleep 301; echo not reached'));
    const pgid = await run.pgid;
    expect(await waitUntil(() => liveProcessesInGroup(pgid).length === 4, 5000)).toBe(true);
    const kill = spawnSync('/bin/dash', ['-c', buildKillCommand(pgid)]);
    expect(kill.status).toBe(0);
    expect((await run.exited).signal).toBe('SIGTERM');
    expect(await waitUntil(() => liveProcessesInGroup(pgid).length === 0, 5000)).toBe(true);
    expect(run.output().stdout).toBe('');
  });

  it('kills with KILL when TERM is ignored', async () => {
    const run = startSupervised(buildSupervisedCommand(`trap '' TERM; echo ready; while :; do sleep 0.05; done`));
    const pgid = await run.pgid;
    expect(await waitUntil(() => run.output().stdout.includes('ready'), 5000)).toBe(true);
    spawnSync('/bin/dash', ['-c', buildKillCommand(pgid)]);
    await run.exited;
    expect(await waitUntil(() => liveProcessesInGroup(pgid).length === 0, 5000)).toBe(true);
  });

  it('has a host-side backstop that ends the command by itself', async () => {
    const started = Date.now();
    const run = startSupervised(buildSupervisedCommand('sleep 300', { backstopSeconds: 1 }));
    const pgid = await run.pgid;
    expect((await run.exited).code).toBe(124);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await waitUntil(() => liveProcessesInGroup(pgid).length === 0, 5000)).toBe(true);
  });

  it('does not expand hostile text in the supervised form either', () => {
    const line = buildSupervisedCommand(argv(['printf', '%s\\0', ...HOSTILE]), { become: true, loginShell: true });
    const out = spawnSync('/bin/bash', ['-c', line], { env: { PATH: process.env.PATH ?? '', HOME: workDir } });
    expect(out.stdout.toString().split('\0').slice(0, -1)).toEqual(HOSTILE);
    expect(out.stderr.toString()).toMatch(/^runbook-pgid:\d+\n$/);
  });

  describe('in the session\'s own group', () => {
    it('session: reports the shell\'s own group, runs the command with its options, and a kill ends the group', async () => {
      const run = startSupervised(buildSupervisedCommand(`pwd; printf '%s' "$A" >&2; sleep 300 & sleep 301`, { cwd: '/tmp', env: { A: `it's` }, group: 'session' }), {
        detached: true,
      });
      const pgid = await run.pgid;
      expect(pgid).toBe(run.child.pid);
      expect(run.parser.session).toBe(true);
      // bash exec'd sh, which runs the two sleeps: no timeout(1), no further shells.
      expect(await waitUntil(() => liveProcessesInGroup(pgid).length === 3, 5000)).toBe(true);
      expect(spawnSync('/bin/dash', ['-c', buildKillCommand(pgid)]).status).toBe(0);
      expect((await run.exited).signal).toBe('SIGTERM');
      expect(await waitUntil(() => liveProcessesInGroup(pgid).length === 0, 5000)).toBe(true);
      expect(run.output()).toEqual({ stdout: '/tmp\n', stderr: `it's` });
    });

    it('probe: finds the session group where the shell heads one', async () => {
      const run = startSupervised(buildSupervisedCommand(`echo "$A"; sleep 300`, { env: { A: 'x y' }, group: 'probe' }), { detached: true });
      const pgid = await run.pgid;
      expect([pgid, run.parser.session]).toEqual([run.child.pid, true]);
      expect(await waitUntil(() => liveProcessesInGroup(pgid).length === 2, 5000)).toBe(true);
      spawnSync('/bin/dash', ['-c', buildKillCommand(pgid)]);
      await run.exited;
      expect(run.output().stdout).toBe('x y\n');
      expect(await waitUntil(() => liveProcessesInGroup(pgid).length === 0, 5000)).toBe(true);
    });

    it('probe: falls back to timeout(1) where the shell shares its group with others', async () => {
      const run = startSupervised(buildSupervisedCommand(`echo "$A"; sleep 300`, { env: { A: 'x y' }, group: 'probe' }));
      const pgid = await run.pgid;
      expect(run.parser.session).toBe(false);
      // timeout heads the new group; it is not the test runner's.
      expect(pgid).not.toBe(process.pid);
      expect(await waitUntil(() => liveProcessesInGroup(pgid).length === 3, 5000)).toBe(true);
      spawnSync('/bin/dash', ['-c', buildKillCommand(pgid)]);
      await run.exited;
      expect(run.output().stdout).toBe('x y\n');
      expect(await waitUntil(() => liveProcessesInGroup(pgid).length === 0, 5000)).toBe(true);
    });

    it('keeps timeout(1) whenever a backstop, become or a login shell is asked for', () => {
      for (const extra of [{ backstopSeconds: 5 }, { become: true }, { loginShell: true }]) {
        expect(buildSupervisedCommand('true', { group: 'session', ...extra })).toMatch(/exec timeout -k 5 \d+ sh -c/);
      }
      expect(buildSupervisedCommand('true', { group: 'session' })).not.toMatch(/timeout/);
    });
  });

  it('refuses nonsense process group ids', () => {
    expect(() => buildKillCommand(1)).toThrow(RangeError);
    expect(() => buildKillCommand(0)).toThrow(RangeError);
    expect(() => buildKillCommand(1.5)).toThrow(RangeError);
  });
});
