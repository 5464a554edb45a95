// Data and compute nodes, started by their server's agent. At start a node
// asks the controller (its site comes from the agent, in the environment) for cluster.cfg, takes the lines that
// apply to its alias (the <ALIAS> macro on a line naming it is fatal, as the
// document's FAQ says), checks its server's license allows the cluster's
// running nodes plus itself, binds its port, and heartbeats. A data node
// keeps CHUNK_METADATA under chunkMetaDir, else its first volume, else
// <home>/<alias>/storage, and rewrites or refuses it by version (meta.ts).

import { mkdirSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { ConfigError, parseSite, resolveNodeConfig, type Site } from './cfg.js';
import { admin, CONTROLLER_SITE_ENV, Fatal, HEARTBEAT_MS, Proc, SERVER_DIR, type Mode } from './base.js';
import { adoptMeta, chunkMetaFile, readMeta, writeMeta } from './meta.js';
import { call, type Json, type Message } from './rpc.js';
import { ScriptError, type Fn, type Value } from './script.js';

const CHUNK_WHAT = 'chunk metadata';

export class Node extends Proc {
  private mySite!: Site;
  private controller!: Site;
  /** mySite and controller are set (from the command line). */
  private identified = false;
  private config = new Map<string, string>();
  private chunkDir = '';

  constructor(mode: Mode, args: Map<string, string>) {
    super(mode, args);
  }

  get site(): Site {
    return this.mySite;
  }

  controllerSite(): Site {
    return this.controller;
  }

  async start(): Promise<void> {
    try {
      await this.boot();
    } catch (e) {
      // A node that fails to start no longer counts against the license as "starting".
      if (this.identified) await this.bye();
      throw e;
    }
  }

  private bye(): Promise<unknown> {
    return call(this.controller.host, this.controller.port, { op: 'nodeBye', site: this.mySite.text }, 2_000).catch(() => undefined);
  }

  private async boot(): Promise<void> {
    const site = parseSite(this.args.get('localSite') ?? '');
    const c = parseSite(this.args.get('controllerSite') ?? process.env[CONTROLLER_SITE_ENV] ?? '');
    if (site === undefined || c === undefined) throw new Fatal(`A data or compute node needs -localSite and its controller's site (address:port:alias, in ${CONTROLLER_SITE_ENV}); start it through the controller`);
    this.mySite = site;
    this.controller = c;
    this.identified = true;
    this.begin();
    // The document: an install path with spaces or non-ASCII characters makes data nodes fail to start.
    if (/[^\x21-\x7e]/.test(SERVER_DIR)) throw new Fatal(`The install path ${JSON.stringify(SERVER_DIR)} contains a space or a non-ASCII character; data nodes cannot start from it`);

    const hello = await this.hello();
    try {
      this.config = resolveNodeConfig(String(hello['clusterCfg'] ?? ''), site.alias, String(hello['clusterCfgPath'] ?? 'cluster.cfg'));
    } catch (e) {
      throw new Fatal(e instanceof ConfigError ? e.message : String(e));
    }
    const cluster = Number(hello['running']) + 1;
    if (cluster > this.license.maxNodes) {
      throw new Fatal(
        `The license on this server (${this.license.type}, customer ${this.license.customer}) allows ${this.license.maxNodes} data and compute nodes; ` +
          `with this one the cluster would run ${cluster}. Replace dolphindb.lic on every server.`,
      );
    }
    const volumes = (this.config.get('volumes') ?? '').split(',').map((v) => v.trim()).filter(Boolean);
    const relative = volumes.find((v) => !isAbsolute(v));
    if (relative !== undefined) throw new Fatal(`volumes must be absolute paths; ${JSON.stringify(relative)} is not`);
    const home = resolve(this.args.get('home') ?? 'data');
    mkdirSync(join(home, site.alias), { recursive: true });
    if (this.mode === 'datanode') {
      this.chunkDir = this.config.get('chunkMetaDir') ?? volumes[0] ?? join(home, site.alias, 'storage');
      try {
        const note = adoptMeta(chunkMetaFile(this.chunkDir), CHUNK_WHAT, this.version.version);
        if (note) this.log.info(note);
      } catch (e) {
        throw new Fatal(e instanceof Error ? e.message : String(e));
      }
      for (const v of volumes) mkdirSync(v, { recursive: true });
    }
    await this.listen();
    this.every(HEARTBEAT_MS, () => this.beat());
    this.log.info(`${this.mode} ${site.alias} is ready`);
  }

  /** Ask the controller for cluster.cfg; it may still be starting, so try for a while. */
  private async hello(): Promise<Message> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        const r = await call(this.controller.host, this.controller.port, { op: 'nodeHello', site: this.mySite.text, mode: this.mode }, 5_000);
        if (r['ok'] !== true) throw new Fatal(`The controller ${this.controller.text} refused this node: ${String(r['message'])}`);
        return r;
      } catch (e) {
        if (e instanceof Fatal || Date.now() > deadline) throw new Fatal(e instanceof Error ? e.message : String(e));
      }
      await new Promise((r) => setTimeout(r, HEARTBEAT_MS));
    }
  }

  private async beat(): Promise<void> {
    try {
      const r = await call(this.controller.host, this.controller.port, { op: 'nodeHeartbeat', site: this.mySite.text, version: this.version.version, pid: process.pid }, 5_000);
      if (r['ok'] === true) this.log.once('hb', 'INFO', `Heartbeats reach the controller ${this.controller.text}`);
      else this.log.once('hb', 'ERROR', `The controller refused the heartbeat: ${String(r['message'])}`);
    } catch (e) {
      this.log.once('hb', 'WARNING', `Failed to send a heartbeat to the controller ${this.controller.text}: ${String(e instanceof Error ? e.message : e)}`);
    }
  }

  override async stop(): Promise<void> {
    this.halt();
    if (this.identified) await this.bye();
    await super.stop();
  }

  override async handle(req: Message): Promise<Message> {
    if (req['op'] === 'chunkMeta' && this.mode === 'datanode') {
      const file = chunkMetaFile(this.chunkDir);
      const entries = readMeta(file)?.entries ?? [];
      writeMeta(file, CHUNK_WHAT, this.version.version, [...entries, String(req['entry'])]);
      return { ok: true };
    }
    return super.handle(req);
  }

  protected override functions(): Record<string, Fn> {
    const dfs = (fn: string): Fn =>
      admin(fn, async (args) => {
        let r: Message;
        try {
          r = await call(this.controller.host, this.controller.port, { op: 'dfs', fn, args: args as Json[] });
        } catch (e) {
          throw new ScriptError(`Failed to reach the controller ${this.controller.text}: ${String(e)}`);
        }
        if (r['ok'] !== true) throw new ScriptError(String(r['message']));
        return r['value'] as Value;
      });
    return {
      ...super.functions(),
      getConfig: admin('getConfig', async ([key]) => (typeof key === 'string' ? (this.config.get(key) ?? null) : null)),
      existsDatabase: dfs('existsDatabase'),
      database: dfs('database'),
      dropDatabase: dfs('dropDatabase'),
    };
  }
}
