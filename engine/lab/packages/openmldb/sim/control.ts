// What bin/start.sh and sbin/start-all.sh / stop-all.sh do.
//
// `bash bin/start.sh start <role>` prints "Starting <role> ..." and, once the
// server has registered, "Start <role> success" (or "Start <role> failed"
// with the server's reason, exit 1), as the OpenMLDB document shows. The
// server runs detached; its pid is in bin/<role>.pid. `stop` sends TERM and
// waits until the process is gone.
//
// The one-click scripts read conf/hosts (role sections, `host:port [dir]`
// per line) and run bin/start.sh in each component's folder: here when the
// host is this machine, otherwise over ssh (which needs password-less ssh
// between the machines, as OpenMLDB's one-click deployment does).

import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join, resolve } from 'node:path';
import { delay, errorMessage, readTextIfExists, SERVER_ROLES, type ServerRole } from './common.js';
import { confFileOf, ConfigError, loadServerConfig } from './config.js';

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

export function pidFileOf(home: string, role: ServerRole): string {
  return join(home, 'bin', `${role}.pid`);
}

function processArgs(pid: number): string[] | null {
  try {
    if (/\)\s+Z\s/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) return null;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return null;
  }
}

/** True when `pid` is this home's simulated server of `role` (a recycled pid is not). */
function isOurServer(pid: number, role: ServerRole, home: string): boolean {
  const args = processArgs(pid);
  if (!args) return false;
  const main = args.find((a) => a.endsWith('/openmldb-sim/main.js'));
  if (!main || !args.includes(`--role=${role}`)) return false;
  return resolve(main, '../../..') === resolve(home);
}

function runningPid(home: string, role: ServerRole): number | null {
  const text = readTextIfExists(pidFileOf(home, role));
  const pid = Number(text?.trim());
  return Number.isInteger(pid) && pid > 0 && isOurServer(pid, role, home) ? pid : null;
}

/** The first error the server gave for this start, from its stderr file. */
function failureReason(outFile: string, from: number): string {
  const text = (readTextIfExists(outFile) ?? '').slice(from).trim();
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines.at(-1) ?? 'the server exited without saying why';
}

export async function startRole(home: string, role: ServerRole, mainPath: string): Promise<number> {
  say(`Starting ${role} ... `);
  const conf = confFileOf(home, role);
  if (!existsSync(conf)) {
    say(`Start ${role} failed: ${conf} does not exist`);
    return 1;
  }
  const running = runningPid(home, role);
  if (running !== null) {
    say(`${role} already running as process ${running}.`);
    return 0;
  }
  let logDir: string;
  try {
    logDir = loadServerConfig(role, home, role === 'taskmanager' ? [] : [`--flagfile=${conf}`]).logDir;
  } catch (e) {
    say(`Start ${role} failed: ${e instanceof ConfigError ? e.message : errorMessage(e)}`);
    return 1;
  }
  const outFile = join(logDir, `${role}.out`);
  const logFile = join(logDir, `${role}.info.log`);
  const outFrom = existsSync(outFile) ? statSync(outFile).size : 0;
  const logFrom = existsSync(logFile) ? statSync(logFile).size : 0;
  const args = [mainPath, `--role=${role}`];
  if (role !== 'taskmanager') args.push(`--flagfile=./conf/${role}.flags`);
  const fd = openSync(outFile, 'a');
  const child = spawn(process.execPath, args, { cwd: home, detached: true, stdio: ['ignore', fd, fd], env: process.env });
  closeSync(fd);
  if (child.pid === undefined) {
    say(`Start ${role} failed: cannot run ${process.execPath}`);
    return 1;
  }
  const pid = child.pid;
  writeFileSync(pidFileOf(home, role), `${pid}\n`);
  let exited = false;
  child.on('exit', () => (exited = true));
  child.unref();
  const ready = `start ${role} success, endpoint `;
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const log = (readTextIfExists(logFile) ?? '').slice(logFrom);
    if (log.split('\n').some((l) => l.includes(ready) && l.endsWith(`pid ${pid}`))) {
      say(`Start ${role} success`);
      return 0;
    }
    if (exited || processArgs(pid) === null) {
      try {
        unlinkSync(pidFileOf(home, role));
      } catch {
        // already gone
      }
      say(`Start ${role} failed: ${failureReason(outFile, outFrom)}`);
      return 1;
    }
    await delay(100);
  }
  process.kill(pid, 'SIGKILL');
  say(`Start ${role} failed: not ready within ${START_TIMEOUT_MS / 1000} s, see ${logFile}`);
  return 1;
}

export async function stopRole(home: string, role: ServerRole): Promise<number> {
  say(`Stopping ${role} ... `);
  const pid = runningPid(home, role);
  if (pid === null) {
    say(`no ${role} to stop (no running process in ${pidFileOf(home, role)})`);
    return 0;
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (processArgs(pid) === null) {
      try {
        unlinkSync(pidFileOf(home, role));
      } catch {
        // already gone
      }
      say(`Stop ${role} success`);
      return 0;
    }
    await delay(50);
  }
  say(`Stop ${role} failed: process ${pid} still runs ${STOP_TIMEOUT_MS / 1000} s after SIGTERM`);
  return 1;
}

// ---------------------------------------------------------------------------
// One-click: sbin/start-all.sh and sbin/stop-all.sh

export interface HostsEntry {
  role: ServerRole | 'zookeeper';
  host: string;
  port: number;
  dir: string | undefined;
  line: number;
}

/** conf/hosts: `[role]` sections with `host:port [dir]` lines (zookeeper: `host:port:peer:election [dir]`). */
export function parseHostsFile(text: string): { entries: HostsEntry[]; problems: string[] } {
  const entries: HostsEntry[] = [];
  const problems: string[] = [];
  let role: HostsEntry['role'] | null = null;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const sec = /^\[(\w+)\]$/.exec(line);
    if (sec) {
      const name = sec[1]!;
      if (name === 'zookeeper' || (SERVER_ROLES as readonly string[]).includes(name)) role = name as HostsEntry['role'];
      else {
        role = null;
        problems.push(`line ${i + 1}: unknown section [${name}]`);
      }
      return;
    }
    if (role === null) {
      problems.push(`line ${i + 1}: "${line}" is outside a known [section]`);
      return;
    }
    const [addr, dir, extra] = line.split(/\s+/);
    const parts = addr!.split(':');
    const port = Number(parts[1]);
    if (parts.length < 2 || parts[0] === '' || !Number.isInteger(port) || extra !== undefined) {
      problems.push(`line ${i + 1}: "${line}" is not host:port [dir]`);
      return;
    }
    entries.push({ role, host: parts[0]!, port, dir, line: i + 1 });
  });
  return { entries, problems };
}

function envFile(home: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of (readTextIfExists(join(home, 'conf', 'openmldb-env.sh')) ?? '').split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Z_][A-Z0-9_]*)=(?:"([^"]*)"|'([^']*)'|(\S*))/.exec(raw);
    if (m) out.set(m[1]!, m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

function localAddresses(): Set<string> {
  const set = new Set<string>(['localhost', hostname()]);
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) set.add(a.address);
  return set;
}

function isLocal(host: string, local: Set<string>): boolean {
  return local.has(host) || host.startsWith('127.');
}

function runStep(cmd: string, args: string[], cwd: string | undefined): Promise<number> {
  return new Promise((res) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', (e) => {
      say(`cannot run ${cmd}: ${e.message}`);
      res(127);
    });
    child.on('exit', (code) => res(code ?? 1));
  });
}

const START_ORDER: ServerRole[] = ['tablet', 'nameserver', 'taskmanager', 'apiserver'];

export async function clusterAll(home: string, action: 'start' | 'stop'): Promise<number> {
  const hostsFile = join(home, 'conf', 'hosts');
  const text = readTextIfExists(hostsFile);
  if (text === undefined) {
    say(`${hostsFile} does not exist: the one-click scripts need it`);
    return 1;
  }
  const { entries, problems } = parseHostsFile(text);
  if (problems.length > 0) {
    for (const p of problems) say(`${hostsFile} ${p}`);
    return 1;
  }
  const env = envFile(home);
  if (entries.some((e) => e.role === 'zookeeper') && env.get('OPENMLDB_USE_EXISTING_ZK_CLUSTER') !== 'true') {
    say('conf/hosts lists [zookeeper] servers and OPENMLDB_USE_EXISTING_ZK_CLUSTER is not true: the simulated package does not run ZooKeeper; run it yourself and set OPENMLDB_USE_EXISTING_ZK_CLUSTER=true in conf/openmldb-env.sh');
    return 1;
  }
  const local = localAddresses();
  let failures = 0;
  for (const role of START_ORDER) {
    for (const e of entries.filter((x) => x.role === role)) {
      const dir = e.dir ?? (env.get('OPENMLDB_HOME') || home);
      say(`${action} ${role} in ${e.host}:${e.port} with dir ${dir}`);
      const code = isLocal(e.host, local)
        ? await runStep('bash', [join(dir, 'bin', 'start.sh'), action, role], dir)
        : await runStep('ssh', ['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', e.host, `cd '${dir.replace(/'/g, `'\\''`)}' && bash bin/start.sh ${action} ${role}`], undefined);
      if (code !== 0) failures++;
    }
  }
  if (failures > 0) say(`${action}-all: ${failures} component(s) failed`);
  return failures > 0 ? 1 : 0;
}

/** The pid a role's pid file names if it still runs; for tests and `status`. */
export function statusOf(home: string, role: ServerRole): string {
  const pid = runningPid(home, role);
  return pid === null ? `${role} is not running` : `${role} is running as process ${pid}`;
}
