// scaleout and scalein against real SSH hosts and the simulated IoTDB: a 1C1D
// cluster grows to 1C2D with the one node the topology adds, shrinks back with
// scalein -N, and scalein refuses to remove the last DataNode.

import { describe, expect, it } from 'vitest';
import { useLab } from '../support/lab.js';
import { askCluster, messages, play, transcript, useOpsScratch, writeOpsTopology, type OpsNodeSpec, type OpsTopology } from '../support/iotdb-ops.js';

const lab = useLab({ hosts: 3 });
const scratch = useOpsScratch();

const CN1: OpsNodeSpec = { name: 'confignode_1', type: 'confignode', host: 'node1' };
const DN1: OpsNodeSpec = { name: 'datanode_1', type: 'datanode', host: 'node1' };
const DN2: OpsNodeSpec = { name: 'datanode_2', type: 'datanode', host: 'node2' };
const DN3: OpsNodeSpec = { name: 'datanode_3', type: 'datanode', host: 'node3' };

function topology(nodes: OpsNodeSpec[]): OpsTopology {
  return writeOpsTopology({ lab, scratch, nodes, file: 'cluster.yaml' });
}

const dataNodeRows = async (t: OpsTopology): Promise<Array<Record<string, string>>> => {
  const table = await askCluster(t.nodes.filter((n) => n.type === 'datanode').map((n) => n.endpoint), 'show cluster details');
  if (!table) throw new Error('no DataNode answered show cluster details');
  return table.rows.filter((r) => r.NodeType === 'DataNode');
};

const exists = async (host: string, path: string): Promise<boolean> => (await lab.sshExec(host, `test -e '${path}'`)).code === 0;

describe('scaleout and scalein', () => {
  it('grows a 1C1D cluster to 1C2D and shrinks it back', async () => {
    const small = topology([CN1, DN1]);
    for (const pb of ['deploy', 'start']) {
      const r = await play(scratch, pb, small.path);
      expect(r.code, transcript(r)).toBe(0);
    }

    // Nothing is new yet: scaleout says so and touches nothing.
    const none = await play(scratch, 'scaleout', small.path);
    expect(none.code, transcript(none)).toBe(1);
    expect(messages(none, 'one node is new').join('\n')).toContain('nothing to scale out');

    // Two new nodes at once are refused, naming both.
    const two = await play(scratch, 'scaleout', topology([CN1, DN1, DN2, DN3]).path);
    expect(two.code, transcript(two)).toBe(1);
    expect(messages(two, 'only one node is new').join('\n')).toContain('the topology adds more than one node: datanode_2 datanode_3. scaleout adds one node per run.');
    expect(await exists('node2', '/opt/opsCluster/datanode_2')).toBe(false);

    const big = topology([CN1, DN1, DN2]);
    const out = await play(scratch, 'scaleout', big.path);
    expect(out.code, transcript(out)).toBe(0);
    expect(messages(out, 'the new node joined')).toEqual([expect.stringMatching(/^datanode_2 joined the cluster as DataNode NodeID \d+$/)]);
    const grown = await dataNodeRows(big);
    expect(grown.map((r) => `${r.InternalAddress}:${r.Status}`).sort()).toEqual([`${big.node('datanode_1').address}:Running`, `${big.node('datanode_2').address}:Running`]);
    // Its record is written once it joined, so the next scaleout finds nothing new.
    expect((await lab.sshExec('node2', 'cat /opt/opsCluster/datanode_2/.runbook-deployed-datanode')).stdout).toContain('node=datanode_2');
    const again = await play(scratch, 'scaleout', big.path);
    expect(messages(again, 'one node is new').join('\n')).toContain('nothing to scale out');

    // scalein by ip:port, as iotdbctl accepts it.
    const dn2 = big.node('datanode_2');
    const inn = await play(scratch, 'scalein', big.path, ['-N', dn2.endpoint, '--yes']);
    expect(inn.code, transcript(inn)).toBe(0);
    expect(messages(inn, 'run the remove script')).toEqual([expect.stringContaining('sbin/remove-datanode.sh')]);
    const shrunk = await dataNodeRows(big);
    expect(shrunk.map((r) => r.InternalAddress)).toEqual([big.node('datanode_1').address]);
    expect((await lab.sshExec('node2', `pgrep -f '${dn2.home}/.*DataNode'`)).code).toBe(1);
    expect(await exists('node2', dn2.home)).toBe(false);
    expect(await exists('node2', dn2.dataDir + '/data')).toBe(false);
    expect(messages(inn, 'remove the node from the topology').join('\n')).toContain('delete its entry (name: datanode_2) under datanode_servers');
  });

  it('refuses to remove the last DataNode and changes nothing', async () => {
    const t = topology([CN1, DN1, DN2]);
    const dn1 = t.node('datanode_1');
    const r = await play(scratch, 'scalein', t.path, ['-N', 'datanode_1', '--yes']);
    expect(r.code, transcript(r)).toBe(1);
    expect(messages(r, 'not the last DataNode').join('\n')).toContain('datanode_1 is the last DataNode of the cluster');
    expect(messages(r, 'run the remove script')).toEqual([]);
    const rows = await dataNodeRows(t);
    expect(rows.map((x) => `${x.InternalAddress}:${x.Status}`)).toEqual([`${dn1.address}:Running`]);
    expect(await exists('node1', `${dn1.home}/sbin/start-datanode.sh`)).toBe(true);
    expect(await exists('node1', `${dn1.dataDir}/system`)).toBe(true);
  });

  it('needs -N naming one node, and --yes before deleting anything', async () => {
    const t = topology([CN1, DN1, DN2]);
    const noN = await play(scratch, 'scalein', t.path, ['--yes']);
    expect(noN.code, transcript(noN)).toBe(1);
    expect(messages(noN, '-N names exactly one IoTDB node').join('\n')).toContain('named with -N');

    // datanode_2 was removed in the first test: a rerun says so and does nothing.
    const gone = await play(scratch, 'scalein', t.path, ['-N', 'datanode_2']);
    expect(gone.code, transcript(gone)).toBe(0);
    expect(messages(gone, 'already removed').join('\n')).toContain('an earlier scalein removed it');
  });
});
