// LocalConnection runs real processes on the controller with the same
// semantics as SSH; OutputTail and BandwidthThrottle are shared by both.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutputTail } from '../../../engine/connection/command.js';
import { BandwidthThrottle, LocalConnection } from '../../../engine/connection/local.js';
import { UploadFollowUpError, type ExecOptions } from '../../../engine/connection/types.js';
import { InputError } from '../../../engine/errors.js';
import { Secret } from '../../../engine/secret.js';
import { processesMatching, processesRunning } from '../../support/sshd.js';

let dir: string;
const local = new LocalConnection();

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'runbook-local-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function uniqueSleep(): string {
  return `sleep 300.${randomBytes(3).readUIntBE(0, 3)}`;
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('OutputTail', () => {
  it('keeps exactly the last bytes across chunk boundaries', () => {
    const tail = new OutputTail(10);
    const all: Buffer[] = [];
    for (let i = 0; i < 1000; i++) {
      const chunk = Buffer.from(`<${i}>`);
      all.push(chunk);
      tail.push(chunk);
    }
    expect(tail.toString()).toBe(Buffer.concat(all).subarray(-10).toString());
    expect(tail.truncated).toBe(true);
  });

  it('is not truncated when everything fits', () => {
    const tail = new OutputTail(6);
    tail.push(Buffer.from('abc'));
    tail.push(Buffer.from('def'));
    expect(tail.toString()).toBe('abcdef');
    expect(tail.truncated).toBe(false);
  });

  it('handles a chunk larger than the limit, and a zero limit', () => {
    const tail = new OutputTail(4);
    tail.push(Buffer.from('ab'));
    tail.push(Buffer.from('0123456789'));
    expect(tail.toString()).toBe('6789');
    expect(tail.truncated).toBe(true);
    const none = new OutputTail(0);
    none.push(Buffer.from('x'));
    expect(none.toString()).toBe('');
    expect(none.truncated).toBe(true);
  });

  it('stays linear for a million one-byte chunks', () => {
    const tail = new OutputTail(1024);
    const one = Buffer.from('x');
    const started = performance.now();
    for (let i = 0; i < 1_000_000; i++) tail.push(one);
    expect(tail.toBuffer().length).toBe(1024);
    // A quadratic tail (array shift, string concatenation) takes minutes here.
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe('BandwidthThrottle', () => {
  it('counts Kbit/s of 1024 bits and refuses nonsense limits', () => {
    expect(new BandwidthThrottle(8).bytesPerSecond).toBe(1024);
    expect(() => new BandwidthThrottle(0)).toThrow(InputError);
    expect(() => new BandwidthThrottle(-1)).toThrow(InputError);
    expect(() => new BandwidthThrottle(Number.NaN)).toThrow(InputError);
  });

  it('makes n bytes take at least n / rate, with no initial burst', async () => {
    const throttle = new BandwidthThrottle(80); // 10240 B/s
    const started = performance.now();
    await throttle.take(2048);
    await throttle.take(2048);
    expect(performance.now() - started).toBeGreaterThanOrEqual(400 - 5);
  });
});

describe('LocalConnection.exec', () => {
  it('runs through sh with cwd, env and stdin, and reports exit codes and signals', async () => {
    const result = await local.exec(`cat; pwd; printf '%s' "$X" >&2; exit 4`, { cwd: dir, env: { X: `it's` }, stdin: 'in\n' });
    expect(result).toMatchObject({ exitCode: 4, signal: null, stdout: `in\n${dir}\n`, stderr: `it's`, timedOut: false, truncated: false });
    expect(await local.exec('kill -s TERM $$')).toMatchObject({ exitCode: null, signal: 'SIGTERM' });
  });

  it('keeps the tail of a large output', async () => {
    const result = await local.exec('seq 1 200000', { maxOutputBytes: 100 });
    expect(result.truncated).toBe(true);
    expect(result.stdout).toHaveLength(100);
    expect(result.stdout.endsWith('199999\n200000\n')).toBe(true);
  });

  it('times out and kills the whole process group', async () => {
    const sleep = uniqueSleep();
    const result = await local.exec(`${sleep} & ${sleep}; echo never`, { timeoutMs: 300 });
    expect(result).toMatchObject({ exitCode: null, timedOut: true, stdout: '' });
    await waitFor(() => processesMatching(sleep).length === 0, 5000);
  });

  it('kills on abort and rejects with the reason', async () => {
    const sleep = uniqueSleep();
    const controller = new AbortController();
    const running = local.exec(sleep, { signal: controller.signal });
    await waitFor(() => processesRunning(sleep).length > 0, 5000);
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(running).rejects.toBe(reason);
    await waitFor(() => processesMatching(sleep).length === 0, 5000);
  });
});

describe('LocalConnection secret environment values', () => {
  /** Runs `command` held at a gate until `whileHeld` has looked at the process table. */
  async function runHeld(command: string, opts: ExecOptions, whileHeld: (tag: string) => void) {
    const tag = `rb-local-held-${randomBytes(4).toString('hex')}`;
    const base = join(dir, tag);
    const running = local.exec(
      [`{ ${command}; } > ${base}.seen`, `: > ${base}.ready`, `while [ ! -e ${base}.release ]; do sleep 0.02; done`, 'cat'].join('\n'),
      opts,
    );
    let held: Error | undefined;
    try {
      await waitFor(() => existsSync(`${base}.ready`), 10_000);
      whileHeld(tag);
    } catch (err) {
      held = err as Error;
    } finally {
      writeFileSync(`${base}.release`, '');
    }
    const result = await running;
    if (held) throw held;
    return { result, seen: readFileSync(`${base}.seen`, 'utf8') };
  }

  function expectNotInAnyCommandLine(value: string, tag: string): void {
    expect(processesMatching(tag).length).toBeGreaterThan(0);
    for (const piece of value.split('\n').filter((p) => p.length >= 8)) expect(processesMatching(piece), piece).toEqual([]);
  }

  for (const become of [false, true]) {
    it(`keep the value out of every command line${become ? ' under become (sudo -n)' : ''}, and stdin working`, async () => {
      const token = randomBytes(6).toString('hex');
      const value = `local-pw-${token} it's "$HOME" $(id)\nline-two-${token}`;
      const env = { RUNBOOK_PW: new Secret(value).reveal() };
      const { result, seen } = await runHeld(`printf '%s' "$RUNBOOK_PW"`, { env, become, stdin: 'own\n' }, (tag) => expectNotInAnyCommandLine(value, tag));
      expect(result).toMatchObject({ exitCode: 0, stdout: 'own\n', stderr: '' });
      expect(seen).toBe(value);
    });
  }
});

describe('LocalConnection transfers', () => {
  it('uploads a file and a buffer with the requested mode and progress', async () => {
    const source = join(dir, 'source');
    const data = randomBytes(300_000);
    writeFileSync(source, data);
    const progress: number[] = [];
    await local.upload(source, join(dir, 'copy'), { mode: 0o600, onProgress: (p) => progress.push(p.bytes) });
    expect(readFileSync(join(dir, 'copy')).equals(data)).toBe(true);
    expect(statSync(join(dir, 'copy')).mode & 0o777).toBe(0o600);
    expect(progress.at(-1)).toBe(data.length);
    await local.upload(Buffer.from('hi'), join(dir, 'copy'), { mode: 0o755 });
    expect(readFileSync(join(dir, 'copy'), 'utf8')).toBe('hi');
    expect(statSync(join(dir, 'copy')).mode & 0o777).toBe(0o755);
  });

  it('makes the folder first and runs `then` after the file is written, as over SSH', async () => {
    const tmpName = join(dir, 'new/folder/.f.tmp');
    await local.upload(Buffer.from('v=1\n'), tmpName, { makeParents: true, then: `mv -f -- ${tmpName} ${join(dir, 'new/folder/f')}` });
    expect(readFileSync(join(dir, 'new/folder/f'), 'utf8')).toBe('v=1\n');
    expect(existsSync(tmpName)).toBe(false);
    const err = await local.upload(Buffer.from('x'), join(dir, 'then-fails'), { then: 'echo nope >&2; exit 3' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UploadFollowUpError);
    expect((err as UploadFollowUpError).result).toMatchObject({ exitCode: 3, stderr: 'nope\n' });
  });

  it('removes the target when an upload is aborted', async () => {
    const source = join(dir, 'big');
    writeFileSync(source, randomBytes(8 * 1024 * 1024));
    const controller = new AbortController();
    const upload = local.upload(source, join(dir, 'aborted'), {
      signal: controller.signal,
      onProgress: () => controller.abort(new Error('halt')),
    });
    await expect(upload).rejects.toThrow('halt');
    expect(existsSync(join(dir, 'aborted'))).toBe(false);
  });

  it('downloads with a bandwidth limit', async () => {
    const data = randomBytes(16 * 1024);
    writeFileSync(join(dir, 'remote'), data);
    const started = performance.now();
    await local.download(join(dir, 'remote'), join(dir, 'downloaded'), { limitKbit: 128 }); // 16 KiB/s
    expect(performance.now() - started).toBeGreaterThanOrEqual(1000 - 5);
    expect(readFileSync(join(dir, 'downloaded')).equals(data)).toBe(true);
  });
});
