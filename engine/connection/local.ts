// The controller itself as a host (`connection: local`), with the same
// semantics as SSH: the command line is built the same way and run by
// /bin/sh, output keeps its tail, a timeout or abort ends the whole process
// group, uploads and downloads are streamed copies.

import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { InputError } from '../errors.js';
import {
  abortError,
  buildCommand,
  buildKillCommand,
  commandInput,
  DEFAULT_MAX_OUTPUT_BYTES,
  explainSudoFailure,
  OutputTail,
  partitionEnv,
} from './command.js';
import { UploadFollowUpError, type Connection, type DownloadOptions, type ExecOptions, type ExecResult, type TransferProgress, type UploadOptions } from './types.js';

/** How long a stopped command gets between TERM and KILL. */
const KILL_GRACE_MS = 2000;

export class LocalConnection implements Connection {
  readonly kind = 'local' as const;

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const { signal } = opts;
    if (signal?.aborted) throw abortError(signal, 'command on the controller');
    // Secret environment values stay out of the command line (any local user
    // can read it in ps). Without become they go straight into the shell's
    // environment; sudo would drop them from there (env_reset), so under
    // become they take the same road as over SSH: stdin, read by the script.
    const secretEnv = opts.become ? 'stdin' : 'inherited';
    const line = buildCommand(command, { ...opts, secretEnv });
    const input = opts.become ? commandInput(opts) : opts.stdin;
    const { secret } = partitionEnv(opts.env);
    const env = secret.length > 0 && !opts.become ? { ...process.env, ...Object.fromEntries(secret) } : undefined;
    const started = performance.now();
    const stdout = new OutputTail(opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES);
    const stderr = new OutputTail(opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES);
    // detached: the shell leads a new process group, so stopping it reaches
    // every process the command started, not just the shell.
    const child = spawn('/bin/sh', ['-c', line], { detached: true, stdio: ['pipe', 'pipe', 'pipe'], ...(env ? { env } : {}) });

    return new Promise<ExecResult>((resolve, reject) => {
      let stopReason: 'timeout' | 'abort' | undefined;
      let stopping: Promise<void> | undefined;
      const stop = (reason: 'timeout' | 'abort') => {
        if (stopReason || child.pid === undefined) return;
        stopReason = reason;
        stopping = killGroup(child.pid, opts.become === true, () => child.exitCode !== null || child.signalCode !== null);
      };
      const timer = opts.timeoutMs !== undefined ? setTimeout(() => stop('timeout'), opts.timeoutMs) : undefined;
      const onAbort = () => stop('abort');
      signal?.addEventListener('abort', onAbort, { once: true });

      child.stdout.on('data', (chunk: Buffer) => {
        stdout.push(chunk);
        opts.onStdout?.(chunk);
      });
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      // A command that exits without reading its input closes the pipe under us.
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);

      child.on('error', (err) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        reject(err);
      });
      child.on('close', (code, exitSignal) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        void (stopping ?? Promise.resolve()).then(() => {
          if (stopReason === 'abort' && signal) return reject(abortError(signal, 'command on the controller'));
          let stderrText = stderr.toString();
          const sudoHint = opts.become && code !== 0 ? explainSudoFailure(stderrText) : undefined;
          if (sudoHint) stderrText += `${stderrText.endsWith('\n') || stderrText === '' ? '' : '\n'}${sudoHint}\n`;
          resolve({
            exitCode: stopReason === 'timeout' ? null : code,
            signal: exitSignal,
            stdout: stdout.toString(),
            stderr: stderrText,
            truncated: stdout.truncated || stderr.truncated,
            timedOut: stopReason === 'timeout',
            durationMs: Math.round(performance.now() - started),
          });
        });
      });
    });
  }

  async upload(source: string | Buffer, remotePath: string, opts: UploadOptions = {}): Promise<void> {
    const { signal } = opts;
    if (signal?.aborted) throw abortError(signal, `upload to ${remotePath}`);
    const total = typeof source === 'string' ? (await stat(source)).size : source.length;
    // Readable.from() hands a Buffer over whole rather than byte by byte.
    const input = typeof source === 'string' ? createReadStream(source) : Readable.from([source]);
    if (opts.makeParents) await mkdir(dirname(remotePath), { recursive: true });
    const output = await open(remotePath, 'w', opts.mode ?? 0o666);
    try {
      // Set the mode before any byte is written, so a secret is never readable by others.
      if (opts.mode !== undefined) await output.chmod(opts.mode);
      // The write stream closes the handle when it finishes.
      await pipeline(input, progressCounter(total, opts.onProgress), output.createWriteStream(), signal ? { signal } : {});
    } catch (err) {
      await output.close().catch(() => undefined);
      await rm(remotePath, { force: true });
      throw signal?.aborted ? abortError(signal, `upload to ${remotePath}`) : err;
    }
    if (opts.then !== undefined) {
      const res = await this.exec(opts.then, { signal });
      if (res.exitCode !== 0) throw new UploadFollowUpError(res);
    }
  }

  async download(remotePath: string, localPath: string, opts: DownloadOptions = {}): Promise<void> {
    const { signal } = opts;
    if (signal?.aborted) throw abortError(signal, `download of ${remotePath}`);
    const total = (await stat(remotePath)).size;
    const stages: NodeJS.ReadWriteStream[] = [];
    if (opts.limitKbit !== undefined) stages.push(throttleStream(new BandwidthThrottle(opts.limitKbit), signal));
    stages.push(progressCounter(total, opts.onProgress));
    const output = await open(localPath, 'w');
    try {
      await pipeline([createReadStream(remotePath), ...stages, output.createWriteStream()], signal ? { signal } : {});
    } catch (err) {
      await output.close().catch(() => undefined);
      await rm(localPath, { force: true });
      throw signal?.aborted ? abortError(signal, `download of ${remotePath}`) : err;
    }
  }

  async close(): Promise<void> {
    // Nothing to release: each exec owns its own process.
  }
}

/**
 * TERM to the whole group, up to KILL_GRACE_MS for it to go, then KILL to
 * whatever is left (a background child may outlive a shell that obeyed).
 * Under become the processes belong to root: unless we are root ourselves,
 * only a `sudo -n kill` can reach them.
 */
async function killGroup(pgid: number, become: boolean, leaderExited: () => boolean): Promise<void> {
  if (become && process.getuid?.() !== 0) {
    await new Promise<void>((resolve) => {
      const killer = spawn('/bin/sh', ['-c', buildKillCommand(pgid, { become: true })], { stdio: 'ignore' });
      killer.on('close', () => resolve());
      killer.on('error', () => resolve());
    });
    return;
  }
  signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + KILL_GRACE_MS;
  while (!leaderExited() && Date.now() < deadline) await delay(20);
  signalGroup(pgid, 'SIGKILL');
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // The group is already gone.
  }
}

function progressCounter(total: number, onProgress: ((p: TransferProgress) => void) | undefined): Transform {
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      bytes += chunk.length;
      onProgress?.({ bytes, total });
      callback(null, chunk);
    },
  });
}

/**
 * Holds a transfer to `limitKbit` (Kbit/s of 1024 bits, as scp -l counts):
 * before n more bytes may go, the clock must have reached the time the bytes
 * so far plus n are due at that rate. A transfer of S bytes therefore takes
 * at least S / rate, with no initial burst.
 */
export class BandwidthThrottle {
  readonly bytesPerSecond: number;
  readonly #started = performance.now();
  #bytes = 0;

  constructor(limitKbit: number) {
    if (!(limitKbit > 0) || !Number.isFinite(limitKbit)) {
      throw new InputError(`bandwidth limit must be a positive number of Kbit/s, not ${limitKbit}`);
    }
    this.bytesPerSecond = (limitKbit * 1024) / 8;
  }

  /** Pieces small enough that progress and the rate stay smooth (about 4 per second). */
  chunkSize(max: number): number {
    return Math.max(1024, Math.min(max, Math.floor(this.bytesPerSecond / 4)));
  }

  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    this.#bytes += bytes;
    const wait = this.#started + (this.#bytes / this.bytesPerSecond) * 1000 - performance.now();
    if (wait > 0) await delay(wait, undefined, signal ? { signal } : {});
  }
}

function throttleStream(throttle: BandwidthThrottle, signal: AbortSignal | undefined): Transform {
  const piece = throttle.chunkSize(64 * 1024);
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      void (async () => {
        for (let offset = 0; offset < chunk.length; offset += piece) {
          const part = chunk.subarray(offset, offset + piece);
          await throttle.take(part.length, signal);
          this.push(part);
        }
      })().then(() => callback(), callback);
    },
  });
}
