// `runbook lab status`: what the lab recorded, checked against what is really
// running and answering.

import { controllerHostsFile, hasControllerBlock } from './controller-hosts.js';
import { hostRunning, probeSsh, sshdAlive } from './host.js';
import { netnsExists } from './network.js';
import { checkLabName, DEFAULT_LAB, hostFqdn, labPaths } from './layout.js';
import { readState } from './state.js';
import { findTool, run } from './system.js';
import type { LabHostStatus, LabStatus } from './types.js';

export interface LabStatusOptions {
  name?: string | undefined;
}

export async function labStatus(opts: LabStatusOptions = {}): Promise<LabStatus> {
  const name = opts.name ?? DEFAULT_LAB;
  checkLabName(name);
  const p = labPaths(name);
  const state = readState(name);
  if (state === undefined) {
    return {
      name,
      exists: false,
      stateDir: p.dir,
      subnet: undefined,
      bridge: undefined,
      inventoryPath: undefined,
      controllerHostsFile: controllerHostsFile(),
      controllerNames: hasControllerBlock(name),
      hosts: [],
    };
  }
  const hosts = await Promise.all(
    state.hosts.map(async (h): Promise<LabHostStatus> => {
      const alive = sshdAlive(name, h);
      const [port22Reachable, hostname] = await Promise.all([probeSsh(h.address), alive ? hostnameOf(h.sshdPid) : undefined]);
      return {
        name: h.name,
        address: h.address,
        hostname,
        expectedHostname: h.hostname,
        fqdn: hostFqdn(name, h.name),
        netns: h.netns,
        sshdPid: h.sshdPid,
        sshdAlive: alive,
        netnsPresent: netnsExists(h.netns),
        healthy: hostRunning(name, h) && port22Reachable,
        port22Reachable,
      };
    }),
  );
  return {
    name,
    exists: true,
    stateDir: p.dir,
    subnet: state.subnet,
    bridge: state.bridge,
    inventoryPath: p.inventory,
    controllerHostsFile: controllerHostsFile(),
    controllerNames: hasControllerBlock(name),
    hosts,
  };
}

/** Ask the host itself (its UTS namespace) rather than trusting the record. */
async function hostnameOf(pid: number): Promise<string | undefined> {
  const nsenter = findTool('nsenter');
  if (nsenter === undefined) return undefined;
  try {
    return (await run(nsenter, ['--target', String(pid), '--uts', 'cat', '/proc/sys/kernel/hostname'], { what: 'read a host name' })).stdout.trim();
  } catch {
    return undefined;
  }
}
