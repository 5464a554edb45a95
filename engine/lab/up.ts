// `runbook lab up`: bring a lab to at least N hosts. Hosts that are running
// are left alone; hosts that are missing are added; recorded hosts whose sshd
// is gone (a reboot, a kill) are started again from their kept folders and
// keys. A failed `up` undoes what it did, so it never leaves half a host.

import { existsSync, mkdirSync } from 'node:fs';
import { errorMessage } from '../errors.js';
import { LabError } from './errors.js';
import { controllerHostsFile, setControllerHosts } from './controller-hosts.js';
import { controllerEntries, ensureClientKey, writeHostsFile, writeInventory, writeKnownHosts } from './files.js';
import { hostRunning, prepareHost, startHost } from './host.js';
import {
  bridgeName,
  checkLabName,
  DEFAULT_LAB,
  hostFqdn,
  hostName,
  labPaths,
  netnsName,
  vethName,
} from './layout.js';
import { withLock } from './lock.js';
import { clashHint, createHostNetwork, ensureBridge, labLinks, labNetnsIndexes, subnetConflict } from './network.js';
import { removeHost, stopHost, teardown } from './down.js';
import { readState, writeState, type LabHostRecord, type LabStateFile } from './state.js';
import { requireRoot, requireTools, type Tools } from './system.js';
import { controllerAddress, DEFAULT_SUBNET, hostAddress, maxHosts, parseSubnet, type Subnet } from './subnet.js';
import type { LabState } from './types.js';

export interface LabUpOptions {
  hosts: number;
  /** Default 198.19.0.0/24; must stay the same for the life of the lab. */
  subnet?: string | undefined;
  name?: string | undefined;
}

type UpTools = Pick<Tools, 'ip' | 'unshare' | 'sshd' | 'ssh-keygen'>;

export async function labUp(opts: LabUpOptions): Promise<LabState> {
  const name = opts.name ?? DEFAULT_LAB;
  checkLabName(name);
  if (!Number.isInteger(opts.hosts) || opts.hosts < 1) {
    throw new LabError('bad-input', `a lab needs a whole number of hosts, at least 1 (got ${opts.hosts})`, { hint: 'e.g. `runbook lab up --hosts 3`' });
  }
  if (opts.subnet !== undefined) parseSubnet(opts.subnet);
  const dir = labPaths(name).dir;
  // Each host mounts fresh, empty filesystems on these before it can bind its
  // folder in, so the folder must not live under them.
  for (const hidden of ['/run/', '/dev/shm/']) {
    if (dir.startsWith(hidden)) {
      throw new LabError('bad-input', `the lab folder ${dir} is under ${hidden}, which every lab host replaces with its own empty one`, {
        hint: 'point RUNBOOK_HOME somewhere else (the default is ~/.runbook)',
      });
    }
  }
  requireRoot('runbook lab up');
  // zip is not used by `up` itself, but playbooks run against the lab unpack
  // the simulated packages it builds, so its absence is reported up front.
  const tools = requireTools(['sshd', 'ip', 'unshare', 'ssh-keygen', 'zip'], 'runbook lab up');
  return withLock(`lab-${name}`, `runbook lab up (lab ${name})`, () => up(tools, name, opts));
}

async function up(tools: UpTools, name: string, opts: LabUpOptions): Promise<LabState> {
  const existing = readState(name);
  const subnet = chooseSubnet(name, existing, opts.subnet);
  if (opts.hosts > maxHosts(subnet)) {
    throw new LabError('bad-input', `subnet ${subnet.cidr} has room for ${maxHosts(subnet)} lab hosts, not ${opts.hosts}`, {
      hint: 'ask for fewer hosts, or bring the lab down and up again with a larger subnet (e.g. a /23)',
    });
  }
  if (existing === undefined) await refuseLeftovers(tools.ip, name);

  const paths = labPaths(name);
  const controller = controllerAddress(subnet);
  const records: LabHostRecord[] = [...(existing?.hosts ?? [])].sort((a, b) => a.index - b.index);
  const newIndexes = range(records.length + 1, opts.hosts);
  const restarted: string[] = [];
  try {
    mkdirSync(paths.hostsDir, { recursive: true, mode: 0o700 });
    ensureDataMountpoint();
    await ensureClientKey(tools, name);
    await withLock('network', `runbook lab up (lab ${name})`, async () => {
      const why = await subnetConflict(tools.ip, name, subnet);
      if (why !== undefined) {
        throw new LabError('subnet-in-use', `subnet ${subnet.cidr} cannot be used for lab ${name}: ${why}`, {
          hint: 'choose a free one with --subnet, e.g. 198.19.N.0/24 for an N no other lab uses',
        });
      }
      await ensureBridge(tools.ip, name, subnet);
    });
    // Every host, old and new, must resolve the new ones by name, and so must the controller.
    const all = [...records, ...newIndexes.map((i) => ({ name: hostName(i), hostname: hostName(i), address: hostAddress(subnet, i) }))];
    writeHostsFile(name, controller, all);
    await setControllerHosts(name, controllerEntries(name, all));

    // Hosts start side by side; all are waited for, so a failure never
    // leaves others still starting while `undo` removes things under them.
    const revived = records.map(async (r, at) => {
      if (hostRunning(name, r)) return;
      // A host can be half there (its namespace deleted by hand, say) with sshd still running.
      await stopHost(name, r);
      records[at] = await bringUpHost(tools, name, subnet, r.index);
      restarted.push(r.name);
    });
    const added = newIndexes.map((i) => bringUpHost(tools, name, subnet, i));
    const results = await Promise.allSettled([...revived, ...added]);
    const failure = results.find((s) => s.status === 'rejected');
    if (failure?.status === 'rejected') throw failure.reason;
    for (const host of await Promise.all(added)) records.push(host);
    records.sort((a, b) => a.index - b.index);

    writeKnownHosts(name, records);
    writeInventory(name, records);
    writeState({
      version: 1,
      name,
      subnet: subnet.cidr,
      bridge: bridgeName(name),
      controllerAddress: controller,
      createdAt: existing?.createdAt ?? new Date().toISOString(),
      hosts: records,
    });
  } catch (err) {
    await undo(tools.ip, name, existing && { ...existing, hosts: records.filter((r) => r.index <= existing.hosts.length) }, newIndexes, controller, err);
    throw err;
  }
  return toLabState(name, subnet, records, opts.hosts, newIndexes.map(hostName), restarted);
}

async function bringUpHost(tools: UpTools, name: string, subnet: Subnet, index: number): Promise<LabHostRecord> {
  const host = hostName(index);
  const address = hostAddress(subnet, index);
  const netns = netnsName(name, index);
  const hostKey = await prepareHost(tools, name, host);
  await createHostNetwork(tools.ip, name, index, address, subnet);
  const { sshdPid, launcherPid } = await startHost(tools, name, host, netns, address);
  return {
    name: host,
    index,
    hostname: host,
    address,
    netns,
    veth: vethName(name, index),
    sshdPid,
    launcherPid,
    hostKey,
    startedAt: new Date().toISOString(),
  };
}

function chooseSubnet(name: string, existing: LabStateFile | undefined, requested: string | undefined): Subnet {
  if (existing === undefined) return parseSubnet(requested ?? DEFAULT_SUBNET);
  const current = parseSubnet(existing.subnet);
  if (requested !== undefined && parseSubnet(requested).cidr !== current.cidr) {
    throw new LabError('bad-input', `lab ${name} already uses subnet ${current.cidr}, not ${requested}`, {
      hint: `leave out --subnet to add hosts to it, or run \`runbook lab down${name === DEFAULT_LAB ? '' : ` --name ${name}`}\` first to start over on another subnet`,
    });
  }
  return current;
}

/** A lab without state must not adopt namespaces or interfaces that happen to carry its names. */
async function refuseLeftovers(ip: string, name: string): Promise<void> {
  const ns = labNetnsIndexes(name).map((i) => netnsName(name, i));
  const links = await labLinks(ip, name);
  if (ns.length > 0 || links.length > 0) {
    throw new LabError('name-clash', `lab ${name} has no recorded state, yet ${[...ns, ...links].join(', ')} already exist`, { hint: clashHint(name) });
  }
}

/** Hosts bind-mount their private /data over the controller's, which must exist as a mount point. */
function ensureDataMountpoint(): void {
  if (!existsSync('/data')) mkdirSync('/data', { mode: 0o755 });
}

async function undo(
  ip: string,
  name: string,
  existing: LabStateFile | undefined,
  newIndexes: number[],
  controller: string,
  cause: unknown,
): Promise<void> {
  try {
    if (existing === undefined) {
      await teardown(ip, name);
    } else {
      for (const i of newIndexes) await removeHost(ip, name, i, hostName(i));
      writeHostsFile(name, controller, existing.hosts);
      await setControllerHosts(name, controllerEntries(name, existing.hosts));
      // Hosts restarted before the failure have new pids that `down` must know.
      writeState(existing);
    }
  } catch (cleanupErr) {
    throw new LabError(
      'host-failed',
      `${errorMessage(cause)}\n(undoing the partial \`lab up\` also failed: ${errorMessage(cleanupErr)})`,
      { hint: `run \`runbook lab down${name === DEFAULT_LAB ? '' : ` --name ${name}`}\` to remove what is left`, cause },
    );
  }
}

function toLabState(name: string, subnet: Subnet, records: LabHostRecord[], requested: number, added: string[], restarted: string[]): LabState {
  const p = labPaths(name);
  return {
    name,
    subnet: subnet.cidr,
    bridge: bridgeName(name),
    controllerAddress: controllerAddress(subnet),
    stateDir: p.dir,
    inventoryPath: p.inventory,
    privateKeyFile: p.privateKey,
    knownHostsFile: p.knownHosts,
    hostsFile: p.hostsFile,
    controllerHostsFile: controllerHostsFile(),
    hosts: records.map(({ name: n, index, hostname, address, netns, veth, sshdPid }) => ({ name: n, index, hostname, fqdn: hostFqdn(name, n), address, netns, veth, sshdPid })),
    requested,
    added,
    restarted,
  };
}

/** The lab as recorded, without probing anything; undefined when it is not up. */
export function loadLab(name: string = DEFAULT_LAB): LabState | undefined {
  checkLabName(name);
  const state = readState(name);
  if (state === undefined) return undefined;
  return toLabState(name, parseSubnet(state.subnet), state.hosts, state.hosts.length, [], []);
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}
