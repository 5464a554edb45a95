// Port checks. IoTDB's start scripts look for occupied ports before launching
// the JVM and print one line per port ("The cn_internal_port 10710 is already
// occupied, PID: 123"); the JVM itself then fails with "Address already in
// use" if it loses a race. The simulator does both, finding the owning pid
// the way lsof would, through /proc.

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { probePort } from './rpc.js';

export interface PortSpec {
  /** The property key, e.g. cn_internal_port. */
  key: string;
  host: string;
  port: number;
}

function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      // st 0A is TCP_LISTEN
      if (!local || cols[3] !== '0A') continue;
      const hexPort = local.split(':').pop();
      if (hexPort && parseInt(hexPort, 16) === port && cols[9]) inodes.add(cols[9]);
    }
  }
  return inodes;
}

/** Pid of the process listening on `port`, if this user may see it (like lsof without sudo). */
export function portOwner(port: number): number | null {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return null;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return null;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) return Number(pid);
      } catch {
        // fd closed while we looked
      }
    }
  }
  return null;
}

export interface Occupied {
  spec: PortSpec;
  code: string;
  pid: number | null;
}

/** The ports that cannot be bound right now, with the pid holding each when visible. */
export async function occupiedPorts(specs: PortSpec[]): Promise<Occupied[]> {
  const out: Occupied[] = [];
  const seen = new Map<number, string>();
  for (const spec of specs) {
    // Two keys on one port would make the node fight itself; IoTDB's check_config_unique refuses that too.
    const dup = seen.get(spec.port);
    if (dup !== undefined) {
      out.push({ spec, code: `DUPLICATE(${dup})`, pid: null });
      continue;
    }
    seen.set(spec.port, spec.key);
    const err = await probePort(spec.host, spec.port);
    if (err) out.push({ spec, code: err.code ?? 'EUNKNOWN', pid: err.code === 'EADDRINUSE' ? portOwner(spec.port) : null });
  }
  return out;
}

/** The script-style lines IoTDB prints for occupied ports. */
export function describeOccupied(o: Occupied): string {
  if (o.code.startsWith('DUPLICATE(')) {
    return `The ${o.spec.key} ${o.spec.port} is the same as ${o.code.slice(10, -1)}; every port of a node must be different.`;
  }
  if (o.code === 'EADDRINUSE') {
    return `The ${o.spec.key} ${o.spec.port} is already occupied${o.pid !== null ? `, PID: ${o.pid}` : ''}`;
  }
  if (o.code === 'EADDRNOTAVAIL') {
    return `Cannot bind ${o.spec.key} on ${o.spec.host}:${o.spec.port}: Cannot assign requested address (is ${o.spec.host} an address of this host?)`;
  }
  if (o.code === 'ENOTFOUND' || o.code === 'EAI_AGAIN') {
    return `Cannot bind ${o.spec.key}: unknown host ${o.spec.host}`;
  }
  if (o.code === 'EACCES') {
    return `Cannot bind ${o.spec.key} on ${o.spec.host}:${o.spec.port}: Permission denied`;
  }
  return `Cannot bind ${o.spec.key} on ${o.spec.host}:${o.spec.port}: ${o.code}`;
}
