// The simulated ConfigNode.
//
// Every ConfigNode holds the whole membership state and gossips it to its
// ConfigNode peers on each heartbeat; changes go through one leader (the
// recorded leader while it is up, else the lowest-id ConfigNode that is up),
// which needs more than half of the ConfigNodes alive, as a Ratis group does.
// Each ConfigNode also heartbeats every other node, so any of them can answer
// `show cluster` with Running/Unknown, and a restarted ConfigNode (the seed
// included) rejoins through the peers recorded in its cn_system_dir.

import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:net';
import { activationStatus, writeSystemInfo } from './activation.js';
import { ConfigError, NodeConfig, readVersion, type ConfigNodeSettings, type VersionInfo } from './config.js';
import { NodeLog } from './log.js';
import {
  closeAll,
  delay,
  errorMessage,
  frozenKeyChange,
  logBanner,
  onTerminate,
  readIdentity,
  removePidFileIfOurs,
  writeFileAtomic,
  writeIdentity,
  writePidFile,
  type Identity,
} from './node-base.js';
import { describeOccupied, occupiedPorts } from './ports.js';
import { call, CallError, serve, type Json, type Message } from './rpc.js';
import { CLUSTER_KEYS, type ClusterParams } from './spec.js';
import {
  claimLeadership,
  configNodes,
  finishRemoval,
  fromJson,
  hashPassword,
  newClusterState,
  newer,
  registerNode,
  removeNode,
  restartNode,
  setExtension,
  toJson,
  type ClusterState,
  type NodeInfo,
  type NodeStatus,
  type NodeType,
  type OpResult,
} from './state.js';

const LOGGER = 'o.a.i.confignode.service.ConfigNode';
export const JOIN_RETRIES = 10;
const IDENTITY_FILE = 'confignode-system.properties';
const STATE_FILE = 'cluster-state.json';

export interface StartOptions {
  home: string;
  confDir: string;
  pidFile: string;
  foreground: boolean;
}

export class ConfigNode {
  private readonly cfg: NodeConfig;
  private readonly cn: ConfigNodeSettings;
  private readonly params: ClusterParams;
  private readonly hb: number;
  private readonly log: NodeLog;
  private readonly ver: VersionInfo;
  private state: ClusterState | null = null;
  private selfId = -1;
  private ready = false;
  /** A restarted node reports its (possibly upgraded) version once it is back. */
  private restartReported = true;
  private readonly lastOk = new Map<number, number>();
  private readonly peerReady = new Map<number, boolean>();
  private servers: Server[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private stopping = false;
  private timer: NodeJS.Timeout | null = null;
  private ticks = 0;
  private hotConfig: Map<string, string>;

  constructor(private readonly opts: StartOptions) {
    this.log = new NodeLog(join(opts.home, 'logs'), 'confignode', LOGGER, opts.foreground);
    this.ver = readVersion(opts.home);
    try {
      this.cfg = new NodeConfig(opts.home, opts.confDir);
      this.cn = this.cfg.configNode();
      this.params = this.cfg.clusterParams();
      this.hb = this.cfg.heartbeatMs();
      this.hotConfig = this.cfg.hotReloadable();
    } catch (e) {
      this.log.error(`Failed to read the configuration: ${errorMessage(e)}`);
      throw e instanceof ConfigError ? e : new ConfigError(errorMessage(e));
    }
  }

  private get identityFile(): string {
    return join(this.cn.systemDir, IDENTITY_FILE);
  }

  private get stateFile(): string {
    return join(this.cn.systemDir, STATE_FILE);
  }

  private selfInfo(id: number): NodeInfo {
    return {
      id,
      type: 'ConfigNode',
      internalAddress: this.cn.internalAddress,
      internalPort: this.cn.internalPort,
      consensusPort: this.cn.consensusPort,
      rpcAddress: '',
      rpcPort: 0,
      mppPort: 0,
      dataConsensusPort: 0,
      schemaConsensusPort: 0,
      version: this.ver.version,
      buildInfo: this.ver.buildInfo,
      removing: false,
      removingSince: 0,
    };
  }

  // ---- start -------------------------------------------------------------

  async start(): Promise<void> {
    logBanner(this.log, 'confignode', this.cfg, this.ver);
    const identity = readIdentity(this.identityFile, 'config_node_id');
    if (identity) this.checkRestartConfig(identity);

    const occupied = await occupiedPorts([
      { key: 'cn_internal_port', host: this.cn.internalAddress, port: this.cn.internalPort },
      { key: 'cn_consensus_port', host: this.cn.internalAddress, port: this.cn.consensusPort },
    ]);
    if (occupied.length > 0) {
      for (const o of occupied) this.log.error(describeOccupied(o));
      return this.fail('Exit because there are occupied ports.', false);
    }
    try {
      this.servers.push(await serve(this.cn.internalAddress, this.cn.internalPort, (r) => this.handle(r)));
      this.servers.push(await serve(this.cn.internalAddress, this.cn.consensusPort, (r) => this.handle(r)));
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      return this.fail(`Failed to start the ConfigNode internal services: ${err.code === 'EADDRINUSE' ? 'java.net.BindException: Address already in use' : errorMessage(e)}`, false);
    }
    writePidFile(this.opts.pidFile);
    onTerminate((sig) => void this.shutdown(`received ${sig}`, 0));
    // TimechoDB's activation starts from the machine code each ConfigNode writes (see activation.ts).
    try {
      const code = writeSystemInfo(this.opts.home);
      this.log.info(`Activation status: ${activationStatus(this.opts.home)}; machine code ${code} in activation/system_info (simulated TimechoDB activation)`);
    } catch (e) {
      this.log.warn(`Cannot write activation/system_info: ${errorMessage(e)}`);
    }

    if (identity) {
      await this.restart(identity);
    } else if (this.cn.seed.host === this.cn.internalAddress && this.cn.seed.port === this.cn.internalPort) {
      this.createCluster();
    } else {
      await this.register();
    }
    this.loop();
  }

  private checkRestartConfig(identity: Identity): void {
    const change = frozenKeyChange(identity, this.cfg);
    if (change) {
      this.fail(
        `Reject ConfigNode restart. Because the parameter ${change.key} in iotdb-system.properties (${change.now}) differs from the value this ConfigNode ` +
          `joined its cluster with (${change.recorded}, recorded in ${this.identityFile}). ${change.key} can't be modified after the first start.`,
        false,
      );
    }
  }

  private createCluster(): void {
    this.log.info(`cn_seed_config_node ${this.cn.seed.host}:${this.cn.seed.port} is this node itself: starting as the Seed-ConfigNode of a new cluster "${this.params.cluster_name}".`);
    this.selfId = 0;
    this.adopt(newClusterState(this.selfInfo(0), this.params));
    this.persistIdentity(true);
    this.ready = true;
    this.announceStarted(false);
  }

  private async register(): Promise<void> {
    const seed = `${this.cn.seed.host}:${this.cn.seed.port}`;
    this.log.info(`Sending register request to the Seed-ConfigNode ${seed} (cn_seed_config_node)...`);
    let answered: string | null = null;
    for (let attempt = 1; attempt <= JOIN_RETRIES && !this.stopping; attempt++) {
      try {
        const resp = await call(this.cn.seed.host, this.cn.seed.port, {
          op: 'registerNode',
          clusterName: this.params.cluster_name,
          params: this.params as unknown as Json,
          node: this.selfInfo(-1) as unknown as Json,
        }, 5000);
        if (resp.ok === true && typeof resp.nodeId === 'number') {
          const s = fromJson(resp.state);
          if (!s) return this.fail('The ConfigNode-leader sent an unreadable cluster state.', true);
          this.selfId = resp.nodeId;
          this.adopt(s);
          this.persistIdentity(false);
          this.ready = true;
          this.announceStarted(false);
          return;
        }
        if (resp.code === 'NOT_READY' || resp.code === 'NOT_LEADER') {
          answered = String(resp.message ?? resp.code);
          this.log.warn(`Cannot register to the cluster, because: ${answered}. Retry (${attempt}/${JOIN_RETRIES})...`);
        } else {
          return this.fail(String(resp.message ?? resp.code), true);
        }
      } catch (e) {
        if (!(e instanceof CallError)) throw e;
        this.log.warn(`Cannot register to the cluster, because: Cannot connect to the seed ConfigNode ${seed} (cn_seed_config_node): ${e.message}. Retry (${attempt}/${JOIN_RETRIES})...`);
      }
      await delay(this.hb);
    }
    this.log.error(
      answered === null
        ? `Cannot connect to the seed ConfigNode ${seed} after ${JOIN_RETRIES} retries. Please check that cn_seed_config_node in iotdb-system.properties points to a running ConfigNode.`
        : `The seed ConfigNode ${seed} answered but did not accept the registration after ${JOIN_RETRIES} retries (last answer: ${answered}). ` +
            'If this is the first ConfigNode of the cluster, set cn_seed_config_node to exactly its own cn_internal_address:cn_internal_port.',
    );
    return this.fail("The current ConfigNode can't send register request to the ConfigNode-leader after all retries!", true);
  }

  private async restart(identity: Identity): Promise<void> {
    let s: ClusterState | null = null;
    try {
      s = fromJson(JSON.parse(readFileSync(this.stateFile, 'utf8')) as Json);
    } catch {
      s = null;
    }
    if (!s) {
      return this.fail(`Reject ConfigNode restart. ${this.stateFile} is missing or unreadable although ${this.identityFile} exists. Possible solutions are as follows:\n\t1. Delete the 'data' dir and retry start as a new ConfigNode (remove the old one first).`, true);
    }
    if (s.clusterId !== identity.clusterId) {
      return this.fail(`Reject ConfigNode restart. ${this.stateFile} belongs to cluster ${s.clusterId} but ${this.identityFile} to ${identity.clusterId}.`, true);
    }
    this.selfId = identity.nodeId;
    this.state = s;
    this.restartReported = false;
    const peers = configNodes(s).filter((n) => n.id !== this.selfId).map((n) => `${n.internalAddress}:${n.internalPort}`);
    this.log.info(
      `ConfigNode ${this.selfId} of cluster "${s.clusterName}" is restarting; rejoining through the ConfigNodes recorded in cn_system_dir: ${peers.length > 0 ? peers.join(', ') : '(none, single ConfigNode)'}`,
    );
  }

  private announceStarted(restart: boolean): void {
    const s = this.state!;
    this.log.info(`The ConfigNode is set up with NodeID=${this.selfId}, cluster "${s.clusterName}" (ClusterId ${s.clusterId}).`);
    this.log.info(`IoTDB-ConfigNode has successfully ${restart ? 'restarted' : 'started'} and joined the cluster: ${s.clusterName}.`);
    this.log.info('Congratulations, IoTDB ConfigNode is set up successfully. Now, enjoy yourself!');
  }

  private persistIdentity(isSeed: boolean): void {
    const s = this.state!;
    const entries: Array<[string, string]> = [
      ['iotdb_version', this.ver.version],
      ['build_info', this.ver.buildInfo],
      ['config_node_id', String(this.selfId)],
      ['cluster_name', s.clusterName],
      ['cluster_id', s.clusterId],
      ['is_seed_config_node', String(isSeed)],
      ['cn_internal_address', this.cn.internalAddress],
      ['cn_internal_port', String(this.cn.internalPort)],
      ['cn_consensus_port', String(this.cn.consensusPort)],
    ];
    for (const k of CLUSTER_KEYS) if (k !== 'cluster_name') entries.push([k, s.params[k]]);
    writeIdentity(this.identityFile, entries);
    mkdirSync(this.cn.consensusDir, { recursive: true });
  }

  // ---- state, liveness, leadership ----------------------------------------

  private adopt(s: ClusterState): void {
    const before = new Set(this.state?.nodes.map((n) => n.id) ?? []);
    this.state = s;
    // A node that just joined was alive a moment ago; don't show it Unknown until the next heartbeat.
    for (const n of s.nodes) if (!before.has(n.id) && n.id !== this.selfId && !this.lastOk.has(n.id)) this.lastOk.set(n.id, Date.now());
    try {
      writeFileAtomic(this.stateFile, JSON.stringify(s, null, 1) + '\n');
    } catch (e) {
      this.log.error(`Failed to persist the cluster state in ${this.stateFile}: ${errorMessage(e)}`);
    }
  }

  private adoptIfNewer(s: ClusterState | null): void {
    if (!s) return;
    if (this.state && s.clusterId !== this.state.clusterId) return;
    if (!this.state || newer(s, this.state)) this.adopt(s);
  }

  /**
   * Three missed heartbeats make a node Unknown. The floor keeps a node that
   * is merely slow to answer on a loaded host from flapping when tests use
   * very short intervals.
   */
  private get unknownAfterMs(): number {
    return Math.max(3 * this.hb, 1500);
  }

  /** How long one heartbeat may take; a refused connection returns at once anyway. */
  private get callTimeoutMs(): number {
    return Math.max(this.hb, 1000);
  }

  private alive(id: number): boolean {
    if (id === this.selfId) return true;
    const t = this.lastOk.get(id);
    return t !== undefined && Date.now() - t <= this.unknownAfterMs;
  }

  private peerUp(id: number): boolean {
    if (id === this.selfId) return this.ready;
    return this.alive(id) && this.peerReady.get(id) === true;
  }

  statusOf(n: NodeInfo): NodeStatus {
    if (n.removing) return 'Removing';
    return this.alive(n.id) ? 'Running' : 'Unknown';
  }

  private hasQuorum(): boolean {
    if (!this.state) return false;
    const members = configNodes(this.state);
    const up = members.filter((n) => this.alive(n.id)).length;
    return up * 2 > members.length;
  }

  private leader(): number | null {
    const s = this.state;
    if (!s || !this.ready || !this.hasQuorum()) return null;
    const eligible = configNodes(s).filter((n) => !n.removing);
    if (eligible.some((n) => n.id === s.leaderId) && this.peerUp(s.leaderId)) return s.leaderId;
    const up = eligible.filter((n) => this.peerUp(n.id)).map((n) => n.id).sort((a, b) => a - b);
    return up[0] ?? null;
  }

  // ---- heartbeat loop ------------------------------------------------------

  private loop(): void {
    if (this.stopping) return;
    this.tick()
      .catch((e: unknown) => this.log.error(`Heartbeat round failed: ${errorMessage(e)}`, 'Cluster-LoadStatistics'))
      .finally(() => {
        if (!this.stopping) this.timer = setTimeout(() => this.loop(), this.hb);
      });
  }

  private async tick(): Promise<void> {
    const s = this.state;
    if (!s || this.selfId < 0) return;
    this.ticks++;
    await Promise.all(s.nodes.filter((n) => n.id !== this.selfId).map((n) => (n.type === 'ConfigNode' ? this.pingConfigNode(n) : this.pingDataNode(n))));
    if (this.stopping) return;
    const now = this.state!;

    if (!this.ready) {
      if (this.hasQuorum()) {
        if (!now.nodes.some((n) => n.id === this.selfId && n.type === 'ConfigNode')) {
          return this.fail(
            `Reject ConfigNode restart. Because there are no corresponding ConfigNode(whose nodeId=${this.selfId}) in the cluster. Possible solutions are as follows:\n\t1. Maybe you've already removed the current ConfigNode(whose nodeId=${this.selfId}). Please delete the useless 'data' dir and retry start.`,
            true,
          );
        }
        this.ready = true;
        this.announceStarted(true);
      } else if (this.ticks % 10 === 1) {
        const members = configNodes(now);
        const up = members.filter((n) => this.alive(n.id)).map((n) => n.id);
        this.log.warn(
          `Waiting for more than half of the ConfigNodes to be reachable before serving: ${up.length}/${members.length} reachable (NodeIDs ${up.join(', ')}).`,
          'ConfigNode-Consensus',
        );
      }
      return;
    }

    if (!now.nodes.some((n) => n.id === this.selfId)) {
      return void this.shutdown(`this ConfigNode (NodeID=${this.selfId}) has been removed from the cluster`, 0);
    }
    if (!this.restartReported) {
      const r = await this.mutate({ op: 'restartNode', clusterName: this.params.cluster_name, clusterId: now.clusterId, params: this.params as unknown as Json, node: this.selfInfo(this.selfId) as unknown as Json });
      if (r.ok === true) this.restartReported = true;
      else if (r.code === 'REJECT_NODE_START' || r.code === 'CONFIGURATION_ERROR') return this.fail(String(r.message), true);
    }
    if (this.leader() === this.selfId) {
      if (this.state!.leaderId !== this.selfId) {
        const r = await this.mutate({ op: 'claimLeadership' });
        if (r.ok === true) this.log.info(`This ConfigNode (NodeID=${this.selfId}) is now the ConfigNode-leader.`, 'ConfigNode-Consensus');
      }
      for (const n of this.state!.nodes.filter((x) => x.removing && Date.now() - x.removingSince >= this.hb)) {
        await this.completeRemoval(n);
      }
    }
  }

  private async pingConfigNode(n: NodeInfo): Promise<void> {
    try {
      const resp = await call(n.internalAddress, n.internalPort, {
        op: 'cnHeartbeat',
        fromId: this.selfId,
        clusterId: this.state!.clusterId,
        ready: this.ready,
        state: toJson(this.state!),
      }, this.callTimeoutMs);
      // NOT_MEMBER replies carry the peer's state too: a removed ConfigNode that missed its stop request learns it here.
      this.adoptIfNewer(fromJson(resp.state));
      if (resp.ok === true && resp.nodeId === n.id) {
        this.lastOk.set(n.id, Date.now());
        this.peerReady.set(n.id, resp.ready === true);
      } else if (resp.code === 'CLUSTER_ID_MISMATCH' && !this.ready) {
        this.fail(
          `Reject ConfigNode restart. Because the ClusterId of the current ConfigNode and the target cluster are inconsistent. ClusterId of the current Node: ${this.state!.clusterId}, ClusterId of the target cluster: ${String(resp.clusterId)}.`,
          true,
        );
      } else if (resp.code === 'NOT_MEMBER' && !this.ready) {
        this.fail(
          `Reject ConfigNode restart. Because there are no corresponding ConfigNode(whose nodeId=${this.selfId}) in the cluster. Possible solutions are as follows:\n\t1. Maybe you've already removed the current ConfigNode(whose nodeId=${this.selfId}). Please delete the useless 'data' dir and retry start.`,
          true,
        );
      }
    } catch {
      // Unreachable: lastOk ages out and the node turns Unknown.
    }
  }

  private async pingDataNode(n: NodeInfo): Promise<void> {
    try {
      const resp = await call(n.internalAddress, n.internalPort, {
        op: 'heartbeat',
        clusterId: this.state!.clusterId,
        nodeId: n.id,
        configNodes: this.configNodeEndpoints() as unknown as Json,
      }, this.callTimeoutMs);
      if (resp.ok === true && resp.nodeId === n.id) this.lastOk.set(n.id, Date.now());
    } catch {
      // Unreachable: see pingConfigNode.
    }
  }

  private configNodeEndpoints(): string[] {
    return configNodes(this.state!).filter((n) => !n.removing).map((n) => `${n.internalAddress}:${n.internalPort}`);
  }

  private async completeRemoval(n: NodeInfo): Promise<void> {
    const what = `${n.type} (NodeID=${n.id}, ${n.internalAddress}:${n.internalPort})`;
    this.log.info(`Removing ${what}: ${n.type === 'DataNode' ? 'regions migrated, ' : ''}stopping the node...`, 'ProcedureExecutor');
    try {
      await call(n.internalAddress, n.internalPort, { op: 'stop', reason: 'removed', clusterId: this.state!.clusterId, nodeId: n.id }, 2000);
    } catch (e) {
      this.log.warn(`Cannot reach ${what} to stop it (${errorMessage(e)}); removing it from the cluster anyway.`, 'ProcedureExecutor');
    }
    const r = await this.mutate({ op: 'finishRemoval', nodeId: n.id });
    if (r.ok === true) this.log.info(`${what} is removed from the cluster.`, 'ProcedureExecutor');
    this.lastOk.delete(n.id);
  }

  // ---- changes through the leader -------------------------------------------

  private async mutate(req: Message): Promise<Message> {
    if (!this.ready || !this.state) return { ok: false, code: 'NOT_READY', message: 'The ConfigNode is not ready yet.' };
    const leader = this.leader();
    if (leader === null) {
      return { ok: false, code: 'NOT_READY', message: 'No ConfigNode-leader: less than half of the ConfigNodes are alive.' };
    }
    if (leader !== this.selfId) {
      if (req.forwarded === true) return { ok: false, code: 'NOT_LEADER', message: `The ConfigNode-leader is NodeID ${leader}.` };
      const ln = this.state.nodes.find((n) => n.id === leader)!;
      try {
        const resp = await call(ln.internalAddress, ln.internalPort, { ...req, forwarded: true }, 10_000);
        if (resp.ok === true) this.adoptIfNewer(fromJson(resp.state));
        return resp;
      } catch (e) {
        return { ok: false, code: 'NOT_READY', message: `Cannot reach the ConfigNode-leader (NodeID ${leader}): ${errorMessage(e)}` };
      }
    }
    const run = this.queue.then(() => this.applyAsLeader(req));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async applyAsLeader(req: Message): Promise<Message> {
    const s = this.state!;
    if (!this.hasQuorum()) return { ok: false, code: 'NOT_READY', message: 'No ConfigNode-leader: less than half of the ConfigNodes are alive.' };
    let r: OpResult;
    switch (req.op) {
      case 'registerNode':
        r = registerNode(s, {
          clusterName: String(req.clusterName),
          params: req.params as unknown as ClusterParams,
          node: req.node as unknown as NodeInfo,
        });
        break;
      case 'restartNode':
        r = restartNode(
          s,
          {
            clusterName: String(req.clusterName),
            clusterId: String(req.clusterId),
            params: req.params as unknown as ClusterParams,
            node: req.node as unknown as NodeInfo,
          },
          (id) => this.alive(id),
        );
        break;
      case 'removeNode':
        r = removeNode(s, req.type as NodeType, String(req.target), (id) => this.statusOfId(id), Date.now());
        break;
      case 'finishRemoval':
        r = finishRemoval(s, Number(req.nodeId));
        break;
      case 'claimLeadership':
        r = claimLeadership(s);
        break;
      case 'setExtension':
        r = setExtension(s, String(req.key ?? ''), req.value ?? null);
        break;
      default:
        return { ok: false, code: 'BAD_REQUEST', message: `unknown change ${String(req.op)}` };
    }
    if (!r.ok) {
      this.log.warn(r.message, 'ConfigNodeRPC-Service');
      return { ok: false, code: r.code, message: r.message };
    }
    const next = r.state;
    next.version = s.version + 1;
    next.leaderId = this.selfId;
    this.adopt(next);
    const id = typeof r.reply.nodeId === 'number' ? r.reply.nodeId : -1;
    if (req.op === 'registerNode' || req.op === 'restartNode') this.lastOk.set(id, Date.now());
    this.logChange(req, id);
    await this.replicate(next);
    return { ok: true, ...r.reply, state: toJson(next) };
  }

  private logChange(req: Message, id: number): void {
    const node = this.state!.nodes.find((n) => n.id === id);
    const where = node ? `${node.internalAddress}:${node.internalPort}` : '';
    const thread = 'ConfigNodeRPC-Service';
    switch (req.op) {
      case 'registerNode':
        this.log.info(`Accept Node registration. ${node?.type ?? 'Node'} ${where} is registered with NodeID=${id}.`, thread);
        break;
      case 'restartNode':
        this.log.info(`Accept Node restart. ${node?.type ?? 'Node'} NodeID=${id} (${where}) rejoined, version ${node?.version ?? '?'}.`, thread);
        break;
      case 'removeNode':
        this.log.info(`Submitted the removal of ${node?.type ?? 'Node'} NodeID=${id} (${where}); its status is Removing.`, thread);
        break;
      default:
    }
  }

  private async replicate(s: ClusterState): Promise<void> {
    await Promise.all(
      configNodes(s)
        .filter((n) => n.id !== this.selfId)
        .map(async (n) => {
          try {
            const resp = await call(n.internalAddress, n.internalPort, { op: 'applyState', fromId: this.selfId, state: toJson(s) }, this.callTimeoutMs);
            if (resp.ok === true) this.lastOk.set(n.id, Date.now());
          } catch {
            // A ConfigNode that is down catches up from gossip when it is back.
          }
        }),
    );
  }

  private statusOfId(id: number): NodeStatus {
    const n = this.state?.nodes.find((x) => x.id === id);
    return n ? this.statusOf(n) : 'Unknown';
  }

  // ---- requests ---------------------------------------------------------------

  private async handle(req: Message): Promise<Message> {
    const s = this.state;
    switch (req.op) {
      case 'status':
        return {
          ok: true,
          role: 'ConfigNode',
          nodeId: this.selfId,
          ready: this.ready,
          clusterName: s?.clusterName ?? this.params.cluster_name,
          clusterId: s?.clusterId ?? '',
          leaderId: this.leader(),
          version: this.ver.version,
        };
      case 'cnHeartbeat':
        return this.onHeartbeat(req);
      case 'applyState': {
        if (this.selfId >= 0 && s && typeof req.fromId === 'number') {
          this.lastOk.set(req.fromId, Date.now());
          this.peerReady.set(req.fromId, true);
        }
        this.adoptIfNewer(fromJson(req.state));
        return { ok: true };
      }
      case 'registerNode':
      case 'restartNode':
      case 'removeNode':
      case 'finishRemoval':
      case 'setExtension':
        return this.mutate(req);
      case 'getExtension':
        if (!s || !this.ready || !this.hasQuorum()) return { ok: false, code: 'NOT_READY', message: 'less than half of the ConfigNodes are alive' };
        return { ok: true, value: s.extensions[String(req.key)] ?? null };
      case 'getCluster':
        return this.clusterView();
      case 'nodeShutdown':
        if (typeof req.nodeId === 'number') {
          this.lastOk.delete(req.nodeId);
          this.peerReady.delete(req.nodeId);
          const n = s?.nodes.find((x) => x.id === req.nodeId);
          if (n) this.log.info(`${n.type} NodeID=${n.id} (${n.internalAddress}:${n.internalPort}) reported its shutdown; marking it Unknown.`, 'ConfigNodeRPC-Service');
        }
        return { ok: true };
      case 'checkUser': {
        if (!s || !this.ready) return { ok: false, code: 'NOT_READY', message: 'The ConfigNode is not ready yet.' };
        const want = s.users[String(req.user)];
        return { ok: true, valid: want !== undefined && want === hashPassword(String(req.password)) };
      }
      case 'stop':
        if (s && req.clusterId === s.clusterId && req.nodeId === this.selfId) {
          setImmediate(() => void this.shutdown(`this ConfigNode (NodeID=${this.selfId}) has been removed from the cluster`, 0));
          return { ok: true };
        }
        return { ok: false, code: 'MISMATCH', message: 'not this node' };
      case 'loadConfiguration':
        this.reloadConfiguration();
        return { ok: true };
      case 'broadcastLoadConfiguration':
        return this.broadcastLoadConfiguration();
      default:
        return { ok: false, code: 'BAD_REQUEST', message: `unknown request ${String(req.op)}` };
    }
  }

  private onHeartbeat(req: Message): Message {
    const s = this.state;
    if (!s || this.selfId < 0) return { ok: false, code: 'NOT_READY', message: 'no cluster state yet' };
    if (req.clusterId !== s.clusterId) return { ok: false, code: 'CLUSTER_ID_MISMATCH', clusterId: s.clusterId };
    const theirs = fromJson(req.state);
    this.adoptIfNewer(theirs);
    const from = typeof req.fromId === 'number' ? req.fromId : -1;
    const mine = this.state!;
    if (this.ready && !mine.nodes.some((n) => n.id === from && n.type === 'ConfigNode')) return { ok: false, code: 'NOT_MEMBER', state: toJson(mine) };
    this.lastOk.set(from, Date.now());
    this.peerReady.set(from, req.ready === true);
    return { ok: true, nodeId: this.selfId, ready: this.ready, state: theirs && !newer(mine, theirs) ? null : toJson(mine) };
  }

  private clusterView(): Message {
    const s = this.state;
    if (!s || !this.ready || !this.hasQuorum()) {
      return { ok: false, code: 'NOT_READY', message: 'less than half of the ConfigNodes are alive' };
    }
    const nodes = s.nodes.map((n) => ({ ...n, status: this.statusOf(n) }));
    return {
      ok: true,
      leaderId: this.leader(),
      clusterName: s.clusterName,
      clusterId: s.clusterId,
      params: s.params as unknown as Json,
      nodes: nodes as unknown as Json,
    };
  }

  private reloadConfiguration(): void {
    try {
      const fresh = new NodeConfig(this.opts.home, this.opts.confDir).hotReloadable();
      const changed: string[] = [];
      for (const [k, v] of fresh) if (this.hotConfig.get(k) !== v) changed.push(`${k}: ${this.hotConfig.get(k) ?? ''} -> ${v}`);
      this.hotConfig = fresh;
      this.log.info(`Hot-reloaded iotdb-system.properties: ${changed.length > 0 ? changed.join(', ') : 'no hot_reload parameter changed'}.`, 'ConfigNodeRPC-Service');
    } catch (e) {
      this.log.error(`Failed to reload iotdb-system.properties: ${errorMessage(e)}`, 'ConfigNodeRPC-Service');
    }
  }

  private async broadcastLoadConfiguration(): Promise<Message> {
    const s = this.state;
    if (!s || !this.ready) return { ok: false, code: 'NOT_READY', message: 'The ConfigNode is not ready yet.' };
    const failed: string[] = [];
    await Promise.all(
      s.nodes.map(async (n) => {
        if (n.id === this.selfId) return this.reloadConfiguration();
        try {
          const r = await call(n.internalAddress, n.internalPort, { op: 'loadConfiguration' }, 3000);
          if (r.ok !== true) failed.push(`${n.type} ${n.id}`);
        } catch {
          failed.push(`${n.type} ${n.id}`);
        }
      }),
    );
    return failed.length === 0 ? { ok: true } : { ok: false, code: 'LOAD_CONFIGURATION_ERROR', message: `Load configuration failed on: ${failed.join(', ')}` };
  }

  // ---- stop -------------------------------------------------------------------

  private fail(message: string, cleanup: boolean): never {
    this.log.error(message);
    this.log.error('Fail to start ConfigNode. The ConfigNode exits.');
    if (cleanup) removePidFileIfOurs(this.opts.pidFile);
    process.exit(1);
  }

  async shutdown(reason: string, code: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.log.info(`ConfigNode exiting... (${reason})`, 'ConfigNode-Shutdown-Hook');
    const s = this.state;
    if (s && this.selfId >= 0) {
      await Promise.all(
        configNodes(s)
          .filter((n) => n.id !== this.selfId)
          .map((n) => call(n.internalAddress, n.internalPort, { op: 'nodeShutdown', nodeId: this.selfId }, 500).catch(() => undefined)),
      );
    }
    await closeAll(this.servers, 1000);
    removePidFileIfOurs(this.opts.pidFile);
    this.log.info(`ConfigNode NodeID=${this.selfId} exits.`, 'ConfigNode-Shutdown-Hook');
    process.exit(code);
  }
}

export async function runConfigNode(opts: StartOptions): Promise<void> {
  let node: ConfigNode;
  try {
    node = new ConfigNode(opts);
  } catch (e) {
    if (opts.foreground) process.stderr.write(`${errorMessage(e)}\n`);
    process.exit(1);
  }
  await node.start();
}
