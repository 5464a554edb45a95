// The real runbook CLI on a pseudo-terminal, as in a user's shell: stdin,
// stdout and stderr are one terminal (process.stdin.isTTY is true), made by
// util-linux `script` (installed by bin/install-system-deps). Tests type into
// it only after what they wait for has appeared on it.

import { spawn } from 'node:child_process';
import { quote } from '../../engine/quote.js';
import { RUNBOOK } from './cli.js';
import { waitFor } from '../e2e/helpers.js';

export interface TtyRun {
  /** Everything the terminal showed so far (stdout and stderr share it, as in a shell). */
  readonly screen: string;
  /** Type into the terminal. */
  type(text: string): void;
  /** Wait until the terminal shows `what`. */
  shows(what: string | RegExp): Promise<void>;
  exited: Promise<{ code: number | null; screen: string }>;
}

/**
 * `runbook <args>` on a pseudo-terminal of its own (util-linux `script`), with
 * `env` added to this process's environment. The terminal reports no width
 * unless `columns` gives one (as a terminal window does).
 */
export function onTerminal(args: string[], env: Record<string, string> = {}, opts: { columns?: number } = {}): TtyRun {
  const runbook = [process.execPath, RUNBOOK, ...args].map(quote).join(' ');
  const command = opts.columns !== undefined ? `stty cols ${opts.columns} rows 50 && exec ${runbook}` : runbook;
  // -q no banner, -f flush at once, -e the command's exit code, -c the command; the typescript goes nowhere.
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    env: { ...process.env, ...env, NO_COLOR: '1', TERM: 'dumb' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let screen = '';
  const add = (c: Buffer) => (screen += c.toString('utf8'));
  child.stdout.on('data', add);
  child.stderr.on('data', add);
  const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const exited = new Promise<{ code: number | null; screen: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, screen: screen.replace(/\r/g, '') });
    });
  });
  let done = false;
  void exited.then(() => (done = true));
  return {
    get screen() {
      return screen;
    },
    type(text: string) {
      child.stdin.write(text);
    },
    async shows(what: string | RegExp) {
      await waitFor(
        `the terminal to show ${String(what)}`,
        async () => {
          const text = screen.replace(/\r/g, '');
          if (typeof what === 'string' ? text.includes(what) : what.test(text)) return true;
          if (done) throw new Error(`runbook exited first; the terminal showed:\n${text}`);
          return false;
        },
        60_000,
      );
    },
    exited,
  };
}

