// The simulated DataNode: registers with (or rejoins) the cluster through the
// ConfigNodes, answers ConfigNode heartbeats on dn_internal_port, holds the
// other documented ports, and serves the CLI on dn_rpc_port once it has
// joined (as IoTDB opens its client RPC service last).

import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:net';
import { ConfigError, NodeConfig, readVersion, type DataNodeSettings, type VersionInfo } from './config.js';
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
  writeIdentity,
  writePidFile,
  type Identity,
} from './node-base.js';
import { describeOccupied, occupiedPorts } from './ports.js';
import { call, CallError, formatEndpoint, parseEndpoint, serve, type Endpoint, type Json, type Message } from './rpc.js';
import { CLUSTER_KEYS, type ClusterParams } from './spec.js';
import type { NodeInfo, NodeStatus } from './state.js';
import { executeStatement, StatementError, type ClusterView, type StatementContext } from './statements.js';

const LOGGER = 'o.a.i.db.service.DataNode';
const IDENTITY_FILE = 'system.properties';
export const JOIN_RETRIES = 10;

export interface StartOptions {
  home: string;
  confDir: string;
  pidFile: string;
  foreground: boolean;
}

export class DataNode {
  private readonly cfg: NodeConfig;
  private readonly dn: DataNodeSettings;
  private readonly params: ClusterParams;
  private readonly hb: number;
  private readonly log: NodeLog;
  private readonly ver: VersionInfo;
  private selfId = -1;
  private clusterId = '';
  private clusterName = '';
  /** ConfigNodes to talk to, best first; refreshed by every ConfigNode heartbeat. */
  private configNodes: Endpoint[] = [];
  private ready = false;
  private stopping = false;
  private servers: Server[] = [];
  private readonly sessions = new Map<string, string>();
  /** Logins that succeeded, so the CLI still works while no ConfigNode answers. */
  private readonly authCache = new Map<string, string>();
  private hotConfig: Map<string, string>;

  constructor(private readonly opts: StartOptions) {
    this.log = new NodeLog(join(opts.home, 'logs'), 'datanode', LOGGER, opts.foreground);
    this.ver = readVersion(opts.home);
    try {
      this.cfg = new NodeConfig(opts.home, opts.confDir);
      this.dn = this.cfg.dataNode();
      this.params = this.cfg.clusterParams();
      this.hb = this.cfg.heartbeatMs();
      this.hotConfig = this.cfg.hotReloadable();
    } catch (e) {
      this.log.error(`Failed to read the configuration: ${errorMessage(e)}`);
      throw e instanceof ConfigError ? e : new ConfigError(errorMessage(e));
    }
  }

  private get identityFile(): string {
    return join(this.dn.systemDir, IDENTITY_FILE);
  }

  private selfInfo(id: number): NodeInfo {
    return {
      id,
      type: 'DataNode',
      internalAddress: this.dn.internalAddress,
      internalPort: this.dn.internalPort,
      consensusPort: 0,
      rpcAddress: this.dn.rpcAddress,
      rpcPort: this.dn.rpcPort,
      mppPort: this.dn.mppPort,
      dataConsensusPort: this.dn.dataConsensusPort,
      schemaConsensusPort: this.dn.schemaConsensusPort,
      version: this.ver.version,
      buildInfo: this.ver.buildInfo,
      removing: false,
      removingSince: 0,
    };
  }

  // ---- start -------------------------------------------------------------

  async start(): Promise<void> {
    logBanner(this.log, 'datanode', this.cfg, this.ver);
    const identity = readIdentity(this.identityFile, 'data_node_id');
    if (identity) {
      const change = frozenKeyChange(identity, this.cfg);
      if (change) {
        this.fail(
          `Reject DataNode restart. Because the parameter ${change.key} in iotdb-system.properties (${change.now}) differs from the value this DataNode ` +
            `joined its cluster with (${change.recorded}, recorded in ${this.identityFile}). ${change.key} can't be modified after the first start.`,
          false,
        );
      }
    }

    const host = this.dn.internalAddress;
    const occupied = await occupiedPorts([
      { key: 'dn_rpc_port', host: this.dn.rpcAddress, port: this.dn.rpcPort },
      { key: 'dn_internal_port', host, port: this.dn.internalPort },
      { key: 'dn_mpp_data_exchange_port', host, port: this.dn.mppPort },
      { key: 'dn_data_region_consensus_port', host, port: this.dn.dataConsensusPort },
      { key: 'dn_schema_region_consensus_port', host, port: this.dn.schemaConsensusPort },
    ]);
    if (occupied.length > 0) {
      for (const o of occupied) this.log.error(describeOccupied(o));
      return this.fail('Exit because there are occupied ports.', false);
    }
    try {
      this.servers.push(await serve(host, this.dn.internalPort, (r) => this.handleInternal(r)));
      for (const port of [this.dn.mppPort, this.dn.dataConsensusPort, this.dn.schemaConsensusPort]) {
        this.servers.push(await serve(host, port, (r) => this.handleInternal(r)));
      }
    } catch (e) {
      return this.fail(`Failed to start the DataNode internal services: ${bindMessage(e)}`, false);
    }
    writePidFile(this.opts.pidFile);
    onTerminate((sig) => void this.shutdown(`received ${sig}`, 0));

    await this.join(identity);

    try {
      this.servers.push(await serve(this.dn.rpcAddress, this.dn.rpcPort, (r) => this.handleClient(r)));
    } catch (e) {
      return this.fail(`Failed to start the client RPC service on ${this.dn.rpcAddress}:${this.dn.rpcPort}: ${bindMessage(e)}`, true);
    }
    for (const d of [...this.dn.dataDirs, this.dn.consensusDir, ...this.dn.walDirs]) mkdirSync(d, { recursive: true });
    this.ready = true;
    this.log.info(`The DataNode is set up with NodeID=${this.selfId}, cluster "${this.clusterName}" (ClusterId ${this.clusterId}).`);
    this.log.info(`IoTDB-DataNode has successfully ${identity ? 'restarted' : 'started'} and joined the cluster: ${this.clusterName}.`);
    this.log.info('Congratulations, IoTDB DataNode is set up successfully. Now, enjoy yourself!');
  }

  private async join(identity: Identity | null): Promise<void> {
    const seeds = this.dn.seeds;
    const seedText = seeds.map(formatEndpoint).join(',');
    let candidates: Endpoint[];
    let request: Message;
    if (identity) {
      this.selfId = identity.nodeId;
      const known = (identity.props.get('config_node_list') ?? '')
        .split(',')
        .map((s) => parseEndpoint(s))
        .filter((e): e is Endpoint => e !== null);
      candidates = uniqueEndpoints([...known, ...seeds]);
      request = {
        op: 'restartNode',
        clusterName: this.params.cluster_name,
        clusterId: identity.clusterId,
        params: this.params as unknown as Json,
        node: this.selfInfo(identity.nodeId) as unknown as Json,
      };
      this.log.info(`DataNode NodeID=${identity.nodeId} is restarting; rejoining through the ConfigNodes it knows: ${candidates.map(formatEndpoint).join(', ')}`);
    } else {
      candidates = seeds;
      request = {
        op: 'registerNode',
        clusterName: this.params.cluster_name,
        params: this.params as unknown as Json,
        node: this.selfInfo(-1) as unknown as Json,
      };
      this.log.info('Pulling system configurations from the ConfigNode-leader...');
    }

    let answered: string | null = null;
    for (let attempt = 1; attempt <= JOIN_RETRIES && !this.stopping; attempt++) {
      const reasons: string[] = [];
      for (const ep of candidates) {
        try {
          const resp = await call(ep.host, ep.port, request, 10_000);
          if (resp.ok === true && typeof resp.nodeId === 'number') {
            this.accept(resp, identity);
            return;
          }
          if (resp.code === 'NOT_READY' || resp.code === 'NOT_LEADER') {
            answered = `${formatEndpoint(ep)}: ${String(resp.message ?? resp.code)}`;
            reasons.push(answered);
            continue;
          }
          this.fail(String(resp.message ?? resp.code), true);
        } catch (e) {
          if (!(e instanceof CallError)) throw e;
          reasons.push(
            identity
              ? `Cannot connect to ConfigNode ${formatEndpoint(ep)}: ${e.message}`
              : `Cannot connect to the seed ConfigNode ${formatEndpoint(ep)} (dn_seed_config_node): ${e.message}`,
          );
        }
      }
      this.log.warn(
        `${identity ? 'Cannot restart into the cluster' : 'Cannot pull system configurations from ConfigNode-leader'}, because: ${reasons.join('; ')}. Retry (${attempt}/${JOIN_RETRIES})...`,
      );
      await delay(this.hb);
    }
    if (answered !== null) {
      this.log.error(`No ConfigNode accepted this DataNode after ${JOIN_RETRIES} retries (last answer: ${answered}). More than half of the ConfigNodes must be alive.`);
    } else if (identity) {
      this.log.error(`Cannot connect to any ConfigNode known to this DataNode (${candidates.map(formatEndpoint).join(', ')}) after ${JOIN_RETRIES} retries.`);
    } else {
      this.log.error(
        `Cannot connect to the seed ConfigNode ${seedText} after ${JOIN_RETRIES} retries. Please check whether dn_seed_config_node in iotdb-system.properties is correct and the ConfigNode is alive.`,
      );
    }
    this.fail(`Cannot register into cluster after ${JOIN_RETRIES} retries.`, true);
  }

  private accept(resp: Message, identity: Identity | null): void {
    const state = resp.state as unknown as { clusterId: string; clusterName: string; nodes: NodeInfo[] } | null;
    this.selfId = resp.nodeId as number;
    this.clusterId = state?.clusterId ?? identity?.clusterId ?? '';
    this.clusterName = state?.clusterName ?? this.params.cluster_name;
    if (state) {
      this.configNodes = state.nodes
        .filter((n) => n.type === 'ConfigNode' && !n.removing)
        .map((n) => ({ host: n.internalAddress, port: n.internalPort }));
    }
    if (this.configNodes.length === 0) this.configNodes = [...this.dn.seeds];
    this.log.info(identity ? `Accept Node restart. NodeID=${this.selfId}.` : `Successfully registered into the cluster with NodeID=${this.selfId}.`);
    this.persistIdentity();
  }

  private persistIdentity(): void {
    const entries: Array<[string, string]> = [
      ['iotdb_version', this.ver.version],
      ['build_info', this.ver.buildInfo],
      ['data_node_id', String(this.selfId)],
      ['cluster_name', this.clusterName],
      ['cluster_id', this.clusterId],
      ['config_node_list', this.configNodes.map(formatEndpoint).join(',')],
      ['dn_rpc_address', this.dn.rpcAddress],
      ['dn_rpc_port', String(this.dn.rpcPort)],
      ['dn_internal_address', this.dn.internalAddress],
      ['dn_internal_port', String(this.dn.internalPort)],
      ['dn_mpp_data_exchange_port', String(this.dn.mppPort)],
      ['dn_data_region_consensus_port', String(this.dn.dataConsensusPort)],
      ['dn_schema_region_consensus_port', String(this.dn.schemaConsensusPort)],
    ];
    for (const k of CLUSTER_KEYS) if (k !== 'cluster_name') entries.push([k, this.params[k]]);
    try {
      writeIdentity(this.identityFile, entries);
    } catch (e) {
      this.log.error(`Failed to write ${this.identityFile}: ${errorMessage(e)}`);
    }
  }

  // ---- talking to ConfigNodes -----------------------------------------------

  private async askConfigNode(req: Message): Promise<Message> {
    const reasons: string[] = [];
    for (const ep of uniqueEndpoints([...this.configNodes, ...this.dn.seeds])) {
      try {
        const resp = await call(ep.host, ep.port, req, 5000);
        if (resp.code === 'NOT_READY' || resp.code === 'NOT_LEADER') {
          reasons.push(`${formatEndpoint(ep)}: ${String(resp.message ?? resp.code)}`);
          continue;
        }
        // Prefer the ConfigNode that answered next time.
        this.configNodes = uniqueEndpoints([ep, ...this.configNodes]);
        return resp;
      } catch (e) {
        reasons.push(`${formatEndpoint(ep)}: ${errorMessage(e)}`);
      }
    }
    this.log.warn(`Fail to connect to any config node: ${reasons.join('; ')}`, 'ClientRPC-Service');
    throw new StatementError(
      1000,
      'Fail to connect to any config node. Please check server status: more than half of the ConfigNodes must be alive (see the logs of the connected DataNode).',
    );
  }

  private async clusterView(): Promise<ClusterView> {
    const resp = await this.askConfigNode({ op: 'getCluster' });
    if (resp.ok !== true) throw new StatementError(1000, String(resp.message ?? resp.code));
    return {
      leaderId: typeof resp.leaderId === 'number' ? resp.leaderId : null,
      clusterName: String(resp.clusterName),
      clusterId: String(resp.clusterId),
      params: resp.params as unknown as ClusterParams,
      nodes: resp.nodes as unknown as Array<NodeInfo & { status: NodeStatus }>,
    };
  }

  // ---- requests -------------------------------------------------------------

  private async handleInternal(req: Message): Promise<Message> {
    switch (req.op) {
      case 'heartbeat': {
        if (!this.ready) return { ok: false, code: 'NOT_READY', message: 'The DataNode is starting.' };
        if (req.clusterId !== this.clusterId || req.nodeId !== this.selfId) return { ok: false, code: 'MISMATCH', message: 'not this node' };
        if (Array.isArray(req.configNodes)) {
          const list = req.configNodes.map((s) => parseEndpoint(String(s))).filter((e): e is Endpoint => e !== null);
          const before = this.configNodes.map(formatEndpoint).sort().join(',');
          if (list.length > 0 && list.map(formatEndpoint).sort().join(',') !== before) {
            this.configNodes = list;
            this.persistIdentity();
          }
        }
        return { ok: true, nodeId: this.selfId, version: this.ver.version };
      }
      case 'status':
        return { ok: true, role: 'DataNode', nodeId: this.selfId, ready: this.ready, clusterId: this.clusterId, version: this.ver.version };
      case 'stop':
        if (req.clusterId === this.clusterId && req.nodeId === this.selfId) {
          setImmediate(() => void this.shutdown(`this DataNode (NodeID=${this.selfId}) has been removed from the cluster`, 0));
          return { ok: true };
        }
        return { ok: false, code: 'MISMATCH', message: 'not this node' };
      case 'loadConfiguration':
        this.reloadConfiguration();
        return { ok: true };
      default:
        return { ok: false, code: 'BAD_REQUEST', message: `unknown request ${String(req.op)}` };
    }
  }

  private async handleClient(req: Message): Promise<Message> {
    switch (req.op) {
      case 'login':
        return this.login(String(req.user ?? ''), String(req.password ?? ''));
      case 'execute': {
        const user = this.sessions.get(String(req.sessionId));
        if (user === undefined) return { ok: false, code: 'STATUS', status: 802, message: 'Log in failed. Either you are not authorized or the session has timed out.' };
        return this.execute(user, String(req.sql ?? ''));
      }
      case 'logout':
        this.sessions.delete(String(req.sessionId));
        return { ok: true };
      default:
        return { ok: false, code: 'BAD_REQUEST', message: `unknown request ${String(req.op)}` };
    }
  }

  private async login(user: string, password: string): Promise<Message> {
    let valid: boolean;
    try {
      const resp = await this.askConfigNode({ op: 'checkUser', user, password });
      valid = resp.ok === true && resp.valid === true;
      if (valid) this.authCache.set(user, password);
    } catch {
      valid = this.authCache.get(user) === password;
    }
    if (!valid) {
      this.log.warn(`Login failed for user ${user}: Authentication failed.`, 'ClientRPC-Service');
      return { ok: false, code: 'STATUS', status: 801, message: 'Authentication failed.' };
    }
    const sessionId = randomUUID();
    this.sessions.set(sessionId, user);
    return { ok: true, sessionId, version: this.ver.version, buildInfo: this.ver.buildInfo };
  }

  private async execute(user: string, sql: string): Promise<Message> {
    const ctx: StatementContext = {
      user,
      nodeId: this.selfId,
      version: this.ver,
      cluster: () => this.clusterView(),
      reloadLocal: () => this.reloadConfiguration(),
      reloadCluster: async () => {
        const resp = await this.askConfigNode({ op: 'broadcastLoadConfiguration' });
        if (resp.ok !== true) throw new StatementError(301, String(resp.message ?? resp.code));
      },
      askConfigNode: (r) => this.askConfigNode(r),
    };
    const result = await executeStatement(ctx, sql);
    return { ok: true, result: result as unknown as Json };
  }

  private reloadConfiguration(): void {
    const fresh = new NodeConfig(this.opts.home, this.opts.confDir).hotReloadable();
    const changed: string[] = [];
    for (const [k, v] of fresh) if (this.hotConfig.get(k) !== v) changed.push(`${k}: ${this.hotConfig.get(k) ?? ''} -> ${v}`);
    this.hotConfig = fresh;
    this.log.info(`Hot-reloaded iotdb-system.properties: ${changed.length > 0 ? changed.join(', ') : 'no hot_reload parameter changed'}.`, 'ClientRPC-Service');
  }

  // ---- stop -----------------------------------------------------------------

  private fail(message: string, cleanup: boolean): never {
    this.log.error(message);
    this.log.error('Fail to start server. The DataNode exits.');
    if (cleanup) removePidFileIfOurs(this.opts.pidFile);
    process.exit(1);
  }

  async shutdown(reason: string, code: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info(`DataNode exiting... (${reason})`, 'DataNode-Shutdown-Hook');
    if (this.selfId >= 0 && this.ready) {
      // IoTDB's DataNode reports its shutdown so the ConfigNode-leader marks it Unknown at once.
      await Promise.all(
        uniqueEndpoints(this.configNodes).map((ep) =>
          call(ep.host, ep.port, { op: 'nodeShutdown', nodeId: this.selfId }, 500).catch(() => undefined),
        ),
      );
    }
    await closeAll(this.servers, 1000);
    removePidFileIfOurs(this.opts.pidFile);
    this.log.info(`DataNode NodeID=${this.selfId} exits.`, 'DataNode-Shutdown-Hook');
    process.exit(code);
  }
}

function bindMessage(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code === 'EADDRINUSE' ? 'java.net.BindException: Address already in use' : errorMessage(e);
}

function uniqueEndpoints(list: Endpoint[]): Endpoint[] {
  const seen = new Set<string>();
  return list.filter((e) => {
    const k = formatEndpoint(e);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export async function runDataNode(opts: StartOptions): Promise<void> {
  let node: DataNode;
  try {
    node = new DataNode(opts);
  } catch (e) {
    if (opts.foreground) process.stderr.write(`${errorMessage(e)}\n`);
    process.exit(1);
  }
  await node.start();
}
