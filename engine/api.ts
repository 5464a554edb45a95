// The API for module authors. A module is one file under modules/ that exports
// a ModuleDef made with defineModule(). Modules reach hosts only through the
// ModuleContext; they never import ssh2, zx or handlebars themselves.

import { z } from 'zod';
import type { Connection, DownloadOptions, ExecOptions, ExecResult, UploadOptions } from './connection/types.js';
import { quote, raw, sh, argv } from './quote.js';
import { Secret } from './secret.js';

export type { Connection, DownloadOptions, ExecOptions, ExecResult, UploadOptions, TransferProgress } from './connection/types.js';
export { UploadFollowUpError } from './connection/types.js';
export { quote, raw, sh, argv, Secret };

export type ResultStatus = 'ok' | 'changed' | 'skipped' | 'failed';

export interface ModuleResult {
  status: ResultStatus;
  /** One line that says why: "remote file already has sha256 3f2a…". */
  msg: string;
  /** Values a task can `register` (stdout, rc, rows, pid, …). */
  data?: Record<string, unknown> | undefined;
  /** A unified diff, shown with --diff. */
  diff?: string | undefined;
  /** Facts to set on the host (set_fact, facts). */
  facts?: Record<string, unknown> | undefined;
}

export const ok = (msg: string, data?: Record<string, unknown>): ModuleResult => ({ status: 'ok', msg, data });
export const changed = (msg: string, data?: Record<string, unknown>): ModuleResult => ({ status: 'changed', msg, data });
export const skipped = (msg: string, data?: Record<string, unknown>): ModuleResult => ({ status: 'skipped', msg, data });
export const failed = (msg: string, data?: Record<string, unknown>): ModuleResult => ({ status: 'failed', msg, data });

export interface HostInfo {
  /** Inventory name. */
  readonly name: string;
  /** Address used to connect. */
  readonly address: string;
}

export interface RenderOptions {
  /** Extra variables on top of the host's. */
  vars?: Record<string, unknown> | undefined;
  /** Write secrets' real values (config files); the default writes a mask. */
  revealSecrets?: boolean | undefined;
  /** Name used in error messages, e.g. the template path. */
  source?: string | undefined;
}

export interface ModuleContext {
  readonly host: HostInfo;
  /** The host's variables, facts and registered results, merged by precedence. */
  readonly vars: Readonly<Record<string, unknown>>;
  /** --check: report what would change, change nothing. */
  readonly check: boolean;
  /** --diff: include a unified diff in results where it makes sense. */
  readonly diff: boolean;
  /** Aborted when the run is interrupted or the task times out. */
  readonly signal: AbortSignal;
  /** The task's become: exec() runs its commands under sudo; transfers always run as the SSH user. */
  readonly become: boolean;
  /** Run a command on the host; the task's become/timeout apply unless overridden. */
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  upload(source: string | Buffer, remotePath: string, opts?: UploadOptions): Promise<void>;
  download(remotePath: string, localPath: string, opts?: DownloadOptions): Promise<void>;
  /** Render a handlebars string with the host's vars; undefined variables are errors. */
  render(template: string, opts?: RenderOptions): string;
  /** Evaluate a condition (CEL) over the host's vars. */
  evaluate(expression: string, vars?: Record<string, unknown>): unknown;
  /** Resolve a controller-side path: absolute, or relative to the playbook's folder. */
  resolveLocal(path: string): string;
  /** Find a template by name: the playbook's folder, then the built-in templates/ folder. */
  resolveTemplate(path: string): string;
  /** Ask the person running runbook; throws a clear error when there is no terminal. */
  prompt(question: string, opts?: { secret?: boolean }): Promise<string>;
  /** Replace every known secret in text with a mask. */
  mask(text: string): string;
  /** A line for -v output. */
  log(message: string): void;
  /** Report transfer progress for the tree output. */
  progress(p: { bytes: number; total: number; label?: string }): void;
  /** A cache shared by all hosts for the whole run (for example local file hashes). */
  readonly runCache: Map<string, unknown>;
}

export interface ModuleExample {
  title: string;
  yaml: string;
}

export interface ModuleDef<S extends z.ZodType = z.ZodType> {
  name: string;
  description: string;
  schema: S;
  examples: ModuleExample[];
  /**
   * The argument a bare string stands for: `run: echo hi` is `run: { cmd: echo hi }`.
   */
  freeForm?: string;
  /**
   * Arguments that are shell code (run's cmd). In them each {{ value }} is
   * POSIX-quoted as it is rendered, so values can never become commands;
   * {{{ value }}} inserts trusted shell text unquoted.
   */
  shellArgs?: readonly string[];
  /**
   * Arguments naming files on the controller that must exist: `file` is
   * resolved from the playbook's folder, `template` also looks in its
   * templates/ folder and the built-in templates. Literal values are checked
   * before any host is touched.
   */
  localPaths?: Readonly<Record<string, 'file' | 'template'>>;
  /** Runs on the controller only and needs no connection (print, set_fact, assert, pause, prompt). */
  local?: boolean;
  run(ctx: ModuleContext, args: z.output<S>): Promise<ModuleResult>;
}

export function defineModule<S extends z.ZodType>(def: ModuleDef<S>): ModuleDef<S> {
  return def;
}

/** A secret argument: plain text, or a Secret from the inventory ({env: …} / {file: …}). */
export const secretArg = () => z.union([z.string(), z.instanceof(Secret)]);

/** The real value of a secret argument, for passing to a host (never for printing). */
export function reveal(value: string | Secret): string {
  return value instanceof Secret ? value.reveal() : value;
}
