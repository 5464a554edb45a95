// A fake host for unit tests. It answers only the commands it was told to
// expect, in order, raises on anything else, and can say which canned answers
// were never used (a test must call assertDone()).

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { UploadFollowUpError, type Connection, type DownloadOptions, type ExecOptions, type ExecResult, type UploadOptions } from '../../engine/connection/types.js';

export interface ExpectedCommand {
  /** The exact command, or a regex source when `match` is used. */
  run?: string;
  match?: string;
  stdout?: string;
  stderr?: string;
  exitCode?: number | null;
  timedOut?: boolean;
  signal?: string | null;
  truncated?: boolean;
  /** Options the command must be run with (subset). */
  opts?: Partial<Pick<ExecOptions, 'cwd' | 'become' | 'loginShell' | 'stdin' | 'timeoutMs'>> & { env?: Record<string, string> };
}

export interface UploadRecord {
  remotePath: string;
  content: Buffer;
  mode: number | undefined;
  makeParents: boolean;
  then: string | undefined;
}

export class UnexpectedCommandError extends Error {}

export class FakeConnection implements Connection {
  readonly kind = 'fake' as const;
  readonly executed: Array<{ command: string; opts: ExecOptions }> = [];
  readonly uploads: UploadRecord[] = [];
  /** Remote files that download() can return. */
  readonly remoteFiles = new Map<string, Buffer>();
  readonly downloads: Array<{ remotePath: string; localPath: string; opts: DownloadOptions }> = [];
  private readonly queue: ExpectedCommand[];
  closed = false;

  constructor(expected: ExpectedCommand[] = []) {
    this.queue = [...expected];
  }

  expect(cmd: ExpectedCommand): this {
    this.queue.push(cmd);
    return this;
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.executed.push({ command, opts });
    const next = this.queue[0];
    const matches =
      next !== undefined &&
      (next.match !== undefined ? new RegExp(next.match).test(command) : next.run === command);
    if (!next || !matches) {
      const wanted = next ? `expected ${next.match !== undefined ? `/${next.match}/` : JSON.stringify(next.run)}` : 'expected no more commands';
      throw new UnexpectedCommandError(`fake host: unexpected command ${JSON.stringify(command)}; ${wanted}`);
    }
    this.queue.shift();
    if (next.opts) {
      for (const [k, v] of Object.entries(next.opts)) {
        const actual = (opts as Record<string, unknown>)[k];
        const same = typeof v === 'object' && v !== null ? JSON.stringify(actual) === JSON.stringify(v) : actual === v;
        if (!same) {
          throw new UnexpectedCommandError(`fake host: command ${JSON.stringify(command)} ran with ${k}=${JSON.stringify(actual)}, expected ${JSON.stringify(v)}`);
        }
      }
    }
    if (opts.onStdout && next.stdout) opts.onStdout(Buffer.from(next.stdout));
    return {
      exitCode: next.exitCode === undefined ? 0 : next.exitCode,
      signal: next.signal ?? null,
      stdout: next.stdout ?? '',
      stderr: next.stderr ?? '',
      truncated: next.truncated ?? false,
      timedOut: next.timedOut ?? false,
      durationMs: 0,
    };
  }

  async upload(source: string | Buffer, remotePath: string, opts: UploadOptions = {}): Promise<void> {
    const content = typeof source === 'string' ? readFileSync(source) : source;
    opts.onProgress?.({ bytes: content.length, total: content.length });
    this.uploads.push({ remotePath, content, mode: opts.mode, makeParents: opts.makeParents ?? false, then: opts.then });
    // A real host runs it in the upload's own session; here it is one more expected command.
    if (opts.then !== undefined) {
      const res = await this.exec(opts.then, { signal: opts.signal });
      if (res.exitCode !== 0) throw new UploadFollowUpError(res);
    }
  }

  async download(remotePath: string, localPath: string, opts: DownloadOptions = {}): Promise<void> {
    const content = this.remoteFiles.get(remotePath);
    if (!content) throw new UnexpectedCommandError(`fake host: unexpected download of ${remotePath}`);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(localPath, content);
    this.downloads.push({ remotePath, localPath, opts });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** The canned answers that were never used. */
  get pending(): ExpectedCommand[] {
    return [...this.queue];
  }

  assertDone(): void {
    if (this.queue.length > 0) {
      throw new Error(`fake host: ${this.queue.length} expected command(s) never ran: ${this.queue.map((q) => q.run ?? `/${q.match}/`).join(', ')}`);
    }
  }
}

export function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}
