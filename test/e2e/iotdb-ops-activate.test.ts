// activate against real SSH hosts and the simulated TimechoDB activation: each
// ConfigNode's machine code (activation/system_info), an activation code from
// -e (one, or several in the order of the machine codes, as iotdbctl takes
// them), or license files; the simulator refuses a code that does not fit its
// machine, so a wrong one must fail and store nothing.

import { createHmac } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SIM_ACTIVATION_KEY } from '../../engine/lab/packages/iotdb/sim/activation.js';
import { useLab } from '../support/lab.js';
import { deployedOnce, messages, play, transcript, useOpsScratch, type OpsTopology } from '../support/iotdb-ops.js';

const lab = useLab({ hosts: 2 });
const scratch = useOpsScratch();

const ready = deployedOnce({
  lab,
  scratch,
  file: 'c2d1.yaml',
  nodes: [
    { name: 'confignode_1', type: 'confignode', host: 'node1' },
    { name: 'confignode_2', type: 'confignode', host: 'node2' },
    { name: 'datanode_1', type: 'datanode', host: 'node1' },
  ],
});

const activation = (t: OpsTopology, node: string): string => `${t.node(node).home}/activation`;

async function machineCode(t: OpsTopology, node: string): Promise<string> {
  const r = await lab.sshExec(t.node(node).host, `cat ${activation(t, node)}/system_info`);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

/** What Timecho would issue for a machine code, in the simulator's documented scheme. */
const codeFor = (machine: string): string => createHmac('sha256', SIM_ACTIVATION_KEY).update(machine).digest('base64');

const license = async (t: OpsTopology, node: string): Promise<string | undefined> => {
  const r = await lab.sshExec(t.node(node).host, `cat ${activation(t, node)}/license`);
  return r.code === 0 ? r.stdout.trim() : undefined;
};

describe('activate', () => {
  it('refuses a wrong activation code and stores nothing', async () => {
    const t = await ready();
    const m1 = await machineCode(t, 'confignode_1');
    expect(m1).toMatch(/^01-[A-Z2-7]{8}-[A-Z2-7]{8}$/);
    const r = await play(scratch, 'activate', t.path, ['-N', 'confignode_1', '-e', `activation_code=${codeFor('01-SOMEOTHER-MACHINE0')}`]);
    expect(r.code, transcript(r)).toBe(1);
    expect(r.events.some((e) => e.type === 'task_result' && e.status === 'failed' && e.msg.includes(`the license does not match the machine code ${m1}`))).toBe(true);
    expect(await license(t, 'confignode_1')).toBeUndefined();
  });

  it('applies one code with -N, then one per ConfigNode in the order of their machine codes', async () => {
    const t = await ready();
    const m1 = await machineCode(t, 'confignode_1');
    const m2 = await machineCode(t, 'confignode_2');
    expect(m1).not.toBe(m2);

    const one = await play(scratch, 'activate', t.path, ['-N', 'confignode_1', '-e', `activation_code=${codeFor(m1)}`]);
    expect(one.code, transcript(one)).toBe(0);
    expect(messages(one, 'activated')).toEqual(['confignode_1 is activated: License has been stored to sbin/../activation/license']);
    expect(await license(t, 'confignode_1')).toBe(codeFor(m1));
    // The code is a secret: it appears nowhere in the output.
    expect(one.stdout).not.toContain(codeFor(m1));

    // iotdbctl's form: all codes at once, comma-separated in the listed order.
    const both = await play(scratch, 'activate', t.path, ['-e', `activation_code=${codeFor(m1)},${codeFor(m2)}`]);
    expect(both.code, transcript(both)).toBe(0);
    expect(messages(both, 'machine codes').join('\n')).toContain(`confignode_1 (${t.node('confignode_1').address}): ${m1}\nconfignode_2 (${t.node('confignode_2').address}): ${m2}`);
    expect(await license(t, 'confignode_2')).toBe(codeFor(m2));

    // A count of codes that fits no ConfigNode list is refused before any is applied.
    const three = await play(scratch, 'activate', t.path, ['-e', 'activation_code=a,b,c']);
    expect(three.code, transcript(three)).toBe(1);
    expect(messages(three, 'apply the activation code').join('\n')).toContain('got 3 activation codes for the 2 ConfigNodes');
  });

  it('installs license files from a folder with -e license_path', async () => {
    const t = await ready();
    const dir = join(scratch.dir, 'licenses');
    mkdirSync(dir, { recursive: true });
    for (const n of ['confignode_1', 'confignode_2']) {
      await lab.sshExec(t.node(n).host, `rm -f ${activation(t, n)}/license`);
      writeFileSync(join(dir, `${n}.license`), `${codeFor(await machineCode(t, n))}\n`);
    }
    const r = await play(scratch, 'activate', t.path, ['-e', `license_path=${dir}`]);
    expect(r.code, transcript(r)).toBe(0);
    for (const n of ['confignode_1', 'confignode_2']) expect(await license(t, n)).toBe(codeFor(await machineCode(t, n)));
  });
});
