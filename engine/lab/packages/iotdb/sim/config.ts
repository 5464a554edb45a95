// Reads conf/iotdb-system.properties the way a node does at start: defaults
// from the key table, values trimmed, ports and seed addresses validated, and
// relative directories resolved against the IoTDB home folder.

import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parseProperties } from './properties.js';
import { parseEndpoint, type Endpoint } from './rpc.js';
import { CLUSTER_KEYS, SPECS, type ClusterParams } from './spec.js';

export class ConfigError extends Error {}

export const SYSTEM_PROPERTIES = 'iotdb-system.properties';

export interface ConfigNodeSettings {
  internalAddress: string;
  internalPort: number;
  consensusPort: number;
  seed: Endpoint;
  systemDir: string;
  consensusDir: string;
}

export interface DataNodeSettings {
  rpcAddress: string;
  rpcPort: number;
  internalAddress: string;
  internalPort: number;
  mppPort: number;
  dataConsensusPort: number;
  schemaConsensusPort: number;
  seeds: Endpoint[];
  systemDir: string;
  dataDirs: string[];
  consensusDir: string;
  walDirs: string[];
}

export class NodeConfig {
  readonly propsFile: string;
  readonly raw: Map<string, string>;

  constructor(
    readonly home: string,
    readonly confDir: string,
  ) {
    this.propsFile = join(confDir, SYSTEM_PROPERTIES);
    if (!existsSync(this.propsFile)) throw new ConfigError(`Cannot find ${this.propsFile}`);
    this.raw = parseProperties(readFileSync(this.propsFile, 'utf8'));
  }

  /** The trimmed value, or the documented default when the key is absent or empty. */
  get(key: string): string {
    const v = this.raw.get(key)?.trim();
    if (v !== undefined && v !== '') return v;
    return SPECS.get(key)?.default ?? '';
  }

  int(key: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.get(key);
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      throw new ConfigError(`Invalid value of ${key} in ${this.propsFile}: '${v}' (expected an integer in ${min}..${max})`);
    }
    return Number(v);
  }

  port(key: string): number {
    return this.int(key, 1, 65535);
  }

  dir(key: string): string {
    const v = this.get(key);
    return isAbsolute(v) ? v : resolve(this.home, v);
  }

  dirs(key: string): string[] {
    return this.get(key)
      .split(/[,;]/)
      .map((d) => d.trim())
      .filter((d) => d !== '')
      .map((d) => (isAbsolute(d) ? d : resolve(this.home, d)));
  }

  clusterParams(): ClusterParams {
    const out = {} as ClusterParams;
    for (const k of CLUSTER_KEYS) out[k] = this.get(k);
    for (const k of ['schema_replication_factor', 'data_replication_factor'] as const) {
      out[k] = String(this.int(k, 1, 100));
    }
    return out;
  }

  heartbeatMs(): number {
    const env = process.env.IOTDB_SIM_HEARTBEAT_MS;
    if (env !== undefined && /^\d+$/.test(env) && Number(env) >= 20) return Number(env);
    return this.int('heartbeat_interval_in_ms', 20);
  }

  configNode(): ConfigNodeSettings {
    const seedText = this.get('cn_seed_config_node');
    if (seedText.includes(',')) {
      throw new ConfigError(
        `cn_seed_config_node accepts exactly one address, got '${seedText}'. Set it to this node's own cn_internal_address:cn_internal_port on the Seed-ConfigNode, or to one running ConfigNode otherwise.`,
      );
    }
    const seed = parseEndpoint(seedText);
    if (!seed) throw new ConfigError(`Invalid value of cn_seed_config_node: '${seedText}' (expected address:port)`);
    return {
      internalAddress: this.get('cn_internal_address'),
      internalPort: this.port('cn_internal_port'),
      consensusPort: this.port('cn_consensus_port'),
      seed,
      systemDir: this.dir('cn_system_dir'),
      consensusDir: this.dir('cn_consensus_dir'),
    };
  }

  dataNode(): DataNodeSettings {
    const seedText = this.get('dn_seed_config_node');
    const seeds: Endpoint[] = [];
    for (const part of seedText.split(',').filter((s) => s.trim() !== '')) {
      const e = parseEndpoint(part);
      if (!e) throw new ConfigError(`Invalid value of dn_seed_config_node: '${seedText}' (expected address:port[,address:port…])`);
      seeds.push(e);
    }
    if (seeds.length === 0) throw new ConfigError('dn_seed_config_node is empty');
    return {
      rpcAddress: this.get('dn_rpc_address'),
      rpcPort: this.port('dn_rpc_port'),
      internalAddress: this.get('dn_internal_address'),
      internalPort: this.port('dn_internal_port'),
      mppPort: this.port('dn_mpp_data_exchange_port'),
      dataConsensusPort: this.port('dn_data_region_consensus_port'),
      schemaConsensusPort: this.port('dn_schema_region_consensus_port'),
      seeds,
      systemDir: this.dir('dn_system_dir'),
      dataDirs: this.dirs('dn_data_dirs'),
      consensusDir: this.dir('dn_consensus_dir'),
      walDirs: this.dirs('dn_wal_dirs'),
    };
  }

  /** Current values of the hot-reloadable keys. */
  hotReloadable(): Map<string, string> {
    const out = new Map<string, string>();
    for (const spec of SPECS.values()) if (spec.mode === 'hot_reload') out.set(spec.key, this.get(spec.key));
    return out;
  }
}

export interface VersionInfo {
  version: string;
  buildInfo: string;
}

export const VERSION_FILE = 'iotdb-sim-version.txt';

/**
 * The version a node reports comes from lib/, so swapping lib/ (an upgrade)
 * changes what `show version` and `show cluster` print after a restart.
 */
export function readVersion(home: string): VersionInfo {
  const file = join(home, 'lib', VERSION_FILE);
  try {
    const props = parseProperties(readFileSync(file, 'utf8'));
    return {
      version: props.get('version')?.trim() || 'UNKNOWN',
      buildInfo: props.get('build_info')?.trim() || 'UNKNOWN',
    };
  } catch {
    return { version: 'UNKNOWN', buildInfo: 'UNKNOWN' };
  }
}

