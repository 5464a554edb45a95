// Builds the ModuleContext a module runs with: the only door from a module to
// its host, the templating and expression engines, and the run's services.

import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { HostInfo, ModuleContext } from './api.js';
import type { Connection, ExecOptions } from './connection/types.js';
import { RunbookError } from './errors.js';
import { evaluate } from './expr.js';
import { builtinTemplatesDir } from './paths.js';
import { secretMasker } from './secret.js';
import { renderString } from './template.js';

export type ContextEvent =
  | { type: 'log'; host: string; message: string }
  | { type: 'progress'; host: string; bytes: number; total: number; label?: string | undefined };

export type Prompter = (question: string, opts: { secret: boolean }) => Promise<string>;

export interface ContextOptions {
  host: HostInfo;
  vars: Record<string, unknown>;
  /** Undefined for controller-only modules. */
  conn?: Connection | undefined;
  check?: boolean | undefined;
  diff?: boolean | undefined;
  signal?: AbortSignal | undefined;
  become?: boolean | undefined;
  timeoutMs?: number | undefined;
  /** The folder of the playbook that holds the task; relative local paths start here. */
  baseDir?: string | undefined;
  templatesDir?: string | undefined;
  onEvent?: ((e: ContextEvent) => void) | undefined;
  prompter?: Prompter | undefined;
  runCache?: Map<string, unknown> | undefined;
}

/**
 * Transfer progress is passed on at most every PROGRESS_INTERVAL_MS, or when
 * another PROGRESS_STEP of the transfer is done, whichever comes first; the
 * first and last reports always. Modules report every chunk they send (400
 * times for 100 MB), and each event is a line of NDJSON on stdout: on the
 * bench's cold 30-host run that was 12,000 lines the user never needed.
 */
const PROGRESS_INTERVAL_MS = 100;
const PROGRESS_STEP = 0.05;

export function createModuleContext(o: ContextOptions): ModuleContext {
  const baseDir = o.baseDir ?? process.cwd();
  /** The last progress passed on, per transfer label. */
  const lastProgress = new Map<string | undefined, { at: number; bytes: number }>();
  const signal = o.signal ?? new AbortController().signal;
  const conn = (): Connection => {
    if (!o.conn) throw new RunbookError(`this module runs on the controller and has no connection to ${o.host.name}`);
    return o.conn;
  };
  const withDefaults = (opts: ExecOptions = {}): ExecOptions => ({
    ...opts,
    become: opts.become ?? o.become,
    timeoutMs: opts.timeoutMs ?? o.timeoutMs,
    signal: opts.signal ?? signal,
  });

  return {
    host: o.host,
    vars: o.vars,
    check: o.check ?? false,
    diff: o.diff ?? false,
    signal,
    become: o.become ?? false,
    exec: (command, opts) => conn().exec(command, withDefaults(opts)),
    upload: (source, remotePath, opts) => conn().upload(source, remotePath, { ...opts, signal: opts?.signal ?? signal }),
    download: (remotePath, localPath, opts) => conn().download(remotePath, localPath, { ...opts, signal: opts?.signal ?? signal }),
    render: (template, opts = {}) =>
      renderString(template, opts.vars ? { ...o.vars, ...opts.vars } : o.vars, {
        source: opts.source,
        revealSecrets: opts.revealSecrets,
      }),
    evaluate: (expression, vars) => evaluate(expression, vars ? { ...o.vars, ...vars } : o.vars),
    resolveLocal: (path) => (isAbsolute(path) ? path : resolve(baseDir, path)),
    resolveTemplate: (path) => {
      if (isAbsolute(path)) return path;
      const candidates = [resolve(baseDir, path), resolve(baseDir, 'templates', path), join(o.templatesDir ?? builtinTemplatesDir, path)];
      return candidates.find((c) => existsSync(c)) ?? candidates[0]!;
    },
    prompt: async (question, opts = {}) => {
      if (!o.prompter) {
        throw new RunbookError(`cannot ask "${question}": no terminal to ask on`, {
          hint: 'pass the answer with -e NAME=value (see the task\'s `var` argument)',
        });
      }
      // An interrupt must not wait for an answer nobody will give, nor ask after it.
      if (signal.aborted) throw signal.reason as Error;
      return untilAborted(o.prompter(question, { secret: opts.secret ?? false }), signal);
    },
    mask: (text) => secretMasker.mask(text),
    log: (message) => o.onEvent?.({ type: 'log', host: o.host.name, message: secretMasker.mask(message) }),
    progress: (p) => {
      const now = performance.now();
      const last = lastProgress.get(p.label);
      const due = last === undefined || p.bytes >= p.total || p.bytes < last.bytes || now - last.at >= PROGRESS_INTERVAL_MS || p.bytes - last.bytes >= p.total * PROGRESS_STEP;
      if (!due) return;
      lastProgress.set(p.label, { at: now, bytes: p.bytes });
      o.onEvent?.({ type: 'progress', host: o.host.name, ...p });
    },
    runCache: o.runCache ?? new Map(),
  };
}

/** `work`'s outcome, or a rejection with the signal's reason as soon as it aborts. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}
