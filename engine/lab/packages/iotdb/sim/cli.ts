// The simulated `start-cli.sh`: IoTDB's CLI options, its boxed result tables
// (every cell right-aligned, as in the document's `show cluster details`
// sample), `Total line number = N`, `It costs …s`, and its error texts.

import { createInterface } from 'node:readline';
import { call, CallError, type Message } from './rpc.js';
import type { StatementResult } from './statements.js';
import { splitStatements } from '../../sim-common/statements.js';

export function renderTable(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const rule = '+' + widths.map((w) => '-'.repeat(w)).join('+') + '+';
  const line = (cells: string[]): string => '|' + widths.map((w, i) => (cells[i] ?? '').padStart(w)).join('|') + '|';
  const out = [rule, line(headers), rule];
  for (const r of rows) out.push(line(r));
  out.push(rule);
  return out;
}

const USAGE = [
  'usage: start-cli.sh [-h <host>] [-p <port>] [-u <username>] [-pw <password>] [-e <execute>] [-maxPRC <maxPrintRowCount>] [-disableISO8601] [-c] [-help]',
  ' -h <host>              Host Name (optional, default 127.0.0.1)',
  ' -p <port>              Port (optional, default 6667)',
  ' -u <username>          User name (optional, default root)',
  ' -pw <password>         Password (optional, default root)',
  ' -e <execute>           Execute statement(s), separated by ";" (optional)',
];

interface CliOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  execute: string | null;
}

const WITH_VALUE = new Set(['-h', '-p', '-u', '-pw', '-e', '-maxPRC', '-timeout', '-sql_dialect', '-ts', '-tpw']);
const FLAGS = new Set(['-disableISO8601', '-c', '-usessl']);

function parseArgs(argv: string[]): CliOptions | string {
  const o: CliOptions = { host: '127.0.0.1', port: 6667, user: 'root', password: 'root', execute: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-help' || a === '--help') return 'help';
    if (FLAGS.has(a)) continue;
    if (!WITH_VALUE.has(a)) return `Unrecognized option: ${a}`;
    const v = argv[++i];
    if (v === undefined) return `Missing argument for option: ${a.slice(1)}`;
    if (a === '-h') o.host = v;
    else if (a === '-p') {
      if (!/^\d+$/.test(v)) return `Invalid port: ${v}`;
      o.port = Number(v);
    } else if (a === '-u') o.user = v;
    else if (a === '-pw') o.password = v;
    else if (a === '-e') o.execute = v;
  }
  return o;
}


function print(line: string): void {
  process.stdout.write(line + '\n');
}

async function runStatement(o: CliOptions, sessionId: string, sql: string): Promise<boolean> {
  const started = process.hrtime.bigint();
  let resp: Message;
  try {
    resp = await call(o.host, o.port, { op: 'execute', sessionId, sql }, 60_000);
  } catch (e) {
    print(`Error: Fail to reconnect to server. Please check server status.${o.host}:${o.port} (${e instanceof Error ? e.message : String(e)})`);
    return false;
  }
  const cost = (Number(process.hrtime.bigint() - started) / 1e9).toFixed(3);
  if (resp.ok !== true) {
    print(`Msg: ${String(resp.status ?? 500)}: ${String(resp.message ?? resp.code)}`);
    return false;
  }
  const result = resp.result as unknown as StatementResult;
  if (result.kind === 'error') {
    print(`Msg: ${result.code}: ${result.message}`);
    return false;
  }
  if (result.kind === 'ok') {
    print('Msg: The statement is executed successfully.');
    return true;
  }
  for (const l of renderTable(result.headers, result.rows)) print(l);
  if (result.rows.length === 0) print('Empty set.');
  else print(`Total line number = ${result.rows.length}`);
  print(`It costs ${cost}s`);
  return true;
}

export async function runCli(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv);
  if (parsed === 'help') {
    for (const l of USAGE) print(l);
    return 0;
  }
  if (typeof parsed === 'string') {
    print(parsed);
    for (const l of USAGE) print(l);
    return 1;
  }
  const o = parsed;
  let login: Message;
  try {
    login = await call(o.host, o.port, { op: 'login', user: o.user, password: o.password }, 30_000);
  } catch (e) {
    const why = e instanceof CallError && e.unreachable ? '' : ` (${e instanceof Error ? e.message : String(e)})`;
    print(`Error: Connection Error, please check whether the network is available or the server has started. Host is ${o.host}, port is ${o.port}.${why}`);
    return 1;
  }
  if (login.ok !== true) {
    print(`Error: ${String(login.status ?? 500)}: ${String(login.message ?? login.code)} Host is ${o.host}, port is ${o.port}.`);
    return 1;
  }
  const sessionId = String(login.sessionId);
  let failures = 0;
  try {
    if (o.execute !== null) {
      for (const sql of splitStatements(o.execute)) if (!(await runStatement(o, sessionId, sql))) failures++;
      return failures > 0 ? 1 : 0;
    }
    const interactive = process.stdin.isTTY === true;
    if (interactive) {
      print(`IoTDB CLI — ${String(login.version)} (Build: ${String(login.buildInfo)}), simulated by runbook, not the real product`);
      print(`Successfully login at ${o.host}:${o.port}`);
    }
    const rl = createInterface({ input: process.stdin, terminal: interactive, ...(interactive ? { prompt: 'IoTDB> ' } : {}) });
    if (interactive) rl.prompt();
    for await (const line of rl) {
      const t = line.trim();
      if (/^(quit|exit)\s*;?$/i.test(t)) break;
      for (const sql of splitStatements(t)) if (!(await runStatement(o, sessionId, sql))) failures++;
      if (interactive) rl.prompt();
    }
    rl.close();
    return interactive ? 0 : failures > 0 ? 1 : 0;
  } finally {
    await call(o.host, o.port, { op: 'logout', sessionId }, 2000).catch(() => undefined);
  }
}
