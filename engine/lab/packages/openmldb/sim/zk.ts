// A small ZooKeeper client speaking ZooKeeper's own wire protocol (jute
// records over TCP), so the simulated OpenMLDB servers register in a REAL
// ZooKeeper the way OpenMLDB does: ephemeral nodes that vanish when the
// process or its session dies, persistent configuration, sequential nodes for
// the nameserver election, and watches.
//
// Only what OpenMLDB's use of ZooKeeper needs is here: connect (with session
// resume on another server of the ensemble), create, delete, exists, getData,
// setData, getChildren (with one-shot watches), ping and close. Node builtins
// only: this file ships inside the simulated package.

import { createConnection, type Socket } from 'node:net';

/** ZooKeeper's error codes (KeeperException.Code) that callers act on. */
export const ZK_ERR = {
  CONNECTIONLOSS: -4,
  OPERATIONTIMEOUT: -7,
  NONODE: -101,
  BADVERSION: -103,
  NODEEXISTS: -110,
  NOTEMPTY: -111,
  SESSIONEXPIRED: -112,
} as const;

const ERR_NAMES: Record<number, string> = {
  [-4]: 'ConnectionLoss',
  [-7]: 'OperationTimeout',
  [-101]: 'NoNode',
  [-102]: 'NoAuth',
  [-103]: 'BadVersion',
  [-108]: 'NoChildrenForEphemerals',
  [-110]: 'NodeExists',
  [-111]: 'NotEmpty',
  [-112]: 'SessionExpired',
};

export class ZkError extends Error {
  constructor(
    readonly code: number,
    readonly path: string,
    op: string,
  ) {
    super(`ZooKeeper ${op} ${path}: ${ERR_NAMES[code] ?? `error ${code}`}`);
  }
}

/** Node kinds, as ZooKeeper's CreateMode flags. */
export const CreateMode = { PERSISTENT: 0, EPHEMERAL: 1, PERSISTENT_SEQUENTIAL: 2, EPHEMERAL_SEQUENTIAL: 3 } as const;
export type CreateModeValue = (typeof CreateMode)[keyof typeof CreateMode];

const OP = { create: 1, delete: 2, exists: 3, getData: 4, setData: 5, getChildren: 8, ping: 11, closeSession: -11 } as const;
const XID_WATCH = -1;
const XID_PING = -2;

export interface Stat {
  czxid: bigint;
  mzxid: bigint;
  ctime: number;
  mtime: number;
  version: number;
  cversion: number;
  ephemeralOwner: bigint;
  dataLength: number;
  numChildren: number;
}

export interface WatchEvent {
  /** 1 created, 2 deleted, 3 data changed, 4 children changed. */
  type: number;
  path: string;
}

// ---------------------------------------------------------------------------
// Jute encoding: big-endian ints and longs, length-prefixed strings and buffers.

class Writer {
  private parts: Buffer[] = [];

  int(n: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    this.parts.push(b);
    return this;
  }

  long(n: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(n);
    this.parts.push(b);
    return this;
  }

  bool(v: boolean): this {
    this.parts.push(Buffer.from([v ? 1 : 0]));
    return this;
  }

  buffer(data: Buffer | null): this {
    if (data === null) return this.int(-1);
    this.int(data.length);
    this.parts.push(data);
    return this;
  }

  string(s: string): this {
    return this.buffer(Buffer.from(s, 'utf8'));
  }

  /** The record with its 4-byte length prefix, as ZooKeeper frames every packet. */
  frame(): Buffer {
    const body = Buffer.concat(this.parts);
    const len = Buffer.alloc(4);
    len.writeInt32BE(body.length);
    return Buffer.concat([len, body]);
  }
}

class Reader {
  private at = 0;

  constructor(private readonly buf: Buffer) {}

  int(): number {
    const v = this.buf.readInt32BE(this.at);
    this.at += 4;
    return v;
  }

  long(): bigint {
    const v = this.buf.readBigInt64BE(this.at);
    this.at += 8;
    return v;
  }

  bool(): boolean {
    return this.buf[this.at++] === 1;
  }

  buffer(): Buffer | null {
    const len = this.int();
    if (len < 0) return null;
    const v = this.buf.subarray(this.at, this.at + len);
    this.at += len;
    return Buffer.from(v);
  }

  string(): string {
    return (this.buffer() ?? Buffer.alloc(0)).toString('utf8');
  }

  stat(): Stat {
    const czxid = this.long();
    const mzxid = this.long();
    const ctime = Number(this.long());
    const mtime = Number(this.long());
    const version = this.int();
    const cversion = this.int();
    this.int(); // aversion
    const ephemeralOwner = this.long();
    const dataLength = this.int();
    const numChildren = this.int();
    this.long(); // pzxid
    return { czxid, mzxid, ctime, mtime, version, cversion, ephemeralOwner, dataLength, numChildren };
  }

  get remaining(): number {
    return this.buf.length - this.at;
  }
}

/** world:anyone with every permission: OpenMLDB's nodes carry no ACLs. */
function openAcl(w: Writer): void {
  w.int(1).int(31).string('world').string('anyone');
}

// ---------------------------------------------------------------------------

export interface ZkOptions {
  /** Session timeout asked of the server (it clamps it to 2..20 ticks). */
  sessionTimeoutMs?: number;
  /** How long one server may take to accept a connection and answer the handshake. */
  connectTimeoutMs?: number;
  /** Per-request deadline. */
  requestTimeoutMs?: number;
}

interface Pending {
  op: string;
  path: string;
  parse: (r: Reader) => unknown;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

type Endpoint = { host: string; port: number };

/** "h1:2181,h2:2181/chroot" → endpoints (a chroot suffix is not supported and refused). */
export function parseZkCluster(cluster: string): Endpoint[] {
  if (cluster.includes('/')) throw new Error(`zk_cluster "${cluster}" has a chroot path; put the path in zk_root_path instead`);
  const out: Endpoint[] = [];
  for (const part of cluster.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const at = part.lastIndexOf(':');
    const port = at < 0 ? 2181 : Number(part.slice(at + 1));
    const host = at < 0 ? part : part.slice(0, at);
    if (host === '' || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`zk_cluster entry "${part}" is not host:port`);
    out.push({ host, port });
  }
  if (out.length === 0) throw new Error('zk_cluster is empty');
  return out;
}

export class ZkClient {
  private sock: Socket | null = null;
  private inbox = Buffer.alloc(0);
  private xid = 1;
  private pending = new Map<number, Pending>();
  private sessionId = 0n;
  private passwd: Buffer = Buffer.alloc(16);
  private negotiatedTimeout = 0;
  private pingTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private lastZxid = 0n;
  private next = 0;
  private readonly watchers = new Map<string, Array<(e: WatchEvent) => void>>();
  private readonly expiredListeners: Array<() => void> = [];
  /** Where the session is connected now, for messages. */
  connectedTo = '';

  private constructor(
    private readonly servers: Endpoint[],
    private readonly opts: Required<ZkOptions>,
  ) {
    this.next = Math.floor(Math.random() * servers.length);
  }

  /** Open a session with the first server of `cluster` that answers. */
  static async connect(cluster: string, opts: ZkOptions = {}): Promise<ZkClient> {
    const c = new ZkClient(parseZkCluster(cluster), {
      sessionTimeoutMs: opts.sessionTimeoutMs ?? 6000,
      connectTimeoutMs: opts.connectTimeoutMs ?? 3000,
      requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
    });
    await c.open(false);
    return c;
  }

  get sessionTimeoutMs(): number {
    return this.negotiatedTimeout;
  }

  /** The session's id as ZooKeeper prints it (0x…), to compare with a node's ephemeralOwner. */
  get session(): bigint {
    return this.sessionId;
  }

  /** Called once if the session expires (its ephemeral nodes are gone). */
  onExpired(fn: () => void): void {
    this.expiredListeners.push(fn);
  }

  /** Try each server in turn; with `resume`, keep the session (and its ephemeral nodes). */
  private async open(resume: boolean): Promise<void> {
    const reasons: string[] = [];
    for (let i = 0; i < this.servers.length; i++) {
      const ep = this.servers[(this.next + i) % this.servers.length]!;
      try {
        await this.handshake(ep, resume);
        this.next = (this.next + i + 1) % this.servers.length;
        return;
      } catch (e) {
        if (e instanceof ZkError && e.code === ZK_ERR.SESSIONEXPIRED) throw e;
        reasons.push(`${ep.host}:${ep.port}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    throw new Error(`cannot connect to ZooKeeper (${reasons.join('; ')})`);
  }

  private handshake(ep: Endpoint, resume: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const sock = createConnection({ host: ep.host, port: ep.port });
      let settled = false;
      let buf = Buffer.alloc(0);
      const fail = (e: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.destroy();
        reject(e);
      };
      const timer = setTimeout(() => fail(new Error(`no answer within ${this.opts.connectTimeoutMs} ms`)), this.opts.connectTimeoutMs);
      sock.on('error', (e) => fail(e));
      sock.on('close', () => fail(new Error('connection closed during the handshake (is this a ZooKeeper server with quorum?)')));
      sock.on('connect', () => {
        const w = new Writer()
          .int(0)
          .long(this.lastZxid)
          .int(this.opts.sessionTimeoutMs)
          .long(resume ? this.sessionId : 0n)
          .buffer(resume ? this.passwd : Buffer.alloc(16))
          .bool(false);
        sock.write(w.frame());
      });
      const onData = (chunk: Buffer): void => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length < 4) return;
        const len = buf.readInt32BE(0);
        if (buf.length < 4 + len) return;
        const r = new Reader(buf.subarray(4, 4 + len));
        r.int(); // protocol version
        const timeout = r.int();
        const sessionId = r.long();
        const passwd = r.buffer() ?? Buffer.alloc(16);
        if (timeout <= 0) {
          fail(new ZkError(ZK_ERR.SESSIONEXPIRED, '/', 'connect'));
          return;
        }
        settled = true;
        clearTimeout(timer);
        sock.removeListener('data', onData);
        sock.removeAllListeners('close');
        sock.removeAllListeners('error');
        this.sessionId = sessionId;
        this.passwd = passwd;
        this.negotiatedTimeout = timeout;
        this.connectedTo = `${ep.host}:${ep.port}`;
        this.attach(sock, buf.subarray(4 + len));
        resolve();
      };
      sock.on('data', onData);
    });
  }

  private attach(sock: Socket, rest: Buffer): void {
    this.sock = sock;
    this.inbox = Buffer.from(rest);
    sock.setNoDelay(true);
    sock.on('data', (chunk: Buffer) => {
      this.inbox = Buffer.concat([this.inbox, chunk]);
      this.drain();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => this.lost(sock));
    // ZooKeeper ends a session that is silent for its timeout; a third keeps it alive with room to spare.
    this.pingTimer = setInterval(() => this.ping(), Math.max(200, Math.floor(this.negotiatedTimeout / 3)));
    this.pingTimer.unref();
    if (this.inbox.length > 0) this.drain();
  }

  private ping(): void {
    if (!this.sock) return;
    this.sock.write(new Writer().int(XID_PING).int(OP.ping).frame());
  }

  private drain(): void {
    while (this.inbox.length >= 4) {
      const len = this.inbox.readInt32BE(0);
      if (this.inbox.length < 4 + len) return;
      const packet = this.inbox.subarray(4, 4 + len);
      this.inbox = this.inbox.subarray(4 + len);
      this.dispatch(new Reader(Buffer.from(packet)));
    }
  }

  private dispatch(r: Reader): void {
    const xid = r.int();
    const zxid = r.long();
    const err = r.int();
    if (zxid > this.lastZxid) this.lastZxid = zxid;
    if (xid === XID_PING) return;
    if (xid === XID_WATCH) {
      const type = r.int();
      r.int(); // keeper state
      const path = r.string();
      const list = this.watchers.get(path) ?? [];
      this.watchers.delete(path);
      for (const fn of list) fn({ type, path });
      return;
    }
    const p = this.pending.get(xid);
    if (!p) return;
    this.pending.delete(xid);
    clearTimeout(p.timer);
    if (err !== 0) p.reject(new ZkError(err, p.path, p.op));
    else {
      try {
        p.resolve(p.parse(r));
      } catch (e) {
        p.reject(e instanceof Error ? e : new Error(String(e)));
      }
    }
  }

  /** The connection dropped: fail what is in flight, then resume the session elsewhere while it can live. */
  private lost(sock: Socket): void {
    if (this.sock !== sock) return;
    this.sock = null;
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const [xid, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new ZkError(ZK_ERR.CONNECTIONLOSS, p.path, p.op));
      this.pending.delete(xid);
    }
    if (this.closing) return;
    const deadline = Date.now() + this.negotiatedTimeout;
    const retry = (): void => {
      if (this.closing) return;
      this.open(true).then(
        () => undefined,
        (e: unknown) => {
          const expired = e instanceof ZkError && e.code === ZK_ERR.SESSIONEXPIRED;
          if (!expired && Date.now() < deadline) {
            setTimeout(retry, 300).unref();
            return;
          }
          this.closing = true;
          for (const fn of this.expiredListeners) fn();
        },
      );
    };
    retry();
  }

  private request<T>(op: keyof typeof OP, path: string, body: (w: Writer) => void, parse: (r: Reader) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (!this.sock) {
        reject(new ZkError(this.closing ? ZK_ERR.SESSIONEXPIRED : ZK_ERR.CONNECTIONLOSS, path, op));
        return;
      }
      const xid = this.xid++;
      const w = new Writer().int(xid).int(OP[op]);
      body(w);
      const timer = setTimeout(() => {
        this.pending.delete(xid);
        reject(new ZkError(ZK_ERR.OPERATIONTIMEOUT, path, op));
      }, this.opts.requestTimeoutMs);
      this.pending.set(xid, { op, path, parse, resolve: resolve as (v: unknown) => void, reject, timer });
      this.sock.write(w.frame());
    });
  }

  create(path: string, data: string | Buffer = '', mode: CreateModeValue = CreateMode.PERSISTENT): Promise<string> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    return this.request(
      'create',
      path,
      (w) => {
        w.string(path).buffer(bytes);
        openAcl(w);
        w.int(mode);
      },
      (r) => r.string(),
    );
  }

  /** Create every missing persistent node along `path` (like mkdir -p). */
  async ensurePath(path: string): Promise<void> {
    const parts = path.split('/').filter((p) => p !== '');
    let cur = '';
    for (const part of parts) {
      cur += `/${part}`;
      try {
        await this.create(cur);
      } catch (e) {
        if (!(e instanceof ZkError && e.code === ZK_ERR.NODEEXISTS)) throw e;
      }
    }
  }

  delete(path: string, version = -1): Promise<void> {
    return this.request('delete', path, (w) => w.string(path).int(version), () => undefined);
  }

  /** The node's stat, or null when it does not exist. */
  async exists(path: string): Promise<Stat | null> {
    try {
      return await this.request('exists', path, (w) => w.string(path).bool(false), (r) => r.stat());
    } catch (e) {
      if (e instanceof ZkError && e.code === ZK_ERR.NONODE) return null;
      throw e;
    }
  }

  /** The node's data and stat, or null when it does not exist. With `watch`, it is called once on the next change of the node. */
  async get(path: string, watch?: (e: WatchEvent) => void): Promise<{ data: string; stat: Stat } | null> {
    try {
      return await this.request('getData', path, (w) => w.string(path).bool(watch !== undefined), (r) => {
        const data = (r.buffer() ?? Buffer.alloc(0)).toString('utf8');
        // Registered while the reply is read: an event right behind it in the same packet must find it.
        if (watch) this.addWatcher(path, watch);
        return { data, stat: r.stat() };
      });
    } catch (e) {
      if (e instanceof ZkError && e.code === ZK_ERR.NONODE) return null;
      throw e;
    }
  }

  set(path: string, data: string, version = -1): Promise<Stat> {
    return this.request('setData', path, (w) => w.string(path).buffer(Buffer.from(data, 'utf8')).int(version), (r) => r.stat());
  }

  /** Create or overwrite a persistent node's data. */
  async put(path: string, data: string): Promise<void> {
    try {
      await this.set(path, data);
    } catch (e) {
      if (!(e instanceof ZkError && e.code === ZK_ERR.NONODE)) throw e;
      await this.ensurePath(path.slice(0, path.lastIndexOf('/')) || '/');
      try {
        await this.create(path, data);
      } catch (e2) {
        // Someone created it between our two calls: write over theirs.
        if (!(e2 instanceof ZkError && e2.code === ZK_ERR.NODEEXISTS)) throw e2;
        await this.set(path, data);
      }
    }
  }

  /** Children's names (sorted), or null when the node does not exist. With `watch`, `watch` is called once on the next change. */
  async children(path: string, watch?: (e: WatchEvent) => void): Promise<string[] | null> {
    try {
      const list = await this.request('getChildren', path, (w) => w.string(path).bool(watch !== undefined), (r) => {
        const n = r.int();
        const out: string[] = [];
        for (let i = 0; i < n; i++) out.push(r.string());
        // Registered while the reply is read: an event right behind it in the same packet must find it.
        if (watch) this.addWatcher(path, watch);
        return out;
      });
      return list.sort();
    } catch (e) {
      if (e instanceof ZkError && e.code === ZK_ERR.NONODE) return null;
      throw e;
    }
  }

  // One list per path for data and child watches alike: ZooKeeper sends one
  // event per change, and each listener here is one-shot, as ZooKeeper's are.
  private addWatcher(path: string, fn: (e: WatchEvent) => void): void {
    this.watchers.set(path, [...(this.watchers.get(path) ?? []), fn]);
  }

  /** End the session: ZooKeeper deletes its ephemeral nodes at once. */
  async close(): Promise<void> {
    if (this.closing && !this.sock) return;
    this.closing = true;
    const sock = this.sock;
    if (!sock) return;
    try {
      await this.request('closeSession', '/', () => undefined, () => undefined);
    } catch {
      // the server may close the socket before answering
    }
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.sock = null;
    sock.destroy();
  }
}
