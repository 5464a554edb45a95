// The connector interface: everything the engine and modules may do to a host.
// One implementation per transport (ssh, local); tests use a fake that rejects
// any command it was not told to expect.

export interface ExecOptions {
  /** Working directory on the host. */
  cwd?: string | undefined;
  /**
   * Extra environment variables, exported before the command runs. Values
   * holding a secret the masker knows never appear in any command line on
   * the host: they reach the shell on stdin, ahead of `stdin` (see command.ts).
   */
  env?: Readonly<Record<string, string>> | undefined;
  /** Bytes written to the command's standard input, then closed. */
  stdin?: string | Buffer | undefined;
  /** Fail the command (and kill it) after this many milliseconds. */
  timeoutMs?: number | undefined;
  /** Run under `sudo -n`. */
  become?: boolean | undefined;
  /** Run in a login shell, for hosts where PATH/JAVA_HOME come from the profile. */
  loginShell?: boolean | undefined;
  /** Keep at most this many bytes of each stream (the tail). Default 1 MiB. */
  maxOutputBytes?: number | undefined;
  /** Called with each chunk of standard output as it arrives. */
  onStdout?: ((chunk: Buffer) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export interface ExecResult {
  /** Exit code, or null when the command was ended by a signal or timed out. */
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** True when output beyond maxOutputBytes was dropped (the tail was kept). */
  truncated: boolean;
  timedOut: boolean;
  durationMs: number;
}

export interface TransferProgress {
  bytes: number;
  total: number;
}

export interface UploadOptions {
  /** File mode for the written file, e.g. 0o644. */
  mode?: number | undefined;
  /** Create the file's folder and its parents first (`mkdir -p`). */
  makeParents?: boolean | undefined;
  /**
   * A shell command run on the host once the whole file has arrived, in the
   * same session as the transfer, as the SSH user (moving the file into
   * place, say): a step that would otherwise cost a round trip of its own. When
   * it fails, the upload throws an UploadFollowUpError with its result.
   */
  then?: string | undefined;
  onProgress?: ((p: TransferProgress) => void) | undefined;
  signal?: AbortSignal | undefined;
}

/** The file arrived whole, but the upload's `then` command failed; `result` is that command's. */
export class UploadFollowUpError extends Error {
  constructor(readonly result: ExecResult) {
    super(`the command after the upload failed (exit ${result.exitCode ?? result.signal})`);
    this.name = 'UploadFollowUpError';
  }
}

export interface DownloadOptions {
  /** Bandwidth limit in Kbit/s. */
  limitKbit?: number | undefined;
  onProgress?: ((p: TransferProgress) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export interface Connection {
  readonly kind: 'ssh' | 'local' | 'fake';
  /** Run a shell command (POSIX sh syntax) and collect its output. Never throws for a non-zero exit. */
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Write a local file (streamed) or a buffer to exactly `remotePath`. Callers do temp-and-rename. */
  upload(source: string | Buffer, remotePath: string, opts?: UploadOptions): Promise<void>;
  /** Copy a remote file to a local path (streamed). */
  download(remotePath: string, localPath: string, opts?: DownloadOptions): Promise<void>;
  close(): Promise<void>;
}
