// Writes an iotdbctl cluster topology aimed at a test's own lab, in the
// documented iotdbctl form (global, confignode_servers, datanode_servers), so
// end-to-end tests drive the built-in IoTDB playbooks the way a user would.
// It also returns what the tests need to check the hosts: each node's machine,
// installation, data folders, process pattern and the `-N` endpoint.
//
// Layouts follow the lab inventories (inventories/lab-1c1d.yaml,
// lab-3c3d.yaml): every node has its own installation (<deploy_dir>/confignode,
// <deploy_dir>/datanode) and its data outside it, under <data_dir>. 1c1d puts
// both nodes on one machine, 3c3d one ConfigNode and one DataNode on each of
// three. Heartbeats are 200 ms (the simulated IoTDB honours
// heartbeat_interval_in_ms), so Running/Unknown settle within a second.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { LabHost } from '../../engine/lab/index.js';

export type IotdbLayout = '1c1d' | '3c3d';

export interface IotdbTopologyOptions {
  lab: { hosts: LabHost[]; keyPath: string; knownHostsPath: string };
  layout: IotdbLayout;
  /** The simulated package on the controller (`runbook lab package iotdb`). */
  packagePath: string;
  /** Folder the topology is written to. */
  dir: string;
  /** Default `<layout>.yaml`; writing the same name again replaces the file. */
  fileName?: string;
  /** Lab host names to use, in order. Default: the first one (1c1d) or the first three (3c3d). */
  hosts?: string[];
  /** Default `e2e_<layout>`. */
  clusterName?: string;
  /** Default `/opt/iotdb-<layout>`. */
  deployDir?: string;
  /** Default `/data/iotdb-<layout>`. */
  dataDir?: string;
  /** Extra global iotdb-system.properties (they win over the helper's own). */
  properties?: Record<string, string | number>;
  /** Written as global dn_seed_config_node instead of the default (the seed ConfigNode). */
  dnSeed?: string;
  /** Keys merged into one server's entry, by node name (e.g. its own dn_seed_config_node). */
  nodeOverrides?: Record<string, Record<string, unknown>>;
}

export type IotdbNodeType = 'confignode' | 'datanode';

export interface IotdbTopologyNode {
  name: string;
  type: IotdbNodeType;
  /** The lab host (node1, …) the node runs on. */
  labHost: string;
  address: string;
  /** Where it is installed: <deploy_dir>/<confignode|datanode>. */
  home: string;
  /** How `-N` names it by address: cn_internal_address:cn_internal_port or dn_rpc_address:dn_rpc_port. */
  endpoint: string;
  /** The InternalPort `show cluster` reports for it. */
  internalPort: number;
  /** Every port it listens on. */
  ports: number[];
  /** Its data folders outside the installation (what `clean` deletes besides <home>/data, logs, ext). */
  dataDirs: string[];
  /** An extended regular expression matching this node's process only (for pgrep -f). */
  processPattern: string;
  /** The node's own log. */
  logFile: string;
  /** Its iotdb-system.properties on the host. */
  propertiesFile: string;
}

export interface IotdbTopology {
  path: string;
  clusterName: string;
  deployDir: string;
  dataDir: string;
  nodes: IotdbTopologyNode[];
  node(name: string): IotdbTopologyNode;
  /** Every folder `clean` must delete on a node's machine, per node. */
  cleanDirs(node: IotdbTopologyNode): string[];
}

const MAIN_CLASS: Record<IotdbNodeType, string> = {
  confignode: 'org.apache.iotdb.confignode.service.ConfigNode',
  datanode: 'org.apache.iotdb.db.service.DataNode',
};

const CN_PORTS = [10710, 10720];
const DN_PORTS = [6667, 10730, 10740, 10750, 10760];

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function writeIotdbTopology(opts: IotdbTopologyOptions): IotdbTopology {
  const count = opts.layout === '1c1d' ? 1 : 3;
  const names = opts.hosts ?? opts.lab.hosts.slice(0, count).map((h) => h.name);
  if (names.length !== count) throw new Error(`a ${opts.layout} topology needs ${count} lab host(s), got ${names.length}`);
  const machines = names.map((n) => {
    const h = opts.lab.hosts.find((x) => x.name === n);
    if (!h) throw new Error(`the lab has no host ${n}`);
    return h;
  });
  const clusterName = opts.clusterName ?? `e2e_${opts.layout}`;
  const deployDir = opts.deployDir ?? `/opt/iotdb-${opts.layout}`;
  const dataDir = opts.dataDir ?? `/data/iotdb-${opts.layout}`;
  const seed = `${machines[0]!.address}:10710`;

  const nodes: IotdbTopologyNode[] = [];
  const describe = (type: IotdbNodeType, index: number, machine: LabHost): IotdbTopologyNode => {
    const home = `${deployDir}/${type}`;
    const dataDirs =
      type === 'confignode'
        ? [`${dataDir}/confignode/system`, `${dataDir}/confignode/consensus`]
        : [`${dataDir}/datanode/data`, `${dataDir}/datanode/consensus`, `${dataDir}/datanode/system`, `${dataDir}/datanode/wal`];
    return {
      name: `${type}_${index + 1}`,
      type,
      labHost: machine.name,
      address: machine.address,
      home,
      endpoint: `${machine.address}:${type === 'confignode' ? 10710 : 6667}`,
      internalPort: type === 'confignode' ? 10710 : 10730,
      ports: type === 'confignode' ? CN_PORTS : DN_PORTS,
      dataDirs,
      processPattern: `${escapeRegex(home)}/.*${escapeRegex(MAIN_CLASS[type])}`,
      logFile: `${home}/logs/log_${type}_all.log`,
      propertiesFile: `${home}/conf/iotdb-system.properties`,
    };
  };
  machines.forEach((m, i) => nodes.push(describe('confignode', i, m)));
  machines.forEach((m, i) => nodes.push(describe('datanode', i, m)));

  const server = (n: IotdbTopologyNode): Record<string, unknown> => {
    const base: Record<string, unknown> =
      n.type === 'confignode'
        ? { name: n.name, iotdb_dir_name: 'confignode', cn_internal_address: n.address, cn_internal_port: 10710, cn_consensus_port: 10720 }
        : { name: n.name, iotdb_dir_name: 'datanode', dn_rpc_address: n.address, dn_internal_address: n.address, dn_rpc_port: 6667, dn_internal_port: 10730 };
    return { ...base, ...(opts.nodeOverrides?.[n.name] ?? {}) };
  };

  const topology = {
    ssh: { known_hosts: opts.lab.knownHostsPath },
    global: {
      user: 'root',
      pkey: opts.lab.keyPath,
      ssh_port: 22,
      deploy_dir: deployDir,
      iotdb_zip_dir: opts.packagePath,
      cn_seed_config_node: seed,
      dn_seed_config_node: opts.dnSeed ?? seed,
      'iotdb-system.properties': {
        cluster_name: clusterName,
        schema_replication_factor: count,
        data_replication_factor: opts.layout === '1c1d' ? 1 : 2,
        heartbeat_interval_in_ms: 200,
        cn_system_dir: `${dataDir}/confignode/system`,
        cn_consensus_dir: `${dataDir}/confignode/consensus`,
        dn_data_dirs: `${dataDir}/datanode/data`,
        dn_consensus_dir: `${dataDir}/datanode/consensus`,
        dn_system_dir: `${dataDir}/datanode/system`,
        dn_wal_dirs: `${dataDir}/datanode/wal`,
        ...(opts.properties ?? {}),
      },
    },
    confignode_servers: nodes.filter((n) => n.type === 'confignode').map(server),
    datanode_servers: nodes.filter((n) => n.type === 'datanode').map(server),
  };

  mkdirSync(opts.dir, { recursive: true });
  const path = join(opts.dir, opts.fileName ?? `${opts.layout}.yaml`);
  writeFileSync(path, `# ${opts.layout} topology for an end-to-end test (written by test/support/iotdb-topology.ts)\n${stringify(topology)}`);

  return {
    path,
    clusterName,
    deployDir,
    dataDir,
    nodes,
    node(name: string): IotdbTopologyNode {
      const n = nodes.find((x) => x.name === name);
      if (!n) throw new Error(`the topology has no node ${name}`);
      return n;
    },
    cleanDirs(n: IotdbTopologyNode): string[] {
      return [`${n.home}/data`, ...n.dataDirs, `${n.home}/logs`, `${n.home}/ext`];
    },
  };
}
