// Issue 5, end to end: wrong orchestration input makes `start` fail the way
// it would in production, with the node's own log line in runbook's output
// (wait-port shows the log tail when the node never listens). Each case is a
// 1C1D cluster on its own lab host. The two start failures each wait out the
// playbook's 50 s start patience, so they run concurrently.

/** The start patience (50 s) plus deploy and start, with room for a loaded machine. */
const START_FAILURE_TIMEOUT_MS = 150_000;

import { describe, expect, test } from 'vitest';
import { results } from '../support/cli.js';
import { useLab } from '../support/lab.js';
import { writeIotdbTopology } from '../support/iotdb-topology.js';
import { anyMatch, existing, onHost, play, portOpen, resultOf, transcript, useScratch, waitFor } from './helpers.js';

describe('IoTDB start failures show the node log (issue 5)', () => {
  const lab = useLab({ hosts: 2 });
  const scratch = useScratch({ iotdbPackage: true });

  test('a seed address that names no ConfigNode is refused before any host is touched', async () => {
    const node1 = lab.host('node1');
    const topo = writeIotdbTopology({
      lab, layout: '1c1d', packagePath: scratch.packagePath, dir: scratch.dir,
      fileName: 'wrong-seed.yaml', deployDir: '/opt/wrong-seed', dnSeed: `${node1.address}:10711`,
    });
    for (const playbook of ['deploy', 'start']) {
      const r = await play(scratch, playbook, topo.path);
      expect(r.code, transcript(r)).toBe(2);
      expect(r.events.filter((e) => e.type === 'task_start')).toEqual([]);
      expect(r.stderr).toContain(`dn_seed_config_node in global is "${node1.address}:10711", which is not the cn_internal_address:cn_internal_port of any ConfigNode`);
      // Pointed at the yaml line, with the likely fix.
      expect(r.stderr).toMatch(new RegExp(`wrong-seed\\.yaml:\\d+:\\d+`));
      expect(r.stderr).toContain(`did you mean "${node1.address}:10710"`);
    }
    expect(await existing(lab, 'node1', [topo.deployDir, topo.dataDir])).toEqual([]);
  });

  describe.concurrent('start', () => {
    test('fails with the DataNode log line when its seed ConfigNode is not running', async () => {
      const topo = writeIotdbTopology({ lab, layout: '1c1d', packagePath: scratch.packagePath, dir: scratch.dir, fileName: 'seed-down.yaml', hosts: ['node1'] });
      const deployed = await play(scratch, 'deploy', topo.path);
      expect(deployed.code, transcript(deployed)).toBe(0);

      // Only the DataNode: its seed, confignode_1, is never started.
      const r = await play(scratch, 'start', topo.path, ['-N', 'datanode_1']);
      expect(r.code, transcript(r)).toBe(1);
      const waited = resultOf(r, 'wait until the node listens', 'datanode_1');
      expect(waited.status).toBe('failed');
      expect(waited.msg).toContain(`port 6667 on ${topo.node('datanode_1').address} did not open`);
      expect(waited.msg).toContain(`last 20 lines of ${topo.node('datanode_1').logFile}`);
      const seed = topo.node('confignode_1').endpoint;
      expect(waited.msg).toMatch(new RegExp(`ERROR .*Cannot connect to the seed ConfigNode ${seed.replace(/\./g, '\\.')} after 10 retries`));
      expect(waited.msg).toContain('Fail to start server. The DataNode exits.');
      // Nothing after the failure ran for the node, and nothing is left running.
      expect(results(r, 'the node is still running after it opened its port')).toEqual([]);
      expect(await anyMatch(lab, 'node1', topo.nodes.map((n) => n.processPattern))).toEqual([false, false]);
    }, START_FAILURE_TIMEOUT_MS);

    test('fails with the DataNode log line when one of its ports is taken', async () => {
      const topo = writeIotdbTopology({ lab, layout: '1c1d', packagePath: scratch.packagePath, dir: scratch.dir, fileName: 'port-taken.yaml', hosts: ['node2'] });
      const address = lab.host('node2').address;
      const deployed = await play(scratch, 'deploy', topo.path);
      expect(deployed.code, transcript(deployed)).toBe(0);

      // Something else holds the DataNode's dn_mpp_data_exchange_port (10740, the default).
      const holder = Number(
        (await onHost(lab, 'node2', `setsid /usr/bin/node -e "require('net').createServer().listen(10740)" </dev/null >/dev/null 2>&1 & echo $!`)).trim(),
      );
      try {
        await waitFor('the port holder to listen', () => portOpen(address, 10740));
        const r = await play(scratch, 'start', topo.path);
        expect(r.code, transcript(r)).toBe(1);
        // The ConfigNode starts; the DataNode refuses, and its log says why.
        expect(resultOf(r, 'the node is still running after it opened its port', 'confignode_1').status).toBe('ok');
        const waited = resultOf(r, 'wait until the node listens', 'datanode_1');
        expect(waited.status).toBe('failed');
        expect(waited.msg).toContain(`port 6667 on ${address} did not open`);
        expect(waited.msg).toMatch(/ERROR .*The dn_mpp_data_exchange_port 10740 is already occupied/);
        expect(waited.msg).toContain('Fail to start server. The DataNode exits.');
        // With a node down, start stops instead of asking the cluster (through that DataNode) 50 times.
        expect(resultOf(r, 'every node started so far is running', 'confignode_1')).toMatchObject({ status: 'failed' });
        expect(results(r, 'ask the cluster')).toEqual([]);
        expect(await anyMatch(lab, 'node2', topo.nodes.map((n) => n.processPattern))).toEqual([true, false]);
      } finally {
        await lab.sshExec('node2', `kill ${holder}`);
      }
    }, START_FAILURE_TIMEOUT_MS);
  });
});
