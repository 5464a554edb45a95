// The simulated IoTDB package, run for real on loopback: built, zipped,
// unzipped per node, started through its sbin scripts, queried through its
// CLI. Every expectation here is a rule from the vendor's deployment document
// (or IoTDB's own messages), so wrong orchestration fails as it would in
// production.

import { appendFile, cp, readFile, rm } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import iotdb, { buildIotdbLib } from '../../engine/lab/packages/iotdb/index.js';
import { parseProperties } from '../../engine/lab/packages/iotdb/sim/properties.js';
import { call } from '../../engine/lab/packages/iotdb/sim/rpc.js';
import { parseTable, run, SimIotdbLab, waitFor, type SimNode } from '../support/sim-iotdb.js';

let lab: SimIotdbLab;

beforeAll(async () => {
  lab = await SimIotdbLab.create(200);
}, 180_000);

afterAll(async () => {
  await lab?.cleanup();
}, 30_000);

type Row = Record<string, string>;

async function showCluster(via: SimNode, details = false): Promise<Row[]> {
  const r = await lab.cli(via, details ? 'show cluster details' : 'show cluster');
  if (r.code !== 0) throw new Error(`show cluster failed (${r.code}): ${r.stdout}${r.stderr}`);
  return parseTable(r.stdout);
}

function waitCluster(via: SimNode, what: string, ok: (rows: Row[]) => boolean, timeoutMs = 15_000): Promise<Row[]> {
  return waitFor(what, async () => {
    const rows = await showCluster(via);
    return ok(rows) ? rows : undefined;
  }, timeoutMs);
}

const allRunning = (n: number) => (rows: Row[]) => rows.length === n && rows.every((r) => r.Status === 'Running');

function waitLog(node: SimNode, text: string, timeoutMs = 15_000): Promise<string> {
  return waitFor(`"${text}" in ${node.name}'s log`, async () => {
    const log = await lab.log(node);
    return log.includes(text) ? log : undefined;
  }, timeoutMs);
}

function waitGone(pid: number): Promise<true> {
  return waitFor(`process ${pid} to exit`, async () => !lab.isOurs(pid) || undefined);
}

const SET_UP = { confignode: 'IoTDB ConfigNode is set up successfully', datanode: 'IoTDB DataNode is set up successfully' };

/** Start with -d (or nohup … &) and wait for this start's success line, not an earlier one. */
async function startAndWait(node: SimNode, how: 'daemon' | 'nohup' = 'daemon'): Promise<void> {
  const before = (await lab.log(node)).length;
  const r = how === 'daemon' ? await lab.start(node) : await lab.startNohup(node);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  await waitFor(`${node.name} to start`, async () => (await lab.log(node)).slice(before).includes(SET_UP[node.role]));
}

describe('the package', () => {
  it('has the documented layout, scripts, defaults and a simulated label', async () => {
    expect(iotdb.version).toMatch(/^1\.3\.0 .*simulated/);
    expect(iotdb.archiveName).toBe('apache-iotdb-1.3.0-all-bin.zip');
    expect(iotdb.topDir).toBe('apache-iotdb-1.3.0-all-bin');
    expect(iotdb.format).toBe('zip');

    const home = join(lab.root, 'build', iotdb.topDir);
    for (const d of ['conf', 'data', 'lib', 'licenses', 'logs', 'sbin', 'tools']) expect(existsSync(join(home, d)), d).toBe(true);
    const scripts = ['start-confignode.sh', 'stop-confignode.sh', 'start-datanode.sh', 'stop-datanode.sh', 'start-cli.sh', 'remove-confignode.sh', 'remove-datanode.sh', 'start-standalone.sh', 'stop-standalone.sh'];
    for (const s of scripts) {
      const path = join(home, 'sbin', s);
      expect(statSync(path).mode & 0o111, s).not.toBe(0);
      // dash is /bin/sh here: the scripts must parse as POSIX sh.
      expect((await run('dash', ['-n', path])).code, s).toBe(0);
    }
    for (const s of ['confignode-env.sh', 'datanode-env.sh', 'iotdb-common.sh']) expect((await run('dash', ['-n', join(home, 'conf', s)])).code, s).toBe(0);

    const props = parseProperties(await readFile(join(home, 'conf', 'iotdb-system.properties'), 'utf8'));
    expect(Object.fromEntries(props)).toMatchObject({
      cluster_name: 'defaultCluster',
      config_node_consensus_protocol_class: 'org.apache.iotdb.consensus.ratis.RatisConsensus',
      schema_replication_factor: '1',
      schema_region_consensus_protocol_class: 'org.apache.iotdb.consensus.ratis.RatisConsensus',
      data_replication_factor: '1',
      data_region_consensus_protocol_class: 'org.apache.iotdb.consensus.iot.IoTConsensus',
      cn_internal_address: '127.0.0.1',
      cn_internal_port: '10710',
      cn_consensus_port: '10720',
      cn_seed_config_node: '127.0.0.1:10710',
      dn_rpc_address: '127.0.0.1',
      dn_rpc_port: '6667',
      dn_internal_address: '127.0.0.1',
      dn_internal_port: '10730',
      dn_mpp_data_exchange_port: '10740',
      dn_data_region_consensus_port: '10750',
      dn_schema_region_consensus_port: '10760',
      dn_seed_config_node: '127.0.0.1:10710',
    });
    expect(await readFile(join(home, 'lib', 'iotdb-sim-version.txt'), 'utf8')).toMatch(/^version=1\.3\.0$/m);
    expect(existsSync(join(home, 'lib', 'iotdb-server-1.3.0.jar'))).toBe(true);
    expect(await readFile(join(home, 'README.md'), 'utf8')).toMatch(/SIMULATED/);
  });
});

describe('1C1D, then a second DataNode', () => {
  let cn: SimNode;
  let dn1: SimNode;
  let dn2: SimNode;

  afterAll(async () => {
    // Free the CPU for the 3C3D cluster; cleanup() would kill them anyway.
    for (const n of [dn2, dn1, cn]) if (n) await lab.stop(n);
  });

  it('starts ConfigNode then DataNode; show cluster details shows both Running in the documented format', async () => {
    cn = await lab.configNode('c1-cn');
    dn1 = await lab.dataNode('c1-dn1', [cn]);
    await appendFile(join(dn1.home, 'conf', 'datanode-env.sh'), 'IOTDB_JMX_OPTS="$IOTDB_JMX_OPTS -XX:+UseG1GC"\n');
    await startAndWait(cn);
    await startAndWait(dn1);
    await waitCluster(dn1, 'both nodes Running', allRunning(2));

    const r = await lab.cli(dn1, 'show cluster details');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[1]).toBe('|NodeID|  NodeType| Status|InternalAddress|InternalPort|ConfigConsensusPort|RpcAddress|RpcPort|MppPort|SchemaConsensusPort|DataConsensusPort|');
    expect(lines[0]).toMatch(/^\+-+(\+-+){10}\+$/);
    expect(lines.at(-2)).toBe('Total line number = 2');
    expect(lines.at(-1)).toMatch(/^It costs \d+\.\d{3}s$/);
    expect(parseTable(r.stdout)).toEqual([
      {
        NodeID: '0', NodeType: 'ConfigNode', Status: 'Running', InternalAddress: '127.0.0.1', InternalPort: String(cn.ports.cn_internal_port),
        ConfigConsensusPort: String(cn.ports.cn_consensus_port), RpcAddress: '', RpcPort: '', MppPort: '', SchemaConsensusPort: '', DataConsensusPort: '',
      },
      {
        NodeID: '1', NodeType: 'DataNode', Status: 'Running', InternalAddress: '127.0.0.1', InternalPort: String(dn1.ports.dn_internal_port),
        ConfigConsensusPort: '', RpcAddress: '127.0.0.1', RpcPort: String(dn1.ports.dn_rpc_port), MppPort: String(dn1.ports.dn_mpp_data_exchange_port),
        SchemaConsensusPort: String(dn1.ports.dn_schema_region_consensus_port), DataConsensusPort: String(dn1.ports.dn_data_region_consensus_port),
      },
    ]);
    // Starting a node that already runs is refused by the port check, naming the running pid.
    const again = await lab.start(cn);
    expect(again.code).not.toBe(0);
    expect(again.stdout).toContain(`The cn_internal_port ${cn.ports.cn_internal_port} is already occupied, PID: ${lab.pidOf(cn)}`);

    // The env file's options reach the node (iotdbctl's extra_opts are appended the same way).
    expect(await lab.log(dn1)).toMatch(/JVM options \(IOTDB_JMX_OPTS\): -Xms\S+ .*-XX:\+UseG1GC/);
    expect(await lab.log(cn)).toMatch(/\[main\] INFO +\S+ - IoTDB-ConfigNode 1\.3\.0 \(Build: simulated\) is starting .*simulated/);
  });

  it('answers show cluster, show version and load configuration', async () => {
    const rows = await showCluster(dn1);
    expect(rows.map((r) => [r.NodeID, r.NodeType, r.Status, r.Version, r.BuildInfo])).toEqual([
      ['0', 'ConfigNode', 'Running', '1.3.0', 'simulated'],
      ['1', 'DataNode', 'Running', '1.3.0', 'simulated'],
    ]);
    expect(Object.keys(rows[0]!)).toEqual(['NodeID', 'NodeType', 'Status', 'InternalAddress', 'InternalPort', 'Version', 'BuildInfo']);

    const v = await lab.cli(dn1, 'show version');
    expect(parseTable(v.stdout)).toEqual([{ Version: '1.3.0', BuildInfo: 'simulated' }]);

    const piped = await lab.cli(dn1, 'show version\nshow confignodes;\n', [], true);
    expect(piped.code).toBe(0);
    expect(piped.stdout.match(/^Total line number = 1$/gm)).toHaveLength(2);
    expect(piped.stdout).toContain('|     0|Running|      127.0.0.1|');

    await appendFile(join(dn1.home, 'conf', 'iotdb-system.properties'), 'slow_query_threshold=5000\n');
    const load = await lab.cli(dn1, 'load configuration');
    expect(load).toMatchObject({ code: 0, stdout: 'Msg: The statement is executed successfully.\n' });
    expect(await lab.log(dn1)).toContain('slow_query_threshold: 10000 -> 5000');
    // ON CLUSTER goes through the ConfigNode to every node.
    expect((await lab.cli(dn1, 'load configuration on cluster')).code).toBe(0);
    expect(await lab.log(cn)).toContain('Hot-reloaded iotdb-system.properties: no hot_reload parameter changed.');
  });

  it('fails like IoTDB on a wrong password, an unreachable host and an unknown statement', async () => {
    const auth = await lab.cli(dn1, 'show cluster', ['-u', 'root', '-pw', 'nope']);
    expect(auth.code).not.toBe(0);
    expect(auth.stdout).toContain('801: Authentication failed.');

    const [closed] = await lab.ports(1);
    const down = await run('sh', [join(dn1.home, 'sbin', 'start-cli.sh'), '-h', '127.0.0.1', '-p', String(closed), '-e', 'show cluster'], { env: lab.env });
    expect(down.code).not.toBe(0);
    expect(down.stdout).toContain(`Connection Error, please check whether the network is available or the server has started. Host is 127.0.0.1, port is ${closed}.`);

    const bad = await lab.cli(dn1, 'show clusterz');
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toMatch(/^Msg: 700: .*show clusterz/);
  });

  it('refuses to remove the last DataNode (below max replication factor)', async () => {
    const r = await lab.sh(dn1, 'remove-datanode.sh', [dn1.endpoint]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toContain('max(schema_replication_factor, data_replication_factor) = 1');
    expect(allRunning(2)(await showCluster(dn1))).toBe(true);
  });

  it('refuses a DataNode whose cluster_name differs, naming both names', async () => {
    const stranger = await lab.dataNode('c1-stranger', [cn], { cluster_name: 'otherCluster' });
    const started = await lab.start(stranger);
    expect(started.code).toBe(0);
    const pid = Number(/in the background, PID: (\d+)/.exec(started.stdout)?.[1]);
    expect(pid).toBeGreaterThan(0);
    const log = await waitLog(stranger, 'Fail to start server');
    expect(log).toMatch(/ERROR .*Reject DataNode start\. Because the ClusterName of the current DataNode and the target cluster are inconsistent\. ClusterName of the current Node: otherCluster, ClusterName of the target cluster: defaultCluster\./);
    expect(log).toContain('cluster_name');
    await waitGone(pid);
    // A node that failed to start leaves no pid file behind for the stop script to trip over.
    expect(lab.pidOf(stranger)).toBeNull();
    expect((await showCluster(dn1)).length).toBe(2);
  });

  it('refuses to start a DataNode whose port is taken, naming the port', async () => {
    dn2 = await lab.dataNode('c1-dn2', [cn]);
    const port = dn2.ports.dn_mpp_data_exchange_port!;
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    try {
      const daemon = await lab.start(dn2);
      expect(daemon.code).not.toBe(0);
      expect(daemon.stdout).toContain(`The dn_mpp_data_exchange_port ${port} is already occupied, PID: ${process.pid}`);
      expect(daemon.stdout).toContain('Exit because there are occupied ports.');

      const foreground = await lab.sh(dn2, 'start-datanode.sh');
      expect(foreground.code).not.toBe(0);
      expect(await lab.log(dn2)).toMatch(new RegExp(`ERROR .*The dn_mpp_data_exchange_port ${port} is already occupied`));
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('shows a stopped DataNode as Unknown and the restarted one as Running with the same NodeID', async () => {
    await startAndWait(dn2);
    await waitCluster(dn1, 'three nodes Running', allRunning(3));
    const id = (await showCluster(dn1)).find((r) => r.InternalPort === String(dn2.ports.dn_internal_port))!.NodeID;
    expect(id).toBe('2');

    const pid = lab.pidOf(dn2)!;
    const stop = await lab.stop(dn2);
    expect(stop).toMatchObject({ code: 0 });
    expect(stop.stdout).toContain(`Stop DataNode, PID: ${pid}`);
    expect(lab.isOurs(pid)).toBe(false);
    expect(await lab.log(dn2)).toMatch(/DataNode exiting\.\.\.[\s\S]*DataNode NodeID=2 exits\./);
    await waitCluster(dn1, 'the stopped DataNode Unknown', (rows) => rows.find((r) => r.NodeID === '2')?.Status === 'Unknown');

    await startAndWait(dn2);
    const rows = await waitCluster(dn1, 'the restarted DataNode Running', allRunning(3));
    expect(rows.map((r) => r.NodeID)).toEqual(['0', '1', '2']);
    expect(await lab.log(dn2)).toContain('IoTDB-DataNode has successfully restarted and joined the cluster: defaultCluster.');
  });

  it('removes a DataNode by dn_rpc_address:dn_rpc_port; the removed node stops and cannot come back with its old data', async () => {
    const pid = lab.pidOf(dn2)!;
    const r = await lab.sh(dn1, 'remove-datanode.sh', [dn2.endpoint]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain('Submit remove-datanode request successfully');
    await waitCluster(dn1, 'the removed DataNode gone', (rows) => rows.length === 2 && !rows.some((x) => x.NodeID === '2'));
    await waitGone(pid);
    expect(await lab.log(dn2)).toContain('has been removed from the cluster');

    expect((await lab.start(dn2)).code).toBe(0);
    await waitLog(dn2, 'Reject DataNode restart. Because there are no corresponding DataNode(whose nodeId=2) in the cluster.');
  });
});

it('a DataNode started before any ConfigNode, and a ConfigNode whose seed is down, fail after their retries with the seed log line', async () => {
  const [nobody] = await lab.ports(1);
  const lonelyDn = await lab.dataNode('lonely-dn', [`127.0.0.1:${nobody}`]);
  const lonelyCn = await lab.configNode('lonely-cn', undefined, { cn_seed_config_node: `127.0.0.1:${nobody}` });
  // Foreground starts, as `bash ./sbin/start-datanode.sh`: the script's exit status is the node's.
  const [dn, cn] = await Promise.all([lab.sh(lonelyDn, 'start-datanode.sh'), lab.sh(lonelyCn, 'start-confignode.sh')]);

  expect(dn.code).not.toBe(0);
  expect(dn.stdout).toContain('Fail to start server');
  const dnLog = await lab.log(lonelyDn);
  expect(dnLog).toContain(`Cannot connect to the seed ConfigNode 127.0.0.1:${nobody} (dn_seed_config_node): Connection refused`);
  expect(dnLog).toMatch(/ERROR .*Cannot connect to the seed ConfigNode .* after 10 retries/);

  expect(cn.code).not.toBe(0);
  const cnLog = await lab.log(lonelyCn);
  expect(cnLog).toContain(`Cannot connect to the seed ConfigNode 127.0.0.1:${nobody} (cn_seed_config_node): Connection refused`);
  expect(cnLog).toMatch(/ERROR .*The current ConfigNode can't send register request to the ConfigNode-leader after all retries!/);
});

describe('3C3D', () => {
  const cns: SimNode[] = [];
  const dns: SimNode[] = [];

  it('starts in the document\'s order and shows all six Running with the sample\'s NodeIDs', async () => {
    // The sample's ids (ConfigNodes 0, 2, 3; DataNodes 1, 4, 5) come from this registration order.
    const c1 = await lab.configNode('c3-cn1');
    cns.push(c1, await lab.configNode('c3-cn2', c1), await lab.configNode('c3-cn3', c1));
    for (const n of ['c3-dn1', 'c3-dn2', 'c3-dn3']) dns.push(await lab.dataNode(n, [c1]));
    for (const n of [cns[0]!, dns[0]!, cns[1]!]) await startAndWait(n);
    await startAndWait(cns[2]!, 'nohup');
    for (const n of [dns[1]!, dns[2]!]) await startAndWait(n);

    const rows = await waitCluster(dns[0]!, 'six nodes Running', allRunning(6));
    expect(rows.map((r) => `${r.NodeID}:${r.NodeType}`)).toEqual(['0:ConfigNode', '2:ConfigNode', '3:ConfigNode', '1:DataNode', '4:DataNode', '5:DataNode']);
    const details = parseTable((await lab.cli(dns[2]!, 'show cluster details')).stdout);
    expect(details.map((r) => r.InternalPort)).toEqual([...cns.map((c) => String(c.ports.cn_internal_port)), ...dns.map((d) => String(d.ports.dn_internal_port))]);
  });

  it('replicates extension data (for later pipe/data statements) to every ConfigNode through the leader', async () => {
    const at = (n: SimNode) => ({ host: '127.0.0.1', port: n.ports.cn_internal_port! });
    const pipes = [{ name: 'AB', state: 'RUNNING' }];
    const set = await call(at(cns[1]!).host, at(cns[1]!).port, { op: 'setExtension', key: 'pipes', value: pipes }, 5000);
    expect(set.ok).toBe(true);
    for (const n of cns) {
      await waitFor(`pipes on ${n.name}`, async () => {
        const r = await call(at(n).host, at(n).port, { op: 'getExtension', key: 'pipes' }, 5000);
        return JSON.stringify(r.value) === JSON.stringify(pipes);
      });
    }
  });

  it('keeps answering while the Seed-ConfigNode is down; a killed DataNode turns Unknown and rejoins on an upgraded lib/ through the other ConfigNodes', async () => {
    const seed = cns[0]!;
    const via = dns[0]!;
    const moved = dns[2]!;
    // Every query must succeed: a rolling restart may not make the cluster stop answering.
    const failures: string[] = [];
    const strict = async (): Promise<Row[]> => {
      const r = await lab.cli(via, 'show cluster');
      if (r.code !== 0) failures.push(r.stdout);
      return parseTable(r.stdout);
    };
    const status = (rows: Row[], id: string) => rows.find((r) => r.NodeID === id);

    expect((await lab.stop(seed)).code).toBe(0);
    const during = await waitFor('the seed Unknown', async () => {
      const rows = await strict();
      return status(rows, '0')?.Status === 'Unknown' ? rows : undefined;
    });
    expect(during.filter((r) => r.Status === 'Running').length).toBe(5);

    // kill -9 reports nothing: only missed heartbeats can make it Unknown.
    const killed = await lab.sh(moved, 'stop-datanode.sh', ['-f']);
    expect(killed.stdout).toMatch(/Force to stop DataNode, PID: \d+/);
    await waitFor('the killed DataNode Unknown', async () => status(await strict(), '5')?.Status === 'Unknown');

    // Upgrade: swap lib/ and restart; with the seed down it must rejoin through ConfigNodes 2 and 3 from its system dir.
    await rm(join(moved.home, 'lib'), { recursive: true });
    await buildIotdbLib(join(moved.home, 'lib'), '1.3.1');
    await startAndWait(moved);
    await waitFor('the upgraded DataNode Running', async () => {
      const row = status(await strict(), '5');
      return row?.Status === 'Running' && row.Version === '1.3.1';
    });
    expect(parseTable((await lab.cli(moved, 'show version')).stdout)).toEqual([{ Version: '1.3.1', BuildInfo: 'simulated' }]);

    expect((await lab.start(seed)).code).toBe(0);
    await waitLog(seed, 'IoTDB-ConfigNode has successfully restarted and joined the cluster: defaultCluster.');
    await waitFor('all six Running again', async () => allRunning(6)(await strict()));
    expect(failures).toEqual([]);
    const confignodes = parseTable((await lab.cli(via, 'show confignodes')).stdout);
    expect(confignodes.map((r) => r.NodeID)).toEqual(['0', '2', '3']);
    expect(confignodes.filter((r) => r.Role === 'Leader').length).toBe(1);
  });

  it('refuses a DataNode whose system dir belongs to another cluster', async () => {
    const donor = lab.nodes.find((n) => n.name === 'c1-dn1');
    if (!donor) throw new Error('this test reuses the 1C1D cluster\'s DataNode folder: run the whole file');
    const foreign = await lab.dataNode('c3-foreign', [cns[1]!]);
    await cp(join(donor.home, 'data', 'datanode'), join(foreign.home, 'data', 'datanode'), { recursive: true });
    expect((await lab.start(foreign)).code).toBe(0);
    const log = await waitLog(foreign, 'Fail to start server');
    expect(log).toMatch(/ERROR .*Reject DataNode restart\. Because the ClusterId of the current DataNode and the target cluster are inconsistent\. ClusterId of the current Node: [0-9a-f-]+, ClusterId of the target cluster: [0-9a-f-]+\./);
  });

  it('rejects a ConfigNode whose data_replication_factor differs, naming the key and both values', async () => {
    const odd = await lab.configNode('c3-odd', cns[1], { data_replication_factor: '2' });
    expect((await lab.start(odd)).code).toBe(0);
    const log = await waitLog(odd, 'Fail to start ConfigNode');
    expect(log).toMatch(/ERROR .*Reject register, please ensure that the parameter data_replication_factor is consistent with the Seed-ConfigNode\. The current ConfigNode has data_replication_factor=2, the cluster has data_replication_factor=1\./);
  });

  it('removes a ConfigNode by id; it stops and leaves show cluster', async () => {
    const victim = cns[2]!;
    const pid = lab.pidOf(victim)!;
    const r = await lab.sh(cns[0]!, 'remove-confignode.sh', ['3']);
    expect(r.code, r.stdout).toBe(0);
    await waitCluster(dns[0]!, 'ConfigNode 3 gone', (rows) => rows.length === 5 && !rows.some((x) => x.NodeID === '3'));
    await waitGone(pid);
  });

  it('stops answering show cluster while only half of the ConfigNodes are alive, and recovers', async () => {
    // ConfigNodes 0 and 2 remain: losing one leaves no majority, as with a two-member Ratis group.
    expect((await lab.stop(cns[1]!)).code).toBe(0);
    const r = await waitFor('show cluster to fail', async () => {
      const x = await lab.cli(dns[0]!, 'show cluster');
      return x.code !== 0 ? x : undefined;
    });
    expect(r.stdout).toMatch(/^Msg: \d+: Fail to connect to any config node\./);
    await startAndWait(cns[1]!);
    await waitCluster(dns[0]!, 'five nodes Running', allRunning(5));
  });
});

it('start-standalone.sh starts one ConfigNode and one DataNode from one folder; stop-standalone.sh stops both', async () => {
  const [internal] = await lab.ports(1);
  const solo = await lab.addNode('standalone', 'datanode', {
    cn_internal_port: String(internal),
    cn_consensus_port: String((await lab.ports(1))[0]),
    cn_seed_config_node: `127.0.0.1:${internal}`,
    dn_seed_config_node: `127.0.0.1:${internal}`,
  });
  const started = await lab.sh(solo, 'start-standalone.sh');
  expect(started.code, started.stdout).toBe(0);
  expect(started.stdout).toContain('Execute start-standalone.sh finished');
  await waitFor('the standalone DataNode', async () => (await lab.log(solo)).includes('IoTDB DataNode is set up successfully'));
  await waitCluster(solo, '1C1D Running', allRunning(2));
  const cnLog = await readFile(join(solo.home, 'logs', 'log_confignode_all.log'), 'utf8');
  expect(cnLog).toContain('IoTDB ConfigNode is set up successfully');

  const stopped = await lab.sh(solo, 'stop-standalone.sh');
  expect(stopped.code, stopped.stdout).toBe(0);
  expect(stopped.stdout).toMatch(/Stop DataNode, PID: \d+[\s\S]*Stop ConfigNode, PID: \d+/);
});
