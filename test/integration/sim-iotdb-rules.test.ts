// The simulated IoTDB's rules and formats, checked without starting any
// process: the properties parser, the membership rules the ConfigNode-leader
// applies, the CLI's table, and the statement table. (Pure functions: this
// file would sit in test/unit if the tiers were split by owner.)

import { describe, expect, it } from 'vitest';
import { renderTable } from '../../engine/lab/packages/iotdb/sim/cli.js';
import { splitStatements } from '../../engine/lab/packages/sim-common/statements.js';
import { formatProperties, parseProperties } from '../../engine/lab/packages/iotdb/sim/properties.js';
import { CLUSTER_KEYS, IOT_CONSENSUS, RATIS, renderSystemProperties, SPECS, type ClusterParams } from '../../engine/lab/packages/iotdb/sim/spec.js';
import {
  newClusterState,
  registerNode,
  removeNode,
  restartNode,
  type ClusterState,
  type NodeInfo,
  type NodeStatus,
} from '../../engine/lab/packages/iotdb/sim/state.js';
import { executeStatement, STATEMENTS, type ClusterView, type StatementContext } from '../../engine/lab/packages/iotdb/sim/statements.js';

describe('properties parser (java.util.Properties syntax)', () => {
  it('reads comments, separators, continuations and escapes as Java does', () => {
    const text = [
      '# a comment ending in a backslash does not continue \\',
      'a = b',
      '! bang comment',
      'key\\ with\\ space : value with \\',
      '    continuation',
      'uni=\\u0041\\t!',
      '  spaced   value1',
      'empty=',
      'colon:x:y',
      'even=ends in two backslashes \\\\',
      'next=line',
      'dup=1',
      'dup=2',
    ].join('\n');
    expect(Object.fromEntries(parseProperties(text))).toEqual({
      a: 'b',
      'key with space': 'value with continuation',
      uni: 'A\t!',
      spaced: 'value1',
      empty: '',
      colon: 'x:y',
      even: 'ends in two backslashes \\',
      next: 'line',
      dup: '2',
    });
  });

  it('writes what it reads back unchanged, hostile keys and values included', () => {
    const entries: Array<[string, string]> = [['k =:#', ' leading space, \\ backslash\nnewline\t#'], ['#key', '!value'], ['plain', 'a=b:c']];
    expect([...parseProperties(formatProperties(entries, ['header']))]).toEqual(entries);
  });

  it('ships every documented key with the documented default', () => {
    const shipped = parseProperties(renderSystemProperties());
    const doc: Record<string, string> = {
      cluster_name: 'defaultCluster',
      config_node_consensus_protocol_class: RATIS,
      schema_replication_factor: '1',
      schema_region_consensus_protocol_class: RATIS,
      data_replication_factor: '1',
      data_region_consensus_protocol_class: IOT_CONSENSUS,
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
    };
    for (const [k, v] of Object.entries(doc)) {
      expect(shipped.get(k), k).toBe(v);
      expect(SPECS.get(k)?.default, k).toBe(v);
    }
    // Keys the document does not list stay commented out, as in IoTDB's file.
    expect(shipped.has('heartbeat_interval_in_ms')).toBe(false);
  });
});

const PARAMS: ClusterParams = {
  cluster_name: 'defaultCluster',
  config_node_consensus_protocol_class: RATIS,
  schema_replication_factor: '1',
  schema_region_consensus_protocol_class: RATIS,
  data_replication_factor: '1',
  data_region_consensus_protocol_class: IOT_CONSENSUS,
};

function node(type: NodeInfo['type'], host: string, id = -1): NodeInfo {
  const dn = type === 'DataNode';
  return {
    id,
    type,
    internalAddress: host,
    internalPort: dn ? 10730 : 10710,
    consensusPort: dn ? 0 : 10720,
    rpcAddress: dn ? host : '',
    rpcPort: dn ? 6667 : 0,
    mppPort: dn ? 10740 : 0,
    dataConsensusPort: dn ? 10750 : 0,
    schemaConsensusPort: dn ? 10760 : 0,
    version: '1.3.0',
    buildInfo: 'simulated',
    removing: false,
    removingSince: 0,
  };
}

function accept(s: ClusterState, n: NodeInfo, params = PARAMS): ClusterState {
  const r = registerNode(s, { clusterName: params.cluster_name, params, node: n });
  if (!r.ok) throw new Error(r.message);
  return r.state;
}

/** The document's 3C3D sample, registered in the order that yields its NodeIDs. */
function docCluster(): ClusterState {
  let s = newClusterState(node('ConfigNode', 'iotdb-1', 0), PARAMS);
  s = accept(s, node('DataNode', 'iotdb-4'));
  s = accept(s, node('ConfigNode', 'iotdb-2'));
  s = accept(s, node('ConfigNode', 'iotdb-3'));
  s = accept(s, node('DataNode', 'iotdb-5'));
  return accept(s, node('DataNode', 'iotdb-6'));
}

const running = (): NodeStatus => 'Running';

describe('membership rules (ConfigNode-leader)', () => {
  it('gives ConfigNodes and DataNodes one id sequence, as in the document sample', () => {
    expect(docCluster().nodes.map((n) => `${n.id}:${n.internalAddress}`)).toEqual(['0:iotdb-1', '1:iotdb-4', '2:iotdb-2', '3:iotdb-3', '4:iotdb-5', '5:iotdb-6']);
  });

  it('rejects a node of another cluster_name, naming both names', () => {
    const r = registerNode(docCluster(), { clusterName: 'other', params: { ...PARAMS, cluster_name: 'other' }, node: node('DataNode', 'x') });
    expect(r).toMatchObject({ ok: false });
    expect(!r.ok && r.message).toContain('ClusterName of the current Node: other, ClusterName of the target cluster: defaultCluster.');
  });

  it.each(CLUSTER_KEYS.filter((k) => k !== 'cluster_name'))('rejects a node whose %s differs, naming the key and both values', (key) => {
    const theirs = { ...PARAMS, [key]: key.endsWith('factor') ? '3' : 'org.example.OtherConsensus' };
    const r = registerNode(docCluster(), { clusterName: PARAMS.cluster_name, params: theirs, node: node('ConfigNode', 'x') });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toBe(
      `Reject register, please ensure that the parameter ${key} is consistent with the Seed-ConfigNode. The current ConfigNode has ${key}=${theirs[key]}, the cluster has ${key}=${PARAMS[key]}.`,
    );
  });

  it('rejects a node whose ip:port is already registered', () => {
    const r = registerNode(docCluster(), { clusterName: PARAMS.cluster_name, params: PARAMS, node: node('DataNode', 'iotdb-5') });
    expect(!r.ok && r.message).toMatch(/^Reject DataNode registration\. Because the following ip:port: \[iotdb-5:6667, iotdb-5:10730/);
  });

  it('accepts a restart with the same id and endpoints and records the new version', () => {
    const s = docCluster();
    const r = restartNode(s, { clusterName: s.clusterName, clusterId: s.clusterId, params: PARAMS, node: { ...node('DataNode', 'iotdb-5', 4), version: '1.3.1' } }, () => false);
    expect(r.ok && r.state.nodes.find((n) => n.id === 4)?.version).toBe('1.3.1');
  });

  it('rejects restarts of removed, still-alive, moved or foreign nodes', () => {
    const s = docCluster();
    const base = { clusterName: s.clusterName, clusterId: s.clusterId, params: PARAMS };
    const msg = (r: ReturnType<typeof restartNode>): string => (r.ok ? '' : r.message);
    expect(msg(restartNode(s, { ...base, node: node('DataNode', 'iotdb-9', 9) }, () => false))).toContain('there are no corresponding DataNode(whose nodeId=9)');
    expect(msg(restartNode(s, { ...base, node: node('DataNode', 'iotdb-5', 4) }, () => true))).toContain('there already exists a alive Node with the same nodeId=4');
    expect(msg(restartNode(s, { ...base, node: { ...node('DataNode', 'iotdb-5', 4), mppPort: 1 } }, () => false))).toContain('some TEndPoints of this DataNode have been changed');
    expect(msg(restartNode(s, { ...base, clusterId: 'elsewhere', node: node('DataNode', 'iotdb-5', 4) }, () => false))).toContain(
      `ClusterId of the current Node: elsewhere, ClusterId of the target cluster: ${s.clusterId}.`,
    );
  });

  it('removes DataNodes by id or rpc endpoint only while more than max(replication factors) stay available', () => {
    const s = docCluster();
    expect(removeNode(s, 'DataNode', 'iotdb-5:6667', running, 1)).toMatchObject({ ok: true, reply: { nodeId: 4 } });
    expect(removeNode(s, 'DataNode', '5', running, 1)).toMatchObject({ ok: true, reply: { nodeId: 5 } });
    const rf3 = { ...s, params: { ...s.params, data_replication_factor: '3' } };
    expect(removeNode(rf3, 'DataNode', '5', running, 1)).toMatchObject({ ok: false, code: 'REMOVE_DATANODE_ERROR' });
    // A down DataNode holds the only copy of its data when the replication factor is 1.
    expect(removeNode(s, 'DataNode', '5', (id) => (id === 5 ? 'Unknown' : 'Running'), 1)).toMatchObject({ ok: false });
    expect(removeNode(s, 'DataNode', '9', running, 1)).toMatchObject({ ok: false, code: 'NODE_NOT_FOUND' });
    const removing = removeNode(s, 'DataNode', '5', running, 1);
    expect(removing.ok && removing.state.nodes.find((n) => n.id === 5)).toMatchObject({ removing: true, removingSince: 1 });
  });

  it('removes ConfigNodes by id or internal endpoint but never the last one', () => {
    const s = docCluster();
    expect(removeNode(s, 'ConfigNode', 'iotdb-3:10710', running, 1)).toMatchObject({ ok: true, reply: { nodeId: 3 } });
    const single = newClusterState(node('ConfigNode', 'solo', 0), PARAMS);
    expect(removeNode(single, 'ConfigNode', '0', running, 1)).toMatchObject({
      ok: false,
      message: 'Remove ConfigNode failed because there is only one ConfigNode in current Cluster.',
    });
  });
});

describe('CLI output', () => {
  it('draws the document sample table (cells right-aligned)', () => {
    const headers = ['NodeID', 'NodeType', 'Status', 'InternalAddress', 'InternalPort', 'ConfigConsensusPort', 'RpcAddress', 'RpcPort', 'MppPort', 'SchemaConsensusPort', 'DataConsensusPort'];
    const lines = renderTable(headers, [
      ['0', 'ConfigNode', 'Running', 'iotdb-1', '10710', '10720', '', '', '', '', ''],
      ['1', 'DataNode', 'Running', 'iotdb-4', '10730', '', 'iotdb-4', '6667', '10740', '10750', '10760'],
    ]);
    const rule = '+------+----------+-------+---------------+------------+-------------------+----------+-------+-------+-------------------+-----------------+';
    expect(lines).toEqual([
      rule,
      '|NodeID|  NodeType| Status|InternalAddress|InternalPort|ConfigConsensusPort|RpcAddress|RpcPort|MppPort|SchemaConsensusPort|DataConsensusPort|',
      rule,
      '|     0|ConfigNode|Running|        iotdb-1|       10710|              10720|          |       |       |                   |                 |',
      '|     1|  DataNode|Running|        iotdb-4|       10730|                   |   iotdb-4|   6667|  10740|              10750|            10760|',
      rule,
    ]);
  });

  it('splits -e statements on semicolons outside quotes', () => {
    expect(splitStatements("show cluster; create pipe a with sink ('x'='a;b');;show version")).toEqual([
      'show cluster',
      "create pipe a with sink ('x'='a;b')",
      'show version',
    ]);
  });
});

describe('statement table', () => {
  const s = docCluster();
  const view: ClusterView = {
    leaderId: 0,
    clusterName: s.clusterName,
    clusterId: s.clusterId,
    params: s.params,
    nodes: s.nodes.map((n) => ({ ...n, status: n.id === 5 ? 'Unknown' : 'Running' })),
  };
  const calls: string[] = [];
  const ctx: StatementContext = {
    user: 'root',
    nodeId: 1,
    version: { version: '1.3.0', buildInfo: 'simulated' },
    cluster: async () => view,
    reloadLocal: () => void calls.push('local'),
    reloadCluster: async () => void calls.push('cluster'),
    askConfigNode: async () => ({ ok: true }),
  };

  it('lists ConfigNodes first, then DataNodes, each by NodeID', async () => {
    const r = await executeStatement(ctx, '  SHOW   cluster ; ');
    expect(r.kind === 'table' && r.rows.map((x) => `${x[0]}:${x[2]}`)).toEqual(['0:Running', '2:Running', '3:Running', '1:Running', '4:Running', '5:Unknown']);
  });

  it('reloads configuration on this node by default, or on the whole cluster', async () => {
    expect(await executeStatement(ctx, 'load configuration')).toEqual({ kind: 'ok' });
    expect(await executeStatement(ctx, 'LOAD CONFIGURATION ON CLUSTER')).toEqual({ kind: 'ok' });
    expect(calls).toEqual(['local', 'cluster']);
  });

  it('answers anything else with an IoTDB parse error (code 700)', async () => {
    expect(await executeStatement(ctx, 'frobnicate the cluster')).toMatchObject({ kind: 'error', code: 700 });
    // The table is the extension point that pipes and data statements were added to.
    expect(STATEMENTS.map((h) => h.syntax)).toContain('SHOW CLUSTER DETAILS');
  });
});
