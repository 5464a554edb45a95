// The controller: reads controller.cfg, cluster.nodes and cluster.cfg,
// accepts agents whose controllerSite equals its localSite, collects data and
// compute node heartbeats, starts and stops nodes through their server's
// agent, answers getClusterPerf(), the license functions for the whole
// cluster, and keeps the DFS metadata (DFSMetaLog.0, DFSMasterMetaCheckpoint.0)
// in <dfsMetaDir>, default clusterDemo/dfsMeta.

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseClusterNodes, parseSite, readCfg, type ClusterMember, type Site } from './cfg.js';
import { admin, DOWN_AFTER_MS, Fatal, HEARTBEAT_MS, licenseRow, LICENSE_COLUMNS, MODE_CODE, names, Proc, str } from './base.js';
import { adoptMeta, CHECKPOINT_EVERY, readMeta, writeMeta } from './meta.js';
import { call, type Json, type Message } from './rpc.js';
import { scalarText, ScriptError, type Fn, type Table, type Value } from './script.js';

interface Seen {
  lastSeen: number;
  version: string;
  /** A start was asked for; counts against the license until it comes up or this passes. */
  startingUntil: number;
  stopped: boolean;
}

const LOG_WHAT = 'DFS meta log';
const CHECKPOINT_WHAT = 'DFS master meta checkpoint';

export class Controller extends Proc {
  private mySite!: Site;
  private members: ClusterMember[] = [];
  private readonly seen = new Map<string, Seen>();
  private metaDir = '';
  private databases = new Map<string, string>();
  private logEntries: string[] = [];

  constructor(args: Map<string, string>) {
    super('controller', args);
  }

  get site(): Site {
    return this.mySite;
  }

  controllerSite(): Site {
    return this.mySite;
  }

  private get clusterCfgPath(): string {
    return resolve(this.args.get('clusterConfig') ?? 'config/cluster.cfg');
  }

  async start(): Promise<void> {
    const cfg = readCfg(resolve(this.args.get('config') ?? 'config/controller.cfg'));
    const site = parseSite(cfg.get('localSite') ?? '');
    if (site === undefined) throw new Fatal(`localSite in ${this.args.get('config')} must be address:port:alias, not ${JSON.stringify(cfg.get('localSite') ?? '')}`);
    this.mySite = site;
    this.begin();

    const nodesFile = resolve(this.args.get('nodesFile') ?? 'config/cluster.nodes');
    let text: string;
    try {
      text = readFileSync(nodesFile, 'utf8');
    } catch (e) {
      throw new Fatal(`Failed to open the nodes file ${nodesFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    const nodes = parseClusterNodes(text);
    // The document's FAQ: a blank first line shows up as this misleading bind error.
    if (!nodes.ok && nodes.blankFirstLine) throw new Fatal(`Failed to bind the socket on port ${site.port} with error code 98`);
    if (!nodes.ok) throw new Fatal(nodes.message);
    this.members = nodes.members;
    this.log.info(`cluster.nodes: ${this.members.map((m) => `${m.site.alias} (${m.mode})`).join(', ')}`);

    this.metaDir = resolve(cfg.get('dfsMetaDir') ?? 'dfsMeta');
    for (const [file, what] of [
      ['DFSMasterMetaCheckpoint.0', CHECKPOINT_WHAT],
      ['DFSMetaLog.0', LOG_WHAT],
    ] as const) {
      let note: string | undefined;
      try {
        note = adoptMeta(join(this.metaDir, file), what, this.version.version);
      } catch (e) {
        throw new Fatal(e instanceof Error ? e.message : String(e));
      }
      if (note) this.log.info(note);
    }
    this.loadMeta();
    await this.listen();
    this.every(HEARTBEAT_MS, async () => this.sweep());
  }

  private loadMeta(): void {
    for (const name of readMeta(join(this.metaDir, 'DFSMasterMetaCheckpoint.0'))?.entries ?? []) {
      const [db, ...scheme] = name.split(' ');
      this.databases.set(db!, scheme.join(' '));
    }
    this.logEntries = readMeta(join(this.metaDir, 'DFSMetaLog.0'))?.entries ?? [];
    for (const e of this.logEntries) {
      const [op, db, ...scheme] = e.split(' ');
      if (op === 'create') this.databases.set(db!, scheme.join(' '));
      else if (op === 'drop') this.databases.delete(db!);
    }
  }

  /** Log state changes once: a node that stopped beating is down. */
  private async sweep(): Promise<void> {
    for (const m of this.members) {
      const s = this.seen.get(m.site.alias);
      if (s && !s.stopped && Date.now() - s.lastSeen > DOWN_AFTER_MS && s.lastSeen > 0) {
        s.stopped = true;
        this.log.warn(`${m.mode === 'agent' ? 'Agent' : 'Node'} ${m.site.alias} missed its heartbeats for ${DOWN_AFTER_MS} ms; it is down`);
      }
    }
  }

  private up(alias: string): boolean {
    const s = this.seen.get(alias);
    return s !== undefined && !s.stopped && Date.now() - s.lastSeen <= DOWN_AFTER_MS;
  }

  private member(alias: string): ClusterMember | undefined {
    return this.members.find((m) => m.site.alias === alias);
  }

  private heard(alias: string, version: string): boolean {
    const s = this.seen.get(alias) ?? { lastSeen: 0, version, startingUntil: 0, stopped: true };
    const wasUp = this.up(alias);
    s.lastSeen = Date.now();
    s.version = version;
    s.stopped = false;
    s.startingUntil = 0;
    this.seen.set(alias, s);
    return !wasUp;
  }

  /** Data and compute nodes that run or were asked to start. */
  private running(except: string[] = []): string[] {
    return this.members
      .filter((m) => m.mode !== 'agent' && !except.includes(m.site.alias))
      .filter((m) => this.up(m.site.alias) || (this.seen.get(m.site.alias)?.startingUntil ?? 0) > Date.now())
      .map((m) => m.site.alias);
  }

  override async handle(req: Message): Promise<Message> {
    const op = req['op'];
    const site = parseSite(String(req['site'] ?? ''));
    switch (op) {
      case 'agentHeartbeat': {
        const cs = String(req['controllerSite'] ?? '');
        if (site === undefined) return { ok: false, message: 'bad site' };
        if (cs !== this.mySite.text) {
          return { ok: false, message: `controllerSite=${cs} of agent ${site.text} does not match the controller's localSite=${this.mySite.text}` };
        }
        const m = this.member(site.alias);
        if (m === undefined || m.mode !== 'agent' || m.site.text !== site.text) {
          return { ok: false, message: `agent ${site.text} is not an agent in cluster.nodes of controller ${this.mySite.text}` };
        }
        if (this.heard(site.alias, String(req['version'] ?? ''))) this.log.info(`Agent ${site.alias} (${site.text}) registered`);
        return { ok: true };
      }
      case 'nodeHello': {
        const m = site && this.member(site.alias);
        if (!site || !m || m.mode !== req['mode'] || m.site.text !== site.text) {
          return { ok: false, message: `${String(req['site'])} is not a ${String(req['mode'])} in cluster.nodes of controller ${this.mySite.text}` };
        }
        let clusterCfg: string;
        try {
          clusterCfg = readFileSync(this.clusterCfgPath, 'utf8');
        } catch (e) {
          return { ok: false, message: `the controller cannot read ${this.clusterCfgPath}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` };
        }
        return { ok: true, clusterCfg, clusterCfgPath: this.clusterCfgPath, running: this.running([site.alias]).length };
      }
      case 'nodeHeartbeat': {
        const m = site && this.member(site.alias);
        if (!site || !m || m.site.text !== site.text) return { ok: false, message: 'not a member of this cluster' };
        if (this.heard(site.alias, String(req['version'] ?? ''))) this.log.info(`Node ${site.alias} (${m.mode}) is up`);
        return { ok: true };
      }
      case 'nodeBye': {
        const s = site && this.seen.get(site.alias);
        if (s) {
          s.startingUntil = 0;
          if (!s.stopped) this.log.info(`Node ${site.alias} stopped`);
          s.stopped = true;
        }
        return { ok: true };
      }
      case 'allLicenses':
        try {
          return { ok: true, table: (await this.allLicenses(req['update'] === true)) as unknown as Json };
        } catch (e) {
          return { ok: false, message: e instanceof Error ? e.message : String(e) };
        }
      case 'dfs':
        try {
          return { ok: true, value: (await this.dfs(String(req['fn']), req['args'] as Value[])) as Json };
        } catch (e) {
          return { ok: false, message: e instanceof Error ? e.message : String(e) };
        }
      default:
        return super.handle(req);
    }
  }

  /** Every running process's license; with `update`, first check every node can take the new file, then swap it everywhere. */
  private async allLicenses(update: boolean): Promise<Table> {
    const targets = this.members.filter((m) => this.up(m.site.alias));
    const ask = async (m: ClusterMember, req: Message): Promise<Json[]> => {
      let r: Message;
      try {
        r = await call(m.site.host, m.site.port, req);
      } catch (e) {
        throw new ScriptError(`${m.site.alias} (${m.site.text}) did not answer: ${String(e)}`);
      }
      if (r['ok'] !== true) throw new ScriptError(`${m.site.alias}: ${String(r['message'])}`);
      return r['row'] as Json[];
    };
    if (update) {
      try {
        this.updateLicense(true);
      } catch (e) {
        throw new ScriptError(`${this.mySite.alias}: ${e instanceof Error ? e.message : String(e)}`);
      }
      for (const m of targets) await ask(m, { op: 'updateLicense', dryRun: true });
      this.updateLicense(false);
    }
    const rows: Json[][] = [licenseRow(this.mySite.alias, this.mySite.text, this.license)];
    for (const m of targets) rows.push(await ask(m, { op: update ? 'updateLicense' : 'license' }));
    return { kind: 'table', columns: LICENSE_COLUMNS, rows: rows as Table['rows'] };
  }

  private async dfs(fn: string, args: Value[]): Promise<Value> {
    const name = str(args[0] ?? null, `the first argument of ${fn}`);
    if (!name.startsWith('dfs://')) throw new ScriptError(`The database name must start with dfs:// (got ${name})`);
    switch (fn) {
      case 'existsDatabase':
        return this.databases.has(name);
      case 'database': {
        if (this.databases.has(name)) return { kind: 'handle', text: `DB[${name}]` };
        const scheme = args
          .slice(1)
          .map((a) => scalarText(a).replace(/\s+/g, ''))
          .join(' ');
        await this.record(`create ${name} ${scheme}`.trim(), () => this.databases.set(name, scheme));
        return { kind: 'handle', text: `DB[${name}]` };
      }
      case 'dropDatabase':
        if (!this.databases.has(name)) throw new ScriptError(`The database [${name}] does not exist`);
        await this.record(`drop ${name}`, () => this.databases.delete(name));
        return null;
    }
    throw new ScriptError(`Cannot recognize the token ${fn}`);
  }

  /** One metadata change: the data nodes that run record it in CHUNK_METADATA, the controller in DFSMetaLog.0. */
  private async record(entry: string, apply: () => void): Promise<void> {
    const dataNodes = this.members.filter((m) => m.mode === 'datanode' && this.up(m.site.alias));
    if (dataNodes.length === 0) throw new ScriptError('No data node is running: start one with startDataNode first');
    for (const m of dataNodes) {
      const r = await call(m.site.host, m.site.port, { op: 'chunkMeta', entry }).catch((e: unknown) => ({ ok: false, message: String(e) }) as Message);
      if (r['ok'] !== true) throw new ScriptError(`Data node ${m.site.alias} failed to record the change: ${String(r['message'])}`);
    }
    apply();
    this.logEntries.push(entry);
    const v = this.version.version;
    if (this.logEntries.length >= CHECKPOINT_EVERY) {
      const all = [...this.databases.entries()].map(([db, scheme]) => `${db} ${scheme}`.trim());
      writeMeta(join(this.metaDir, 'DFSMasterMetaCheckpoint.0'), CHECKPOINT_WHAT, v, all);
      this.logEntries = [];
      this.log.info(`Wrote the DFS master meta checkpoint (${all.length} databases); the meta log starts again`);
    }
    writeMeta(join(this.metaDir, 'DFSMetaLog.0'), LOG_WHAT, v, this.logEntries);
  }

  private perf(): Table {
    const rows: Table['rows'] = [[this.mySite.alias, 1, MODE_CODE.controller, this.mySite.host, this.mySite.port, this.mySite.text, '', this.version.version]];
    for (const m of this.members) {
      const agent = m.mode === 'agent' ? undefined : this.members.find((a) => a.mode === 'agent' && a.site.host === m.site.host);
      const up = this.up(m.site.alias);
      rows.push([m.site.alias, up ? 1 : 0, MODE_CODE[m.mode], m.site.host, m.site.port, m.site.text, agent?.site.text ?? '', up ? (this.seen.get(m.site.alias)?.version ?? '') : '']);
    }
    return { kind: 'table', columns: ['name', 'state', 'mode', 'host', 'port', 'site', 'agentSite', 'version'], rows };
  }

  /** The node and its server's agent, or the reason it cannot be reached. */
  private target(alias: string, fn: string): { node: ClusterMember; agent: ClusterMember } {
    const node = this.member(alias);
    if (node === undefined || node.mode === 'agent') throw new ScriptError(`${fn}: ${alias} is not a data node or compute node in cluster.nodes`);
    const agent = this.members.find((a) => a.mode === 'agent' && a.site.host === node.site.host);
    if (agent === undefined) throw new ScriptError(`${fn}: no agent in cluster.nodes runs on ${node.site.host}, the server of ${alias}`);
    if (!this.up(agent.site.alias)) throw new ScriptError(`${fn}: the agent ${agent.site.alias} (${agent.site.text}) of ${alias} is not registered with this controller (not running, or its controllerSite is wrong)`);
    return { node, agent };
  }

  private async toAgent(agent: ClusterMember, req: Message, fn: string): Promise<void> {
    let r: Message;
    try {
      r = await call(agent.site.host, agent.site.port, req, 20_000);
    } catch (e) {
      throw new ScriptError(`${fn}: agent ${agent.site.alias} did not answer: ${String(e)}`);
    }
    if (r['ok'] !== true) throw new ScriptError(`${fn}: agent ${agent.site.alias}: ${String(r['message'])}`);
  }

  protected override functions(): Record<string, Fn> {
    const dfs = (fn: string): Fn => admin(fn, async (args) => this.dfs(fn, args));
    return {
      ...super.functions(),
      getClusterPerf: admin('getClusterPerf', async () => this.perf()),
      getControllerAlias: async () => this.mySite.alias,
      getDFSDatabases: admin('getDFSDatabases', async () => [...this.databases.keys()].sort()),
      existsDatabase: dfs('existsDatabase'),
      database: dfs('database'),
      dropDatabase: dfs('dropDatabase'),
      startDataNode: admin('startDataNode', async ([arg]) => {
        const list = names(arg, 'startDataNode');
        const targets = list.map((a) => this.target(a, 'startDataNode')).filter((t) => !this.up(t.node.site.alias));
        const after = this.running(list).length + targets.length;
        if (after > this.license.maxNodes) {
          throw new ScriptError(
            `startDataNode: the license allows ${this.license.maxNodes} data and compute nodes (${this.license.type}, customer ${this.license.customer}); ` +
              `starting ${targets.map((t) => t.node.site.alias).join(', ')} would make ${after}`,
          );
        }
        for (const { node, agent } of targets) {
          await this.toAgent(agent, { op: 'startNode', alias: node.site.alias, mode: node.mode, site: node.site.text, controllerSite: this.mySite.text }, 'startDataNode');
          const s = this.seen.get(node.site.alias) ?? { lastSeen: 0, version: '', startingUntil: 0, stopped: true };
          s.startingUntil = Date.now() + 15_000;
          this.seen.set(node.site.alias, s);
          this.log.info(`Asked agent ${agent.site.alias} to start ${node.site.alias}`);
        }
        return null;
      }),
      stopDataNode: admin('stopDataNode', async ([arg]) => {
        for (const alias of names(arg, 'stopDataNode')) {
          const { node, agent } = this.target(alias, 'stopDataNode');
          await this.toAgent(agent, { op: 'stopNode', alias, site: node.site.text }, 'stopDataNode');
          const s = this.seen.get(alias);
          if (s) {
            s.stopped = true;
            s.startingUntil = 0;
          }
          this.log.info(`Agent ${agent.site.alias} stopped ${alias}`);
        }
        return null;
      }),
    };
  }
}
