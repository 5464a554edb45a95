// What runbook knows about DolphinDB's configuration files and its package,
// from the multi-server cluster document (shared/product-docs/001_*.txt):
// the package's name and layout, the defaults the document uses, which cfg
// keys are a node's identity (runbook writes them from the topology), how
// cluster.cfg lines apply to a node (`alias.key=value`, the `%`/`?`
// wildcards, the `<ALIAS>` macro), and when addresses are not one LAN.

/** The document's ports: the controller 8900, every agent 8901. */
export const DEFAULT_CONTROLLER_PORT = 8900;
export const DEFAULT_AGENT_PORT = 8901;
/** The document unpacks the package into /DolphinDB. */
export const DEFAULT_INSTALL_DIR = '/DolphinDB';
export const DEFAULT_SYSTEMD_DIR = '/usr/lib/systemd/system';
/** The document: "默认账号：admin，默认密码：123456". */
export const DEFAULT_ADMIN = { user: 'admin', password: '123456' } as const;

/** Data and compute nodes the package's own dolphindb.lic (the community trial) allows. */
export const TRIAL_MAX_NODES = 2;

export type NodeMode = 'datanode' | 'computenode';
export const NODE_MODES: readonly NodeMode[] = ['datanode', 'computenode'];

/** The macro cluster.cfg replaces with each node's alias. */
export const ALIAS_MACRO = '<ALIAS>';

/** Folders clean must never empty, whatever the topology says. */
export const PROTECTED_DIRS = new Set(['/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib64', '/opt', '/proc', '/root', '/run', '/sbin', '/srv', '/sys', '/tmp', '/usr', '/var', '/var/lib', '/var/log', '/data']);

/**
 * DolphinDB_Linux64_V2.00.11.3.zip (also _ABI / _JIT builds) → 2.00.11.3.
 * The name is the vendor's download name; the version in it is what upgrade
 * and rollback report, so a renamed zip is refused rather than guessed at.
 */
export function packageVersion(zipName: string): string | undefined {
  const m = /^DolphinDB_Linux64_V([0-9]+(?:\.[0-9]+)+)(?:_(?:ABI|JIT))?\.zip$/.exec(zipName);
  return m?.[1];
}

/**
 * A node alias: it is written in `address:port:alias` sites, in
 * `cluster.nodes` (comma separated), before the `.` of `alias.key=value`
 * lines and matched by `%`/`?`, so none of those characters may be in it.
 */
export const ALIAS_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/;

export function site(address: string, port: number, alias: string): string {
  return `${address}:${port}:${alias}`;
}

/**
 * A cluster.cfg key: `key` for every node, or `<prefix>.key` for the nodes
 * whose alias the prefix names, where `%` matches any run of characters
 * (also none) and `?` one character. A prefix without wildcards names one
 * node explicitly (the case where the document's FAQ forbids `<ALIAS>`).
 */
export interface ClusterKey {
  prefix: string | undefined;
  param: string;
  wildcard: boolean;
}

export function parseClusterKey(key: string): ClusterKey {
  const dot = key.indexOf('.');
  if (dot < 0) return { prefix: undefined, param: key, wildcard: false };
  const prefix = key.slice(0, dot);
  return { prefix, param: key.slice(dot + 1), wildcard: /[%?]/.test(prefix) };
}

/** Whether a cluster.cfg prefix (with `%` / `?`) matches an alias, case-sensitively as aliases are. */
export function prefixMatches(prefix: string, alias: string): boolean {
  const re = prefix
    .split('')
    .map((c) => (c === '%' ? '.*' : c === '?' ? '.' : c.replace(/[.*+^${}()|[\]\\/-]/g, '\\$&')))
    .join('');
  return new RegExp(`^${re}$`, 's').test(alias);
}

/**
 * The value a node gets for one parameter from cluster.cfg lines: a line
 * naming the node beats a wildcard line, which beats a line for every node;
 * among equals the later line wins. `<ALIAS>` becomes the node's alias.
 */
export function nodeParam(cfg: Record<string, string>, alias: string, param: string): string | undefined {
  let found: { rank: number; value: string } | undefined;
  for (const [key, value] of Object.entries(cfg)) {
    const k = parseClusterKey(key);
    if (k.param !== param) continue;
    let rank: number;
    if (k.prefix === undefined) rank = 0;
    else if (!prefixMatches(k.prefix, alias)) continue;
    else rank = k.wildcard ? 1 : 2;
    if (!found || rank >= found.rank) found = { rank, value };
  }
  return found?.value.split(ALIAS_MACRO).join(alias);
}

/** `volumes=/VOL1/<ALIAS>,/VOL2/<ALIAS>`: the list of folders (empty entries dropped). */
export function splitVolumes(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/**
 * Whether the addresses look like one LAN. DolphinDB's default
 * (lanCluster=1) finds nodes by UDP broadcast, which only works inside one
 * broadcast domain; the document asks for lanCluster=0 otherwise (5.6, cloud
 * deployments). From addresses alone that is a guess, so runbook only
 * suggests it: it calls the addresses one LAN when every one is a private
 * IPv4 address (RFC 1918, loopback, link-local, carrier-grade NAT, the
 * benchmark range the lab uses) and all share one /24. Any public address,
 * or private addresses in different /24s, is "maybe not one LAN". Host names
 * cannot be judged, so with any host name it says nothing (undefined).
 */
export function lanVerdict(addresses: readonly string[]): { oneLan: boolean; why: string } | undefined {
  const distinct = [...new Set(addresses)];
  if (distinct.length < 2) return { oneLan: true, why: 'one address' };
  const parsed = distinct.map((a) => ({ a, o: ipv4(a) }));
  if (parsed.some((p) => p.o === undefined)) return undefined;
  const pub = parsed.filter((p) => !isPrivate(p.o!)).map((p) => p.a);
  if (pub.length > 0) return { oneLan: false, why: `${pub.join(', ')} ${pub.length === 1 ? 'is a public address' : 'are public addresses'}` };
  const nets = new Set(parsed.map((p) => p.o!.slice(0, 3).join('.')));
  if (nets.size > 1) return { oneLan: false, why: `the addresses are in ${nets.size} different /24 networks (${[...nets].map((n) => `${n}.0/24`).join(', ')})` };
  return { oneLan: true, why: 'private addresses in one /24' };
}

function ipv4(text: string): number[] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const o = m.slice(1).map(Number);
  return o.every((n) => n <= 255) ? o : undefined;
}

function isPrivate(o: number[]): boolean {
  const [a, b] = o as [number, number];
  return a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127) || (a === 198 && (b === 18 || b === 19));
}

/** A path DolphinDB can use for the install folder: the document says no spaces or Chinese characters, or data nodes fail to start. */
export function installPathProblem(path: string): string | undefined {
  if (/\s/.test(path)) return 'contains a space';
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(path)) return 'contains a non-ASCII character';
  return undefined;
}
