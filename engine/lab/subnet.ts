// Lab subnets. Only 198.18.0.0/15 is accepted: RFC 2544 reserves it for
// benchmarking, so it is never routed on the internet and is unlikely to be
// used on a real LAN, which keeps a lab from shadowing networks the
// controller actually talks to.

import { LabError } from './errors.js';

export const DEFAULT_SUBNET = '198.19.0.0/24';
const ALLOWED: Net = { network: ipToInt('198.18.0.0'), prefix: 15 };

/** The controller (the bridge) is .1; hosts start at .11, leaving .2–.10 free for later use. */
const CONTROLLER_OFFSET = 1;
const FIRST_HOST_OFFSET = 11;

export interface Net {
  network: number;
  prefix: number;
}

export interface Subnet extends Net {
  /** Normalised text form, e.g. 198.19.0.0/24. */
  cidr: string;
}

export function parseSubnet(text: string): Subnet {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(text.trim());
  const bad = (why: string): LabError =>
    new LabError('bad-input', `subnet ${JSON.stringify(text)} cannot be used: ${why}`, {
      hint: `give a network in 198.18.0.0/15 with a prefix from /16 to /27, e.g. ${DEFAULT_SUBNET} or 198.19.7.0/24`,
    });
  if (!m) throw bad('it is not an IPv4 network in a.b.c.d/prefix form');
  const octets = m[1]!.split('.').map(Number);
  if (octets.some((o) => o > 255)) throw bad('an octet is larger than 255');
  const prefix = Number(m[2]);
  if (prefix < 16 || prefix > 27) throw bad(`a /${prefix} network is outside the supported range /16 to /27`);
  const address = ipToInt(m[1]!);
  const network = (address & maskOf(prefix)) >>> 0;
  if (network !== address) {
    throw bad(`${m[1]} has host bits set for /${prefix}; the network address is ${intToIp(network)}/${prefix}`);
  }
  if (!contains(ALLOWED, { network, prefix })) {
    throw bad('it is outside 198.18.0.0/15, the range reserved for benchmarking that the lab is restricted to');
  }
  return { network, prefix, cidr: `${intToIp(network)}/${prefix}` };
}

export function maxHosts(subnet: Net): number {
  const size = 2 ** (32 - subnet.prefix);
  return size - 1 - FIRST_HOST_OFFSET; // everything from .11 up to, not including, broadcast
}

export function controllerAddress(subnet: Net): string {
  return intToIp(subnet.network + CONTROLLER_OFFSET);
}

export function hostAddress(subnet: Net, index: number): string {
  return intToIp(subnet.network + FIRST_HOST_OFFSET + index - 1);
}

export function overlaps(a: Net, b: Net): boolean {
  const prefix = Math.min(a.prefix, b.prefix);
  return ((a.network ^ b.network) & maskOf(prefix)) === 0;
}

function contains(outer: Net, inner: Net): boolean {
  return inner.prefix >= outer.prefix && overlaps(outer, inner);
}

export function netOf(address: string, prefix: number): Net {
  return { network: (ipToInt(address) & maskOf(prefix)) >>> 0, prefix };
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}
