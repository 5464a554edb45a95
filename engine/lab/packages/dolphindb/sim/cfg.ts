// DolphinDB's configuration files as the simulator reads them: `key=value`
// cfg files (controller.cfg, agent.cfg), cluster.nodes (`localSite,mode`
// header, then one `address:port:alias,mode` line per agent, data node and
// compute node) and cluster.cfg, whose lines may name one node
// (`P1-datanode.volumes=…`), a pattern of aliases (`%-datanode.volumes=…`,
// `?` one character, `%` any run) or every node, with `<ALIAS>` standing for
// the node's alias on the lines that do not name one.

import { readFileSync } from 'node:fs';

export interface Site {
  host: string;
  port: number;
  alias: string;
  /** `host:port:alias`, as written. */
  text: string;
}

export class ConfigError extends Error {}

export function parseSite(text: string): Site | undefined {
  const m = /^([^:\s]+):(\d{1,5}):([^:\s,]+)$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1]!, port, alias: m[3]!, text: `${m[1]}:${port}:${m[3]}` };
}

/** `key=value` lines; `#` starts a comment line. Later lines win. */
export function parseCfg(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    out.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return out;
}

export function readCfg(path: string): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`Failed to open the configuration file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return parseCfg(text);
}

export type NodeMode = 'agent' | 'datanode' | 'computenode';

export interface ClusterMember {
  site: Site;
  mode: NodeMode;
  line: number;
}

export type NodesResult = { ok: true; members: ClusterMember[] } | { ok: false; blankFirstLine: boolean; message: string };

/**
 * cluster.nodes. A blank first line is reported apart: the real controller
 * then fails with a misleading bind error (the document's FAQ), which the
 * controller reproduces.
 */
export function parseClusterNodes(text: string): NodesResult {
  const lines = text.split(/\r?\n/);
  if ((lines[0] ?? '').trim() === '') return { ok: false, blankFirstLine: true, message: 'the first line of cluster.nodes is blank' };
  if (lines[0]!.replace(/\s/g, '') !== 'localSite,mode') {
    return { ok: false, blankFirstLine: false, message: `The first line of cluster.nodes must be the header localSite,mode, not ${JSON.stringify(lines[0])}` };
  }
  const members: ClusterMember[] = [];
  const aliases = new Set<string>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [siteText, modeText, ...rest] = line.split(',').map((s) => s.trim());
    const site = parseSite(siteText ?? '');
    const mode = (modeText ?? '').toLowerCase();
    if (site === undefined || rest.length > 0 || (mode !== 'agent' && mode !== 'datanode' && mode !== 'computenode')) {
      return { ok: false, blankFirstLine: false, message: `Invalid line ${i + 1} of cluster.nodes: ${JSON.stringify(lines[i])} (expected address:port:alias,agent|datanode|computenode)` };
    }
    if (aliases.has(site.alias)) return { ok: false, blankFirstLine: false, message: `Duplicate alias ${site.alias} on line ${i + 1} of cluster.nodes` };
    aliases.add(site.alias);
    members.push({ site, mode, line: i + 1 });
  }
  return { ok: true, members };
}

/** `%` any run of characters, `?` exactly one; everything else literal (case-sensitive, as aliases are). */
export function aliasPattern(pattern: string): RegExp {
  const body = [...pattern].map((ch) => (ch === '%' ? '.*' : ch === '?' ? '.' : ch.replace(/[.*+^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`);
}

/**
 * The parameters cluster.cfg gives one node: lines for every node first, then
 * pattern lines, then lines naming it, each later line of a kind winning.
 * `<ALIAS>` on a line that names the node is the document's FAQ failure: the
 * node does not start, and the error names the line.
 */
export function resolveNodeConfig(text: string, alias: string, file = 'cluster.cfg'): Map<string, string> {
  const general = new Map<string, string>();
  const pattern = new Map<string, string>();
  const named = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    const dot = key.indexOf('.');
    if (dot < 0) {
      general.set(key, value.replaceAll('<ALIAS>', alias));
      continue;
    }
    const who = key.slice(0, dot);
    const param = key.slice(dot + 1);
    if (/[%?]/.test(who)) {
      if (aliasPattern(who).test(alias)) pattern.set(param, value.replaceAll('<ALIAS>', alias));
    } else if (who === alias) {
      if (value.includes('<ALIAS>')) {
        throw new ConfigError(
          `The macro <ALIAS> cannot be used on a line that names a node: ${JSON.stringify(line)} (${file} line ${i + 1}). ` +
            `Write the alias instead (${key}=${value.replaceAll('<ALIAS>', alias)}), or drop "${who}." to apply it to every node.`,
        );
      }
      named.set(param, value);
    }
  }
  return new Map([...general, ...pattern, ...named]);
}
