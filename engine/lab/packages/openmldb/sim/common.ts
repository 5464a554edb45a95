// Plumbing shared by every part of the simulated OpenMLDB: gflags-style flag
// files (conf/tablet.flags …), Java properties (conf/taskmanager.properties),
// glog-shaped log lines, and the two table formats OpenMLDB's clients print.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { appendLine, clock } from '../../sim-common/log.js';

export { errorMessage } from '../../sim-common/main.js';

export const SIMULATED_NOTICE = 'SIMULATED OpenMLDB (runbook test double), not OpenMLDB';

export type ServerRole = 'tablet' | 'nameserver' | 'taskmanager' | 'apiserver';
export const SERVER_ROLES: readonly ServerRole[] = ['tablet', 'nameserver', 'taskmanager', 'apiserver'];

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Flags as gflags reads them: `--name=value` or `--name value`-less booleans,
 * one per line in a flag file, `#` comments. Later wins, and the command line
 * wins over --flagfile, as in gflags.
 */
export function parseFlagLines(lines: string[], into: Map<string, string> = new Map()): Map<string, string> {
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^--?([A-Za-z0-9_]+)(?:=(.*))?$/.exec(line);
    if (!m) continue;
    into.set(m[1]!, m[2] ?? 'true');
  }
  return into;
}

export function readFlagFile(path: string, into?: Map<string, string>): Map<string, string> {
  return parseFlagLines(readFileSync(path, 'utf8').split(/\r?\n/), into);
}

/** Command-line flags, after those of --flagfile (paths relative to `cwd`). */
export function flagsFromArgv(argv: string[], cwd: string): Map<string, string> {
  const cli = parseFlagLines(argv.filter((a) => a.startsWith('-')));
  const out = new Map<string, string>();
  const file = cli.get('flagfile');
  if (file !== undefined) readFlagFile(isAbsolute(file) ? file : resolve(cwd, file), out);
  for (const [k, v] of cli) out.set(k, v);
  return out;
}

export function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const m = /^([^=:\s]+)\s*[=:]\s*(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!.trim());
  }
  return out;
}

/** "2023-09-01 11:36:58", the Connect_time format of `show components`. */
export function dateTime(ms: number): string {
  const c = clock(new Date(ms));
  return `${c.year}-${c.month}-${c.day} ${c.hour}:${c.minute}:${c.second}`;
}

/** An age as the ns_client prints it: 3h, 12m, 40s, 2d. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/**
 * glog-shaped lines (`I0901 11:36:58.123456  4242 tablet.cc:1] message`) in
 * `<log_dir>/<role>.info.log`, plus `.warning.log` / `.error.log` for worse,
 * written synchronously so the last line before an exit is on disk.
 */
export class ServerLog {
  readonly file: string;

  constructor(
    logDir: string,
    private readonly role: string,
  ) {
    mkdirSync(logDir, { recursive: true });
    this.file = join(logDir, `${role}.info.log`);
  }

  private write(level: 'I' | 'W' | 'E', msg: string): void {
    const c = clock();
    const head = `${level}${c.month}${c.day} ${c.hour}:${c.minute}:${c.second}.${c.milli}000 ${String(process.pid).padStart(6)} ${this.role}.cc:1] `;
    const line = `${head}${msg}\n`;
    const worse = level === 'I' ? [] : [this.file.replace(/\.info\.log$/, level === 'W' ? '.warning.log' : '.error.log')];
    // a full or vanished log folder must not take the server down
    appendLine([this.file, ...worse], line);
  }

  info(msg: string): void {
    this.write('I', msg);
  }

  warn(msg: string): void {
    this.write('W', msg);
  }

  error(msg: string): void {
    this.write('E', msg);
  }
}

/** A folder relative to the component's home (flags say `./logs`, `./db`). */
export function homePath(home: string, p: string): string {
  return isAbsolute(p) ? p : resolve(home, p);
}

export function readTextIfExists(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

export function ensureDir(path: string): void {
  mkdirSync(dirname(path), { recursive: true });
}

// ---------------------------------------------------------------------------
// Output tables.

/**
 * sql_client tables, as in OpenMLDB's `show components` (see its doc): a rule
 * of dash runs with one space before each, the header, the rule, the rows,
 * the rule, a blank line and `N rows in set`. Each column is as wide as its
 * widest cell plus two spaces of padding.
 */
export function dashedTable(columns: string[], rows: string[][]): string {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
  const rule = ' ' + widths.map((w) => '-'.repeat(w + 2)).join(' ');
  const line = (cells: string[]): string => (' ' + cells.map((c, i) => ` ${c.padEnd(widths[i]!)} `).join(' ')).replace(/\s+$/, '');
  const n = rows.length;
  return [rule, line(columns), rule, ...rows.map(line), rule, '', `${n} ${n === 1 ? 'row' : 'rows'} in set`, ''].join('\n');
}

/** ns_client tables (`showtablet`, `showopstatus`, `confget`): the header, one unbroken dash line, the rows. */
export function headerRuleTable(columns: string[], rows: string[][]): string {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)) + 2);
  const line = (cells: string[]): string => '  ' + cells.map((c, i) => c.padEnd(widths[i]!)).join('').replace(/\s+$/, '');
  const total = 2 + widths.reduce((a, b) => a + b, 0);
  return [line(columns), '-'.repeat(total), ...rows.map(line), ''].join('\n');
}
