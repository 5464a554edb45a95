// The cluster's membership, as the ConfigNodes keep it (IoTDB keeps it in the
// ConfigNode Ratis group; the simulator replicates this object to every
// ConfigNode and persists it in each one's cn_system_dir).
//
// The functions here are pure: they take a state and a request and return the
// next state or a rejection worded like IoTDB's ClusterNodeStartUtils, so the
// rules can be read in one place.

import { createHash, randomUUID } from 'node:crypto';
import type { Json, Message } from './rpc.js';
import { CLUSTER_KEYS, type ClusterKey, type ClusterParams } from './spec.js';

export type NodeType = 'ConfigNode' | 'DataNode';
export type NodeStatus = 'Running' | 'Unknown' | 'Removing' | 'ReadOnly';

export interface NodeInfo {
  id: number;
  type: NodeType;
  internalAddress: string;
  internalPort: number;
  /** ConfigNode only (cn_consensus_port); 0 for DataNodes. */
  consensusPort: number;
  /** DataNode only; '' / 0 for ConfigNodes. */
  rpcAddress: string;
  rpcPort: number;
  mppPort: number;
  dataConsensusPort: number;
  schemaConsensusPort: number;
  version: string;
  buildInfo: string;
  removing: boolean;
  /** When the removal was accepted (ms since epoch); the leader finishes it one heartbeat later. */
  removingSince: number;
}

export interface ClusterState {
  /** Bumped by every change; the higher version wins when ConfigNodes compare notes. */
  version: number;
  leaderId: number;
  clusterName: string;
  clusterId: string;
  params: ClusterParams;
  nextNodeId: number;
  nodes: NodeInfo[];
  /** user -> sha256(password) */
  users: Record<string, string>;
  /** Replicated storage for later features (databases, pipes), keyed by feature. */
  extensions: Record<string, Json>;
}

export function hashPassword(password: string): string {
  return createHash('sha256').update(password).digest('hex');
}

export function newClusterState(seed: NodeInfo, params: ClusterParams): ClusterState {
  return {
    version: 1,
    leaderId: seed.id,
    clusterName: params.cluster_name,
    clusterId: randomUUID(),
    params,
    nextNodeId: seed.id + 1,
    nodes: [seed],
    users: { root: hashPassword('root') },
    extensions: {},
  };
}

export function toJson(state: ClusterState): Json {
  return state as unknown as Json;
}

export function fromJson(v: Json | undefined): ClusterState | null {
  if (v === null || v === undefined || typeof v !== 'object' || Array.isArray(v)) return null;
  const s = v as unknown as ClusterState;
  if (typeof s.version !== 'number' || !Array.isArray(s.nodes) || typeof s.clusterId !== 'string') return null;
  return s;
}

export function clone(state: ClusterState): ClusterState {
  return JSON.parse(JSON.stringify(state)) as ClusterState;
}

/** Deterministic winner when two ConfigNodes hold different states. */
export function newer(a: ClusterState, b: ClusterState): boolean {
  if (a.version !== b.version) return a.version > b.version;
  // Equal versions only differ after two leaders raced; lower leader id wins so everyone converges.
  return a.leaderId < b.leaderId;
}

export function configNodes(state: ClusterState): NodeInfo[] {
  return state.nodes.filter((n) => n.type === 'ConfigNode');
}

export function dataNodes(state: ClusterState): NodeInfo[] {
  return state.nodes.filter((n) => n.type === 'DataNode');
}

export function endpointsOf(n: NodeInfo): string[] {
  return n.type === 'ConfigNode'
    ? [`${n.internalAddress}:${n.internalPort}`, `${n.internalAddress}:${n.consensusPort}`]
    : [
        `${n.rpcAddress}:${n.rpcPort}`,
        `${n.internalAddress}:${n.internalPort}`,
        `${n.internalAddress}:${n.mppPort}`,
        `${n.internalAddress}:${n.schemaConsensusPort}`,
        `${n.internalAddress}:${n.dataConsensusPort}`,
      ];
}

export function maxReplication(state: ClusterState): number {
  return Math.max(Number(state.params.schema_replication_factor), Number(state.params.data_replication_factor));
}

export type Rejection = { ok: false; code: string; message: string };
export type Accepted = { ok: true; state: ClusterState; reply: Message };
export type OpResult = Accepted | Rejection;

const reject = (code: string, message: string): Rejection => ({ ok: false, code, message });

const SOLUTIONS = ' Possible solutions are as follows:\n\t';

function clusterNameRejection(kind: 'start' | 'restart', type: NodeType, theirs: string, ours: string): Rejection {
  return reject(
    'REJECT_NODE_START',
    `Reject ${type} ${kind}. Because the ClusterName of the current ${type} and the target cluster are inconsistent. ` +
      `ClusterName of the current Node: ${theirs}, ClusterName of the target cluster: ${ours}.` +
      SOLUTIONS +
      `1. Change the ${type === 'ConfigNode' ? 'cn' : 'dn'}_seed_config_node parameter in iotdb-system.properties to join the correct cluster.` +
      `\n\t2. Change the cluster_name parameter in iotdb-system.properties to match the target cluster`,
  );
}

/** The first cluster-wide key whose value differs, with both values. */
export function firstMismatch(local: ClusterParams, cluster: ClusterParams): { key: ClusterKey; local: string; cluster: string } | null {
  for (const key of CLUSTER_KEYS) {
    if (key === 'cluster_name') continue;
    if ((local[key] ?? '').trim() !== (cluster[key] ?? '').trim()) return { key, local: local[key], cluster: cluster[key] };
  }
  return null;
}

function paramRejection(type: NodeType, local: ClusterParams, state: ClusterState): Rejection | null {
  const m = firstMismatch(local, state.params);
  if (!m) return null;
  return reject(
    'CONFIGURATION_ERROR',
    `Reject register, please ensure that the parameter ${m.key} is consistent with the Seed-ConfigNode. ` +
      `The current ${type} has ${m.key}=${m.local}, the cluster has ${m.key}=${m.cluster}.`,
  );
}

export interface RegisterRequest {
  clusterName: string;
  params: ClusterParams;
  node: NodeInfo;
}

function conflictRejection(type: NodeType, candidate: NodeInfo, state: ClusterState, ignoreId: number | null): Rejection | null {
  const mine = new Set(endpointsOf(candidate));
  const conflicts = new Set<string>();
  for (const n of state.nodes) {
    if (n.type !== type || n.id === ignoreId) continue;
    for (const e of endpointsOf(n)) if (mine.has(e)) conflicts.add(e);
  }
  if (conflicts.size === 0) return null;
  return reject(
    'REJECT_NODE_START',
    `Reject ${type} registration. Because the following ip:port: [${[...conflicts].join(', ')}] of the current ${type} is conflicted with other registered Nodes in the cluster.` +
      SOLUTIONS +
      '1. Use SQL: "show cluster details" to find out the conflict Nodes. Remove them and retry start.' +
      '\n\t2. Change the conflict ip:port configurations in iotdb-system.properties file and retry start.',
  );
}

export function registerNode(state: ClusterState, req: RegisterRequest): OpResult {
  const type = req.node.type;
  if (req.clusterName !== state.clusterName) return clusterNameRejection('start', type, req.clusterName, state.clusterName);
  const bad = paramRejection(type, req.params, state) ?? conflictRejection(type, req.node, state, null);
  if (bad) return bad;
  const next = clone(state);
  const id = next.nextNodeId++;
  next.nodes.push({ ...req.node, id, removing: false, removingSince: 0 });
  return { ok: true, state: next, reply: { nodeId: id } };
}

export interface RestartRequest {
  clusterName: string;
  clusterId: string;
  params: ClusterParams;
  node: NodeInfo;
}

export function restartNode(state: ClusterState, req: RestartRequest, isAlive: (id: number) => boolean): OpResult {
  const type = req.node.type;
  const id = req.node.id;
  if (req.clusterName !== state.clusterName) return clusterNameRejection('restart', type, req.clusterName, state.clusterName);
  if (req.clusterId !== state.clusterId) {
    return reject(
      'REJECT_NODE_START',
      `Reject ${type} restart. Because the ClusterId of the current ${type} and the target cluster are inconsistent. ` +
        `ClusterId of the current Node: ${req.clusterId}, ClusterId of the target cluster: ${state.clusterId}.` +
        SOLUTIONS +
        `1. The ${type === 'ConfigNode' ? 'cn' : 'dn'}_system_dir belongs to another cluster. Delete the 'data' dir to join this cluster as a new node, or point the seed at the cluster that dir belongs to.`,
    );
  }
  const known = state.nodes.find((n) => n.id === id && n.type === type);
  if (!known) {
    return reject(
      'REJECT_NODE_START',
      `Reject ${type} restart. Because there are no corresponding ${type}(whose nodeId=${id}) in the cluster.` +
        SOLUTIONS +
        `1. Maybe you've already removed the current ${type}(whose nodeId=${id}). Please delete the useless 'data' dir and retry start.`,
    );
  }
  if (type === 'DataNode' && isAlive(id)) {
    return reject(
      'REJECT_NODE_START',
      `Reject ${type} restart. Because there already exists a alive Node with the same nodeId=${id} in the target cluster.` +
        SOLUTIONS +
        "1. Maybe you've just shutdown this Node recently. Please wait for the ConfigNode-leader to mark this Node as Unknown before retry start. You can use SQL \"show cluster details\" to find out this Node's status." +
        "\n\t2. Maybe you start this Node by copying the 'data' dir of another alive Node. Please delete 'data' dir and retry start.",
    );
  }
  const before = endpointsOf(known).join(',');
  const after = endpointsOf({ ...known, ...pickEndpoints(req.node) }).join(',');
  if (before !== after) {
    return reject(
      'REJECT_NODE_START',
      `Reject ${type} restart. Because some TEndPoints of this ${type} have been changed (registered: ${before}; now: ${after}).` +
        SOLUTIONS +
        "1. Please delete 'data' dir and retry start. This Node will be registered as a new Node, so don't forget to remove the old one.",
    );
  }
  const bad = paramRejection(type, req.params, state);
  if (bad) return bad;
  const next = clone(state);
  const n = next.nodes.find((x) => x.id === id)!;
  n.version = req.node.version;
  n.buildInfo = req.node.buildInfo;
  return { ok: true, state: next, reply: { nodeId: id } };
}

function pickEndpoints(n: NodeInfo): Partial<NodeInfo> {
  return {
    internalAddress: n.internalAddress,
    internalPort: n.internalPort,
    consensusPort: n.consensusPort,
    rpcAddress: n.rpcAddress,
    rpcPort: n.rpcPort,
    mppPort: n.mppPort,
    dataConsensusPort: n.dataConsensusPort,
    schemaConsensusPort: n.schemaConsensusPort,
  };
}

/** Resolve `<id>` or `<address>:<port>` (ConfigNode: internal endpoint; DataNode: rpc endpoint). */
export function findNode(state: ClusterState, type: NodeType, target: string): NodeInfo | null {
  const t = target.trim();
  if (/^\d+$/.test(t)) return state.nodes.find((n) => n.type === type && n.id === Number(t)) ?? null;
  return (
    state.nodes.find(
      (n) => n.type === type && (type === 'ConfigNode' ? `${n.internalAddress}:${n.internalPort}` : `${n.rpcAddress}:${n.rpcPort}`) === t,
    ) ?? null
  );
}

export function removeNode(
  state: ClusterState,
  type: NodeType,
  target: string,
  statusOf: (id: number) => NodeStatus,
  now: number,
): OpResult {
  const node = findNode(state, type, target);
  if (!node) {
    const how = type === 'ConfigNode' ? 'confignode_id or cn_internal_address:cn_internal_port' : 'datanode_id or dn_rpc_address:dn_rpc_port';
    return reject('NODE_NOT_FOUND', `Remove ${type} failed: no ${type} in the cluster matches '${target}' (expected ${how}).`);
  }
  if (node.removing) return reject('ALREADY_REMOVING', `${type} ${node.id} is already being removed.`);
  if (type === 'ConfigNode') {
    if (configNodes(state).filter((n) => !n.removing).length <= 1) {
      return reject('REMOVE_CONFIGNODE_ERROR', 'Remove ConfigNode failed because there is only one ConfigNode in current Cluster.');
    }
  } else {
    const rf = maxReplication(state);
    if (statusOf(node.id) !== 'Running' && rf <= 1) {
      return reject(
        'REMOVE_DATANODE_ERROR',
        `Remove DataNode failed: DataNode ${node.id} is ${statusOf(node.id)}, and a down DataNode can be removed only when schema_replication_factor and data_replication_factor are greater than 1.`,
      );
    }
    // The regions move to the DataNodes that stay, so enough of them must be
    // available, whether the one leaving still runs or is down (its regions
    // are then rebuilt from their other replicas).
    const staying = dataNodes(state).filter((n) => n.id !== node.id && !n.removing && statusOf(n.id) === 'Running').length;
    if (staying < rf) {
      return reject(
        'REMOVE_DATANODE_ERROR',
        `Remove DataNode failed: ${staying} available DataNode(s) would stay; removing is allowed only when at least max(schema_replication_factor, data_replication_factor) = ${rf} stay.`,
      );
    }
  }
  const next = clone(state);
  const n = next.nodes.find((x) => x.id === node.id)!;
  n.removing = true;
  n.removingSince = now;
  return { ok: true, state: next, reply: { nodeId: node.id, type } };
}

export function finishRemoval(state: ClusterState, id: number): OpResult {
  const next = clone(state);
  next.nodes = next.nodes.filter((n) => n.id !== id);
  return { ok: true, state: next, reply: { nodeId: id } };
}

export function claimLeadership(state: ClusterState): OpResult {
  return { ok: true, state: clone(state), reply: {} };
}

/**
 * Store a later feature's replicated data (e.g. extensions.pipes) under `key`;
 * it goes through the leader and survives ConfigNode restarts like membership.
 */
export function setExtension(state: ClusterState, key: string, value: Json): OpResult {
  if (key === '') return reject('BAD_REQUEST', 'extension key must not be empty');
  const next = clone(state);
  next.extensions[key] = value;
  return { ok: true, state: next, reply: {} };
}
