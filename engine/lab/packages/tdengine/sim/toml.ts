// The small part of TOML that the simulated taosAdapter, taosKeeper and
// taos-Explorer read from their config files: `key = value` lines (strings
// in double quotes, numbers, booleans), `[section]` headers, `#` comments.
// Keys come back as `section.key`.

import { readFileSync } from 'node:fs';

export function readToml(file: string): Map<string, string> {
  const values = new Map<string, string>();
  let section = '';
  for (const line of readFileSync(file, 'utf8').split(/\r?\n/)) {
    const t = line.replace(/#.*$/, '').trim();
    if (t === '') continue;
    const sec = /^\[([^\]]+)\]$/.exec(t);
    if (sec) {
      section = sec[1]!.trim();
      continue;
    }
    const kv = /^([A-Za-z0-9_.-]+)\s*=\s*(.*)$/.exec(t);
    if (!kv) throw new Error(`${file}: cannot read line "${line.trim()}"`);
    values.set(section ? `${section}.${kv[1]}` : kv[1]!, kv[2]!.trim().replace(/^"(.*)"$/, '$1'));
  }
  return values;
}

export function tomlPort(values: Map<string, string>, key: string, dflt: number, file: string): number {
  const port = Number(values.get(key) ?? String(dflt));
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${file}: ${key} must be a port number, not ${values.get(key)}`);
  return port;
}
