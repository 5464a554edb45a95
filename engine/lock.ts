// The run lock: two `play` runs against the same inventory (the same cluster)
// must not interleave. The lock is a file under <runbook home>/locks/ named
// after a digest of the inventory's real path (so ./inv.yaml and
// /abs/inv.yaml are one lock), created with O_EXCL and holding who has it:
// pid, user, machine, start time, playbook and run id.
//
// A lock whose pid is gone (runbook was killed with SIGKILL, the machine
// rebooted) is stale and is taken over with a note. Taking over is a rename
// of the stale file to a name of our own, after which we check that what we
// moved is the very lock we judged stale: if another runbook took it over
// first and wrote a live lock in between, that one is put back and we wait
// or refuse like for any live lock.

import { createHash } from 'node:crypto';
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { RunbookError } from './errors.js';
import { realPath } from './journal.js';
import { runbookHome } from './paths.js';

export interface LockHolder {
  pid: number;
  user: string;
  host: string;
  started: string;
  playbook: string;
  inventory: string;
  run_id?: string | undefined;
}

/** Another run holds the lock (exit code 1: nothing was wrong with the input, and nothing was touched). */
export class LockBusyError extends RunbookError {
  constructor(
    message: string,
    readonly holder: LockHolder,
    hint: string,
  ) {
    super(message, { hint });
  }
}

export interface AcquireOptions {
  inventory: string;
  playbook: string;
  runId?: string | undefined;
  home?: string | undefined;
  /** Wait for a busy lock: milliseconds, Infinity for as long as it takes; 0 (default) refuses at once. */
  waitMs?: number | undefined;
  /** Told once when a wait starts and when a stale lock is taken over. */
  onNote?: ((note: string) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export class RunLock {
  private released = false;

  private constructor(
    readonly path: string,
    readonly holder: LockHolder,
  ) {}

  static lockPath(inventory: string, home = runbookHome()): string {
    const real = realPath(inventory);
    return join(home, 'locks', `${createHash('sha256').update(real).digest('hex').slice(0, 24)}.lock`);
  }

  static async acquire(o: AcquireOptions): Promise<RunLock> {
    const path = RunLock.lockPath(o.inventory, o.home);
    mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
    const me: LockHolder = {
      pid: process.pid,
      user: currentUser(),
      host: hostname(),
      started: new Date().toISOString(),
      playbook: realPath(o.playbook),
      inventory: realPath(o.inventory),
      run_id: o.runId,
    };
    const deadline = Date.now() + (o.waitMs ?? 0);
    let told = false;
    let pause = 50;
    for (;;) {
      if (tryCreate(path, me)) return new RunLock(path, me);
      const seen = readLock(path);
      if (seen === undefined) continue; // released between our create and our read
      const found = seen.holder;
      if (found === undefined && seen.ageMs >= TORN_LOCK_MS) {
        if (takeOver(path, seen.text)) o.onNote?.(`took over an unreadable lock file ${path} (its writer died while creating it)`);
        continue;
      }
      if (found !== undefined && isStale(found)) {
        if (takeOver(path, seen.text)) o.onNote?.(`took over a stale lock on ${me.inventory}: ${describe(found)}, but that process is gone`);
        continue;
      }
      // An unreadable lock younger than TORN_LOCK_MS: its writer is most likely between create and write.
      const holder = found ?? { pid: 0, user: '?', host: hostname(), started: '?', playbook: '(being written)', inventory: me.inventory };
      if (found === undefined && Date.now() < deadline + TORN_LOCK_MS && !o.signal?.aborted) {
        await sleep(20, o.signal);
        continue;
      }
      if (Date.now() >= deadline || o.signal?.aborted) {
        throw new LockBusyError(
          `another runbook run holds the lock on ${me.inventory}: ${describe(holder)}`,
          holder,
          o.waitMs
            ? `it did not finish within ${seconds(o.waitMs)}; wait longer with --wait-lock, or check on process ${holder.pid}`
            : `two runs against one cluster would interleave their changes; wait for it to finish, or pass --wait-lock to wait (lock file ${path})`,
        );
      }
      if (!told) {
        o.onNote?.(`waiting for the lock on ${me.inventory}, held by ${describe(holder)}`);
        told = true;
      }
      await sleep(Math.min(pause, deadline - Date.now()), o.signal);
      pause = Math.min(pause * 2, 1000);
    }
  }

  /** Removes the lock file if it is still ours. Synchronous, so a signal handler can call it. */
  release(): void {
    if (this.released) return;
    this.released = true;
    const now = readLock(this.path)?.holder;
    if (now && now.pid === this.holder.pid && now.started === this.holder.started) {
      try {
        unlinkSync(this.path);
      } catch {
        // Already gone: nothing to release.
      }
    }
  }
}

export function describe(h: LockHolder): string {
  const local = h.host === hostname();
  return `pid ${h.pid}${local ? '' : ` on ${h.host}`}, user ${h.user}, since ${h.started}, running ${h.playbook}${h.run_id ? ` (run ${h.run_id})` : ''}`;
}

function tryCreate(path: string, me: LockHolder): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new RunbookError(`cannot create the run lock ${path}: ${(err as Error).message}`, { hint: 'check that the runbook home folder is writable' });
  }
  try {
    writeSync(fd, JSON.stringify(me) + '\n');
  } finally {
    closeSync(fd);
  }
  return true;
}

const TORN_LOCK_MS = 2000;

function readLock(path: string): { text: string; holder: LockHolder | undefined; ageMs: number } | undefined {
  let text: string;
  let ageMs: number;
  try {
    text = readFileSync(path, 'utf8');
    ageMs = Date.now() - statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
  try {
    const h = JSON.parse(text) as LockHolder;
    if (typeof h.pid === 'number') return { text, holder: h, ageMs };
  } catch {
    // torn: see the caller
  }
  return { text, holder: undefined, ageMs };
}

/** A holder on this machine whose process no longer exists. A holder on another machine is never judged stale from here. */
function isStale(h: LockHolder): boolean {
  if (h.host !== hostname()) return false;
  if (!Number.isInteger(h.pid) || h.pid <= 0) return true;
  try {
    process.kill(h.pid, 0);
    return false;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Moves the lock file aside if it still holds `text`; true when the stale lock is gone. */
function takeOver(path: string, text: string): boolean {
  const aside = `${path}.stale-${process.pid}-${Date.now()}`;
  try {
    renameSync(path, aside);
  } catch {
    return false; // someone else moved it first
  }
  let moved: string | undefined;
  try {
    moved = readFileSync(aside, 'utf8');
  } catch {
    moved = undefined;
  }
  if (moved === text) {
    unlinkSync(aside);
    return true;
  }
  // We moved a live lock that replaced the stale one meanwhile: put it back unless a third run already made a new one.
  try {
    linkSync(aside, path);
  } catch {
    // A new lock exists; the run whose file we moved finds it gone when it releases, which is harmless.
  }
  unlinkSync(aside);
  return false;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, Math.max(0, ms));
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? String(process.getuid?.() ?? '?');
  }
}
