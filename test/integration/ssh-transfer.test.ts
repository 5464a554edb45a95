// Uploads and downloads over SFTP against a real OpenSSH server. The "remote"
// files live in the test account's home on this machine, so the far side is
// checked both with a remote command (sha256sum) and on disk.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, statSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshConnection } from '../../engine/connection/ssh.js';
import { RunbookError } from '../../engine/errors.js';
import { UploadFollowUpError, type TransferProgress } from '../../engine/connection/types.js';
import { sshTarget, startSshd, type TestSshd } from '../support/sshd.js';

let sshd: TestSshd | undefined;
let conn: SshConnection;
let local: string;

beforeAll(async () => {
  delete process.env.SSH_AUTH_SOCK;
  local = mkdtempSync(join(tmpdir(), 'runbook-ssh-transfer-'));
  sshd = await startSshd();
  conn = await SshConnection.connect(sshTarget(sshd));
});

afterAll(async () => {
  await conn?.close();
  await sshd?.stop();
  rmSync(local, { recursive: true, force: true });
});

const remote = (name: string) => join(sshd!.home, name);

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => hash.update(d))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}

/** A 200 MB file that is mostly a hole, with random blocks so its hash means something. */
function makeLargeFile(path: string, size: number): void {
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, size);
    for (const position of [0, 1234567, size / 2, size - 65536]) writeSync(fd, randomBytes(65536), 0, 65536, position);
  } finally {
    closeSync(fd);
  }
}

describe('upload', () => {
  it('writes a buffer with the requested mode, even over an existing file', async () => {
    const target = remote('secret.conf');
    expect((await conn.exec(`printf 'old, world readable' > ${target}; chmod 644 ${target}`)).exitCode).toBe(0);
    const progress: TransferProgress[] = [];
    await conn.upload(Buffer.from('password=hunter2\n'), target, { mode: 0o600, onProgress: (p) => progress.push(p) });
    expect(readFileSync(target, 'utf8')).toBe('password=hunter2\n');
    expect(statSync(target).mode & 0o777).toBe(0o600);
    expect(progress.at(-1)).toEqual({ bytes: 17, total: 17 });
  });

  it('fills a new file, an empty one and a longer one alike; an existing file keeps its inode', async () => {
    // New and empty files are written without O_TRUNC (see uploadScript), a file with content by truncating it.
    const empty = remote('was-empty');
    const longer = remote('was-longer');
    expect((await conn.exec(`: > ${empty}; printf '%0200d' 0 > ${longer}`)).exitCode).toBe(0);
    const inodes = [statSync(empty).ino, statSync(longer).ino];
    for (const path of [remote('was-absent'), empty, longer]) await conn.upload(Buffer.from('new content\n'), path);
    for (const path of [remote('was-absent'), empty, longer]) expect(readFileSync(path, 'utf8')).toBe('new content\n');
    expect([statSync(empty).ino, statSync(longer).ino]).toEqual(inodes);
  });

  it('sets modes the server umask would strip', async () => {
    await conn.upload(Buffer.from('#!/bin/sh\n'), remote('tool.sh'), { mode: 0o775 });
    expect(statSync(remote('tool.sh')).mode & 0o777).toBe(0o775);
  });

  it('uploads an empty file', async () => {
    await conn.upload(Buffer.alloc(0), remote('empty'));
    expect(statSync(remote('empty')).size).toBe(0);
  });

  it('streams 200 MB with flat memory and the same sha256 on the far side', async () => {
    const size = 200 * 1024 * 1024;
    const source = join(local, 'large.bin');
    makeLargeFile(source, size);
    const expected = await sha256File(source);
    const target = remote('large.bin');

    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20);
    const progress: number[] = [];
    try {
      await conn.upload(source, target, { onProgress: (p) => progress.push(p.bytes) });
    } finally {
      clearInterval(sampler);
    }
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);

    expect(rssPeak - rssBefore).toBeLessThan(100 * 1024 * 1024);
    expect(progress.at(-1)).toBe(size);
    expect(progress.every((bytes, i) => i === 0 || bytes > progress[i - 1]!)).toBe(true);
    const remoteSum = await conn.exec(`sha256sum ${target}`);
    expect(remoteSum.stdout.split(' ')[0]).toBe(expected);
    rmSync(target);
    rmSync(source);
  });

  it('leaves no file at the target when aborted mid-way', async () => {
    const size = 64 * 1024 * 1024;
    const source = join(local, 'abort.bin');
    makeLargeFile(source, size);
    const target = remote('abort.bin');
    const controller = new AbortController();
    const reason = new Error('operator pressed ^C');
    let seen = 0;
    const upload = conn.upload(source, target, {
      signal: controller.signal,
      onProgress: (p) => {
        seen = p.bytes;
        if (p.bytes >= 8 * 1024 * 1024) controller.abort(reason);
      },
    });
    await expect(upload).rejects.toBe(reason);
    expect(seen).toBeGreaterThanOrEqual(8 * 1024 * 1024);
    expect(seen).toBeLessThan(size);
    expect(existsSync(target)).toBe(false);
    expect((await conn.exec(`test -e ${target}`)).exitCode).toBe(1);
    rmSync(source);
  });

  it('does not delete a file it could not open', async () => {
    const target = remote('root-owned');
    writeFileSync(target, 'not yours');
    await expect(conn.upload(Buffer.from('x'), target)).rejects.toThrow(/failed: Permission denied/);
    expect(readFileSync(target, 'utf8')).toBe('not yours');
  });

  it('says what failed when the directory is missing, and creates nothing', async () => {
    const target = remote('no/such/dir/file');
    const err = await conn.upload(Buffer.from('x'), target).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RunbookError);
    expect((err as RunbookError).format()).toContain(`upload to testhost:${target} failed`);
    expect((err as RunbookError).hint).toMatch(/directory exists/);
  });

  it('makes the folder first and runs `then` once the file is whole, in the same session', async () => {
    const tmpName = remote('made/for/it/.app.conf.tmp');
    const dest = remote('made/for/it/app.conf');
    await conn.upload(Buffer.from('port=6667\n'), tmpName, { mode: 0o640, makeParents: true, then: `mv -f -- ${tmpName} ${dest} && echo moved` });
    expect(readFileSync(dest, 'utf8')).toBe('port=6667\n');
    expect(statSync(dest).mode & 0o777).toBe(0o640);
    expect(existsSync(tmpName)).toBe(false);
  });

  it('reports a failed `then` with its own output, apart from transfer failures', async () => {
    const target = remote('then-fails');
    const err = await conn.upload(Buffer.from('x\n'), target, { then: `echo checked; echo 'mv: cannot move: Permission denied' >&2; exit 7` }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UploadFollowUpError);
    const { result } = err as UploadFollowUpError;
    expect(result).toMatchObject({ exitCode: 7, stdout: 'checked\n', stderr: 'mv: cannot move: Permission denied\n' });
    // The file arrived; what to do with it is the caller's (installCommand removes its own temporary file).
    expect(readFileSync(target, 'utf8')).toBe('x\n');
  });

  it('says "Permission denied" when it may not make the folder, so callers can stage the file instead', async () => {
    const locked = remote('locked');
    expect((await conn.exec(`mkdir -p ${locked} && chmod 555 ${locked}`)).exitCode).toBe(0);
    try {
      await expect(conn.upload(Buffer.from('x'), `${locked}/sub/file`, { makeParents: true, then: 'echo never' })).rejects.toThrow(/failed: Permission denied$/);
      expect(existsSync(`${locked}/sub`)).toBe(false);
    } finally {
      await conn.exec(`chmod 755 ${locked}`);
    }
  });

  it('runs transfers and commands side by side over the one connection', async () => {
    const files = Array.from({ length: 6 }, (_, i) => ({ name: remote(`parallel-${i}`), data: randomBytes(300_000 + i) }));
    const [results] = await Promise.all([
      Promise.all(Array.from({ length: 6 }, (_, i) => conn.exec(`echo ${i}`))),
      Promise.all(files.map((f) => conn.upload(f.data, f.name))),
    ]);
    expect(results.map((r) => r.stdout)).toEqual(['0\n', '1\n', '2\n', '3\n', '4\n', '5\n']);
    for (const f of files) expect(readFileSync(f.name).equals(f.data)).toBe(true);
    expect(conn.stats.peakChannels).toBeLessThanOrEqual(8);
  });
});

describe('download', () => {
  it('copies a remote file exactly', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    writeFileSync(remote('fetch.bin'), data);
    const target = join(local, 'fetched.bin');
    const progress: TransferProgress[] = [];
    await conn.download(remote('fetch.bin'), target, { onProgress: (p) => progress.push(p) });
    expect(readFileSync(target).equals(data)).toBe(true);
    expect(progress.at(-1)).toEqual({ bytes: data.length, total: data.length });
  });

  it('honours limitKbit: a file takes at least size / limit', async () => {
    const data = randomBytes(64 * 1024);
    writeFileSync(remote('slow.bin'), data);
    const target = join(local, 'slow.bin');
    const limitKbit = 256;
    const bytesPerSecond = (limitKbit * 1024) / 8;
    const started = performance.now();
    await conn.download(remote('slow.bin'), target, { limitKbit });
    const elapsed = performance.now() - started;
    expect(readFileSync(target).equals(data)).toBe(true);
    // 64 KiB at 32 KiB/s: 2 s at the very least (timers may round a millisecond down).
    expect(elapsed).toBeGreaterThanOrEqual((data.length / bytesPerSecond) * 1000 - 5);
  });

  it('removes the partial local file when aborted', async () => {
    writeFileSync(remote('abort-download.bin'), randomBytes(256 * 1024));
    const target = join(local, 'abort-download.bin');
    const controller = new AbortController();
    const download = conn.download(remote('abort-download.bin'), target, {
      limitKbit: 512,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.bytes > 0) controller.abort(new Error('enough'));
      },
    });
    await expect(download).rejects.toThrow('enough');
    expect(existsSync(target)).toBe(false);
  });

  it('fails for a missing remote file without touching the local path', async () => {
    const target = join(local, 'keep-me');
    writeFileSync(target, 'precious');
    await expect(conn.download(remote('missing'), target)).rejects.toThrow(/download of testhost:.*missing failed: No such file/);
    expect(readFileSync(target, 'utf8')).toBe('precious');
  });
});
