// The short-lived commands behind the sbin scripts: starting a node in the
// background, stopping it, removing a node from the cluster, and waiting for a
// ConfigNode to serve (start-standalone.sh).

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { NodeConfig } from './config.js';
import type { Role } from './log.js';
import { delay, errorMessage, writePidFile } from './node-base.js';
import { describeOccupied, occupiedPorts, type PortSpec } from './ports.js';
import { call, CallError, formatEndpoint, parseEndpoint, type Endpoint } from './rpc.js';
import { parseProperties } from './properties.js';
import type { NodeType } from './state.js';

export const PROGRAM = 'iotdb-sim/main.js';

/** IoTDB's Java main classes, put on the simulated node's command line for ps-based checks. */
export const MAIN_CLASS: Record<Role, string> = {
  confignode: 'org.apache.iotdb.confignode.service.ConfigNode',
  datanode: 'org.apache.iotdb.db.service.DataNode',
};

const title = (role: Role): string => (role === 'confignode' ? 'ConfigNode' : 'DataNode');

function out(line: string): void {
  process.stdout.write(line + '\n');
}

export function portsFor(role: Role, cfg: NodeConfig): PortSpec[] {
  if (role === 'confignode') {
    const cn = cfg.configNode();
    return [
      { key: 'cn_internal_port', host: cn.internalAddress, port: cn.internalPort },
      { key: 'cn_consensus_port', host: cn.internalAddress, port: cn.consensusPort },
    ];
  }
  const dn = cfg.dataNode();
  return [
    { key: 'dn_rpc_port', host: dn.rpcAddress, port: dn.rpcPort },
    { key: 'dn_internal_port', host: dn.internalAddress, port: dn.internalPort },
    { key: 'dn_mpp_data_exchange_port', host: dn.internalAddress, port: dn.mppPort },
    { key: 'dn_data_region_consensus_port', host: dn.internalAddress, port: dn.dataConsensusPort },
    { key: 'dn_schema_region_consensus_port', host: dn.internalAddress, port: dn.schemaConsensusPort },
  ];
}

/**
 * `start-*.sh -d`: check the ports the way IoTDB's script does, then start
 * the node detached and return at once; whether it joins is in its log.
 */
export async function startDaemon(role: Role, home: string, confDir: string, pidFile: string, mainPath: string): Promise<number> {
  let cfg: NodeConfig;
  try {
    cfg = new NodeConfig(home, confDir);
  } catch (e) {
    out(errorMessage(e));
    return 1;
  }
  out('Checking whether the ports are already occupied...');
  let occupied;
  try {
    occupied = await occupiedPorts(portsFor(role, cfg));
  } catch (e) {
    out(errorMessage(e));
    return 1;
  }
  if (occupied.length > 0) {
    for (const o of occupied) out(describeOccupied(o));
    out('Exit because there are occupied ports.');
    return 1;
  }
  const args = [mainPath, role, '--home', home, '--conf', confDir, '--pidfile', pidFile, '--main-class', MAIN_CLASS[role], '--daemon-child'];
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: 'ignore',
    env: process.env,
    // A daemon must not keep the caller's working directory (often a temp dir) busy.
    cwd: home,
  });
  if (child.pid === undefined) {
    out(`Failed to start the ${title(role)} process.`);
    return 1;
  }
  // The stop script must find the node even if it is asked before the node writes the file itself.
  writePidFile(pidFile, child.pid);
  child.unref();
  out(`${title(role)} is starting in the background, PID: ${child.pid}. See logs/log_${role}_all.log for its progress.`);
  return 0;
}

function processArgs(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // A zombie has exited; only its parent has not collected it yet.
    if (/\)\s+Z\s/.test(stat)) return null;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return null;
  }
}

function canonical(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/** True when `pid` is this home's simulated node of this role. */
function isNodeProcess(pid: number, role: Role, home: string): boolean {
  const args = processArgs(pid);
  if (!args) return false;
  const program = args.findIndex((a) => a.endsWith(PROGRAM));
  if (program < 0 || args[program + 1] !== role) return false;
  const h = args.indexOf('--home');
  return h >= 0 && args[h + 1] !== undefined && canonical(args[h + 1]!) === canonical(home);
}

export function findNodePid(role: Role, home: string, pidFile: string): number | null {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && isNodeProcess(pid, role, home)) return pid;
  } catch {
    // no pid file: look for the process
  }
  for (const d of readdirSync('/proc')) {
    if (/^\d+$/.test(d) && Number(d) !== process.pid && isNodeProcess(Number(d), role, home)) return Number(d);
  }
  return null;
}

/**
 * `stop-*.sh [-f]`: TERM (or KILL with -f) the node, then wait for it to be
 * gone so a following start does not race the old process for its ports.
 */
export async function stopNode(role: Role, home: string, pidFile: string, force: boolean): Promise<number> {
  const pid = findNodePid(role, home, pidFile);
  if (pid === null) {
    out(`No ${title(role)} to stop`);
    return 1;
  }
  try {
    process.kill(pid, force ? 'SIGKILL' : 'SIGTERM');
  } catch (e) {
    out(`Cannot stop ${title(role)}, PID: ${pid}: ${errorMessage(e)}`);
    return 1;
  }
  out(`${force ? 'Force to stop' : 'Stop'} ${title(role)}, PID: ${pid}`);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (processArgs(pid) === null) return 0;
    await delay(50);
  }
  out(`${title(role)} (PID: ${pid}) is still running 30s after SIGTERM; use -f to force.`);
  return 1;
}

function configNodesFromConf(type: NodeType, cfg: NodeConfig): Endpoint[] {
  const list: Endpoint[] = [];
  if (type === 'ConfigNode') {
    const cn = cfg.configNode();
    list.push({ host: cn.internalAddress, port: cn.internalPort }, cn.seed);
    const stateFile = join(cn.systemDir, 'cluster-state.json');
    if (existsSync(stateFile)) {
      try {
        const s = JSON.parse(readFileSync(stateFile, 'utf8')) as { nodes?: Array<{ type: string; internalAddress: string; internalPort: number }> };
        for (const n of s.nodes ?? []) if (n.type === 'ConfigNode') list.push({ host: n.internalAddress, port: n.internalPort });
      } catch {
        // fall back to the conf
      }
    }
  } else {
    const dn = cfg.dataNode();
    const sys = join(dn.systemDir, 'system.properties');
    if (existsSync(sys)) {
      const known = parseProperties(readFileSync(sys, 'utf8')).get('config_node_list') ?? '';
      for (const e of known.split(',')) {
        const ep = parseEndpoint(e);
        if (ep) list.push(ep);
      }
    }
    list.push(...dn.seeds);
  }
  const unique = new Map<string, Endpoint>();
  for (const e of list) if (!unique.has(formatEndpoint(e))) unique.set(formatEndpoint(e), e);
  return [...unique.values()];
}

/** `remove-confignode.sh` / `remove-datanode.sh <id | address:port>`. */
export async function removeClusterNode(type: NodeType, home: string, confDir: string, args: string[]): Promise<number> {
  const script = type === 'ConfigNode' ? 'remove-confignode.sh' : 'remove-datanode.sh';
  const shape = type === 'ConfigNode' ? '<confignode_id | cn_internal_address:cn_internal_port>' : '<datanode_id | dn_rpc_address:dn_rpc_port>';
  const target = args[0];
  if (args.length !== 1 || target === undefined || !(/^\d+$/.test(target) || parseEndpoint(target) !== null)) {
    out(`Usage: ${script} ${shape}`);
    return 1;
  }
  let endpoints: Endpoint[];
  try {
    endpoints = configNodesFromConf(type, new NodeConfig(home, confDir));
  } catch (e) {
    out(errorMessage(e));
    return 1;
  }
  out(`Starting to remove ${type} ${target}`);
  const reasons: string[] = [];
  for (const ep of endpoints) {
    try {
      const resp = await call(ep.host, ep.port, { op: 'removeNode', type, target }, 15_000);
      if (resp.ok === true) {
        if (type === 'DataNode') {
          out(
            'Submit remove-datanode request successfully, but the process may fail. more details are shown in the logs of confignode-leader and removed-datanode, ' +
              'and after the process of removing datanode ends successfully, you are supposed to delete directory and data of the removed-datanode manually',
          );
        } else {
          out(
            `Submit remove-confignode request successfully: ConfigNode NodeID=${String(resp.nodeId)} will leave the cluster and stop. ` +
              'More details are shown in the logs of the confignode-leader and the removed confignode; delete its directory and data manually afterwards.',
          );
        }
        return 0;
      }
      if (resp.code === 'NOT_READY' || resp.code === 'NOT_LEADER') {
        reasons.push(`${formatEndpoint(ep)}: ${String(resp.message ?? resp.code)}`);
        continue;
      }
      out(String(resp.message ?? resp.code));
      return 1;
    } catch (e) {
      reasons.push(`${formatEndpoint(ep)}: ${e instanceof CallError ? e.message : errorMessage(e)}`);
    }
  }
  out(`Remove ${type} failed: cannot reach a ConfigNode-leader (${reasons.join('; ')}).`);
  return 1;
}

/** Poll this home's ConfigNode until it serves; start-standalone.sh starts the DataNode after it. */
export async function waitConfigNodeReady(home: string, confDir: string, timeoutMs: number): Promise<number> {
  const cn = new NodeConfig(home, confDir).configNode();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const r = await call(cn.internalAddress, cn.internalPort, { op: 'status' }, 1000);
      if (r.ready === true) return 0;
    } catch {
      // not listening yet
    }
    await delay(100);
  }
  out(`The ConfigNode at ${cn.internalAddress}:${cn.internalPort} did not become ready within ${Math.round(timeoutMs / 1000)}s; see logs/log_confignode_all.log.`);
  return 1;
}
