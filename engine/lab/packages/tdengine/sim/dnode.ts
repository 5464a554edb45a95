// The simulated taosd: one dnode, and the mnode when it carries one.
//
// Rules from the cluster deployment document, enforced here:
// - a dnode's fqdn must resolve to an address of its own machine;
// - the first dnode, started with firstEp pointing at itself (or with no
//   firstEp, whose default is this machine), creates a new cluster and is
//   its first mnode; two dnodes without firstEp are two clusters;
// - any other dnode asks firstEp to join and is refused until
//   `create dnode "fqdn:port"` was run in the cluster; it keeps asking, one
//   statusInterval apart, and logs why it is not in;
// - a dnode whose statusInterval, timezone, locale, charset or
//   ttlChangeOnWrite differ from the mnode's cannot join: the mnode shows it
//   offline with "<param> not match" and the dnode logs the difference;
// - once in, a dnode keeps its id and cluster in dataDir/dnode/dnode.json and
//   no longer needs firstEp; a dnode holding another cluster's data never
//   joins (clusters cannot be merged): clearing dataDir is the way back;
// - at most 3 mnodes, one per dnode, created once the cluster has 3 dnodes.
//
// State lives in dataDir: dnode/dnode.json (identity) and, on mnodes,
// mnode/sdb.json (the cluster's dnodes, mnodes and users). One mnode leads:
// it pushes sdb to the others on every change, answers SQL, and dnodes report
// status to it. Leadership is sticky, as with TDengine's raft-based mnodes:
// when no answering mnode leads, the one with the lowest dnode id among those
// that answer takes over with a higher term; a leader that comes back after a
// restart finds the new leader and follows it. (No quorum is required.)

import { randomInt } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { dirname, join } from 'node:path';
import type { Server } from 'node:net';
import { dnodeSettings, MUST_MATCH, readCfg, readVersion, SIMULATED_NOTICE, type DnodeSettings, type VersionInfo } from './cfg.js';
import { Log, tableTime } from './log.js';
import { call, CallError, parseEndpoint, serve, type Json, type Message } from './rpc.js';
import { parseStatement, type Command } from './statements.js';

interface Identity {
  dnodeId: number;
  clusterId: string;
  /** Mnode endpoints, lowest dnode id first: where status goes. */
  mnodeEps: string[];
}

interface SdbDnode {
  id: number;
  fqdn: string;
  port: number;
  createTime: number;
}

interface Sdb {
  clusterId: string;
  createTime: number;
  /** Bumped on every change; a follower keeps the newest it was sent. */
  version: number;
  nextDnodeId: number;
  dnodes: SdbDnode[];
  mnodes: Array<{ dnodeId: number; createTime: number }>;
  users: Record<string, string>;
}

/** Another mnode, as its answer to a ping describes it. */
interface Peer {
  ep: string | 'self';
  dnodeId: number;
  leading: boolean;
  term: number;
}

/** What the leader saw of each dnode's status reports (not persisted, as in TDengine). */
interface Seen {
  at: number;
  reason: string;
  /** supportVnodes from the dnode's taos.cfg, as its last accepted report gave it. */
  supportVnodes?: number;
}

export interface Table {
  columns: Array<{ name: string; align: 'left' | 'right' }>;
  rows: string[][];
}

export type SqlResult = { kind: 'table'; table: Table } | { kind: 'affected'; verb: string; rows: number } | { kind: 'error'; message: string };

const MAX_MNODES = 3;
const MIN_DNODES_FOR_MNODES = 3;
// Generous: a busy leader that answers late must not be taken for a dead one (a stopped one refuses at once).
const PING_MS = 2000;

function writeJsonAtomic(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  renameSync(tmp, file);
}

function readJson<T>(file: string): T | null {
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address);
  return out;
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class Dnode {
  readonly settings: DnodeSettings;
  readonly endpoint: string;
  readonly log: Log;
  readonly version: VersionInfo;
  private identity: Identity | null;
  private sdb: Sdb | null;
  private readonly seen = new Map<number, Seen>();
  private server: Server | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** The last thing said about joining, so a refusal repeated every second is logged once. */
  private lastJoinNote = '';
  private stopping = false;
  private leaderCache: { at: number; ep: string | 'self' | null } | null = null;
  /** Whether this mnode leads, since when, and its term (only grows; a higher term wins a clash). */
  private leading = false;
  private leaderSince = 0;
  private term = 0;

  constructor(
    readonly home: string,
    readonly cfgDir: string,
    foreground: boolean,
  ) {
    const cfg = readCfg(cfgDir);
    this.settings = dnodeSettings(cfg);
    this.endpoint = `${this.settings.fqdn}:${this.settings.serverPort}`;
    this.log = new Log(this.settings.logDir, 'taosdlog.0', foreground);
    this.version = readVersion(home);
    this.identity = readJson<Identity>(this.identityFile);
    this.sdb = readJson<Sdb>(this.sdbFile);
  }

  private get identityFile(): string {
    return join(this.settings.dataDir, 'dnode', 'dnode.json');
  }

  private get sdbFile(): string {
    return join(this.settings.dataDir, 'mnode', 'sdb.json');
  }

  private get statusMs(): number {
    return this.settings.statusInterval * 1000;
  }

  /** A dnode that has not reported for this long is offline. */
  private get offlineMs(): number {
    return Math.max(3 * this.statusMs, 3000);
  }

  async start(): Promise<void> {
    const s = this.settings;
    this.log.info('DND', `TDengine taosd ${this.version.version} (${this.version.buildInfo}) is starting — ${SIMULATED_NOTICE}`);
    this.log.info('DND', `config: ${join(this.cfgDir, 'taos.cfg')}, fqdn: ${s.fqdn}, serverPort: ${s.serverPort}, firstEp: ${s.firstEp}, dataDir: ${s.dataDir}, pid: ${process.pid}`);

    // The document's first check: every dnode's FQDN resolves, to this machine.
    let address: string;
    try {
      address = (await lookup(s.fqdn, { family: 4 })).address;
    } catch (e) {
      throw new Error(`failed to resolve fqdn ${s.fqdn} since ${errorText(e)}; fix /etc/hosts or DNS, or set fqdn in ${join(this.cfgDir, 'taos.cfg')} to this machine's hostname -f`);
    }
    if (!address.startsWith('127.') && !localAddresses().has(address)) {
      throw new Error(`fqdn ${s.fqdn} resolves to ${address}, which is not an address of this machine; fqdn in taos.cfg must be this dnode's own FQDN`);
    }

    try {
      this.server = await serve('0.0.0.0', s.serverPort, (req) => this.handle(req));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(`failed to bind port ${s.serverPort} since ${code === 'EADDRINUSE' ? 'Address already in use' : errorText(e)}; is another taosd running on this machine?`);
    }

    if (this.identity) {
      this.log.info('DND', `dnode:${this.identity.dnodeId}, cluster ${this.identity.clusterId}, restarting; mnodes: ${this.identity.mnodeEps.join(', ')}`);
    } else if (s.firstEp === this.endpoint) {
      this.createCluster();
    } else {
      this.log.info('DND', `dnode:0, not in a cluster yet; asking firstEp ${s.firstEp} to join`);
    }
    this.log.info('DND', 'TDengine is initialized successfully');
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.statusMs);
  }

  async stop(signal: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info('DND', `received ${signal}, taosd is shutting down`);
    if (this.timer) clearInterval(this.timer);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.log.info('DND', 'taosd is stopped');
  }

  private createCluster(): void {
    const now = Date.now();
    // TDengine cluster ids are 64-bit integers; two random halves keep it in that shape.
    const clusterId = `${randomInt(1, 2 ** 31)}${String(randomInt(0, 2 ** 31)).padStart(10, '0')}`;
    this.sdb = {
      clusterId,
      createTime: now,
      version: 1,
      nextDnodeId: 2,
      dnodes: [{ id: 1, fqdn: this.settings.fqdn, port: this.settings.serverPort, createTime: now }],
      mnodes: [{ dnodeId: 1, createTime: now }],
      users: { root: 'taosdata' },
    };
    this.identity = { dnodeId: 1, clusterId, mnodeEps: [this.endpoint] };
    writeJsonAtomic(this.sdbFile, this.sdb);
    writeJsonAtomic(this.identityFile, this.identity);
    this.log.info('MND', `dnode:1, created cluster ${clusterId}: firstEp ${this.settings.firstEp} is this dnode, which is the cluster's first mnode`);
  }

  private isMnode(): boolean {
    return this.sdb !== null && this.identity !== null && this.sdb.mnodes.some((m) => m.dnodeId === this.identity!.dnodeId);
  }

  private mnodeEps(sdb: Sdb): string[] {
    return [...sdb.mnodes]
      .sort((a, b) => a.dnodeId - b.dnodeId)
      .flatMap((m) => {
        const d = sdb.dnodes.find((x) => x.id === m.dnodeId);
        return d ? [`${d.fqdn}:${d.port}`] : [];
      });
  }

  /** 'self' when this dnode is the leading mnode, else the leader's endpoint, or null when there is none (yet). */
  private async leader(): Promise<string | 'self' | null> {
    if (!this.isMnode()) return null;
    if (this.leaderCache && Date.now() - this.leaderCache.at < 500) return this.leaderCache.ep;
    const me = this.identity!.dnodeId;
    const clusterId = this.sdb!.clusterId;
    const peers = (
      await Promise.all(
        this.mnodeEps(this.sdb!)
          .filter((ep) => ep !== this.endpoint)
          .map(async (ep): Promise<Peer | null> => {
            const e = parseEndpoint(ep)!;
            try {
              const r = await call(e.fqdn, e.port, { op: 'ping' }, PING_MS);
              if (r.ok !== true || r.clusterId !== clusterId || r.mnode !== true) return null;
              return { ep, dnodeId: Number(r.dnodeId), leading: r.leading === true, term: Number(r.term ?? 0) };
            } catch {
              return null; // down
            }
          }),
      )
    ).filter((p): p is Peer => p !== null);

    let found: string | 'self' | null;
    const claims: Peer[] = [...peers.filter((p) => p.leading), ...(this.leading ? [{ ep: 'self', dnodeId: me, leading: true, term: this.term }] : [])];
    if (claims.length > 0) {
      // Two leaders (one came back while another took over): the higher term wins, then the lower id.
      claims.sort((a, b) => b.term - a.term || a.dnodeId - b.dnodeId);
      const winner = claims[0]!;
      if (winner.ep !== 'self' && this.leading) {
        this.leading = false;
        this.log.info('MND', `dnode:${me}, mnode steps down: ${winner.ep} leads with term ${winner.term}; this mnode is a follower`);
      }
      this.term = Math.max(this.term, winner.term);
      found = winner.ep;
    } else if (Math.min(me, ...peers.map((p) => p.dnodeId)) === me) {
      // No mnode leads: the lowest answering dnode id takes over.
      this.term = Math.max(this.term, ...peers.map((p) => p.term)) + 1;
      this.leading = true;
      this.leaderSince = Date.now();
      this.seen.set(me, { at: Date.now(), reason: '' });
      this.log.info('MND', `dnode:${me}, mnode is the leader (term ${this.term}); ${peers.length} other mnode(s) answer: ${peers.map((p) => p.ep).join(', ') || 'none'}`);
      found = 'self';
    } else {
      found = null; // a lower dnode id takes over on its next check
    }
    this.leaderCache = { at: Date.now(), ep: found };
    return found;
  }

  // -------------------------------------------------------------------------
  // Status reports (dnode → leading mnode).

  private async tick(): Promise<void> {
    if (this.stopping) return;
    if ((await this.leader()) === 'self') {
      this.seen.set(this.identity!.dnodeId, { at: Date.now(), reason: '' });
      return;
    }
    const targets = this.identity ? [...this.identity.mnodeEps] : [this.settings.firstEp, ...(this.settings.secondEp ? [this.settings.secondEp] : [])];
    const tried: string[] = [];
    for (let i = 0; i < targets.length && i < 8; i++) {
      const ep = targets[i]!;
      if (ep === this.endpoint) continue;
      const e = parseEndpoint(ep, 6030);
      if (!e) {
        this.joinNote('ERROR', `invalid firstEp "${ep}" in taos.cfg: it must be fqdn:port`);
        return;
      }
      let r: Message;
      try {
        r = await call(e.fqdn, e.port, this.statusRequest(), 2000);
      } catch (err) {
        tried.push(`${ep}: ${err instanceof CallError ? err.message : errorText(err)}`);
        continue;
      }
      if (r.code === 'NOT_LEADER') {
        for (const m of (r.mnodeEps as string[] | undefined) ?? []) if (!targets.includes(m)) targets.push(m);
        tried.push(`${ep}: not the leading mnode`);
        continue;
      }
      this.onStatusReply(ep, r);
      return;
    }
    const who = this.identity ? `dnode:${this.identity.dnodeId}` : 'dnode:0';
    this.joinNote('WARN', `${who}, failed to send status req since Unable to establish connection (${tried.join('; ') || 'no mnode to ask'})`);
  }

  private statusRequest(): Message {
    return {
      op: 'status',
      dnodeId: this.identity?.dnodeId ?? 0,
      clusterId: this.identity?.clusterId ?? '',
      fqdn: this.settings.fqdn,
      port: this.settings.serverPort,
      mustMatch: { ...this.settings.mustMatch },
      supportVnodes: this.settings.supportVnodes,
      sdbVersion: this.sdb?.version ?? 0,
    };
  }

  private onStatusReply(ep: string, r: Message): void {
    if (r.ok === true) {
      const joined = this.identity === null;
      this.identity = { dnodeId: Number(r.dnodeId), clusterId: String(r.clusterId), mnodeEps: (r.mnodeEps as string[]) ?? [ep] };
      writeJsonAtomic(this.identityFile, this.identity);
      if (r.sdb && typeof r.sdb === 'object') this.acceptSdb(r.sdb as unknown as Sdb);
      if (joined) this.log.info('DND', `dnode:${this.identity.dnodeId}, joined cluster ${this.identity.clusterId} through ${ep}; mnodes: ${this.identity.mnodeEps.join(', ')}`);
      this.joinNote('INFO', '');
      return;
    }
    const who = this.identity ? `dnode:${this.identity.dnodeId}` : 'dnode:0';
    switch (r.code) {
      case 'DNODE_NOT_EXIST':
        this.joinNote(
          'WARN',
          `${who}, failed to join the cluster at ${ep} since Dnode does not exist: this endpoint (${this.endpoint}) has not been added; run create dnode "${this.endpoint}" in the cluster`,
        );
        return;
      case 'CFG_MISMATCH':
        this.joinNote(
          'ERROR',
          `${who}, failed to join the cluster at ${ep} since ${String(r.key)} not match: the cluster has ${JSON.stringify(r.cluster)}, this dnode has ${JSON.stringify(r.dnode)}; ` +
            `${String(r.key)} must be identical on every dnode: fix ${join(this.cfgDir, 'taos.cfg')} and restart taosd`,
        );
        return;
      default:
        this.joinNote('ERROR', `${who}, status req to ${ep} was refused since ${String(r.message ?? r.code)}`);
    }
  }

  private joinNote(level: 'INFO' | 'WARN' | 'ERROR', text: string): void {
    if (text === this.lastJoinNote) return;
    this.lastJoinNote = text;
    if (text !== '') this.log.write(level, 'DND', text);
  }

  private acceptSdb(sdb: Sdb): void {
    if (this.sdb && this.sdb.clusterId === sdb.clusterId && this.sdb.version >= sdb.version) return;
    if (this.identity && sdb.clusterId !== this.identity.clusterId) return;
    const wasMnode = this.isMnode();
    this.sdb = sdb;
    this.leaderCache = null;
    writeJsonAtomic(this.sdbFile, sdb);
    if (this.identity) {
      this.identity.mnodeEps = this.mnodeEps(sdb);
      writeJsonAtomic(this.identityFile, this.identity);
    }
    if (!wasMnode && this.isMnode()) this.log.info('MND', `dnode:${this.identity?.dnodeId}, mnode is created on this dnode (follower)`);
  }

  // -------------------------------------------------------------------------
  // Requests.

  private async handle(req: Message): Promise<Message> {
    switch (req.op) {
      case 'ping':
        return {
          ok: true,
          fqdn: this.settings.fqdn,
          port: this.settings.serverPort,
          dnodeId: this.identity?.dnodeId ?? 0,
          clusterId: this.identity?.clusterId ?? '',
          mnode: this.isMnode(),
          leading: this.leading && this.isMnode(),
          term: this.term,
        };
      case 'status':
        return this.onStatus(req);
      case 'sdbSync':
        this.acceptSdb(req.sdb as unknown as Sdb);
        return { ok: true };
      case 'connect':
      case 'sql':
        return this.onClient(req);
      default:
        return { ok: false, code: 'BAD_REQUEST', message: `unknown op ${String(req.op)}` };
    }
  }

  private async onStatus(req: Message): Promise<Message> {
    const leader = await this.leader();
    if (leader !== 'self') {
      const eps = this.sdb ? this.mnodeEps(this.sdb) : (this.identity?.mnodeEps ?? []);
      return { ok: false, code: 'NOT_LEADER', message: 'Mnode not leader', mnodeEps: eps };
    }
    const sdb = this.sdb!;
    const fqdn = String(req.fqdn);
    const port = Number(req.port);
    const reqId = Number(req.dnodeId);
    const d = reqId > 0 ? sdb.dnodes.find((x) => x.id === reqId) : sdb.dnodes.find((x) => x.fqdn === fqdn && x.port === port);
    if (reqId > 0 && String(req.clusterId) !== sdb.clusterId) {
      if (d) this.seen.set(d.id, { at: 0, reason: 'clusterId not match' });
      return { ok: false, code: 'CLUSTER_MISMATCH', message: 'clusterId not match: this dnode belongs to another cluster' };
    }
    if (!d) return { ok: false, code: 'DNODE_NOT_EXIST', message: 'Dnode does not exist' };
    if (d.fqdn !== fqdn || d.port !== port) {
      this.seen.set(d.id, { at: 0, reason: 'dnodeId not match' });
      return { ok: false, code: 'DNODE_ID_MISMATCH', message: `dnodeId not match: dnode ${d.id} is ${d.fqdn}:${d.port}` };
    }
    const theirs = (req.mustMatch ?? {}) as Record<string, string>;
    const mine = this.settings.mustMatch;
    for (const key of MUST_MATCH) {
      if ((theirs[key] ?? '') !== mine[key]) {
        this.seen.set(d.id, { at: 0, reason: `${key} not match` });
        this.log.error('MND', `dnode:${d.id}, ${d.fqdn}:${d.port} cannot join since ${key} not match: cluster ${JSON.stringify(mine[key])}, dnode ${JSON.stringify(theirs[key] ?? '')}`);
        return { ok: false, code: 'CFG_MISMATCH', key, cluster: mine[key], dnode: theirs[key] ?? '' };
      }
    }
    const before = this.seen.get(d.id);
    if (!before || before.at === 0) this.log.info('MND', `dnode:${d.id}, ${d.fqdn}:${d.port} is online`);
    this.seen.set(d.id, { at: Date.now(), reason: '', supportVnodes: Number(req.supportVnodes) });
    const reply: Message = { ok: true, dnodeId: d.id, clusterId: sdb.clusterId, mnodeEps: this.mnodeEps(sdb) };
    if (sdb.mnodes.some((m) => m.dnodeId === d.id) && Number(req.sdbVersion) < sdb.version) reply.sdb = sdb as unknown as Json;
    return reply;
  }

  private async onClient(req: Message): Promise<Message> {
    const leader = await this.leader();
    if (leader === 'self') return this.serveClient(req);
    if (req.forwarded === true) return { ok: false, code: 'NOT_LEADER', message: 'Mnode not leader' };
    // Like TDengine's client, a request to any dnode ends at the leading mnode it knows of.
    const eps = this.sdb ? this.mnodeEps(this.sdb) : this.identity ? this.identity.mnodeEps : [this.settings.firstEp];
    const reasons: string[] = [];
    for (const ep of eps) {
      if (ep === this.endpoint) continue;
      const e = parseEndpoint(ep, 6030);
      if (!e) continue;
      try {
        const r = await call(e.fqdn, e.port, { ...req, forwarded: true }, 10_000);
        if (r.code === 'NOT_LEADER') {
          reasons.push(`${ep}: not the leader`);
          continue;
        }
        return r;
      } catch (err) {
        reasons.push(`${ep}: ${errorText(err)}`);
      }
    }
    return { ok: false, code: 'NO_MNODE', message: `Unable to establish connection: no mnode answers (${reasons.join('; ') || 'none known'})` };
  }

  private serveClient(req: Message): Message {
    const sdb = this.sdb!;
    const user = String(req.user ?? 'root');
    if (sdb.users[user] === undefined || sdb.users[user] !== String(req.password ?? '')) return { ok: false, code: 'AUTH', message: 'Authentication failure' };
    if (req.op === 'connect') return { ok: true, clusterId: sdb.clusterId, version: this.version.version };
    const result = this.execute(parseStatement(String(req.sql ?? '')));
    return { ok: true, result: result as unknown as Json };
  }

  // -------------------------------------------------------------------------
  // SQL on the leading mnode.

  private status(d: SdbDnode): { status: string; note: string } {
    const s = this.seen.get(d.id);
    if (s && s.at > 0 && Date.now() - s.at <= this.offlineMs) return { status: 'ready', note: '' };
    if (s && s.reason !== '') return { status: 'offline', note: s.reason };
    return { status: 'offline', note: s ? 'status msg timeout' : 'status not received' };
  }

  private execute(cmd: Command): SqlResult {
    const sdb = this.sdb!;
    switch (cmd.kind) {
      case 'error':
        return cmd;
      case 'server-version':
        return { kind: 'table', table: { columns: [{ name: 'server_version()', align: 'left' }], rows: [[this.version.version]] } };
      case 'show-dnodes':
        return {
          kind: 'table',
          table: {
            columns: [
              { name: 'id', align: 'right' },
              { name: 'endpoint', align: 'left' },
              { name: 'vnodes', align: 'right' },
              { name: 'support_vnodes', align: 'right' },
              { name: 'status', align: 'left' },
              { name: 'create_time', align: 'left' },
              { name: 'note', align: 'left' },
            ],
            rows: [...sdb.dnodes]
              .sort((a, b) => a.id - b.id)
              .map((d) => {
                const s = this.status(d);
                const support = d.id === this.identity!.dnodeId ? this.settings.supportVnodes : (this.seen.get(d.id)?.supportVnodes ?? 16);
                return [String(d.id), `${d.fqdn}:${d.port}`, '0', String(support), s.status, tableTime(d.createTime), s.note];
              }),
          },
        };
      case 'show-mnodes':
        return {
          kind: 'table',
          table: {
            columns: [
              { name: 'id', align: 'right' },
              { name: 'endpoint', align: 'left' },
              { name: 'role', align: 'left' },
              { name: 'status', align: 'left' },
              { name: 'create_time', align: 'left' },
              { name: 'role_time', align: 'left' },
            ],
            rows: [...sdb.mnodes]
              .sort((a, b) => a.dnodeId - b.dnodeId)
              .map((m) => {
                const d = sdb.dnodes.find((x) => x.id === m.dnodeId)!;
                const self = m.dnodeId === this.identity!.dnodeId;
                const ready = self || this.status(d).status === 'ready';
                return [String(m.dnodeId), `${d.fqdn}:${d.port}`, self ? 'leader' : ready ? 'follower' : 'offline', ready ? 'ready' : 'offline', tableTime(m.createTime), tableTime(self ? this.leaderSince : m.createTime)];
              }),
          },
        };
      case 'create-dnode': {
        if (sdb.dnodes.some((d) => d.fqdn === cmd.fqdn && d.port === cmd.port)) return { kind: 'error', message: 'Dnode already exists' };
        const d: SdbDnode = { id: sdb.nextDnodeId++, fqdn: cmd.fqdn, port: cmd.port, createTime: Date.now() };
        sdb.dnodes.push(d);
        this.commit(`dnode:${d.id}, ${d.fqdn}:${d.port} is created; it joins when its taosd reports to an mnode`);
        return { kind: 'affected', verb: 'Create', rows: 0 };
      }
      case 'create-mnode': {
        const d = sdb.dnodes.find((x) => x.id === cmd.dnodeId);
        if (!d) return { kind: 'error', message: 'Dnode does not exist' };
        if (sdb.mnodes.some((m) => m.dnodeId === d.id)) return { kind: 'error', message: 'Mnode already exists' };
        if (sdb.mnodes.length >= MAX_MNODES) return { kind: 'error', message: `The replica of mnode cannot exceed ${MAX_MNODES}` };
        if (sdb.dnodes.length < MIN_DNODES_FOR_MNODES) {
          return { kind: 'error', message: `Insufficient dnodes: mnodes can be added once the cluster has ${MIN_DNODES_FOR_MNODES} dnodes, it has ${sdb.dnodes.length}` };
        }
        if (this.status(d).status !== 'ready') return { kind: 'error', message: 'Dnode is offline' };
        sdb.mnodes.push({ dnodeId: d.id, createTime: Date.now() });
        this.commit(`mnode is created on dnode:${d.id} (${d.fqdn}:${d.port})`);
        return { kind: 'affected', verb: 'Create', rows: 0 };
      }
    }
  }

  /** Persist a change and push it to the other mnodes (best effort; a follower that missed it gets it with its next status reply). */
  private commit(what: string): void {
    const sdb = this.sdb!;
    sdb.version++;
    writeJsonAtomic(this.sdbFile, sdb);
    this.identity!.mnodeEps = this.mnodeEps(sdb);
    writeJsonAtomic(this.identityFile, this.identity);
    this.leaderCache = null;
    this.log.info('MND', what);
    for (const m of sdb.mnodes) {
      if (m.dnodeId === this.identity!.dnodeId) continue;
      const d = sdb.dnodes.find((x) => x.id === m.dnodeId);
      if (!d) continue;
      call(d.fqdn, d.port, { op: 'sdbSync', sdb: sdb as unknown as Json }, 2000).catch(() => undefined);
    }
  }
}
