// A dual-active IoTDB pair (双活) as one runbook inventory: two independent
// IoTDB instances, A and B (each a standalone 1C1D or a cluster), that copy
// what their clients write to each other through pipe AB (on A, sink B) and
// pipe BA (on B, sink A), as the vendor's dual-active document sets them up.
//
//   product: iotdb-dual-active
//   hostnames:                # optional: the machines' host names, as the document recommends
//     iotdb-1: 192.168.1.3
//     iotdb-2: 192.168.1.4
//   a: iotdb-a.yaml           # A: an iotdbctl topology file (relative to this file) …
//   b:                        # … or the topology itself, inline
//     global: { … }
//     confignode_servers: [ … ]
//     datanode_servers: [ … ]
//   pipes: { ab: AB, ba: BA } # optional: the pipes' names (these are the defaults)
//
// Each side is read by the IoTDB topology adapter, unchanged, so an iotdbctl
// file that deploys one instance is also one side of a pair, and every check
// it makes reports at that file's (or this file's) lines. The topologies use
// the host names in cn_internal_address / dn_internal_address / dn_rpc_address;
// `hostnames` tells runbook where to connect for each, and the playbooks put
// the same lines in every machine's /etc/hosts, as the document's first step does.
//
// What the playbooks get:
// - hosts: each side's nodes, named a_<node> and b_<node> (both sides may use
//   iotdbctl's default names), with the side's own vars (iotdb, iotdb_cluster)
//   and `pair` (this side's pipe, where its sink sends, the peer's name);
// - groups: a and b (every node of a side), a_confignodes, b_datanodes, … (the
//   sides' own groups, prefixed), confignodes, datanodes, iotdb and seed over
//   both sides (so playbooks/iotdb parts run on both), and `sides`: one
//   DataNode per side (its first), through which that side's SQL runs;
// - the global var dual_active: the pipes and the host name lines.

import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { didYouMean, InputError, InputErrors } from '../../errors.js';
import { isPlainMapping, resolveInventoryPath } from '../../inventory/secrets.js';
import type { Inventory, InventoryGroup, InventoryHost, InventoryWarning, ProductAdapter } from '../../inventory/types.js';
import { SourceFile, type YamlPath } from '../../source.js';
import { IOTDB_PRODUCT, loadIotdbTopology, type IotdbNodeVars } from '../iotdb/topology.js';

export const IOTDB_DUAL_ACTIVE_PRODUCT = 'iotdb-dual-active';

const TOP_LEVEL_KEYS = ['product', 'hostnames', 'a', 'b', 'pipes'] as const;
const SIDES = ['a', 'b'] as const;
type SideKey = (typeof SIDES)[number];

/** Groups that span both sides: the names playbooks/iotdb parts select. */
const SHARED_GROUPS = ['confignodes', 'datanodes', 'iotdb', 'seed'];

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const PIPE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The `pair` var of every host of one side. */
export interface PairSideVars {
  /** a or b. */
  side: SideKey;
  /** A or B, as the document names the instances. */
  name: string;
  peer: string;
  /** The pipe this side creates: its source is this side, its sink the peer. */
  pipe: string;
  peer_pipe: string;
  /** Where this side's pipe sends: the peer's first DataNode's dn_rpc_address (or machine) and dn_rpc_port. */
  sink_ip: string;
  sink_port: number;
  cluster_name: string;
}

export interface DualActiveVars {
  pipes: { ab: string; ba: string };
  /** /etc/hosts lines every machine of the pair gets, as name → address pairs. */
  hostnames: Array<{ name: string; address: string }>;
  a: PairSideVars;
  b: PairSideVars;
}

export const iotdbDualActiveAdapter: ProductAdapter = {
  product: IOTDB_DUAL_ACTIVE_PRODUCT,
  // Only by name: an `a:`/`b:` pair of keys is too common to claim a file by.
  recognises: (doc) => doc.product === IOTDB_DUAL_ACTIVE_PRODUCT,
  load: loadDualActivePair,
};

interface Side {
  key: SideKey;
  name: string;
  inv: Inventory;
  path: YamlPath;
}

export function loadDualActivePair(source: SourceFile, doc: Record<string, unknown>): Inventory {
  const errors: InputError[] = [];
  const baseDir = dirname(resolve(source.path));

  for (const key of Object.keys(doc)) {
    if ((TOP_LEVEL_KEYS as readonly string[]).includes(key)) continue;
    const guess = didYouMean(key, TOP_LEVEL_KEYS);
    const iotdbKey = ['global', 'confignode_servers', 'datanode_servers', 'ssh'].includes(key);
    errors.push(
      source.error(
        [key],
        `unknown key "${key}" in the dual-active pair`,
        guess
          ? `did you mean "${guess}"?`
          : iotdbKey
            ? `${key} belongs in a side's topology: under a: or b:, or in the iotdbctl file they name`
            : `allowed keys: ${TOP_LEVEL_KEYS.join(', ')}`,
        true,
      ),
    );
  }

  const hostnames = readHostnames(source, doc.hostnames, errors);
  const pipes = readPipes(source, doc.pipes, errors);
  const sides: Side[] = [];
  for (const key of SIDES) {
    const inv = loadSide(source, doc, key, baseDir, errors);
    if (inv) sides.push({ key, name: key.toUpperCase(), inv, path: [key] });
  }
  if (errors.length > 0 || sides.length !== 2) throw new InputErrors(errors);
  const [a, b] = sides as [Side, Side];
  checkIndependent(source, a, b, hostnames, errors);
  if (errors.length > 0) throw new InputErrors(errors);

  const sideVars = (me: Side, peer: Side): PairSideVars => {
    const sink = firstDataNode(peer);
    return {
      side: me.key,
      name: me.name,
      peer: peer.name,
      pipe: me.key === 'a' ? pipes.ab : pipes.ba,
      peer_pipe: me.key === 'a' ? pipes.ba : pipes.ab,
      sink_ip: sink.host,
      sink_port: sink.port,
      cluster_name: clusterName(me),
    };
  };
  const dualActive: DualActiveVars = {
    pipes,
    hostnames: [...hostnames].map(([name, address]) => ({ name, address })),
    a: sideVars(a, b),
    b: sideVars(b, a),
  };
  return combine(source, [a, b], hostnames, dualActive);
}

// ---------------------------------------------------------------------------
// Reading

function readHostnames(source: SourceFile, raw: unknown, errors: InputError[]): Map<string, string> {
  const out = new Map<string, string>();
  if (raw === undefined || raw === null) return out;
  if (!isPlainMapping(raw)) {
    errors.push(source.error(['hostnames'], 'hostnames must map host names to addresses', 'e.g.\nhostnames:\n  iotdb-1: 192.168.1.3\n  iotdb-2: 192.168.1.4'));
    return out;
  }
  for (const [name, value] of Object.entries(raw)) {
    if (!HOSTNAME.test(name)) {
      errors.push(source.error(['hostnames', name], `"${name}" is not a host name`, 'letters, digits and inner dashes, in dot-separated labels (e.g. iotdb-1)', true));
      continue;
    }
    if (isIP(name) !== 0) {
      errors.push(source.error(['hostnames', name], `"${name}" is an address, not a host name`, 'list host names here, each with the address it stands for', true));
      continue;
    }
    if (typeof value !== 'string' || isIP(value) === 0) {
      errors.push(source.error(['hostnames', name], `the address of ${name} must be an IP address, not ${JSON.stringify(value)}`, `e.g. ${name}: 192.168.1.3`));
      continue;
    }
    out.set(name, value);
  }
  return out;
}

function readPipes(source: SourceFile, raw: unknown, errors: InputError[]): { ab: string; ba: string } {
  const pipes = { ab: 'AB', ba: 'BA' };
  if (raw === undefined || raw === null) return pipes;
  if (!isPlainMapping(raw)) {
    errors.push(source.error(['pipes'], 'pipes must be a mapping with ab and ba', 'e.g. pipes: { ab: AB, ba: BA }'));
    return pipes;
  }
  for (const [key, value] of Object.entries(raw)) {
    if (key !== 'ab' && key !== 'ba') {
      const guess = didYouMean(key, ['ab', 'ba']);
      errors.push(source.error(['pipes', key], `unknown key "${key}" in pipes`, guess ? `did you mean "${guess}"?` : 'ab names the pipe from A to B, ba the pipe from B to A', true));
      continue;
    }
    if (typeof value !== 'string' || !PIPE_NAME.test(value)) {
      errors.push(source.error(['pipes', key], `pipe name ${JSON.stringify(value)} is not an IoTDB identifier`, 'letters, digits and _, not starting with a digit (e.g. AB)'));
      continue;
    }
    pipes[key] = value;
  }
  if (pipes.ab === pipes.ba) errors.push(source.error(['pipes'], `both pipes are named ${pipes.ab}`, 'give the pipe from A to B and the pipe from B to A different names'));
  return pipes;
}

/**
 * A side written inline: the pair file with everything outside that side's
 * value blanked out (line breaks kept), so the IoTDB adapter reads it as a
 * document of its own and its errors point at the right line and column.
 */
function inlineSide(source: SourceFile, key: SideKey): SourceFile {
  const node = source.doc.getIn([key], true) as { range?: [number, number, number] } | undefined;
  const range = node?.range;
  if (!range) return SourceFile.parse(source.path, '{}');
  const blank = (s: string): string => s.replace(/[^\r\n]/g, ' ');
  const text = source.text;
  return SourceFile.parse(source.path, blank(text.slice(0, range[0])) + text.slice(range[0], range[1]) + blank(text.slice(range[1])));
}

function loadSide(source: SourceFile, doc: Record<string, unknown>, key: SideKey, baseDir: string, errors: InputError[]): Inventory | undefined {
  const raw = doc[key];
  const name = key.toUpperCase();
  if (raw === undefined || raw === null) {
    errors.push(
      source.error(raw === null ? [key] : [], `the pair has no ${key}: (instance ${name})`, `set ${key}: to the iotdbctl topology of instance ${name}, as a file name or inline`, raw === null),
    );
    return undefined;
  }
  let sub: SourceFile;
  try {
    if (typeof raw === 'string') {
      const path = resolveInventoryPath(raw, baseDir);
      if (!existsSync(path)) {
        errors.push(source.error([key], `the topology of instance ${name}, ${raw}, does not exist (looked for ${path})`, "relative paths start at this file's folder"));
        return undefined;
      }
      sub = SourceFile.load(path);
    } else if (isPlainMapping(raw)) {
      sub = inlineSide(source, key);
    } else {
      errors.push(source.error([key], `${key} must be an iotdbctl topology (inline) or the name of its file, not ${Array.isArray(raw) ? 'a list' : typeof raw}`));
      return undefined;
    }
  } catch (e) {
    if (e instanceof InputError) {
      errors.push(e);
      return undefined;
    }
    throw e;
  }
  const subDoc = sub.toJS();
  if (!isPlainMapping(subDoc)) {
    errors.push(sub.error([], `the topology of instance ${name} must be a mapping (global, confignode_servers, datanode_servers)`));
    return undefined;
  }
  if ('product' in subDoc && subDoc.product !== IOTDB_PRODUCT) {
    errors.push(sub.error(['product'], `instance ${name} must be an IoTDB topology (product: ${IOTDB_PRODUCT}), not ${JSON.stringify(subDoc.product)}`));
    return undefined;
  }
  for (const extra of ['grafana_server', 'prometheus_server']) {
    if (extra in subDoc) {
      errors.push(
        sub.error(
          [extra],
          `${extra} in instance ${name}: the dual-active playbooks do not manage monitoring`,
          `deploy it with that instance's own topology (runbook play deploy -i <its file> -N ${extra.replace('_server', '')}), and remove it from the pair`,
          true,
        ),
      );
      return undefined;
    }
  }
  try {
    return loadIotdbTopology(sub, subDoc);
  } catch (e) {
    if (e instanceof InputErrors) errors.push(...e.errors);
    else if (e instanceof InputError) errors.push(e);
    else throw e;
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// Cross-checks and the combined inventory

function iotdbVars(h: InventoryHost): IotdbNodeVars {
  return h.vars.iotdb as IotdbNodeVars;
}

function clusterName(side: Side): string {
  const first = side.inv.hosts.values().next().value;
  return first ? iotdbVars(first).cluster_name : '';
}

/** The side's first DataNode's client endpoint: what the peer's pipe sends to. */
function firstDataNode(side: Side): { host: string; port: number; name: string } {
  const name = side.inv.groups.get('datanodes')!.hosts[0]!;
  const endpoint = iotdbVars(side.inv.hosts.get(name)!).endpoint;
  const at = endpoint.lastIndexOf(':');
  return { host: endpoint.slice(0, at), port: Number(endpoint.slice(at + 1)), name };
}

/** A and B must be two instances: no node of one may listen where a node of the other does. */
function checkIndependent(source: SourceFile, a: Side, b: Side, hostnames: Map<string, string>, errors: InputError[]): void {
  const machine = (addr: string): string => hostnames.get(addr) ?? addr;
  const taken = new Map<string, string>();
  for (const h of a.inv.hosts.values()) for (const p of iotdbVars(h).ports) taken.set(`${machine(h.address)}:${p}`, h.name);
  for (const h of b.inv.hosts.values()) {
    for (const p of iotdbVars(h).ports) {
      const other = taken.get(`${machine(h.address)}:${p}`);
      if (other === undefined) continue;
      errors.push(
        source.error(
          ['b'],
          `instances A and B both use port ${p} on ${machine(h.address)} (A's ${other}, B's ${h.name})`,
          'a dual-active pair is two independent instances: put them on different machines, or give one of them other ports',
        ),
      );
      return;
    }
  }
}

function combine(source: SourceFile, sides: [Side, Side], hostnames: Map<string, string>, dualActive: DualActiveVars): Inventory {
  const hosts = new Map<string, InventoryHost>();
  const groups = new Map<string, InventoryGroup>();
  const warnings: InventoryWarning[] = [];
  const addTo = (group: string, host: string, location?: InventoryGroup['location']): void => {
    const g = groups.get(group) ?? { name: group, hosts: [], vars: {}, children: [], location };
    if (!g.hosts.includes(host)) g.hosts.push(host);
    groups.set(group, g);
  };
  const unmapped = new Set<string>();

  for (const side of sides) {
    const prefix = `${side.key}_`;
    const sideLocation = source.locate(side.path, true);
    const pair = dualActive[side.key];
    warnings.push(...(side.inv.warnings ?? []));
    for (const h of side.inv.hosts.values()) {
      const name = prefix + h.name;
      const mapped = hostnames.get(h.address);
      if (mapped === undefined && isIP(h.address) === 0) unmapped.add(h.address);
      const address = mapped ?? h.address;
      // The topology's endpoints name the host; the same endpoints by address select the node too.
      const aliases = [...h.aliases];
      if (mapped !== undefined) {
        for (const alias of h.aliases) {
          if (alias === h.address) aliases.push(mapped);
          else if (alias.startsWith(`${h.address}:`)) aliases.push(`${mapped}${alias.slice(h.address.length)}`);
        }
      }
      hosts.set(name, {
        ...h,
        name,
        address,
        aliases: [...new Set(aliases)],
        groups: [],
        // Hosts carry the global vars too: the scheduler reads a host's vars, which buildInventory merges for other forms.
        vars: { ...h.vars, dual_active: dualActive, inventory_hostname: name, address, pair },
      });
    }
    for (const g of side.inv.groups.values()) {
      const own = groups.get(prefix + g.name) ?? { name: prefix + g.name, hosts: [], vars: { ...g.vars }, children: [], location: g.location };
      groups.set(own.name, own);
      for (const h of g.hosts) {
        addTo(prefix + g.name, prefix + h);
        if (SHARED_GROUPS.includes(g.name)) addTo(g.name, prefix + h, sideLocation);
      }
    }
    for (const h of side.inv.hosts.keys()) addTo(side.key, prefix + h, sideLocation);
    addTo('sides', prefix + firstDataNode(side).name, sideLocation);
  }

  // A group's hosts, like a host's groups, are listed in inventory order.
  const order = [...hosts.keys()];
  for (const g of groups.values()) g.hosts.sort((x, y) => order.indexOf(x) - order.indexOf(y));
  for (const g of groups.values()) for (const h of g.hosts) hosts.get(h)!.groups.push(g.name);

  for (const name of unmapped) {
    warnings.push({
      message: `${name} is not listed under hostnames, so runbook connects to it by name from this machine`,
      location: source.locate(['hostnames'], true),
      hint: `add it with its address, e.g. hostnames: { ${name}: 192.168.1.3 }; the playbooks then also put it in every machine's /etc/hosts`,
    });
  }

  const inv: Inventory = { path: source.path, source, product: IOTDB_DUAL_ACTIVE_PRODUCT, vars: { dual_active: dualActive }, hosts, groups };
  if (warnings.length > 0) inv.warnings = warnings;
  return inv;
}
