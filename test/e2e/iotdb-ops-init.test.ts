// init against a cluster deployed by hand, as the vendor document's manual
// deployment does it: one installation on one server, its shipped
// iotdb-system.properties edited, ConfigNode and DataNode started from it
// (start-standalone.sh). init refuses a topology that describes another
// node, adopts the right one, and then the other playbooks work on it:
// scaleout adds a DataNode, scalein removes the hand-made DataNode while the
// ConfigNode that shares its installation keeps running.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { useLab } from '../support/lab.js';
import { askCluster, eventually, messages, play, transcript, useOpsScratch } from '../support/iotdb-ops.js';

const lab = useLab({ hosts: 2 });
const scratch = useOpsScratch();

const HOME = '/opt/handmade/apache-iotdb-1.3.0-all-bin';

function topology(file: string, opts: { dnRpcPort?: number; withNewDataNode?: boolean } = {}): string {
  const a = lab.host('node1').address;
  const b = lab.host('node2').address;
  const doc = {
    ssh: { known_hosts: lab.knownHostsPath },
    global: {
      user: 'root',
      pkey: lab.keyPath,
      ssh_port: 22,
      deploy_dir: '/opt/handmade',
      iotdb_dir_name: 'apache-iotdb-1.3.0-all-bin',
      iotdb_zip_dir: scratch.packagePath,
      cn_seed_config_node: `${a}:10710`,
      dn_seed_config_node: `${a}:10710`,
      'iotdb-system.properties': { cluster_name: 'handmade', heartbeat_interval_in_ms: 200 },
    },
    confignode_servers: [{ name: 'cn_hand', cn_internal_address: a }],
    datanode_servers: [
      { name: 'dn_hand', dn_rpc_address: a, dn_internal_address: a, ...(opts.dnRpcPort === undefined ? {} : { dn_rpc_port: opts.dnRpcPort }) },
      ...(opts.withNewDataNode ? [{ name: 'dn_new', dn_rpc_address: b, dn_internal_address: b }] : []),
    ],
  };
  const path = join(scratch.dir, file);
  writeFileSync(path, stringify(doc));
  return path;
}

/** The document's manual deployment, over plain ssh: nothing of runbook is involved. */
async function deployByHand(): Promise<void> {
  const a = lab.host('node1').address;
  const script = [
    'set -e',
    'mkdir -p /opt/handmade && cd /opt/handmade',
    'cat > package.zip && unzip -q package.zip && rm package.zip',
    'cd apache-iotdb-1.3.0-all-bin',
    `sed -i -e 's/^cluster_name=.*/cluster_name=handmade/' -e 's/^cn_internal_address=.*/cn_internal_address=${a}/' ` +
      `-e 's/^cn_seed_config_node=.*/cn_seed_config_node=${a}:10710/' -e 's/^dn_seed_config_node=.*/dn_seed_config_node=${a}:10710/' ` +
      `-e 's/^dn_rpc_address=.*/dn_rpc_address=${a}/' -e 's/^dn_internal_address=.*/dn_internal_address=${a}/' conf/iotdb-system.properties`,
    'echo heartbeat_interval_in_ms=200 >> conf/iotdb-system.properties',
    'sbin/start-standalone.sh >/dev/null',
  ].join('\n');
  const r = await lab.sshExec('node1', script, { input: readFileSync(scratch.packagePath) });
  if (r.code !== 0) throw new Error(`the manual deployment failed: ${r.stdout}${r.stderr}`);
  await eventually('the hand-made cluster to serve', async () => {
    const t = await askCluster([`${a}:6667`]);
    return t && t.rows.length === 2 && t.rows.every((row) => row.Status === 'Running') ? t : undefined;
  });
}

const records = async (): Promise<string> => (await lab.sshExec('node1', `ls -a ${HOME} | grep runbook-deployed || true`)).stdout.trim();

describe('init', () => {
  it('refuses a topology that describes another node, and records nothing', async () => {
    await deployByHand();
    const r = await play(scratch, 'init', topology('wrong.yaml', { dnRpcPort: 6668 }));
    expect(r.code, transcript(r)).toBe(1);
    expect(messages(r, 'the node\'s identity matches').join('\n')).toContain('MISMATCH dn_rpc_port: node has 6667 (the file), topology says 6668');
    expect(await records()).toBe('');

    // status sees the nodes run and serve, and that runbook does not manage them yet.
    const st = await play(scratch, 'status', topology('status.yaml'));
    expect(st.code, transcript(st)).toBe(0);
    const a = lab.host('node1').address;
    expect(messages(st, 'status')).toEqual([
      expect.stringMatching(new RegExp(`^confignode cn_hand ${a}:10710: running, pid \\d+; listening: 10710,10720; cluster: Running \\(NodeID \\d+\\); deployed by runbook: no`)),
      expect.stringMatching(new RegExp(`^datanode dn_hand ${a}:6667: running, pid \\d+; listening: 6667,10730,10740,10750,10760; cluster: Running \\(NodeID \\d+\\); deployed by runbook: no`)),
    ]);
  });

  it('adopts the hand-made cluster, after which scaleout and scalein work on it', async () => {
    const path = topology('handmade.yaml');
    const r = await play(scratch, 'init', path);
    expect(r.code, transcript(r)).toBe(0);
    expect(messages(r, 'a running node is a member of the cluster')).toEqual([
      expect.stringMatching(/^cn_hand is ConfigNode NodeID \d+, Running$/),
      expect.stringMatching(/^dn_hand is DataNode NodeID \d+, Running$/),
    ]);
    expect(await records()).toBe('.runbook-deployed-confignode\n.runbook-deployed-datanode');
    const st = await play(scratch, 'status', path);
    expect(messages(st, 'status').every((m) => m.endsWith('deployed by runbook: yes')), transcript(st)).toBe(true);
    // Adopting again changes nothing.
    const again = await play(scratch, 'init', path);
    expect(again.code, transcript(again)).toBe(0);
    expect(again.events.filter((e) => e.type === 'task_result' && e.status === 'changed')).toEqual([]);

    const grown = topology('grown.yaml', { withNewDataNode: true });
    const out = await play(scratch, 'scaleout', grown);
    expect(out.code, transcript(out)).toBe(0);
    expect(messages(out, 'the new node joined')).toEqual([expect.stringMatching(/^dn_new joined the cluster as DataNode/)]);

    // dn_hand shares its installation with cn_hand: only its own data goes.
    const inn = await play(scratch, 'scalein', grown, ['-N', 'dn_hand', '--yes']);
    expect(inn.code, transcript(inn)).toBe(0);
    const left = await askCluster([`${lab.host('node2').address}:6667`], 'show cluster details');
    expect(left?.rows.map((x) => `${x.NodeType} ${x.InternalAddress} ${x.Status}`)).toEqual([
      `ConfigNode ${lab.host('node1').address} Running`,
      `DataNode ${lab.host('node2').address} Running`,
    ]);
    const look = await lab.sshExec('node1', `cd ${HOME} && ls -d data/*/; ls -a | grep runbook- ; test -x sbin/start-confignode.sh && echo home-kept`);
    expect(look.stdout.split('\n').filter(Boolean)).toEqual(['data/confignode/', '.runbook-deployed-confignode', 'home-kept']);
    expect((await lab.sshExec('node1', `pgrep -f '${HOME}/.*ConfigNode'`)).code).toBe(0);
  });
});
