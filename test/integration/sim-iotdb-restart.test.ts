// Whole-cluster restarts of the simulated IoTDB, as `iotdbctl cluster restart`
// and rolling upgrades do them: after a full stop the first ConfigNode back
// must wait for a majority instead of dying, and restarting the ConfigNodes
// one at a time must never stop the cluster from answering.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseTable, SimIotdbLab, waitFor, type SimNode } from '../support/sim-iotdb.js';

let lab: SimIotdbLab;

beforeAll(async () => {
  lab = await SimIotdbLab.create(200);
}, 180_000);

afterAll(async () => {
  await lab?.cleanup();
}, 30_000);

const SET_UP = 'set up successfully';

async function startAndWait(n: SimNode): Promise<void> {
  const before = (await lab.log(n)).length;
  expect((await lab.start(n)).code).toBe(0);
  await waitFor(`${n.name} to start`, async () => (await lab.log(n)).slice(before).includes(SET_UP));
}

function allRunning(out: string, n: number): boolean {
  const rows = parseTable(out);
  return rows.length === n && rows.every((r) => r.Status === 'Running');
}

it('restarts a stopped 3C3D cluster in order, then survives a rolling restart of every ConfigNode', async () => {
  const c1 = await lab.configNode('cn1');
  const cns = [c1, await lab.configNode('cn2', c1), await lab.configNode('cn3', c1)];
  const dns = [await lab.dataNode('dn1', [c1]), await lab.dataNode('dn2', [c1]), await lab.dataNode('dn3', [c1])];
  for (const n of [...cns, ...dns]) await startAndWait(n);
  await waitFor('six nodes Running', async () => allRunning((await lab.cli(dns[0]!, 'show cluster')).stdout, 6));

  // iotdbctl's stop: DataNodes first, then ConfigNodes.
  for (const n of [...dns, ...cns]) expect((await lab.stop(n)).code).toBe(0);

  // Alone, the first ConfigNode has no majority: it keeps running and waits, as a Ratis member does.
  const before = (await lab.log(cns[0]!)).length;
  expect((await lab.start(cns[0]!)).code).toBe(0);
  await waitFor('the lone ConfigNode to wait', async () => (await lab.log(cns[0]!)).slice(before).includes('Waiting for more than half of the ConfigNodes'));
  expect(lab.isOurs(lab.pidOf(cns[0]!)!)).toBe(true);
  await startAndWait(cns[1]!);
  await waitFor('the first ConfigNode to serve', async () => (await lab.log(cns[0]!)).slice(before).includes(SET_UP));
  await startAndWait(cns[2]!);
  for (const n of dns) await startAndWait(n);
  await waitFor('six nodes Running again', async () => allRunning((await lab.cli(dns[0]!, 'show cluster')).stdout, 6));

  // Rolling restart: one ConfigNode at a time; every query in between must succeed.
  const failures: string[] = [];
  const query = async (): Promise<string> => {
    const r = await lab.cli(dns[1]!, 'show cluster');
    if (r.code !== 0) failures.push(r.stdout);
    return r.stdout;
  };
  for (const n of cns) {
    expect((await lab.stop(n)).code).toBe(0);
    await query();
    await startAndWait(n);
    await waitFor(`six nodes Running after restarting ${n.name}`, async () => allRunning(await query(), 6));
  }
  expect(failures).toEqual([]);
  expect(parseTable((await lab.cli(dns[0]!, 'show confignodes')).stdout).filter((r) => r.Role === 'Leader')).toHaveLength(1);
  for (const n of cns) expect(await lab.log(n)).not.toMatch(/ ERROR /);
}, 90_000);
