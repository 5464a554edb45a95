// The iotdbctl cluster topology (global, confignode_servers, datanode_servers,
// grafana_server, prometheus_server) as a runbook inventory. A user's existing
// iotdbctl yaml loads unchanged; runbook adds two optional top-level keys,
// `product: iotdb` and an `ssh:` block like the runbook inventory form's.
//
// Reading goes: check every section's keys and value types, work out each
// node's settings (a server's value wins over global; IoTDB's documented
// defaults fill the rest), then check what only the whole cluster shows (node
// names, seed ConfigNode references, ports and folders shared on one machine,
// replication against the DataNode count, local archives). Every problem is
// collected and thrown together, each at its yaml line, before any host is
// touched. The hosts then go through the generic buildInventory, so they get
// the same name checks and ssh defaults as every other inventory form.
//
// What a node's iotdb-system.properties holds is decided in properties.ts;
// this file only knows where in the yaml each value came from.

import { jdkTarName, runtimeVars, type IotdbRuntimeVars } from './runtime.js';
import { basename, dirname, posix, resolve } from 'node:path';
import { didYouMean } from '../../errors.js';
import { connectionDraft, sshSchema, type ConnectionDraft, type HostDraft, type GroupDraft, type InventoryDraft } from '../../inventory/runbook-form.js';
import { isPlainMapping, isSecretRef, newLoadContext, readSecretField, resolveInventoryPath, type LoadContext } from '../../inventory/secrets.js';
import type { Inventory, ProductAdapter } from '../../inventory/types.js';
import { Secret } from '../../secret.js';
import type { SourceFile, YamlPath } from '../../source.js';
import { schemaErrors } from '../../validate.js';
import { FactoryDefaultPassword, failTopology, localFileProblem, topologyInventory } from '../common.js';
import { isInside, normaliseDir, outermost } from '../paths.js';
import {
  archiveTopDir,
  cleanDirs,
  CLUSTER_WIDE_DEFAULTS,
  CONFIGNODE_PORT_DEFAULTS,
  dataDirs,
  DATANODE_PORT_DEFAULTS,
  DEFAULT_ADMIN,
  DIR_DEFAULTS,
  destroyDirs,
  isWildcardAddress,
  mergeProperties,
  metricsPort,
  parsePort,
  propertyScope,
  propertyText,
  type IotdbNodeType,
  type Properties,
} from './properties.js';

export const IOTDB_PRODUCT = 'iotdb';

// ---------------------------------------------------------------------------
// Host vars: the names templates and playbooks use. Keep them stable.

export type IotdbHostType = IotdbNodeType | 'grafana' | 'prometheus';

export interface IotdbJdk {
  /** Local JDK archive to upload, or null when the JDK is already on the machine. */
  tar: string | null;
  deploy_dir: string;
  dir_name: string;
  home: string;
  /** The archive's file name on the host, or null. */
  tar_name?: string | null;
}

export interface IotdbCli {
  host: string;
  port: number;
  user: string;
  password: Secret;
}

export interface IotdbGrafanaVars {
  tar: string;
  tar_name: string;
  dashboards: string[];
  /** Where the topology's Prometheus listens, for the data source; null without one. */
  prometheus_url: string | null;
}

export interface IotdbPrometheusVars {
  tar: string;
  tar_name: string;
  retention_time: string;
  retention_size: string | null;
  /** IoTDB nodes whose properties report metrics to Prometheus. */
  targets: Array<{ node: string; node_type: IotdbNodeType; endpoint: string }>;
}

export interface IotdbHostVars {
  node_type: IotdbHostType;
  cluster_name: string;
  deploy_dir: string;
  dir_name: string;
  /** deploy_dir/dir_name: where the node is installed. */
  home: string;
  zip: string | null;
  zip_name: string | null;
  download_url: string | null;
  top_dir: string | null;
  jdk: IotdbJdk | null;
  lib_dir: string | null;
  properties: Properties | null;
  env: { file: 'confignode-env.sh' | 'datanode-env.sh'; extra_opts: string | null } | null;
  ports: number[];
  endpoint: string;
  is_seed: boolean;
  cli: IotdbCli | null;
  clean_dirs: string[];
  destroy_dirs: string[];
  start_order: number;
  /**
   * The other node installed in the same folder (one ConfigNode and one
   * DataNode may share an installation, as IoTDB's own layout allows); its
   * properties are then in this node's `properties` too, since both read one file.
   */
  shares_home_with: string | null;
  /**
   * The deployment record runbook keeps on the node's machine (written by
   * deploy, scaleout and init, removed by scalein): what `scaleout` compares
   * the topology with. One file per node type, because a ConfigNode and a
   * DataNode may share one installation. Null for Grafana and Prometheus.
   */
  deployed_record: string | null;
  /**
   * What `scalein` deletes when this node leaves the cluster: everything
   * destroy would, unless the installation is shared with the other node
   * type, in which case only this node's own data folders (the shared home,
   * conf, logs and lib stay for the node that keeps running there).
   */
  scalein_dirs: string[];
  /** The properties key naming the ConfigNode(s) this node joins through, and the endpoints it holds. */
  seed_key: 'cn_seed_config_node' | 'dn_seed_config_node' | null;
  seed_targets: string[];
  /**
   * IoTDB's documented defaults of the keys runbook writes, as text: what a
   * node uses for a key its iotdb-system.properties leaves out (init compares
   * a hand-made file with the topology through them). Empty for Grafana and Prometheus.
   */
  property_defaults: Readonly<Record<string, string>>;
  /** A DataNode's dn_data_dirs, absolute (where its TsFiles are); empty for other nodes. */
  tsfile_dirs: string[];
  /** time_partition_interval in ms (IoTDB's default: 7 days): the span of one time partition folder. */
  time_partition_interval_ms: number;
  grafana?: IotdbGrafanaVars;
  prometheus?: IotdbPrometheusVars;
}

export type IotdbNodeVars = IotdbHostVars & Partial<IotdbRuntimeVars>;

export interface IotdbClusterVars {
  name: string;
  /** In start order: the seed first. */
  confignodes: string[];
  datanodes: string[];
  seed: string;
  /** Every DataNode's rpc endpoint, in configured order, for asking the cluster (show). */
  cli_endpoints: string[];
  replication: { schema: number; data: number };
}

// ---------------------------------------------------------------------------
// The topology's keys, as data: where each may appear and what it holds.

type Section = 'global' | 'confignode' | 'datanode' | 'grafana' | 'prometheus';

interface KeyDef {
  key: string;
  sections: readonly Section[];
  describe: string;
}

const IOTDB_NODES: readonly Section[] = ['confignode', 'datanode'];
const EVERY_SERVER: readonly Section[] = ['global', 'confignode', 'datanode', 'grafana', 'prometheus'];

export const TOPOLOGY_KEYS: readonly KeyDef[] = [
  { key: 'iotdb_zip_dir', sections: ['global'], describe: 'local IoTDB .zip to upload; when empty, iotdb_download_url is used' },
  { key: 'iotdb_download_url', sections: ['global'], describe: 'where to download IoTDB when iotdb_zip_dir is not set' },
  { key: 'jdk_tar_dir', sections: ['global'], describe: 'local JDK archive to upload (needs jdk_deploy_dir)' },
  { key: 'jdk_deploy_dir', sections: ['global', ...IOTDB_NODES], describe: 'folder on the machine the JDK goes into' },
  { key: 'jdk_dir_name', sections: ['global', ...IOTDB_NODES], describe: 'name of the unpacked JDK folder (default jdk_iotdb)' },
  { key: 'iotdb_lib_dir', sections: ['global'], describe: 'local lib folder or lib .zip, for upgrade' },
  { key: 'user', sections: EVERY_SERVER, describe: 'ssh login user' },
  { key: 'password', sections: EVERY_SERVER, describe: 'ssh password (text, { env: NAME } or { file: path }); wins over pkey' },
  { key: 'pkey', sections: EVERY_SERVER, describe: 'ssh private key file, used when no password is set' },
  { key: 'ssh_port', sections: EVERY_SERVER, describe: 'ssh port' },
  { key: 'deploy_dir', sections: EVERY_SERVER, describe: 'folder on the machine the product is installed in' },
  { key: 'iotdb_dir_name', sections: ['global', ...IOTDB_NODES], describe: 'name of the unpacked IoTDB folder (default iotdb)' },
  { key: 'confignode-env.sh', sections: ['global', 'confignode'], describe: 'extra_opts appended to conf/confignode-env.sh' },
  { key: 'datanode-env.sh', sections: ['global', 'datanode'], describe: 'extra_opts appended to conf/datanode-env.sh' },
  { key: 'iotdb-system.properties', sections: ['global', ...IOTDB_NODES], describe: 'settings for conf/iotdb-system.properties (server wins over global)' },
  { key: 'cn_seed_config_node', sections: ['global', 'confignode'], describe: 'ConfigNode to join, address:port (default: the first ConfigNode)' },
  { key: 'dn_seed_config_node', sections: ['global', 'datanode'], describe: 'ConfigNodes to join, address:port[,…] (default: the seed ConfigNode)' },
  { key: 'name', sections: IOTDB_NODES, describe: 'node name, unique in the topology' },
  { key: 'cn_internal_address', sections: ['confignode'], describe: 'ConfigNode address inside the cluster (runbook connects here)' },
  { key: 'cn_internal_port', sections: ['confignode'], describe: 'ConfigNode internal port (default 10710)' },
  { key: 'cn_consensus_port', sections: ['confignode'], describe: 'ConfigNode consensus port (default 10720)' },
  { key: 'cn_data_dir', sections: ['confignode'], describe: 'ConfigNode data folder' },
  { key: 'cn_system_dir', sections: ['confignode'], describe: 'ConfigNode system folder' },
  { key: 'cn_consensus_dir', sections: ['confignode'], describe: 'ConfigNode consensus folder' },
  { key: 'dn_rpc_address', sections: ['datanode'], describe: 'DataNode client RPC address' },
  { key: 'dn_internal_address', sections: ['datanode'], describe: 'DataNode address inside the cluster (runbook connects here)' },
  { key: 'dn_rpc_port', sections: ['datanode'], describe: 'DataNode client RPC port (default 6667)' },
  { key: 'dn_internal_port', sections: ['datanode'], describe: 'DataNode internal port (default 10730)' },
  { key: 'dn_data_dirs', sections: ['datanode'], describe: 'DataNode data folders, comma-separated' },
  { key: 'dn_consensus_dir', sections: ['datanode'], describe: 'DataNode consensus folder' },
  { key: 'dn_system_dir', sections: ['datanode'], describe: 'DataNode system folder' },
  { key: 'host', sections: ['grafana', 'prometheus'], describe: 'address of the machine' },
  { key: 'grafana_dir_name', sections: ['grafana'], describe: 'name of the unpacked Grafana folder (default grafana_iotdb)' },
  { key: 'grafana_port', sections: ['grafana'], describe: 'Grafana port (default 3000)' },
  { key: 'grafana_tar_dir', sections: ['grafana'], describe: 'local Grafana archive' },
  { key: 'dashboards', sections: ['grafana'], describe: 'local dashboard files or folders, comma-separated' },
  { key: 'prometheus_dir_name', sections: ['prometheus'], describe: 'name of the unpacked Prometheus folder (default prometheus_iotdb)' },
  { key: 'prometheus_port', sections: ['prometheus'], describe: 'Prometheus port (default 9090)' },
  { key: 'prometheus_tar_dir', sections: ['prometheus'], describe: 'local Prometheus archive' },
  { key: 'storage_tsdb_retention_time', sections: ['prometheus'], describe: 'how long Prometheus keeps data (default 15d)' },
  { key: 'storage_tsdb_retention_size', sections: ['prometheus'], describe: 'how much data Prometheus keeps (KB, MB, GB, TB, PB, EB)' },
];

const TOP_LEVEL_KEYS = ['product', 'ssh', 'global', 'confignode_servers', 'datanode_servers', 'grafana_server', 'prometheus_server'] as const;

const SECTION_KEY: Record<Section, string> = {
  global: 'global',
  confignode: 'confignode_servers',
  datanode: 'datanode_servers',
  grafana: 'grafana_server',
  prometheus: 'prometheus_server',
};

/** Top-level keys of a node that are also iotdb-system.properties keys; they win over the server's properties. */
const NODE_PROPERTY_KEYS: Record<IotdbNodeType, readonly string[]> = {
  confignode: ['cn_internal_address', 'cn_internal_port', 'cn_consensus_port', 'cn_seed_config_node', 'cn_data_dir', 'cn_system_dir', 'cn_consensus_dir'],
  datanode: ['dn_rpc_address', 'dn_internal_address', 'dn_rpc_port', 'dn_internal_port', 'dn_seed_config_node', 'dn_data_dirs', 'dn_consensus_dir', 'dn_system_dir'],
};

const PORT_DEFAULTS: Record<IotdbNodeType, Readonly<Record<string, number>>> = {
  confignode: CONFIGNODE_PORT_DEFAULTS,
  datanode: DATANODE_PORT_DEFAULTS,
};

/** From the document's tables: addresses default to the loopback, seeds to the loopback ConfigNode. */
const PROPERTY_DEFAULTS: Readonly<Record<string, string>> = {
  ...CLUSTER_WIDE_DEFAULTS,
  ...Object.fromEntries(Object.entries({ ...CONFIGNODE_PORT_DEFAULTS, ...DATANODE_PORT_DEFAULTS }).map(([k, v]) => [k, String(v)])),
  ...DIR_DEFAULTS,
  cn_internal_address: '127.0.0.1',
  dn_rpc_address: '127.0.0.1',
  dn_internal_address: '127.0.0.1',
  cn_seed_config_node: '127.0.0.1:10710',
  dn_seed_config_node: '127.0.0.1:10710',
};

/** Folders that clean/destroy must never delete, whatever the topology says. */
const PROTECTED_DIRS = new Set(['/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib64', '/opt', '/proc', '/root', '/run', '/sbin', '/srv', '/sys', '/tmp', '/usr', '/var']);

/** Names of the groups the adapter makes; a node may not be called that (it would select the group). */
const GROUP_NAMES = ['confignodes', 'datanodes', 'iotdb', 'seed', 'grafana', 'prometheus'];

export const iotdbTopologyAdapter: ProductAdapter = {
  product: IOTDB_PRODUCT,
  recognises: (doc) => 'confignode_servers' in doc || 'datanode_servers' in doc,
  load: loadIotdbTopology,
};

// ---------------------------------------------------------------------------
// Reading one section, with every problem pushed to ctx.errors.

interface Field<T> {
  value: T;
  path: YamlPath;
}

/** iotdb-system.properties of one section: text per key (null removes a lower layer's key) and where each is. */
interface PropsLayer {
  values: Record<string, string | null>;
  paths: Record<string, YamlPath>;
}

const NO_PROPS: PropsLayer = { values: {}, paths: {} };

class SectionReader {
  readonly #memo = new Map<string, unknown>();

  constructor(
    readonly ctx: LoadContext,
    readonly raw: Record<string, unknown>,
    readonly path: YamlPath,
    /** How messages name the section; a node's gains its name once that is read. */
    public what: string,
  ) {}

  at(key: string): YamlPath {
    return [...this.path, key];
  }

  /** `key:` with nothing after it is how iotdbctl files leave an optional value out. */
  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  /** Each value is checked once, so asking twice never reports twice. */
  #once<T>(key: string, read: () => T): T {
    if (!this.#memo.has(key)) this.#memo.set(key, read());
    return this.#memo.get(key) as T;
  }

  #fail(key: string, message: string, hint?: string): undefined {
    this.ctx.errors.push(this.ctx.source.error(this.at(key), `${key} in ${this.what} ${message}`, hint));
    return undefined;
  }

  text(key: string): Field<string> | undefined {
    return this.#once(`text:${key}`, () => {
      if (!this.has(key)) return undefined;
      const value = scalarText(this.ctx.source, this.at(key), this.raw[key]);
      if (value === undefined) return this.#fail(key, `must be text, not ${kindOf(this.raw[key])}`);
      if (value.trim() === '') return this.#fail(key, 'is empty', 'give it a value, or remove the line');
      return { value: value.trim(), path: this.at(key) };
    });
  }

  port(key: string): Field<number> | undefined {
    return this.#once(`port:${key}`, () => {
      const t = this.text(key);
      if (!t) return undefined;
      const port = parsePort(t.value);
      if (port === undefined) return this.#fail(key, `must be a port number from 1 to 65535, not "${t.value}"`);
      return { value: port, path: t.path };
    });
  }

  /** A local path (relative to the topology file), optionally one that must exist as a file or a folder. */
  localPath(key: string, must?: 'file' | 'file-or-dir'): Field<string> | undefined {
    return this.#once(`local:${key}`, () => {
      const t = this.text(key);
      if (!t) return undefined;
      const full = resolveInventoryPath(t.value, this.ctx.baseDir);
      if (must) {
        const problem = localFileProblem(full, must);
        if (problem) {
          const shown = full === t.value ? t.value : `${t.value} (${full})`;
          return this.#fail(key, `names ${shown}, which ${problem}`, "fix the path; relative paths start at the topology file's folder");
        }
      }
      return { value: full, path: t.path };
    });
  }

  /** A folder on the target machine: absolute, normalised, without a trailing slash. */
  remoteDir(key: string): Field<string> | undefined {
    return this.#once(`remote:${key}`, () => {
      const t = this.text(key);
      if (!t) return undefined;
      if (!posix.isAbsolute(t.value)) {
        return this.#fail(key, `must be an absolute path on the machine, not "${t.value}"`, 'for example /home/iotdb; ~ and relative paths depend on the login shell');
      }
      return { value: normaliseDir(t.value), path: t.path };
    });
  }

  /** The name of one folder (iotdb_dir_name, jdk_dir_name, …). */
  dirName(key: string): Field<string> | undefined {
    return this.#once(`name:${key}`, () => {
      const t = this.text(key);
      if (!t) return undefined;
      if (t.value.includes('/') || t.value === '.' || t.value === '..') {
        return this.#fail(key, `must be the name of one folder, not "${t.value}"`, 'put the parent folders in deploy_dir');
      }
      return t;
    });
  }

  secret(key: string): Field<Secret> | undefined {
    return this.#once(`secret:${key}`, () => {
      let value = this.raw[key];
      // iotdbctl files often leave a numeric password unquoted; take it as written (leading zeros and all).
      if (typeof value === 'number') value = scalarText(this.ctx.source, this.at(key), value);
      const secret = readSecretField(value, this.at(key), `${this.what} ${key}`, this.ctx);
      return secret ? { value: secret, path: this.at(key) } : undefined;
    });
  }

  url(key: string): Field<string> | undefined {
    return this.#once(`url:${key}`, () => {
      const t = this.text(key);
      if (!t) return undefined;
      let url: URL;
      try {
        url = new URL(t.value);
      } catch {
        return this.#fail(key, `is not a URL: "${t.value}"`, 'for example https://archive.apache.org/dist/iotdb/1.3.0/apache-iotdb-1.3.0-all-bin.zip');
      }
      if (!['http:', 'https:', 'ftp:'].includes(url.protocol)) return this.#fail(key, `must be an http, https or ftp URL, not ${url.protocol}`);
      if (!/\.zip$/i.test(url.pathname)) return this.#fail(key, 'must point at a .zip archive', 'IoTDB is distributed as apache-iotdb-<version>-all-bin.zip');
      return t;
    });
  }

  /** Text or a list, comma-separated text giving several entries. */
  list(key: string): Field<string[]> | undefined {
    return this.#once(`list:${key}`, () => {
      if (!this.has(key)) return undefined;
      const raw = this.raw[key];
      const items = Array.isArray(raw) ? raw : [raw];
      if (!items.every((i) => typeof i === 'string')) return this.#fail(key, 'must be text or a list of text');
      const value = (items as string[]).flatMap((i) => i.split(',')).map((i) => i.trim()).filter((i) => i !== '');
      return { value, path: this.at(key) };
    });
  }

  properties(): PropsLayer {
    return this.#once('properties', () => {
      const key = 'iotdb-system.properties';
      if (!this.has(key)) return NO_PROPS;
      const raw = this.raw[key];
      if (!isPlainMapping(raw)) {
        this.#fail(key, `must be a mapping of property names to values, not ${kindOf(raw)}`);
        return NO_PROPS;
      }
      const layer: PropsLayer = { values: {}, paths: {} };
      for (const [name, value] of Object.entries(raw)) {
        const at = [...this.at(key), name];
        const text = propertyText(value);
        if (text === undefined) {
          const why = isSecretRef(value)
            ? 'values here are written into conf/iotdb-system.properties as text; { env } and { file } are not read here'
            : 'write the value as text, a number, true/false or a list';
          this.ctx.errors.push(this.ctx.source.error(at, `${name} in ${this.what} iotdb-system.properties must be a single value, not ${kindOf(value)}`, why));
          continue;
        }
        layer.values[name] = typeof value === 'number' || typeof value === 'boolean' ? (scalarText(this.ctx.source, at, value) ?? text) : text;
        layer.paths[name] = at;
      }
      return layer;
    });
  }

  /** confignode-env.sh / datanode-env.sh: a mapping whose only key is extra_opts. */
  env(key: string): Field<string | null> | undefined {
    return this.#once(`env:${key}`, () => {
      if (!this.has(key)) return undefined;
      const raw = this.raw[key];
      if (!isPlainMapping(raw)) return this.#fail(key, `must be a mapping with extra_opts, not ${kindOf(raw)}`, `${key}:\n  extra_opts: |\n    IOTDB_JMX_OPTS="$IOTDB_JMX_OPTS -XX:+UseG1GC"`);
      let ok = true;
      for (const k of Object.keys(raw)) {
        if (k === 'extra_opts') continue;
        ok = false;
        const guess = didYouMean(k, ['extra_opts']);
        this.ctx.errors.push(
          this.ctx.source.error([...this.at(key), k], `unknown key "${k}" in ${this.what} ${key}`, guess ? `did you mean "${guess}"?` : 'the only key here is extra_opts', true),
        );
      }
      const opts = raw.extra_opts;
      if (opts !== undefined && opts !== null && typeof opts !== 'string') {
        this.ctx.errors.push(this.ctx.source.error([...this.at(key), 'extra_opts'], `extra_opts in ${this.what} ${key} must be text`, 'use a block: extra_opts: |'));
        ok = false;
      }
      return ok ? { value: typeof opts === 'string' ? opts : null, path: this.at(key) } : undefined;
    });
  }
}

/** The text of a scalar as the file spells it, for numbers and booleans whose JS value loses that (0123, 1.0). */
function scalarText(source: SourceFile, path: YamlPath, value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value !== 'number' && typeof value !== 'boolean' && typeof value !== 'bigint') return undefined;
  return source.scalarText(path, value);
}

function kindOf(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Report keys a section does not accept, with the likeliest fix. */
function checkSectionKeys(reader: SectionReader, section: Section): void {
  const allowed = TOPOLOGY_KEYS.filter((k) => k.sections.includes(section)).map((k) => k.key);
  for (const key of Object.keys(reader.raw)) {
    if (allowed.includes(key)) continue;
    reader.ctx.errors.push(reader.ctx.source.error(reader.at(key), `unknown key "${key}" in ${reader.what}`, unknownKeyHint(key, section, allowed), true));
  }
}

function unknownKeyHint(key: string, section: Section, allowed: string[]): string {
  if (/^iotdb-(common|confignode|datanode)\.properties$/.test(key) || key === 'confignode.properties' || key === 'datanode.properties') {
    return 'IoTDB 1.3 reads one file, iotdb-system.properties; move these settings under "iotdb-system.properties"';
  }
  const guess = didYouMean(key, allowed);
  if (guess) return `did you mean "${guess}"?`;
  const elsewhere = TOPOLOGY_KEYS.find((k) => k.key === key);
  if (elsewhere) return `${key} belongs under ${elsewhere.sections.map((s) => SECTION_KEY[s]).join(' or ')}`;
  if (section !== 'grafana' && section !== 'prometheus' && (propertyScope(key) !== 'common' || key in CLUSTER_WIDE_DEFAULTS)) {
    return `IoTDB settings go under "iotdb-system.properties": write ${key} there`;
  }
  return `allowed keys: ${allowed.join(', ')}`;
}

// ---------------------------------------------------------------------------
// One IoTDB node's settings, from the server, its properties, global, or the defaults.

type Origin = 'server' | 'server properties' | 'global' | 'global properties' | 'default';

interface Setting {
  text: string;
  /** Undefined for defaults: they have no line; errors then point at the node's name. */
  path: YamlPath | undefined;
  origin: Origin;
}

interface Shared {
  ctx: LoadContext;
  global: SectionReader;
  globalProps: PropsLayer;
  sshDefaults: ConnectionDraft;
  /** Required settings a server has neither itself nor from global; reported together (see reportMissing). */
  missing: Array<{ key: 'user' | 'ssh_port' | 'deploy_dir'; who: string; path: YamlPath }>;
  /** How many servers asked, per key, so that "every server lacks it" can be said once, at global. */
  asked: Record<'user' | 'ssh_port' | 'deploy_dir', number>;
}

interface IotdbNode {
  type: IotdbNodeType;
  index: number;
  name: string;
  path: YamlPath;
  namePath: YamlPath;
  props: PropsLayer;
  /** The machine: where runbook connects, and the scope of port and folder uniqueness. */
  address: string;
  setting: (key: string) => Setting | undefined;
  ports: Array<{ key: string; port: number; at: YamlPath; origin: Origin }>;
  endpoint: string;
  seedTargets: Array<{ endpoint: string; at: YamlPath; origin: Origin }>;
  deployDir: string;
  dirName: string;
  home: string;
  homeAt: YamlPath;
  jdk: IotdbJdk | null;
  env: string | null;
  conn: ConnectionDraft;
  /** Own properties (global < server < computed), before a shared installation merges its partner's. */
  own: Properties;
  ownPaths: Record<string, YamlPath>;
}

interface ExtraServer {
  type: 'grafana' | 'prometheus';
  name: string;
  path: YamlPath;
  reader: SectionReader;
  address: string;
  port: number;
  portAt: YamlPath;
  deployDir: string;
  dirName: string;
  home: string;
  homeAt: YamlPath;
  tar: string;
  conn: ConnectionDraft;
  dashboards: string[];
  retentionTime: string;
  retentionSize: string | null;
}

function where(node: { name: string; path: YamlPath }): string {
  return `${node.path[0]}[${node.path[1]}] (${node.name})`;
}

/** The ssh settings of a server: its own, else global's (a server's value wins); password wins over pkey. */
function serverConnection(reader: SectionReader, shared: Shared, who: string, at: YamlPath): ConnectionDraft {
  const { ctx, global } = shared;
  const conn: ConnectionDraft = {};
  shared.asked.user++;
  shared.asked.ssh_port++;
  const user = reader.text('user') ?? global.text('user');
  if (user) conn.user = user.value;
  else if (shared.sshDefaults.user === undefined && !reader.has('user') && !global.has('user')) shared.missing.push({ key: 'user', who, path: at });
  const port = reader.port('ssh_port') ?? global.port('ssh_port');
  if (port) conn.port = port.value;
  else if (shared.sshDefaults.port === undefined && !reader.has('ssh_port') && !global.has('ssh_port')) shared.missing.push({ key: 'ssh_port', who, path: at });
  const password = reader.secret('password') ?? global.secret('password');
  const pkey = reader.localPath('pkey') ?? global.localPath('pkey');
  if (password) {
    conn.password = password.value;
    if (pkey) {
      ctx.warnings.push({
        message: 'pkey is not used because a password is set',
        location: ctx.source.locate(pkey.path),
        hint: 'iotdbctl logs in with the password when both are given; remove one of them',
      });
    }
  } else if (pkey) {
    conn.privateKeyFile = pkey.value;
  }
  return conn;
}

function readIotdbNode(type: IotdbNodeType, index: number, raw: unknown, shared: Shared): IotdbNode | undefined {
  const { ctx, global, globalProps } = shared;
  const section = SECTION_KEY[type];
  const path: YamlPath = [section, index];
  if (!isPlainMapping(raw)) {
    ctx.errors.push(ctx.source.error(path, `each entry of ${section} must be a mapping (name:, deploy_dir:, …), not ${kindOf(raw)}`));
    return undefined;
  }
  const provisional = `${section}[${index}]`;
  const reader = new SectionReader(ctx, raw, path, provisional);
  const name = reader.text('name');
  const who = name ? where({ name: name.value, path }) : provisional;
  reader.what = who;
  checkSectionKeys(reader, type);
  if (!name) {
    if (!reader.has('name')) ctx.errors.push(ctx.source.error(path, `${provisional} has no name`, `give every node a unique name, e.g. name: ${type}_${index + 1}`));
    return undefined;
  }
  const namePath: YamlPath = [...path, 'name'];
  const props = reader.properties();

  // Keys of the other node type in a server's own properties would be dropped silently; say so instead.
  for (const key of Object.keys(props.values)) {
    const scope = propertyScope(key);
    if (scope !== 'common' && scope !== type) {
      ctx.errors.push(
        ctx.source.error(props.paths[key]!, `${key} is a ${scope === 'confignode' ? 'ConfigNode' : 'DataNode'} setting, but ${name.value} is a ${type === 'confignode' ? 'ConfigNode' : 'DataNode'}`, `move it to a ${SECTION_KEY[scope]} entry or to global`),
      );
    }
  }

  const memo = new Map<string, Setting | undefined>();
  const setting = (key: string): Setting | undefined => {
    if (memo.has(key)) return memo.get(key);
    const top = NODE_PROPERTY_KEYS[type].includes(key) ? reader.text(key) : undefined;
    const inProps = props.values[key];
    let found: Setting | undefined;
    if (top) {
      if (typeof inProps === 'string' && inProps !== top.value) {
        const line = ctx.source.locate(top.path).line;
        ctx.errors.push(
          ctx.source.error(props.paths[key]!, `${key} of ${name.value} is set twice: "${top.value}" at line ${line} and "${inProps}" here`, 'keep one of them'),
        );
      }
      found = { text: top.value, path: top.path, origin: 'server' };
    } else if (typeof inProps === 'string') {
      found = { text: inProps.trim(), path: props.paths[key], origin: 'server properties' };
    } else if (inProps === null) {
      found = undefined;
    } else {
      const g = (key === 'cn_seed_config_node' || key === 'dn_seed_config_node') && global.text(key);
      const gp = globalProps.values[key];
      if (g) found = { text: g.value, path: g.path, origin: 'global' };
      else if (typeof gp === 'string') found = { text: gp.trim(), path: globalProps.paths[key], origin: 'global properties' };
      else {
        const d = PORT_DEFAULTS[type][key];
        found = d === undefined ? undefined : { text: String(d), path: undefined, origin: 'default' };
      }
    }
    memo.set(key, found);
    return found;
  };

  const required = (key: string): Setting | undefined => {
    const s = setting(key);
    if (!s && !reader.has(key)) {
      ctx.errors.push(ctx.source.error(path, `${who} has no ${key}`, `set ${key} on this server; it is required (see the iotdbctl ${section} table)`));
    }
    return s;
  };
  const address = (key: string, internal: boolean): string | undefined => {
    const s = required(key);
    if (!s) return undefined;
    const at = s.path ?? namePath;
    if (s.text === '' || /\s/.test(s.text) || s.text.includes(',')) {
      ctx.errors.push(ctx.source.error(at, `${key} of ${name.value} must be one address, not "${s.text}"`));
      return undefined;
    }
    if (internal && (isWildcardAddress(s.text) || s.text.includes(':'))) {
      ctx.errors.push(
        ctx.source.error(at, `${key} of ${name.value} must be an address other nodes can reach, not "${s.text}"`, 'use the IP address or host name of the machine'),
      );
      return undefined;
    }
    return s.text;
  };

  const ports: IotdbNode['ports'] = [];
  for (const key of Object.keys(PORT_DEFAULTS[type])) {
    const s = setting(key);
    if (!s) continue;
    const port = parsePort(s.text);
    if (port === undefined) {
      ctx.errors.push(ctx.source.error(s.path ?? namePath, `${key} of ${name.value} must be a port number from 1 to 65535, not "${s.text}"`, 'write the port as a number, e.g. 10710'));
      continue;
    }
    ports.push({ key, port, at: s.path ?? namePath, origin: s.origin });
  }

  let machine: string | undefined;
  let endpoint: string | undefined;
  if (type === 'confignode') {
    machine = address('cn_internal_address', true);
    const port = ports.find((p) => p.key === 'cn_internal_port');
    if (machine && port) endpoint = `${machine}:${port.port}`;
  } else {
    const rpc = address('dn_rpc_address', false);
    machine = address('dn_internal_address', true);
    const port = ports.find((p) => p.key === 'dn_rpc_port');
    // A DataNode listening on every address is still found at its machine's address.
    if (rpc && machine && port) endpoint = `${isWildcardAddress(rpc) ? machine : rpc}:${port.port}`;
  }

  const seedKey = type === 'confignode' ? 'cn_seed_config_node' : 'dn_seed_config_node';
  const seedSetting = setting(seedKey);
  const seedTargets: IotdbNode['seedTargets'] = [];
  if (seedSetting) {
    const at = seedSetting.path ?? namePath;
    const entries = seedSetting.text.split(',').map((e) => e.trim()).filter((e) => e !== '');
    if (type === 'confignode' && entries.length > 1) {
      ctx.errors.push(ctx.source.error(at, `cn_seed_config_node of ${name.value} names ${entries.length} ConfigNodes; a ConfigNode joins through exactly one`, 'keep one address:port'));
    } else {
      for (const e of entries) seedTargets.push({ endpoint: e, at, origin: seedSetting.origin });
    }
  }

  shared.asked.deploy_dir++;
  const deploy = reader.remoteDir('deploy_dir') ?? global.remoteDir('deploy_dir');
  if (!deploy && !reader.has('deploy_dir') && !global.has('deploy_dir')) shared.missing.push({ key: 'deploy_dir', who, path });
  const dirNameField = reader.dirName('iotdb_dir_name') ?? global.dirName('iotdb_dir_name');
  const dirName = dirNameField?.value ?? 'iotdb';
  const homeAt = reader.has('deploy_dir') ? reader.at('deploy_dir') : reader.has('iotdb_dir_name') ? reader.at('iotdb_dir_name') : namePath;

  const jdkDeploy = reader.remoteDir('jdk_deploy_dir') ?? global.remoteDir('jdk_deploy_dir');
  const jdkName = (reader.dirName('jdk_dir_name') ?? global.dirName('jdk_dir_name'))?.value ?? 'jdk_iotdb';
  const jdkTar = global.localPath('jdk_tar_dir', 'file');
  const jdk: IotdbJdk | null = jdkDeploy
    ? { tar: jdkTar?.value ?? null, deploy_dir: jdkDeploy.value, dir_name: jdkName, home: posix.join(jdkDeploy.value, jdkName) }
    : null;

  const envKey = type === 'confignode' ? 'confignode-env.sh' : 'datanode-env.sh';
  const env = reader.env(envKey) ?? global.env(envKey);

  const conn = serverConnection(reader, shared, who, path);
  if (!machine || !endpoint || !deploy) return undefined;
  conn.address = machine;

  // Computed values are written whether or not the user gave them: a node's
  // own addresses, ports and seed are what make it this node.
  const computed: Record<string, string> = {};
  const computedPaths: Record<string, YamlPath> = {};
  for (const key of [...NODE_PROPERTY_KEYS[type], ...Object.keys(PORT_DEFAULTS[type])]) {
    const s = setting(key);
    if (!s) continue;
    // Ports as numbers ("10711" and 10711 alike), everything else as written.
    const port = ports.find((p) => p.key === key);
    computed[key] = port ? String(port.port) : s.text;
    if (s.path) computedPaths[key] = s.path;
  }
  const own = mergeProperties(type, [globalProps.values, props.values, computed]);
  const ownPaths: Record<string, YamlPath> = {};
  for (const key of Object.keys(own)) {
    const p = computedPaths[key] ?? props.paths[key] ?? globalProps.paths[key];
    if (p) ownPaths[key] = p;
  }

  return {
    type,
    index,
    name: name.value,
    path,
    namePath,
    props,
    address: machine,
    setting,
    ports,
    endpoint,
    seedTargets,
    deployDir: deploy.value,
    dirName,
    home: posix.join(deploy.value, dirName),
    homeAt,
    jdk,
    env: env?.value ?? null,
    conn,
    own,
    ownPaths,
  };
}

function readExtraServer(type: 'grafana' | 'prometheus', raw: unknown, shared: Shared): ExtraServer | undefined {
  const { ctx } = shared;
  const key = SECTION_KEY[type];
  const path: YamlPath = [key];
  if (!isPlainMapping(raw)) {
    ctx.errors.push(ctx.source.error(path, `${key} must be a mapping (host:, deploy_dir:, …), not ${kindOf(raw)}`));
    return undefined;
  }
  const reader = new SectionReader(ctx, raw, path, key);
  checkSectionKeys(reader, type);
  const before = ctx.errors.length;
  const missing = (k: string): void => {
    if (!reader.has(k)) ctx.errors.push(ctx.source.error(path, `${key} has no ${k}`, `set ${k}; it is required (see the iotdbctl ${key} table)`, true));
  };
  const host = reader.text('host');
  missing('host');
  const conn = serverConnection(reader, shared, key, path);
  if (host && (/\s/.test(host.value) || isWildcardAddress(host.value))) {
    ctx.errors.push(ctx.source.error(host.path, `host in ${key} must be the address of one machine, not "${host.value}"`));
  }
  const deploy = reader.remoteDir('deploy_dir');
  missing('deploy_dir');
  const tar = reader.localPath(`${type}_tar_dir`, 'file');
  missing(`${type}_tar_dir`);
  const port = reader.port(`${type}_port`);
  const dirName = reader.dirName(`${type}_dir_name`)?.value ?? `${type}_iotdb`;
  const dashboards: string[] = [];
  for (const d of reader.list('dashboards')?.value ?? []) {
    const full = resolveInventoryPath(d, ctx.baseDir);
    const problem = localFileProblem(full, 'file-or-dir');
    if (problem) ctx.errors.push(ctx.source.error(reader.at('dashboards'), `dashboard ${d} in ${key} ${problem}`, "fix the path; relative paths start at the topology file's folder"));
    else dashboards.push(full);
  }
  const retentionTime = reader.text('storage_tsdb_retention_time')?.value ?? '15d';
  const retentionSize = reader.text('storage_tsdb_retention_size')?.value ?? null;
  if (!host || !deploy || !tar || ctx.errors.length > before) return undefined;
  conn.address = host.value;
  return {
    type,
    name: type,
    path,
    reader,
    address: host.value,
    port: port?.value ?? (type === 'grafana' ? 3000 : 9090),
    portAt: port?.path ?? [...path, 'host'],
    deployDir: deploy.value,
    dirName,
    home: posix.join(deploy.value, dirName),
    homeAt: deploy.path,
    tar: tar.value,
    conn,
    dashboards,
    retentionTime,
    retentionSize,
  };
}

// ---------------------------------------------------------------------------
// The whole topology.

export function loadIotdbTopology(source: SourceFile, doc: Record<string, unknown>): Inventory {
  const ctx = newLoadContext(source, dirname(resolve(source.path)));
  const { errors } = ctx;

  for (const key of Object.keys(doc)) {
    if ((TOP_LEVEL_KEYS as readonly string[]).includes(key)) continue;
    const guess = didYouMean(key, TOP_LEVEL_KEYS);
    const elsewhere = TOPOLOGY_KEYS.find((k) => k.key === key);
    errors.push(
      source.error(
        [key],
        `unknown key "${key}" in the IoTDB topology`,
        guess ? `did you mean "${guess}"?` : elsewhere ? `${key} belongs under ${elsewhere.sections.map((s) => SECTION_KEY[s]).join(' or ')}` : `allowed keys: ${TOP_LEVEL_KEYS.join(', ')}`,
        true,
      ),
    );
  }
  if ('product' in doc && doc.product !== IOTDB_PRODUCT) errors.push(source.error(['product'], `product must be "${IOTDB_PRODUCT}" in an IoTDB topology`));

  let sshDefaults: ConnectionDraft = {};
  const sshParsed = sshSchema.safeParse(doc.ssh ?? null);
  if (!sshParsed.success) errors.push(...schemaErrors(sshParsed.error, source, ['ssh'], 'ssh', { schema: sshSchema, value: doc.ssh }));
  else if (sshParsed.data) sshDefaults = connectionDraft(sshParsed.data, ['ssh'], 'ssh', ctx);

  let globalRaw: Record<string, unknown> = {};
  if (doc.global !== undefined && doc.global !== null) {
    if (isPlainMapping(doc.global)) globalRaw = doc.global;
    else errors.push(source.error(['global'], `global must be a mapping, not ${kindOf(doc.global)}`));
  }
  const global = new SectionReader(ctx, globalRaw, ['global'], 'global');
  checkSectionKeys(global, 'global');
  const shared: Shared = { ctx, global, globalProps: global.properties(), sshDefaults, missing: [], asked: { user: 0, ssh_port: 0, deploy_dir: 0 } };

  const artefacts = readArtefacts(global, ctx);

  const nodes: IotdbNode[] = [];
  const counts: Record<IotdbNodeType, number> = { confignode: 0, datanode: 0 };
  for (const type of ['confignode', 'datanode'] as const) {
    const key = SECTION_KEY[type];
    const list = doc[key];
    if (list === undefined || list === null || (Array.isArray(list) && list.length === 0)) {
      const what = type === 'confignode' ? 'ConfigNode' : 'DataNode';
      errors.push(source.error(list === undefined ? [] : [key], `the topology has no ${key}: an IoTDB cluster needs at least one ${what}`, `list them under ${key}: - name: …`));
      continue;
    }
    if (!Array.isArray(list)) {
      errors.push(source.error([key], `${key} must be a list of nodes (each starting with "- name:"), not ${kindOf(list)}`));
      continue;
    }
    counts[type] = list.length;
    list.forEach((raw, i) => {
      const node = readIotdbNode(type, i, raw, shared);
      if (node) nodes.push(node);
    });
  }
  const extras: ExtraServer[] = [];
  for (const type of ['prometheus', 'grafana'] as const) {
    const raw = doc[SECTION_KEY[type]];
    if (raw === undefined || raw === null) continue;
    const server = readExtraServer(type, raw, shared);
    if (server) extras.push(server);
  }

  reportMissing(shared, 'global' in doc);
  const withoutJdkDir = nodes.filter((n) => n.jdk === null).map((n) => n.name);
  if (global.has('jdk_tar_dir') && withoutJdkDir.length > 0) {
    const whom = withoutJdkDir.length === nodes.length ? '' : ` for ${withoutJdkDir.join(', ')}`;
    errors.push(
      source.error(global.at('jdk_tar_dir'), `jdk_tar_dir is set but jdk_deploy_dir is not${whom}: runbook would not know where to unpack the JDK`, 'set jdk_deploy_dir (and optionally jdk_dir_name, default jdk_iotdb) under global or on those servers'),
    );
  }

  const confignodes = nodes.filter((n) => n.type === 'confignode');
  const datanodes = nodes.filter((n) => n.type === 'datanode');
  // A node that could not be read would make the seed checks report references to it as wrong.
  const complete = confignodes.length === counts.confignode && datanodes.length === counts.datanode;
  checkNames(nodes, extras, ctx);
  const start = complete ? seedAndStartOrder(confignodes, ctx) : undefined;
  if (complete) checkDataNodeSeeds(datanodes, confignodes, start?.order[0], ctx);
  checkPorts([...nodes, ...extras], ctx);
  const shares = checkFolders(nodes, extras, ctx);
  const cluster = checkClusterWide(nodes, counts.datanode, shared, ctx);
  checkSharedInstallations(shares, ctx);

  const seed = start?.order[0];
  if (errors.length > 0 || !seed || !start || !cluster || !artefacts) {
    const partial = [...nodes, ...extras].map((n) => ({ name: n.name, path: 'namePath' in n ? n.namePath : n.path, connection: n.conn, vars: [] }));
    return failTopology(ctx, 'the IoTDB topology', partial, sshDefaults);
  }

  // The document's defaults for the seeds: a ConfigNode joins through the
  // first ConfigNode (the seed joins itself), a DataNode through the seed.
  for (const cn of confignodes) cn.own.cn_seed_config_node ??= start.target.get(cn)!.endpoint;
  for (const dn of datanodes) dn.own.dn_seed_config_node ??= seed.endpoint;

  const ordered = [...start.order, ...datanodes];
  const fileProps = new Map<IotdbNode, Properties>();
  for (const node of ordered) {
    const partner = shares.get(node);
    if (!partner) fileProps.set(node, node.own);
    else {
      // One installation has one conf/iotdb-system.properties; both nodes must write the same file.
      const [cn, dn] = node.type === 'confignode' ? [node, partner] : [partner, node];
      fileProps.set(node, { ...cn.own, ...dn.own });
    }
  }

  // IoTDB's factory password is public knowledge. Registering "root" with the
  // secret masker would mask every "root" in the output (the ssh user, /root
  // paths), so the default prints as a mask and reveals "root", but hides nothing else.
  const secrets = new Map<string, Secret>();
  const adminSecret = (password: string): Secret => {
    let s = secrets.get(password);
    if (!s) secrets.set(password, (s = password === DEFAULT_ADMIN.password ? new FactoryDefaultPassword(DEFAULT_ADMIN.password, 'IoTDB default') : new Secret(password, 'iotdb-system.properties admin_password')));
    return s;
  };
  const firstDn = datanodes[0]!;
  const hostVars = new Map<string, IotdbNodeVars>();
  ordered.forEach((node, order) => {
    const metrics = metricsPort(node.type, node.own);
    const clean = cleanDirs(node.type, node.own, node.home);
    const dn = node.type === 'datanode' ? node : firstDn;
    hostVars.set(node.name, {
      node_type: node.type,
      cluster_name: cluster.name,
      deploy_dir: node.deployDir,
      dir_name: node.dirName,
      home: node.home,
      ...artefacts,
      jdk: node.jdk ? { ...node.jdk, tar_name: jdkTarName(node.jdk.tar) } : null,
      properties: fileProps.get(node)!,
      env: { file: node.type === 'confignode' ? 'confignode-env.sh' : 'datanode-env.sh', extra_opts: node.env },
      ports: [...node.ports.map((p) => p.port), ...(metrics === undefined ? [] : [metrics])],
      endpoint: node.endpoint,
      is_seed: node === seed,
      cli: {
        ...cliEndpoint(node, dn),
        user: node.own.admin_name ?? DEFAULT_ADMIN.user,
        password: adminSecret(node.own.admin_password ?? DEFAULT_ADMIN.password),
      },
      clean_dirs: clean,
      destroy_dirs: destroyDirs(clean, node.home),
      start_order: order,
      shares_home_with: shares.get(node)?.name ?? null,
      deployed_record: `${node.home}/.runbook-deployed-${node.type}`,
      // In a shared installation IoTDB keeps each node type's data under
      // data/<type> (more than the configured folders: pipe and temporary
      // files too); that and the node's own runbook marks there go, the rest stays.
      scalein_dirs: shares.has(node)
        ? [
            ...outermost([`${node.home}/data/${node.type}`, ...dataDirs(node.type, fileProps.get(node)!, node.home).map((d) => d.dir)]),
            `${node.home}/.runbook-deployed-${node.type}`,
            `${node.home}/.runbook-lib-pending-${node.type}`,
          ]
        : destroyDirs(clean, node.home),
      seed_key: node.type === 'confignode' ? 'cn_seed_config_node' : 'dn_seed_config_node',
      property_defaults: PROPERTY_DEFAULTS,
      tsfile_dirs: dataDirs(node.type, fileProps.get(node)!, node.home).filter((d) => d.key === 'dn_data_dirs').map((d) => d.dir),
      time_partition_interval_ms: timePartitionInterval(fileProps.get(node)!),
      seed_targets: splitSeeds(fileProps.get(node)![node.type === 'confignode' ? 'cn_seed_config_node' : 'dn_seed_config_node']),
      ...runtimeVars(node.type, node.home, fileProps.get(node)!, node.endpoint, node.jdk?.home),
    });
  });

  const prometheus = extras.find((e) => e.type === 'prometheus');
  let order = ordered.length;
  for (const extra of extras) {
    hostVars.set(extra.name, {
      node_type: extra.type,
      cluster_name: cluster.name,
      deploy_dir: extra.deployDir,
      dir_name: extra.dirName,
      home: extra.home,
      zip: null,
      zip_name: null,
      download_url: null,
      top_dir: null,
      jdk: null,
      lib_dir: null,
      properties: null,
      env: null,
      ports: [extra.port],
      endpoint: `${extra.address}:${extra.port}`,
      is_seed: false,
      cli: null,
      clean_dirs: [],
      destroy_dirs: [extra.home],
      start_order: order++,
      shares_home_with: null,
      deployed_record: null,
      scalein_dirs: [],
      seed_key: null,
      seed_targets: [],
      property_defaults: {},
      tsfile_dirs: [],
      time_partition_interval_ms: DEFAULT_TIME_PARTITION_MS,
      ...(extra.type === 'grafana' ? { grafana: grafanaVars(extra, prometheus) } : { prometheus: prometheusVars(extra, ordered) }),
    });
  }

  const clusterVars: IotdbClusterVars = {
    name: cluster.name,
    confignodes: start.order.map((n) => n.name),
    datanodes: datanodes.map((n) => n.name),
    seed: seed.name,
    replication: cluster.replication,
    cli_endpoints: datanodes.map((n) => n.endpoint),
  };

  const hostDrafts: HostDraft[] = [
    ...ordered.map((n) => ({
      name: n.name,
      path: n.namePath,
      connection: n.conn,
      vars: [{ values: { iotdb: hostVars.get(n.name) }, path: n.path }],
      aliases: [n.endpoint],
    })),
    ...extras.map((e) => ({
      name: e.name,
      path: e.path,
      connection: e.conn,
      vars: [{ values: { iotdb: hostVars.get(e.name) }, path: e.path }],
      aliases: [`${e.address}:${e.port}`],
    })),
  ];
  const refs = (list: IotdbNode[]): Array<{ name: string; path: YamlPath }> => list.map((n) => ({ name: n.name, path: n.namePath }));
  const groups: GroupDraft[] = [
    { name: 'confignodes', path: ['confignode_servers'], hosts: refs(start.order), children: [], vars: [] },
    { name: 'datanodes', path: ['datanode_servers'], hosts: refs(datanodes), children: [], vars: [] },
    {
      name: 'iotdb',
      path: [],
      hosts: [],
      children: [
        { name: 'confignodes', path: ['confignode_servers'] },
        { name: 'datanodes', path: ['datanode_servers'] },
      ],
      vars: [],
    },
    { name: 'seed', path: seed.namePath, hosts: refs([seed]), children: [], vars: [] },
  ];
  const draft: InventoryDraft = { form: 'runbook', defaults: sshDefaults, vars: [{ values: { iotdb_cluster: clusterVars }, path: [] }], hosts: hostDrafts, groups };
  const inv = topologyInventory(IOTDB_PRODUCT, draft, ctx);
  // Grafana and Prometheus are both a host and a group of that one host, so
  // `-N grafana` means the same either way; buildInventory forbids the clash
  // for hand-written inventories, where the two could differ.
  for (const extra of extras) {
    inv.groups.set(extra.type, { name: extra.type, hosts: [extra.name], vars: {}, children: [], location: source.locate(extra.path, true) });
    inv.hosts.get(extra.name)!.groups.push(extra.type);
  }
  return inv;
}

const MISSING_HINTS: Record<Shared['missing'][number]['key'], string> = {
  user: 'the ssh login user, e.g. user: root',
  ssh_port: 'the ssh port, e.g. ssh_port: 22',
  deploy_dir: 'the folder IoTDB is installed in on each machine, e.g. deploy_dir: /home/iotdb',
};

/** One error at global when no server has a required setting, else one per server that lacks it. */
function reportMissing(shared: Shared, hasGlobal: boolean): void {
  const { ctx } = shared;
  for (const key of ['user', 'ssh_port', 'deploy_dir'] as const) {
    const lacking = shared.missing.filter((m) => m.key === key);
    if (lacking.length === 0) continue;
    if (lacking.length === shared.asked[key] && lacking.length > 1) {
      ctx.errors.push(ctx.source.error(hasGlobal ? ['global'] : [], `${key} is not set: global has none, and neither has any server`, `set it under global: ${MISSING_HINTS[key]}`, true));
      continue;
    }
    for (const m of lacking) {
      ctx.errors.push(ctx.source.error(m.path, `${m.who} has no ${key}`, `set it under global or on this server: ${MISSING_HINTS[key]}`, m.path.length === 1));
    }
  }
}

/** The archives every IoTDB node gets, from global; undefined when they are missing or wrong. */
function readArtefacts(global: SectionReader, ctx: LoadContext): Pick<IotdbHostVars, 'zip' | 'zip_name' | 'download_url' | 'top_dir' | 'lib_dir'> | undefined {
  const zip = global.localPath('iotdb_zip_dir', 'file');
  const url = global.url('iotdb_download_url');
  const lib = global.localPath('iotdb_lib_dir', 'file-or-dir');
  global.localPath('jdk_tar_dir', 'file');
  if (zip && !/\.zip$/i.test(zip.value)) {
    ctx.errors.push(ctx.source.error(zip.path, `iotdb_zip_dir must name the IoTDB .zip archive, not ${basename(zip.value)}`, 'for example /home/data/apache-iotdb-1.3.0-all-bin.zip'));
    return undefined;
  }
  if (!global.has('iotdb_zip_dir') && !global.has('iotdb_download_url')) {
    ctx.errors.push(ctx.source.error(['global'], 'neither iotdb_zip_dir nor iotdb_download_url is set: there is no IoTDB to install', 'set iotdb_zip_dir to the local apache-iotdb-<version>-all-bin.zip, or iotdb_download_url', true));
    return undefined;
  }
  if (global.has('iotdb_zip_dir') ? !zip : !url) return undefined;
  if (global.has('iotdb_lib_dir') && !lib) return undefined;
  const zipName = zip ? basename(zip.value) : decodeURIComponent(posix.basename(new URL(url!.value).pathname));
  return {
    zip: zip?.value ?? null,
    zip_name: zipName,
    download_url: url?.value ?? null,
    top_dir: archiveTopDir(zipName),
    lib_dir: lib?.value ?? null,
  };
}

/** Unique names, and none that would select a group instead. */
function checkNames(nodes: IotdbNode[], extras: ExtraServer[], ctx: LoadContext): void {
  const seen = new Map<string, IotdbNode>();
  for (const node of nodes) {
    const first = seen.get(node.name);
    if (first) {
      ctx.errors.push(
        ctx.source.error(node.namePath, `node name "${node.name}" is used twice`, `${where(first)} at line ${ctx.source.locate(first.namePath).line} has it too; names select nodes (-N), so each must be unique`, false),
      );
      continue;
    }
    seen.set(node.name, node);
    if (GROUP_NAMES.includes(node.name) || extras.some((e) => e.name === node.name)) {
      ctx.errors.push(ctx.source.error(node.namePath, `node name "${node.name}" is the name of a group runbook makes`, `reserved: ${GROUP_NAMES.join(', ')}; rename the node, e.g. ${node.type}_${node.index + 1}`));
    }
  }
}

/**
 * The seed is the ConfigNode whose cn_seed_config_node is its own endpoint.
 * Every other ConfigNode joins through another one, which must start first.
 * Returns the ConfigNodes in start order (seed first) and whom each joins, or
 * undefined after errors.
 */
function seedAndStartOrder(cns: IotdbNode[], ctx: LoadContext): { order: IotdbNode[]; target: Map<IotdbNode, IotdbNode> } | undefined {
  if (cns.length === 0) return undefined;
  const byEndpoint = new Map(cns.map((n) => [n.endpoint, n]));
  const target = new Map<IotdbNode, IotdbNode>();
  const reported = new Set<string>();
  let bad = false;
  for (const node of cns) {
    const t = node.seedTargets[0];
    if (!t) {
      // No value anywhere: the document's default is the first ConfigNode.
      target.set(node, cns[0]!);
      continue;
    }
    const found = byEndpoint.get(t.endpoint);
    if (found) {
      target.set(node, found);
      continue;
    }
    bad = true;
    reportSeed('cn_seed_config_node', node, t, cns, undefined, reported, ctx);
  }
  const seeds = cns.filter((n) => target.get(n) === n);
  if (seeds.length === 0 && !bad) {
    const first = cns[0]!;
    ctx.errors.push(
      ctx.source.error(
        first.seedTargets[0]?.at ?? first.namePath,
        'no ConfigNode has cn_seed_config_node pointing at itself, so none can start the cluster',
        `the seed ConfigNode points at its own cn_internal_address:cn_internal_port; for ${first.name} that is ${first.endpoint}`,
      ),
    );
  }
  for (const extra of seeds.slice(1)) {
    ctx.errors.push(
      ctx.source.error(
        extra.seedTargets[0]?.at ?? extra.namePath,
        `${extra.name} also points cn_seed_config_node at itself; only one ConfigNode (the seed, here ${seeds[0]!.name}) may start a new cluster`,
        `point it at the seed: ${seeds[0]!.endpoint}`,
      ),
    );
  }
  if (bad || seeds.length !== 1) return undefined;

  // Start a ConfigNode once the one it joins through runs; among those ready, keep the configured order.
  const order: IotdbNode[] = [seeds[0]!];
  const started = new Set(order);
  while (order.length < cns.length) {
    const next = cns.find((n) => !started.has(n) && started.has(target.get(n)!));
    if (!next) {
      const stuck = cns.find((n) => !started.has(n))!;
      ctx.errors.push(
        ctx.source.error(
          stuck.seedTargets[0]?.at ?? stuck.namePath,
          `cn_seed_config_node values form a loop: ${stuck.name} can never join, as the ConfigNode it points at never starts`,
          `point it at the seed: ${seeds[0]!.endpoint}`,
        ),
      );
      return undefined;
    }
    order.push(next);
    started.add(next);
  }
  return { order, target };
}

function checkDataNodeSeeds(dns: IotdbNode[], cns: IotdbNode[], seed: IotdbNode | undefined, ctx: LoadContext): void {
  if (cns.length === 0) return;
  const endpoints = new Set(cns.map((c) => c.endpoint));
  const reported = new Set<string>();
  for (const node of dns) {
    for (const t of node.seedTargets) {
      if (!endpoints.has(t.endpoint)) reportSeed('dn_seed_config_node', node, t, cns, seed, reported, ctx);
    }
  }
}

/** A seed reference to no configured ConfigNode; a value from global is reported once, not once per node. */
function reportSeed(
  key: string,
  node: IotdbNode,
  t: IotdbNode['seedTargets'][number],
  cns: IotdbNode[],
  seed: IotdbNode | undefined,
  reported: Set<string>,
  ctx: LoadContext,
): void {
  const fromGlobal = t.origin === 'global' || t.origin === 'global properties';
  const id = `${t.at.join('\u0000')}|${t.endpoint}`;
  if (fromGlobal && reported.has(id)) return;
  reported.add(id);
  const whose = fromGlobal ? `${key} in global` : `${key} of ${node.name}`;
  ctx.errors.push(
    ctx.source.error(t.at, `${whose} is "${t.endpoint}", which is not the cn_internal_address:cn_internal_port of any ConfigNode in this topology`, seedHint(t.endpoint, cns, seed)),
  );
}

function seedHint(endpoint: string, cns: IotdbNode[], seed?: IotdbNode): string {
  const addr = endpoint.replace(/:[^:]*$/, '');
  const sameAddress = cns.find((c) => c.address === addr);
  const close = sameAddress ?? cns.find((c) => c.endpoint === didYouMean(endpoint, cns.map((n) => n.endpoint)));
  if (close) return `did you mean "${close.endpoint}" (${close.name})?`;
  const s = seed ?? cns[0]!;
  return `use the seed ConfigNode ${s.endpoint} (${s.name}); ConfigNodes here: ${cns.map((c) => `${c.endpoint} (${c.name})`).join(', ')}`;
}

type Listener = { name: string; address: string; ports: Array<{ key: string; port: number; at: YamlPath; origin: Origin }> };

/** Two nodes on one machine cannot listen on one port (nor one node twice). */
function checkPorts(servers: Array<IotdbNode | ExtraServer>, ctx: LoadContext): void {
  const listeners: Listener[] = servers.map((s) =>
    'ports' in s
      ? { name: s.name, address: s.address, ports: [...s.ports, ...metricsListener(s)] }
      : { name: s.name, address: s.address, ports: [{ key: `${s.type}_port`, port: s.port, at: s.portAt, origin: s.reader.has(`${s.type}_port`) ? 'server' : 'default' }] },
  );
  const used = new Map<string, Set<number>>();
  for (const l of listeners) {
    const set = used.get(l.address) ?? new Set<number>();
    for (const p of l.ports) set.add(p.port);
    used.set(l.address, set);
  }
  type Owner = { name: string; key: string; at: YamlPath; origin: Origin };
  const taken = new Map<string, Owner>();
  // Clashes at one yaml position with one other node are one problem: two
  // DataNodes on a machine with default ports clash on all five at once.
  const clashes = new Map<string, { l: Listener; first: Owner; at: YamlPath; ports: Listener['ports'] }>();
  for (const l of listeners) {
    for (const p of l.ports) {
      const k = `${l.address}:${p.port}`;
      const first = taken.get(k);
      if (!first) {
        taken.set(k, { name: l.name, key: p.key, at: p.at, origin: p.origin });
        continue;
      }
      const id = `${l.name}|${first.name}|${p.at.join('\u0000')}`;
      const c = clashes.get(id) ?? { l, first, at: p.at, ports: [] };
      c.ports.push(p);
      clashes.set(id, c);
    }
  }
  for (const { l, first, at, ports } of clashes.values()) {
    const free = ports.map((p) => {
      let f = p.port + 1;
      const set = used.get(l.address)!;
      while (set.has(f)) f++;
      set.add(f);
      return f;
    });
    const keys = ports.map((p) => p.key);
    const dflt = ports.every((p) => p.origin === 'default') ? ' (the default)' : '';
    const firstWhere = first.origin === 'default' ? 'uses it by default' : `sets it at line ${ctx.source.locate(first.at).line}`;
    if (ports.length === 1) {
      ctx.errors.push(
        ctx.source.error(
          at,
          `port ${ports[0]!.port} on ${l.address} is taken twice: ${l.name}'s ${keys[0]}${dflt} and ${first.name}'s ${first.key}`,
          `${first.name} ${firstWhere}; nodes on one machine need their own ports: set ${keys[0]} of ${l.name} to another port, e.g. ${free[0]}`,
        ),
      );
    } else {
      ctx.errors.push(
        ctx.source.error(
          at,
          `ports ${ports.map((p) => p.port).join(', ')} on ${l.address} are taken twice: ${l.name}${dflt ? ' (by default)' : ''} and ${first.name} both listen on them`,
          `nodes on one machine need their own ports: under iotdb-system.properties of ${l.name} set ${keys.map((k, i) => `${k}: ${free[i]}`).join(', ')}`,
        ),
      );
    }
  }
}

function metricsListener(node: IotdbNode): IotdbNode['ports'] {
  const port = metricsPort(node.type, node.own);
  if (port === undefined) return [];
  const key = node.type === 'confignode' ? 'cn_metric_prometheus_reporter_port' : 'dn_metric_prometheus_reporter_port';
  return [{ key, port, at: node.ownPaths[key] ?? node.namePath, origin: node.ownPaths[key] ? 'server properties' : 'default' }];
}

interface OwnedDir {
  dir: string;
  key: string;
  at: YamlPath;
  isHome: boolean;
}

/**
 * Folders on one machine belong to one node: clean and destroy of one node
 * must not delete another's data. The exception is IoTDB's own layout, one
 * installation running one ConfigNode and one DataNode; returns those pairs.
 */
function checkFolders(nodes: IotdbNode[], extras: ExtraServer[], ctx: LoadContext): Map<IotdbNode, IotdbNode> {
  const shares = new Map<IotdbNode, IotdbNode>();
  const owners: Array<{ name: string; address: string; node?: IotdbNode; dirs: OwnedDir[] }> = [];
  for (const node of nodes) {
    const dirs: OwnedDir[] = [{ dir: node.home, key: 'deploy_dir', at: node.homeAt, isHome: true }];
    for (const d of dataDirs(node.type, node.own, node.home)) {
      const at = node.ownPaths[d.key] ?? node.namePath;
      if (PROTECTED_DIRS.has(d.dir)) {
        // Reported once here; comparing it with other nodes' folders would only repeat it.
        ctx.errors.push(ctx.source.error(at, `${d.key} of ${node.name} is ${d.dir}: clean would delete it`, 'give IoTDB a folder of its own, e.g. /data/iotdb'));
        continue;
      }
      dirs.push({ dir: d.dir, key: d.key, at, isHome: false });
    }
    if (PROTECTED_DIRS.has(node.home)) ctx.errors.push(ctx.source.error(node.homeAt, `${node.name} would be installed in ${node.home}, which destroy would delete`, 'set iotdb_dir_name'));
    owners.push({ name: node.name, address: node.address, node, dirs });
  }
  for (const e of extras) {
    owners.push({ name: e.name, address: e.address, dirs: [{ dir: e.home, key: 'deploy_dir', at: e.homeAt, isHome: true }] });
  }

  for (let j = 1; j < owners.length; j++) {
    const b = owners[j]!;
    let reported = false;
    for (let i = 0; i < j && !reported; i++) {
      const a = owners[i]!;
      if (a.address !== b.address) continue;
      const pair = a.node && b.node && a.node.type !== b.node.type && a.node.home === b.node.home ? [a.node, b.node] : undefined;
      if (pair && !shares.has(pair[0]!) && !shares.has(pair[1]!)) {
        shares.set(pair[0]!, pair[1]!);
        shares.set(pair[1]!, pair[0]!);
      }
      const shared = pair !== undefined && shares.get(pair[0]!) === pair[1];
      for (const db of b.dirs) {
        // In a shared installation each node's data lies inside the other's home; only data against data counts.
        const clash = a.dirs.find((da) => (shared ? !da.isHome && !db.isHome : true) && (isInside(db.dir, da.dir) || isInside(da.dir, db.dir)));
        if (!clash) continue;
        const same = clash.dir === db.dir;
        const what = same ? `both use ${db.dir}` : `use ${db.dir} and ${clash.dir}, one inside the other`;
        ctx.errors.push(
          ctx.source.error(
            db.at,
            `${b.name} (${db.key}) and ${a.name} (${clash.key}) ${what} on ${b.address}`,
            db.isHome && clash.isHome
              ? 'each node on a machine needs its own installation (only one ConfigNode and one DataNode may share one): set a different deploy_dir or iotdb_dir_name'
              : 'clean and destroy of one node would delete the other\'s data: give each node its own folders',
          ),
        );
        reported = true;
        break;
      }
    }
  }
  return shares;
}

interface ClusterSettings {
  name: string;
  replication: { schema: number; data: number };
}

/** Settings IoTDB needs equal on every node, and the replication factors against the DataNode count. */
function checkClusterWide(nodes: IotdbNode[], dataNodeCount: number, shared: Shared, ctx: LoadContext): ClusterSettings | undefined {
  const { globalProps } = shared;
  const expected = (key: string): string => globalProps.values[key] ?? CLUSTER_WIDE_DEFAULTS[key] ?? '';
  let bad = false;
  for (const node of nodes) {
    for (const key of Object.keys(CLUSTER_WIDE_DEFAULTS)) {
      const written = node.props.values[key];
      if (written === undefined) continue;
      // null drops global's value, leaving IoTDB's default.
      const mine = written ?? CLUSTER_WIDE_DEFAULTS[key]!;
      if (mine === expected(key)) continue;
      bad = true;
      ctx.errors.push(
        ctx.source.error(
          node.props.paths[key]!,
          `${key} of ${node.name} is "${mine}" but "${expected(key)}" for the rest of the cluster`,
          'IoTDB nodes refuse to start when cluster-wide settings differ; set it once under global iotdb-system.properties',
        ),
      );
    }
  }
  const replication = { schema: 1, data: 1 };
  for (const kind of ['schema', 'data'] as const) {
    const key = `${kind}_replication_factor`;
    const text = expected(key);
    const at = globalProps.paths[key] ?? ['global'];
    const n = /^[0-9]+$/.test(text.trim()) ? Number(text.trim()) : NaN;
    if (!Number.isInteger(n) || n < 1) {
      bad = true;
      ctx.errors.push(ctx.source.error(at, `${key} must be a whole number of at least 1, not "${text}"`));
      continue;
    }
    replication[kind] = n;
    if (dataNodeCount > 0 && n > dataNodeCount) {
      bad = true;
      ctx.errors.push(
        ctx.source.error(
          at,
          `${key} is ${n}, but the topology has ${dataNodeCount} DataNode${dataNodeCount === 1 ? '' : 's'}`,
          `IoTDB serves only with at least as many DataNodes as replicas: add DataNodes or lower ${key} to ${dataNodeCount}`,
        ),
      );
    }
  }
  if (bad) return undefined;
  return { name: expected('cluster_name'), replication };
}

/** Two nodes sharing an installation write one properties file: their common settings must agree. */
function checkSharedInstallations(shares: Map<IotdbNode, IotdbNode>, ctx: LoadContext): void {
  for (const [dn, cn] of shares) {
    if (dn.type !== 'datanode') continue;
    for (const [key, value] of Object.entries(dn.own)) {
      if (propertyScope(key) !== 'common' || cn.own[key] === undefined || cn.own[key] === value) continue;
      ctx.errors.push(
        ctx.source.error(
          dn.ownPaths[key] ?? cn.ownPaths[key] ?? dn.namePath,
          `${key} is "${value}" for ${dn.name} but "${cn.own[key]}" for ${cn.name}, which share ${dn.home}/conf/iotdb-system.properties`,
          'nodes installed in one folder read one properties file: give them the same value, or separate installations (deploy_dir / iotdb_dir_name)',
        ),
      );
    }
  }
}

/** Where start-cli.sh on `node`'s machine reaches DataNode `dn`. */
function cliEndpoint(node: IotdbNode, dn: IotdbNode): { host: string; port: number } {
  const rpc = dn.setting('dn_rpc_address')!.text;
  const port = dn.ports.find((p) => p.key === 'dn_rpc_port')!.port;
  if (!isWildcardAddress(rpc)) return { host: rpc, port };
  return { host: dn.address === node.address ? '127.0.0.1' : dn.address, port };
}

/** IoTDB's default time_partition_interval: one week. */
const DEFAULT_TIME_PARTITION_MS = 604_800_000;

function timePartitionInterval(props: Properties): number {
  const v = Number((props.time_partition_interval ?? '').trim());
  return Number.isSafeInteger(v) && v > 0 ? v : DEFAULT_TIME_PARTITION_MS;
}

/** `a:1,b:2` → ['a:1', 'b:2']. */
function splitSeeds(value: string | undefined): string[] {
  return (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function grafanaVars(g: ExtraServer, prometheus: ExtraServer | undefined): IotdbGrafanaVars {
  return {
    tar: g.tar,
    tar_name: basename(g.tar),
    dashboards: g.dashboards,
    prometheus_url: prometheus ? `http://${prometheus.address}:${prometheus.port}` : null,
  };
}

function prometheusVars(p: ExtraServer, nodes: IotdbNode[]): IotdbPrometheusVars {
  const targets: IotdbPrometheusVars['targets'] = [];
  for (const n of nodes) {
    const port = metricsPort(n.type, n.own);
    if (port !== undefined) targets.push({ node: n.name, node_type: n.type, endpoint: `${n.address}:${port}` });
  }
  return { tar: p.tar, tar_name: basename(p.tar), retention_time: p.retentionTime, retention_size: p.retentionSize, targets };
}
