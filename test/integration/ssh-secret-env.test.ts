// Secret environment values over a real OpenSSH server: while the command
// runs, no process on the host shows the value in its command line (ps,
// /proc/*/cmdline; the "remote" host is this machine), yet the command sees
// it exactly and still gets its own stdin.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshConnection } from '../../engine/connection/ssh.js';
import type { ExecOptions, ExecResult } from '../../engine/connection/types.js';
import { Secret } from '../../engine/secret.js';
import { processesMatching, sshTarget, startSshd, type TestSshd } from '../support/sshd.js';

let sshd: TestSshd | undefined;
let conn: SshConnection;
/** root, for become: the test account has no sudo rights. */
let rootConn: SshConnection;

beforeAll(async () => {
  delete process.env.SSH_AUTH_SOCK;
  sshd = await startSshd();
  conn = await SshConnection.connect(sshTarget(sshd));
  rootConn = await SshConnection.connect(sshTarget(sshd, { user: sshd.rootUser }));
});

afterAll(async () => {
  await Promise.allSettled([conn, rootConn].map((c) => c?.close()));
  await sshd?.stop();
});

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every process's arguments as ps prints them, unabridged. */
function psArgs(): string {
  return execFileSync('ps', ['-e', '-ww', '-o', 'args'], { encoding: 'utf8' });
}

/**
 * Runs `command` with `env` on `connection`, holding it at a gate on the host
 * until the process tables have been looked at: the command writes what it
 * sees, signals it is ready and waits for the release file.
 */
async function runHeld(
  connection: SshConnection,
  command: string,
  opts: ExecOptions,
  whileHeld: (tag: string) => void,
): Promise<{ result: ExecResult; seen: string }> {
  const tag = `rb-held-${randomBytes(4).toString('hex')}`;
  const base = join(sshd!.home, tag);
  const gated = [
    `{ ${command}; } > ${base}.seen`,
    `: > ${base}.ready`,
    `while [ ! -e ${base}.release ]; do sleep 0.02; done`,
    'cat',
  ].join('\n');
  const running = connection.exec(gated, opts);
  let held: Error | undefined;
  try {
    await waitFor(() => existsSync(`${base}.ready`), 20_000);
    whileHeld(tag);
  } catch (err) {
    held = err as Error;
  } finally {
    // Always let it go, so a failed check leaves nothing running.
    writeFileSync(`${base}.release`, '');
  }
  const result = await running;
  if (held) throw held;
  return { result, seen: readFileSync(`${base}.seen`, 'utf8') };
}

/** The distinctive parts of a value: the pieces ps could show if it leaked. */
function pieces(value: string): string[] {
  return value.split('\n').filter((p) => p.length >= 8);
}

function expectNowhereInProcessTable(value: string, tag: string): void {
  // The command's own text is visible (it names the tag): proof the search looks at the right processes.
  expect(processesMatching(tag).length).toBeGreaterThan(0);
  expect(psArgs()).toContain(tag);
  for (const piece of pieces(value)) {
    expect(processesMatching(piece), `/proc/*/cmdline shows ${JSON.stringify(piece)}`).toEqual([]);
    expect(psArgs(), `ps shows ${JSON.stringify(piece)}`).not.toContain(piece);
  }
}

describe('secret environment values over SSH', () => {
  it('are never in a command line, reach the command exactly, and leave its stdin alone', async () => {
    const token = randomBytes(6).toString('hex');
    const value = `pw-${token} it's "$HOME" \`id\` $(id) \\ %s\nsecond-line-${token}\n\n`;
    const env = { RUNBOOK_PW: new Secret(value).reveal(), PLAIN: 'visible-is-fine' };
    const { result, seen } = await runHeld(conn, `printf '%s|%s' "$RUNBOOK_PW" "$PLAIN"`, { env, stdin: 'own stdin\n' }, (tag) =>
      expectNowhereInProcessTable(value, tag),
    );
    expect(result).toMatchObject({ exitCode: 0, stdout: 'own stdin\n', stderr: '' });
    expect(seen).toBe(`${value}|visible-is-fine`);
  });

  it('also stay out of sight under become and a login shell', async () => {
    const token = randomBytes(6).toString('hex');
    const value = `root-pw-${token}\n'quoted-${token}'`;
    const env = { RUNBOOK_PW: new Secret(value).reveal() };
    const { result, seen } = await runHeld(
      rootConn,
      `id -u; printf '%s' "$RUNBOOK_PW"`,
      { env, become: true, loginShell: true, cwd: '/' },
      (tag) => expectNowhereInProcessTable(value, tag),
    );
    expect(result).toMatchObject({ exitCode: 0, stdout: '' });
    expect(seen).toBe(`0\n${value}`);
  });

  it('work with no stdin of the command\'s own (it reads end of file)', async () => {
    const env = { RUNBOOK_PW: new Secret(`no-stdin-${randomBytes(4).toString('hex')}`).reveal() };
    const result = await conn.exec(`printf '%s' "$RUNBOOK_PW"; echo; cat; echo end`, { env });
    expect(result).toMatchObject({ exitCode: 0, stdout: `${env.RUNBOOK_PW}\nend\n` });
  });
});
