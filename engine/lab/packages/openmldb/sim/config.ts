// A component's settings, from the files OpenMLDB reads: conf/<role>.flags
// (gflags) for tablet, nameserver and apiserver, conf/taskmanager.properties
// for the TaskManager. Missing or malformed settings are start failures with
// OpenMLDB-like messages, so a playbook that writes a bad config fails here.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { flagsFromArgv, homePath, parseProperties, type ServerRole } from './common.js';

export interface ServerConfig {
  role: ServerRole;
  home: string;
  endpoint: string;
  host: string;
  port: number;
  zkCluster: string;
  zkRootPath: string;
  zkSessionTimeoutMs: number;
  logDir: string;
  /** Tablet: where partitions live on disk. */
  dbRoot: string;
  /** Nameserver: auto_failover until someone runs `confset`. */
  autoFailoverDefault: boolean;
  /** Where this component's settings were read, for messages. */
  confFile: string;
}

export class ConfigError extends Error {}

/** The file a role reads; start.sh checks it exists before starting. */
export function confFileOf(home: string, role: ServerRole): string {
  return role === 'taskmanager' ? join(home, 'conf', 'taskmanager.properties') : join(home, 'conf', `${role}.flags`);
}

function endpointParts(ep: string, key: string, file: string): { host: string; port: number } {
  const at = ep.lastIndexOf(':');
  const port = Number(ep.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(`${key} "${ep}" in ${file} is not ip:port`);
  return { host: ep.slice(0, at), port };
}

function zkRoot(value: string | undefined, key: string, file: string): string {
  if (value === undefined || value === '') throw new ConfigError(`${key} is not set in ${file}; cluster mode needs it (e.g. /openmldb)`);
  if (!value.startsWith('/') || (value.length > 1 && value.endsWith('/'))) throw new ConfigError(`${key} "${value}" in ${file} must start with / and not end with /`);
  return value;
}

export function loadServerConfig(role: ServerRole, home: string, argv: string[]): ServerConfig {
  if (role === 'taskmanager') {
    const file = confFileOf(home, role);
    if (!existsSync(file)) throw new ConfigError(`cannot read ${file}: no such file`);
    const props = parseProperties(readFileSync(file, 'utf8'));
    const host = props.get('server.host') ?? '0.0.0.0';
    const port = Number(props.get('server.port') ?? '9902');
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(`server.port in ${file} is not a port number`);
    const zkCluster = props.get('zookeeper.cluster') ?? '';
    if (zkCluster === '') throw new ConfigError(`zookeeper.cluster is not set in ${file}`);
    return {
      role,
      home,
      endpoint: `${host}:${port}`,
      host,
      port,
      zkCluster,
      zkRootPath: zkRoot(props.get('zookeeper.root_path'), 'zookeeper.root_path', file),
      zkSessionTimeoutMs: Number(props.get('zookeeper.session_timeout') ?? '10000') || 10_000,
      logDir: homePath(home, props.get('taskmanager.log.dir') ?? './logs'),
      dbRoot: '',
      autoFailoverDefault: false,
      confFile: file,
    };
  }
  const flags = flagsFromArgv(argv, home);
  const file = flags.has('flagfile') ? homePath(home, flags.get('flagfile')!) : confFileOf(home, role);
  const endpoint = flags.get('endpoint') ?? '';
  if (endpoint === '') throw new ConfigError(`--endpoint is not set in ${file}`);
  const { host, port } = endpointParts(endpoint, '--endpoint', file);
  const zkCluster = flags.get('zk_cluster') ?? '';
  if (zkCluster === '') throw new ConfigError(`--zk_cluster is not set in ${file}; the simulated OpenMLDB runs in cluster mode only`);
  return {
    role,
    home,
    endpoint,
    host,
    port,
    zkCluster,
    zkRootPath: zkRoot(flags.get('zk_root_path'), '--zk_root_path', file),
    zkSessionTimeoutMs: Number(flags.get('zk_session_timeout') ?? '10000') || 10_000,
    logDir: homePath(home, flags.get('openmldb_log_dir') ?? './logs'),
    dbRoot: homePath(home, flags.get('db_root_path') ?? './db'),
    autoFailoverDefault: (flags.get('auto_failover') ?? 'false') === 'true',
    confFile: file,
  };
}

/** The version this package's lib/ reports (an upgrade swaps lib/). */
export function readVersion(home: string): string {
  try {
    const m = /^version=(.+)$/m.exec(readFileSync(join(home, 'lib', 'openmldb-sim-version.txt'), 'utf8'));
    return m ? m[1]!.trim() : 'unknown';
  } catch {
    return 'unknown';
  }
}
