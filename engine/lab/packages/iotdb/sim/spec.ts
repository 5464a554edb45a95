// The iotdb-system.properties keys the simulator knows, with the defaults and
// meanings from the vendor's deployment document (manual 3C3D section). One
// table feeds both the generated conf file and the nodes that read it, so the
// file's comments cannot drift from what the nodes enforce.
//
// effectiveMode follows IoTDB's own annotation: first_start keys are frozen
// once the node (or cluster) has started, restart keys need a restart, and
// hot_reload keys are re-read by `load configuration`.

export type EffectiveMode = 'first_start' | 'restart' | 'hot_reload';

export interface PropertySpec {
  key: string;
  default: string;
  mode: EffectiveMode;
  type: 'string' | 'int' | 'boolean';
  description: string[];
  /** Written uncommented in the shipped file (the keys the document tells operators to set). */
  active: boolean;
}

export interface PropertySection {
  title: string;
  keys: PropertySpec[];
}

const p = (
  key: string,
  def: string,
  mode: EffectiveMode,
  type: PropertySpec['type'],
  active: boolean,
  ...description: string[]
): PropertySpec => ({ key, default: def, mode, type, active, description });

export const RATIS = 'org.apache.iotdb.consensus.ratis.RatisConsensus';
export const IOT_CONSENSUS = 'org.apache.iotdb.consensus.iot.IoTConsensus';

export const SECTIONS: PropertySection[] = [
  {
    title: 'Cluster Configuration',
    keys: [
      p('cluster_name', 'defaultCluster', 'first_start', 'string', true,
        'Name of the cluster this node wants to join. Every node of a cluster must use the same name.'),
    ],
  },
  {
    title: 'Seed ConfigNode',
    keys: [
      p('cn_seed_config_node', '127.0.0.1:10710', 'first_start', 'string', true,
        'For the Seed-ConfigNode (the first ConfigNode started), its own cn_internal_address:cn_internal_port.',
        'For every other ConfigNode, the cn_internal_address:cn_internal_port of a running ConfigNode.',
        'Only one address may be configured.'),
      p('dn_seed_config_node', '127.0.0.1:10710', 'first_start', 'string', true,
        'cn_internal_address:cn_internal_port of a running ConfigNode; several may be given, separated by ",".'),
    ],
  },
  {
    title: 'Node RPC Configuration',
    keys: [
      p('cn_internal_address', '127.0.0.1', 'first_start', 'string', true,
        'Address the ConfigNode uses for communication inside the cluster (IP address or hostname).'),
      p('cn_internal_port', '10710', 'first_start', 'int', true,
        'Port the ConfigNode uses for communication inside the cluster.'),
      p('cn_consensus_port', '10720', 'first_start', 'int', true,
        'Port of the ConfigNode replica group consensus protocol.'),
      p('dn_rpc_address', '127.0.0.1', 'restart', 'string', true,
        'Address of the client RPC service.'),
      p('dn_rpc_port', '6667', 'restart', 'int', true,
        'Port of the client RPC service.'),
      p('dn_internal_address', '127.0.0.1', 'first_start', 'string', true,
        'Address the DataNode uses to receive control traffic inside the cluster.'),
      p('dn_internal_port', '10730', 'first_start', 'int', true,
        'Port the DataNode uses to receive control traffic inside the cluster.'),
      p('dn_mpp_data_exchange_port', '10740', 'first_start', 'int', true,
        'Port the DataNode uses to receive data traffic inside the cluster.'),
      p('dn_data_region_consensus_port', '10750', 'first_start', 'int', true,
        'Port of the consensus protocol between data region replicas.'),
      p('dn_schema_region_consensus_port', '10760', 'first_start', 'int', true,
        'Port of the consensus protocol between schema region replicas.'),
    ],
  },
  {
    title: 'Replication and Consensus',
    keys: [
      p('config_node_consensus_protocol_class', RATIS, 'first_start', 'string', true,
        'Consensus protocol of the ConfigNodes.'),
      p('schema_replication_factor', '1', 'first_start', 'int', true,
        'Number of schema replicas; the cluster needs at least this many DataNodes.'),
      p('schema_region_consensus_protocol_class', RATIS, 'first_start', 'string', true,
        'Consensus protocol of schema replica groups.'),
      p('data_replication_factor', '1', 'first_start', 'int', true,
        'Number of data replicas; the cluster needs at least this many DataNodes.'),
      p('data_region_consensus_protocol_class', IOT_CONSENSUS, 'first_start', 'string', true,
        'Consensus protocol of data replica groups. Note: RatisConsensus does not support several data directories.'),
    ],
  },
  {
    title: 'Directory Configuration',
    keys: [
      p('cn_system_dir', 'data/confignode/system', 'first_start', 'string', false,
        'ConfigNode system directory; a relative path is relative to the IoTDB home folder.'),
      p('cn_consensus_dir', 'data/confignode/consensus', 'first_start', 'string', false,
        'ConfigNode consensus directory.'),
      p('dn_system_dir', 'data/datanode/system', 'first_start', 'string', false,
        'DataNode system directory.'),
      p('dn_data_dirs', 'data/datanode/data', 'first_start', 'string', false,
        'DataNode data directories, separated by ",".'),
      p('dn_consensus_dir', 'data/datanode/consensus', 'first_start', 'string', false,
        'DataNode consensus directory.'),
      p('dn_wal_dirs', 'data/datanode/wal', 'first_start', 'string', false,
        'DataNode write-ahead-log directories, separated by ",".'),
    ],
  },
  {
    title: 'Heartbeat',
    keys: [
      p('heartbeat_interval_in_ms', '1000', 'restart', 'int', false,
        'Interval of the heartbeats the ConfigNodes send to every node. A node that misses three in a row is shown as Unknown.',
        'The simulator also honours the IOTDB_SIM_HEARTBEAT_MS environment variable, which wins over this key.'),
    ],
  },
  {
    title: 'Query and Compaction',
    keys: [
      p('query_timeout_threshold', '60000', 'hot_reload', 'int', false, 'Query timeout in ms.'),
      p('slow_query_threshold', '10000', 'hot_reload', 'int', false, 'Queries slower than this (ms) are logged as slow queries.'),
      p('enable_seq_space_compaction', 'true', 'hot_reload', 'boolean', false, 'Compact sequence files.'),
      p('enable_unseq_space_compaction', 'true', 'hot_reload', 'boolean', false, 'Compact unsequence files.'),
      p('enable_cross_space_compaction', 'true', 'hot_reload', 'boolean', false, 'Compact across sequence and unsequence files.'),
      p('compaction_throughput_mb_per_sec', '16', 'hot_reload', 'int', false, 'Compaction write throughput limit in MB/s.'),
      p('timestamp_precision', 'ms', 'first_start', 'string', false, 'Timestamp precision: ms, us or ns.'),
    ],
  },
  {
    title: 'Metric Configuration',
    keys: [
      p('cn_metric_reporter_list', '', 'restart', 'string', false, 'ConfigNode metric reporters, e.g. PROMETHEUS.'),
      p('cn_metric_prometheus_reporter_port', '9091', 'restart', 'int', false, 'ConfigNode Prometheus reporter port.'),
      p('dn_metric_reporter_list', '', 'restart', 'string', false, 'DataNode metric reporters, e.g. PROMETHEUS.'),
      p('dn_metric_prometheus_reporter_port', '9092', 'restart', 'int', false, 'DataNode Prometheus reporter port.'),
    ],
  },
];

export const SPECS: ReadonlyMap<string, PropertySpec> = new Map(
  SECTIONS.flatMap((s) => s.keys.map((k) => [k.key, k] as const)),
);

/**
 * Keys that must be identical on every node of a cluster and can never change
 * after the cluster started (the document's 通用配置 table).
 */
export const CLUSTER_KEYS = [
  'cluster_name',
  'config_node_consensus_protocol_class',
  'schema_replication_factor',
  'schema_region_consensus_protocol_class',
  'data_replication_factor',
  'data_region_consensus_protocol_class',
] as const;
export type ClusterKey = (typeof CLUSTER_KEYS)[number];
export type ClusterParams = Record<ClusterKey, string>;

/** The shipped conf/iotdb-system.properties, in IoTDB's own comment style. */
export function renderSystemProperties(): string {
  const out: string[] = [
    '#',
    '# Licensed to the Apache Software Foundation (ASF) under one or more contributor',
    '# license agreements; see the NOTICE file. Apache License, Version 2.0.',
    '#',
    '# SIMULATED PACKAGE: this file belongs to a test double of Apache IoTDB 1.3.0',
    '# built by runbook. Keys, defaults and rules follow the vendor document; the',
    '# programs in lib/ are not Apache IoTDB.',
    '#',
    '',
  ];
  for (const section of SECTIONS) {
    out.push('####################', `### ${section.title}`, '####################', '');
    for (const spec of section.keys) {
      for (const d of spec.description) out.push(`# ${d}`);
      out.push(`# effectiveMode: ${spec.mode}`, `# Datatype: ${spec.type}`);
      out.push(`${spec.active ? '' : '# '}${spec.key}=${spec.default}`, '');
    }
  }
  return out.join('\n');
}
