// What every simulated DolphinDB process shares: its command line, the
// package's version, the license it loaded, its log, its port (a port in use
// gives the document's "error code 98" line and exit 1), the heartbeat
// timing, and the script functions any node answers (login, version(),
// getNodeAlias(), the license functions, `use ops`).

import { readFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Site } from './cfg.js';
import { ddbDate, expired, LicenseError, onlineUpdateRefusal, readLicense, type License } from './license.js';
import { Log } from './log.js';
import { call, serve, type Json, type Message } from './rpc.js';
import { Interpreter, ScriptError, type Fn, type Session, type Table, type Value } from './script.js';

const LIB = dirname(fileURLToPath(import.meta.url));
/** The unpacked `server/` folder: this file is server/lib/ddb-sim/base.js. */
export const SERVER_DIR = resolve(LIB, '..', '..');
export const LICENSE_PATH = join(SERVER_DIR, 'dolphindb.lic');
export const SIMULATED = 'SIMULATED by runbook (test double, not DolphinDB)';

/** Heartbeats every HEARTBEAT_MS (env DDB_SIM_HEARTBEAT_MS, default 500); a node is down after DOWN_AFTER_MS without one. */
export const HEARTBEAT_MS = Math.max(50, Number(process.env['DDB_SIM_HEARTBEAT_MS']) || 500);
export const DOWN_AFTER_MS = Math.max(4 * HEARTBEAT_MS, 2000);

/** How an agent tells the nodes it starts where their controller is. */
export const CONTROLLER_SITE_ENV = 'DDB_SIM_CONTROLLER_SITE';

const ADMIN = { user: 'admin', password: '123456' };

export function readVersion(): { version: string; build: string } {
  const kv = new Map<string, string>();
  try {
    for (const l of readFileSync(join(LIB, 'version.txt'), 'utf8').split('\n')) {
      const eq = l.indexOf('=');
      if (eq > 0 && !l.startsWith('#')) kv.set(l.slice(0, eq), l.slice(eq + 1).trim());
    }
  } catch {
    // Reported as "unknown" below.
  }
  return { version: kv.get('version') ?? 'unknown', build: kv.get('build') ?? '2024.01.01' };
}

/** `-key value` pairs of DolphinDB's command line. */
export function parseArgs(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('-') && i + 1 < argv.length) out.set(a.slice(1), argv[++i]!);
  }
  return out;
}

export class Fatal extends Error {}

export type Mode = 'controller' | 'agent' | 'datanode' | 'computenode';
export const MODE_CODE: Record<Mode, number> = { datanode: 0, agent: 1, controller: 2, computenode: 4 };

export function admin(name: string, fn: Fn): Fn {
  return (args, s) => {
    if (s.user === undefined) throw new ScriptError(`Login is required to run ${name}(): run login("admin", "<password>") first`);
    return fn(args, s);
  };
}

export function str(v: Value, what: string): string {
  if (typeof v !== 'string') throw new ScriptError(`${what} must be a string`);
  return v;
}

/** A string or a vector of strings, as startDataNode takes. */
export function names(v: Value | undefined, fn: string): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')) return v as string[];
  throw new ScriptError(`The argument of ${fn} must be a node alias or a vector of aliases`);
}

export function licenseRow(alias: string, site: string, l: License): Json[] {
  return [alias, site, l.expiration, l.type, l.customer, l.maxNodes, l.maxCores, l.maxMemoryPerNode];
}
export const LICENSE_COLUMNS = ['node', 'site', 'expiration', 'type', 'customer', 'maxNodes', 'maxCores', 'maxMemoryPerNode'];

export abstract class Proc {
  readonly log: Log;
  readonly version = readVersion();
  license!: License;
  private server: Server | undefined;
  private readonly timers: NodeJS.Timeout[] = [];

  protected constructor(
    readonly mode: Mode,
    readonly args: Map<string, string>,
  ) {
    this.log = new Log(resolve(args.get('logFile') ?? `log/${mode}.log`));
  }

  abstract get site(): Site;

  /** Log the banner, check the license. */
  protected begin(): void {
    const banner = `DolphinDB ${this.version.version} ${SIMULATED}: ${this.mode}, pid ${process.pid}, cwd ${process.cwd()}`;
    this.log.info(banner);
    process.stdout.write(`${banner}\n`);
    try {
      this.license = readLicense(LICENSE_PATH);
    } catch (e) {
      throw new Fatal(e instanceof LicenseError ? e.message : String(e));
    }
    if (expired(this.license)) throw new Fatal(`The license has expired on ${this.license.expiration} (${LICENSE_PATH}). Replace dolphindb.lic and start again.`);
    this.log.info(`License: ${this.license.type}, customer ${this.license.customer}, ${this.license.maxNodes} nodes, expires ${this.license.expiration}`);
  }

  /** Bind the localSite port; a port in use is the document's error 98. */
  protected async listen(): Promise<void> {
    const port = this.site.port;
    try {
      this.server = await serve(port, (req) => this.handle(req));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Fatal(code === 'EADDRINUSE' ? `Failed to bind the socket on port ${port} with error code 98` : `Failed to bind the socket on port ${port}: ${String(e)}`);
    }
    this.log.info(`${this.mode} ${this.site.alias} listens on port ${port}`);
  }

  protected every(ms: number, fn: () => Promise<void>): void {
    let busy = false;
    const tick = (): void => {
      if (busy) return;
      busy = true;
      fn().finally(() => (busy = false));
    };
    tick();
    this.timers.push(setInterval(tick, ms));
  }

  /** No more heartbeats from here on. */
  protected halt(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
  }

  async stop(): Promise<void> {
    this.halt();
    this.log.info(`${this.mode} ${this.site.alias} is shutting down (SIGTERM)`);
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** The controller's site as this process knows it (the controller itself: its own). */
  abstract controllerSite(): Site | undefined;

  /** Answer a request on the port; subclasses add their own operations. */
  async handle(req: Message): Promise<Message> {
    switch (req['op']) {
      case 'run':
        return this.runScript(String(req['script'] ?? ''));
      case 'license':
        return { ok: true, row: licenseRow(this.site.alias, this.site.text, this.license) };
      case 'updateLicense':
        try {
          const l = this.updateLicense(req['dryRun'] === true);
          return { ok: true, row: licenseRow(this.site.alias, this.site.text, l) };
        } catch (e) {
          return { ok: false, message: e instanceof Error ? e.message : String(e) };
        }
      default:
        return { ok: false, message: `unknown request ${String(req['op'])}` };
    }
  }

  /** The document's online update, for this process: reread dolphindb.lic and swap it in if the rules allow. */
  updateLicense(dryRun: boolean): License {
    const next = readLicense(LICENSE_PATH);
    const why = onlineUpdateRefusal(this.license, next);
    if (why !== undefined) throw new ScriptError(why);
    if (!dryRun) {
      this.license = next;
      this.log.info(`The license was updated online: ${next.type}, customer ${next.customer}, ${next.maxNodes} nodes, expires ${next.expiration}`);
    }
    return next;
  }

  /** getAllLicenses / updateAllLicenses: on the controller for every node; elsewhere asked of the controller. */
  async clusterLicenses(update: boolean): Promise<Table> {
    const c = this.controllerSite();
    if (c === undefined) throw new ScriptError('This node does not know its controller');
    let r: Message;
    try {
      r = await call(c.host, c.port, { op: 'allLicenses', update });
    } catch (e) {
      throw new ScriptError(`Failed to reach the controller ${c.text}: ${String(e)}`);
    }
    if (r['ok'] !== true) throw new ScriptError(String(r['message']));
    return r['table'] as unknown as Table;
  }

  protected functions(): Record<string, Fn> {
    const ops = (name: string, fn: Fn): Fn =>
      admin(name, (args, s) => {
        if (!s.modules.has('ops')) throw new ScriptError(`Cannot recognize the token ${name}`);
        return fn(args, s);
      });
    return {
      login: async (args, s) => {
        const [u, p] = args;
        if (typeof u !== 'string' || typeof p !== 'string') throw new ScriptError('login(userId, password) takes two strings');
        if (u !== ADMIN.user || p !== ADMIN.password) throw new ScriptError('The user name or password is incorrect.');
        s.user = u;
        return null;
      },
      version: async () => `${this.version.version} ${this.version.build} LINUX x86_64 (simulated by runbook)`,
      getNodeAlias: async () => this.site.alias,
      getNodeType: async () => MODE_CODE[this.mode],
      getLicenseExpiration: async () => ({ kind: 'date', text: this.license.expiration }),
      updateLicense: admin('updateLicense', async () => ({ kind: 'date', text: this.updateLicense(false).expiration })),
      getAllLicenses: ops('getAllLicenses', async () => this.clusterLicenses(false)),
      updateAllLicenses: ops('updateAllLicenses', async () => this.clusterLicenses(true)),
      today: async () => ({ kind: 'date', text: ddbDate(new Date()) }),
    };
  }

  private interpreter: Interpreter | undefined;

  async runScript(script: string): Promise<Message> {
    this.interpreter ??= new Interpreter(this.functions());
    const session: Session = { user: undefined, modules: new Set(), vars: new Map() };
    const r = await this.interpreter.run(script, session);
    return r.error === undefined ? { ok: true, output: r.output } : { ok: false, output: r.output, message: r.error };
  }
}
