// SSH transport on ssh2: one TCP connection per host for the whole run, many
// channels over it (never more than `maxChannels` at once). Uploads stream
// into `cat` on an exec channel of their own; downloads use one SFTP session,
// opened on first use and reused.
//
// Commands run under the supervisor from command.ts, which reports the
// remote process group so that a timeout or an abort can kill the command
// and everything it started; OpenSSH does not reliably deliver channel
// signals, and closing a channel does not stop a quiet process.

import { createHash } from 'node:crypto';
import { open as openLocal, readFile, rm, type FileHandle } from 'node:fs/promises';
import { homedir } from 'node:os';
import { posix } from 'node:path';
import ssh2 from 'ssh2';
import type {
  AnyAuthMethod,
  AuthenticationType,
  AuthHandlerMiddleware,
  ClientChannel,
  ConnectConfig,
  KeyboardInteractiveCallback,
  ParsedKey,
  Prompt,
  ServerHostKeyAlgorithm,
  SFTPWrapper,
} from 'ssh2';
import { HostKeyError, RunbookError, UnreachableError } from '../errors.js';
import type { HostAuth } from '../inventory/types.js';
import type { Secret } from '../secret.js';
import {
  abortError,
  buildKillCommand,
  buildSupervisedCommand,
  groupFormFor,
  type SupervisedCommandOptions,
  commandInput,
  DEFAULT_MAX_OUTPUT_BYTES,
  explainSudoFailure,
  OutputTail,
  PgidMarkerParser,
} from './command.js';
import {
  appendKnownHosts,
  checkHostKey,
  fingerprint,
  keyTypeOf,
  knownHostName,
  knownKeyTypes,
  loadKnownHosts,
  type HostKey,
  type KnownHostEntry,
} from './known-hosts.js';
import { quote } from '../quote.js';
import { BandwidthThrottle } from './local.js';
import { UploadFollowUpError, type Connection, type DownloadOptions, type ExecOptions, type ExecResult, type UploadOptions } from './types.js';

const { Client, utils } = ssh2;
type SshClient = InstanceType<typeof Client>;

/** Where and as whom to connect. */
export interface SshTarget {
  /** Inventory name, used in messages. */
  name: string;
  address: string;
  port: number;
  user: string;
  auth: HostAuth;
  /** known_hosts file to check the host key against (and record new keys in). */
  knownHostsFile: string;
}

export interface SshOptions {
  /** Record unknown host keys instead of refusing them. A changed key is always refused. */
  acceptNewHostKeys?: boolean | undefined;
  /**
   * With acceptNewHostKeys: receive each newly accepted key instead of
   * writing it to known_hosts here. The pool uses this to write keys for
   * many hosts in one go.
   */
  onNewHostKey?: ((key: HostKey, knownHostsFile: string) => void) | undefined;
  /** Channels open at once (exec, the SFTP session). Default 8; sshd allows 10 sessions by default. */
  maxChannels?: number | undefined;
  /** Time allowed for TCP connect + handshake + auth. Default 20 s. */
  connectTimeoutMs?: number | undefined;
  /** SSH keepalive interval. Default 15 s; the link counts as dead after 3 unanswered. */
  keepaliveIntervalMs?: number | undefined;
}

export interface SshStats {
  /** Channels currently open (kill channels excluded). */
  openChannels: number;
  /** Most channels open at once so far. */
  peakChannels: number;
  /** Channel opens the server refused and runbook retried. */
  channelOpenRetries: number;
  /** How this server's commands get a process group to kill; undefined until a command has shown it. */
  groupForm: 'session' | 'timeout' | undefined;
}

export const DEFAULT_MAX_CHANNELS = 8;
/** The host-side timeout fires this long after the controller's, as a backstop only. */
const BACKSTOP_MARGIN_S = 5;
/** How long a stopped command may take to go before its channel is closed regardless. */
const STOP_DEADLINE_MS = 10_000;
/** How long to keep retrying a channel the server refuses. */
const CHANNEL_RETRY_MS = 30_000;
const TRANSFER_CHUNK = 64 * 1024;
/** SFTP requests in flight per transfer: enough to fill a WAN link, 1 MiB of memory. */
const TRANSFER_WINDOW = 16;
/**
 * Bytes read and handed to an upload's channel at a time (its window bounds
 * what is buffered). Each chunk costs a read on the thread pool and a wait for
 * the channel to drain, and on busy cores those waits leave them idle: six lab
 * hosts taking 100 MB at once in the bench's cold run, the median host's
 * upload task took 1.79-2.23 s with 64 KiB chunks, 1.29-1.55 s with 256 KiB,
 * 1.07-1.49 s with 1 MiB, 1.09-1.32 s with 2 MiB and 1.25-1.37 s with 4 MiB
 * (3 interleaved rounds each, 6 for 1 MiB). At 30 hosts the controller
 * peaked at 207-226 MB RSS with 1 MiB.
 */
const UPLOAD_CHUNK = 1024 * 1024;

export class SshConnection implements Connection {
  readonly kind = 'ssh' as const;
  readonly target: SshTarget;
  readonly #client: SshClient;
  readonly #slots: ChannelSlots;
  #sftp: Promise<SFTPWrapper> | undefined;
  #lost: UnreachableError | undefined;
  #closing: Promise<void> | undefined;
  #channelRetries = 0;
  /**
   * Where a command's process group comes from on this server (see GroupForm
   * in command.ts): unknown until a probing command has reported it. OpenSSH
   * gives every session its own, which saves a timeout(1) and two shells per
   * command (about 3 ms of the host's CPU and 8 ms of latency on the lab).
   */
  #groupForm: 'session' | 'timeout' | undefined;

  private constructor(target: SshTarget, client: SshClient, maxChannels: number) {
    this.target = target;
    this.#client = client;
    this.#slots = new ChannelSlots(maxChannels);
    client.on('error', (err: Error) => {
      this.#lost ??= new UnreachableError(`lost the connection to ${this.#where()}: ${err.message}`, {
        host: target.name,
        hint: 'the host went down or the network dropped; runbook does not reconnect in the middle of a task',
        cause: err,
      });
    });
    client.on('close', () => {
      this.#lost ??= new UnreachableError(`the connection to ${this.#where()} closed`, { host: target.name });
      this.#slots.fail(this.#lost);
    });
  }

  /** Connects, verifies the host key and authenticates; throws UnreachableError (or HostKeyError). */
  static async connect(target: SshTarget, options: SshOptions = {}): Promise<SshConnection> {
    const maxChannels = options.maxChannels ?? DEFAULT_MAX_CHANNELS;
    if (!Number.isInteger(maxChannels) || maxChannels < 2) {
      // One slot goes to the SFTP session once a download has run; exec needs another.
      throw new RangeError(`maxChannels must be a whole number ≥ 2, not ${maxChannels}`);
    }
    const knownHosts = await loadKnownHosts(target.knownHostsFile).catch((err: unknown) => {
      throw new UnreachableError(`cannot read known_hosts file ${target.knownHostsFile}: ${(err as Error).message}`, {
        host: target.name,
      });
    });
    const auth = await authPlan(target);
    const client = new Client();
    const accepted: HostKey[] = [];
    let hostKeyFailure: HostKeyError | undefined;

    const config: ConnectConfig = {
      host: target.address,
      port: target.port,
      username: target.user,
      readyTimeout: options.connectTimeoutMs ?? 20_000,
      keepaliveInterval: options.keepaliveIntervalMs ?? 15_000,
      keepaliveCountMax: 3,
      algorithms: { serverHostKey: hostKeyAlgorithms(knownKeyTypes(knownHosts, target.address, target.port)) },
      // ssh2's type has no room for `false` ("no more methods"), which its code accepts.
      authHandler: auth.handler as unknown as AuthHandlerMiddleware,
      hostVerifier: (key: Buffer): boolean => {
        const verdict = verifyHostKey(target, knownHosts, key, options.acceptNewHostKeys === true);
        if (verdict instanceof HostKeyError) {
          hostKeyFailure = verdict;
          return false;
        }
        if (verdict === 'new') accepted.push({ address: target.address, port: target.port, key });
        return true;
      },
    };

    await new Promise<void>((resolve, reject) => {
      const notes: string[] = [];
      const fail = (err: Error) => {
        client.removeAllListeners();
        // ssh2 may still emit errors while tearing down; nobody is listening for them any more.
        client.on('error', () => undefined);
        client.end();
        reject(err);
      };
      client.once('ready', () => {
        client.removeAllListeners();
        resolve();
      });
      client.on('error', (err: Error & { level?: string | undefined; code?: string | undefined }) => {
        // ssh2 reports an unusable agent (or a key it cannot sign with) and then goes on to the next method.
        if (err.level === 'agent' || (err.level === 'client-authentication' && !/All configured authentication methods failed/.test(err.message))) {
          notes.push(err.level === 'agent' ? `ssh-agent: ${err.message}` : err.message);
          return;
        }
        fail(hostKeyFailure ?? connectError(target, err, auth, notes, config.readyTimeout!));
      });
      client.on('close', () => fail(hostKeyFailure ?? closedDuringHandshake(target, auth)));
      client.connect(config);
    });

    // Without it every command waits out Nagle + delayed ACK: ~40 ms each, 8x slower on a LAN.
    client.setNoDelay(true);
    const connection = new SshConnection(target, client, maxChannels);
    if (accepted.length > 0) {
      if (options.onNewHostKey) {
        for (const key of accepted) options.onNewHostKey(key, target.knownHostsFile);
      } else {
        try {
          await appendKnownHosts(target.knownHostsFile, accepted);
        } catch (err) {
          await connection.close();
          throw new UnreachableError(`cannot record the host key of ${where(target)} in ${target.knownHostsFile}: ${(err as Error).message}`, {
            host: target.name,
          });
        }
      }
    }
    return connection;
  }

  get stats(): SshStats {
    return { openChannels: this.#slots.inUse, peakChannels: this.#slots.peak, channelOpenRetries: this.#channelRetries, groupForm: this.#groupForm };
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const { signal } = opts;
    const what = `command on ${this.target.name}`;
    if (signal?.aborted) throw abortError(signal, what);
    this.#assertUsable();
    const supervised: SupervisedCommandOptions = {
      ...opts,
      backstopSeconds: opts.timeoutMs !== undefined ? opts.timeoutMs / 1000 + BACKSTOP_MARGIN_S : 0,
      group: this.#groupForm ?? 'probe',
    };
    // A command with a timeout, become or a login shell uses timeout(1) whatever was asked, and tells nothing.
    const probing = groupFormFor(supervised) === 'probe';
    const line = buildSupervisedCommand(command, supervised);
    // Secret environment values first (the script reads them), then the command's own input.
    const input = commandInput(opts);
    const started = performance.now();
    const release = await this.#slots.acquire(signal, what);
    let channel: ClientChannel;
    let exitStatus: (() => ChannelExit | undefined) | undefined;
    try {
      channel = await this.#openChannel<ClientChannel>(
        (cb) =>
          this.#client.exec(line, (err, opened) => {
            // Before anything else gets a turn: see recordExit.
            if (!err) exitStatus = recordExit(opened);
            cb(err, opened);
          }),
        { signal, what, holdsSlot: true },
      );
    } catch (err) {
      release();
      throw err;
    }
    return this.#runChannel(channel, exitStatus!, release, input, opts, started, probing);
  }

  #runChannel(
    channel: ClientChannel,
    exitStatus: () => ChannelExit | undefined,
    release: () => void,
    input: string | Buffer | undefined,
    opts: ExecOptions,
    started: number,
    probing = false,
  ): Promise<ExecResult> {
    const { signal } = opts;
    const what = `command on ${this.target.name}`;
    const stdout = new OutputTail(opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES);
    const stderr = new OutputTail(opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES);
    const marker = new PgidMarkerParser();

    return new Promise<ExecResult>((resolve, reject) => {
      let stopReason: 'timeout' | 'abort' | undefined;
      let killing: Promise<void> | undefined;
      let stopDeadline: NodeJS.Timeout | undefined;

      const killIfKnown = () => {
        if (stopReason && !killing && marker.pgid !== undefined) killing = this.#killGroup(marker.pgid, opts.become === true);
      };
      const stop = (reason: 'timeout' | 'abort') => {
        if (stopReason) return;
        stopReason = reason;
        // Until the supervisor has reported its group there is nothing to
        // kill yet; the report comes first thing, and killIfKnown runs then.
        killIfKnown();
        stopDeadline = setTimeout(() => channel.close(), STOP_DEADLINE_MS);
      };
      const timer = opts.timeoutMs !== undefined ? setTimeout(() => stop('timeout'), opts.timeoutMs) : undefined;
      const onAbort = () => stop('abort');
      signal?.addEventListener('abort', onAbort, { once: true });

      channel.on('data', (chunk: Buffer) => {
        stdout.push(chunk);
        opts.onStdout?.(chunk);
      });
      channel.stderr.on('data', (chunk: Buffer) => {
        stderr.push(marker.push(chunk));
        // A probing command's marker tells which form this server needs.
        if (probing && marker.pgid !== undefined) {
          probing = false;
          this.#groupForm ??= marker.session ? 'session' : 'timeout';
        }
        killIfKnown();
      });
      channel.on('error', () => undefined);
      channel.on('close', () => {
        clearTimeout(timer);
        clearTimeout(stopDeadline);
        signal?.removeEventListener('abort', onAbort);
        stderr.push(marker.end());
        release();
        // Let a connection-level 'close' land first, so a lost link is told apart from a command that ended oddly.
        setImmediate(() => {
          void (killing ?? Promise.resolve()).then(() => {
            if (stopReason === 'abort' && signal) return reject(abortError(signal, what));
            const exit = exitStatus();
            if (exit === undefined && !stopReason) {
              if (this.#lost) return reject(this.#lost);
              // Not a signal death, and not success either: nobody knows how the command ended.
              return reject(
                new RunbookError(`${this.target.name} closed the channel without an exit status: how the command ended is unknown`, {
                  host: this.target.name,
                  hint: 'the session on the host ended abnormally (its sshd session process was killed, or the server does not report exit statuses); check the host\'s sshd log, and whether the command did its work, before running it again',
                }),
              );
            }
            const durationMs = Math.round(performance.now() - started);
            // The host-side backstop fired: the controller's timer was late (a blocked event loop).
            const backstopFired = opts.timeoutMs !== undefined && exit?.code === 124 && durationMs >= opts.timeoutMs;
            const timedOut = stopReason === 'timeout' || backstopFired;
            let stderrText = stderr.toString();
            const sudoHint = opts.become && exit?.code !== 0 ? explainSudoFailure(stderrText, this.target.user) : undefined;
            if (sudoHint) stderrText += `${stderrText.endsWith('\n') || stderrText === '' ? '' : '\n'}${sudoHint}\n`;
            resolve({
              exitCode: timedOut ? null : (exit?.code ?? null),
              signal: exit?.signal ?? null,
              stdout: stdout.toString(),
              stderr: stderrText,
              truncated: stdout.truncated || stderr.truncated,
              timedOut,
              durationMs,
            });
          });
        });
      });
      // The command gets EOF on stdin after the given bytes (or at once), so nothing waits on a terminal.
      channel.end(input);
      if (signal?.aborted) stop('abort');
    });
  }

  /**
   * Kills a remote process group from a channel of its own. It skips the
   * slot queue: when every slot runs a command that must be stopped, the kill
   * cannot wait for one of them to finish.
   */
  async #killGroup(pgid: number, become: boolean): Promise<void> {
    try {
      const channel = await this.#openChannel<ClientChannel>((cb) => this.#client.exec(buildKillCommand(pgid, { become }), cb), {
        what: `stopping a command on ${this.target.name}`,
        holdsSlot: false,
      });
      await new Promise<void>((resolve) => {
        channel.on('close', () => resolve());
        channel.on('data', () => undefined);
        channel.stderr.on('data', () => undefined);
        channel.end();
      });
    } catch {
      // Best effort: the connection is gone (then so is the session), or the
      // host-side backstop will end the command.
    }
  }

  /**
   * Opens a channel, retrying when the server refuses ("open failed"): its
   * MaxSessions (per connection) may be lower than our limit. While other
   * channels of ours are open, one of them closing frees a session, so the
   * retry waits for that however long it takes; with none open nothing will
   * change, so it backs off and gives up after CHANNEL_RETRY_MS.
   */
  async #openChannel<T>(
    open: (cb: (err: Error | undefined, channel: T) => void) => void,
    how: { signal?: AbortSignal | undefined; what: string; holdsSlot: boolean },
  ): Promise<T> {
    let deadline = Date.now() + CHANNEL_RETRY_MS;
    let backoffMs = 50;
    for (;;) {
      this.#assertUsable();
      try {
        return await new Promise<T>((resolve, reject) => {
          try {
            open((err, channel) => (err ? reject(err) : resolve(channel)));
          } catch (err) {
            reject(err as Error);
          }
        });
      } catch (err) {
        if (this.#lost) throw this.#lost;
        const refused = /Channel open failure/.test((err as Error).message);
        const othersOpen = this.#slots.inUse - (how.holdsSlot ? 1 : 0) > 0;
        if (othersOpen) deadline = Date.now() + CHANNEL_RETRY_MS;
        if (!refused || Date.now() > deadline) {
          throw new UnreachableError(`cannot open a channel to ${this.#where()}: ${(err as Error).message}`, {
            host: this.target.name,
            hint: refused ? 'the server refuses new sessions on this connection; check MaxSessions in its sshd_config' : undefined,
            cause: err,
          });
        }
        this.#channelRetries++;
        await this.#slots.nextRelease(othersOpen ? CHANNEL_RETRY_MS : backoffMs, how.signal);
        if (how.signal?.aborted) throw abortError(how.signal, how.what);
        backoffMs = Math.min(backoffMs * 2, 1000);
      }
    }
  }

  /**
   * The connection's one SFTP session, opened on first use; it holds a
   * channel slot while open. The opening is shared, so it does not listen to
   * any one caller's signal: each caller stops waiting on its own abort.
   */
  #session(signal: AbortSignal | undefined, what: string): Promise<SFTPWrapper> {
    this.#sftp ??= (async () => {
      const release = await this.#slots.acquire(undefined, 'SFTP session');
      try {
        const sftp = await this.#openChannel<SFTPWrapper>((cb) => this.#client.sftp(cb), { what: 'SFTP session', holdsSlot: true });
        sftp.on('close', () => {
          release();
          this.#sftp = undefined;
        });
        sftp.on('error', () => undefined);
        return sftp;
      } catch (err) {
        release();
        throw err;
      }
    })().catch((err: unknown) => {
      this.#sftp = undefined;
      throw err;
    });
    return untilAborted(this.#sftp, signal, what);
  }

  /**
   * Streams the file into `cat` on an exec channel rather than through SFTP:
   * with no request and reply per 64 KiB, the controller spends about a third
   * less CPU per byte and the host runs `cat`, not sftp-server (measured with
   * six hosts taking 100 MB at once: 1.75 s of controller CPU instead of 2.7 s;
   * OpenSSH's `ssh host 'cat > f'` took 1.45 s). Everything else is as with
   * SFTP: it runs as the SSH user (become does not apply), relative paths
   * start in the user's home, an existing file is truncated in place and
   * keeps its inode, and `mode` is set exactly before any byte is written.
   *
   * The script on the host checks the size it received and removes the file
   * when it is short, whichever way the transfer stopped (an abort, a lost
   * link, the controller dying), and never removes a file it could not open.
   */
  async upload(source: string | Buffer, remotePath: string, opts: UploadOptions = {}): Promise<void> {
    const { signal } = opts;
    const what = `upload to ${this.target.name}:${remotePath}`;
    if (signal?.aborted) throw abortError(signal, what);
    this.#assertUsable();
    const local = typeof source === 'string' ? await openLocal(source, 'r') : undefined;
    try {
      const total = local ? (await local.stat()).size : (source as Buffer).length;
      const release = await this.#slots.acquire(signal, what);
      let channel: ClientChannel;
      let exitStatus: (() => ChannelExit | undefined) | undefined;
      try {
        channel = await this.#openChannel<ClientChannel>(
          (cb) =>
            this.#client.exec(`exec sh -c ${quote(uploadScript(remotePath, total, opts))}`, (err, opened) => {
              if (!err) exitStatus = recordExit(opened);
              cb(err, opened);
            }),
          { signal, what, holdsSlot: true },
        );
      } catch (err) {
        release();
        throw err;
      }
      await this.#streamInto(channel, exitStatus!, release, local, source, total, opts, what);
    } finally {
      await local?.close();
    }
  }

  async #streamInto(
    channel: ClientChannel,
    exitStatus: () => ChannelExit | undefined,
    release: () => void,
    local: FileHandle | undefined,
    source: string | Buffer,
    total: number,
    opts: UploadOptions,
    what: string,
  ): Promise<void> {
    const { signal } = opts;
    const stderr = new OutputTail(64 * 1024);
    const stdout = new OutputTail(64 * 1024);
    channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    channel.on('data', (chunk: Buffer) => stdout.push(chunk));
    channel.on('error', () => undefined);
    const closed = new Promise<void>((resolve) =>
      channel.on('close', () => {
        release();
        resolve();
      }),
    );
    let stopped = false;
    const onAbort = () => {
      // End the input early: the script sees a short file and removes it, then exits.
      stopped = true;
      channel.end();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    let streamError: unknown;
    // The next chunk is read while this one goes out: on six lab hosts taking
    // 100 MB at once, reading only after the channel drained cost about 5 %
    // (medians of 13 interleaved runs: 1.43 s against 1.36 s).
    //
    // A file's chunks are read into a few buffers used over and over: ssh2
    // copies what it is given into its packets before the write's callback,
    // and a fresh buffer per chunk costs its page faults and its
    // garbage collection (six 100 MB files read 256 KiB at a time into fresh
    // buffers took 180-200 ms of system time, into reused ones 75-105 ms).
    const spare: Buffer[] = [];
    const chunkAt = (at: number): Promise<{ data: Buffer; buffer?: Buffer }> => {
      const length = Math.min(UPLOAD_CHUNK, total - at);
      const buffer = local ? (spare.pop() ?? Buffer.allocUnsafe(UPLOAD_CHUNK)) : undefined;
      const reading = buffer
        ? readExactly(local!, at, buffer.subarray(0, length), source as string).then((data) => ({ data, buffer }))
        : Promise.resolve({ data: (source as Buffer).subarray(at, at + length) });
      // Awaited below; until then (or if the upload stops first) a failure must not count as unhandled.
      reading.catch(() => undefined);
      return reading;
    };
    try {
      let sent = 0;
      let next = total > 0 ? chunkAt(0) : undefined;
      while (sent < total && !stopped && !this.#lost) {
        const { data, buffer } = await next!;
        if (stopped) break;
        const after = sent + data.length;
        next = after < total ? chunkAt(after) : undefined;
        if (!channel.write(data, buffer && (() => spare.push(buffer)))) await drained(channel, closed);
        sent = after;
        opts.onProgress?.({ bytes: sent, total });
      }
      if (!stopped) channel.end();
    } catch (err) {
      streamError = err;
      stopped = true;
      channel.end();
    }
    // The host needs a moment to remove a short file after EOF; a host that
    // does not answer at all gets its channel closed after the deadline.
    const deadline = setTimeout(() => channel.close(), STOP_DEADLINE_MS);
    await closed;
    clearTimeout(deadline);
    signal?.removeEventListener('abort', onAbort);
    if (signal?.aborted) throw abortError(signal, what);
    if (this.#lost) throw this.#lost;
    if (streamError !== undefined) throw this.#transferError(streamError, signal, what);
    const exit = exitStatus();
    if (exit?.code === 0) return;
    const out = stdout.toString();
    if (out.startsWith(ARRIVED)) {
      throw new UploadFollowUpError({
        exitCode: exit?.code ?? null,
        signal: exit?.signal ?? null,
        stdout: out.slice(ARRIVED.length),
        stderr: stderr.toString(),
        truncated: stdout.truncated || stderr.truncated,
        timedOut: false,
        durationMs: 0,
      });
    }
    const said = stderr.toString().trim().split('\n').at(-1) || (exit ? `exit ${exit.code ?? exit.signal}` : 'the channel closed without an exit status');
    throw this.#transferError(new Error(said), signal, what);
  }

  async download(remotePath: string, localPath: string, opts: DownloadOptions = {}): Promise<void> {
    const { signal } = opts;
    const what = `download of ${this.target.name}:${remotePath}`;
    if (signal?.aborted) throw abortError(signal, what);
    this.#assertUsable();
    const throttle = opts.limitKbit !== undefined ? new BandwidthThrottle(opts.limitKbit) : undefined;
    const sftp = await this.#session(signal, what);
    let handle: Buffer | undefined;
    let local: FileHandle | undefined;
    try {
      handle = await call<Buffer>((cb) => sftp.open(remotePath, 'r', cb));
      const total = (await call<{ size: number }>((cb) => sftp.fstat(handle!, cb))).size;
      // Opened only once the remote file is there, so a failed download never truncates an existing local file.
      const output = (local = await openLocal(localPath, 'w'));
      const chunk = throttle ? throttle.chunkSize(TRANSFER_CHUNK) : TRANSFER_CHUNK;
      await pipelined(total, chunk, throttle, signal, async (position, length) => {
        const data = await readRemoteExactly(sftp, handle!, position, length, remotePath);
        await output.write(data, 0, data.length, position);
        return data.length;
      }, (bytes) => opts.onProgress?.({ bytes, total }));
      await call((cb) => sftp.close(handle!, cb));
      handle = undefined;
      await output.close();
    } catch (err) {
      if (handle) await call((cb) => sftp.close(handle!, cb)).catch(() => undefined);
      if (local) {
        await local.close().catch(() => undefined);
        await rm(localPath, { force: true });
      }
      throw this.#transferError(err, signal, what);
    }
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      if (this.#lost) return resolve();
      // A server that stopped answering would keep a polite goodbye waiting forever.
      const force = setTimeout(() => this.#client.destroy(), 5000);
      this.#client.once('close', () => {
        clearTimeout(force);
        resolve();
      });
      this.#client.end();
    });
    return this.#closing;
  }

  #assertUsable(): void {
    if (this.#closing) throw new UnreachableError(`the connection to ${this.#where()} was closed by runbook`, { host: this.target.name });
    if (this.#lost) throw this.#lost;
  }

  #transferError(err: unknown, signal: AbortSignal | undefined, what: string): Error {
    if (signal?.aborted) return abortError(signal, what);
    if (this.#lost) return this.#lost;
    if (err instanceof RunbookError) return err;
    const message = (err as Error).message;
    return new RunbookError(`${what} failed: ${message}`, {
      host: this.target.name,
      hint: /no such file/i.test(message) ? 'check that the directory exists on the host' : /permission denied/i.test(message) ? 'check the owner and mode of the path (become does not apply to transfers)' : undefined,
      cause: err,
    });
  }

  #where(): string {
    return where(this.target);
  }
}

/** user@address:port; the inventory name travels separately, as the error's `host`. */
function where(target: SshTarget): string {
  return `${target.user}@${target.address}:${target.port}`;
}

/** How a command ended, as the server reported it (an exit-status or an exit-signal request). */
interface ChannelExit {
  code: number | null;
  signal: string | null;
}

/**
 * Starts listening for a channel's exit status; call it inside the ssh2
 * callback that hands the channel over, never after an await.
 *
 * ssh2 handles every packet of one socket read in a single synchronous pass,
 * and its 'exit' is a plain event that nobody hears unless already
 * listening. When the controller's event loop was busy for a few
 * milliseconds, the exec request's success reply and the whole life of a
 * quick command (output, EOF, exit status, close) wait in the socket together
 * and arrive in one read: ssh2 calls the exec callback and, in the same pass,
 * emits 'exit'. Code that awaits the channel resumes only after the pass, so a
 * listener added there missed the status, while the output (buffered by the
 * stream until read) and 'close' (which ssh2 holds back until the stream has
 * been read) still came: a command that exited 0 looked killed by a signal.
 */
function recordExit(channel: ClientChannel): () => ChannelExit | undefined {
  let exit: ChannelExit | undefined;
  channel.once('exit', (code: number | null, signal?: string) => {
    exit = { code: code ?? null, signal: signal ?? null };
  });
  return () => exit;
}

/** `promise`, or the abort error as soon as `signal` fires, whichever comes first. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(abortError(signal, what));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal, what));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * The host's half of an upload: make the folder when asked (makeParents),
 * open `path` (creating it), give it `mode`, copy stdin into it (replacing
 * what an existing file held), check that `size` bytes arrived, then run
 * `then` after a line saying so. A file it could not open is left alone; one
 * it opened is removed on any failure before `then`, including a short input.
 * A failure's last stderr line is the reason, as the system says it
 * ("Permission denied", "No such file or directory").
 *
 * A new or empty file is opened without O_TRUNC (`: >>`, then `cat >>`).
 * Truncating a file, even an empty one, marks it on ext4 (auto_da_alloc) to
 * have all its data flushed when it is closed, which the usual new temporary
 * file does not need: on six lab hosts taking 100 MB at once the upload took
 * 1.56 s that way against 1.33 s (medians of 7 interleaved runs), the same
 * as OpenSSH's `cat > new-file`. A file that already has content is still
 * truncated by `cat >`.
 */
export function uploadScript(path: string, size: number, opts: Pick<UploadOptions, 'mode' | 'makeParents' | 'then'> = {}): string {
  const { mode } = opts;
  return [
    `p=${quote(path)}`,
    // mkdir says "mkdir: cannot create directory '<path>': Permission denied"; the reason is the part after the last ": ".
    ...(opts.makeParents ? [`e=$(mkdir -p -- ${quote(posix.dirname(path))} 2>&1) || { printf '%s\\n' "\${e##*: }" >&2; exit 3; }`] : []),
    // The redirection's error is "sh: 1: cannot create <path>: Permission denied"; keep the reason,
    // in the system's words (dash says "Directory nonexistent" for ENOENT).
    `e=$( { : >> "$p"; } 2>&1 ) || { e=\${e##*: }; [ "$e" != 'Directory nonexistent' ] || e='No such file or directory'; printf '%s\\n' "$e" >&2; exit 3; }`,
    ...(mode === undefined ? [] : [`chmod ${mode.toString(8).padStart(4, '0')} -- "$p" || { rm -f -- "$p"; exit 4; }`]),
    `if [ -s "$p" ]; then cat > "$p"; else cat >> "$p"; fi || { rm -f -- "$p"; exit 5; }`,
    `n=$(wc -c < "$p") && [ "$n" -eq ${size} ] || { rm -f -- "$p"; echo "the transfer stopped after $n of ${size} bytes" >&2; exit 6; }`,
    // What `then` prints follows the marker, which tells its failure from the transfer's.
    ...(opts.then === undefined ? [] : [`printf '${ARRIVED.replace('\n', '\\n')}'`, opts.then]),
  ].join('; ');
}

/** Printed by the upload script once the whole file is there, before its `then` command. */
const ARRIVED = 'runbook-upload-arrived\n';

/** Resolves when a full channel can take more input, or when it closes. */
function drained(channel: ClientChannel, closed: Promise<void>): Promise<void> {
  return Promise.race([new Promise<void>((resolve) => channel.once('drain', resolve)), closed]);
}

/** Promise around a node-style ssh2 callback. */
function call<T = void>(start: (cb: (err: Error | undefined | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value))));
}

/**
 * Runs `step(position, length)` over [0, total) in chunk-sized pieces with up
 * to TRANSFER_WINDOW in flight: throughput of a pipelined transfer, memory of
 * a window. With a throttle, each piece waits for its turn first (and the
 * window shrinks to one so the rate is smooth). Stops issuing on abort or the
 * first error, waits for what is in flight, then throws.
 */
async function pipelined(
  total: number,
  chunk: number,
  throttle: BandwidthThrottle | undefined,
  signal: AbortSignal | undefined,
  step: (position: number, length: number) => Promise<number>,
  onProgress: (bytes: number) => void,
): Promise<void> {
  const window = throttle ? 1 : TRANSFER_WINDOW;
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let done = 0;
  for (let position = 0; position < total && !failure && !signal?.aborted; position += chunk) {
    const length = Math.min(chunk, total - position);
    if (throttle) {
      try {
        await throttle.take(length, signal);
      } catch (err) {
        failure ??= { error: err };
        break;
      }
    }
    const piece: Promise<void> = step(position, length).then(
      (bytes) => {
        done += bytes;
        onProgress(done);
      },
      (err: unknown) => {
        failure ??= { error: err };
      },
    );
    inFlight.add(piece);
    void piece.finally(() => inFlight.delete(piece));
    if (inFlight.size >= window) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failure) throw failure.error;
  if (signal?.aborted) throw signal.reason;
}

/** Fills `buffer` from `position` of the file. */
async function readExactly(file: FileHandle, position: number, buffer: Buffer, path: string): Promise<Buffer> {
  const length = buffer.length;
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await file.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) throw new RunbookError(`${path} got shorter while it was being uploaded`);
    filled += bytesRead;
  }
  return buffer;
}

/** SFTP may return fewer bytes than asked for; ask again for the rest. */
async function readRemoteExactly(sftp: SFTPWrapper, handle: Buffer, position: number, length: number, path: string): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const bytesRead = await new Promise<number>((resolve, reject) =>
      sftp.read(handle, buffer, filled, length - filled, position + filled, (err, n) => (err ? reject(err) : resolve(n))),
    );
    if (bytesRead === 0) throw new RunbookError(`${path} got shorter while it was being downloaded`);
    filled += bytesRead;
  }
  return buffer;
}

/**
 * Channel slots: at most `limit` channels open at once, callers queue
 * beyond that in order. A freed slot goes straight to the next in line.
 */
class ChannelSlots {
  inUse = 0;
  peak = 0;
  readonly #queue: Array<{ grant: () => void; fail: (err: Error) => void }> = [];
  readonly #releaseWatchers = new Set<() => void>();
  #failed: Error | undefined;

  constructor(readonly limit: number) {}

  async acquire(signal: AbortSignal | undefined, what: string): Promise<() => void> {
    if (this.#failed) throw this.#failed;
    if (this.inUse < this.limit) {
      this.inUse++;
      this.peak = Math.max(this.peak, this.inUse);
    } else {
      await new Promise<void>((resolve, reject) => {
        const entry = {
          grant: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
          fail: (err: Error) => {
            signal?.removeEventListener('abort', onAbort);
            reject(err);
          },
        };
        const onAbort = () => {
          const index = this.#queue.indexOf(entry);
          if (index !== -1) this.#queue.splice(index, 1);
          reject(abortError(signal!, what));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.#queue.push(entry);
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      if (next) next.grant();
      else this.inUse--;
      for (const watcher of this.#releaseWatchers) watcher();
    };
  }

  /** Resolves when any slot is released, on abort, or after `timeoutMs`. */
  nextRelease(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#releaseWatchers.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#releaseWatchers.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  fail(err: Error): void {
    this.#failed = err;
    for (const entry of this.#queue.splice(0)) entry.fail(err);
    for (const watcher of this.#releaseWatchers) watcher();
  }
}

interface AuthAttempt {
  /** What a person reads in "tried …". */
  label: string;
  /** The server-side method name, to skip what the server no longer offers. */
  serverMethod: 'publickey' | 'password' | 'keyboard-interactive';
  method: AnyAuthMethod;
}

export interface AuthPlan {
  attempts: AuthAttempt[];
  tried: string[];
  serverMethods: string[] | undefined;
  handler: (methodsLeft: AuthenticationType[] | null, partial: boolean | null, next: (m: AnyAuthMethod | false) => void) => void;
}

/** Decrypted keys, so a run with many hosts decrypts each key file once. */
const keyCache = new Map<string, Promise<KeyLoad>>();

/**
 * What to try, in OpenSSH's order: the key file, the agent, then the
 * password (as "password" and, for servers that only offer that, as
 * "keyboard-interactive").
 */
async function authPlan(target: SshTarget): Promise<AuthPlan> {
  const { auth, user } = target;
  const attempts: AuthAttempt[] = [];
  if (auth.privateKeyFile !== undefined) {
    const file = expandHome(auth.privateKeyFile);
    attempts.push({ label: `key file ${file}`, serverMethod: 'publickey', method: { type: 'publickey', username: user, key: await loadPrivateKey(target, file, auth.passphrase) } });
  }
  const agent = auth.agent ?? process.env.SSH_AUTH_SOCK;
  if (agent) attempts.push({ label: `ssh-agent at ${agent}`, serverMethod: 'publickey', method: { type: 'agent', username: user, agent } });
  if (auth.password !== undefined) {
    const password = auth.password;
    attempts.push({ label: 'password', serverMethod: 'password', method: { type: 'password', username: user, password: password.reveal() } });
    attempts.push({
      label: 'keyboard-interactive (password)',
      serverMethod: 'keyboard-interactive',
      method: {
        type: 'keyboard-interactive',
        username: user,
        prompt: (_name: string, _instructions: string, _lang: string, prompts: Prompt[], finish: KeyboardInteractiveCallback) =>
          finish(prompts.map(() => password.reveal())),
      },
    });
  }
  if (attempts.length === 0) {
    throw new UnreachableError(`no way to log in to ${where(target)}: no private key, password or ssh-agent is configured`, {
      host: target.name,
      hint: 'set the host\'s private key file (and passphrase), its password, or run an ssh-agent (SSH_AUTH_SOCK)',
    });
  }
  const plan: AuthPlan = {
    attempts,
    tried: [],
    serverMethods: undefined,
    handler: (methodsLeft, _partial, next) => {
      if (methodsLeft) plan.serverMethods = methodsLeft;
      for (;;) {
        const attempt = plan.attempts.shift();
        if (!attempt) return next(false);
        if (methodsLeft && !methodsLeft.includes(attempt.serverMethod)) continue;
        plan.tried.push(attempt.label);
        return next(attempt.method);
      }
    },
  };
  return plan;
}

/** What reading and parsing a key file gave: the key, or why not (turned into an error naming the host that asked). */
type KeyLoad = { key: ParsedKey } | { unreadable: string } | { unusable: string };

async function loadPrivateKey(target: SshTarget, file: string, passphrase: Secret | undefined): Promise<ParsedKey> {
  const cacheKey = `${file}\0${passphrase ? createHash('sha256').update(passphrase.reveal()).digest('hex') : ''}`;
  // The promise is what is cached: hosts dialed together share one read and one parse.
  let loading = keyCache.get(cacheKey);
  if (!loading) keyCache.set(cacheKey, (loading = readKey(file, passphrase)));
  const loaded = await loading;
  if ('key' in loaded) return loaded.key;
  // A failure is not kept: the file may be fixed before the next connection.
  if (keyCache.get(cacheKey) === loading) keyCache.delete(cacheKey);
  if ('unreadable' in loaded) {
    throw new UnreachableError(`cannot read private key ${file} for ${where(target)}: ${loaded.unreadable}`, {
      host: target.name,
      hint: 'check the host\'s private key path',
    });
  }
  const reason = loaded.unusable;
  const needsPassphrase = /encrypted|passphrase/i.test(reason);
  throw new UnreachableError(`cannot use private key ${file} for ${where(target)}: ${reason}`, {
    host: target.name,
    hint: needsPassphrase
      ? passphrase
        ? 'the passphrase does not open this key; check the host\'s passphrase'
        : 'the key is protected by a passphrase; give it as the host\'s passphrase'
      : 'the file must be an OpenSSH, PEM or PuTTY private key',
  });
}

async function readKey(file: string, passphrase: Secret | undefined): Promise<KeyLoad> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    return { unreadable: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
  }
  const parsed = utils.parseKey(data, passphrase?.reveal());
  const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey | undefined) : parsed;
  if (key === undefined || key instanceof Error) return { unusable: key instanceof Error ? key.message : 'no key found in the file' };
  return { key };
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? homedir() + path.slice(1) : path;
}

/** ssh2's default order for host key algorithms, as of ssh2 1.x. */
const DEFAULT_HOST_KEY_ALGORITHMS: ServerHostKeyAlgorithm[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/**
 * Ask first for the key types known_hosts already has for this host, as
 * OpenSSH does: otherwise a server with ed25519 and ecdsa keys whose ecdsa
 * key alone is recorded would be reported "unknown".
 */
export function hostKeyAlgorithms(knownTypes: readonly string[]): ServerHostKeyAlgorithm[] {
  const preferred = knownTypes.flatMap((type) => (type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type]));
  const known = DEFAULT_HOST_KEY_ALGORITHMS.filter((a) => preferred.includes(a)).sort((a, b) => preferred.indexOf(a) - preferred.indexOf(b));
  return [...new Set([...known, ...DEFAULT_HOST_KEY_ALGORITHMS])];
}

function verifyHostKey(target: SshTarget, knownHosts: readonly KnownHostEntry[], key: Buffer, acceptNew: boolean): 'known' | 'new' | HostKeyError {
  const check = checkHostKey(knownHosts, { address: target.address, port: target.port, key });
  const name = knownHostName(target.address, target.port);
  const file = target.knownHostsFile;
  const shown = `${keyTypeOf(key)} key ${fingerprint(key)}`;
  switch (check.status) {
    case 'known':
      return 'known';
    case 'unknown':
      if (acceptNew) return 'new';
      return new HostKeyError(
        `the host key of ${where(target)} is not known: it presented ${shown}, and ${file} has no ${keyTypeOf(key)} key for ${name}` +
          (check.knownTypes.length > 0 ? ` (it has ${check.knownTypes.join(', ')})` : ''),
        {
          host: target.name,
          hint: `if that fingerprint is the host's, run again with --accept-new-host-keys to record it, or add it yourself: ssh-keyscan -p ${target.port} ${target.address} >> ${file}`,
        },
      );
    case 'changed': {
      const lines = check.entries.map((e) => `line ${e.line}`).join(', ');
      return new HostKeyError(
        `the host key of ${where(target)} has CHANGED: it presented ${shown}, but ${file} ${lines} records a different ${keyTypeOf(key)} key ` +
          `(${check.entries.map((e) => fingerprint(e.key)).join(', ')}). Someone may be intercepting the connection, or the host was reinstalled`,
        {
          host: target.name,
          hint: `runbook never replaces a changed key. If you know the host was reinstalled, remove ${lines} from ${file} (ssh-keygen -R '${name}' -f ${file}) and connect again`,
        },
      );
    }
    case 'revoked':
      return new HostKeyError(`the host key of ${where(target)} (${shown}) is marked @revoked in ${file} line ${check.entry.line}`, {
        host: target.name,
        hint: 'a revoked key is never accepted; ask the host\'s administrator for its current key',
      });
  }
}

/**
 * Dial failures that may go away on their own, so that trying again is
 * worth it: nothing listens yet (sshd starting), the connection was reset or
 * closed during the handshake (sshd's MaxStartups, a restart), a timeout (a
 * busy host or link), a DNS server that said "try again". Never an
 * authentication failure or a host key problem: those stay wrong until a
 * person changes something, and repeating a refused login can lock the
 * account.
 */
const transientFailures = new WeakSet<Error>();

/** True for a dial failure that may succeed if tried again (see transientFailures). */
export function isTransientConnectFailure(err: unknown): boolean {
  return err instanceof Error && transientFailures.has(err);
}

function isRetryable(err: Error & { level?: string | undefined; code?: string | undefined }, auth: AuthPlan): boolean {
  if (err.level === 'client-authentication') return false;
  if (err.level === 'client-timeout') return true;
  switch (err.code) {
    case 'ECONNREFUSED':
    case 'ETIMEDOUT':
    case 'EAI_AGAIN':
      return true;
    case 'ECONNRESET':
    case 'EPIPE':
      // Once a login was tried, a reset may be the server turning us away
      // (MaxAuthTries, fail2ban): repeating it would only make that worse.
      return auth.tried.length === 0;
    default:
      return false;
  }
}

function closedDuringHandshake(target: SshTarget, auth: AuthPlan): UnreachableError {
  const err = new UnreachableError(`${where(target)} closed the connection during the handshake`, {
    host: target.name,
    hint: 'sshd may be starting up or turning away new connections for now (MaxStartups); check its log if this persists',
  });
  // Before any login attempt it is the server's state, not our credentials (see isRetryable).
  if (auth.tried.length === 0) transientFailures.add(err);
  return err;
}

/** The person-facing error for a failed dial (exported for its unit test); transient ones are marked as such. */
export function connectError(target: SshTarget, err: Error & { level?: string | undefined; code?: string | undefined }, auth: AuthPlan, notes: string[], timeoutMs: number): UnreachableError {
  const error = explainConnectError(target, err, auth, notes, timeoutMs);
  if (isRetryable(err, auth)) transientFailures.add(error);
  return error;
}

function explainConnectError(target: SshTarget, err: Error & { level?: string | undefined; code?: string | undefined }, auth: AuthPlan, notes: string[], timeoutMs: number): UnreachableError {
  const at = where(target);
  const details = { host: target.name, cause: err };
  if (err.level === 'client-authentication') {
    const offered = auth.serverMethods ? `; the server accepts ${auth.serverMethods.join(', ')}` : '';
    return new UnreachableError(`authentication failed for ${at}: tried ${auth.tried.join(', ') || 'nothing the server accepts'}${offered}`, {
      ...details,
      hint: [
        ...notes,
        `check that the key is in ~${target.user}/.ssh/authorized_keys on the host, or that the password is right`,
      ].join('; '),
    });
  }
  switch (err.code) {
    case 'ECONNREFUSED':
      return new UnreachableError(`connection refused by ${at}: nothing listens on port ${target.port}`, {
        ...details,
        hint: 'check that sshd runs on the host and that the port is right',
      });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new UnreachableError(`cannot resolve the host name "${target.address}" of ${target.name}`, {
        ...details,
        hint: 'check the address in the inventory, or DNS / /etc/hosts on the controller',
      });
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new UnreachableError(`no route to ${at} (${err.code})`, { ...details, hint: 'check the address and the network between the controller and the host' });
    case 'ETIMEDOUT':
      return new UnreachableError(`timed out connecting to ${at}`, { ...details, hint: 'a firewall may drop the packets, or the host is down' });
    case 'ECONNRESET':
      return new UnreachableError(`${at} reset the connection during the handshake`, {
        ...details,
        hint: 'sshd may refuse this client (MaxStartups, TCP wrappers, fail2ban)',
      });
  }
  if (err.level === 'client-timeout') {
    return new UnreachableError(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for the SSH handshake with ${at}`, {
      ...details,
      hint: 'the port answers but no SSH server speaks on it, or the host is overloaded',
    });
  }
  return new UnreachableError(`cannot connect to ${at}: ${err.message}`, details);
}
