// An OpenMLDB cluster topology (`product: openmldb`) as a runbook inventory.
//
// The form follows OpenMLDB's start/stop document and its one-click
// deployment: TabletServers, NameServers, an optional TaskManager and
// APIServer, each at an endpoint (ip:port) with a deploy folder, all sharing
// one ZooKeeper (zk_cluster) under one zk_root_path. ZooKeeper is either an
// ensemble runbook runs (`zookeeper: servers:`, deployed from a ZooKeeper
// release archive, `zookeeper: package:`) or an existing one
// (`cluster: zk_cluster:`). The components can also come from
// an existing one-click `conf/hosts` (`cluster: conf_hosts:`). The cluster
// records whether it is managed the one-click way (sbin/start-all.sh) or
// manually (bin/start.sh per component): the document forbids mixing them,
// so deploy writes the mode on every component and the lifecycle playbooks
// refuse the other one.
//
// Reading goes: the document's shape with zod (errors at their yaml line,
// "did you mean" for misspelt keys), then what only the whole cluster shows
// (unique names and endpoints, ports and folders shared on one machine, flags
// runbook writes itself, ZooKeeper given twice or not at all). Everything is
// collected and thrown together before any host is touched; hosts then go
// through the generic buildInventory.

import { posix } from 'node:path';
import { z } from 'zod';
import { InputError } from '../../errors.js';
import { optionalConnectionDraft, sshSchema, type ConnectionDraft, type GroupDraft, type HostDraft } from '../../inventory/runbook-form.js';
import type { LoadContext } from '../../inventory/secrets.js';
import type { Inventory, ProductAdapter } from '../../inventory/types.js';
import type { SourceFile, TextSettings, YamlPath } from '../../source.js';
import { absolutePath, clusterPackage, failTopology, folderClashes, localFile, parseTopology, portClashes, portSchema, settingsSchema, topologyInventory } from '../common.js';
import { escapeRegex, isInside } from '../paths.js';
import { readConfHosts, type ConfHostsEntry } from './conf-hosts.js';

export const OPENMLDB_PRODUCT = 'openmldb';
/** The document, as messages name it. */
const WHAT = 'the OpenMLDB topology';

export type OpenmldbRole = 'tablet' | 'nameserver' | 'taskmanager' | 'apiserver';
export const ROLES: readonly OpenmldbRole[] = ['tablet', 'nameserver', 'taskmanager', 'apiserver'];
const SECTION: Record<OpenmldbRole, 'tablets' | 'nameservers' | 'taskmanagers' | 'apiservers'> = {
  tablet: 'tablets',
  nameserver: 'nameservers',
  taskmanager: 'taskmanagers',
  apiserver: 'apiservers',
};
/** The one-click deployment's default ports. */
export const DEFAULT_PORT: Record<OpenmldbRole, number> = { tablet: 10921, nameserver: 7527, taskmanager: 9902, apiserver: 9080 };
export const ZK_DEFAULT_PORTS = { client: 2181, peer: 2888, election: 3888 };
export type ClusterMode = 'manual' | 'one-click';

/** Folders clean/destroy must never delete, whatever the topology says. */
const PROTECTED_DIRS = new Set(['/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib64', '/opt', '/proc', '/root', '/run', '/sbin', '/srv', '/sys', '/tmp', '/usr', '/var', '/data', '/work']);

/** Flags runbook writes from the topology; setting them by hand would contradict it. */
const MANAGED_FLAGS: Record<string, string> = {
  endpoint: 'the component\'s endpoint',
  role: 'the section the component is listed in',
  zk_cluster: 'cluster.zk_cluster or the zookeeper servers',
  zk_root_path: 'cluster.zk_root_path',
};
const MANAGED_PROPERTIES: Record<string, string> = {
  'server.host': 'the TaskManager\'s endpoint',
  'server.port': 'the TaskManager\'s endpoint',
  'zookeeper.cluster': 'cluster.zk_cluster or the zookeeper servers',
  'zookeeper.root_path': 'cluster.zk_root_path',
};
const MANAGED_ZOO_CFG: Record<string, string> = {
  dataDir: 'the server\'s data_dir',
  clientPort: 'the server\'s client_port',
};

// ---------------------------------------------------------------------------
// Host vars: the names templates and playbooks use. Keep them stable.

export interface OpenmldbComponentVars {
  role: OpenmldbRole;
  /** 1-based position among the components of its role. */
  index: number;
  name: string;
  /** ip:port, as the component registers and `show components` lists it. */
  endpoint: string;
  host: string;
  port: number;
  /** The component's deploy folder (the unpacked package). */
  home: string;
  parent_dir: string;
  dir_name: string;
  /** Local package archive, its name on the host and its top folder (renamed to dir_name). */
  package: string;
  package_name: string;
  top_dir: string;
  /** Relative to home. */
  conf_file: string;
  /** gflags written to conf/<role>.flags (tablet, nameserver, apiserver). */
  flags: Record<string, string> | null;
  /** conf/taskmanager.properties (TaskManager). */
  properties: Record<string, string> | null;
  log_dir: string;
  log_file: string;
  pid_file: string;
  /** Whether `show components` lists it (the APIServer is not listed, as the document says). */
  listed: boolean;
  /** The document's order: tablets, nameservers, taskmanagers, apiservers. */
  start_order: number;
  /** Where deploy records the cluster's mode (manual / one-click). */
  mode_file: string;
  clean_dirs: string[];
  destroy_dirs: string[];
}

export interface ZookeeperVars {
  name: string;
  /** ZooKeeper's server id (myid), 1-based. */
  myid: number;
  host: string;
  client_port: number;
  peer_port: number;
  election_port: number;
  endpoint: string;
  home: string;
  data_dir: string;
  conf_dir: string;
  cfg_file: string;
  log_dir: string;
  /** The server's log (conf/java.env names it: ZOO_LOG_FILE, ROLLINGFILE). */
  log_file: string;
  /** zkServer.sh writes it: <dataDir>/zookeeper_server.pid. */
  pid_file: string;
  /** Local ZooKeeper release archive, its name on the host and its top folder (renamed to dir_name). */
  package: string;
  package_name: string;
  top_dir: string;
  parent_dir: string;
  dir_name: string;
  /** The java conf/java.env gives zkServer.sh (JAVA). */
  java: string;
  jvm_flags: string;
  /** zoo.cfg, in file order. */
  settings: Record<string, string>;
  /** server.N lines of the ensemble (empty for a single server, which runs standalone). */
  servers: string[];
  ensemble_size: number;
  /** pgrep -f pattern of this server's JVM (its zoo.cfg is on the command line). */
  process_pattern: string;
  clean_dirs: string[];
  destroy_dirs: string[];
}

export interface OpenmldbClusterVars {
  name: string;
  mode: ClusterMode;
  zk_cluster: string;
  zk_root_path: string;
  /** True when runbook runs the ZooKeeper ensemble (zookeeper: servers:). */
  managed_zookeeper: boolean;
  tablets: string[];
  tablet_endpoints: string[];
  nameservers: string[];
  taskmanagers: string[];
  apiservers: string[];
  zookeepers: string[];
  /** What `show components` must list, all online: tablets, nameservers, TaskManagers. */
  components: Array<{ name: string; role: OpenmldbRole; endpoint: string }>;
  /** The component whose installation runs cluster-wide commands (clients, openmldb_ops.py, one-click scripts). */
  client: string;
  client_home: string;
  /** The client's machine, as conf/hosts names it (its endpoint's host). */
  client_host: string;
  /**
   * The other machines conf/hosts names, which sbin/start-all.sh and
   * stop-all.sh reach over ssh from the client's machine, each with the first
   * component on it (where ssh-trust reads the machine's host key).
   */
  remote_machines: Array<{ host: string; name: string }>;
  /** Their hosts alone, in the same order. */
  remote_hosts: string[];
  python: string;
  /** conf/hosts of the one-click deployment, section by section. */
  hosts_file: Array<{ role: string; lines: string[] }>;
}

// ---------------------------------------------------------------------------
// The document's shape. The schemas are the reference of the form.

const endpointSchema = z.string().regex(/^[^\s:/]+:\d{1,5}$/, 'ip:port');
const hostSsh = sshSchema.optional().describe('ssh settings for this machine, over the top-level ssh');

const clusterSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . -').default('openmldb').describe('cluster name, typed to confirm clean/destroy at a terminal'),
  mode: z.enum(['manual', 'one-click']).default('manual').describe('how the cluster is started and stopped: manual (bin/start.sh on every component) or one-click (sbin/start-all.sh, sbin/stop-all.sh); never mix them'),
  package: z.string().min(1).describe('local openmldb-<version>-linux.tar.gz to upload (relative paths start at this file)'),
  deploy_dir: absolutePath('deploy_dir').default('/work/openmldb').describe('components with no dir of their own go to <deploy_dir>/<role>-<n>'),
  zk_cluster: z.string().min(1).optional().describe('an existing ZooKeeper, host:port[,host:port…]; without it, list zookeeper servers for runbook to run'),
  zk_root_path: z.string().default('/openmldb').describe('ZooKeeper path the cluster registers under (default /openmldb)'),
  python: z.string().min(1).default('python3').describe('Python that runs tools/openmldb_ops.py (Debian has python3, no python)'),
  conf_hosts: z.string().min(1).optional().describe('a one-click conf/hosts file to take the components (and ZooKeeper servers) from'),
  tablet_flags: settingsSchema.describe('extra gflags for every tablet (conf/tablet.flags)'),
  nameserver_flags: settingsSchema.describe('extra gflags for every nameserver (conf/nameserver.flags)'),
  apiserver_flags: settingsSchema.describe('extra gflags for every apiserver (conf/apiserver.flags)'),
  taskmanager_properties: settingsSchema.describe('extra settings for every TaskManager (conf/taskmanager.properties)'),
});

const componentSchema = z.strictObject({
  name: z.string().min(1).optional().describe('inventory name (default <role>-<n>)'),
  endpoint: endpointSchema.describe('ip:port the component listens on and registers in ZooKeeper'),
  address: z.string().min(1).optional().describe('where runbook connects with ssh (default: the endpoint\'s ip)'),
  dir: absolutePath('dir').optional().describe('deploy folder (default <deploy_dir>/<role>-<n>)'),
  flags: settingsSchema.describe('this component\'s own gflags (TaskManager: properties), over the cluster\'s'),
  ssh: hostSsh,
});

const zkServerSchema = z.strictObject({
  name: z.string().min(1).optional().describe('inventory name (default zookeeper-<n>)'),
  host: z.string().min(1).describe('the machine\'s address, as the other servers and OpenMLDB reach it'),
  address: z.string().min(1).optional().describe('where runbook connects with ssh (default: host)'),
  client_port: portSchema.default(ZK_DEFAULT_PORTS.client).describe('client port (default 2181)'),
  peer_port: portSchema.default(ZK_DEFAULT_PORTS.peer).describe('quorum port (default 2888)'),
  election_port: portSchema.default(ZK_DEFAULT_PORTS.election).describe('leader election port (default 3888)'),
  dir: absolutePath('dir').optional().describe('the server\'s folder: conf/, logs/ (default <deploy_dir>/zookeeper-<n>)'),
  data_dir: absolutePath('data_dir').optional().describe('dataDir, with myid (default <dir>/data)'),
  ssh: hostSsh,
});

const zookeeperSchema = z.strictObject({
  servers: z.array(zkServerSchema).optional().describe('the ensemble runbook runs: one server per entry (3 or 5 for a quorum that survives failures)'),
  package: z.string().min(1).optional().describe('local ZooKeeper release to unpack on each server, e.g. apache-zookeeper-3.8.0-bin.tar.gz (relative paths start at this file); needed when runbook runs the servers'),
  java: absolutePath('java').default('/usr/bin/java').describe('the java that runs ZooKeeper (JAVA in conf/java.env)'),
  jvm_flags: z.string().default('-Xmx256m').describe('JVM options for each server'),
  'zoo.cfg': settingsSchema.describe('extra zoo.cfg settings (tickTime, initLimit, syncLimit, autopurge.*, …)'),
});

const topologySchema = z.strictObject({
  product: z.literal(OPENMLDB_PRODUCT).optional().describe('openmldb (optional: a document with cluster: and tablets: is recognised without it)'),
  ssh: sshSchema.optional().describe('ssh defaults for every machine'),
  cluster: clusterSchema.describe('what the whole cluster shares'),
  zookeeper: zookeeperSchema.nullable().optional().describe('the ZooKeeper ensemble runbook runs (unless cluster.zk_cluster names an existing one)'),
  tablets: z.array(componentSchema).nullable().optional().describe('TabletServers (default port 10921)'),
  nameservers: z.array(componentSchema).nullable().optional().describe('NameServers (default port 7527); the first to start is the master'),
  taskmanagers: z.array(componentSchema).nullable().optional().describe('TaskManagers (default port 9902), optional'),
  apiservers: z.array(componentSchema).nullable().optional().describe('APIServers (default port 9080), optional'),
});

type ComponentInput = z.output<typeof componentSchema>;

/** Names of the groups the adapter makes; a host may not be called that. */
const GROUP_NAMES = ['openmldb', 'tablets', 'nameservers', 'taskmanagers', 'apiservers', 'zookeepers', 'client'];

export const openmldbTopologyAdapter: ProductAdapter = {
  product: OPENMLDB_PRODUCT,
  recognises: (doc) => 'cluster' in doc && ('tablets' in doc || 'nameservers' in doc),
  load: loadOpenmldbTopology,
};

// ---------------------------------------------------------------------------

interface Component {
  role: OpenmldbRole;
  index: number;
  name: string;
  /** Where it is declared: a yaml path, or a conf/hosts line. */
  at: Where;
  endpoint: string;
  host: string;
  port: number;
  address: string;
  home: string;
  flags: Layer;
  conn: ConnectionDraft;
}

interface ZkServer {
  myid: number;
  name: string;
  at: Where;
  host: string;
  address: string;
  ports: { client: number; peer: number; election: number };
  home: string;
  dataDir: string;
  conn: ConnectionDraft;
}

/** A place to point an error at: a yaml node, or a line of the conf/hosts file. */
type Where = { yaml: YamlPath } | { file: string; line: number; lineText: string };

type Layer = TextSettings;

function problem(ctx: LoadContext, where: Where, message: string, hint?: string, onKey = false): void {
  if ('yaml' in where) ctx.errors.push(ctx.source.error(where.yaml, message, hint, onKey));
  else ctx.errors.push(new InputError(message, { location: { file: where.file, line: where.line, col: 1, lineText: where.lineText }, hint }));
}

function describeWhere(ctx: LoadContext, where: Where): string {
  return 'yaml' in where ? `line ${ctx.source.locate(where.yaml).line}` : `${where.file}:${where.line}`;
}

export function loadOpenmldbTopology(source: SourceFile, doc: Record<string, unknown>): Inventory {
  const { ctx, t, sshDefaults } = parseTopology(source, doc, topologySchema, WHAT, withoutRetiredKeys);
  const { errors } = ctx;
  const cluster = t.cluster;

  // The package: a local OpenMLDB release with the vendor's name.
  const { path: pkg, name: pkgName, problem: missing } = clusterPackage(cluster.package, 'openmldb', ctx);
  const topDirMatch = /^(openmldb-[^/]+-linux)\.tar\.gz$/.exec(pkgName);
  if (!missing && !topDirMatch) {
    errors.push(source.error(['cluster', 'package'], `cluster.package must be an OpenMLDB release named like openmldb-0.8.3-linux.tar.gz, not ${pkgName}`, 'runbook unpacks it and renames its top folder (openmldb-<version>-linux) to each component\'s folder'));
  }

  const root = cluster.zk_root_path;
  if (!root.startsWith('/') || (root.length > 1 && root.endsWith('/')) || /\s|\/\//.test(root)) {
    errors.push(source.error(['cluster', 'zk_root_path'], `zk_root_path "${root}" must be a ZooKeeper path: start with /, no trailing /, no spaces`, 'e.g. /openmldb'));
  }

  // Components from the yaml, or from a one-click conf/hosts.
  let confHosts: ConfHostsEntry[] = [];
  let confHostsFile: string | undefined;
  if (cluster.conf_hosts !== undefined) {
    const file = localFile(cluster.conf_hosts, ['cluster', 'conf_hosts'], 'cluster.conf_hosts', "fix the path; relative paths start at the topology file's folder", ctx);
    confHostsFile = file.path;
    if (!file.problem) {
      const read = readConfHosts(confHostsFile);
      errors.push(...read.errors);
      confHosts = read.entries;
    }
  }

  const components: Component[] = [];
  for (const role of ROLES) {
    const section = SECTION[role];
    const fromYaml = t[section] ?? [];
    const fromFile = confHosts.filter((e) => e.role === role);
    if (fromYaml.length > 0 && fromFile.length > 0) {
      errors.push(
        source.error([section], `${section} are listed here and in ${confHostsFile} ([${role}] at line ${fromFile[0]!.line})`, `keep one list: remove ${section} here, or the [${role}] section there`, true),
      );
    }
    const roleFlags = source.textSettings(role === 'taskmanager' ? cluster.taskmanager_properties : cluster[`${role}_flags` as 'tablet_flags'], ['cluster', role === 'taskmanager' ? 'taskmanager_properties' : `${role}_flags`]);
    fromYaml.forEach((raw, i) => components.push(yamlComponent(role, i, raw, roleFlags, cluster.deploy_dir, ctx)));
    if (fromYaml.length === 0) {
      fromFile.forEach((e, i) => {
        const where: Where = { file: confHostsFile!, line: e.line, lineText: e.lineText };
        components.push({
          role,
          index: i + 1,
          name: `${role}-${i + 1}`,
          at: where,
          endpoint: `${e.host}:${e.port}`,
          host: e.host,
          port: e.port,
          address: e.host,
          home: e.dir ?? posix.join(cluster.deploy_dir, `${role}-${i + 1}`),
          flags: roleFlags,
          conn: { address: e.host },
        });
      });
    }
  }
  for (const role of ['tablet', 'nameserver'] as const) {
    if (!components.some((c) => c.role === role)) {
      errors.push(
        source.error(t[SECTION[role]] === undefined ? [] : [SECTION[role]], `the topology has no ${SECTION[role]}: an OpenMLDB cluster needs at least one ${role === 'tablet' ? 'TabletServer' : 'NameServer'}`, `list them under ${SECTION[role]}: - endpoint: <ip>:${DEFAULT_PORT[role]}`, t[SECTION[role]] !== undefined),
      );
    }
  }

  // ZooKeeper: runbook's ensemble, or an existing one; exactly one of them.
  const zkYaml = t.zookeeper?.servers ?? [];
  const zkFile = confHosts.filter((e) => e.role === 'zookeeper');
  if (zkYaml.length > 0 && zkFile.length > 0) {
    errors.push(source.error(['zookeeper', 'servers'], `ZooKeeper servers are listed here and in ${confHostsFile} ([zookeeper] at line ${zkFile[0]!.line})`, 'keep one list', true));
  }
  const zkServers: ZkServer[] = zkYaml.length > 0
    ? zkYaml.map((raw, i) => {
        const path: YamlPath = ['zookeeper', 'servers', i];
        const home = raw.dir ?? posix.join(cluster.deploy_dir, `zookeeper-${i + 1}`);
        const conn = optionalConnectionDraft(raw.ssh, [...path, 'ssh'], `zookeeper.servers[${i}].ssh`, ctx);
        conn.address = raw.address ?? raw.host;
        return {
          myid: i + 1,
          name: raw.name ?? `zookeeper-${i + 1}`,
          at: { yaml: raw.name !== undefined ? [...path, 'name'] : path },
          host: raw.host,
          address: raw.address ?? raw.host,
          ports: { client: raw.client_port, peer: raw.peer_port, election: raw.election_port },
          home,
          dataDir: raw.data_dir ?? posix.join(home, 'data'),
          conn,
        };
      })
    : zkFile.map((e, i) => {
        const home = e.dir ?? posix.join(cluster.deploy_dir, `zookeeper-${i + 1}`);
        return {
          myid: i + 1,
          name: `zookeeper-${i + 1}`,
          at: { file: confHostsFile!, line: e.line, lineText: e.lineText },
          host: e.host,
          address: e.host,
          ports: { client: e.port, peer: e.peerPort ?? ZK_DEFAULT_PORTS.peer, election: e.electionPort ?? ZK_DEFAULT_PORTS.election },
          home,
          dataDir: posix.join(home, 'data'),
          conn: { address: e.host },
        };
      });
  if (cluster.zk_cluster !== undefined && zkServers.length > 0) {
    errors.push(source.error(['cluster', 'zk_cluster'], 'cluster.zk_cluster names an existing ZooKeeper, but the topology also lists ZooKeeper servers for runbook to run', 'keep one: remove zk_cluster to use the listed servers, or remove the servers to use the existing ZooKeeper', true));
  }
  if (cluster.zk_cluster === undefined && zkServers.length === 0) {
    errors.push(source.error(['cluster'], 'the cluster has no ZooKeeper: OpenMLDB needs one', 'list servers under zookeeper: servers: - host: …, or name an existing one with cluster.zk_cluster: host:2181', true));
  }
  if (cluster.zk_cluster !== undefined) checkZkCluster(cluster.zk_cluster, ctx);
  const zkPkg = zkServers.length > 0 ? zookeeperPackage(t.zookeeper?.package, zkYaml.length > 0, ctx) : undefined;
  if (zkServers.length === 2 || zkServers.length === 4) {
    ctx.warnings.push({
      message: `${zkServers.length} ZooKeeper servers survive no more failures than ${zkServers.length - 1}: a quorum is a majority`,
      location: source.locate(['zookeeper', 'servers']),
      hint: 'use an odd number: 1, 3 or 5',
    });
  }
  const zkSettings = source.textSettings(t.zookeeper?.['zoo.cfg'], ['zookeeper', 'zoo.cfg']);
  for (const key of Object.keys(zkSettings.values)) {
    const managed = MANAGED_ZOO_CFG[key] ?? (/^server\.\d+$/.test(key) ? 'the zookeeper servers list' : undefined);
    if (managed) errors.push(source.error(zkSettings.paths[key]!, `${key} is written by runbook from ${managed}`, 'remove it here and set it there', true));
  }

  checkNames([...components, ...zkServers], ctx);
  checkEndpoints(components, ctx);
  checkPorts(components, zkServers, ctx);
  checkFolders(components, zkServers, ctx);

  const zkCluster = cluster.zk_cluster ?? zkServers.map((z) => `${z.host}:${z.ports.client}`).join(',');
  const componentVars = new Map<Component, OpenmldbComponentVars>();
  let order = 0;
  for (const c of components) {
    const v = componentVarsOf(c, { zkCluster, root, pkg, pkgName, topDir: topDirMatch?.[1] ?? '' }, order++, ctx);
    if (v) componentVars.set(c, v);
  }

  const hostsDraft = (list: Array<Component | ZkServer>): HostDraft[] =>
    list.map((n) => ({ name: n.name, path: 'yaml' in n.at ? n.at.yaml : [], connection: n.conn, vars: [] }));
  if (errors.length > 0) return failTopology(ctx, WHAT, hostsDraft([...components, ...zkServers]), sshDefaults);

  const zk = t.zookeeper;
  const zkVars = new Map<ZkServer, ZookeeperVars>();
  for (const s of zkServers) {
    if (!zkPkg) break;
    const settings: Record<string, string> = {
      tickTime: '2000',
      initLimit: '10',
      syncLimit: '5',
      dataDir: s.dataDir,
      clientPort: String(s.ports.client),
      // Only srvr is needed (quorum checks); the admin server would take port 8080 on every machine.
      '4lw.commands.whitelist': 'srvr,ruok,mntr',
      'admin.enableServer': 'false',
      ...zkSettings.values,
    };
    const confDir = posix.join(s.home, 'conf');
    const logDir = posix.join(s.home, 'logs');
    zkVars.set(s, {
      name: s.name,
      myid: s.myid,
      host: s.host,
      client_port: s.ports.client,
      peer_port: s.ports.peer,
      election_port: s.ports.election,
      endpoint: `${s.host}:${s.ports.client}`,
      home: s.home,
      data_dir: s.dataDir,
      conf_dir: confDir,
      cfg_file: posix.join(confDir, 'zoo.cfg'),
      log_dir: logDir,
      log_file: posix.join(logDir, 'zookeeper.log'),
      pid_file: posix.join(s.dataDir, 'zookeeper_server.pid'),
      package: zkPkg.path,
      package_name: zkPkg.name,
      top_dir: zkPkg.topDir,
      parent_dir: posix.dirname(s.home),
      dir_name: posix.basename(s.home),
      java: zk?.java ?? '/usr/bin/java',
      jvm_flags: zk?.jvm_flags ?? '-Xmx256m',
      settings,
      servers: zkServers.length > 1 ? zkServers.map((o) => `server.${o.myid}=${o.host}:${o.ports.peer}:${o.ports.election}`) : [],
      ensemble_size: zkServers.length,
      process_pattern: `org\\.apache\\.zookeeper\\.server\\.quorum\\.QuorumPeerMain ${escapeRegex(posix.join(confDir, 'zoo.cfg'))}`,
      clean_dirs: [posix.join(s.dataDir, 'version-2'), logDir],
      destroy_dirs: isInside(s.dataDir, s.home) ? [s.home] : [s.home, s.dataDir],
    });
  }

  const byRole = (role: OpenmldbRole) => components.filter((c) => c.role === role);
  const client = byRole('tablet')[0]!;
  const clusterVars: OpenmldbClusterVars = {
    name: cluster.name,
    mode: cluster.mode,
    zk_cluster: zkCluster,
    zk_root_path: root,
    managed_zookeeper: zkServers.length > 0,
    tablets: byRole('tablet').map((c) => c.name),
    tablet_endpoints: byRole('tablet').map((c) => c.endpoint),
    nameservers: byRole('nameserver').map((c) => c.name),
    taskmanagers: byRole('taskmanager').map((c) => c.name),
    apiservers: byRole('apiserver').map((c) => c.name),
    zookeepers: zkServers.map((s) => s.name),
    components: components.filter((c) => c.role !== 'apiserver').map((c) => ({ name: c.name, role: c.role, endpoint: c.endpoint })),
    client: client.name,
    client_home: client.home,
    client_host: client.host,
    remote_machines: remoteMachines(components, client.host),
    remote_hosts: remoteMachines(components, client.host).map((m) => m.host),
    python: cluster.python,
    hosts_file: [
      ...ROLES.map((role) => ({ role, lines: byRole(role).map((c) => `${c.endpoint} ${c.home}`) })),
      { role: 'zookeeper', lines: zkServers.map((s) => `${s.host}:${s.ports.client}:${s.ports.peer}:${s.ports.election} ${s.home}`) },
    ].filter((s) => s.lines.length > 0),
  };

  const hosts: HostDraft[] = [
    ...components.map((c) => ({
      name: c.name,
      path: 'yaml' in c.at ? c.at.yaml : [],
      connection: c.conn,
      vars: [{ values: hostVars('openmldb', componentVars.get(c)!), path: 'yaml' in c.at ? c.at.yaml : [] }],
      aliases: [c.endpoint],
    })),
    ...zkServers.map((s) => ({
      name: s.name,
      path: 'yaml' in s.at ? s.at.yaml : [],
      connection: s.conn,
      vars: [{ values: hostVars('zookeeper', zkVars.get(s)!), path: 'yaml' in s.at ? s.at.yaml : [] }],
      aliases: [`${s.host}:${s.ports.client}`],
    })),
  ];
  const refs = (list: Array<Component | ZkServer>) => list.map((n) => ({ name: n.name, path: 'yaml' in n.at ? n.at.yaml : [] }));
  const groups: GroupDraft[] = [
    ...ROLES.map((role) => ({ name: SECTION[role], path: [SECTION[role]], hosts: refs(byRole(role)), children: [], vars: [] })),
    { name: 'openmldb', path: [], hosts: [], children: ROLES.map((role) => ({ name: SECTION[role], path: [SECTION[role]] })), vars: [] },
    { name: 'zookeepers', path: ['zookeeper'], hosts: refs(zkServers), children: [], vars: [] },
    { name: 'client', path: 'yaml' in client.at ? client.at.yaml : [], hosts: refs([client]), children: [], vars: [] },
  ];
  return topologyInventory(
    OPENMLDB_PRODUCT,
    {
      form: 'runbook',
      defaults: sshDefaults,
      // openmldb_mode on its own, so `-e openmldb_mode=one-click` can ask for the other mode (and be refused).
      // openmldb and zookeeper are null unless a host is one: playbooks name both, and a cluster
      // on an existing ZooKeeper has no host that defines zookeeper.
      vars: [{ values: { openmldb_cluster: clusterVars, openmldb_mode: cluster.mode, openmldb: null, zookeeper: null }, path: ['cluster'] }],
      hosts,
      groups,
    },
    ctx,
  );
}

// ---------------------------------------------------------------------------

/**
 * A host's vars: its component's (or ZooKeeper server's) vars under one key,
 * plus clean_dirs and destroy_dirs at the top, so the clean/destroy guards
 * can list every host's folders the same way whatever runs there.
 */
function hostVars(key: 'openmldb' | 'zookeeper', v: OpenmldbComponentVars | ZookeeperVars): Record<string, unknown> {
  return { [key]: v, clean_dirs: v.clean_dirs, destroy_dirs: v.destroy_dirs };
}

function yamlComponent(role: OpenmldbRole, i: number, raw: ComponentInput, roleFlags: Layer, deployDir: string, ctx: LoadContext): Component {
  const path: YamlPath = [SECTION[role], i];
  const at = raw.endpoint.lastIndexOf(':');
  const host = raw.endpoint.slice(0, at);
  const port = Number(raw.endpoint.slice(at + 1));
  const conn = optionalConnectionDraft(raw.ssh, [...path, 'ssh'], `${SECTION[role]}[${i}].ssh`, ctx);
  conn.address = raw.address ?? host;
  const own = ctx.source.textSettings(raw.flags, [...path, 'flags']);
  return {
    role,
    index: i + 1,
    name: raw.name ?? `${role}-${i + 1}`,
    at: { yaml: raw.name !== undefined ? [...path, 'name'] : path },
    endpoint: raw.endpoint,
    host,
    port,
    address: raw.address ?? host,
    home: raw.dir ?? posix.join(deployDir, `${role}-${i + 1}`),
    flags: { values: { ...roleFlags.values, ...own.values }, paths: { ...roleFlags.paths, ...own.paths } },
    conn,
  };
}

interface Shared {
  zkCluster: string;
  root: string;
  pkg: string;
  pkgName: string;
  topDir: string;
}

function componentVarsOf(c: Component, s: Shared, order: number, ctx: LoadContext): OpenmldbComponentVars | undefined {
  const isTm = c.role === 'taskmanager';
  const managed = isTm ? MANAGED_PROPERTIES : MANAGED_FLAGS;
  let bad = false;
  for (const [key, at] of Object.entries(c.flags.paths)) {
    if (!(key in managed)) continue;
    bad = true;
    ctx.errors.push(ctx.source.error(at, `${key} of ${c.name} is written by runbook from ${managed[key]}`, 'remove it here; runbook writes it', true));
  }
  if (bad) return undefined;
  const resolveIn = (p: string): string => posix.normalize(posix.isAbsolute(p) ? p : posix.join(c.home, p));
  let flags: Record<string, string> | null = null;
  let properties: Record<string, string> | null = null;
  let logDir: string;
  const clean: string[] = [];
  if (isTm) {
    properties = {
      'server.host': c.host,
      'server.port': String(c.port),
      'zookeeper.cluster': s.zkCluster,
      'zookeeper.root_path': s.root,
      'spark.master': 'local',
      'offline.data.prefix': `file://${posix.join(c.home, 'offline_storage')}/`,
      ...c.flags.values,
    };
    logDir = resolveIn(properties['taskmanager.log.dir'] ?? './logs');
    clean.push(logDir);
    const prefix = properties['offline.data.prefix']!;
    if (prefix.startsWith('file://')) clean.push(posix.normalize(prefix.slice('file://'.length)));
  } else {
    flags = {
      endpoint: c.endpoint,
      role: c.role,
      zk_cluster: s.zkCluster,
      zk_root_path: s.root,
      zk_session_timeout: '10000',
      openmldb_log_dir: './logs',
      ...(c.role === 'tablet' ? { db_root_path: './db', recycle_bin_root_path: './recycle' } : {}),
      ...c.flags.values,
    };
    logDir = resolveIn(flags.openmldb_log_dir!);
    clean.push(logDir);
    if (c.role === 'tablet') clean.push(resolveIn(flags.db_root_path!), resolveIn(flags.recycle_bin_root_path!));
  }
  for (const dir of clean) {
    if (PROTECTED_DIRS.has(dir)) {
      problem(ctx, c.at, `${c.name} would keep data in ${dir}, which clean would delete`, 'give OpenMLDB a folder of its own, e.g. /work/openmldb/tablet-1/db');
      return undefined;
    }
  }
  const outside = clean.filter((d) => !isInside(d, c.home));
  return {
    role: c.role,
    index: c.index,
    name: c.name,
    endpoint: c.endpoint,
    host: c.host,
    port: c.port,
    home: c.home,
    parent_dir: posix.dirname(c.home),
    dir_name: posix.basename(c.home),
    package: s.pkg,
    package_name: s.pkgName,
    top_dir: s.topDir,
    conf_file: isTm ? 'conf/taskmanager.properties' : `conf/${c.role}.flags`,
    flags,
    properties,
    log_dir: logDir,
    log_file: posix.join(logDir, `${c.role}.info.log`),
    pid_file: posix.join(c.home, 'bin', `${c.role}.pid`),
    listed: c.role !== 'apiserver',
    start_order: order,
    mode_file: posix.join(c.home, '.runbook-mode'),
    clean_dirs: clean,
    destroy_dirs: [c.home, ...outside],
  };
}


/** The machines other than the client's that conf/hosts lists components on, each with its first component. */
function remoteMachines(components: Component[], clientHost: string): Array<{ host: string; name: string }> {
  const seen = new Map<string, string>();
  for (const c of components) if (c.host !== clientHost && !seen.has(c.host)) seen.set(c.host, c.name);
  return [...seen].map(([host, name]) => ({ host, name }));
}

/** zookeeper.bin_dir and .classpath ran an installed ZooKeeper, before deploys unpacked a release. */
const RETIRED_ZK_KEYS = ['bin_dir', 'classpath'];

/** The document without the retired keys, each reported at its line with what replaced it. */
function withoutRetiredKeys(doc: Record<string, unknown>, ctx: LoadContext): Record<string, unknown> {
  const zk = doc.zookeeper;
  if (zk === null || typeof zk !== 'object' || Array.isArray(zk)) return doc;
  const kept: Record<string, unknown> = { ...(zk as Record<string, unknown>) };
  for (const key of RETIRED_ZK_KEYS) {
    if (!(key in kept)) continue;
    delete kept[key];
    ctx.errors.push(
      ctx.source.error(['zookeeper', key], `zookeeper.${key} is no longer read: runbook deploys ZooKeeper from a release archive (zookeeper.package) instead of running an installed one`, 'remove it and set zookeeper: package: <path>/apache-zookeeper-3.8.0-bin.tar.gz (`runbook lab package zookeeper` packs Debian\'s)', true),
    );
  }
  return { ...doc, zookeeper: kept };
}

/**
 * The ZooKeeper release the servers are deployed from: a local file named as
 * upstream names them, apache-zookeeper-<version>-bin.tar.gz (3.5 and later)
 * or zookeeper-<version>.tar.gz (3.4, the one OpenMLDB's deployment guide
 * downloads); its top folder is the name without .tar.gz.
 */
function zookeeperPackage(value: string | undefined, serversInYaml: boolean, ctx: LoadContext): { path: string; name: string; topDir: string } | undefined {
  const at: YamlPath = value !== undefined ? ['zookeeper', 'package'] : serversInYaml ? ['zookeeper', 'servers'] : ['cluster', 'conf_hosts'];
  const hint = '`runbook lab package zookeeper` packs Debian\'s real ZooKeeper as apache-zookeeper-<version>-bin.tar.gz; or give a release from zookeeper.apache.org';
  if (value === undefined) {
    ctx.errors.push(ctx.source.error(at, 'runbook runs the ZooKeeper servers, so it needs zookeeper.package: the ZooKeeper release to unpack on each of them', `add zookeeper: package: <path>/apache-zookeeper-3.8.0-bin.tar.gz; ${hint}`, true));
    return undefined;
  }
  const { path, name, problem } = localFile(value, at, 'zookeeper.package', `fix the path; relative paths start at the topology file's folder; ${hint}`, ctx);
  if (problem) return undefined;
  const top = /^((?:apache-zookeeper-\d[^/]*-bin)|(?:zookeeper-\d[^/]*))\.tar\.gz$/.exec(name);
  if (!top) {
    ctx.errors.push(ctx.source.error(at, `zookeeper.package must be a ZooKeeper release named like apache-zookeeper-3.8.0-bin.tar.gz (or zookeeper-3.4.14.tar.gz), not ${name}`, 'runbook unpacks it and renames its top folder (the name without .tar.gz) to each server\'s folder'));
    return undefined;
  }
  return { path, name, topDir: top[1]! };
}

function checkZkCluster(value: string, ctx: LoadContext): void {
  const parts = value.split(',').map((p) => p.trim());
  const bad = parts.find((p) => !/^[^\s:/]+:\d{1,5}$/.test(p));
  if (bad !== undefined || parts.length === 0) {
    ctx.errors.push(ctx.source.error(['cluster', 'zk_cluster'], `zk_cluster "${value}" must be host:port[,host:port…]${bad !== undefined ? `; "${bad}" is not` : ''}`, 'e.g. 172.27.2.52:2181,172.27.2.53:2181; the path goes in zk_root_path'));
  }
}

function checkNames(nodes: Array<Component | ZkServer>, ctx: LoadContext): void {
  const seen = new Map<string, Component | ZkServer>();
  for (const n of nodes) {
    const first = seen.get(n.name);
    if (first) {
      problem(ctx, n.at, `name "${n.name}" is used twice`, `the first is at ${describeWhere(ctx, first.at)}; names select hosts (-N), so each must be unique`);
      continue;
    }
    seen.set(n.name, n);
    if (GROUP_NAMES.includes(n.name)) problem(ctx, n.at, `name "${n.name}" is the name of a group runbook makes`, `reserved: ${GROUP_NAMES.join(', ')}`);
  }
}

function checkEndpoints(components: Component[], ctx: LoadContext): void {
  const seen = new Map<string, Component>();
  for (const c of components) {
    if (c.host === '0.0.0.0' || c.host === '::' || c.host === '*') {
      problem(ctx, c.at, `${c.name}'s endpoint ${c.endpoint} is not an address others can reach`, 'OpenMLDB registers the endpoint in ZooKeeper for the others to connect to: use the machine\'s IP address');
    }
    const first = seen.get(c.endpoint);
    if (first) problem(ctx, c.at, `${c.name} and ${first.name} both have endpoint ${c.endpoint}`, `${first.name} is at ${describeWhere(ctx, first.at)}; each component needs its own ip:port`);
    else seen.set(c.endpoint, c);
  }
}

interface Listener {
  owner: string;
  address: string;
  port: number;
  what: string;
  at: Where;
}

/** Nothing on one machine may listen on a port twice. */
function checkPorts(components: Component[], zk: ZkServer[], ctx: LoadContext): void {
  const listeners: Listener[] = [
    ...components.map((c) => ({ owner: c.name, address: c.address, port: c.port, what: 'port', at: c.at })),
    ...zk.flatMap((s) => [
      { owner: s.name, address: s.address, port: s.ports.client, what: 'client_port', at: s.at },
      { owner: s.name, address: s.address, port: s.ports.peer, what: 'peer_port', at: s.at },
      { owner: s.name, address: s.address, port: s.ports.election, what: 'election_port', at: s.at },
    ]),
  ];
  for (const { listener: l, first } of portClashes(listeners, (x) => x.address)) {
    const whose = first.owner === l.owner ? `its own ${first.what}` : `${first.owner}'s ${first.what} (${describeWhere(ctx, first.at)})`;
    problem(ctx, l.at, `port ${l.port} on ${l.address} is taken twice: ${l.owner}'s ${l.what} and ${whose}`, 'components on one machine need their own ports');
  }
}

/** Two components on one machine must not share a folder: clean and destroy of one would delete the other's. */
function checkFolders(components: Component[], zk: ZkServer[], ctx: LoadContext): void {
  const owned = [
    ...components.map((c) => ({ owner: c.name, address: c.address, dir: c.home, at: c.at })),
    ...zk.flatMap((s) => [
      { owner: s.name, address: s.address, dir: s.home, at: s.at },
      ...(isInside(s.dataDir, s.home) ? [] : [{ owner: s.name, address: s.address, dir: s.dataDir, at: s.at }]),
    ]),
  ];
  for (const o of owned) {
    if (PROTECTED_DIRS.has(o.dir)) problem(ctx, o.at, `${o.owner} would be installed in ${o.dir}, which destroy would delete`, 'give it a folder of its own, e.g. /work/openmldb/tablet-1');
  }
  for (const { later: b, earlier: a, how } of folderClashes(owned)) {
    problem(ctx, b.at, `${b.owner} and ${a.owner} ${how} on ${b.address}`, 'each component on a machine needs its own folder: set dir');
  }
}
