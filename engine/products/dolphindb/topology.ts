// A DolphinDB multi-server cluster (`product: dolphindb`) as a runbook inventory.
//
// The form follows the multi-server deployment document: physical servers
// (P1, P2, …) with their addresses; one controller on one of them; one
// agent per server (it starts and stops that server's data and compute
// nodes); data nodes and compute nodes, each on a server at a port with an
// alias; the package zip unpacked into one install folder on every server;
// an optional license that replaces server/dolphindb.lic; and the parameters
// of the three cfg files as maps, written as given (cluster.cfg keys such as
// `P1-%.publicName` or `"%-datanode.volumes"`, values with `<ALIAS>`).
//
// The terse form of the document's example:
//
//   product: dolphindb
//   cluster: { package: ./DolphinDB_Linux64_V2.00.11.3.zip, license: ./dolphindb.lic }
//   servers: { P1: 10.0.0.80, P2: 10.0.0.81, P3: 10.0.0.82 }
//   controller: { server: P1, port: 8900 }          # alias controller8900
//   nodes:
//     - { server: P1, port: 8902 }                  # P1-datanode
//     - { server: P2, port: 8902 }                  # P2-datanode
//     - { server: P3, port: 8902, mode: computenode }   # P3-computenode
//   controller.cfg: { dfsReplicationFactor: 1, … }
//   agent.cfg: { workerNum: 4, … }
//   cluster.cfg: { maxMemSize: 32, … }
//
// Defaults: cluster name `dolphindb`, install_dir /DolphinDB (the
// document's), admin/123456 (the document's; password may be text,
// { env } or { file }), controller port 8900 and alias `controller<port>`;
// without `agents:` every server gets one agent on 8901 called
// `<server>-agent`; a node's alias is `<server>-datanode` /
// `<server>-computenode`, numbered from the second one of a mode on a
// server (`<server>-datanode2`). A server is a name → address (or
// { address, ssh }). Agents may also be listed (`agents: - { server, port,
// alias, cfg }`), and a node may carry `cfg:` (its own parameters, written
// as `alias.key=value` lines of cluster.cfg).
//
// runbook writes `mode`, `localSite` and `controllerSite` itself; writing
// them in a map is allowed only with the value runbook would write (so the
// document's files can be pasted), anything else is the document's
// "controllerSite must equal the controller's localSite" mistake caught
// early.
//
// Reading goes: the shape with zod (errors at their yaml line, "did you mean"
// for misspelt keys), then what only the whole cluster shows (servers and
// their addresses, the controller's server, one agent per server that runs
// nodes, aliases unique case-sensitively, ports unique per server, the cfg
// keys runbook writes, `<ALIAS>` on a line that names a node, cluster.cfg
// prefixes that name no node, absolute volumes and metadata folders, the
// install path the document allows); the lanCluster=0 suggestion is a
// warning. Everything is collected and thrown together before any host is
// touched; hosts then go through the generic buildInventory.

import { basename, posix } from 'node:path';
import { z } from 'zod';
import { didYouMean } from '../../errors.js';
import { optionalConnectionDraft, sshSchema, type ConnectionDraft, type GroupDraft, type HostDraft } from '../../inventory/runbook-form.js';
import type { LoadContext } from '../../inventory/secrets.js';
import type { Inventory, ProductAdapter } from '../../inventory/types.js';
import type { Secret } from '../../secret.js';
import type { SourceFile, TextSettings, YamlPath } from '../../source.js';
import { absolutePath, clusterPackage, clusterPassword, FactoryDefaultPassword, failTopology, localFile, parseTopology, portClashes, portSchema, settingsSchema, topologyInventory } from '../common.js';
import { normaliseDir, outermost } from '../paths.js';
import {
  ALIAS_MACRO,
  ALIAS_PATTERN,
  DEFAULT_ADMIN,
  DEFAULT_AGENT_PORT,
  DEFAULT_CONTROLLER_PORT,
  DEFAULT_INSTALL_DIR,
  DEFAULT_SYSTEMD_DIR,
  installPathProblem,
  lanVerdict,
  nodeParam,
  packageVersion,
  parseClusterKey,
  prefixMatches,
  PROTECTED_DIRS,
  site,
  splitVolumes,
  TRIAL_MAX_NODES,
  type NodeMode,
} from './cfg.js';

export const DOLPHINDB_PRODUCT = 'dolphindb';
/** The document, as messages name it. */
const WHAT = 'the DolphinDB topology';

// ---------------------------------------------------------------------------
// Host vars: the names templates and playbooks use (the DolphinDB contract,
// section 4). Keep them stable.

export interface DolphindbControllerRef {
  server: string;
  address: string;
  port: number;
  alias: string;
  /** address:port:alias, the controller's localSite and every agent's controllerSite. */
  site: string;
}

export interface DolphindbAgentRef {
  address: string;
  port: number;
  alias: string;
  site: string;
}

export interface DolphindbNodeRef {
  alias: string;
  mode: NodeMode;
  port: number;
  site: string;
}

export interface DolphindbClusterNode {
  alias: string;
  mode: NodeMode;
  server: string;
  site: string;
}

export interface DolphindbCli {
  /** The controller's endpoint and the admin login. */
  host: string;
  port: number;
  user: string;
  password: Secret;
}

export interface DolphindbHostVars {
  cluster_name: string;
  /** This server's name (P1) and address. */
  server: string;
  address: string;
  /** The zip unpacks here (giving server/). */
  install_dir: string;
  server_dir: string;
  /** server_dir/clusterDemo: the working folder of every process. */
  cluster_dir: string;
  config_dir: string;
  log_dir: string;
  /** The local zip, its name, and the version in the name. */
  package: string;
  package_name: string;
  version: string;
  /** The local license file deployed as server/dolphindb.lic, or null to keep the package's. */
  license: string | null;
  license_name: string | null;
  is_controller: boolean;
  controller: DolphindbControllerRef;
  /** This server's agent, or null. */
  agent: DolphindbAgentRef | null;
  /** This server's data and compute nodes, in topology order. */
  nodes: DolphindbNodeRef[];
  /** Every data and compute node of the cluster. */
  all_nodes: DolphindbClusterNode[];
  /** Every agent of the cluster. */
  all_agents: Array<{ alias: string; server: string; site: string }>;
  /** The controller's metadata folder (DFSMetaLog.0): dfsMetaDir, else cluster_dir/dfsMeta; null off the controller. */
  dfs_meta_dir: string | null;
  /** The folder holding CHUNK_METADATA for each data node here: chunkMetaDir, else the first volume, else cluster_dir/data/<alias>/storage. */
  chunk_meta_dirs: Array<{ alias: string; dir: string }>;
  /** Every port this server's processes listen on. */
  ports: number[];
  backup_dir: string;
  /** What clean empties on this server. */
  clean_dirs: string[];
  cli: DolphindbCli;
  systemd_dir: string;
  /** controller.cfg in file order (mode, localSite, then the topology's), on the controller's server; null elsewhere. */
  controller_cfg: Record<string, string> | null;
  /** agent.cfg of this server's agent (mode, localSite, controllerSite, then the topology's); null without an agent. */
  agent_cfg: Record<string, string> | null;
  /** cluster.cfg: the lines for every node as written, then each node's own `alias.key` lines. */
  cluster_cfg: Record<string, string>;
  /** cluster.nodes rows after the `localSite,mode` header: per server, its agent then its nodes. */
  cluster_nodes: Array<{ site: string; mode: 'agent' | NodeMode }>;
}

// ---------------------------------------------------------------------------
// The document's shape. The schemas are the reference of the form.

const serverObject = z.strictObject({
  address: z.string().min(1).describe('the address other servers reach this one at (the sites use it) and runbook connects to'),
  ssh: sshSchema.optional().describe('ssh settings for this server, over the top-level ssh'),
});
const serverSchema = z.preprocess((v) => (typeof v === 'string' ? { address: v } : v), serverObject).describe('the server\'s address, or { address, ssh }');

const clusterSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . -').default('dolphindb').describe('cluster name, typed to confirm clean/destroy at a terminal'),
  package: z.string().min(1).describe('local DolphinDB_Linux64_V<version>.zip to upload (relative paths start at this file)'),
  license: z.string().min(1).nullable().optional().describe('local license file that replaces server/dolphindb.lic on every server (default: keep the package\'s)'),
  install_dir: absolutePath('install_dir', 'the servers').default(DEFAULT_INSTALL_DIR).describe('folder the zip unpacks into on every server (default /DolphinDB); no spaces or non-ASCII characters'),
  systemd_dir: absolutePath('systemd_dir', 'the servers').default(DEFAULT_SYSTEMD_DIR).describe('where the systemd units go (default /usr/lib/systemd/system)'),
  user: z.string().min(1).default(DEFAULT_ADMIN.user).describe('the administrator (default admin)'),
  password: z.unknown().optional().describe('the administrator\'s password: text, { env: NAME } or { file: path } (default 123456)'),
});

const controllerSchema = z.strictObject({
  server: z.string().min(1).describe('the server the controller runs on'),
  port: portSchema.default(DEFAULT_CONTROLLER_PORT).describe('its port (default 8900)'),
  alias: z.string().min(1).optional().describe('its alias (default controller<port>)'),
});

const agentSchema = z.strictObject({
  server: z.string().min(1).describe('the server this agent runs on (one agent per server)'),
  port: portSchema.default(DEFAULT_AGENT_PORT).describe('its port (default 8901)'),
  alias: z.string().min(1).optional().describe('its alias (default <server>-agent)'),
  cfg: settingsSchema.describe('this agent\'s own agent.cfg parameters, over the top-level agent.cfg'),
});

const nodeSchema = z.strictObject({
  server: z.string().min(1).describe('the server this node runs on (it needs an agent)'),
  port: portSchema.describe('its port'),
  alias: z.string().min(1).optional().describe('its alias (default <server>-datanode or <server>-computenode, numbered from the second on a server)'),
  mode: z.enum(['datanode', 'computenode']).default('datanode').describe('datanode (default) or computenode'),
  cfg: settingsSchema.describe('this node\'s own parameters, written to cluster.cfg as <alias>.key=value'),
});

const topologySchema = z.strictObject({
  product: z.literal(DOLPHINDB_PRODUCT).describe('dolphindb'),
  ssh: sshSchema.optional().describe('ssh defaults for every server'),
  cluster: clusterSchema.describe('what the whole cluster shares'),
  servers: z.record(z.string(), serverSchema).describe('the physical servers: name → address (or { address, ssh })'),
  controller: controllerSchema.describe('the one controller'),
  agents: z.array(agentSchema).nullable().optional().describe('the agents (default: one on every server, port 8901, alias <server>-agent)'),
  nodes: z.array(nodeSchema).min(1, 'a DolphinDB cluster needs at least one data node').describe('the data and compute nodes'),
  'controller.cfg': settingsSchema.describe('controller.cfg parameters (mode and localSite are written by runbook)'),
  'agent.cfg': settingsSchema.describe('agent.cfg parameters of every agent (mode, localSite and controllerSite are written by runbook)'),
  'cluster.cfg': settingsSchema.describe('cluster.cfg: parameters of every data and compute node, and alias.key lines with % and ? wildcards; values may use <ALIAS>'),
});

/** Names of the groups the adapter makes; a server may not be called that. */
const GROUP_NAMES = ['dolphindb', 'controller', 'agents', 'datanodes', 'computenodes'];

export const dolphindbTopologyAdapter: ProductAdapter = {
  product: DOLPHINDB_PRODUCT,
  recognises: (doc) => 'servers' in doc && 'controller' in doc && 'nodes' in doc,
  load: loadDolphindbTopology,
};

/**
 * The document's default password is public, and "123456" registered with
 * the secret masker would mask it inside every longer number in the output
 * (timestamps, sizes). The default prints as a mask and reveals 123456
 * without registering it; a password the user gives is an ordinary Secret.
 */
const factoryPassword = (): Secret => new FactoryDefaultPassword(DEFAULT_ADMIN.password, 'DolphinDB default');

// ---------------------------------------------------------------------------

interface Server {
  name: string;
  path: YamlPath;
  address: string;
  conn: ConnectionDraft;
}

interface Agent {
  server: string;
  port: number;
  alias: string;
  /** Where the agent is written (or, for a default agent, its server). */
  path: YamlPath;
  aliasAt: YamlPath;
  portAt: YamlPath;
  cfg: TextSettings;
  listed: boolean;
}

interface DNode {
  server: string;
  port: number;
  alias: string;
  mode: NodeMode;
  path: YamlPath;
  aliasAt: YamlPath;
  portAt: YamlPath;
  cfg: TextSettings;
}

interface Named {
  alias: string;
  kind: string;
  at: YamlPath;
  given: boolean;
}

export function loadDolphindbTopology(source: SourceFile, doc: Record<string, unknown>): Inventory {
  const { ctx, t, sshDefaults } = parseTopology(source, doc, topologySchema, WHAT);
  const { errors } = ctx;
  const cluster = t.cluster;
  const has = (path: YamlPath): boolean => source.doc.hasIn(path);
  const at = (path: YamlPath, fallback: YamlPath): YamlPath => (has(path) ? path : fallback);

  // The package and the license: local files.
  const { path: pkg, name: pkgName, problem: pkgProblem } = clusterPackage(cluster.package, 'dolphindb', ctx);
  const version = packageVersion(pkgName);
  if (!pkgProblem && version === undefined) {
    errors.push(source.error(['cluster', 'package'], `cluster.package must be a DolphinDB server zip named like DolphinDB_Linux64_V2.00.11.3.zip, not ${pkgName}`, 'keep the download\'s name: runbook reads the version from it (upgrade and rollback report it)'));
  }
  let license: string | null = null;
  if (cluster.license !== undefined && cluster.license !== null) {
    license = localFile(cluster.license, ['cluster', 'license'], 'cluster.license', 'fix the path, or leave license out to keep the package\'s dolphindb.lic (the community trial: at most 2 nodes)', ctx).path;
  }

  const installDir = normaliseDir(cluster.install_dir);
  const installProblem = installPathProblem(installDir);
  if (installProblem) {
    errors.push(source.error(['cluster', 'install_dir'], `cluster.install_dir "${installDir}" ${installProblem}`, 'DolphinDB fails to start its data nodes from such a folder (the document, step 1): use letters, digits, -, _ and /'));
  }
  if (PROTECTED_DIRS.has(installDir)) {
    errors.push(source.error(at(['cluster', 'install_dir'], ['cluster']), `cluster.install_dir is ${installDir}, a system folder`, 'destroy removes the install folder: give DolphinDB its own, e.g. /DolphinDB or /opt/DolphinDB'));
  }
  const password = clusterPassword(cluster.password, factoryPassword, ctx);

  // Servers.
  const servers = new Map<string, Server>();
  for (const [name, raw] of Object.entries(t.servers)) {
    const path: YamlPath = ['servers', name];
    if (!ALIAS_PATTERN.test(name)) {
      errors.push(source.error(path, `server name "${name}" cannot be used`, 'server names start the default aliases (<server>-agent, <server>-datanode): use letters, digits, - and _ (put a host name in address)', true));
    } else if (GROUP_NAMES.includes(name)) {
      errors.push(source.error(path, `"${name}" is the name of a group runbook makes`, `reserved: ${GROUP_NAMES.join(', ')}; rename the server`, true));
    }
    const conn = optionalConnectionDraft(raw.ssh, [...path, 'ssh'], `servers.${name}.ssh`, ctx);
    conn.address = raw.address;
    servers.set(name, { name, path, address: raw.address, conn });
  }
  if (servers.size === 0) errors.push(source.error(['servers'], 'the topology lists no servers', 'list them as servers: { P1: 10.0.0.80, … }'));
  const byAddress = new Map<string, Server>();
  for (const s of servers.values()) {
    const first = byAddress.get(s.address);
    if (first) {
      errors.push(source.error(at([...s.path, 'address'], s.path), `servers ${s.name} and ${first.name} have one address, ${s.address}`, 'a server is one machine: list it once and put all its nodes on it'));
    } else byAddress.set(s.address, s);
  }
  const serverRef = (name: string, path: YamlPath, what: string): Server | undefined => {
    const s = servers.get(name);
    if (!s) {
      const guess = didYouMean(name, servers.keys());
      errors.push(source.error(path, `${what} is on server "${name}", which is not under servers`, guess ? `did you mean "${guess}"?` : `servers here: ${[...servers.keys()].join(', ') || 'none'}`));
    }
    return s;
  };

  // The controller.
  const ctl = t.controller;
  const ctlServer = serverRef(ctl.server, ['controller', 'server'], 'the controller');
  const ctlAlias = ctl.alias ?? `controller${ctl.port}`;
  const ctlSite = site(ctlServer?.address ?? '?', ctl.port, ctlAlias);

  // Agents: listed, or one per server.
  const agents: Agent[] = [];
  if (t.agents === undefined || t.agents === null) {
    for (const s of servers.values()) {
      agents.push({ server: s.name, port: DEFAULT_AGENT_PORT, alias: `${s.name}-agent`, path: s.path, aliasAt: s.path, portAt: s.path, cfg: { values: {}, paths: {} }, listed: false });
    }
  } else {
    t.agents.forEach((raw, i) => {
      const path: YamlPath = ['agents', i];
      serverRef(raw.server, [...path, 'server'], `agents[${i}]`);
      agents.push({
        server: raw.server,
        port: raw.port,
        alias: raw.alias ?? `${raw.server}-agent`,
        path,
        aliasAt: at([...path, 'alias'], path),
        portAt: at([...path, 'port'], path),
        cfg: source.textSettings(raw.cfg, [...path, 'cfg']),
        listed: true,
      });
    });
  }
  const agentOf = new Map<string, Agent>();
  for (const a of agents) {
    const first = agentOf.get(a.server);
    if (first) {
      errors.push(source.error(a.path, `server ${a.server} has two agents, ${first.alias} and ${a.alias}`, 'DolphinDB runs exactly one agent per server (it starts that server\'s data and compute nodes): remove one'));
    } else agentOf.set(a.server, a);
  }

  // Data and compute nodes.
  const counts = new Map<string, number>();
  const nodes: DNode[] = t.nodes.map((raw, i) => {
    const path: YamlPath = ['nodes', i];
    serverRef(raw.server, [...path, 'server'], `nodes[${i}]`);
    const key = `${raw.server}-${raw.mode}`;
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    return {
      server: raw.server,
      port: raw.port,
      alias: raw.alias ?? (n === 1 ? key : `${key}${n}`),
      mode: raw.mode,
      path,
      aliasAt: at([...path, 'alias'], path),
      portAt: [...path, 'port'],
      cfg: source.textSettings(raw.cfg, [...path, 'cfg']),
    };
  });
  if (!nodes.some((n) => n.mode === 'datanode')) {
    errors.push(source.error(['nodes'], 'the cluster has no data node', 'compute nodes store nothing: list at least one node with mode datanode (the default)', true));
  }
  const agentless = new Set<string>();
  for (const n of nodes) {
    if (!servers.has(n.server) || agentOf.has(n.server) || agentless.has(n.server)) continue;
    agentless.add(n.server);
    errors.push(
      source.error(
        [...n.path, 'server'],
        `server ${n.server} runs ${n.alias} but has no agent`,
        `every server with data or compute nodes needs exactly one agent, which starts and stops them: add "- server: ${n.server}" under agents (or leave agents out for one on every server)`,
      ),
    );
  }

  // Aliases: the cluster's names for its nodes, unique and case-sensitive.
  const named: Named[] = [
    { alias: ctlAlias, kind: 'the controller', at: at(['controller', 'alias'], ['controller']), given: ctl.alias !== undefined },
    ...agents.map((a) => ({ alias: a.alias, kind: `the agent on ${a.server}`, at: a.aliasAt, given: a.aliasAt !== a.path })),
    ...nodes.map((n) => ({ alias: n.alias, kind: `the ${n.mode} on ${n.server}`, at: n.aliasAt, given: n.aliasAt !== n.path })),
  ];
  checkAliases(named, ctx);

  // Ports: every process on a server listens on its own.
  const listeners: Array<{ server: string; port: number; owner: string; key: string; at: YamlPath }> = [];
  if (ctlServer) listeners.push({ server: ctl.server, port: ctl.port, owner: ctlAlias, key: 'controller port', at: at(['controller', 'port'], ['controller']) });
  for (const a of agents) if (servers.has(a.server)) listeners.push({ server: a.server, port: a.port, owner: a.alias, key: a.listed ? 'agent port' : 'default agent port', at: a.portAt });

  // The cfg maps.
  const controllerCfg = source.textSettings(t['controller.cfg'], ['controller.cfg']);
  const agentCfg = source.textSettings(t['agent.cfg'], ['agent.cfg']);
  const clusterCfg = source.textSettings(t['cluster.cfg'], ['cluster.cfg']);
  for (const s of [controllerCfg, agentCfg, clusterCfg, ...agents.map((a) => a.cfg), ...nodes.map((n) => n.cfg)]) checkCfgText(s, ctx);

  checkIdentity(controllerCfg, 'controller.cfg', { mode: 'controller', localSite: ctlServer ? ctlSite : undefined }, ctx);
  if (controllerCfg.values.controllerSite !== undefined) {
    errors.push(source.error(controllerCfg.paths.controllerSite!, 'controllerSite belongs in agent.cfg, not controller.cfg', 'remove it: runbook writes it into every agent.cfg', true));
  }
  const onlyAgent = agents.length === 1 ? agents[0] : undefined;
  const agentSite = (a: Agent): string | undefined => (servers.has(a.server) ? site(servers.get(a.server)!.address, a.port, a.alias) : undefined);
  checkIdentity(agentCfg, 'agent.cfg', { mode: 'agent', localSite: onlyAgent ? agentSite(onlyAgent) : null, controllerSite: ctlServer ? ctlSite : undefined }, ctx);
  for (const a of agents) checkIdentity(a.cfg, `agent.cfg of ${a.alias}`, { mode: 'agent', localSite: agentSite(a), controllerSite: ctlServer ? ctlSite : undefined }, ctx);

  // cluster.cfg: node lines, <ALIAS>, volumes; then each node's own lines.
  const otherAliases = new Map<string, string>([[ctlAlias, 'the controller'], ...agents.map((a): [string, string] => [a.alias, 'an agent'])]);
  checkClusterCfg(clusterCfg, nodes, otherAliases, ctx);
  const ownLines = nodeOwnLines(nodes, clusterCfg, ctx);
  const clusterLines: Record<string, string> = { ...clusterCfg.values, ...ownLines };
  const dfsMetaRaw = controllerCfg.values.dfsMetaDir;
  if (dfsMetaRaw !== undefined) checkFolderParam('dfsMetaDir', dfsMetaRaw, controllerCfg.paths.dfsMetaDir!, 'controller.cfg dfsMetaDir', ctx);

  // Per node: the stream subscription port, volumes, where CHUNK_METADATA lives.
  const clusterDir = posix.join(installDir, 'server', 'clusterDemo');
  const resolved = new Map<string, { volumes: string[]; chunkMetaDir: string | undefined; chunkDir: string }>();
  for (const n of nodes) {
    if (!servers.has(n.server)) continue;
    listeners.push({ server: n.server, port: n.port, owner: n.alias, key: 'port', at: n.portAt });
    const subPort = nodeParam(clusterLines, n.alias, 'subPort');
    if (subPort !== undefined && /^\d+$/.test(subPort) && subPort !== '0') listeners.push({ server: n.server, port: Number(subPort), owner: n.alias, key: 'subPort', at: paramAt(clusterCfg, n, clusterLines, 'subPort') });
    if (n.mode !== 'datanode') continue;
    const volumes = splitVolumes(nodeParam(clusterLines, n.alias, 'volumes') ?? '').map(normaliseDir);
    const chunk = nodeParam(clusterLines, n.alias, 'chunkMetaDir');
    const chunkMetaDir = chunk !== undefined && chunk !== '' ? normaliseDir(chunk) : undefined;
    resolved.set(n.alias, { volumes, chunkMetaDir, chunkDir: chunkMetaDir ?? volumes[0] ?? posix.join(clusterDir, 'data', n.alias, 'storage') });
  }
  checkPorts(listeners, ctx);
  // Two data nodes of one server must not share a volume (each writes its chunks there).
  const seenVolume = new Map<string, string>();
  for (const n of nodes) {
    for (const v of resolved.get(n.alias)?.volumes ?? []) {
      const k = `${n.server}\0${v}`;
      const first = seenVolume.get(k);
      if (first && first !== n.alias) {
        errors.push(source.error(paramAt(clusterCfg, n, clusterLines, 'volumes'), `data nodes ${first} and ${n.alias} on ${n.server} both use the volume ${v}`, `give each its own folder, e.g. ${v}/${ALIAS_MACRO} in a line for every node`));
      } else seenVolume.set(k, n.alias);
    }
  }

  suggestLanCluster([...servers.values()].map((s) => s.address), controllerCfg, agentCfg, agents, ctx);

  // Without a license the package's community trial stays, which does not run the document's cluster.
  if (license === null && nodes.length > TRIAL_MAX_NODES) {
    ctx.warnings.push({
      message: `the cluster has ${nodes.length} data and compute nodes, and no cluster.license: the package's community trial license allows ${TRIAL_MAX_NODES}`,
      location: source.locate(has(['cluster']) ? ['cluster'] : [], true),
      hint: 'set cluster.license to the enterprise license; runbook puts it in server/dolphindb.lic on every server (the document, step 2)',
    });
  }

  if (errors.length > 0 || !password || !ctlServer || version === undefined || pkgProblem) {
    const partial = [...servers.values()].map((s) => ({ name: s.name, path: s.path, connection: s.conn, vars: [] }));
    return failTopology(ctx, WHAT, partial, sshDefaults);
  }

  // ---------------------------------------------------------------------
  // Everything holds: the host vars.

  const serverDir = posix.join(installDir, 'server');
  const controllerRef: DolphindbControllerRef = { server: ctl.server, address: ctlServer.address, port: ctl.port, alias: ctlAlias, site: ctlSite };
  const allNodes: DolphindbClusterNode[] = nodes.map((n) => ({ alias: n.alias, mode: n.mode, server: n.server, site: site(servers.get(n.server)!.address, n.port, n.alias) }));
  const allAgents = agents.map((a) => ({ alias: a.alias, server: a.server, site: agentSite(a)! }));
  const clusterNodes: DolphindbHostVars['cluster_nodes'] = [];
  for (const s of servers.values()) {
    const a = agentOf.get(s.name);
    if (a) clusterNodes.push({ site: agentSite(a)!, mode: 'agent' });
    for (const n of nodes) if (n.server === s.name) clusterNodes.push({ site: site(s.address, n.port, n.alias), mode: n.mode });
  }
  const ctlCfg = { mode: 'controller', localSite: ctlSite, ...withoutKeys(controllerCfg.values, ['mode', 'localSite']) };
  const dfsMetaDir = dfsMetaRaw !== undefined && dfsMetaRaw !== '' ? normaliseDir(dfsMetaRaw) : posix.join(clusterDir, 'dfsMeta');
  const cli: DolphindbCli = { host: ctlServer.address, port: ctl.port, user: cluster.user, password };

  const hosts: HostDraft[] = [];
  for (const s of servers.values()) {
    const isController = s.name === ctl.server;
    const agent = agentOf.get(s.name);
    const here = nodes.filter((n) => n.server === s.name);
    const chunkMetaDirs = here.filter((n) => n.mode === 'datanode').map((n) => ({ alias: n.alias, dir: resolved.get(n.alias)!.chunkDir }));
    const clean = [posix.join(clusterDir, 'data'), posix.join(clusterDir, 'log')];
    if (isController) clean.push(dfsMetaDir);
    for (const n of here) {
      const r = resolved.get(n.alias);
      if (r) clean.push(...r.volumes, ...(r.chunkMetaDir ? [r.chunkMetaDir] : []));
    }
    const vars: DolphindbHostVars = {
      cluster_name: cluster.name,
      server: s.name,
      address: s.address,
      install_dir: installDir,
      server_dir: serverDir,
      cluster_dir: clusterDir,
      config_dir: posix.join(clusterDir, 'config'),
      log_dir: posix.join(clusterDir, 'log'),
      package: pkg,
      package_name: pkgName,
      version,
      license,
      license_name: license === null ? null : basename(license),
      is_controller: isController,
      controller: controllerRef,
      agent: agent ? { address: s.address, port: agent.port, alias: agent.alias, site: agentSite(agent)! } : null,
      nodes: here.map((n) => ({ alias: n.alias, mode: n.mode, port: n.port, site: site(s.address, n.port, n.alias) })),
      all_nodes: allNodes,
      all_agents: allAgents,
      dfs_meta_dir: isController ? dfsMetaDir : null,
      chunk_meta_dirs: chunkMetaDirs,
      ports: [...new Set(listeners.filter((l) => l.server === s.name).map((l) => l.port))],
      backup_dir: posix.join(installDir, 'backup'),
      clean_dirs: outermost(clean),
      cli,
      systemd_dir: normaliseDir(cluster.systemd_dir),
      controller_cfg: isController ? ctlCfg : null,
      agent_cfg: agent
        ? { mode: 'agent', localSite: agentSite(agent)!, controllerSite: ctlSite, ...withoutKeys({ ...agentCfg.values, ...agent.cfg.values }, ['mode', 'localSite', 'controllerSite']) }
        : null,
      cluster_cfg: clusterLines,
      cluster_nodes: clusterNodes,
    };
    const aliases = [...(isController ? [ctlAlias] : []), ...(agent ? [agent.alias] : []), ...here.map((n) => n.alias)].filter((a) => a !== s.name);
    hosts.push({ name: s.name, path: s.path, connection: s.conn, vars: [{ values: { dolphindb: vars }, path: s.path }], aliases });
  }

  const ref = (name: string, path: YamlPath) => ({ name, path });
  const distinct = (names: string[]): string[] => [...new Set(names)];
  const groups: GroupDraft[] = [
    { name: 'controller', path: ['controller'], hosts: [ref(ctl.server, ['controller', 'server'])], children: [], vars: [] },
    { name: 'agents', path: t.agents ? ['agents'] : ['servers'], hosts: distinct(agents.map((a) => a.server)).map((n) => ref(n, servers.get(n)!.path)), children: [], vars: [] },
    { name: 'datanodes', path: ['nodes'], hosts: distinct(nodes.filter((n) => n.mode === 'datanode').map((n) => n.server)).map((n) => ref(n, servers.get(n)!.path)), children: [], vars: [] },
    { name: 'computenodes', path: ['nodes'], hosts: distinct(nodes.filter((n) => n.mode === 'computenode').map((n) => n.server)).map((n) => ref(n, servers.get(n)!.path)), children: [], vars: [] },
    { name: 'dolphindb', path: ['servers'], hosts: [...servers.values()].map((s) => ref(s.name, s.path)), children: [], vars: [] },
  ];
  return topologyInventory(DOLPHINDB_PRODUCT, { form: 'runbook', defaults: sshDefaults, vars: [], hosts, groups }, ctx);
}

// ---------------------------------------------------------------------------

/** lanCluster=0 when the servers may not be one LAN (the document's 5.6): a suggestion, see lanVerdict for the heuristic. */
function suggestLanCluster(addresses: string[], controllerCfg: TextSettings, agentCfg: TextSettings, agents: Agent[], ctx: LoadContext): void {
  const verdict = lanVerdict(addresses);
  if (verdict && !verdict.oneLan) {
    const missing: string[] = [];
    if (controllerCfg.values.lanCluster !== '0') missing.push('controller.cfg');
    if (agents.some((a) => (a.cfg.values.lanCluster ?? agentCfg.values.lanCluster) !== '0')) missing.push('agent.cfg');
    if (missing.length > 0) {
      ctx.warnings.push({
        message: `the servers may not be on one LAN (${verdict.why}), and ${missing.join(' and ')} ${missing.length === 1 ? 'does' : 'do'} not set lanCluster: 0`,
        location: ctx.source.locate(['servers'], true),
        hint: 'DolphinDB\'s default lanCluster=1 finds nodes by UDP broadcast, which only works inside one LAN: add lanCluster: 0 to controller.cfg and agent.cfg (and cluster.cfg), as the document advises for clouds (5.6)',
      });
    }
  }
}

/** cluster.cfg: the keys that are a node's identity, lines naming no node, `<ALIAS>` on a line naming one (the FAQ), folders. */
function checkClusterCfg(clusterCfg: TextSettings, nodes: DNode[], otherAliases: Map<string, string>, ctx: LoadContext): void {
  const { source, errors } = ctx;
  const nodeAliases = new Set(nodes.map((n) => n.alias));
  for (const key of ['mode', 'localSite', 'controllerSite']) {
    if (clusterCfg.values[key] !== undefined) {
      errors.push(source.error(clusterCfg.paths[key]!, `${key} cannot be set in cluster.cfg`, 'a data or compute node\'s site and mode come from cluster.nodes, which runbook writes from nodes:', true));
    }
  }
  for (const [key, value] of Object.entries(clusterCfg.values)) {
    const where = clusterCfg.paths[key]!;
    const k = parseClusterKey(key);
    if (k.prefix !== undefined && !k.wildcard && !nodeAliases.has(k.prefix)) {
      const other = otherAliases.get(k.prefix);
      const guess = didYouMean(k.prefix, nodeAliases);
      errors.push(
        source.error(
          where,
          other ? `cluster.cfg line ${key} names ${other} (${k.prefix})` : `cluster.cfg line ${key} names "${k.prefix}", which is not a data or compute node`,
          other ? `cluster.cfg configures data and compute nodes; set ${other === 'an agent' ? 'agent.cfg' : 'controller.cfg'} parameters there` : guess ? `did you mean "${guess}"?` : `nodes here: ${[...nodeAliases].join(', ')}`,
          true,
        ),
      );
    } else if (k.prefix !== undefined && k.wildcard && !nodes.some((n) => prefixMatches(k.prefix!, n.alias))) {
      ctx.warnings.push({ message: `cluster.cfg line ${key} matches no data or compute node`, location: source.locate(where, true), hint: `% matches any characters and ? one; aliases here: ${[...nodeAliases].join(', ')}` });
    }
    if (k.prefix !== undefined && !k.wildcard && value.includes(ALIAS_MACRO)) {
      errors.push(
        source.error(
          where,
          `cluster.cfg line ${key} names node ${k.prefix} and uses ${ALIAS_MACRO}: DolphinDB does not start that node`,
          `write the alias itself (${value.split(ALIAS_MACRO).join(k.prefix)}), or drop the "${k.prefix}." prefix to use ${ALIAS_MACRO} for every node (the document's FAQ 5.1)`,
        ),
      );
    }
    checkFolderParam(k.param, value, where, `cluster.cfg line ${key}`, ctx);
  }
}

/** Each node's own `cfg:` as `alias.key` lines of cluster.cfg, checked as such. */
function nodeOwnLines(nodes: DNode[], clusterCfg: TextSettings, ctx: LoadContext): Record<string, string> {
  const { source, errors } = ctx;
  const ownLines: Record<string, string> = {};
  for (const n of nodes) {
    for (const [key, value] of Object.entries(n.cfg.values)) {
      const where = n.cfg.paths[key]!;
      const line = `${n.alias}.${key}`;
      if (key.includes('.')) {
        errors.push(source.error(where, `${key} is not a parameter name`, `a node's cfg holds its own parameters (e.g. volumes); ${key.split('.')[0]}.… lines go under cluster.cfg`, true));
      } else if (['mode', 'localSite', 'controllerSite'].includes(key)) {
        errors.push(source.error(where, `${key} of ${n.alias} cannot be set`, 'a node\'s site and mode come from its server, port, alias and mode fields', true));
      } else if (clusterCfg.values[line] !== undefined) {
        errors.push(source.error(where, `${line} is set twice: here and in cluster.cfg (line ${source.locate(clusterCfg.paths[line]!).line})`, 'keep one of them', true));
      } else if (value.includes(ALIAS_MACRO)) {
        errors.push(source.error(where, `${key} of ${n.alias} uses ${ALIAS_MACRO}, which DolphinDB does not allow on a line that names the node (it becomes ${line})`, `write the alias itself: ${value.split(ALIAS_MACRO).join(n.alias)}`));
      } else {
        ownLines[line] = value;
        checkFolderParam(key, value, where, `${key} of ${n.alias}`, ctx);
      }
    }
  }
  return ownLines;
}

function withoutKeys(map: Record<string, string>, keys: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(map).filter(([k]) => !keys.includes(k)));
}

/** The cfg files are `key=value` lines without escaping: a key with a space, = or #, or a value over two lines, cannot be written. */
function checkCfgText(s: TextSettings, ctx: LoadContext): void {
  for (const [key, value] of Object.entries(s.values)) {
    const where = s.paths[key]!;
    if (!/^[^\s=#]+$/.test(key)) ctx.errors.push(ctx.source.error(where, `cfg key "${key}" cannot be written`, 'DolphinDB reads key=value lines: keys have no spaces, "=" or "#"', true));
    else if (/[\r\n]/.test(value)) ctx.errors.push(ctx.source.error(where, `the value of ${key} spans several lines`, 'DolphinDB reads one key=value per line: write it on one line'));
  }
}

/**
 * mode, localSite and controllerSite are written by runbook from the
 * topology. Written in a map too, they must say the same (a pasted file);
 * `null` means the key cannot be right in this map (one agent.cfg for several
 * agents cannot hold each one's localSite), undefined that the value is not
 * known (the controller's server is already an error).
 */
function checkIdentity(s: TextSettings, file: string, expected: Record<string, string | null | undefined>, ctx: LoadContext): void {
  for (const [key, want] of Object.entries(expected)) {
    const got = s.values[key];
    if (got === undefined || want === undefined || got === want) continue;
    const where = s.paths[key]!;
    if (want === null) {
      ctx.errors.push(ctx.source.error(where, `${key} in the agent.cfg of every agent cannot be right for each of them`, 'remove it: runbook writes each agent\'s localSite from its server, port and alias', true));
    } else if (key === 'controllerSite') {
      ctx.errors.push(
        ctx.source.error(
          where,
          `controllerSite in ${file} is ${got}, but the controller's localSite is ${want}`,
          'agents find the controller by controllerSite, which must equal controller.cfg\'s localSite, alias included: remove it (runbook writes the right one) or correct it',
        ),
      );
    } else if (key === 'localSite') {
      ctx.errors.push(ctx.source.error(where, `localSite in ${file} is ${got}, but the topology makes it ${want}`, 'remove it: runbook writes it from the server\'s address, the port and the alias; change those instead'));
    } else {
      ctx.errors.push(ctx.source.error(where, `mode in ${file} is ${got}; it must be ${want}`, 'remove it: runbook writes it'));
    }
  }
}

/** volumes, chunkMetaDir and dfsMetaDir are folders runbook backs up and cleans: absolute, and not system folders. */
function checkFolderParam(param: string, value: string, where: YamlPath, what: string, ctx: LoadContext): void {
  if (!['volumes', 'chunkMetaDir', 'dfsMetaDir'].includes(param)) return;
  const entries = param === 'volumes' ? splitVolumes(value) : [value.trim()];
  for (const entry of entries) {
    if (!entry.startsWith('/')) {
      const hint = param === 'volumes' ? 'DolphinDB accepts only absolute volume paths (the document, 5.8), e.g. /VOL1/<ALIAS>' : `give an absolute folder, e.g. /ddb/${param === 'dfsMetaDir' ? 'dfsMeta' : 'chunkMeta/<ALIAS>'}`;
      ctx.errors.push(ctx.source.error(where, `${what}: ${entry} is not an absolute path`, hint));
    } else if (PROTECTED_DIRS.has(normaliseDir(entry))) {
      ctx.errors.push(ctx.source.error(where, `${what}: ${normaliseDir(entry)} is a system folder, which clean would empty`, 'give DolphinDB a folder of its own, e.g. /VOL1/<ALIAS>'));
    }
  }
}

function checkAliases(named: Named[], ctx: LoadContext): void {
  const seen = new Map<string, Named>();
  for (const n of named) {
    if (!ALIAS_PATTERN.test(n.alias)) {
      ctx.errors.push(
        ctx.source.error(n.at, `alias "${n.alias}" of ${n.kind} cannot be used`, 'aliases are written in sites (address:port:alias), cluster.nodes and alias.key lines: use letters, digits, - and _', n.given),
      );
      continue;
    }
    const first = seen.get(n.alias);
    if (first) {
      const shown = n.given ? `alias ${n.alias}` : `the default alias ${n.alias}`;
      ctx.errors.push(
        ctx.source.error(
          n.at,
          `${shown} of ${n.kind} is already the alias of ${first.kind} (line ${ctx.source.locate(first.at).line})`,
          n.given ? 'aliases name nodes in the cluster and must be unique (case-sensitive): rename one' : 'give this one an alias of its own: alias: …',
          n.given,
        ),
      );
    } else seen.set(n.alias, n);
  }
}

function checkPorts(listeners: Array<{ server: string; port: number; owner: string; key: string; at: YamlPath }>, ctx: LoadContext): void {
  for (const { listener: l, first, free } of portClashes(listeners, (x) => x.server)) {
    ctx.errors.push(
      ctx.source.error(
        l.at,
        `port ${l.port} on server ${l.server} is taken twice: ${l.owner}'s ${l.key} and ${first.owner}'s ${first.key}`,
        l.key === 'default agent port'
          ? `every process on a server needs its own port (else "Failed to bind the socket on port ${l.port}"): list the agents to give this one another, e.g. agents: [{ server: ${l.server}, port: ${free} }, …]`
          : `every process on a server needs its own port (else "Failed to bind the socket on port ${l.port}"): use another, e.g. ${free}`,
      ),
    );
  }
}

/** Where a node's parameter comes from, for messages: the node's own line, else the cluster.cfg line that applies. */
function paramAt(clusterCfg: TextSettings, n: DNode, lines: Record<string, string>, param: string): YamlPath {
  if (n.cfg.paths[param]) return n.cfg.paths[param];
  let best: { rank: number; path: YamlPath } | undefined;
  for (const key of Object.keys(lines)) {
    const k = parseClusterKey(key);
    if (k.param !== param || !clusterCfg.paths[key]) continue;
    const rank = k.prefix === undefined ? 0 : prefixMatches(k.prefix, n.alias) ? (k.wildcard ? 1 : 2) : -1;
    if (rank >= 0 && (!best || rank >= best.rank)) best = { rank, path: clusterCfg.paths[key] };
  }
  return best?.path ?? n.path;
}

