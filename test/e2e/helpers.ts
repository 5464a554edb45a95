// What the end-to-end suites share: a per-suite scratch folder (also the
// RUNBOOK_HOME of every CLI run, so run logs go away with it; see
// test/support/scratch.ts), the simulated IoTDB package built into it,
// `runbook play` with NDJSON events, looks at a lab host over ssh, and a
// parser for IoTDB's ASCII tables.

import { connect } from 'node:net';
import { quote } from '../../engine/quote.js';
import { results, runCli, type CliResult, type TaskResultEvent } from '../support/cli.js';
import type { LabHandle } from '../support/lab.js';
import type { Scratch } from '../support/scratch.js';

export { useScratch, type Scratch } from '../support/scratch.js';

/** `runbook play <playbook> -i <inventory> -o json <args…>`. */
export function play(scratch: Scratch, playbook: string, inventory: string, args: string[] = []): Promise<CliResult> {
  return runCli(['play', playbook, '-i', inventory, '-o', 'json', ...args], { env: scratch.env });
}

/** Everything a run printed, for assertion messages. */
export function transcript(r: CliResult): string {
  const lines = results(r).map((e) => `${e.status} ${e.host} [${e.task}]: ${e.msg}`);
  const end = r.events.find((e) => e.type === 'run_end');
  return [`exit ${r.code}`, ...lines, end && 'error' in end && end.error ? end.error : '', r.stderr.trim()].filter(Boolean).join('\n');
}

/** What the failed tasks said, then stderr: for assertion messages of suites that do not print the whole run. */
export function why(r: CliResult): string {
  return results(r)
    .filter((e) => e.status === 'failed')
    .map((e) => `${e.host} / ${e.task}: ${e.msg}`)
    .concat(r.stderr)
    .join('\n');
}

/** Names of the tasks that started, in order, without repeats. */
export function startedTasks(r: CliResult): string[] {
  const names = r.events.flatMap((e) => (e.type === 'task_start' ? [e.task] : []));
  return [...new Set(names)];
}

/** The one result of `task` on `host`; fails when there is none or several. */
export function resultOf(r: CliResult, task: string, host: string): TaskResultEvent {
  const found = results(r, task).filter((e) => e.host === host);
  if (found.length !== 1) throw new Error(`expected one result of "${task}" on ${host}, got ${found.length}\n${transcript(r)}`);
  return found[0]!;
}

/** Run a shell command on a lab host; fails unless it exits 0. */
export async function onHost(lab: LabHandle, host: string, cmd: string): Promise<string> {
  const r = await lab.sshExec(host, cmd);
  if (r.code !== 0) throw new Error(`on ${host}: ${cmd}\nexit ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** Which of `paths` exist on the host. */
export async function existing(lab: LabHandle, host: string, paths: string[]): Promise<string[]> {
  if (paths.length === 0) return [];
  const out = await onHost(lab, host, `for p in ${paths.map(quote).join(' ')}; do [ -e "$p" ] && printf '%s\\n' "$p"; done; true`);
  return out.split('\n').filter(Boolean);
}

/** Pids of processes on the host whose command line matches the extended regex. */
export async function pids(lab: LabHandle, host: string, pattern: string): Promise<number[]> {
  // The pattern comes on stdin: in the command line, the shell running pgrep would match it.
  const r = await lab.sshExec(host, 'read -r p; pgrep -f -- "$p"; [ $? -le 1 ]', { input: `${pattern}\n` });
  if (r.code !== 0) throw new Error(`pgrep on ${host} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

/** For each extended regex, whether some process on the host matches it (one ssh session for all). */
export async function anyMatch(lab: LabHandle, host: string, patterns: string[]): Promise<boolean[]> {
  if (patterns.length === 0) return [];
  const r = await lab.sshExec(host, 'while read -r p; do if pgrep -f -- "$p" >/dev/null; then echo yes; else echo no; fi; done', {
    input: patterns.map((p) => `${p}\n`).join(''),
  });
  const answers = r.stdout.split('\n').filter(Boolean);
  if (r.code !== 0 || answers.length !== patterns.length) throw new Error(`pgrep on ${host} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return answers.map((a) => a === 'yes');
}

/** sha256 of a file on the host. */
export async function sha256On(lab: LabHandle, host: string, path: string): Promise<string> {
  return (await onHost(lab, host, `sha256sum ${quote(path)}`)).split(' ')[0]!;
}

export { waitFor } from '../support/wait.js';

/** Connect to address:port and return what the server says before closing (the echo daemon's banner). */
export function readBanner(address: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address, port });
    let got = '';
    socket.setTimeout(5000, () => socket.destroy(new Error(`no answer from ${address}:${port}`)));
    socket.on('data', (c: Buffer) => (got += c.toString('utf8')));
    socket.on('end', () => resolve(got));
    socket.on('error', reject);
  });
}

/** Whether something accepts connections on address:port, seen from the controller. */
export function portOpen(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port });
    socket.setTimeout(3000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/**
 * Rows of an IoTDB CLI table (`+---+` borders, `|` separated, header first),
 * as the print task shows it. Everything outside the table is ignored.
 */
export function parseIotdbTable(text: string): Array<Record<string, string>> {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('|'));
  const cells = (l: string) => l.slice(1, l.endsWith('|') ? -1 : undefined).split('|').map((c) => c.trim());
  const [head, ...body] = lines;
  if (head === undefined) throw new Error(`no table in:\n${text}`);
  const columns = cells(head);
  return body.map((l) => {
    const row = cells(l);
    if (row.length !== columns.length) throw new Error(`row has ${row.length} cells, header ${columns.length}: ${l}`);
    return Object.fromEntries(columns.map((c, i) => [c, row[i]!]));
  });
}
