// bin/runbook compiles the bundle with V8's code cache, kept per command under
// $RUNBOOK_HOME/cache/v8. A cache is written when none was there or V8 refused
// the one there; a good one is read and left alone; a run never depends on it.

import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const RUNBOOK = join(import.meta.dirname, '..', '..', 'bin', 'runbook');
const run = promisify(execFile);

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'runbook-code-cache-'));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

const cacheDir = () => join(home, 'cache', 'v8');
const cacheFiles = () => {
  try {
    return readdirSync(cacheDir()).sort();
  } catch {
    return [];
  }
};
const runbook = (args: string[], env: Record<string, string> = {}) => run(process.execPath, [RUNBOOK, ...args], { env: { ...process.env, RUNBOOK_HOME: home, ...env } });

describe('the code cache of bin/runbook', () => {
  it('is written by the first run of a command, then read and left as it is', async () => {
    const first = await runbook(['list']);
    const files = cacheFiles();
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(new RegExp(`^[0-9a-f]{12}-list-${process.version.replaceAll('.', '\\.')}-${process.arch}-\\d+-\\d+\\.bin$`));
    const path = join(cacheDir(), files[0]!);
    const written = statSync(path);
    expect(written.size).toBeGreaterThan(10_000);

    const second = await runbook(['list']);
    expect(second.stdout).toBe(first.stdout);
    // Accepted, so not written again: the same file, untouched.
    const after = statSync(path);
    expect([after.ino, after.mtimeMs]).toEqual([written.ino, written.mtimeMs]);
    expect(cacheFiles()).toEqual(files);
  });

  it('keeps one cache per command', async () => {
    await runbook(['list']);
    await runbook(['modules']);
    expect(cacheFiles().map((f) => f.split('-')[1])).toEqual(['list', 'modules']);
  });

  it("removes this checkout's caches of other builds of a command when it writes one, and no one else's", async () => {
    await runbook(['list']);
    const [current] = cacheFiles();
    const checkout = current!.split('-')[0]!;
    const stale = [`${checkout}-list-v18.0.0-x64-1-1.bin`, `${checkout}-modules-v18.0.0-x64-1-1.bin`, 'aaaaaaaaaaaa-list-v18.0.0-x64-1-1.bin'];
    for (const name of stale) writeFileSync(join(cacheDir(), name), 'old');
    rmSync(join(cacheDir(), current!));
    await runbook(['list']);
    expect(cacheFiles()).toEqual([current, ...stale.slice(1)].sort());
  });

  it('replaces a cache V8 refuses, and the run does not notice', async () => {
    const good = await runbook(['list']);
    const path = join(cacheDir(), cacheFiles()[0]!);
    writeFileSync(path, 'not a code cache');
    const again = await runbook(['list']);
    expect(again.stdout).toBe(good.stdout);
    expect(again.stderr).toBe('');
    expect(readFileSync(path).toString('latin1')).not.toBe('not a code cache');
    expect(statSync(path).size).toBeGreaterThan(10_000);
  });

  it('is neither read nor written with RUNBOOK_CODE_CACHE=off', async () => {
    await runbook(['list'], { RUNBOOK_CODE_CACHE: 'off' });
    expect(cacheFiles()).toEqual([]);
  });

  it('costs nothing but speed when it cannot be written', async () => {
    // RUNBOOK_HOME's cache folder cannot be made: a file stands where it would go.
    writeFileSync(join(home, 'cache'), 'in the way');
    const res = await runbook(['list']);
    expect(res.stdout).toContain('iotdb');
    expect(res.stderr).toBe('');
  });
});
