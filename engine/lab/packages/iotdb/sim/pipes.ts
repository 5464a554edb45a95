// Pipes in the simulated IoTDB: `create pipe … with source (…) with sink (…)`,
// `show pipes`, `start pipe`, `stop pipe`, `drop pipe`, and the work behind
// them, as the dual-active document uses them (pipe AB on A sends what A's
// clients write to B; pipe BA the other way).
//
// - Pipe metadata is cluster-wide, kept by the ConfigNodes (the `pipes` key of
//   ClusterState.extensions), as IoTDB keeps it.
// - Every DataNode runs a pipe agent (started with the node, node-services.ts)
//   that sends the writes *it* accepted (data.ts keeps one log per DataNode)
//   to the sink, in order, and records how far it got per pipe, so a pipe
//   whose receiver is down catches up when it is back, and a new pipe also
//   sends what was written before it (IoTDB's 'source.history.enable'
//   defaults to true).
// - 'source.forwarding-pipe-requests' = 'false' leaves out writes that
//   arrived through a pipe; that is what stops A → B → A loops.
// - The thrift sink logs in to the receiving DataNode's client port with
//   'sink.user'/'sink.password' (root/root by default) and hands over a batch.
//   IoTDB has a dedicated pipeTransfer call on that port; the simulator's
//   client service only knows login/execute/logout, so a batch travels as the
//   internal statement `PIPE TRANSFER <base64 json>`, which the receiving
//   DataNode stores as pipe-written data.
//
// Left out: processors other than do-nothing-processor, sinks other than the
// IoTDB thrift sinks, 'source.realtime.enable', schema and deletion transfer.

import { readIdentity } from './node-base.js';
import type { NodeConfig } from './config.js';
import type { NodeLog } from './log.js';
import { call, formatEndpoint, parseEndpoint, type Endpoint, type Json, type Message } from './rpc.js';
import { appendWrites, ClusterStore, isoTime, onWrites, readWrites, serialised, splitTopLevel, storeOf, type NewWrite, type WriteEvent } from './data.js';
import { StatementError, type StatementContext, type StatementHandler, type StatementResult } from './statements.js';

type Attributes = Record<string, string>;
export type PipeState = 'RUNNING' | 'STOPPED';

export interface PipeMeta {
  name: string;
  creationTime: number;
  state: PipeState;
  source: Attributes;
  processor: Attributes;
  sink: Attributes;
  /** With 'source.history.enable' = 'false': per DataNode id, the last write that existed at creation (not sent). */
  startAfter: Record<string, number>;
}

const PIPES_KEY = 'pipes';
/** IoTDB reports pipe failures with status 1107 (PIPE_ERROR). */
const PIPE_ERROR = 1107;
const THRIFT_SINKS = ['iotdb-thrift-sink', 'iotdb-thrift-connector', 'iotdb-thrift-sync-sink', 'iotdb-thrift-async-sink', 'iotdb-thrift-sync-connector', 'iotdb-thrift-async-connector'];
const PROCESSORS = ['do-nothing-processor'];
/** Writes per transfer: small enough for one protocol line, big enough for a catch-up. */
const BATCH = 200;

const progressKey = (p: PipeMeta, dn: number): string => `pipe-progress:${p.name}:${p.creationTime}:dn${dn}`;
const errorKey = (p: PipeMeta, dn: number): string => `pipe-error:${p.name}:${p.creationTime}:dn${dn}`;

// ---------------------------------------------------------------------------
// Metadata

async function readPipes(store: ClusterStore): Promise<Record<string, PipeMeta>> {
  const v = await store.get(PIPES_KEY);
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as unknown as Record<string, PipeMeta>) : {};
}

/** Change the pipe table; one change at a time in this process (another DataNode's are rare: they come from clients). */
function changePipes<T>(store: ClusterStore, change: (pipes: Record<string, PipeMeta>) => Promise<T> | T): Promise<T> {
  return serialised(PIPES_KEY, async () => {
    const pipes = await readPipes(store);
    const result = await change(pipes);
    await store.set(PIPES_KEY, pipes as unknown as Json);
    return result;
  });
}

/** source/processor/sink attributes as IoTDB prints them: a Java map's toString. */
function showAttributes(a: Attributes): string {
  return `{${Object.entries(a)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ')}}`;
}

/** 'extractor.x' is the older name of 'source.x', 'connector.x' of 'sink.x'; lookups use the new names. */
function attr(a: Attributes, section: 'source' | 'sink', key: string): string | undefined {
  const old = section === 'source' ? 'extractor' : 'connector';
  return a[`${section}.${key}`] ?? a[`${old}.${key}`];
}

function plugin(a: Attributes, section: 'source' | 'processor' | 'sink'): string | undefined {
  const old = section === 'source' ? 'extractor' : section === 'sink' ? 'connector' : section;
  return a[section] ?? a[old];
}

/** A true/false source attribute; create pipe refuses anything else, so later readers never see it. */
function flag(a: Attributes, key: string, dflt: boolean, pipe: string): boolean {
  const v = attr(a, 'source', key);
  if (v === undefined) return dflt;
  if (/^true$/i.test(v)) return true;
  if (/^false$/i.test(v)) return false;
  throw new StatementError(PIPE_ERROR, `Failed to create pipe ${pipe}: 'source.${key}' must be 'true' or 'false', not '${v}'`);
}

/** Where the sink sends: 'sink.node-urls' (host:port, …) or 'sink.ip' with 'sink.port'. */
export function sinkEndpoints(sink: Attributes, pipe: string): Endpoint[] {
  const urls = attr(sink, 'sink', 'node-urls');
  const ip = attr(sink, 'sink', 'ip');
  const port = attr(sink, 'sink', 'port');
  if (urls !== undefined) {
    const list = urls.split(',').map((u) => u.trim()).filter((u) => u !== '');
    const eps = list.map((u) => parseEndpoint(u));
    if (eps.length === 0 || eps.some((e) => e === null)) {
      throw new StatementError(PIPE_ERROR, `Failed to create pipe ${pipe}: 'sink.node-urls' must be host:port[,host:port…], not '${urls}'`);
    }
    return eps as Endpoint[];
  }
  if (ip === undefined || port === undefined) {
    throw new StatementError(PIPE_ERROR, `Failed to create pipe ${pipe}: the sink needs 'sink.node-urls', or 'sink.ip' and 'sink.port' (the receiving DataNode's dn_rpc_address and dn_rpc_port)`);
  }
  if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw new StatementError(PIPE_ERROR, `Failed to create pipe ${pipe}: 'sink.port' must be a port number, not '${port}'`);
  }
  return [{ host: ip, port: Number(port) }];
}

// ---------------------------------------------------------------------------
// CREATE PIPE

/** `with source ( 'k' = 'v', … )` clauses after the pipe name. */
function parseClauses(rest: string, pipe: string): Record<'source' | 'processor' | 'sink', Attributes> {
  const out: Record<'source' | 'processor' | 'sink', Attributes> = { source: {}, processor: {}, sink: {} };
  const seen = new Set<string>();
  let text = rest.trim();
  while (text !== '') {
    const head = /^with\s+(source|extractor|processor|sink|connector)\s*\(/i.exec(text);
    if (!head) throw new StatementError(700, `Error occurred while parsing SQL to physical plan: expected WITH SOURCE (…), WITH PROCESSOR (…) or WITH SINK (…) in pipe ${pipe}, at: ${text.slice(0, 60)}`);
    const word = head[1]!.toLowerCase();
    const section = word === 'extractor' ? 'source' : word === 'connector' ? 'sink' : (word as 'source' | 'processor' | 'sink');
    if (seen.has(section)) throw new StatementError(700, `Error occurred while parsing SQL to physical plan: pipe ${pipe} has two ${section} clauses`);
    seen.add(section);
    // Find the closing parenthesis outside quotes.
    let i = head[0].length;
    let quote: string | null = null;
    let depth = 1;
    for (; i < text.length && depth > 0; i++) {
      const c = text[i]!;
      if (quote) {
        if (c === quote) quote = null;
      } else if (c === "'" || c === '"') quote = c;
      else if (c === '(') depth++;
      else if (c === ')') depth--;
    }
    if (depth !== 0) throw new StatementError(700, `Error occurred while parsing SQL to physical plan: the ${section} clause of pipe ${pipe} is not closed with )`);
    const inner = text.slice(head[0].length, i - 1);
    for (const pair of splitTopLevel(inner)) {
      const m = /^(['"])(.+?)\1\s*=\s*(['"])(.*)\3$/s.exec(pair);
      if (!m) throw new StatementError(700, `Error occurred while parsing SQL to physical plan: ${pair} in the ${section} clause of pipe ${pipe} is not 'key' = 'value'`);
      out[section][m[2]!] = m[4]!;
    }
    text = text.slice(i).trim();
  }
  if (!seen.has('sink')) throw new StatementError(700, `Error occurred while parsing SQL to physical plan: pipe ${pipe} needs a WITH SINK (…) clause`);
  return out;
}

async function createPipe(ctx: StatementContext, ifNotExists: boolean, rawName: string, rest: string): Promise<StatementResult> {
  const name = rawName.replace(/^`|`$/g, '');
  const clauses = parseClauses(rest, name);
  const sinkPlugin = plugin(clauses.sink, 'sink');
  if (sinkPlugin === undefined) throw new StatementError(PIPE_ERROR, `Failed to create pipe ${name}: the sink has no 'sink' attribute naming its plugin, e.g. 'sink'='iotdb-thrift-sink'`);
  if (!THRIFT_SINKS.includes(sinkPlugin.toLowerCase())) {
    throw new StatementError(PIPE_ERROR, `Failed to create pipe ${name}: the sink plugin ${sinkPlugin} is not available in the simulated IoTDB (it has ${THRIFT_SINKS.join(', ')})`);
  }
  const processor = plugin(clauses.processor, 'processor');
  if (processor !== undefined && !PROCESSORS.includes(processor.toLowerCase())) {
    throw new StatementError(PIPE_ERROR, `Failed to create pipe ${name}: the processor plugin ${processor} is not available in the simulated IoTDB (it has ${PROCESSORS.join(', ')})`);
  }
  sinkEndpoints(clauses.sink, name);
  flag(clauses.source, 'forwarding-pipe-requests', true, name);
  const history = flag(clauses.source, 'history.enable', true, name);

  const store = storeOf(ctx);
  const startAfter: Record<string, number> = {};
  if (!history) {
    for (const n of (await ctx.cluster()).nodes) {
      if (n.type !== 'DataNode') continue;
      const writes = await readWrites(store, n.id);
      startAfter[String(n.id)] = writes.at(-1)?.seq ?? 0;
    }
  }
  const created = await changePipes(store, (pipes) => {
    if (pipes[name]) {
      if (ifNotExists) return false;
      throw new StatementError(PIPE_ERROR, `Failed to create pipe ${name}, the pipe with the same name has been created`);
    }
    // IoTDB 1.3 starts a pipe as soon as it is created.
    pipes[name] = { name, creationTime: Date.now(), state: 'RUNNING', ...clauses, startAfter };
    return true;
  });
  if (created) kickAgent();
  return { kind: 'ok' };
}

// ---------------------------------------------------------------------------
// SHOW / START / STOP / DROP

async function showPipes(ctx: StatementContext, only?: string): Promise<StatementResult> {
  const store = storeOf(ctx);
  const pipes = Object.values(await readPipes(store))
    .filter((p) => only === undefined || p.name === only)
    .sort((a, b) => a.creationTime - b.creationTime);
  const dataNodes = (await ctx.cluster()).nodes.filter((n) => n.type === 'DataNode').map((n) => n.id);
  const rows: string[][] = [];
  for (const p of pipes) {
    const errors: string[] = [];
    for (const dn of dataNodes) {
      const e = await store.get(errorKey(p, dn));
      if (typeof e === 'string' && e !== '') errors.push(e);
    }
    rows.push([p.name, isoTime(p.creationTime), p.state, showAttributes(p.source), showAttributes(p.processor), showAttributes(p.sink), errors.join('; ')]);
  }
  kickAgent();
  return { kind: 'table', headers: ['ID', 'CreationTime', 'State', 'PipeSource', 'PipeProcessor', 'PipeSink', 'ExceptionMessage'], rows };
}

async function setState(ctx: StatementContext, rawName: string, state: PipeState): Promise<StatementResult> {
  const name = rawName.replace(/^`|`$/g, '');
  const verb = state === 'RUNNING' ? 'start' : 'stop';
  await changePipes(storeOf(ctx), (pipes) => {
    const p = pipes[name];
    if (!p) throw new StatementError(PIPE_ERROR, `Failed to ${verb} pipe ${name}, the pipe does not exist`);
    p.state = state;
  });
  kickAgent();
  return { kind: 'ok' };
}

async function dropPipe(ctx: StatementContext, ifExists: boolean, rawName: string): Promise<StatementResult> {
  const name = rawName.replace(/^`|`$/g, '');
  await changePipes(storeOf(ctx), (pipes) => {
    if (!pipes[name]) {
      if (ifExists) return;
      throw new StatementError(PIPE_ERROR, `Failed to drop pipe ${name}, the pipe does not exist`);
    }
    delete pipes[name];
  });
  return { kind: 'ok' };
}

// ---------------------------------------------------------------------------
// The receiving side

interface Transfer {
  pipe: string;
  clusterId: string;
  writes: Array<Pick<WriteEvent, 'device' | 'time' | 'values'>>;
}

let nodeLog: NodeLog | null = null;

async function receive(ctx: StatementContext, payload: string): Promise<StatementResult> {
  let t: Transfer;
  try {
    t = JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as Transfer;
  } catch {
    throw new StatementError(PIPE_ERROR, 'Pipe receiver: the transferred batch is not readable');
  }
  if (typeof t.pipe !== 'string' || typeof t.clusterId !== 'string' || !Array.isArray(t.writes)) {
    throw new StatementError(PIPE_ERROR, 'Pipe receiver: the transferred batch lacks pipe, clusterId or writes');
  }
  const writes: NewWrite[] = t.writes.map((w) => ({ device: w.device, time: w.time, values: w.values, origin: { pipe: t.pipe, clusterId: t.clusterId } }));
  await appendWrites(storeOf(ctx), ctx.nodeId, writes);
  // One line per batch: what operators (and tests) read to see what a pipe delivered.
  nodeLog?.info(`Pipe receiver: accepted ${writes.length} write(s) from pipe ${t.pipe} of cluster ${t.clusterId} (user ${ctx.user}).`, 'Pipe-Receiver');
  return { kind: 'ok' };
}

export const PIPE_STATEMENTS: StatementHandler[] = [
  {
    syntax: "CREATE PIPE [IF NOT EXISTS] <name> [WITH SOURCE ('k'='v', …)] [WITH PROCESSOR (…)] WITH SINK ('sink'='iotdb-thrift-sink', 'sink.ip'=…, 'sink.port'=…)",
    match: /^create\s+pipe\s+(if\s+not\s+exists\s+)?([A-Za-z_][A-Za-z0-9_]*|`[^`]+`)\s*(.*)$/i,
    run: (ctx, m) => createPipe(ctx, m[1] !== undefined, m[2]!, m[3]!),
  },
  {
    syntax: 'SHOW PIPES',
    match: /^show\s+pipes$/i,
    run: (ctx) => showPipes(ctx),
  },
  {
    syntax: 'SHOW PIPE <name>',
    match: /^show\s+pipe\s+([A-Za-z_][A-Za-z0-9_]*|`[^`]+`)$/i,
    run: (ctx, m) => showPipes(ctx, m[1]!.replace(/^`|`$/g, '')),
  },
  {
    syntax: 'START PIPE <name>',
    match: /^start\s+pipe\s+([A-Za-z_][A-Za-z0-9_]*|`[^`]+`)$/i,
    run: (ctx, m) => setState(ctx, m[1]!, 'RUNNING'),
  },
  {
    syntax: 'STOP PIPE <name>',
    match: /^stop\s+pipe\s+([A-Za-z_][A-Za-z0-9_]*|`[^`]+`)$/i,
    run: (ctx, m) => setState(ctx, m[1]!, 'STOPPED'),
  },
  {
    syntax: 'DROP PIPE [IF EXISTS] <name>',
    match: /^drop\s+pipe\s+(if\s+exists\s+)?([A-Za-z_][A-Za-z0-9_]*|`[^`]+`)$/i,
    run: (ctx, m) => dropPipe(ctx, m[1] !== undefined, m[2]!),
  },
  {
    syntax: 'PIPE TRANSFER <batch> (internal: what a thrift sink sends; stands for IoTDB\'s pipeTransfer call)',
    match: /^pipe\s+transfer\s+([A-Za-z0-9+/=]+)$/i,
    run: (ctx, m) => receive(ctx, m[1]!),
  },
];

// ---------------------------------------------------------------------------
// The sending side: one agent per DataNode process

let agent: PipeAgent | null = null;

/** Transfer soon (after a write, a new or restarted pipe), instead of waiting for the next round. */
export function kickAgent(): void {
  agent?.kick();
}

// Every stored write, a client's or a pipe receiver's (which this cluster's own pipes may forward).
onWrites(kickAgent);

export interface PipeAgentOptions {
  cfg: NodeConfig;
  log: NodeLog;
  /** Milliseconds between rounds (the heartbeat interval); a failing sink is retried every round. */
  intervalMs: number;
}

/** Start this DataNode's pipe agent; it lives as long as the process. */
export function startPipeAgent(opts: PipeAgentOptions): void {
  nodeLog = opts.log;
  agent = new PipeAgent(opts);
  agent.start();
}

class PipeAgent {
  private busy = false;
  private again = false;
  /** Last error reported per pipe, so the replicated error key is written only when it changes. */
  private readonly reported = new Map<string, string>();
  /** Whether this cluster has had pipes; until then a ConfigNode that cannot be asked is not the agent's to report. */
  private sawPipes = false;
  private lastProblem = '';

  constructor(private readonly o: PipeAgentOptions) {}

  start(): void {
    // The DataNode's servers keep the process alive; this timer must not.
    setInterval(() => this.kick(), this.o.intervalMs).unref();
    this.kick();
  }

  kick(): void {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    void this.rounds();
  }

  private async rounds(): Promise<void> {
    try {
      do {
        this.again = false;
        await this.round();
      } while (this.again);
      this.lastProblem = '';
    } catch (e) {
      // Retried next round, like every other failure here; said once, and only when there are pipes to
      // send for (a cluster without pipes must not log the agent's polling, e.g. while its ConfigNodes restart).
      const problem = e instanceof Error ? e.message : String(e);
      if (this.sawPipes && problem !== this.lastProblem) this.o.log.warn(`Pipe agent: ${problem}; retrying every ${this.o.intervalMs} ms`, 'Pipe-Agent');
      this.lastProblem = problem;
    } finally {
      this.busy = false;
    }
  }

  private identity(): { nodeId: number; clusterId: string; configNodes: Endpoint[] } | null {
    const id = readIdentity(`${this.o.cfg.dataNode().systemDir}/system.properties`, 'data_node_id');
    if (!id) return null;
    const configNodes = (id.props.get('config_node_list') ?? '')
      .split(',')
      .map((s) => parseEndpoint(s))
      .filter((e): e is Endpoint => e !== null);
    return { nodeId: id.nodeId, clusterId: id.clusterId, configNodes };
  }

  private async round(): Promise<void> {
    // Until the DataNode has joined there is no identity, and nothing of its own to send.
    const me = this.identity();
    if (!me) return;
    const store = new ClusterStore((req) => this.askConfigNode(me.configNodes, req));
    const pipes = Object.values(await readPipes(store));
    if (pipes.length > 0) this.sawPipes = true;
    const running = pipes.filter((p) => p.state === 'RUNNING');
    if (running.length === 0) return;
    const writes = await readWrites(store, me.nodeId);
    for (const p of running) await this.transfer(store, me, p, writes);
  }

  private async transfer(store: ClusterStore, me: { nodeId: number; clusterId: string }, p: PipeMeta, writes: WriteEvent[]): Promise<void> {
    const key = progressKey(p, me.nodeId);
    const saved = await store.get(key);
    let done = typeof saved === 'number' ? saved : (p.startAfter[String(me.nodeId)] ?? 0);
    const forwarding = flag(p.source, 'forwarding-pipe-requests', true, p.name);
    const pattern = attr(p.source, 'source', 'pattern') ?? attr(p.source, 'source', 'path') ?? 'root';
    const pending = writes.filter((w) => w.seq > done);
    while (pending.length > 0) {
      const batch = pending.splice(0, BATCH);
      const captured = batch.filter((w) => (forwarding || w.origin === null) && matches(w, pattern)).map((w) => pick(w, pattern));
      if (captured.length > 0) {
        try {
          const to = await this.send(p, { pipe: p.name, clusterId: me.clusterId, writes: captured });
          this.o.log.info(`Pipe ${p.name}: transferred ${captured.length} write(s) (up to #${batch.at(-1)!.seq}) to ${to}.`, 'Pipe-Agent');
        } catch (e) {
          await this.report(store, p, me.nodeId, e instanceof Error ? e.message : String(e));
          return;
        }
      }
      done = batch.at(-1)!.seq;
      await store.set(key, done);
    }
    await this.report(store, p, me.nodeId, '');
  }

  private async report(store: ClusterStore, p: PipeMeta, nodeId: number, message: string): Promise<void> {
    const id = `${p.name}@${p.creationTime}`;
    if ((this.reported.get(id) ?? '') === message) return;
    this.reported.set(id, message);
    await store.set(errorKey(p, nodeId), message === '' ? null : message);
    if (message !== '') this.o.log.warn(`Pipe ${p.name}: transfer failed, retrying every ${this.o.intervalMs} ms: ${message}`, 'Pipe-Agent');
    else this.o.log.info(`Pipe ${p.name}: transfers succeed again.`, 'Pipe-Agent');
  }

  /** Log in to a receiving DataNode and hand over one batch; returns where it went. */
  private async send(p: PipeMeta, t: Transfer): Promise<string> {
    const user = attr(p.sink, 'sink', 'user') ?? attr(p.sink, 'sink', 'username') ?? 'root';
    const password = attr(p.sink, 'sink', 'password') ?? 'root';
    const sql = `PIPE TRANSFER ${Buffer.from(JSON.stringify(t)).toString('base64')}`;
    const reasons: string[] = [];
    for (const ep of sinkEndpoints(p.sink, p.name)) {
      const where = formatEndpoint(ep);
      try {
        const login = await call(ep.host, ep.port, { op: 'login', user, password }, 10_000);
        if (login.ok !== true) {
          reasons.push(`${where}: login as ${user} failed: ${String(login.message ?? login.code)}`);
          continue;
        }
        try {
          const resp = await call(ep.host, ep.port, { op: 'execute', sessionId: login.sessionId ?? null, sql }, 30_000);
          const result = resp.result as unknown as StatementResult | undefined;
          if (resp.ok === true && result?.kind === 'ok') return where;
          reasons.push(`${where}: ${result?.kind === 'error' ? `${result.code}: ${result.message}` : String(resp.message ?? resp.code)}`);
        } finally {
          await call(ep.host, ep.port, { op: 'logout', sessionId: login.sessionId ?? null }, 2000).catch(() => undefined);
        }
      } catch (e) {
        reasons.push(`${where}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    throw new Error(`cannot reach the receiver: ${reasons.join('; ')}`);
  }

  /** The DataNode's own ConfigNode client is private to it; the agent asks the same ConfigNodes the same way. */
  private async askConfigNode(known: Endpoint[], req: Message): Promise<Message> {
    const seen = new Set<string>();
    const reasons: string[] = [];
    for (const ep of [...known, ...this.o.cfg.dataNode().seeds]) {
      const k = formatEndpoint(ep);
      if (seen.has(k)) continue;
      seen.add(k);
      try {
        const resp = await call(ep.host, ep.port, req, 5000);
        if (resp.code === 'NOT_READY' || resp.code === 'NOT_LEADER') {
          reasons.push(`${k}: ${String(resp.message ?? resp.code)}`);
          continue;
        }
        return resp;
      } catch (e) {
        reasons.push(`${k}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    throw new Error(`no ConfigNode answered (${reasons.join('; ')})`);
  }
}

/** Whether a write holds a series under the source's path pattern (a prefix, as IoTDB's 'source.pattern'). */
function matches(w: WriteEvent, pattern: string): boolean {
  return Object.keys(w.values).some((s) => `${w.device}.${s}`.startsWith(pattern));
}

function pick(w: WriteEvent, pattern: string): Transfer['writes'][number] {
  const values = Object.fromEntries(Object.entries(w.values).filter(([s]) => `${w.device}.${s}`.startsWith(pattern)));
  return { device: w.device, time: w.time, values };
}
