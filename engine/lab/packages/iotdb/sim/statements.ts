// The statements a simulated DataNode understands, as one table.
//
// Extension point: a later feature (standalone-mode data, `create pipe`,
// `show pipes`, `insert into`, `select`) adds entries to STATEMENTS. Each entry
// matches the normalised statement text and returns a table, a plain success,
// or throws StatementError with an IoTDB status code. Replicated cluster-wide
// data (pipes, databases) belongs in ClusterState.extensions on the
// ConfigNodes: ctx.askConfigNode({ op: 'setExtension', key, value }) stores it
// through the ConfigNode-leader, ({ op: 'getExtension', key }) reads it back.

import type { VersionInfo } from './config.js';
import type { Message } from './rpc.js';
import type { ClusterParams } from './spec.js';
import type { NodeInfo, NodeStatus } from './state.js';
import { DATA_STATEMENTS } from './data.js';
import { PIPE_STATEMENTS } from './pipes.js';

export interface ClusterView {
  leaderId: number | null;
  clusterName: string;
  clusterId: string;
  params: ClusterParams;
  nodes: Array<NodeInfo & { status: NodeStatus }>;
}

export interface StatementContext {
  user: string;
  nodeId: number;
  version: VersionInfo;
  cluster(): Promise<ClusterView>;
  reloadLocal(): void;
  reloadCluster(): Promise<void>;
  askConfigNode(req: Message): Promise<Message>;
}

export type StatementResult =
  | { kind: 'table'; headers: string[]; rows: string[][] }
  | { kind: 'ok' }
  | { kind: 'error'; code: number; message: string };

/** An IoTDB status code and message, printed by the CLI as `Msg: <code>: <message>`. */
export class StatementError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export interface StatementHandler {
  /** The statement's shape, for documentation and the parse error hint. */
  syntax: string;
  match: RegExp;
  run(ctx: StatementContext, m: RegExpMatchArray): Promise<StatementResult>;
}

const table = (headers: string[], rows: Array<Array<string | number>>): StatementResult => ({
  kind: 'table',
  headers,
  rows: rows.map((r) => r.map(String)),
});

function sortedNodes(view: ClusterView): Array<NodeInfo & { status: NodeStatus }> {
  const byId = (a: NodeInfo, b: NodeInfo): number => a.id - b.id;
  return [...view.nodes.filter((n) => n.type === 'ConfigNode').sort(byId), ...view.nodes.filter((n) => n.type === 'DataNode').sort(byId)];
}

export const STATEMENTS: StatementHandler[] = [
  {
    syntax: 'SHOW CLUSTER DETAILS',
    match: /^show\s+cluster\s+details$/i,
    async run(ctx) {
      const view = await ctx.cluster();
      // Columns exactly as the document's 3C3D sample.
      return table(
        ['NodeID', 'NodeType', 'Status', 'InternalAddress', 'InternalPort', 'ConfigConsensusPort', 'RpcAddress', 'RpcPort', 'MppPort', 'SchemaConsensusPort', 'DataConsensusPort'],
        sortedNodes(view).map((n) =>
          n.type === 'ConfigNode'
            ? [n.id, n.type, n.status, n.internalAddress, n.internalPort, n.consensusPort, '', '', '', '', '']
            : [n.id, n.type, n.status, n.internalAddress, n.internalPort, '', n.rpcAddress, n.rpcPort, n.mppPort, n.schemaConsensusPort, n.dataConsensusPort],
        ),
      );
    },
  },
  {
    syntax: 'SHOW CLUSTER',
    match: /^show\s+cluster$/i,
    async run(ctx) {
      const view = await ctx.cluster();
      return table(
        ['NodeID', 'NodeType', 'Status', 'InternalAddress', 'InternalPort', 'Version', 'BuildInfo'],
        sortedNodes(view).map((n) => [n.id, n.type, n.status, n.internalAddress, n.internalPort, n.version, n.buildInfo]),
      );
    },
  },
  {
    syntax: 'SHOW CONFIGNODES',
    match: /^show\s+confignodes$/i,
    async run(ctx) {
      const view = await ctx.cluster();
      return table(
        ['NodeID', 'Status', 'InternalAddress', 'InternalPort', 'Role'],
        sortedNodes(view)
          .filter((n) => n.type === 'ConfigNode')
          .map((n) => [n.id, n.status, n.internalAddress, n.internalPort, n.id === view.leaderId ? 'Leader' : 'Follower']),
      );
    },
  },
  {
    syntax: 'SHOW DATANODES',
    match: /^show\s+datanodes$/i,
    async run(ctx) {
      const view = await ctx.cluster();
      // The simulator has no regions; the counts stay 0.
      return table(
        ['NodeID', 'Status', 'RpcAddress', 'RpcPort', 'DataRegionNum', 'SchemaRegionNum'],
        sortedNodes(view)
          .filter((n) => n.type === 'DataNode')
          .map((n) => [n.id, n.status, n.rpcAddress, n.rpcPort, 0, 0]),
      );
    },
  },
  {
    syntax: 'SHOW VERSION',
    match: /^show\s+version$/i,
    async run(ctx) {
      return table(['Version', 'BuildInfo'], [[ctx.version.version, ctx.version.buildInfo]]);
    },
  },
  {
    syntax: 'SHOW VARIABLES',
    match: /^show\s+variables$/i,
    async run(ctx) {
      const v = await ctx.cluster();
      return table(
        ['Variable', 'Value'],
        [
          ['ClusterName', v.clusterName],
          ['DataReplicationFactor', v.params.data_replication_factor],
          ['SchemaReplicationFactor', v.params.schema_replication_factor],
          ['DataRegionConsensusProtocolClass', v.params.data_region_consensus_protocol_class],
          ['SchemaRegionConsensusProtocolClass', v.params.schema_region_consensus_protocol_class],
          ['ConfigNodeConsensusProtocolClass', v.params.config_node_consensus_protocol_class],
        ],
      );
    },
  },
  {
    syntax: 'SHOW CLUSTERID',
    match: /^show\s+clusterid$/i,
    async run(ctx) {
      return table(['ClusterId'], [[(await ctx.cluster()).clusterId]]);
    },
  },
  {
    syntax: 'LOAD CONFIGURATION [ON LOCAL | ON CLUSTER]',
    match: /^load\s+configuration(?:\s+on\s+(local|cluster))?$/i,
    async run(ctx, m) {
      // The iotdbctl `reload` command runs this on every node in turn, so the default is this node only.
      if ((m[1] ?? 'local').toLowerCase() === 'cluster') await ctx.reloadCluster();
      else ctx.reloadLocal();
      return { kind: 'ok' };
    },
  },
];

/** Collapse whitespace and drop a trailing semicolon, as the CLI sends statements. */
export function normalise(sql: string): string {
  return sql.replace(/[\s;]+$/, '').trim().replace(/\s+/g, ' ');
}

/**
 * The core table, then the features registered on it. Read at call time:
 * those modules import this one, so their tables may not exist yet while
 * this module is being evaluated.
 */
function handlers(): StatementHandler[] {
  return [...STATEMENTS, ...DATA_STATEMENTS, ...PIPE_STATEMENTS];
}

export async function executeStatement(ctx: StatementContext, sql: string): Promise<StatementResult> {
  const text = normalise(sql);
  for (const h of handlers()) {
    const m = text.match(h.match);
    if (!m) continue;
    try {
      return await h.run(ctx, m);
    } catch (e) {
      if (e instanceof StatementError) return { kind: 'error', code: e.code, message: e.message };
      return { kind: 'error', code: 500, message: e instanceof Error ? e.message : String(e) };
    }
  }
  return { kind: 'error', code: 700, message: `Error occurred while parsing SQL to physical plan: line 1:0 no viable alternative at input '${text}'` };
}
