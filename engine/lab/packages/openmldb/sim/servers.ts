// The four simulated OpenMLDB servers. Each connects to the real ZooKeeper
// named by its zk_cluster, listens on its endpoint, and registers under
// zk_root_path the way OpenMLDB does, so clients (and ZooKeeper's own tools)
// see the cluster as it really is.
//
// Rules from the OpenMLDB start/stop document, enforced here:
// - TabletServers first: a NameServer refuses to start while no tablet is
//   registered; one that starts while known tablets are offline warns, and
//   with auto_failover on it fails their partitions over, as OpenMLDB does.
// - TaskManager and APIServer need a NameServer master to start.
// - auto_failover decides what the NameServer does when a tablet goes away
//   or comes back: on, it moves leaders and reloads partitions by itself
//   (operations listed by `showopstatus`); off, nothing happens until
//   `openmldb_ops.py --cmd=recoverdata`.
// - A tablet forgets its partitions when it restarts: they serve again only
//   once loaded (recovered), which is why restarts need recoverdata.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { Server } from 'node:net';
import { join } from 'node:path';
import {
  childrenOf,
  masterNameserver,
  partitionKey,
  readCluster,
  recordOp,
  replicaAlive,
  nextId,
  ZkPaths,
  type PartitionMeta,
  type TableMeta,
  type TabletNode,
} from './cluster.js';
import { delay, errorMessage, ServerLog, SIMULATED_NOTICE } from './common.js';
import { readVersion, type ServerConfig } from './config.js';
import { call, serve, type Message } from './rpc.js';
import { CreateMode, ZkClient, ZkError, ZK_ERR } from './zk.js';

/** Start-order waits: how long a server looks for what must already run before giving up. */
const ORDER_GRACE_MS = 3000;
const NS_TICK_MS = 300;

export class StartError extends Error {}

interface Running {
  log: ServerLog;
  zk: ZkClient;
  closers: Array<() => Promise<void> | void>;
}

/** Success and failure lines that bin/start.sh waits for (it matches the pid). */
function announceReady(log: ServerLog, cfg: ServerConfig): void {
  log.info(`start ${cfg.role} success, endpoint ${cfg.endpoint}, pid ${process.pid}`);
}

async function connectZk(cfg: ServerConfig, log: ServerLog): Promise<ZkClient> {
  try {
    const zk = await ZkClient.connect(cfg.zkCluster, { sessionTimeoutMs: cfg.zkSessionTimeoutMs });
    log.info(`connected to zookeeper ${zk.connectedTo} (zk_cluster ${cfg.zkCluster}), session 0x${zk.session.toString(16)}, timeout ${zk.sessionTimeoutMs} ms`);
    return zk;
  } catch (e) {
    throw new StartError(`fail to init zookeeper with cluster ${cfg.zkCluster}: ${errorMessage(e)}`);
  }
}

async function listen(cfg: ServerConfig, handler: (req: Message) => Promise<Message>): Promise<Server> {
  try {
    return await serve(cfg.host, cfg.port, handler);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EADDRINUSE' ? 'Address already in use' : code === 'EADDRNOTAVAIL' ? 'Cannot assign requested address' : errorMessage(e);
    throw new StartError(`Fail to start server on ${cfg.endpoint}: ${why}`);
  }
}

/** Stop cleanly on TERM/INT: closing the ZooKeeper session removes our ephemeral nodes at once. */
function onShutdown(r: Running, cfg: ServerConfig): void {
  let stopping = false;
  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    r.log.info(`received ${sig}, stopping ${cfg.role} ${cfg.endpoint}`);
    void (async () => {
      for (const c of r.closers.reverse()) {
        try {
          await c();
        } catch {
          // shutting down anyway
        }
      }
      try {
        await r.zk.close();
      } catch {
        // the session ends with the process
      }
      r.log.info(`${cfg.role} ${cfg.endpoint} stopped`);
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  r.zk.onExpired(() => {
    r.log.error(`zookeeper session expired; ${cfg.role} ${cfg.endpoint} exits`);
    process.exit(1);
  });
}

/** Create an ephemeral node; if a dead session still holds it, wait for ZooKeeper to expire that session. */
async function registerEphemeral(zk: ZkClient, path: string, data: string, waitMs: number, what: string): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      await zk.create(path, data, CreateMode.EPHEMERAL);
      return;
    } catch (e) {
      if (!(e instanceof ZkError && e.code === ZK_ERR.NODEEXISTS)) throw e;
      if (Date.now() > deadline) {
        throw new StartError(`${path} is still registered by another session: ${what} is already running, or its previous run has not expired yet`);
      }
      await delay(200);
    }
  }
}

// ---------------------------------------------------------------------------
// TabletServer

export async function runTablet(cfg: ServerConfig): Promise<void> {
  const log = new ServerLog(cfg.logDir, 'tablet');
  log.info(`starting tablet ${cfg.endpoint}, version ${readVersion(cfg.home)} — ${SIMULATED_NOTICE}`);
  const zk = await connectZk(cfg, log);
  const r: Running = { log, zk, closers: [] };
  const paths = new ZkPaths(cfg.zkRootPath);
  const loaded = new Set<string>();
  const start = Date.now();
  const nodeData = (): string => JSON.stringify({ start, version: readVersion(cfg.home), loaded: [...loaded].sort() } satisfies TabletNode);
  const publish = async (): Promise<void> => {
    await zk.set(paths.node(cfg.endpoint), nodeData());
  };
  mkdirSync(cfg.dbRoot, { recursive: true });

  const server = await listen(cfg, async (req) => {
    const tid = Number(req.tid);
    const pid = Number(req.pid);
    const dir = join(cfg.dbRoot, `${tid}_${pid}`);
    switch (req.op) {
      case 'status':
        return { ok: true, role: 'tablet', endpoint: cfg.endpoint, loaded: [...loaded] };
      case 'createPartition': {
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'table_meta.txt'), `tid: ${tid}\npid: ${pid}\nname: ${String(req.name)}\n`);
        loaded.add(partitionKey(tid, pid));
        await publish();
        log.info(`create table tid ${tid} pid ${pid} (${String(req.name)}) ok`);
        return { ok: true };
      }
      case 'loadTable': {
        // On disk since before the restart: load it. Gone (a cleaned tablet): copy it from the leader.
        const from = existsSync(join(dir, 'table_meta.txt')) ? 'disk' : `leader ${String(req.leader ?? 'unknown')}`;
        if (from !== 'disk') {
          mkdirSync(dir, { recursive: true });
          writeFileSync(join(dir, 'table_meta.txt'), `tid: ${tid}\npid: ${pid}\nname: ${String(req.name)}\n`);
        }
        loaded.add(partitionKey(tid, pid));
        await publish();
        log.info(`load table tid ${tid} pid ${pid} from ${from} ok`);
        return { ok: true, from };
      }
      default:
        return { ok: false, message: `tablet does not know ${String(req.op)}` };
    }
  });
  r.closers.push(() => new Promise<void>((res) => server.close(() => res())));
  onShutdown(r, cfg);

  await zk.ensurePath(paths.nodes);
  await zk.ensurePath(paths.tablets);
  await registerEphemeral(zk, paths.node(cfg.endpoint), nodeData(), zk.sessionTimeoutMs + 2000, `tablet ${cfg.endpoint}`);
  await zk.put(paths.tablet(cfg.endpoint), JSON.stringify({ state: 'online', since: start }));
  log.info(`tablet ${cfg.endpoint} registered in zookeeper at ${paths.node(cfg.endpoint)}`);
  announceReady(log, cfg);
}

// ---------------------------------------------------------------------------
// NameServer

export async function runNameserver(cfg: ServerConfig): Promise<void> {
  const log = new ServerLog(cfg.logDir, 'nameserver');
  log.info(`starting nameserver ${cfg.endpoint}, version ${readVersion(cfg.home)} — ${SIMULATED_NOTICE}`);
  const zk = await connectZk(cfg, log);
  const r: Running = { log, zk, closers: [] };
  const paths = new ZkPaths(cfg.zkRootPath);
  const root = cfg.zkRootPath;

  // The documented order: TabletServers, then NameServers.
  const deadline = Date.now() + ORDER_GRACE_MS;
  let online = await childrenOf(zk, paths.nodes);
  while (online.length === 0 && Date.now() < deadline) {
    await delay(200);
    online = await childrenOf(zk, paths.nodes);
  }
  if (online.length === 0) {
    throw new StartError(
      `no tablet is registered under ${paths.nodes}: start the TabletServers before the NameServer (OpenMLDB start order: tablet, nameserver, taskmanager, apiserver)`,
    );
  }
  const known = await childrenOf(zk, paths.tablets);
  const missing = known.filter((ep) => !online.includes(ep));
  if (missing.length > 0) log.warn(`tablets ${missing.join(', ')} are offline at nameserver start; start every TabletServer before the NameServer`);

  let master = false;
  let myNode = '';

  // Tablets believed online when this nameserver takes over: all known ones,
  // so the ones that are down are handled as just gone, as OpenMLDB does.
  let previous = new Set<string>();
  let tickRunning = false;
  const tick = async (): Promise<void> => {
    if (tickRunning) return;
    tickRunning = true;
    try {
      const election = (await childrenOf(zk, paths.leader)).sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
      const nowMaster = election[0] === myNode;
      if (nowMaster && !master) {
        log.info(`nameserver ${cfg.endpoint} becomes the master (${paths.leader}/${myNode})`);
        previous = new Set([...(await childrenOf(zk, paths.tablets))]);
      }
      master = nowMaster;
      if (!master) return;
      const view = await readCluster(zk, root);
      const nowOnline = new Set(view.tablets.filter((t) => t.online).map((t) => t.endpoint));
      for (const ep of previous) if (!nowOnline.has(ep)) await tabletGone(ep);
      for (const ep of nowOnline) if (!previous.has(ep)) await tabletBack(ep);
      previous = nowOnline;
    } catch (e) {
      log.warn(`nameserver check failed: ${errorMessage(e)}`);
    } finally {
      tickRunning = false;
    }
  };

  const autoFailover = async (): Promise<boolean> => (await zk.get(paths.autoFailover))?.data.trim() === 'true';

  const tabletGone = async (ep: string): Promise<void> => {
    await zk.put(paths.tablet(ep), JSON.stringify({ state: 'offline', since: Date.now() }));
    if (!(await autoFailover())) {
      log.warn(`tablet ${ep} is offline; auto_failover is false, so nothing is done: run recoverdata once it is back`);
      return;
    }
    log.warn(`tablet ${ep} is offline; auto_failover is true: failing over its partitions`);
    const view = await readCluster(zk, root);
    for (const t of view.tables) {
      let changed = false;
      for (const part of t.partitions) {
        if (!part.replicas.some((x) => x.endpoint === ep)) continue;
        const now = Date.now();
        await recordOp(zk, root, { op_type: 'kOfflineReplicaOP', name: `${t.db}.${t.name}`, pid: part.pid, endpoint: ep, status: 'kDone', start_time: now, end_time: Date.now() });
        const leader = part.replicas.find((x) => x.leader);
        if (leader?.endpoint !== ep) continue;
        const next = part.replicas.find((x) => x.endpoint !== ep && replicaAlive(view, t, part.pid, x.endpoint));
        if (!next) {
          log.error(`table ${t.db}.${t.name} pid ${part.pid}: no alive replica to take over from ${ep}`);
          continue;
        }
        for (const x of part.replicas) x.leader = x.endpoint === next.endpoint;
        changed = true;
        await recordOp(zk, root, { op_type: 'kChangeLeaderOP', name: `${t.db}.${t.name}`, pid: part.pid, endpoint: next.endpoint, status: 'kDone', start_time: now, end_time: Date.now() });
        log.info(`table ${t.db}.${t.name} pid ${part.pid}: leader ${ep} -> ${next.endpoint}`);
      }
      if (changed) await zk.put(paths.table(t.db, t.name), JSON.stringify(t));
    }
  };

  const tabletBack = async (ep: string): Promise<void> => {
    if (!(await autoFailover())) {
      log.info(`tablet ${ep} is online; auto_failover is false, so its partitions wait for recoverdata`);
      return;
    }
    log.info(`tablet ${ep} is online; auto_failover is true: recovering its partitions`);
    const view = await readCluster(zk, root);
    for (const t of view.tables) {
      for (const part of t.partitions) {
        if (!part.replicas.some((x) => x.endpoint === ep) || replicaAlive(view, t, part.pid, ep)) continue;
        await loadOn(t, part, ep, 'kRecoverTableOP');
      }
    }
  };

  const loadOn = async (t: TableMeta, part: PartitionMeta, ep: string, opType: string): Promise<Message> => {
    const start = Date.now();
    const leader = part.replicas.find((x) => x.leader)?.endpoint ?? null;
    let resp: Message;
    try {
      resp = await call(ep, { op: 'loadTable', tid: t.tid, pid: part.pid, name: `${t.db}.${t.name}`, leader });
    } catch (e) {
      resp = { ok: false, message: errorMessage(e) };
    }
    await recordOp(zk, root, { op_type: opType, name: `${t.db}.${t.name}`, pid: part.pid, endpoint: ep, status: resp.ok === true ? 'kDone' : 'kFailed', start_time: start, end_time: Date.now() });
    return resp;
  };

  const handleNs = async (req: Message): Promise<Message> => {
    if (req.op === 'status') return { ok: true, role: 'nameserver', endpoint: cfg.endpoint, master };
    if (!master) return { ok: false, message: `nameserver ${cfg.endpoint} is not the master` };
    switch (req.op) {
      case 'confset': {
        if (req.key !== 'auto_failover') return { ok: false, message: `unsupported conf name ${String(req.key)}` };
        const v = String(req.value).toLowerCase();
        if (v !== 'true' && v !== 'false') return { ok: false, message: `invalid value ${String(req.value)}: auto_failover is true or false` };
        await zk.put(paths.autoFailover, v);
        log.info(`set auto_failover ${v}`);
        return { ok: true };
      }
      case 'createDatabase': {
        const name = String(req.name);
        await zk.ensurePath(paths.dbs);
        try {
          await zk.create(paths.db(name));
        } catch (e) {
          if (e instanceof ZkError && e.code === ZK_ERR.NODEEXISTS) return { ok: false, message: `database ${name} already exists` };
          throw e;
        }
        return { ok: true };
      }
      case 'createTable':
        return createTable(req);
      case 'recoverPartition': {
        const view = await readCluster(zk, root);
        const t = view.tables.find((x) => `${x.db}.${x.name}` === req.table);
        const part = t?.partitions.find((x) => x.pid === Number(req.pid));
        if (!t || !part) return { ok: false, message: `no partition ${String(req.pid)} of table ${String(req.table)}` };
        const ep = String(req.endpoint);
        const actions: string[] = [];
        if (!replicaAlive(view, t, part.pid, ep)) {
          const resp = await loadOn(t, part, ep, 'kRecoverTableOP');
          if (resp.ok !== true) return { ok: false, message: String(resp.message) };
          actions.push(`loaded on ${ep} from ${String(resp.from)}`);
        }
        const after = await readCluster(zk, root);
        const leader = part.replicas.find((x) => x.leader);
        if (!leader || !replicaAlive(after, t, part.pid, leader.endpoint)) {
          const next = part.replicas.find((x) => replicaAlive(after, t, part.pid, x.endpoint));
          if (next) {
            for (const x of part.replicas) x.leader = x.endpoint === next.endpoint;
            await zk.put(paths.table(t.db, t.name), JSON.stringify(t));
            const now = Date.now();
            await recordOp(zk, root, { op_type: 'kChangeLeaderOP', name: `${t.db}.${t.name}`, pid: part.pid, endpoint: next.endpoint, status: 'kDone', start_time: now, end_time: now });
            actions.push(`leader ${leader?.endpoint ?? 'none'} -> ${next.endpoint}`);
          }
        }
        return { ok: true, actions };
      }
      default:
        return { ok: false, message: `nameserver does not know ${String(req.op)}` };
    }
  };

  const createTable = async (req: Message): Promise<Message> => {
    const db = String(req.db);
    const name = String(req.name);
    if ((await zk.get(paths.db(db))) === null) return { ok: false, message: `database ${db} does not exist` };
    if ((await zk.get(paths.table(db, name))) !== null) return { ok: false, message: `table ${name} already exists in ${db}` };
    const view = await readCluster(zk, root);
    const tablets = view.tablets.filter((t) => t.online).map((t) => t.endpoint);
    const partitionnum = Number(req.partitionnum);
    const replicanum = Number(req.replicanum ?? Math.min(3, tablets.length));
    if (replicanum > tablets.length) return { ok: false, message: `replicanum ${replicanum} is more than the ${tablets.length} online tablets` };
    const tid = await nextId(zk, paths.tableIndex);
    const partitions: PartitionMeta[] = [];
    for (let pid = 0; pid < partitionnum; pid++) {
      const replicas = Array.from({ length: replicanum }, (_, k) => ({ endpoint: tablets[(pid + k) % tablets.length]!, leader: k === 0 }));
      partitions.push({ pid, replicas });
    }
    const meta: TableMeta = { tid, db, name, columns: (req.columns as Array<{ name: string; type: string }>) ?? [], replicanum, partitions, created: Date.now() };
    for (const part of partitions) {
      for (const rep of part.replicas) {
        const resp = await call(rep.endpoint, { op: 'createPartition', tid, pid: part.pid, name: `${db}.${name}` });
        if (resp.ok !== true) return { ok: false, message: `create partition ${part.pid} on ${rep.endpoint} failed: ${String(resp.message)}` };
      }
    }
    await zk.ensurePath(paths.tables);
    await zk.create(paths.table(db, name), JSON.stringify(meta));
    log.info(`create table ${db}.${name} tid ${tid}, ${partitionnum} partitions, ${replicanum} replicas`);
    return { ok: true, tid };
  };

  const server = await listen(cfg, (req) => handleNs(req));
  r.closers.push(() => new Promise<void>((res) => server.close(() => res())));
  onShutdown(r, cfg);

  await zk.ensurePath(paths.leader);
  const me = await zk.create(`${paths.leader}/ns_`, JSON.stringify({ endpoint: cfg.endpoint, start: Date.now() }), CreateMode.EPHEMERAL_SEQUENTIAL);
  myNode = me.slice(me.lastIndexOf('/') + 1);
  if ((await zk.get(paths.autoFailover)) === null) {
    await zk.ensurePath(`${root}/config`);
    try {
      await zk.create(paths.autoFailover, String(cfg.autoFailoverDefault));
    } catch (e) {
      if (!(e instanceof ZkError && e.code === ZK_ERR.NODEEXISTS)) throw e;
    }
  }

  const timer = setInterval(() => void tick(), NS_TICK_MS);
  r.closers.push(() => clearInterval(timer));
  await tick();
  log.info(`nameserver ${cfg.endpoint} registered in zookeeper at ${me}${master ? ' as master' : ' as standby'}`);
  announceReady(log, cfg);
}

// ---------------------------------------------------------------------------
// TaskManager and APIServer: they need a NameServer master to start.

async function requireNsMaster(zk: ZkClient, cfg: ServerConfig, what: string): Promise<string> {
  const deadline = Date.now() + ORDER_GRACE_MS;
  for (;;) {
    const view = await readCluster(zk, cfg.zkRootPath);
    const m = masterNameserver(view);
    if (m) return m.endpoint;
    if (Date.now() > deadline) {
      throw new StartError(
        `no NameServer master under ${cfg.zkRootPath}/leader: start the NameServers before the ${what} (OpenMLDB start order: tablet, nameserver, taskmanager, apiserver)`,
      );
    }
    await delay(200);
  }
}

export async function runTaskManager(cfg: ServerConfig): Promise<void> {
  const log = new ServerLog(cfg.logDir, 'taskmanager');
  log.info(`starting taskmanager ${cfg.endpoint}, version ${readVersion(cfg.home)} — ${SIMULATED_NOTICE}`);
  const zk = await connectZk(cfg, log);
  const r: Running = { log, zk, closers: [] };
  const ns = await requireNsMaster(zk, cfg, 'TaskManager');
  log.info(`nameserver master is ${ns}`);
  const server = await listen(cfg, async (req) => (req.op === 'status' ? { ok: true, role: 'taskmanager', endpoint: cfg.endpoint } : { ok: false, message: 'the simulated TaskManager runs no jobs' }));
  r.closers.push(() => new Promise<void>((res) => server.close(() => res())));
  onShutdown(r, cfg);
  const paths = new ZkPaths(cfg.zkRootPath);
  await zk.ensurePath(paths.taskmanager);
  await registerEphemeral(zk, paths.taskmanagerLeader, JSON.stringify({ endpoint: cfg.endpoint, start: Date.now() }), zk.sessionTimeoutMs + 2000, `a TaskManager`);
  log.info(`taskmanager ${cfg.endpoint} registered in zookeeper at ${paths.taskmanagerLeader}`);
  announceReady(log, cfg);
}

export async function runApiServer(cfg: ServerConfig): Promise<void> {
  const log = new ServerLog(cfg.logDir, 'apiserver');
  log.info(`starting apiserver ${cfg.endpoint}, version ${readVersion(cfg.home)} — ${SIMULATED_NOTICE}`);
  const zk = await connectZk(cfg, log);
  const r: Running = { log, zk, closers: [] };
  const ns = await requireNsMaster(zk, cfg, 'APIServer');
  log.info(`nameserver master is ${ns}`);
  const paths = new ZkPaths(cfg.zkRootPath);
  // The APIServer answers HTTP and does not register in ZooKeeper, which is why `show components` leaves it out.
  const http: HttpServer = createHttpServer((req, res) => {
    void (async () => {
      const url = (req.url ?? '/').split('?')[0]!;
      const send = (code: number, body: unknown): void => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body) + '\n');
      };
      try {
        if (url === '/dbs') return send(200, { code: 0, msg: 'ok', data: { dbs: (await childrenOf(zk, paths.dbs)).sort() } });
        const m = /^\/dbs\/([^/]+)\/tables$/.exec(url);
        if (m) {
          const view = await readCluster(zk, cfg.zkRootPath);
          return send(200, { code: 0, msg: 'ok', data: { tables: view.tables.filter((t) => t.db === m[1]).map((t) => ({ name: t.name, tid: t.tid })) } });
        }
        if (url === '/' || url === '/status') return send(200, { code: 0, msg: `ok (${SIMULATED_NOTICE})` });
        send(404, { code: -1, msg: `no such API: ${url}` });
      } catch (e) {
        send(500, { code: -1, msg: errorMessage(e) });
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', (e: NodeJS.ErrnoException) =>
      reject(new StartError(`Fail to start server on ${cfg.endpoint}: ${e.code === 'EADDRINUSE' ? 'Address already in use' : e.message}`)),
    );
    http.listen({ host: cfg.host, port: cfg.port }, () => resolve());
  });
  r.closers.push(() => new Promise<void>((res) => http.close(() => res())));
  onShutdown(r, cfg);
  announceReady(log, cfg);
}
