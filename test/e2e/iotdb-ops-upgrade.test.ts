// upgrade against a 3C3D cluster on real SSH hosts: the new lib (a zip in the
// documented form) reaches every node, the nodes restart one at a time,
// ConfigNodes first, and a poller asks the cluster during the whole rollout.
//
// What "Running throughout" can honestly mean while a node restarts: the
// restarting node itself is down for a moment, so the claim is that the
// cluster answered every poll (some DataNode served `show cluster`, which
// needs a ConfigNode quorum behind it) and no poll saw more than one node not
// Running. That the poller really overlapped the rollout is shown by polls
// that saw both versions at once.
//
// A second rollout with a lib whose nodes cannot start stops at its first
// node, leaves the rest untouched, and the rollback its message gives works.

import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { buildIotdbLib } from '../../engine/lab/packages/iotdb/index.js';
import { results } from '../support/cli.js';
import { useLab } from '../support/lab.js';
import { askCluster, messages, play, transcript, useOpsScratch, writeOpsTopology, type OpsNodeSpec, type OpsTopology } from '../support/iotdb-ops.js';

const lab = useLab({ hosts: 3 });
const scratch = useOpsScratch();

const NODES: OpsNodeSpec[] = [
  { name: 'confignode_1', type: 'confignode', host: 'node1' },
  { name: 'confignode_2', type: 'confignode', host: 'node2' },
  { name: 'confignode_3', type: 'confignode', host: 'node3' },
  { name: 'datanode_1', type: 'datanode', host: 'node1' },
  { name: 'datanode_2', type: 'datanode', host: 'node2' },
  { name: 'datanode_3', type: 'datanode', host: 'node3' },
];

function topology(libDir?: string): OpsTopology {
  return writeOpsTopology({
    lab,
    scratch,
    nodes: NODES,
    file: 'c3d3.yaml',
    replication: { schema: 3, data: 2 },
    ...(libDir === undefined ? {} : { global: { iotdb_lib_dir: libDir } }),
  });
}

interface Poll {
  answered: boolean;
  nodes: Array<{ id: string; type: string; status: string; version: string }>;
}

/** Ask the cluster again and again until stopped; one entry per poll. */
function poller(endpoints: string[]): { stop: () => Promise<Poll[]> } {
  const polls: Poll[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const t = await askCluster(endpoints, 'show cluster');
      polls.push({
        answered: t !== undefined,
        nodes: (t?.rows ?? []).map((r) => ({ id: r.NodeID ?? '', type: r.NodeType ?? '', status: r.Status ?? '', version: r.Version ?? '' })),
      });
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return polls;
    },
  };
}

const sh = promisify(execFile);

describe('upgrade', () => {
  it('rolls a new lib through a 3C3D cluster one node at a time while it keeps serving', async () => {
    const t = topology();
    for (const pb of ['deploy', 'start']) {
      const r = await play(scratch, pb, t.path);
      expect(r.code, transcript(r)).toBe(0);
    }
    const dataNodes = t.nodes.filter((n) => n.type === 'datanode').map((n) => n.endpoint);

    // The documented zip: zip -r lib.zip apache-iotdb-<version>/lib/*
    const top = join(scratch.dir, 'new', 'apache-iotdb-1.3.1-all-bin');
    await buildIotdbLib(join(top, 'lib'), '1.3.1');
    const zip = join(scratch.dir, 'lib-1.3.1.zip');
    await sh('zip', ['-qr', zip, 'apache-iotdb-1.3.1-all-bin/lib'], { cwd: join(scratch.dir, 'new') });
    const upgraded = topology(zip);

    const watch = poller(dataNodes);
    const outcome = await play(scratch, 'upgrade', upgraded.path).then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    );
    // Stopped before anything can throw, so no poller outlives the test.
    const polls = await watch.stop();
    if ('error' in outcome) throw outcome.error;
    const r = outcome.result;
    expect(r.code, transcript(r)).toBe(0);

    // Restarted one after the other, ConfigNodes first, each Running before the next.
    expect(results(r, 'start the node on the new lib').filter((e) => e.status === 'changed').map((e) => e.host)).toEqual(NODES.map((n) => n.name));
    expect(messages(r, 'the node is back')).toHaveLength(6);
    for (const m of messages(r, 'the node is back')) expect(m).toMatch(/is Running on the new lib; the previous lib is kept in \/opt\/opsCluster\/\w+\/lib\.backup-\d{8}-\d{6}/);

    const after = await askCluster(dataNodes, 'show cluster');
    expect(after?.rows.map((x) => `${x.NodeType} ${x.Status} ${x.Version}`)).toEqual([
      ...Array(3).fill('ConfigNode Running 1.3.1'),
      ...Array(3).fill('DataNode Running 1.3.1'),
    ]);

    // The cluster served throughout, with at most the restarting node not Running.
    expect(polls.length).toBeGreaterThan(0);
    expect(polls.filter((p) => !p.answered)).toEqual([]);
    for (const p of polls) expect(p.nodes.filter((n) => n.status !== 'Running').length, JSON.stringify(p)).toBeLessThanOrEqual(1);
    // The poller overlapped the rollout: some polls saw old and new versions together.
    const mixed = polls.filter((p) => p.nodes.some((n) => n.version === '1.3.0') && p.nodes.some((n) => n.version === '1.3.1'));
    expect(mixed.length).toBeGreaterThan(0);
    // No DataNode ran the new lib while a ConfigNode still ran the old one, and no node went back.
    for (const p of polls) {
      if (p.nodes.some((n) => n.type === 'DataNode' && n.version === '1.3.1')) expect(p.nodes.filter((n) => n.type === 'ConfigNode').every((n) => n.version === '1.3.1')).toBe(true);
    }
    const seenNew = new Set<string>();
    for (const p of polls) {
      for (const n of p.nodes) {
        if (n.version === '1.3.1') seenNew.add(n.id);
        else expect(seenNew.has(n.id), `node ${n.id} went back to ${n.version}`).toBe(false);
      }
    }

    // Rerunning with the same lib restarts nothing.
    const again = await play(scratch, 'upgrade', upgraded.path);
    expect(again.code, transcript(again)).toBe(0);
    expect(results(again, 'start the node on the new lib').filter((e) => e.status !== 'skipped')).toEqual([]);
    expect(messages(again, 'already on the new lib')).toHaveLength(6);
  });

  it('stops at a node that does not come back, and its rollback message works', async () => {
    // A lib (folder form) whose nodes exit at once.
    const broken = join(scratch.dir, 'broken-lib');
    await buildIotdbLib(broken, '1.3.2');
    mkdirSync(join(broken, 'iotdb-sim'), { recursive: true });
    writeFileSync(join(broken, 'iotdb-sim', 'main.js'), 'process.stderr.write("broken on purpose by the test\\n");\nprocess.exit(3);\n');
    const t = topology(broken);
    const dataNodes = t.nodes.filter((n) => n.type === 'datanode').map((n) => n.endpoint);

    const r = await play(scratch, 'upgrade', t.path, ['-e', 'node_start_timeout=5']);
    expect(r.code, transcript(r)).toBe(1);
    expect(results(r, 'start the node on the new lib').filter((e) => e.status !== 'skipped').map((e) => e.host)).toEqual(['confignode_1']);
    const failure = results(r, 'the node is back').find((e) => e.status === 'failed');
    expect(failure?.host).toBe('confignode_1');
    const m = /cd (\S+) && rm -rf lib && mv (\S+lib\.backup-\S+) lib/.exec(failure?.msg ?? '');
    expect(m, failure?.msg).not.toBeNull();
    expect(failure?.msg).toContain('The rollout stopped here');

    // The other nodes were not touched: still Running on 1.3.1, with the new lib only staged beside theirs.
    const during = await askCluster(dataNodes, 'show cluster');
    expect(during?.rows.map((x) => `${x.NodeID} ${x.Status} ${x.Version}`)).toEqual(['0 Unknown 1.3.1', '1 Running 1.3.1', '2 Running 1.3.1', '3 Running 1.3.1', '4 Running 1.3.1', '5 Running 1.3.1']);
    expect((await lab.sshExec('node2', 'cat /opt/opsCluster/confignode_2/lib/iotdb-sim-version.txt')).stdout).toContain('version=1.3.1');

    // Follow the message: put the previous lib back and start the node.
    const back = await lab.sshExec('node1', `cd ${m![1]!} && rm -rf lib && mv ${m![2]!} lib`);
    expect(back.code, back.stderr).toBe(0);
    const start = await play(scratch, 'start', t.path, ['-N', 'confignode_1']);
    expect(start.code, transcript(start)).toBe(0);
    const healed = await askCluster(dataNodes, 'show cluster');
    expect(healed?.rows.map((x) => `${x.Status} ${x.Version}`)).toEqual(Array(6).fill('Running 1.3.1'));
  });

  // This suite's cluster keeps 3 schema replicas: scalein may not leave fewer DataNodes.
  it('scalein refuses to drop DataNodes below the replication factor', async () => {
    const t = topology();
    const r = await play(scratch, 'scalein', t.path, ['-N', 'datanode_3', '--yes']);
    expect(r.code, transcript(r)).toBe(1);
    const why = messages(r, 'enough DataNodes stay for the replication factor').join('\n');
    expect(why).toContain('removing datanode_3 would leave fewer Running DataNodes');
    expect(why).toContain('schema_replication_factor 3');
    expect(messages(r, 'run the remove script')).toEqual([]);
    const rows = await askCluster(t.nodes.filter((n) => n.type === 'datanode').map((n) => n.endpoint), 'show cluster');
    expect(rows?.rows.filter((x) => x.NodeType === 'DataNode' && x.Status === 'Running')).toHaveLength(3);
  });
});
