// What runbook knows about TDengine's taos.cfg and its processes, from the
// cluster deployment document (shared/product-docs/002_*.txt): which keys
// describe the dnode itself, which must be identical on every dnode for it
// to join, the documented defaults, and how a dnode's process is recognised.

import { escapeRegex } from '../paths.js';

/** The document's table of parameters that must match across the cluster, with TDengine's defaults. */
export const MUST_MATCH: Readonly<Record<string, string>> = {
  statusInterval: '1',
  timezone: '',
  locale: '',
  charset: '',
  ttlChangeOnWrite: '0',
};

/**
 * Keys runbook writes from the topology itself (a dnode's identity and
 * folders): they are topology fields, never free taos.cfg entries, so that
 * one place says what a dnode is.
 */
export const MANAGED_KEYS: Readonly<Record<string, string>> = {
  firstEp: 'cluster.first_ep',
  fqdn: 'the dnode\'s fqdn',
  serverPort: 'the dnode\'s serverPort',
  dataDir: 'the dnode\'s dataDir',
  logDir: 'the dnode\'s logDir',
};

export const DEFAULT_SERVER_PORT = 6030;
export const DEFAULT_ADAPTER_PORT = 6041;
export const DEFAULT_KEEPER_PORT = 6043;
export const DEFAULT_EXPLORER_PORT = 6060;
/** TDengine's own defaults for a package installed with install.sh. */
export const DEFAULT_DATA_DIR = '/var/lib/taos';
export const DEFAULT_LOG_DIR = '/var/log/taos';
/** The document: "一个集群最多允许创建 3 个 mnode". */
export const MAX_MNODES = 3;
/** The document: extra mnodes once "集群中的 dnode 数量达到或超过 3 个". */
export const MIN_DNODES_FOR_MNODES = 3;
/** TDengine's factory account. */
export const DEFAULT_ADMIN = { user: 'root', password: 'taosdata' } as const;

/** Folders clean and destroy must never delete, whatever the topology says. */
export const PROTECTED_DIRS = new Set(['/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib64', '/opt', '/proc', '/root', '/run', '/sbin', '/srv', '/sys', '/tmp', '/usr', '/var', '/var/lib', '/var/log', '/data']);

/** TDengine-server-3.3.2.0-Linux-x64.tar.gz → TDengine-server-3.3.2.0 (the archive's top folder). */
export function packageTopDir(archiveName: string): string | undefined {
  const m = /^(TDengine-(?:server|enterprise-server|enterprise)-[0-9][0-9A-Za-z.]*)-Linux-(?:x64|arm64|aarch64)\.tar\.gz$/.exec(archiveName);
  return m?.[1];
}

/**
 * A dnode's process: taosd started with its own config folder. TDengine's
 * command line is `<home>/bin/taosd -c <cfg_dir>`; the simulated package keeps
 * both words on its command line, so one pattern finds either, and two dnodes
 * on one machine (two config folders) are told apart.
 */
export function taosdPattern(home: string, cfgDir: string): string {
  return `${escapeRegex(home)}/bin/taosd -c ${escapeRegex(cfgDir)}( |$)`;
}

export function adapterPattern(home: string, configFile: string): string {
  return `${escapeRegex(home)}/bin/taosadapter -c ${escapeRegex(configFile)}( |$)`;
}

/** taosKeeper runs as `<home>/bin/taoskeeper -c <toml>`, taos-Explorer as `<home>/bin/taos-explorer -C <toml>`. */
export function servicePattern(role: 'keeper' | 'explorer', home: string, configFile: string): string {
  return role === 'keeper' ? `${escapeRegex(home)}/bin/taoskeeper -c ${escapeRegex(configFile)}( |$)` : `${escapeRegex(home)}/bin/taos-explorer -C ${escapeRegex(configFile)}( |$)`;
}

/** nginx's master process shows its command line as `nginx: master process <cmd> -c <conf> …`. */
export function nginxPattern(confFile: string): string {
  return `nginx: master process .* -c ${escapeRegex(confFile)}( |$)`;
}

/** A hostname (not an IP address): letters, digits, hyphens, dots. */
export function isHostName(text: string): boolean {
  if (/^[0-9.]+$/.test(text) || text.includes(':')) return false;
  return /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(text);
}
