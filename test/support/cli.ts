// Runs the real `runbook` CLI (compiled, from dist/) as a subprocess, the way a
// user does, and parses the NDJSON event stream when --output json is used.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { RunEvent } from '../../engine/events.js';
import { packageRoot } from '../../engine/paths.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Parsed NDJSON events (only with --output json). */
  events: RunEvent[];
}

export const RUNBOOK = join(packageRoot, 'bin', 'runbook');

export function runCli(args: string[], opts: { env?: Record<string, string>; cwd?: string; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUNBOOK, ...args], {
      cwd: opts.cwd ?? packageRoot,
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`runbook ${args.join(' ')} did not finish within ${opts.timeoutMs ?? 240_000} ms`));
    }, opts.timeoutMs ?? 240_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString();
      const events: RunEvent[] = [];
      if (args.includes('json')) {
        for (const line of stdout.split('\n')) {
          if (line.startsWith('{')) events.push(JSON.parse(line) as RunEvent);
        }
      }
      resolve({ code, stdout, stderr: Buffer.concat(err).toString(), events });
    });
    child.stdin.end(opts.input ?? '');
  });
}

export type TaskResultEvent = Extract<RunEvent, { type: 'task_result' }>;

export function results(r: CliResult, task?: string): TaskResultEvent[] {
  return r.events.filter((e): e is TaskResultEvent => e.type === 'task_result' && (task === undefined || e.task === task));
}

/** Per-status totals over all hosts, from the recap event. */
export function totals(r: CliResult): Record<string, number> {
  const recap = r.events.find((e) => e.type === 'recap') as Extract<RunEvent, { type: 'recap' }> | undefined;
  if (!recap) throw new Error(`no recap in the output:\n${r.stdout}\n${r.stderr}`);
  const t: Record<string, number> = { ok: 0, changed: 0, skipped: 0, failed: 0, unreachable: 0, ignored: 0 };
  for (const c of Object.values(recap.hosts)) for (const [k, v] of Object.entries(c)) t[k] = (t[k] ?? 0) + v;
  return t;
}
