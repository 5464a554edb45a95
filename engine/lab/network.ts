// The lab's network: one bridge on the controller holding the subnet's .1
// address, and per host a network namespace joined to the bridge by a veth
// pair. No default route is added inside hosts, so they can reach each other
// and the controller but nothing beyond the lab subnet.

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { LabError } from './errors.js';
import { bridgeName, labLinkPattern, labPaths, labsRoot, netnsName, netnsPrefix, vethName } from './layout.js';
import { readState } from './state.js';
import { run, runOk } from './system.js';
import { controllerAddress, netOf, overlaps, parseSubnet, type Subnet } from './subnet.js';

export const NETNS_DIR = '/run/netns';

interface IpAddrJson {
  ifname?: string;
  addr_info?: Array<{ family?: string; local?: string; prefixlen?: number }>;
}
interface IpRouteJson {
  dst?: string;
  dev?: string;
}
interface IpLinkJson {
  ifname?: string;
}

/**
 * Why `subnet` cannot be used by lab `lab`, or undefined when it is free: it
 * must not overlap any address or route on the controller (other than the
 * lab's own bridge) nor the subnet recorded by another lab.
 */
export async function subnetConflict(ip: string, lab: string, subnet: Subnet): Promise<string | undefined> {
  const own = bridgeName(lab);
  const addrs = JSON.parse((await run(ip, ['-j', '-4', 'addr', 'show'], { what: 'list addresses' })).stdout) as IpAddrJson[];
  for (const link of addrs) {
    if (link.ifname === own) continue;
    for (const a of link.addr_info ?? []) {
      if (a.family !== 'inet' || a.local === undefined || a.prefixlen === undefined) continue;
      if (overlaps(subnet, netOf(a.local, a.prefixlen))) return `it overlaps ${a.local}/${a.prefixlen} on interface ${link.ifname ?? '?'}`;
    }
  }
  const routes = JSON.parse((await run(ip, ['-j', '-4', 'route', 'show'], { what: 'list routes' })).stdout) as IpRouteJson[];
  for (const r of routes) {
    if (r.dst === undefined || r.dst === 'default' || r.dev === own) continue;
    const [addr, len] = r.dst.split('/');
    if (addr === undefined) continue;
    if (overlaps(subnet, netOf(addr, len === undefined ? 32 : Number(len)))) return `it overlaps the route to ${r.dst} via ${r.dev ?? '?'}`;
  }
  for (const other of otherLabs(lab)) {
    try {
      const state = readState(other);
      if (state && overlaps(subnet, parseSubnet(state.subnet))) return `lab ${other} already uses ${state.subnet}`;
    } catch {
      // an unreadable lab is reported by its own commands, not here
    }
  }
  return undefined;
}

function otherLabs(lab: string): string[] {
  try {
    return readdirSync(labsRoot(), { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.') && e.name !== lab && existsSync(labPaths(e.name).stateFile))
      .map((e) => e.name);
  } catch {
    return [];
  }
}

export async function linkNames(ip: string): Promise<string[]> {
  const links = JSON.parse((await run(ip, ['-j', 'link', 'show'], { what: 'list network interfaces' })).stdout) as IpLinkJson[];
  return links.map((l) => l.ifname).filter((n): n is string => n !== undefined);
}

export async function bridgeExists(ip: string, lab: string): Promise<boolean> {
  return (await linkNames(ip)).includes(bridgeName(lab));
}

/** Create the lab's bridge with the controller address, or make sure an existing one has it and is up. */
export async function ensureBridge(ip: string, lab: string, subnet: Subnet): Promise<void> {
  const br = bridgeName(lab);
  const cidr = `${controllerAddress(subnet)}/${subnet.prefix}`;
  if (!(await bridgeExists(ip, lab))) {
    await run(ip, ['link', 'add', 'name', br, 'type', 'bridge'], { what: `create bridge ${br}` });
  }
  const addrs = JSON.parse((await run(ip, ['-j', '-4', 'addr', 'show', 'dev', br], { what: `read addresses of ${br}` })).stdout) as IpAddrJson[];
  const has = addrs.some((l) => (l.addr_info ?? []).some((a) => `${a.local}/${a.prefixlen}` === cidr));
  if (!has) await run(ip, ['addr', 'add', cidr, 'dev', br], { what: `give bridge ${br} address ${cidr}` });
  await run(ip, ['link', 'set', br, 'up'], { what: `bring bridge ${br} up` });
}

export function netnsExists(ns: string): boolean {
  return existsSync(join(NETNS_DIR, ns));
}

/** Namespace and veth pair for one host, with its address; replaces leftovers of an earlier attempt. */
export async function createHostNetwork(ip: string, lab: string, index: number, address: string, subnet: Subnet): Promise<void> {
  const ns = netnsName(lab, index);
  const veth = vethName(lab, index);
  await removeHostNetwork(ip, lab, index);
  await run(ip, ['netns', 'add', ns], {
    what: `create network namespace ${ns}`,
    hint: 'the kernel must allow network namespaces; in a container, run it privileged',
  });
  // The peer is created directly inside the namespace, so it never appears on the controller as eth0.
  await run(ip, ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns], { what: `create veth pair ${veth}` });
  await run(ip, ['link', 'set', veth, 'master', bridgeName(lab), 'up'], { what: `attach ${veth} to ${bridgeName(lab)}` });
  await run(ip, ['-n', ns, '-batch', '-'], {
    what: `configure eth0 in ${ns}`,
    // A fixed hardware address per IP: a host that is re-created (lab up after
    // its sshd died) answers at once, instead of after the controller's ARP
    // cache forgets the old random address (up to ~45 s).
    input: [`addr add ${address}/${subnet.prefix} dev eth0`, `link set eth0 address ${macFor(address)}`, 'link set eth0 up', 'link set lo up', ''].join('\n'),
  });
}

/** A locally administered unicast MAC (02:…) made from the IPv4 address's last three bytes. */
export function macFor(address: string): string {
  const octets = address.split('.').map(Number);
  const hex = octets.slice(1).map((o) => o.toString(16).padStart(2, '0'));
  return ['02', '72', '62', ...hex].join(':');
}

/** Remove a host's veth and namespace; returns what was there to remove. */
export async function removeHostNetwork(ip: string, lab: string, index: number): Promise<string[]> {
  const removed: string[] = [];
  const veth = vethName(lab, index);
  if ((await linkNames(ip)).includes(veth) && (await runOk(ip, ['link', 'del', veth]))) removed.push(`veth ${veth}`);
  const ns = netnsName(lab, index);
  if (netnsExists(ns)) {
    await run(ip, ['netns', 'del', ns], { what: `delete network namespace ${ns}` });
    removed.push(`network namespace ${ns}`);
  }
  return removed;
}

/** Indexes of every namespace named like one of the lab's hosts, recorded or not. */
export function labNetnsIndexes(lab: string): number[] {
  const prefix = netnsPrefix(lab);
  let entries: string[];
  try {
    entries = readdirSync(NETNS_DIR);
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.startsWith(prefix) && /^\d+$/.test(e.slice(prefix.length)))
    .map((e) => Number(e.slice(prefix.length)));
}

/** Every interface on the controller named like the lab's bridge or veths. */
export async function labLinks(ip: string, lab: string): Promise<string[]> {
  const pattern = labLinkPattern(lab);
  return (await linkNames(ip)).filter((n) => pattern.test(n));
}

export async function removeLink(ip: string, name: string): Promise<boolean> {
  return runOk(ip, ['link', 'del', name]);
}

export function clashHint(lab: string): string {
  return `if it is left over from an earlier lab ${lab}, run \`runbook lab down${lab === 'default' ? '' : ` --name ${lab}`}\`; otherwise choose another lab name`;
}

export function linkClash(lab: string, link: string): LabError {
  return new LabError('name-clash', `network interface ${link} already exists but lab ${lab} has no record of it`, { hint: clashHint(lab) });
}
