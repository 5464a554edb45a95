// What IoTDB itself knows about iotdb-system.properties, kept apart from the
// topology reader so that templates, playbooks and tests can use the same
// rules: which keys belong to which node type, the documented defaults, which
// ports a node listens on and which folders hold its data. Everything here is
// a pure function of plain values; nothing reads files or knows about YAML.

import { posix } from 'node:path';
import { outermost } from '../paths.js';

export type IotdbNodeType = 'confignode' | 'datanode';

/** A node's final iotdb-system.properties: every value is the text written after `=`. */
export type Properties = Record<string, string>;

// Defaults from the manual deployment section of the IoTDB document.
export const CONFIGNODE_PORT_DEFAULTS = {
  cn_internal_port: 10710,
  cn_consensus_port: 10720,
} as const;

export const DATANODE_PORT_DEFAULTS = {
  dn_rpc_port: 6667,
  dn_internal_port: 10730,
  dn_mpp_data_exchange_port: 10740,
  dn_data_region_consensus_port: 10750,
  dn_schema_region_consensus_port: 10760,
} as const;

export type ConfignodePortKey = keyof typeof CONFIGNODE_PORT_DEFAULTS;
export type DatanodePortKey = keyof typeof DATANODE_PORT_DEFAULTS;

/** Where IoTDB keeps a node's data when the properties say nothing (relative to the installation). */
export const DIR_DEFAULTS: Readonly<Record<string, string>> = {
  cn_system_dir: 'data/confignode/system',
  cn_consensus_dir: 'data/confignode/consensus',
  dn_system_dir: 'data/datanode/system',
  dn_data_dirs: 'data/datanode/data',
  dn_consensus_dir: 'data/datanode/consensus',
  dn_wal_dirs: 'data/datanode/wal',
};

/** Data folders per node type; `dn_data_dirs` and `dn_wal_dirs` may list several. */
export const DATA_DIR_KEYS: Readonly<Record<IotdbNodeType, readonly string[]>> = {
  // cn_data_dir is not an IoTDB key, but the iotdbctl document lists it for
  // ConfigNodes; when given it is a folder of that node's data all the same.
  confignode: ['cn_data_dir', 'cn_system_dir', 'cn_consensus_dir'],
  datanode: ['dn_data_dirs', 'dn_consensus_dir', 'dn_system_dir', 'dn_wal_dirs'],
};

/**
 * Settings IoTDB requires to be identical on every node of a cluster ("务必保证
 * 所有节点的通用配置完全一致，否则节点无法启动"), with IoTDB's defaults.
 */
export const CLUSTER_WIDE_DEFAULTS: Readonly<Record<string, string>> = {
  cluster_name: 'defaultCluster',
  config_node_consensus_protocol_class: 'org.apache.iotdb.consensus.ratis.RatisConsensus',
  schema_replication_factor: '1',
  schema_region_consensus_protocol_class: 'org.apache.iotdb.consensus.ratis.RatisConsensus',
  data_replication_factor: '1',
  data_region_consensus_protocol_class: 'org.apache.iotdb.consensus.iot.IoTConsensus',
};

/** IoTDB's built-in administrator, used by start-cli.sh when nothing else is configured. */
export const DEFAULT_ADMIN = { user: 'root', password: 'root' } as const;

/** Metrics reported to Prometheus: the reporter list key and the port key, with IoTDB's default port. */
export const METRICS: Readonly<Record<IotdbNodeType, { reporters: string; port: string; defaultPort: number }>> = {
  confignode: { reporters: 'cn_metric_reporter_list', port: 'cn_metric_prometheus_reporter_port', defaultPort: 9091 },
  datanode: { reporters: 'dn_metric_reporter_list', port: 'dn_metric_prometheus_reporter_port', defaultPort: 9092 },
};

/** Which node type a key configures: `cn_*` ConfigNodes, `dn_*` DataNodes, anything else both. */
export function propertyScope(key: string): IotdbNodeType | 'common' {
  if (key.startsWith('cn_')) return 'confignode';
  if (key.startsWith('dn_')) return 'datanode';
  return 'common';
}

/** Whether a key is written into the properties of a node of this type. */
export function appliesTo(key: string, type: IotdbNodeType): boolean {
  const scope = propertyScope(key);
  return scope === 'common' || scope === type;
}

/**
 * Merge layers, lowest precedence first. `null` in a layer removes the key
 * (so a server can drop a global setting); keys of the other node type are
 * left out, because the global section serves both kinds of node.
 */
export function mergeProperties(type: IotdbNodeType, layers: ReadonlyArray<Readonly<Record<string, string | null>>>): Properties {
  const out: Properties = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) {
      if (!appliesTo(key, type)) continue;
      if (value === null) delete out[key];
      else out[key] = value;
    }
  }
  return out;
}

/** The properties text of a YAML scalar, or undefined for values that cannot be one (mappings). */
export function propertyText(value: unknown): string | null | undefined {
  if (value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string' || typeof v === 'number')) {
    // IoTDB writes lists (dn_data_dirs) comma-separated.
    return value.map(String).join(',');
  }
  return undefined;
}

/** A folder named in the properties, as an absolute path on the node (relative ones start at the installation). */
export function resolveNodeDir(home: string, dir: string): string {
  return posix.normalize(posix.isAbsolute(dir) ? dir : posix.join(home, dir)).replace(/(.)\/+$/, '$1');
}

/** The folders one key names: `dn_data_dirs` may hold several, comma-separated (`;` separates storage tiers). */
export function splitDirs(value: string): string[] {
  return value
    .split(/[,;]/)
    .map((d) => d.trim())
    .filter((d) => d !== '');
}

/** Every folder holding this node's data, absolute, with IoTDB's defaults for what the properties leave out. */
export function dataDirs(type: IotdbNodeType, props: Properties, home: string): Array<{ key: string; dir: string }> {
  const out: Array<{ key: string; dir: string }> = [];
  for (const key of DATA_DIR_KEYS[type]) {
    const value = props[key] ?? DIR_DEFAULTS[key];
    if (value === undefined) continue;
    for (const d of splitDirs(value)) out.push({ key, dir: resolveNodeDir(home, d) });
  }
  return out;
}

/**
 * What `clean` deletes for a node, from the document: the installation's
 * data, logs and ext folders and the configured data folders. A folder inside
 * another one on the list is left out (deleting the outer one removes it).
 */
export function cleanDirs(type: IotdbNodeType, props: Properties, home: string): string[] {
  const dirs = [
    resolveNodeDir(home, 'data'),
    ...dataDirs(type, props, home).map((d) => d.dir),
    resolveNodeDir(home, 'logs'),
    resolveNodeDir(home, 'ext'),
  ];
  return outermost(dirs);
}

/** What `destroy` deletes: the clean folders and the installation itself. */
export function destroyDirs(cleanList: readonly string[], home: string): string[] {
  return outermost([...cleanList, home]);
}

/** Whether IoTDB reports this node's metrics to Prometheus, and on which port. */
export function metricsPort(type: IotdbNodeType, props: Properties): number | undefined {
  const m = METRICS[type];
  const reporters = (props[m.reporters] ?? '').split(',').map((r) => r.trim().toUpperCase());
  if (!reporters.includes('PROMETHEUS')) return undefined;
  const port = Number(props[m.port] ?? m.defaultPort);
  return Number.isInteger(port) ? port : undefined;
}

/** A port value as written (number or text); undefined when it is not a whole number in 1–65535. */
export function parsePort(value: string | number): number | undefined {
  const text = String(value).trim();
  if (!/^[0-9]+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/** `0.0.0.0` and `::` listen everywhere; nothing can connect to them as written. */
export function isWildcardAddress(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '[::]';
}

/** The archive's top folder as IoTDB names it: the zip's name without `.zip`. */
export function archiveTopDir(zipName: string): string {
  return zipName.replace(/\.zip$/i, '');
}
