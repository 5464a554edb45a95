// Issue 8, end to end: scalein --force removes an IoTDB node whose machine is
// lost. A 3C3D cluster (one ConfigNode and one DataNode on each of three lab
// hosts, both replication factors 2) loses node3: its IoTDB processes are
// killed and then its sshd, so runbook cannot reach it. Without --force,
// scalein stops at the unreachable machine; with it, the removal runs from a
// live node of the same type (remove-datanode.sh on a DataNode,
// remove-confignode.sh on a ConfigNode, as IoTDB's manual says), goes through
// the same list-then-confirm guard, never contacts the lost machine, and says
// what to delete there by hand.

import { beforeAll, describe, expect, test } from 'vitest';
import { useLab } from '../support/lab.js';
import { askCluster, eventually, messages, play, transcript, useOpsScratch, writeOpsTopology, type OpsNode, type OpsNodeSpec, type OpsTopology } from '../support/iotdb-ops.js';
import { onTerminal } from '../support/tty.js';
import { pids } from './helpers.js';

const lab = useLab({ hosts: 3 });
const scratch = useOpsScratch();

const NODES: OpsNodeSpec[] = [1, 2, 3].flatMap((i) => [
  { name: `confignode_${i}`, type: 'confignode' as const, host: `node${i}` },
  { name: `datanode_${i}`, type: 'datanode' as const, host: `node${i}` },
]);

/** Each node's status in `show cluster details`, asked of the live DataNodes from this machine ("absent" when not listed). */
async function statuses(t: OpsTopology): Promise<Record<string, string> | undefined> {
  const live = t.nodes.filter((n) => n.type === 'datanode' && n.host !== 'node3').map((n) => n.endpoint);
  const table = await askCluster(live, 'show cluster details');
  if (!table) return undefined;
  const row = (n: OpsNode) =>
    table.rows.find((r) => r.NodeType === (n.type === 'confignode' ? 'ConfigNode' : 'DataNode') && r.InternalAddress === n.address && r.InternalPort === String(n.internalPort));
  return Object.fromEntries(t.nodes.map((n) => [n.name, row(n)?.Status ?? 'absent']));
}

const javaMain = (n: OpsNode) => `${n.home}/.*${n.type === 'confignode' ? 'ConfigNode' : 'DataNode'}`;

describe('scalein --force: a node whose machine is lost', () => {
  let topo: OpsTopology;

  beforeAll(async () => {
    topo = writeOpsTopology({ lab, scratch, nodes: NODES, file: 'lost.yaml', clusterName: 'lostCluster', replication: { schema: 2, data: 2 } });
    for (const pb of ['deploy', 'start']) {
      const r = await play(scratch, pb, topo.path);
      if (r.code !== 0) throw new Error(`${pb} failed\n${transcript(r)}`);
    }
  });

  test('--force refuses a node the cluster reports Running, and changes nothing', async () => {
    const r = await play(scratch, 'scalein', topo.path, ['-N', 'datanode_3', '--force', '--yes']);
    expect(r.code, transcript(r)).toBe(1);
    expect(messages(r, 'the node is not running').join('\n'), transcript(r)).toContain('Running: --force is for a node whose machine is lost. Nothing was changed. Run scalein without --force');
    expect(messages(r, 'run the remove script on the live node')).toEqual([]);
    expect((await statuses(topo))?.['datanode_3']).toBe('Running');
  });

  test('--force refuses a node the cluster reports Unknown whose port still answers (it hangs, its machine is not lost)', async () => {
    // A stopped process keeps its listening socket: the kernel still accepts connections, but no heartbeat goes out.
    const [dn3] = await pids(lab, 'node3', javaMain(topo.node('datanode_3')));
    expect(dn3).toBeDefined();
    const stopped = await lab.sshExec('node3', `kill -STOP ${dn3}`);
    expect(stopped.code, stopped.stderr).toBe(0);
    try {
      await eventually('the cluster to report datanode_3 Unknown', async () => ((await statuses(topo))?.['datanode_3'] === 'Unknown' ? true : undefined));
      const r = await play(scratch, 'scalein', topo.path, ['-N', 'datanode_3', '--force', '--yes']);
      expect(r.code, transcript(r)).toBe(1);
      expect(messages(r, 'the node does not answer').join('\n'), transcript(r)).toContain(
        `the cluster does not report datanode_3 Running, but its port ${topo.node('datanode_3').endpoint} still answers datanode_1`,
      );
      expect(messages(r, 'run the remove script on the live node')).toEqual([]);
      expect((await statuses(topo))?.['datanode_3']).toBe('Unknown');
    } finally {
      await lab.sshExec('node3', `kill -CONT ${dn3}`);
    }
  });

  describe('once node3 is lost', () => {
    beforeAll(async () => {
      const node3 = topo.nodes.filter((n) => n.host === 'node3');
      for (const n of node3) {
        const found = await pids(lab, 'node3', javaMain(n));
        if (found.length !== 1) throw new Error(`expected one process of ${n.name} on node3, found ${found.length}`);
        const killed = await lab.sshExec('node3', `kill -KILL ${found[0]}`);
        if (killed.code !== 0) throw new Error(killed.stderr);
      }
      process.kill(lab.host('node3').sshdPid, 'SIGKILL');
      // The cluster notices through missed heartbeats (200 ms each here).
      await eventually('the cluster to report node3\'s nodes Unknown', async () => {
        const s = await statuses(topo);
        return s?.['datanode_3'] === 'Unknown' && s['confignode_3'] === 'Unknown' ? s : undefined;
      });
    });

    test('without --force, scalein stops at the unreachable machine and changes nothing', async () => {
      const r = await play(scratch, 'scalein', topo.path, ['-N', 'datanode_3', '--yes']);
      expect(r.code, transcript(r)).toBe(1);
      const recap = r.events.find((e) => e.type === 'recap') as { hosts: Record<string, { unreachable: number }> } | undefined;
      expect(recap?.hosts['datanode_3']?.unreachable).toBe(1);
      expect((await statuses(topo))?.['datanode_3']).toBe('Unknown');
    });

    test('with --force but without --yes, it says what will happen and what stays on the lost machine, and changes nothing', async () => {
      const r = await play(scratch, 'scalein', topo.path, ['-N', 'datanode_3', '--force']);
      expect(r.code, transcript(r)).toBe(1);
      const dn3 = topo.node('datanode_3');
      const plan = messages(r, 'what will happen').join('\n');
      expect(plan).toContain(`datanode_3 (datanode, ${dn3.address}:10730) leaves the cluster through datanode_1`);
      expect(plan).toContain(`its machine ${dn3.address} is not contacted, so these stay there to delete by hand later:`);
      expect(plan).toContain(dn3.home);
      expect(messages(r, 'needs --yes').join('\n'), transcript(r)).toContain('nothing was touched. Run it again with --yes to go ahead.');
      expect(messages(r, 'run the remove script on the live node')).toEqual([]);
      expect((await statuses(topo))?.['datanode_3']).toBe('Unknown');
    });

    test('on a terminal it asks for the cluster name; a wrong one changes nothing', async () => {
      const run = onTerminal(['play', 'scalein', '-i', topo.path, '-N', 'datanode_3', '--force', '-o', 'plain'], scratch.env);
      await run.shows('Type the cluster name (lostCluster) to go ahead: ');
      expect(run.screen).toContain('leaves the cluster through datanode_1');
      run.type('otherCluster\r');
      const { code, screen } = await run.exited;
      expect(code, screen).toBe(1);
      expect(screen).toContain('the answer for typed_cluster_name is not "lostCluster"');
      expect(screen).not.toContain('run the remove script on the live node');
      expect((await statuses(topo))?.['datanode_3']).toBe('Unknown');
    });

    test('with --force --yes, the lost DataNode leaves the cluster through a live DataNode', async ({ annotate }) => {
      const started = Date.now();
      const r = await play(scratch, 'scalein', topo.path, ['-N', 'datanode_3', '--force', '--yes']);
      const tookMs = Date.now() - started;
      expect(r.code, transcript(r)).toBe(0);
      expect(messages(r, 'a live node to act from').join('\n'), transcript(r)).toContain(`acting from datanode_1 (${topo.node('datanode_1').address})`);
      expect(messages(r, 'run the remove script on the live node').join('\n'), transcript(r)).toContain('sbin/remove-datanode.sh');
      const note = messages(r, 'what to clean by hand').join('\n');
      expect(note).toContain(`datanode_3 is out of the cluster. Its machine ${topo.node('datanode_3').address} was not contacted.`);
      expect(note).toContain(topo.node('datanode_3').home);
      expect(note).toContain('delete its entry (name: datanode_3) under datanode_servers');
      // Every result stands: nothing tried the lost machine.
      const recap = r.events.find((e) => e.type === 'recap') as { hosts: Record<string, { unreachable: number; failed: number }> } | undefined;
      expect(recap?.hosts['datanode_3']).toMatchObject({ unreachable: 0, failed: 0 });
      expect(await statuses(topo)).toMatchObject({ datanode_1: 'Running', datanode_2: 'Running', datanode_3: 'absent', confignode_1: 'Running', confignode_2: 'Running' });
      await annotate(`scalein --force took ${tookMs} ms`);

      // Again: nothing left to remove, nothing submitted twice, the same note.
      const again = await play(scratch, 'scalein', topo.path, ['-N', 'datanode_3', '--force', '--yes']);
      expect(again.code, transcript(again)).toBe(0);
      expect(messages(again, 'run the remove script on the live node')).toEqual([]);
      expect(messages(again, 'what to clean by hand').join('\n'), transcript(again)).toContain('datanode_3 is out of the cluster');
    });

    test('with --force --yes, the lost ConfigNode leaves through a live ConfigNode', async () => {
      const r = await play(scratch, 'scalein', topo.path, ['-N', 'confignode_3', '--force', '--yes']);
      expect(r.code, transcript(r)).toBe(0);
      expect(messages(r, 'a live node to act from').join('\n'), transcript(r)).toContain('acting from confignode_1');
      expect(messages(r, 'run the remove script on the live node').join('\n'), transcript(r)).toContain('sbin/remove-confignode.sh');
      expect(messages(r, 'what to clean by hand').join('\n'), transcript(r)).toContain('delete its entry (name: confignode_3) under confignode_servers');
      expect(await statuses(topo)).toMatchObject({ confignode_1: 'Running', confignode_2: 'Running', confignode_3: 'absent', datanode_1: 'Running', datanode_2: 'Running' });
    });
  });
});
