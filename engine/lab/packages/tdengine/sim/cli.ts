// The simulated `taos` client: TDengine's options (-h host, -P port, -u user,
// -p<password>, -s "sql", -c config dir, -V), its banner, its `|` tables with
// a `=` rule under the header, `Query OK, N row(s) in set (…s)`,
// `Create OK, 0 row(s) affected (…s)` and `DB error: … (…s)` lines, and its
// connection failure text.

import { createInterface } from 'node:readline';
import { dnodeSettings, readCfg, readVersion, DEFAULT_CFG_DIR } from './cfg.js';
import type { SqlResult, Table } from './dnode.js';
import { call, CallError, parseEndpoint, type Message } from './rpc.js';
import { splitStatements } from '../../sim-common/statements.js';

interface Options {
  host: string | null;
  port: number | null;
  user: string;
  password: string;
  command: string | null;
  cfgDir: string;
  version: boolean;
  help: boolean;
}

const USAGE = [
  'Usage: taos [OPTION...]',
  '  -c, --config-dir=CONFIG_DIR   Configuration directory.',
  '  -h, --host=HOST               TDengine server FQDN to connect. The default host is localhost.',
  '  -P, --port=PORT               The TCP/IP port number to use for the connection.',
  '  -p, --password=PASSWORD       The password to use when connecting to the server (glued: -ptaosdata).',
  '  -s, --commands=COMMANDS       Commands to run without enter the shell.',
  '  -u, --user=USER               The user name to use when connecting to the server.',
  '  -V, --version                 Print program version.',
];

function parse(argv: string[]): Options | string {
  const o: Options = { host: null, port: null, user: 'root', password: 'taosdata', command: null, cfgDir: DEFAULT_CFG_DIR, version: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string | undefined => argv[++i];
    if (a === '-V' || a === '--version') o.version = true;
    else if (a === '--help' || a === '-?') o.help = true;
    else if (a.startsWith('-p') && !a.startsWith('-P')) {
      // TDengine takes the password glued to -p; a bare -p would prompt for it.
      if (a.length === 2) return 'the simulated taos cannot prompt for a password: give it glued to -p (-ptaosdata)';
      o.password = a.slice(2);
    } else if (['-h', '-P', '-u', '-s', '-c'].includes(a)) {
      const v = value();
      if (v === undefined) return `option requires an argument -- '${a.slice(1)}'`;
      if (a === '-h') o.host = v;
      else if (a === '-P') {
        if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 65535) return `Invalid port number: ${v}`;
        o.port = Number(v);
      } else if (a === '-u') o.user = v;
      else if (a === '-s') o.command = v;
      else o.cfgDir = v;
    } else if (/^--(host|port|user|commands|config-dir|password)=/.test(a)) {
      const [k, v = ''] = a.slice(2).split(/=(.*)/s);
      if (k === 'host') o.host = v;
      else if (k === 'port') o.port = Number(v);
      else if (k === 'user') o.user = v;
      else if (k === 'commands') o.command = v;
      else if (k === 'config-dir') o.cfgDir = v;
      else o.password = v;
    } else return `unrecognized option '${a}'`;
  }
  return o;
}

function print(line: string): void {
  process.stdout.write(line + '\n');
}

const centre = (s: string, w: number): string => {
  const left = Math.floor((w - s.length) / 2);
  return ' '.repeat(Math.max(0, left)) + s + ' '.repeat(Math.max(0, w - s.length - left));
};

/** taos's table: a centred header, a `=` rule, numbers right-aligned, text left-aligned, every cell followed by `|`. */
export function renderTable(t: Table): string[] {
  const widths = t.columns.map((c, i) => Math.max(c.name.length, ...t.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c) => ` ${c} |`).join('');
  const header = line(t.columns.map((c, i) => centre(c.name, widths[i]!)));
  const out = [header, '='.repeat(header.length)];
  for (const r of t.rows) out.push(line(t.columns.map((c, i) => (c.align === 'right' ? (r[i] ?? '').padStart(widths[i]!) : (r[i] ?? '').padEnd(widths[i]!)))));
  return out;
}

const seconds = (started: bigint): string => `${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(6)}s`;

async function runOne(host: string, port: number, o: Options, sql: string): Promise<boolean> {
  const started = process.hrtime.bigint();
  print(`taos> ${sql.endsWith(';') ? sql : `${sql};`}`);
  let r: Message;
  try {
    r = await call(host, port, { op: 'sql', sql, user: o.user, password: o.password }, 60_000);
  } catch (e) {
    print(`DB error: Unable to establish connection (${e instanceof Error ? e.message : String(e)}) (${seconds(started)})`);
    return false;
  }
  if (r.ok !== true) {
    print(`DB error: ${String(r.message ?? r.code)} (${seconds(started)})`);
    return false;
  }
  const result = r.result as unknown as SqlResult;
  if (result.kind === 'error') {
    print(`DB error: ${result.message} (${seconds(started)})`);
    return false;
  }
  if (result.kind === 'affected') {
    print(`${result.verb} OK, ${result.rows} row(s) affected (${seconds(started)})`);
    return true;
  }
  for (const l of renderTable(result.table)) print(l);
  print(`Query OK, ${result.table.rows.length} row(s) in set (${seconds(started)})`);
  print('');
  return true;
}

export async function runCli(argv: string[], home: string): Promise<number> {
  const o = parse(argv);
  if (typeof o === 'string') {
    print(`taos: ${o}`);
    print("Try `taos --help' for more information.");
    return 1;
  }
  const v = readVersion(home);
  if (o.help) {
    for (const l of USAGE) print(l);
    return 0;
  }
  if (o.version) {
    print(`version: ${v.version} (simulated by runbook, not the real product)`);
    return 0;
  }
  // Without -h/-P the client goes to firstEp of its taos.cfg, as TDengine's does.
  let host = o.host;
  let port = o.port;
  if (host === null || port === null) {
    let first: { fqdn: string; port: number } | null = null;
    try {
      const s = dnodeSettings(readCfg(o.cfgDir));
      first = parseEndpoint(s.firstEp, 6030);
      if (port === null && host !== null) port = s.serverPort;
    } catch {
      // no taos.cfg: TDengine's defaults
    }
    host ??= first?.fqdn ?? 'localhost';
    port ??= first?.port ?? 6030;
  }
  print(`Welcome to the TDengine Command Line Interface (simulated by runbook, not the real product), Client Version:${v.version}`);
  print('Copyright (c) 2023 by TDengine, all rights reserved.');
  print('');
  let login: Message;
  try {
    login = await call(host, port, { op: 'connect', user: o.user, password: o.password }, 30_000);
  } catch (e) {
    const why = e instanceof CallError && e.message === 'Unable to resolve FQDN' ? 'Unable to resolve FQDN' : 'Unable to establish connection';
    print(`failed to connect to server, reason: ${why}`);
    return 1;
  }
  if (login.ok !== true) {
    print(`failed to connect to server, reason: ${String(login.message ?? login.code)}`);
    return 1;
  }
  let failures = 0;
  if (o.command !== null) {
    for (const sql of splitStatements(o.command)) if (!(await runOne(host, port, o, sql))) failures++;
    // taos -s exits 0 after a DB error; callers read the "DB error:" line (cli-sql's TDengine dialect does).
    return 0;
  }
  const rl = createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    const t = line.trim();
    if (/^(quit|exit|q)\s*;?$/i.test(t)) break;
    for (const sql of splitStatements(t)) if (!(await runOne(host, port, o, sql))) failures++;
  }
  rl.close();
  return failures > 0 ? 1 : 0;
}
