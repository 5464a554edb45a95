// Names and places: where a lab keeps its files, and what its namespaces and
// interfaces are called. Everything says "runbook" (or "rb", where Linux's
// 15-character interface names leave no room) so nobody mistakes it for theirs.

import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { runbookHome } from '../paths.js';
import { LabError } from './errors.js';

export const DEFAULT_LAB = 'default';

const LAB_NAME = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;

export function checkLabName(name: string): void {
  if (!LAB_NAME.test(name)) {
    throw new LabError('bad-input', `lab name ${JSON.stringify(name)} is not valid`, {
      hint: 'use 1 to 32 lowercase letters, digits and inner dashes, e.g. `dev` or `iotdb-test`',
    });
  }
}

export function labsRoot(): string {
  return join(runbookHome(), 'lab');
}

export interface LabPaths {
  dir: string;
  stateFile: string;
  privateKey: string;
  publicKey: string;
  knownHosts: string;
  inventory: string;
  /** Bind-mounted as /etc/hosts on every host; rewritten in place, never replaced. */
  hostsFile: string;
  hostsDir: string;
}

export function labPaths(name: string): LabPaths {
  const dir = join(labsRoot(), name);
  return {
    dir,
    stateFile: join(dir, 'state.json'),
    privateKey: join(dir, 'id_ed25519'),
    publicKey: join(dir, 'id_ed25519.pub'),
    knownHosts: join(dir, 'known_hosts'),
    inventory: join(dir, 'inventory.yaml'),
    hostsFile: join(dir, 'etc-hosts'),
    hostsDir: join(dir, 'hosts'),
  };
}

export interface HostPaths {
  dir: string;
  opt: string;
  data: string;
  tmp: string;
  root: string;
  sshdConfig: string;
  hostKey: string;
  /** sshd's stderr, written from outside the host. */
  log: string;
  /** Where `dir` appears inside the host; also what marks the host's processes as ours. */
  inner: string;
  innerSshdConfig: string;
}

export function hostPaths(lab: string, host: string): HostPaths {
  const dir = join(labPaths(lab).dir, 'hosts', host);
  const inner = `/run/runbook/${lab}/${host}`;
  return {
    dir,
    opt: join(dir, 'opt'),
    data: join(dir, 'data'),
    tmp: join(dir, 'tmp'),
    root: join(dir, 'root'),
    sshdConfig: join(dir, 'sshd_config'),
    hostKey: join(dir, 'ssh_host_ed25519_key'),
    log: join(dir, 'sshd.log'),
    inner,
    innerSshdConfig: `${inner}/sshd_config`,
  };
}

/** Text found in the command line of every process a lab starts, and of no other. */
export function processMarker(lab: string): string {
  return `/run/runbook/${lab}/`;
}

export function lockDir(): string {
  return join(labsRoot(), '.locks');
}

export function hostName(index: number): string {
  return `node${index}`;
}

/** The top-level label of every lab host name: `<host>.<lab>.runbook`. */
export const LAB_DOMAIN = 'runbook';

/**
 * A lab host's fully qualified name, e.g. node1.default.runbook: what
 * `hostname -f` says on the host, and what every lab host and the controller
 * resolve while the lab is up. Lab names are valid DNS labels (checkLabName).
 */
export function hostFqdn(lab: string, host: string): string {
  return `${host}.${lab}.${LAB_DOMAIN}`;
}

export function netnsPrefix(lab: string): string {
  return `runbook-${lab}-`;
}

export function netnsName(lab: string, index: number): string {
  return `${netnsPrefix(lab)}${index}`;
}

/**
 * A short stand-in for the lab name in interface names ("rb-<tag>-br",
 * "rb-<tag>-<i>" must fit in 15 characters). Short names are used as they
 * are so `ip link` stays readable; longer ones are hashed.
 */
export function ifaceTag(lab: string): string {
  if (/^[a-z0-9]{1,7}$/.test(lab)) return lab;
  return `h${createHash('sha256').update(lab).digest('hex').slice(0, 6)}`;
}

export function bridgeName(lab: string): string {
  return `rb-${ifaceTag(lab)}-br`;
}

export function vethName(lab: string, index: number): string {
  return `rb-${ifaceTag(lab)}-${index}`;
}

/** Matches the bridge and veth names of one lab. */
export function labLinkPattern(lab: string): RegExp {
  return new RegExp(`^rb-${ifaceTag(lab)}-(?:br|\\d{1,3})$`);
}
