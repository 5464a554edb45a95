// The agent: reads agent.cfg, heartbeats to the controller named by
// controllerSite (which refuses it unless controllerSite equals its
// localSite, alias included), and starts and stops the data and compute nodes
// of its server when the controller asks. Nodes run detached, in the agent's
// working folder (clusterDemo), as `<server>/dolphindb -console 0 -mode
// datanode … -localSite <site> …`, so `pgrep -f -- '-localSite <site>'`
// finds them.

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseSite, readCfg, type Site } from './cfg.js';
import { CONTROLLER_SITE_ENV, Fatal, HEARTBEAT_MS, Proc, SERVER_DIR } from './base.js';
import { call, type Message } from './rpc.js';

/** Pids whose command line has `-localSite <site>` as two arguments. */
export function pidsOfSite(site: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      const i = argv.indexOf('-localSite');
      if (i >= 0 && argv[i + 1] === site && argv.includes('-mode')) out.push(Number(d));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

export class Agent extends Proc {
  private mySite!: Site;
  private controller!: Site;
  private controllerSiteText = '';

  constructor(args: Map<string, string>) {
    super('agent', args);
  }

  get site(): Site {
    return this.mySite;
  }

  controllerSite(): Site {
    return this.controller;
  }

  async start(): Promise<void> {
    const path = resolve(this.args.get('config') ?? 'config/agent.cfg');
    const cfg = readCfg(path);
    const site = parseSite(cfg.get('localSite') ?? '');
    if (site === undefined) throw new Fatal(`localSite in ${path} must be address:port:alias, not ${JSON.stringify(cfg.get('localSite') ?? '')}`);
    this.mySite = site;
    this.begin();
    this.controllerSiteText = cfg.get('controllerSite') ?? '';
    const c = parseSite(this.controllerSiteText);
    if (c === undefined) throw new Fatal(`controllerSite in ${path} must be address:port:alias of the controller, not ${JSON.stringify(this.controllerSiteText)}`);
    this.controller = c;
    await this.listen();
    this.every(HEARTBEAT_MS, () => this.beat());
  }

  private async beat(): Promise<void> {
    let r: Message;
    try {
      r = await call(this.controller.host, this.controller.port, { op: 'agentHeartbeat', site: this.mySite.text, controllerSite: this.controllerSiteText, version: this.version.version }, 5_000);
    } catch (e) {
      this.log.once('hb', 'WARNING', `Failed to connect to the controller ${this.controllerSiteText} (controllerSite in agent.cfg): ${String(e instanceof Error ? e.message : e)}`);
      return;
    }
    if (r['ok'] === true) this.log.once('hb', 'INFO', `Registered with the controller ${this.controllerSiteText}`);
    else this.log.once('hb', 'ERROR', `The controller refused this agent: ${String(r['message'])}`);
  }

  override async handle(req: Message): Promise<Message> {
    switch (req['op']) {
      case 'startNode':
        return this.startNode(String(req['alias']), String(req['mode']), String(req['site']), String(req['controllerSite']));
      case 'stopNode':
        return this.stopNode(String(req['site']));
      default:
        return super.handle(req);
    }
  }

  private async startNode(alias: string, mode: string, site: string, controllerSite: string): Promise<Message> {
    if (pidsOfSite(site).length > 0) return { ok: true, message: `${alias} already runs` };
    const program = join(SERVER_DIR, 'dolphindb');
    const args = ['-console', '0', '-mode', mode, '-home', 'data', '-script', 'dolphindb.dos', '-config', 'config/cluster.cfg', '-logFile', `log/${alias}.log`, '-localSite', site];
    // The controller's site goes in the environment, not on the command line: the document's
    // controller.sh stops `ps … | grep dolphindb | grep controller`, which must not hit the nodes.
    const env = { ...process.env, [CONTROLLER_SITE_ENV]: controllerSite };
    return new Promise((done) => {
      const child = spawn(program, args, { cwd: process.cwd(), detached: true, stdio: 'ignore', env });
      child.once('error', (e) => {
        this.log.error(`Failed to start ${alias}: ${program}: ${e.message}`);
        done({ ok: false, message: `failed to run ${program}: ${e.message}` });
      });
      child.once('spawn', () => {
        child.unref();
        this.log.info(`Started ${mode} ${alias} (${site}), pid ${child.pid}`);
        done({ ok: true });
      });
    });
  }

  private async stopNode(site: string): Promise<Message> {
    const pids = pidsOfSite(site);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
    }
    const deadline = Date.now() + 10_000;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
    this.log.info(`Stopped ${site}${pids.length ? ` (pid ${pids.join(', ')})` : ' (it was not running)'}`);
    return { ok: true };
  }
}
