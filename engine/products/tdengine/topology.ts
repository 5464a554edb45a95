// A TDengine cluster topology (`product: tdengine`) as a runbook inventory.
//
// The form follows the cluster deployment document: every dnode is named by
// its FQDN (`hostname -f` of its machine) and serverPort; the cluster has one
// firstEp that every dnode's taos.cfg points at (the first dnode by default);
// at most three dnodes carry an mnode; the parameters the document lists as
// "must match" (statusInterval, timezone, locale, charset, ttlChangeOnWrite)
// are set once for the cluster; optional taosAdapter instances sit behind an
// nginx load balancer configured as the document gives it, and optional
// taosKeeper (6043) and taos-Explorer (6060) instances, which reach the
// cluster through a taosAdapter, fill nginx's keeper and explorer upstreams.
//
// Reading goes: check the document's shape with zod (errors at their yaml
// line, "did you mean" for misspelt keys), then what only the whole cluster
// shows (unique endpoints and machines, firstEp, mnode count, per-dnode
// overrides of must-match parameters, ports and folders shared on one
// machine). Everything is collected and thrown together before any host is
// touched. Hosts then go through the generic buildInventory.

import { posix } from 'node:path';
import { z } from 'zod';
import { didYouMean } from '../../errors.js';
import { optionalConnectionDraft, sshSchema, type ConnectionDraft, type GroupDraft, type HostDraft, type InventoryDraft } from '../../inventory/runbook-form.js';
import type { LoadContext } from '../../inventory/secrets.js';
import type { Inventory, ProductAdapter } from '../../inventory/types.js';
import type { Secret } from '../../secret.js';
import type { SourceFile, YamlPath } from '../../source.js';
import { absolutePath, clusterPackage, clusterPassword, FactoryDefaultPassword, failTopology, folderClashes, parseTopology, portClashes, portSchema, settingsSchema, topologyInventory } from '../common.js';
import { isInside, normaliseDir } from '../paths.js';
import {
  adapterPattern,
  DEFAULT_ADAPTER_PORT,
  DEFAULT_ADMIN,
  DEFAULT_DATA_DIR,
  DEFAULT_EXPLORER_PORT,
  DEFAULT_KEEPER_PORT,
  DEFAULT_LOG_DIR,
  DEFAULT_SERVER_PORT,
  isHostName,
  MANAGED_KEYS,
  MAX_MNODES,
  MIN_DNODES_FOR_MNODES,
  MUST_MATCH,
  nginxPattern,
  servicePattern,
  packageTopDir,
  PROTECTED_DIRS,
  taosdPattern,
} from './cfg.js';

export const TDENGINE_PRODUCT = 'tdengine';
/** The document, as messages name it. */
const WHAT = 'the TDengine topology';

// ---------------------------------------------------------------------------
// Host vars: the names templates and playbooks use. Keep them stable.

export interface TdengineCli {
  /** Where the dnode's own taos client reaches the cluster: the firstEp. */
  host: string;
  port: number;
  user: string;
  password: Secret;
}

interface CommonVars {
  cluster_name: string;
  deploy_dir: string;
  dir_name: string;
  /** deploy_dir/dir_name: the unpacked TDengine package. */
  home: string;
  /** Local archive and its name on the host. */
  package: string;
  package_name: string;
  /** The archive's top folder (renamed to dir_name when unpacked). */
  top_dir: string;
  /** Config folder given to the program with -c. */
  cfg_dir: string;
  process_pattern: string;
  ports: number[];
  /** What clean deletes: a dnode's data and log folders; nothing for the others. */
  clean_dirs: string[];
  destroy_dirs: string[];
}

export interface TdengineDnodeVars extends CommonVars {
  role: 'dnode';
  /** 1-based position in the topology. */
  index: number;
  fqdn: string;
  server_port: number;
  /** fqdn:serverPort, as `create dnode` and `show dnodes` write it. */
  endpoint: string;
  is_first_ep: boolean;
  /** Carries an mnode (the firstEp dnode always does). */
  mnode: boolean;
  data_dir: string;
  log_dir: string;
  log_file: string;
  /** taos.cfg, in file order: firstEp, fqdn, serverPort, dataDir, logDir, the cluster's parameters, this dnode's extras. */
  cfg: Record<string, string>;
  cli: TdengineCli;
}

export interface TdengineAdapterVars extends CommonVars {
  role: 'adapter';
  port: number;
  endpoint: string;
  config_file: string;
  log_dir: string;
  /** The taos.cfg next to taosadapter.toml: where the adapter finds the cluster. */
  cfg: Record<string, string>;
}

export interface TdengineNginxVars {
  role: 'nginx';
  cluster_name: string;
  deploy_dir: string;
  home: string;
  conf_file: string;
  pid_file: string;
  error_log: string;
  binary: string;
  process_pattern: string;
  listen: { adapter: number; keeper: number; explorer: number };
  /** Upstream servers, as host:port, in the document's three upstream blocks. */
  upstreams: { dbserver: string[]; keeper: string[]; explorer: string[] };
  ports: number[];
  clean_dirs: string[];
  destroy_dirs: string[];
}

/** taosKeeper (monitoring, 6043) or taos-Explorer (web console, 6060): both reach the cluster through a taosAdapter's REST port. */
export interface TdengineServiceVars extends CommonVars {
  role: 'keeper' | 'explorer';
  port: number;
  endpoint: string;
  config_file: string;
  log_dir: string;
  /** The program in <home>/bin and its config option: `taoskeeper -c <toml>`, `taos-explorer -C <toml>`. */
  program: 'taoskeeper' | 'taos-explorer';
  config_flag: '-c' | '-C';
  /** The taosAdapter it uses, as host and port. */
  adapter_host: string;
  adapter_port: number;
  user: string;
  password: Secret;
}

export type TdengineHostVars = TdengineDnodeVars | TdengineAdapterVars | TdengineServiceVars | TdengineNginxVars;

export interface TdengineClusterVars {
  name: string;
  /** The firstEp endpoint and the dnode that has it. */
  first_ep: string;
  first_ep_host: string;
  dnodes: string[];
  /** Every dnode's endpoint, firstEp's first: the playbooks ask the cluster through the first that answers, as taos can connect to any dnode. */
  endpoints: string[];
  /** Dnodes that carry mnodes, firstEp's first. */
  mnodes: string[];
  mnode_endpoints: string[];
  adapters: string[];
  keepers: string[];
  explorers: string[];
  /** The cluster's admin account, for taos -u/-p. */
  user: string;
}

// ---------------------------------------------------------------------------
// The document's shape. The schemas are the reference of the form: every
// field says what it is.

const endpointList = z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'host:port')).optional();

const hostSsh = sshSchema.optional().describe('ssh settings for this machine, over the top-level ssh');

const clusterSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . -').default('tdengine').describe('cluster name, typed to confirm clean/destroy at a terminal'),
  package: z.string().min(1).describe('local TDengine-server-<version>-Linux-x64.tar.gz to upload (relative paths start at this file)'),
  deploy_dir: absolutePath('deploy_dir').default('/opt/tdengine').describe('folder on each machine the package is unpacked into'),
  dir_name: z.string().regex(/^[^/]+$/, 'one folder name').default('taos').describe('name of the unpacked package folder (default taos)'),
  first_ep: z.string().min(1).optional().describe('the dnode that creates the cluster and every dnode joins through: its name, fqdn or fqdn:port (default: the first dnode)'),
  user: z.string().min(1).default(DEFAULT_ADMIN.user).describe('TDengine admin user for taos -u (default root)'),
  password: z.unknown().optional().describe('TDengine admin password: text, { env: NAME } or { file: path } (default: the factory password)'),
  'taos.cfg': settingsSchema.describe('taos.cfg parameters of every dnode, including the ones that must match (statusInterval, timezone, locale, charset, ttlChangeOnWrite)'),
});

const dnodeSchema = z.strictObject({
  name: z.string().min(1).optional().describe('inventory name of the dnode (default dnode<N>)'),
  fqdn: z.string().min(1).describe("the dnode's FQDN: `hostname -f` of its machine; other dnodes and clients reach it by this name"),
  address: z.string().min(1).optional().describe('where runbook connects with ssh (default: the fqdn)'),
  serverPort: portSchema.default(DEFAULT_SERVER_PORT).describe('taosd port (default 6030)'),
  dataDir: absolutePath('dataDir').default(DEFAULT_DATA_DIR).describe('data folder (default /var/lib/taos)'),
  logDir: absolutePath('logDir').default(DEFAULT_LOG_DIR).describe('log folder (default /var/log/taos)'),
  dir_name: z.string().regex(/^[^/]+$/, 'one folder name').optional().describe('name of the unpacked package folder for this dnode (two dnodes on one machine need two)'),
  mnode: z.boolean().optional().describe('create an mnode on this dnode (at most 3 in the cluster; the firstEp dnode always has one)'),
  'taos.cfg': settingsSchema.describe("this dnode's own taos.cfg parameters (not the must-match ones)"),
  ssh: hostSsh,
});

const adapterSchema = z.strictObject({
  name: z.string().min(1).optional().describe('inventory name (default adapter<N>)'),
  host: z.string().min(1).describe('the machine (its hostname); nginx reaches the adapter here'),
  address: z.string().min(1).optional().describe('where runbook connects with ssh (default: host)'),
  port: portSchema.default(DEFAULT_ADAPTER_PORT).describe('taosAdapter port (default 6041)'),
  dir_name: z.string().regex(/^[^/]+$/, 'one folder name').default('taosadapter').describe('name of the unpacked package folder for this adapter'),
  logDir: absolutePath('logDir').optional().describe('taosAdapter log folder (default <deploy_dir>/<dir_name>/log)'),
  ssh: hostSsh,
});

/** taosKeeper and taos-Explorer: one program per entry, like an adapter, plus the adapter it asks. */
const serviceSchema = (what: string, port: number, dirName: string) =>
  z.strictObject({
    name: z.string().min(1).optional().describe(`inventory name (default ${dirName === 'taoskeeper' ? 'keeper' : 'explorer'}<N>)`),
    host: z.string().min(1).describe(`the machine (its hostname); nginx reaches ${what} here`),
    address: z.string().min(1).optional().describe('where runbook connects with ssh (default: host)'),
    port: portSchema.default(port).describe(`${what} port (default ${port})`),
    dir_name: z.string().regex(/^[^/]+$/, 'one folder name').default(dirName).describe(`name of the unpacked package folder for this ${what}`),
    logDir: absolutePath('logDir').optional().describe(`${what} log folder (default <deploy_dir>/<dir_name>/log)`),
    adapter: z.string().min(1).optional().describe(`the taosAdapter ${what} asks, by name or host:port (default: the one on the same host, else the first)`),
    ssh: hostSsh,
  });

const keeperSchema = serviceSchema('taosKeeper', DEFAULT_KEEPER_PORT, 'taoskeeper');
const explorerSchema = serviceSchema('taos-Explorer', DEFAULT_EXPLORER_PORT, 'taos-explorer');

const nginxSchema = z.strictObject({
  host: z.string().min(1).describe('the machine nginx runs on'),
  address: z.string().min(1).optional().describe('where runbook connects with ssh (default: host)'),
  deploy_dir: absolutePath('deploy_dir').default('/opt/tdengine-nginx').describe('folder for nginx.conf and its pid file'),
  binary: absolutePath('binary').default('/usr/sbin/nginx').describe("nginx's program (Debian: /usr/sbin/nginx)"),
  error_log: absolutePath('error_log').default('/var/log/nginx_error.log').describe("nginx's error_log (the document's value by default)"),
  adapter_port: portSchema.default(DEFAULT_ADAPTER_PORT).describe('port nginx listens on for taosAdapter (6041)'),
  keeper_port: portSchema.default(DEFAULT_KEEPER_PORT).describe('port nginx listens on for taosKeeper (6043)'),
  explorer_port: portSchema.default(DEFAULT_EXPLORER_PORT).describe('port nginx listens on for taos-Explorer (6060)'),
  keepers: endpointList.describe('taosKeeper instances as host:port (the keeper upstream; default: the topology\'s keepers; none: no 6043 server block)'),
  explorers: endpointList.describe('taos-Explorer instances as host:port (the explorer upstream; default: the topology\'s explorers; none: no 6060 server block)'),
  ssh: hostSsh,
});

const topologySchema = z.strictObject({
  product: z.literal(TDENGINE_PRODUCT).describe('tdengine'),
  ssh: sshSchema.optional().describe('ssh defaults for every machine'),
  cluster: clusterSchema.describe('what the whole cluster shares'),
  dnodes: z.array(dnodeSchema).min(1, 'a TDengine cluster needs at least one dnode').describe('the dnodes, firstEp first by default'),
  adapters: z.array(adapterSchema).nullable().optional().describe('taosAdapter instances (REST and WebSocket, port 6041)'),
  keepers: z.array(keeperSchema).nullable().optional().describe('taosKeeper instances (monitoring, port 6043); they need adapters'),
  explorers: z.array(explorerSchema).nullable().optional().describe('taos-Explorer instances (web console, port 6060); they need adapters'),
  nginx: nginxSchema.nullable().optional().describe('the nginx load balancer in front of the adapters (the document\'s configuration)'),
});

type Topology = z.output<typeof topologySchema>;

/** Names of the groups the adapter makes; a host may not be called that. */
const GROUP_NAMES = ['tdengine', 'dnodes', 'first_ep', 'mnodes', 'adapters', 'keepers', 'explorers'];

export const tdengineTopologyAdapter: ProductAdapter = {
  product: TDENGINE_PRODUCT,
  recognises: (doc) => 'dnodes' in doc && 'cluster' in doc,
  load: loadTdengineTopology,
};

/**
 * TDengine's factory password is public. Registering "taosdata" with the
 * secret masker would mask every "taosdata" in the output (h1.taosdata.com
 * in the document's own examples), so the default masks nothing it does not
 * have to: it prints as a mask and reveals the factory password.
 */
const factoryPassword = (): Secret => new FactoryDefaultPassword(DEFAULT_ADMIN.password, 'TDengine default');

// ---------------------------------------------------------------------------

interface Machine {
  address: string;
  /** The first yaml node that put something on this machine, for messages. */
  at: YamlPath;
}

interface Dnode {
  index: number;
  name: string;
  path: YamlPath;
  raw: Topology['dnodes'][number];
  address: string;
  endpoint: string;
  home: string;
  dirName: string;
  conn: ConnectionDraft;
}

interface Listener {
  owner: string;
  address: string;
  port: number;
  key: string;
  at: YamlPath;
}

interface OwnedDir {
  owner: string;
  address: string;
  dir: string;
  key: string;
  at: YamlPath;
}

export function loadTdengineTopology(source: SourceFile, doc: Record<string, unknown>): Inventory {
  const { ctx, t, sshDefaults } = parseTopology(source, doc, topologySchema, WHAT);
  const { errors } = ctx;
  const cluster = t.cluster;

  // The package: a local TDengine server archive with the vendor's name.
  const { path: pkg, name: pkgName, problem } = clusterPackage(cluster.package, 'tdengine', ctx);
  const topDir = packageTopDir(pkgName);
  if (!problem && topDir === undefined) {
    errors.push(source.error(['cluster', 'package'], `cluster.package must be a TDengine server archive named like TDengine-server-3.3.2.0-Linux-x64.tar.gz, not ${pkgName}`, 'runbook unpacks it and renames its top folder (TDengine-server-<version>) to dir_name'));
  }

  const password = clusterPassword(cluster.password, factoryPassword, ctx);

  // Cluster-wide taos.cfg.
  const clusterCfg = source.textSettings(cluster['taos.cfg'], ['cluster', 'taos.cfg']);
  for (const key of Object.keys(clusterCfg.values)) {
    const managed = MANAGED_KEYS[key];
    if (managed) errors.push(source.error(clusterCfg.paths[key]!, `${key} is written by runbook from ${managed}`, managedHint(key), true));
  }

  // Dnodes.
  const dnodes: Dnode[] = t.dnodes.map((raw, i) => {
    const path: YamlPath = ['dnodes', i];
    const name = raw.name ?? `dnode${i + 1}`;
    const address = raw.address ?? raw.fqdn;
    const dirName = raw.dir_name ?? cluster.dir_name;
    const conn = optionalConnectionDraft(raw.ssh, [...path, 'ssh'], `dnodes[${i}].ssh`, ctx);
    conn.address = address;
    return { index: i + 1, name, path, raw, address, endpoint: `${raw.fqdn}:${raw.serverPort}`, home: posix.join(cluster.deploy_dir, dirName), dirName, conn };
  });

  for (const d of dnodes) {
    if (!isHostName(d.raw.fqdn)) {
      errors.push(
        source.error([...d.path, 'fqdn'], `fqdn of ${d.name} is "${d.raw.fqdn}", which is not a host name`, 'TDengine identifies dnodes by FQDN: use the name `hostname -f` prints on that machine, and put an IP address in address'),
      );
    }
    const own = source.textSettings(d.raw['taos.cfg'], [...d.path, 'taos.cfg']);
    for (const key of Object.keys(own.values)) {
      const at = own.paths[key]!;
      if (MANAGED_KEYS[key]) errors.push(source.error(at, `${key} of ${d.name} is written by runbook from ${MANAGED_KEYS[key]}`, managedHint(key), true));
      else if (key in MUST_MATCH) {
        const cluster = clusterCfg.values[key] ?? `TDengine's default${MUST_MATCH[key] ? ` (${MUST_MATCH[key]})` : ''}`;
        errors.push(
          source.error(
            at,
            `${key} of ${d.name} overrides a parameter that must be identical on every dnode (cluster: ${cluster}, here: ${own.values[key]})`,
            `a dnode whose ${key} differs cannot join the cluster (the deployment document's table); set it once under cluster taos.cfg`,
            true,
          ),
        );
      }
    }
  }

  checkNames(dnodes.map((d) => ({ name: d.name, at: d.raw.name !== undefined ? [...d.path, 'name'] : d.path })), t, ctx);
  // A dnode that repeats another's endpoint is one problem, not also a port and folder clash.
  const repeated = checkEndpoints(dnodes, ctx);

  // firstEp.
  const firstEp = findFirstEp(cluster.first_ep, dnodes, ctx);
  const secondEp = clusterCfg.values.secondEp;
  if (secondEp !== undefined && !dnodes.some((d) => d.endpoint === secondEp)) {
    errors.push(source.error(clusterCfg.paths.secondEp!, `secondEp is "${secondEp}", which is not the fqdn:serverPort of any dnode in this topology`, endpointsHint(secondEp, dnodes)));
  }

  // mnodes: the firstEp dnode has the cluster's first one; at most 3 in all.
  if (firstEp && firstEp.raw.mnode === false) {
    errors.push(source.error([...firstEp.path, 'mnode'], `${firstEp.name} is the firstEp dnode, which always carries the cluster's first mnode`, 'remove mnode: false, or make another dnode the firstEp', true));
  }
  const mnodes = dnodes.filter((d) => d === firstEp || d.raw.mnode === true);
  if (mnodes.length > MAX_MNODES) {
    const extra = mnodes[MAX_MNODES]!;
    errors.push(
      source.error(
        [...extra.path, 'mnode'],
        `${mnodes.length} dnodes would carry an mnode (${mnodes.map((m) => m.name).join(', ')}); a TDengine cluster has at most ${MAX_MNODES}`,
        'the firstEp dnode always has one; set mnode: true on at most two others',
        true,
      ),
    );
  } else if (mnodes.length > 1 && dnodes.length < MIN_DNODES_FOR_MNODES) {
    const extra = mnodes.find((m) => m !== firstEp)!;
    errors.push(
      source.error(
        [...extra.path, 'mnode'],
        `mnodes are added once the cluster has at least ${MIN_DNODES_FOR_MNODES} dnodes, and this topology has ${dnodes.length}`,
        'add dnodes, or leave the firstEp dnode as the only mnode',
        true,
      ),
    );
  }

  // Adapters and nginx.
  const adapters = (t.adapters ?? []).map((raw, i) => {
    const path: YamlPath = ['adapters', i];
    const name = raw.name ?? `adapter${i + 1}`;
    const address = raw.address ?? raw.host;
    const conn = optionalConnectionDraft(raw.ssh, [...path, 'ssh'], `adapters[${i}].ssh`, ctx);
    conn.address = address;
    const home = posix.join(cluster.deploy_dir, raw.dir_name);
    return { name, path, raw, address, home, conn, endpoint: `${raw.host}:${raw.port}` };
  });
  const services = (['keeper', 'explorer'] as const).flatMap((role) =>
    ((role === 'keeper' ? t.keepers : t.explorers) ?? []).map((raw, i) => {
      const section = `${role}s`;
      const path: YamlPath = [section, i];
      const name = raw.name ?? `${role}${i + 1}`;
      const address = raw.address ?? raw.host;
      const conn = optionalConnectionDraft(raw.ssh, [...path, 'ssh'], `${section}[${i}].ssh`, ctx);
      conn.address = address;
      const home = posix.join(cluster.deploy_dir, raw.dir_name);
      let adapter = raw.adapter === undefined ? (adapters.find((a) => a.raw.host === raw.host) ?? adapters[0]) : adapters.find((a) => a.name === raw.adapter || a.endpoint === raw.adapter);
      if (adapters.length === 0) {
        errors.push(source.error(path, `${name} reaches the cluster through a taosAdapter, but the topology has no adapters`, 'list them under adapters: - host: …', true));
      } else if (!adapter) {
        errors.push(source.error([...path, 'adapter'], `adapter of ${name} is "${raw.adapter}", which is not an adapter of this topology`, `adapters here: ${adapters.map((a) => `${a.name} (${a.endpoint})`).join(', ')}`));
        adapter = undefined;
      }
      return { role, name, path, raw, address, home, conn, endpoint: `${raw.host}:${raw.port}`, adapter };
    }),
  );
  const nginx = t.nginx ?? undefined;
  let nginxConn: ConnectionDraft | undefined;
  if (nginx) {
    nginxConn = optionalConnectionDraft(nginx.ssh, ['nginx', 'ssh'], 'nginx.ssh', ctx);
    nginxConn.address = nginx.address ?? nginx.host;
    if (adapters.length === 0) errors.push(source.error(['nginx'], 'nginx balances taosAdapter instances, but the topology has no adapters', 'list them under adapters: - host: …', true));
  }

  const allNames = [
    ...dnodes.map((d) => ({ name: d.name, at: d.raw.name !== undefined ? [...d.path, 'name'] : d.path })),
    ...[...adapters, ...services].map((a) => ({ name: a.name, at: a.raw.name !== undefined ? [...a.path, 'name'] : a.path })),
  ];
  if (nginx) allNames.push({ name: 'nginx', at: ['nginx'] });
  checkUniqueNames(allNames, ctx);
  checkMachines(dnodes, ctx);

  // Ports and folders on one machine.
  const distinct = dnodes.filter((d) => !repeated.has(d));
  const listeners: Listener[] = [
    ...distinct.map((d) => ({ owner: d.name, address: d.address, port: d.raw.serverPort, key: 'serverPort', at: d.raw.serverPort === DEFAULT_SERVER_PORT && !hasKey(source, [...d.path, 'serverPort']) ? d.path : [...d.path, 'serverPort'] })),
    ...[...adapters, ...services].map((a) => ({ owner: a.name, address: a.address, port: a.raw.port, key: 'port', at: hasKey(source, [...a.path, 'port']) ? [...a.path, 'port'] : a.path })),
  ];
  const upstreams = {
    dbserver: adapters.map((a) => a.endpoint),
    keeper: nginx?.keepers ?? services.filter((x) => x.role === 'keeper').map((x) => x.endpoint),
    explorer: nginx?.explorers ?? services.filter((x) => x.role === 'explorer').map((x) => x.endpoint),
  };
  const nginxPorts = nginx ? nginxListenPorts(nginx, upstreams) : [];
  if (nginx) for (const p of nginxPorts) listeners.push({ owner: 'nginx', address: nginxConn!.address!, port: p.port, key: p.key, at: hasKey(source, ['nginx', p.key]) ? ['nginx', p.key] : ['nginx'] });
  checkPorts(listeners, ctx);

  const owned: OwnedDir[] = [];
  for (const d of distinct) {
    owned.push({ owner: d.name, address: d.address, dir: d.home, key: 'deploy_dir/dir_name', at: d.raw.dir_name !== undefined ? [...d.path, 'dir_name'] : d.path });
    for (const key of ['dataDir', 'logDir'] as const) {
      const dir = normaliseDir(d.raw[key]);
      const at: YamlPath = hasKey(source, [...d.path, key]) ? [...d.path, key] : d.path;
      if (PROTECTED_DIRS.has(dir)) errors.push(source.error(at, `${key} of ${d.name} is ${dir}: clean would delete it`, 'give TDengine a folder of its own, e.g. /var/lib/taos', true));
      else owned.push({ owner: d.name, address: d.address, dir, key, at });
    }
  }
  for (const a of [...adapters, ...services]) {
    owned.push({ owner: a.name, address: a.address, dir: a.home, key: 'deploy_dir/dir_name', at: hasKey(source, [...a.path, 'dir_name']) ? [...a.path, 'dir_name'] : a.path });
  }
  if (nginx) {
    const dir = normaliseDir(nginx.deploy_dir);
    if (PROTECTED_DIRS.has(dir)) errors.push(source.error(['nginx', 'deploy_dir'], `nginx deploy_dir is ${dir}: destroy would delete it`, 'give it a folder of its own, e.g. /opt/tdengine-nginx', true));
    else owned.push({ owner: 'nginx', address: nginxConn!.address!, dir, key: 'deploy_dir', at: hasKey(source, ['nginx', 'deploy_dir']) ? ['nginx', 'deploy_dir'] : ['nginx'] });
  }
  // deploy_dir itself is never deleted (only the package folders under it), so /opt is fine there.
  const deployDir = normaliseDir(cluster.deploy_dir);
  checkFolders(owned, ctx);

  if (errors.length > 0 || !firstEp || !password || topDir === undefined || problem) {
    const partial = [...dnodes.map((d) => ({ name: d.name, path: d.path, connection: d.conn, vars: [] })), ...[...adapters, ...services].map((a) => ({ name: a.name, path: a.path, connection: a.conn, vars: [] }))];
    return failTopology(ctx, WHAT, partial, sshDefaults);
  }

  // ---------------------------------------------------------------------
  // Everything holds: the host vars.

  const user = cluster.user;
  const common = (home: string, dirName: string): Omit<CommonVars, 'cfg_dir' | 'process_pattern' | 'ports' | 'clean_dirs' | 'destroy_dirs'> => ({
    cluster_name: cluster.name,
    deploy_dir: deployDir,
    dir_name: dirName,
    home,
    package: pkg,
    package_name: pkgName,
    top_dir: topDir,
  });

  const mustMatch: Record<string, string> = {};
  for (const key of Object.keys(MUST_MATCH)) if (clusterCfg.values[key] !== undefined) mustMatch[key] = clusterCfg.values[key]!;
  const clusterExtras = Object.fromEntries(Object.entries(clusterCfg.values).filter(([k]) => !(k in MUST_MATCH)));

  // The uploaded archive is one per machine; destroy removes it with the folders unpacked from it.
  const uploaded = posix.join(deployDir, pkgName);
  const hostVars = new Map<string, TdengineHostVars>();
  for (const d of dnodes) {
    const cfgDir = `${d.home}/cfg`;
    const dataDir = normaliseDir(d.raw.dataDir);
    const logDir = normaliseDir(d.raw.logDir);
    const own = source.textSettings(d.raw['taos.cfg'], [...d.path, 'taos.cfg']).values;
    const cfg: Record<string, string> = {
      firstEp: firstEp.endpoint,
      fqdn: d.raw.fqdn,
      serverPort: String(d.raw.serverPort),
      dataDir,
      logDir,
      ...mustMatch,
      ...clusterExtras,
      ...own,
    };
    hostVars.set(d.name, {
      role: 'dnode',
      ...common(d.home, d.dirName),
      cfg_dir: cfgDir,
      index: d.index,
      fqdn: d.raw.fqdn,
      server_port: d.raw.serverPort,
      endpoint: d.endpoint,
      is_first_ep: d === firstEp,
      mnode: mnodes.includes(d),
      data_dir: dataDir,
      log_dir: logDir,
      log_file: `${logDir}/taosdlog.0`,
      cfg,
      cli: { host: firstEp.raw.fqdn, port: firstEp.raw.serverPort, user, password },
      process_pattern: taosdPattern(d.home, cfgDir),
      ports: [d.raw.serverPort],
      clean_dirs: [dataDir, logDir],
      destroy_dirs: [dataDir, logDir, d.home, uploaded],
    });
  }
  for (const a of adapters) {
    const cfgDir = `${a.home}/cfg`;
    const configFile = `${cfgDir}/taosadapter.toml`;
    const logDir = a.raw.logDir ? normaliseDir(a.raw.logDir) : `${a.home}/log`;
    hostVars.set(a.name, {
      role: 'adapter',
      ...common(a.home, a.raw.dir_name),
      cfg_dir: cfgDir,
      port: a.raw.port,
      endpoint: a.endpoint,
      config_file: configFile,
      log_dir: logDir,
      cfg: { firstEp: firstEp.endpoint, ...mustMatch },
      process_pattern: adapterPattern(a.home, configFile),
      ports: [a.raw.port],
      clean_dirs: [],
      destroy_dirs: [...(a.raw.logDir && !isInside(logDir, a.home) ? [logDir] : []), a.home, uploaded],
    });
  }
  for (const x of services) {
    const cfgDir = `${x.home}/cfg`;
    const configFile = `${cfgDir}/${x.role === 'keeper' ? 'taoskeeper' : 'explorer'}.toml`;
    const logDir = x.raw.logDir ? normaliseDir(x.raw.logDir) : `${x.home}/log`;
    hostVars.set(x.name, {
      role: x.role,
      ...common(x.home, x.raw.dir_name),
      cfg_dir: cfgDir,
      port: x.raw.port,
      endpoint: x.endpoint,
      config_file: configFile,
      log_dir: logDir,
      program: x.role === 'keeper' ? 'taoskeeper' : 'taos-explorer',
      config_flag: x.role === 'keeper' ? '-c' : '-C',
      adapter_host: x.adapter!.raw.host,
      adapter_port: x.adapter!.raw.port,
      user,
      password,
      process_pattern: servicePattern(x.role, x.home, configFile),
      ports: [x.raw.port],
      clean_dirs: [],
      destroy_dirs: [...(x.raw.logDir && !isInside(logDir, x.home) ? [logDir] : []), x.home, uploaded],
    });
  }
  if (nginx) {
    const home = normaliseDir(nginx.deploy_dir);
    const confFile = `${home}/nginx.conf`;
    hostVars.set('nginx', {
      role: 'nginx',
      cluster_name: cluster.name,
      deploy_dir: home,
      home,
      conf_file: confFile,
      pid_file: `${home}/nginx.pid`,
      error_log: nginx.error_log,
      binary: nginx.binary,
      process_pattern: nginxPattern(confFile),
      listen: { adapter: nginx.adapter_port, keeper: nginx.keeper_port, explorer: nginx.explorer_port },
      upstreams,
      ports: nginxPorts.map((p) => p.port),
      clean_dirs: [],
      destroy_dirs: [home],
    });
  }

  const clusterVars: TdengineClusterVars = {
    name: cluster.name,
    first_ep: firstEp.endpoint,
    first_ep_host: firstEp.name,
    dnodes: dnodes.map((d) => d.name),
    endpoints: [firstEp, ...dnodes.filter((d) => d !== firstEp)].map((d) => d.endpoint),
    mnodes: mnodes.map((d) => d.name),
    mnode_endpoints: mnodes.map((d) => d.endpoint),
    adapters: adapters.map((a) => a.name),
    keepers: services.filter((x) => x.role === 'keeper').map((x) => x.name),
    explorers: services.filter((x) => x.role === 'explorer').map((x) => x.name),
    user,
  };

  // A dnode is selected (-N) by its name, its endpoint, or its fqdn when no other dnode shares it.
  const fqdnCount = new Map<string, number>();
  for (const d of dnodes) fqdnCount.set(d.raw.fqdn, (fqdnCount.get(d.raw.fqdn) ?? 0) + 1);
  const hosts: HostDraft[] = [
    ...dnodes.map((d) => ({
      name: d.name,
      path: d.path,
      connection: d.conn,
      vars: [{ values: { tdengine: hostVars.get(d.name) }, path: d.path }],
      aliases: [d.endpoint, ...(fqdnCount.get(d.raw.fqdn) === 1 && d.raw.fqdn !== d.name ? [d.raw.fqdn] : [])],
    })),
    ...[...adapters, ...services].map((a) => ({ name: a.name, path: a.path, connection: a.conn, vars: [{ values: { tdengine: hostVars.get(a.name) }, path: a.path }], aliases: [a.endpoint] })),
    ...(nginx ? [{ name: 'nginx', path: ['nginx'], connection: nginxConn!, vars: [{ values: { tdengine: hostVars.get('nginx') }, path: ['nginx'] }], aliases: [] }] : []),
  ];
  const refs = (names: Array<{ name: string; path: YamlPath }>) => names.map((n) => ({ name: n.name, path: n.path }));
  const groups: GroupDraft[] = [
    { name: 'dnodes', path: ['dnodes'], hosts: refs(dnodes), children: [], vars: [] },
    { name: 'first_ep', path: firstEp.path, hosts: refs([firstEp]), children: [], vars: [] },
    { name: 'mnodes', path: ['dnodes'], hosts: refs(mnodes), children: [], vars: [] },
    { name: 'adapters', path: adapters.length ? ['adapters'] : [], hosts: refs(adapters), children: [], vars: [] },
    ...(['keeper', 'explorer'] as const).map((role) => {
      const of = services.filter((x) => x.role === role);
      return { name: `${role}s`, path: of.length ? [`${role}s`] : [], hosts: refs(of), children: [], vars: [] };
    }),
    {
      name: 'tdengine',
      path: [],
      hosts: [],
      children: ['dnodes', 'adapters', 'keepers', 'explorers'].map((g) => ({ name: g, path: [g] })),
      vars: [],
    },
  ];
  const draft: InventoryDraft = { form: 'runbook', defaults: sshDefaults, vars: [{ values: { tdengine_cluster: clusterVars }, path: [] }], hosts, groups };
  const inv = topologyInventory(TDENGINE_PRODUCT, draft, ctx);
  if (nginx) {
    // nginx is one host and a group of that host, so -N nginx reads the same either way (as IoTDB's grafana).
    inv.groups.set('nginx', { name: 'nginx', hosts: ['nginx'], vars: {}, children: [], location: source.locate(['nginx'], true) });
    inv.hosts.get('nginx')!.groups.push('nginx');
  }
  return inv;
}

// ---------------------------------------------------------------------------

function managedHint(key: string): string {
  switch (key) {
    case 'firstEp':
      return 'name the firstEp dnode with cluster.first_ep (default: the first dnode)';
    case 'fqdn':
    case 'serverPort':
    case 'dataDir':
    case 'logDir':
      return `set ${key} on the dnode itself (dnodes: - fqdn: … ${key === 'fqdn' ? '' : `${key}: …`})`.replace(/ +\)/, ')');
    default:
      return 'remove it here';
  }
}

function hasKey(source: SourceFile, path: YamlPath): boolean {
  return source.doc.hasIn(path);
}

function checkNames(named: Array<{ name: string; at: YamlPath }>, t: Topology, ctx: LoadContext): void {
  for (const n of named) {
    if (GROUP_NAMES.includes(n.name) || (n.name === 'nginx' && t.nginx)) {
      ctx.errors.push(ctx.source.error(n.at, `"${n.name}" is the name of a group runbook makes`, `reserved: ${[...GROUP_NAMES, 'nginx'].join(', ')}; rename it`));
    }
  }
}

function checkUniqueNames(named: Array<{ name: string; at: YamlPath }>, ctx: LoadContext): void {
  const seen = new Map<string, YamlPath>();
  for (const n of named) {
    const first = seen.get(n.name);
    if (first) {
      ctx.errors.push(ctx.source.error(n.at, `name "${n.name}" is used twice`, `line ${ctx.source.locate(first).line} has it too; names select hosts (-N), so each must be unique`));
    } else seen.set(n.name, n.at);
  }
}

/** `create dnode` names a dnode by fqdn:serverPort: each must be one dnode. */
function checkEndpoints(dnodes: Dnode[], ctx: LoadContext): Set<Dnode> {
  const seen = new Map<string, Dnode>();
  const repeated = new Set<Dnode>();
  for (const d of dnodes) {
    const first = seen.get(d.endpoint);
    if (first) {
      ctx.errors.push(
        ctx.source.error(
          [...d.path, 'fqdn'],
          `${d.name} and ${first.name} are both ${d.endpoint}`,
          'a dnode is known to the cluster by fqdn:serverPort; give each dnode its own machine (fqdn), or a different serverPort on the same machine',
        ),
      );
      repeated.add(d);
    } else seen.set(d.endpoint, d);
  }
  return repeated;
}

/**
 * `hostname -f` gives one name per machine: a fqdn on two machines, or two
 * fqdns on one, means some dnode's fqdn is not its machine's.
 */
function checkMachines(dnodes: Dnode[], ctx: LoadContext): void {
  const byFqdn = new Map<string, Dnode>();
  const byAddress = new Map<string, Dnode>();
  for (const d of dnodes) {
    const f = byFqdn.get(d.raw.fqdn);
    if (f && f.address !== d.address) {
      ctx.errors.push(
        ctx.source.error(
          [...d.path, d.raw.address !== undefined ? 'address' : 'fqdn'],
          `fqdn ${d.raw.fqdn} is used by ${f.name} on ${f.address} and by ${d.name} on ${d.address}`,
          'each machine has one FQDN (`hostname -f`), and it must be unique in the cluster; fix the fqdn or the address',
        ),
      );
    } else if (!f) byFqdn.set(d.raw.fqdn, d);
    const a = byAddress.get(d.address);
    if (a && a.raw.fqdn !== d.raw.fqdn) {
      ctx.errors.push(
        ctx.source.error(
          [...d.path, 'fqdn'],
          `${d.name} (fqdn ${d.raw.fqdn}) and ${a.name} (fqdn ${a.raw.fqdn}) are on the same machine ${d.address}`,
          'a machine has one FQDN (`hostname -f`); dnodes sharing a machine share its fqdn and differ by serverPort',
        ),
      );
    } else if (!a) byAddress.set(d.address, d);
  }
}

function findFirstEp(wanted: string | undefined, dnodes: Dnode[], ctx: LoadContext): Dnode | undefined {
  if (wanted === undefined) return dnodes[0];
  const found = dnodes.find((d) => d.name === wanted || d.endpoint === wanted) ?? (dnodes.filter((d) => d.raw.fqdn === wanted).length === 1 ? dnodes.find((d) => d.raw.fqdn === wanted) : undefined);
  if (found) return found;
  ctx.errors.push(ctx.source.error(['cluster', 'first_ep'], `cluster.first_ep is "${wanted}", which is not a dnode of this topology`, endpointsHint(wanted, dnodes)));
  return undefined;
}

function endpointsHint(wanted: string, dnodes: Dnode[]): string {
  const candidates = dnodes.flatMap((d) => [d.name, d.endpoint, d.raw.fqdn]);
  const guess = didYouMean(wanted, candidates);
  if (guess) return `did you mean "${guess}"?`;
  return `dnodes here: ${dnodes.map((d) => `${d.name} (${d.endpoint})`).join(', ')}`;
}

function nginxListenPorts(nginx: NonNullable<Topology['nginx']>, upstreams: { keeper: string[]; explorer: string[] }): Array<{ key: string; port: number }> {
  const out = [{ key: 'adapter_port', port: nginx.adapter_port }];
  if (upstreams.keeper.length > 0) out.push({ key: 'keeper_port', port: nginx.keeper_port });
  if (upstreams.explorer.length > 0) out.push({ key: 'explorer_port', port: nginx.explorer_port });
  return out;
}

/** Two programs on one machine cannot listen on one port. */
function checkPorts(listeners: Listener[], ctx: LoadContext): void {
  for (const { listener: l, first, free } of portClashes(listeners, (x) => x.address)) {
    ctx.errors.push(
      ctx.source.error(
        l.at,
        `port ${l.port} on ${l.address} is taken twice: ${l.owner}'s ${l.key} and ${first.owner}'s ${first.key}`,
        `programs on one machine need their own ports: set ${l.key} of ${l.owner} to another port, e.g. ${free}`,
      ),
    );
  }
}

/** Folders on one machine belong to one host: clean and destroy of one must not delete another's. */
function checkFolders(dirs: OwnedDir[], ctx: LoadContext): void {
  for (const { later: b, earlier: a, how } of folderClashes(dirs)) {
    ctx.errors.push(
      ctx.source.error(
        b.at,
        `${b.owner} (${b.key}) and ${a.owner} (${a.key}) ${how} on ${b.address}`,
        b.key.startsWith('deploy_dir') && a.key.startsWith('deploy_dir')
          ? 'each dnode and adapter on a machine needs its own package folder: set dir_name'
          : "clean and destroy of one would delete the other's files: give each its own folders",
      ),
    );
  }
}
