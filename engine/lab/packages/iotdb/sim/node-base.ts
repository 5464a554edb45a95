// What ConfigNodes and DataNodes share: the identity file in the system dir,
// the pid file the stop scripts read, signal handling and the start banner.

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Server } from 'node:net';
import type { NodeConfig, VersionInfo } from './config.js';
import type { NodeLog, Role } from './log.js';
import { formatProperties, parseProperties } from './properties.js';
import { closeServer } from './rpc.js';
import { CLUSTER_KEYS, type ClusterParams } from './spec.js';

export { errorMessage } from '../../sim-common/main.js';

export const SIMULATED_NOTICE = 'simulated by runbook: a test double of Apache IoTDB, not the real product';

export function writeFileAtomic(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

export interface Identity {
  nodeId: number;
  clusterName: string;
  clusterId: string;
  params: ClusterParams;
  props: Map<string, string>;
}

export function readIdentity(file: string, idKey: string): Identity | null {
  if (!existsSync(file)) return null;
  const props = parseProperties(readFileSync(file, 'utf8'));
  const id = props.get(idKey);
  if (id === undefined || !/^\d+$/.test(id.trim())) return null;
  const params = {} as ClusterParams;
  for (const k of CLUSTER_KEYS) params[k] = props.get(k)?.trim() ?? '';
  return {
    nodeId: Number(id.trim()),
    clusterName: props.get('cluster_name')?.trim() ?? '',
    clusterId: props.get('cluster_id')?.trim() ?? '',
    params,
    props,
  };
}

export function writeIdentity(file: string, entries: Array<[string, string]>): void {
  writeFileAtomic(
    file,
    formatProperties(entries, [
      'Written by the simulated IoTDB node (runbook test double) on first start.',
      'It ties this directory to one node of one cluster; delete the data dir to join as a new node.',
    ]),
  );
}

/** Compare what the system dir recorded at first start with iotdb-system.properties now. */
export function frozenKeyChange(identity: Identity, cfg: NodeConfig): { key: string; recorded: string; now: string } | null {
  const now = cfg.clusterParams();
  for (const k of CLUSTER_KEYS) {
    const recorded = k === 'cluster_name' ? identity.clusterName : identity.params[k];
    if (recorded !== '' && recorded !== now[k]) return { key: k, recorded, now: now[k] };
  }
  return null;
}

export function defaultPidFile(home: string, role: Role): string {
  return join(home, 'data', `iotdb-${role}.pid`);
}

export function writePidFile(file: string, pid = process.pid): void {
  writeFileAtomic(file, `${pid}\n`);
}

/** Remove the pid file only if it still names this process (a newer start may own it). */
export function removePidFileIfOurs(file: string): void {
  try {
    if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file, { force: true });
  } catch {
    // already gone
  }
}

export function logBanner(log: NodeLog, role: Role, cfg: NodeConfig, version: VersionInfo): void {
  const what = role === 'confignode' ? 'IoTDB-ConfigNode' : 'IoTDB-DataNode';
  // ConfigNode and DataNode env files use different variables, as in IoTDB 1.3.
  const optsVar = role === 'confignode' ? 'CONFIGNODE_JMX_OPTS' : 'IOTDB_JMX_OPTS';
  log.info(`${what} ${version.version} (Build: ${version.buildInfo}) is starting — ${SIMULATED_NOTICE}`);
  log.info(`${what} home: ${cfg.home}, configuration: ${cfg.propsFile}, pid: ${process.pid}`);
  // A real node hands these to the JVM; the simulator records them so tests can check what conf/${role}-env.sh produced.
  const env = process.env;
  log.info(
    `${what} environment (conf/${role}-env.sh): MAX_HEAP_SIZE=${env.MAX_HEAP_SIZE ?? ''}, ` +
      `ON_HEAP_MEMORY=${env.ON_HEAP_MEMORY ?? ''}, OFF_HEAP_MEMORY=${env.OFF_HEAP_MEMORY ?? ''}`,
  );
  log.info(`${what} JVM options (${optsVar}): ${(env[optsVar] ?? '').trim()}${env.IOTDB_JVM_OPTS?.trim() ? ` ${env.IOTDB_JVM_OPTS.trim()}` : ''}`);
}

export async function closeAll(servers: Server[], timeoutMs: number): Promise<void> {
  await Promise.race([
    Promise.all(servers.map((s) => closeServer(s))),
    new Promise((resolve) => setTimeout(resolve, timeoutMs).unref()),
  ]);
}

export function onTerminate(handler: (signal: string) => void): void {
  // SIGHUP stays at its default: a handler would undo `nohup`, which the
  // document's background start (nohup … &) relies on.
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => handler(sig));
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
