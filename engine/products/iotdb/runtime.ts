// What the lifecycle playbooks need to know about running a node: its start
// script, how to find its process, where it logs, how it appears in
// `show cluster details`. Derived from the node's type and properties only.

import { basename } from 'node:path';
import { escapeRegex } from '../paths.js';

type NodeType = 'confignode' | 'datanode';

const MAIN_CLASS: Record<NodeType, string> = {
  confignode: 'org.apache.iotdb.confignode.service.ConfigNode',
  datanode: 'org.apache.iotdb.db.service.DataNode',
};

export interface IotdbRuntimeVars {
  /** Run from the node's home. */
  start_script: string;
  /** Environment for the start script: JAVA_HOME when the topology deploys a JDK. */
  start_env: Record<string, string>;
  /**
   * pgrep -f pattern for this node's process only. IoTDB's java command line
   * holds the install folder (classpath, -DIOTDB_HOME) before the main class,
   * so the pattern tells apart nodes on one machine, even two in one home.
   */
  process_pattern: string;
  log_file: string;
  /** The address and port the start check waits for. */
  endpoint_address: string;
  endpoint_port: number;
  /** How the node appears in `show cluster details`. */
  row_type: 'ConfigNode' | 'DataNode';
  row_address: string;
  row_port: string;
}

export function runtimeVars(type: NodeType, home: string, props: Record<string, string>, endpoint: string, jdkHome: string | undefined): IotdbRuntimeVars {
  const at = endpoint.lastIndexOf(':');
  const prefix = type === 'confignode' ? 'cn' : 'dn';
  return {
    start_script: `sbin/start-${type}.sh`,
    start_env: jdkHome === undefined ? {} : { JAVA_HOME: jdkHome },
    process_pattern: `${escapeRegex(home)}/.*${escapeRegex(MAIN_CLASS[type])}`,
    log_file: `${home}/logs/log_${type}_all.log`,
    endpoint_address: endpoint.slice(0, at),
    endpoint_port: Number(endpoint.slice(at + 1)),
    row_type: type === 'confignode' ? 'ConfigNode' : 'DataNode',
    row_address: props[`${prefix}_internal_address`] ?? '',
    row_port: props[`${prefix}_internal_port`] ?? '',
  };
}

export function jdkTarName(tar: string | null): string | null {
  return tar === null ? null : basename(tar);
}
