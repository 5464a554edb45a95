// OpenMLDB's one-click `conf/hosts`: role sections, one component per line,
// `host:port [deploy folder]` (ZooKeeper: `host:port:peer_port:election_port
// [folder]`). Read here so a topology can take its components from an
// existing one-click deployment; problems carry the file's own line numbers.

import { readFileSync } from 'node:fs';
import { InputError } from '../../errors.js';

export const CONF_HOSTS_ROLES = ['tablet', 'nameserver', 'taskmanager', 'apiserver', 'zookeeper'] as const;
export type ConfHostsRole = (typeof CONF_HOSTS_ROLES)[number];

export interface ConfHostsEntry {
  role: ConfHostsRole;
  host: string;
  port: number;
  /** ZooKeeper lines only. */
  peerPort?: number | undefined;
  electionPort?: number | undefined;
  dir: string | undefined;
  line: number;
  lineText: string;
}

function port(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/** Parse conf/hosts text; `file` only names it in errors. */
export function parseConfHosts(text: string, file: string): { entries: ConfHostsEntry[]; errors: InputError[] } {
  const entries: ConfHostsEntry[] = [];
  const errors: InputError[] = [];
  let role: ConfHostsRole | null | undefined;
  const lines = text.split(/\r?\n/);
  lines.forEach((lineText, i) => {
    const at = (col: number) => ({ file, line: i + 1, col, lineText });
    const body = lineText.replace(/#.*$/, '');
    const line = body.trim();
    if (line === '') return;
    const col = body.indexOf(line) + 1;
    const section = /^\[([^\]]*)\]$/.exec(line);
    if (section) {
      const name = section[1]!.trim();
      if ((CONF_HOSTS_ROLES as readonly string[]).includes(name)) role = name as ConfHostsRole;
      else {
        role = null;
        errors.push(new InputError(`unknown section [${name}] in ${file}`, { location: at(col), hint: `sections are ${CONF_HOSTS_ROLES.map((r) => `[${r}]`).join(', ')}` }));
      }
      return;
    }
    if (role === null) return; // under an unknown section, already reported
    if (role === undefined) {
      errors.push(new InputError(`"${line}" in ${file} is not under a [section]`, { location: at(col), hint: 'start the list with its role, e.g. [tablet]' }));
      return;
    }
    const [addr, dir, ...extra] = line.split(/\s+/) as [string, ...string[]];
    const parts = addr.split(':');
    const isZk = role === 'zookeeper';
    const wantParts = isZk ? [2, 4] : [2];
    const p = port(parts[1]);
    if (!wantParts.includes(parts.length) || parts[0] === '' || p === undefined) {
      const shape = isZk ? 'host:port[:peer_port:election_port] [folder]' : 'host:port [folder]';
      errors.push(new InputError(`"${line}" in ${file} is not ${shape}`, { location: at(col), hint: isZk ? 'e.g. 172.27.2.52:2181:2888:3888 /work/zookeeper' : 'e.g. 172.27.2.52:10921 /work/openmldb/tablet-1' }));
      return;
    }
    if (extra.length > 0) {
      errors.push(new InputError(`"${line}" in ${file} has more than a host:port and a folder`, { location: at(col + line.indexOf(extra[0]!)), hint: 'one component per line' }));
      return;
    }
    if (dir !== undefined && !dir.startsWith('/')) {
      errors.push(new InputError(`the folder "${dir}" in ${file} must be an absolute path`, { location: at(col + line.indexOf(dir)), hint: 'e.g. /work/openmldb/tablet-1' }));
      return;
    }
    const entry: ConfHostsEntry = { role, host: parts[0]!, port: p, dir: dir?.replace(/(.)\/+$/, '$1'), line: i + 1, lineText };
    if (isZk && parts.length === 4) {
      entry.peerPort = port(parts[2]);
      entry.electionPort = port(parts[3]);
      if (entry.peerPort === undefined || entry.electionPort === undefined) {
        errors.push(new InputError(`"${line}" in ${file} has a bad peer or election port`, { location: at(col), hint: 'ports are 1 to 65535' }));
        return;
      }
    }
    entries.push(entry);
  });
  return { entries, errors };
}

export function readConfHosts(path: string): { entries: ConfHostsEntry[]; errors: InputError[] } {
  return parseConfHosts(readFileSync(path, 'utf8'), path);
}
