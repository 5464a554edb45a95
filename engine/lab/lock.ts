// A lock file per lab, and one for the network, so that two `runbook lab`
// commands (or two test suites) never build the same lab or claim the same
// subnet at the same time. A lock whose holder has died is taken over.

import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabError } from './errors.js';
import { lockDir } from './layout.js';
import { isRunning, pollUntil } from './processes.js';

const WAIT_MS = 120_000;

export async function withLock<T>(name: string, what: string, fn: () => Promise<T>, dir: string = lockDir()): Promise<T> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.lock`);
  const got = await pollUntil(() => (tryLock(file) ? true : undefined), WAIT_MS, 100);
  if (!got) {
    throw new LabError('busy', `${what}: another runbook lab command (pid ${holder(file) ?? '?'}) has held ${file} for over ${WAIT_MS / 1000} s`, {
      hint: `wait for it to finish; if no such command is running, delete ${file}`,
    });
  }
  try {
    return await fn();
  } finally {
    rmSync(file, { force: true });
  }
}

function tryLock(file: string): boolean {
  // Written aside and hard-linked into place, so the lock never exists
  // without its holder's pid in it.
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  writeFileSync(tmp, `${process.pid}\n`);
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
  const pid = holder(file);
  if (pid === undefined || !isRunning(pid)) {
    rmSync(file, { force: true });
  }
  return false;
}

function holder(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
