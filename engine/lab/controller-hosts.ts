// The controller's side of lab host names: while a lab is up, the
// controller's /etc/hosts carries one marked block per lab that maps each lab
// host's FQDN to its address, so playbooks, ssh and tests on the controller
// reach hosts by the names the hosts call themselves.
//
// Several labs, and several test suites bringing labs up and down, share the
// one file: every change happens under a lock, rewrites the file in place
// (see rewriteInPlace for why it is never replaced), and touches only the
// lines between the lab's own markers. Removing a block gives back the file
// byte for byte as it was before the block was added.

import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LabError } from './errors.js';
import { withLock } from './lock.js';

/** Overridable so tests of the block logic never touch the real file. */
export function controllerHostsFile(): string {
  return process.env.RUNBOOK_CONTROLLER_HOSTS ?? '/etc/hosts';
}

export interface HostsEntry {
  address: string;
  names: readonly string[];
}

export function beginMarker(lab: string): string {
  return `# BEGIN runbook lab ${lab} (written by \`runbook lab up\`, removed by \`runbook lab down\`; do not edit)`;
}

export function endMarker(lab: string): string {
  return `# END runbook lab ${lab}`;
}

/**
 * `text` with lab `lab`'s block set to `entries` (or removed when `entries`
 * is empty). A new block goes at the end of a file that ends with a newline,
 * and at the start of one that does not, so that removing it later restores
 * the exact bytes. `file` only names the file in errors.
 */
export function withLabBlock(text: string, lab: string, entries: readonly HostsEntry[], file = controllerHostsFile()): string {
  const block = entries.length === 0 ? '' : [beginMarker(lab), ...entries.map((e) => `${e.address}\t${e.names.join(' ')}`), endMarker(lab)].map((l) => `${l}\n`).join('');
  const found = findBlock(text, lab, file);
  if (found !== undefined) return text.slice(0, found.start) + block + text.slice(found.end);
  if (block === '') return text;
  return text === '' || text.endsWith('\n') ? text + block : block + text;
}

/** The character range of lab `lab`'s block (whole lines, final newline included), or undefined when it has none. */
function findBlock(text: string, lab: string, file: string): { start: number; end: number } | undefined {
  const begin = beginMarker(lab);
  const end = endMarker(lab);
  let start: number | undefined;
  let pos = 0;
  let lineNo = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const lineEnd = nl < 0 ? text.length : nl + 1;
    const line = text.slice(pos, nl < 0 ? text.length : nl).replace(/\r$/, '');
    lineNo++;
    if (line === begin) {
      if (start !== undefined) throw damaged(file, lab, lineNo, `a second "${begin.slice(0, 30)}…" line before its END line`);
      start = pos;
    } else if (line === end) {
      if (start === undefined) throw damaged(file, lab, lineNo, `"${end}" without its BEGIN line`);
      return { start, end: lineEnd };
    }
    pos = lineEnd;
  }
  if (start !== undefined) throw damaged(file, lab, lineNo, `the BEGIN line of lab ${lab} has no "${end}" line`);
  return undefined;
}

function damaged(file: string, lab: string, line: number, what: string): LabError {
  return new LabError('state-corrupt', `${file}:${line}: the block of runbook lab ${lab} is damaged: ${what}`, {
    hint: `edit ${file} by hand: remove the lines of lab ${lab} between "# BEGIN runbook lab ${lab}" and "# END runbook lab ${lab}", then run the command again`,
  });
}

/** Whether the controller's hosts file has lab `lab`'s block (false when it cannot be read). */
export function hasControllerBlock(lab: string): boolean {
  try {
    return readFileSync(controllerHostsFile(), 'utf8').split('\n').some((l) => l.replace(/\r$/, '') === beginMarker(lab));
  } catch {
    return false;
  }
}

/** Set (or, with no entries, remove) lab `lab`'s block in the controller's hosts file. Returns whether the file changed. */
export async function setControllerHosts(lab: string, entries: readonly HostsEntry[]): Promise<boolean> {
  const file = controllerHostsFile();
  // The lock lives beside no lab: labs under different RUNBOOK_HOMEs share this file too.
  return withLock('runbook-controller-hosts', `update ${file} for lab ${lab}`, async () => {
    let before: string;
    try {
      before = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && entries.length === 0) return false;
      throw new LabError('command-failed', `cannot read ${file}: ${(err as Error).message}`, { hint: `lab host names need a readable ${file} on the controller` });
    }
    const after = withLabBlock(before, lab, entries, file);
    if (after === before) return false;
    rewriteInPlace(file, before, after);
    return true;
  }, existsSync('/run/lock') ? '/run/lock' : tmpdir());
}

/**
 * Rewrite `file` in place (same inode): from the first byte that differs,
 * then cut it to length. Never rename a new file over it: lab hosts (this
 * lab's and other labs') have their own file bind-mounted on /etc/hosts, and
 * replacing the controller's /etc/hosts makes the kernel drop those mounts.
 * Readers see the unchanged prefix at all times; the changed tail is one write.
 */
function rewriteInPlace(file: string, before: string, after: string): void {
  const old = Buffer.from(before, 'utf8');
  const next = Buffer.from(after, 'utf8');
  let same = 0;
  while (same < old.length && same < next.length && old[same] === next[same]) same++;
  let fd: number;
  try {
    fd = openSync(file, 'r+');
  } catch (err) {
    throw new LabError('command-failed', `cannot update ${file}: ${(err as Error).message}`, { hint: `lab host names need a writable ${file} on the controller (run as root)` });
  }
  try {
    if (same < next.length) writeSync(fd, next, same, next.length - same, same);
    ftruncateSync(fd, next.length);
  } finally {
    closeSync(fd);
  }
}
