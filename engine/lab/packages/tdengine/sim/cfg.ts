// taos.cfg as TDengine reads it: one `name value` per line, `#` starts a
// comment, names are case-insensitive, the last occurrence wins. Only the
// parameters the simulator acts on get a typed view; the rest are kept as text.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

/** The deployment document's table: a dnode whose values differ cannot join. */
export const MUST_MATCH = ['statusInterval', 'timezone', 'locale', 'charset', 'ttlChangeOnWrite'] as const;
export type MustMatch = Record<(typeof MUST_MATCH)[number], string>;

export const DEFAULT_PORT = 6030;
export const DEFAULT_CFG_DIR = '/etc/taos';

export interface TaosCfg {
  file: string;
  /** Lower-cased name → value, as written. */
  raw: Map<string, string>;
  get(name: string): string | undefined;
}

export function readCfg(cfgDir: string): TaosCfg {
  const file = join(resolve(cfgDir), 'taos.cfg');
  if (!existsSync(file)) throw new Error(`failed to read config file ${file}: no such file; give the folder holding taos.cfg with -c`);
  const raw = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split(/\r?\n/)) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const m = /^(\S+)\s*(.*)$/.exec(t);
    if (!m) continue;
    raw.set(m[1]!.toLowerCase(), m[2]!.replace(/\s+#.*$/, '').trim());
  }
  return { file, raw, get: (name) => raw.get(name.toLowerCase()) };
}

/** What a dnode or client takes from taos.cfg, with TDengine's defaults. */
export interface DnodeSettings {
  fqdn: string;
  serverPort: number;
  firstEp: string;
  secondEp: string | null;
  dataDir: string;
  logDir: string;
  /** Seconds between status reports to the mnode. */
  statusInterval: number;
  supportVnodes: number;
  mustMatch: MustMatch;
}

function intSetting(cfg: TaosCfg, name: string, dflt: number, min: number, max: number): number {
  const v = cfg.get(name);
  if (v === undefined || v === '') return dflt;
  if (!/^-?\d+$/.test(v)) throw new Error(`invalid config ${name}: "${v}" is not an integer (${cfg.file})`);
  const n = Number(v);
  if (n < min || n > max) throw new Error(`invalid config ${name}: ${n} is out of range [${min}, ${max}] (${cfg.file})`);
  return n;
}

/**
 * The machine's FQDN as TDengine finds it: the hostname's canonical name from
 * the resolver (what `hostname -f` prints), else the bare hostname.
 */
export function machineFqdn(): string {
  try {
    const name = execFileSync('hostname', ['-f'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
    if (name !== '') return name;
  } catch {
    // no hostname program, or the name does not resolve
  }
  return hostname();
}

export function dnodeSettings(cfg: TaosCfg): DnodeSettings {
  // TDengine's defaults: fqdn is the machine's FQDN; firstEp is this machine's FQDN at the default port.
  const local = cfg.get('fqdn') && cfg.get('firstEp') ? '' : machineFqdn();
  const fqdn = cfg.get('fqdn') || local;
  const serverPort = intSetting(cfg, 'serverPort', DEFAULT_PORT, 1, 65535);
  const statusInterval = intSetting(cfg, 'statusInterval', 1, 1, 30);
  return {
    fqdn,
    serverPort,
    firstEp: cfg.get('firstEp') || `${local}:${DEFAULT_PORT}`,
    secondEp: cfg.get('secondEp') || null,
    dataDir: resolve(cfg.get('dataDir')?.split(/\s+/)[0] || '/var/lib/taos'),
    logDir: resolve(cfg.get('logDir') || '/var/log/taos'),
    statusInterval,
    supportVnodes: intSetting(cfg, 'supportVnodes', 16, 0, 4096),
    mustMatch: {
      statusInterval: String(statusInterval),
      timezone: cfg.get('timezone') ?? '',
      locale: cfg.get('locale') ?? '',
      charset: cfg.get('charset') ?? '',
      ttlChangeOnWrite: cfg.get('ttlChangeOnWrite') ?? '0',
    },
  };
}

export interface VersionInfo {
  version: string;
  buildInfo: string;
}

/** The version the simulated programs report, from <home>/sim-version.txt. */
export function readVersion(home: string): VersionInfo {
  const info: VersionInfo = { version: '3.3.2.0', buildInfo: 'simulated' };
  try {
    for (const line of readFileSync(join(home, 'sim-version.txt'), 'utf8').split('\n')) {
      const m = /^(version|build_info)=(.*)$/.exec(line.trim());
      if (m?.[1] === 'version') info.version = m[2]!.trim();
      if (m?.[1] === 'build_info') info.buildInfo = m[2]!.trim();
    }
  } catch {
    // defaults
  }
  return info;
}

export const SIMULATED_NOTICE = 'simulated by runbook: a test double of TDengine, not the real product';
