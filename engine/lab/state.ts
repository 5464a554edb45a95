// state.json: what a lab made, so `status` and `down` can find it again and so
// `down` kills only the processes the lab itself started.

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { LabError } from './errors.js';
import { labPaths } from './layout.js';

const hostRecord = z.object({
  name: z.string(),
  index: z.number().int().positive(),
  hostname: z.string(),
  address: z.string(),
  netns: z.string(),
  veth: z.string(),
  /** sshd, PID 1 of the host's pid namespace, as seen from the controller. */
  sshdPid: z.number().int().positive(),
  /** The `ip netns exec … unshare` process that waits for sshd. */
  launcherPid: z.number().int().positive(),
  /** "ssh-ed25519 AAAA…", also written to known_hosts. */
  hostKey: z.string(),
  startedAt: z.string(),
});

const stateFile = z.object({
  version: z.literal(1),
  name: z.string(),
  subnet: z.string(),
  bridge: z.string(),
  controllerAddress: z.string(),
  createdAt: z.string(),
  hosts: z.array(hostRecord),
});

export type LabHostRecord = z.infer<typeof hostRecord>;
export type LabStateFile = z.infer<typeof stateFile>;

/** The lab's recorded state, or undefined when it has none. */
export function readState(name: string): LabStateFile | undefined {
  const file = labPaths(name).stateFile;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw corrupt(name, file, (err as Error).message);
  }
  const result = stateFile.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw corrupt(name, file, issue ? `${issue.path.join('.') || '(top)'}: ${issue.message}` : 'invalid');
  }
  return result.data;
}

function corrupt(name: string, file: string, why: string): LabError {
  return new LabError('state-corrupt', `the state of lab ${name} in ${file} cannot be read: ${why}`, {
    hint: `run \`runbook lab down${name === 'default' ? '' : ` --name ${name}`}\`; it also finds the lab's namespaces and interfaces by name`,
  });
}

export function writeState(state: LabStateFile): void {
  writeFileAtomic(labPaths(state.name).stateFile, JSON.stringify(state, null, 2) + '\n');
}

export function writeFileAtomic(file: string, text: string, mode = 0o644): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, file);
}
