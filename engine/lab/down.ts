// `runbook lab down`: remove every process, interface, namespace and file a
// lab made. It works from state.json and also looks for anything named like
// the lab, so it cleans up after an `up` that was interrupted, and finding
// nothing is not an error (running it twice is fine).

import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { controllerHostsFile, setControllerHosts } from './controller-hosts.js';
import { LabError } from './errors.js';
import { bridgeName, checkLabName, DEFAULT_LAB, hostPaths, labPaths, netnsName, processMarker } from './layout.js';
import { withLock } from './lock.js';
import { labLinks, labNetnsIndexes, NETNS_DIR, removeHostNetwork, removeLink } from './network.js';
import { allPids, exePath, inNetns, isOurs, isRunning, kill, netnsInode, pollUntil, procInfo } from './processes.js';
import { readState, type LabHostRecord, type LabStateFile } from './state.js';
import { requireRoot, requireTools } from './system.js';
import type { LabDownResult } from './types.js';

const STOP_TIMEOUT_MS = 15_000;

export interface LabDownOptions {
  name?: string | undefined;
}

export async function labDown(opts: LabDownOptions = {}): Promise<LabDownResult> {
  const name = opts.name ?? DEFAULT_LAB;
  checkLabName(name);
  requireRoot('runbook lab down');
  const { ip } = requireTools(['ip'], 'runbook lab down');
  return withLock(`lab-${name}`, `runbook lab down (lab ${name})`, async () => ({ removed: await teardown(ip, name) }));
}

/** Remove all of lab `name`; also used to undo an `up` that failed. The caller holds the lab's lock. */
export async function teardown(ip: string, name: string): Promise<string[]> {
  let state: LabStateFile | undefined;
  try {
    state = readState(name);
  } catch {
    // A damaged state file must not stop the cleanup; the search by name below still works.
  }
  const indexes = new Set([...(state?.hosts.map((h) => h.index) ?? []), ...labNetnsIndexes(name)]);
  const removed = await stopProcesses(name, [...indexes], state?.hosts.flatMap((h) => [h.sshdPid, h.launcherPid]) ?? [], processMarker(name));
  for (const link of (await labLinks(ip, name)).sort((a, b) => Number(a === bridgeName(name)) - Number(b === bridgeName(name)))) {
    if (await removeLink(ip, link)) removed.push(link === bridgeName(name) ? `bridge ${link}` : `veth ${link}`);
  }
  for (const index of [...indexes].sort((a, b) => a - b)) removed.push(...(await removeHostNetwork(ip, name, index)));
  if (removeDir(name)) removed.push(`directory ${labPaths(name).dir}`);
  // Last, so that a damaged block (reported with what to do) leaves nothing else behind.
  if (await setControllerHosts(name, [])) removed.push(`host names of lab ${name} from ${controllerHostsFile()}`);
  return removed;
}

/** Remove one host that an `up` added and then had to undo. The caller holds the lab's lock. */
export async function removeHost(ip: string, name: string, index: number, host: string): Promise<void> {
  await stopProcesses(name, [index], [], `${processMarker(name)}${host}/`);
  await removeHostNetwork(ip, name, index);
  rmSync(hostPaths(name, host).dir, { recursive: true, force: true });
}

/** Stop whatever is left of one recorded host before it is started again. */
export async function stopHost(name: string, host: LabHostRecord): Promise<void> {
  await stopProcesses(name, [host.index], [host.sshdPid, host.launcherPid], `${processMarker(name)}${host.name}/`);
}

/**
 * Kill the lab's sshd processes (each is PID 1 of its host, so the kernel ends
 * everything else on the host with it), then wait for them and their
 * launchers to be gone. Touched are the recorded pids, and processes found in
 * the lab's namespaces (after an interrupted `up` recorded nothing), and of
 * those only the ones isOurs() confirms.
 */
async function stopProcesses(name: string, indexes: number[], recorded: number[], marker: string): Promise<string[]> {
  const inodes = new Set(indexes.map((i) => netnsInode(join(NETNS_DIR, netnsName(name, i)))).filter((n): n is number => n !== undefined));
  const ours = new Set(recorded.filter((pid) => isOurs(pid, marker)));
  if (inodes.size > 0) for (const pid of allPids()) if (!ours.has(pid) && isOurs(pid, marker) && inNetns(pid, inodes)) ours.add(pid);
  if (ours.size === 0) return [];

  const removed: string[] = [];
  for (const pid of ours) {
    if (!exePath(pid)?.endsWith('/sshd')) continue;
    const host = hostOf(pid, name) ?? 'a host';
    if (kill(pid, 'SIGKILL')) removed.push(`sshd of ${host} (pid ${pid}) and everything running on that host`);
  }
  const allGone = (): true | undefined => ([...ours].every((pid) => !isRunning(pid)) ? true : undefined);
  // Launchers exit by themselves once their sshd is gone; anything else left is killed.
  await pollUntil(allGone, 3_000);
  for (const pid of [...ours].filter(isRunning)) {
    const what = procInfo(pid)?.cmdline.slice(0, 60) ?? '?';
    if (kill(pid, 'SIGKILL')) removed.push(`process ${pid} (${what}…)`);
  }
  if (!(await pollUntil(allGone, STOP_TIMEOUT_MS))) {
    throw new LabError('command-failed', `lab ${name}: processes ${[...ours].filter(isRunning).join(', ')} are still running ${STOP_TIMEOUT_MS / 1000} s after SIGKILL`, {
      hint: 'they may be stuck in the kernel (e.g. on a hung mount); check `ps -o pid,stat,wchan,cmd -p <pid>` and run the command again',
    });
  }
  return removed;
}

function hostOf(pid: number, name: string): string | undefined {
  const cmdline = procInfo(pid)?.cmdline ?? '';
  const marker = processMarker(name);
  const at = cmdline.indexOf(marker);
  return at < 0 ? undefined : cmdline.slice(at + marker.length).split('/')[0];
}

function removeDir(name: string): boolean {
  const dir = labPaths(name).dir;
  // The hosts' bind mounts live in their own mount namespaces, which are gone
  // with their processes; a mount of the lab folder on the controller would
  // mean something else is using it, and deleting through a mount is not undoable.
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(`${dir}/`)));
  if (mounts.length > 0) {
    throw new LabError('command-failed', `lab ${name}: ${mounts[0]} is mounted on the controller, so ${dir} was not deleted`, {
      hint: `unmount it (umount ${mounts[0]}) and run the command again`,
    });
  }
  try {
    rmSync(dir, { recursive: true });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
