// The run lock: one run per inventory at a time, a clear message naming the
// holder, waiting on request, and stale locks (dead pid) taken over.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterEach, describe, expect, test } from 'vitest';
import { LockBusyError, RunLock, type LockHolder } from '../../engine/lock.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function world(): { home: string; inventory: string; playbook: string } {
  const home = mkdtempSync(join(tmpdir(), 'rb-lock-'));
  dirs.push(home);
  const inventory = join(home, 'inventory.yaml');
  const playbook = join(home, 'deploy.yaml');
  writeFileSync(inventory, 'hosts: {}\n');
  writeFileSync(playbook, '[]\n');
  return { home, inventory, playbook };
}

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

function writeLock(path: string, holder: Partial<LockHolder>): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, JSON.stringify({ user: 'someone', host: hostname(), started: '2026-01-01T00:00:00.000Z', playbook: '/x/old.yaml', inventory: '/x/inv.yaml', ...holder }));
}

describe('the run lock', () => {
  test('refuses a second run against the same inventory, naming the holder', async () => {
    const w = world();
    const lock = await RunLock.acquire({ home: w.home, inventory: w.inventory, playbook: w.playbook, runId: '20261122-080550-3f2a' });
    const err = await RunLock.acquire({ home: w.home, inventory: w.inventory, playbook: w.playbook }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockBusyError);
    const e = err as LockBusyError;
    expect(e.exitCode).toBe(1);
    expect(e.message).toMatch(
      new RegExp(`^another runbook run holds the lock on ${w.inventory}: pid ${process.pid}, user \\S+, since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z, running ${w.playbook} \\(run 20261122-080550-3f2a\\)$`),
    );
    expect(e.hint).toContain('--wait-lock');
    lock.release();
    expect(existsSync(lock.path)).toBe(false);
    (await RunLock.acquire({ home: w.home, inventory: w.inventory, playbook: w.playbook })).release();
  });

  test('is one lock for every path that leads to the same inventory file', async () => {
    const w = world();
    const link = join(w.home, 'cluster.yaml');
    symlinkSync(w.inventory, link);
    expect(RunLock.lockPath(link, w.home)).toBe(RunLock.lockPath(w.inventory, w.home));
    const lock = await RunLock.acquire({ home: w.home, inventory: link, playbook: w.playbook });
    await expect(RunLock.acquire({ home: w.home, inventory: w.inventory, playbook: w.playbook })).rejects.toBeInstanceOf(LockBusyError);
    lock.release();
    // Another inventory is another lock.
    const other = join(w.home, 'other.yaml');
    writeFileSync(other, 'hosts: {}\n');
    expect(RunLock.lockPath(other, w.home)).not.toBe(RunLock.lockPath(w.inventory, w.home));
  });

  test('with a wait, takes the lock once the holder releases it', async () => {
    const w = world();
    const first = await RunLock.acquire({ home: w.home, inventory: w.inventory, playbook: w.playbook });
    const notes: string[] = [];
    const second = await RunLock.acquire({
      home: w.home,
      inventory: w.inventory,
      playbook: w.playbook,
      waitMs: 30_000,
      // The holder finishes as soon as the waiter has said it waits.
      onNote: (n) => {
        notes.push(n);
        first.release();
      },
    });
    expect(notes).toEqual([expect.stringMatching(new RegExp(`^waiting for the lock on ${w.inventory}, held by pid ${process.pid}, `))]);
    expect(JSON.parse(readFileSync(second.path, 'utf8'))).toMatchObject({ pid: process.pid, playbook: w.playbook });
    second.release();
  });

  test('a wait that runs out says how long it waited', async () => {
    const w = world();
    const first = await RunLock.acquire({ home: w.home, inventory: w.inventory, playbook: w.playbook });
    const err = (await RunLock.acquire({ home: w.home, inventory: w.inventory, playbook: w.playbook, waitMs: 200 }).catch((e: unknown) => e)) as LockBusyError;
    expect(err).toBeInstanceOf(LockBusyError);
    expect(err.hint).toMatch(/did not finish within 0\.2 s/);
    first.release();
  });

  test('a lock whose process is gone is taken over, with a note', async () => {
    const w = world();
    const path = RunLock.lockPath(w.inventory, w.home);
    const pid = deadPid();
    writeLock(path, { pid });
    const notes: string[] = [];
    const lock = await RunLock.acquire({ home: w.home, inventory: w.inventory, playbook: w.playbook, onNote: (n) => notes.push(n) });
    expect(notes).toEqual([`took over a stale lock on ${w.inventory}: pid ${pid}, user someone, since 2026-01-01T00:00:00.000Z, running /x/old.yaml, but that process is gone`]);
    expect(JSON.parse(readFileSync(lock.path, 'utf8'))).toMatchObject({ pid: process.pid });
    lock.release();
  });

  test('an empty lock file (its writer died creating it) is taken over once it is old', async () => {
    const w = world();
    const path = RunLock.lockPath(w.inventory, w.home);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, '');
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    const notes: string[] = [];
    (await RunLock.acquire({ home: w.home, inventory: w.inventory, playbook: w.playbook, onNote: (n) => notes.push(n) })).release();
    expect(notes).toEqual([expect.stringContaining('took over an unreadable lock file')]);
  });

  test('a holder on another machine is never judged stale from here', async () => {
    const w = world();
    writeLock(RunLock.lockPath(w.inventory, w.home), { pid: deadPid(), host: 'elsewhere.example' });
    const err = (await RunLock.acquire({ home: w.home, inventory: w.inventory, playbook: w.playbook }).catch((e: unknown) => e)) as LockBusyError;
    expect(err).toBeInstanceOf(LockBusyError);
    expect(err.message).toMatch(/: pid \d+ on elsewhere\.example, user someone/);
  });

  test('release leaves a lock that is no longer its own alone', async () => {
    const w = world();
    const lock = await RunLock.acquire({ home: w.home, inventory: w.inventory, playbook: w.playbook });
    writeLock(lock.path, { pid: 1, started: 'another run' });
    lock.release();
    expect(existsSync(lock.path)).toBe(true);
  });
});
