// Finding, checking and ending the processes a lab started. A pid is only
// treated as ours when it runs one of the lab's programs with the lab's
// marker path in its command line, so a recycled pid is never killed by
// mistake.

import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { basename } from 'node:path';

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** State letter from /proc/<pid>/stat (R, S, Z, …). */
  state: string;
  cmdline: string;
}

export function procInfo(pid: number): ProcInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may contain spaces and parentheses; the fields after the last ')' are fixed.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
    return { pid, state: rest[0] ?? '?', ppid: Number(rest[1]), cmdline };
  } catch {
    return undefined;
  }
}

/** The program a process runs (its /proc/<pid>/exe), when we may read it. */
export function exePath(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}

/** Running (not gone, not a zombie waiting to be reaped). */
export function isRunning(pid: number): boolean {
  const info = procInfo(pid);
  return info !== undefined && info.state !== 'Z' && info.state !== 'X';
}

export function netnsInode(netnsFile: string): number | undefined {
  try {
    return statSync(netnsFile).ino;
  } catch {
    return undefined;
  }
}

function processNetnsInode(pid: number): number | 'unknown' | undefined {
  try {
    const m = /^net:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/ns/net`));
    return m ? Number(m[1]) : 'unknown';
  } catch (err) {
    // Without root we may not read another process's namespace links.
    return (err as NodeJS.ErrnoException).code === 'EACCES' ? 'unknown' : undefined;
  }
}

/** The programs a lab runs directly: each host's launcher (ip netns exec, which becomes unshare) and its sshd. */
const LAB_PROGRAMS = new Set(['sshd', 'unshare']);

/**
 * Whether `pid` is a live process the lab started: it runs sshd or unshare,
 * and its command line carries `marker` (a path under /run/runbook/<lab>/ that
 * only the lab's own command lines contain). A recycled pid fails this test.
 */
export function isOurs(pid: number, marker: string): boolean {
  const info = procInfo(pid);
  if (!info || info.state === 'Z' || info.state === 'X' || !info.cmdline.includes(marker)) return false;
  try {
    return LAB_PROGRAMS.has(basename(readlinkSync(`/proc/${pid}/exe`)));
  } catch (err) {
    // Without root the program cannot be checked; the marker has to do.
    return (err as NodeJS.ErrnoException).code === 'EACCES';
  }
}

/** Whether the process lives in one of the given network namespaces (true when we cannot tell). */
export function inNetns(pid: number, netnsInodes: ReadonlySet<number>): boolean {
  const ino = processNetnsInode(pid);
  return ino === 'unknown' || (ino !== undefined && netnsInodes.has(ino));
}

export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // Kernels without CONFIG_PROC_CHILDREN: scan.
    return allPids().filter((p) => procInfo(p)?.ppid === pid);
  }
}

export function allPids(): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number);
}

export function kill(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Poll `check` until it returns a value other than undefined, or the deadline passes (then undefined). */
export async function pollUntil<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs: number, intervalMs = 50): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) return undefined;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
