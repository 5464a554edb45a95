// What the simulated OpenMLDB keeps in ZooKeeper under zk_root_path, and how
// every client reads the cluster back from there. Nothing here is cached in a
// process: `show components`, `showtablet` and the ops tool answer from what
// is registered in ZooKeeper at that moment, as OpenMLDB's do.
//
//   <root>/nodes/<endpoint>        ephemeral: a live tablet; data {start, version, loaded[]}
//   <root>/tablets/<endpoint>      persistent: every tablet that ever joined; data {state, since}
//   <root>/leader/ns_<seq>         ephemeral sequential: nameservers; the lowest is the master
//   <root>/taskmanager/leader      ephemeral: the TaskManager leader; data {endpoint, start}
//   <root>/config/auto_failover    persistent: "true" / "false"
//   <root>/db/<name>               persistent: databases
//   <root>/table/<db>.<name>       persistent: table meta (partitions, replicas, leaders)
//   <root>/table_index             persistent: the last table id
//   <root>/op/<id>                 persistent: nameserver operations (showopstatus)
//   <root>/ops/recoverdata_lock    ephemeral: held while openmldb_ops.py recoverdata runs

import { ZkError, ZK_ERR, type ZkClient } from './zk.js';

export interface TabletNode {
  start: number;
  version: string;
  /** Partitions the tablet serves now, as "<tid>_<pid>"; empty after a restart until they are loaded (recovered). */
  loaded: string[];
}

export interface Replica {
  endpoint: string;
  leader: boolean;
}

export interface PartitionMeta {
  pid: number;
  replicas: Replica[];
}

export interface TableMeta {
  tid: number;
  db: string;
  name: string;
  columns: Array<{ name: string; type: string }>;
  replicanum: number;
  partitions: PartitionMeta[];
  created: number;
}

export interface OpRecord {
  op_id: number;
  op_type: string;
  name: string;
  pid: number;
  endpoint: string;
  status: string;
  start_time: number;
  end_time: number;
}

export interface TabletView {
  endpoint: string;
  online: boolean;
  /** When it came online (online) or when it was last seen going offline. */
  since: number;
  loaded: Set<string>;
  version: string;
}

export interface NameserverView {
  endpoint: string;
  node: string;
  start: number;
  master: boolean;
}

export interface ClusterView {
  root: string;
  tablets: TabletView[];
  nameservers: NameserverView[];
  taskmanager: { endpoint: string; start: number } | null;
  autoFailover: boolean;
  dbs: string[];
  tables: TableMeta[];
  ops: OpRecord[];
}

export class ZkPaths {
  constructor(readonly root: string) {}

  get nodes(): string {
    return `${this.root}/nodes`;
  }
  node(ep: string): string {
    return `${this.root}/nodes/${ep}`;
  }
  get tablets(): string {
    return `${this.root}/tablets`;
  }
  tablet(ep: string): string {
    return `${this.root}/tablets/${ep}`;
  }
  get leader(): string {
    return `${this.root}/leader`;
  }
  get taskmanager(): string {
    return `${this.root}/taskmanager`;
  }
  get taskmanagerLeader(): string {
    return `${this.root}/taskmanager/leader`;
  }
  get autoFailover(): string {
    return `${this.root}/config/auto_failover`;
  }
  get dbs(): string {
    return `${this.root}/db`;
  }
  db(name: string): string {
    return `${this.root}/db/${name}`;
  }
  get tables(): string {
    return `${this.root}/table`;
  }
  table(db: string, name: string): string {
    return `${this.root}/table/${db}.${name}`;
  }
  get tableIndex(): string {
    return `${this.root}/table_index`;
  }
  get ops(): string {
    return `${this.root}/op`;
  }
  op(id: number): string {
    return `${this.root}/op/${String(id).padStart(10, '0')}`;
  }
  get opIndex(): string {
    return `${this.root}/op_index`;
  }
  get recoverLock(): string {
    return `${this.root}/ops/recoverdata_lock`;
  }
}

function parseJson<T>(text: string | undefined, fallback: T): T {
  if (text === undefined || text === '') return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

/** Children, or [] when the parent is not there yet. */
export async function childrenOf(zk: ZkClient, path: string): Promise<string[]> {
  return (await zk.children(path)) ?? [];
}

/** The whole cluster as ZooKeeper holds it now. */
export async function readCluster(zk: ZkClient, root: string): Promise<ClusterView> {
  const p = new ZkPaths(root);
  const online = new Map<string, TabletNode>();
  for (const ep of await childrenOf(zk, p.nodes)) {
    const got = await zk.get(p.node(ep));
    if (got) online.set(ep, parseJson<TabletNode>(got.data, { start: got.stat.ctime, version: '', loaded: [] }));
  }
  const tablets: TabletView[] = [];
  const known = new Set(await childrenOf(zk, p.tablets));
  for (const ep of online.keys()) known.add(ep);
  for (const ep of [...known].sort()) {
    const node = online.get(ep);
    if (node) {
      tablets.push({ endpoint: ep, online: true, since: node.start, loaded: new Set(node.loaded), version: node.version });
    } else {
      const rec = await zk.get(p.tablet(ep));
      const r = parseJson<{ since?: number }>(rec?.data, {});
      tablets.push({ endpoint: ep, online: false, since: r.since ?? rec?.stat.mtime ?? Date.now(), loaded: new Set(), version: '' });
    }
  }

  const nameservers: NameserverView[] = [];
  const election = (await childrenOf(zk, p.leader)).sort((a, b) => seqOf(a) - seqOf(b));
  for (const name of election) {
    const got = await zk.get(`${p.leader}/${name}`);
    if (!got) continue;
    const d = parseJson<{ endpoint?: string; start?: number }>(got.data, {});
    nameservers.push({ endpoint: d.endpoint ?? got.data, node: name, start: d.start ?? got.stat.ctime, master: nameservers.length === 0 });
  }

  const tm = await zk.get(p.taskmanagerLeader);
  const tmData = parseJson<{ endpoint?: string; start?: number }>(tm?.data, {});
  const taskmanager = tm ? { endpoint: tmData.endpoint ?? tm.data, start: tmData.start ?? tm.stat.ctime } : null;

  const af = await zk.get(p.autoFailover);
  const dbs = (await childrenOf(zk, p.dbs)).sort();
  const tables: TableMeta[] = [];
  for (const name of await childrenOf(zk, p.tables)) {
    const got = await zk.get(`${p.tables}/${name}`);
    if (got) tables.push(parseJson<TableMeta>(got.data, { tid: 0, db: '', name, columns: [], replicanum: 0, partitions: [], created: 0 }));
  }
  tables.sort((a, b) => a.tid - b.tid);
  const ops: OpRecord[] = [];
  for (const name of await childrenOf(zk, p.ops)) {
    const got = await zk.get(`${p.ops}/${name}`);
    if (got) ops.push(parseJson<OpRecord>(got.data, { op_id: 0, op_type: '', name: '', pid: 0, endpoint: '', status: '', start_time: 0, end_time: 0 }));
  }
  ops.sort((a, b) => a.op_id - b.op_id);
  return { root, tablets, nameservers, taskmanager, autoFailover: af?.data.trim() === 'true', dbs, tables, ops };
}

function seqOf(name: string): number {
  const m = /(\d+)$/.exec(name);
  return m ? Number(m[1]) : Number.MAX_SAFE_INTEGER;
}

export function partitionKey(tid: number, pid: number): string {
  return `${tid}_${pid}`;
}

/** A replica serves when its tablet is online and has the partition loaded. */
export function replicaAlive(view: ClusterView, t: TableMeta, pid: number, ep: string): boolean {
  const tablet = view.tablets.find((x) => x.endpoint === ep);
  return tablet !== undefined && tablet.online && tablet.loaded.has(partitionKey(t.tid, pid));
}

/** Partitions with a replica that does not serve (OpenMLDB's Partition_unalive). */
export function unalivePartitions(view: ClusterView, t: TableMeta): PartitionMeta[] {
  return t.partitions.filter((part) => part.replicas.some((r) => !replicaAlive(view, t, part.pid, r.endpoint)));
}

export function masterNameserver(view: ClusterView): NameserverView | undefined {
  return view.nameservers.find((n) => n.master);
}

/** Next value of a counter node (table ids, op ids); a version check makes concurrent writers retry. */
export async function nextId(zk: ZkClient, path: string): Promise<number> {
  for (;;) {
    const got = await zk.get(path);
    if (!got) {
      try {
        await zk.create(path, '1');
        return 1;
      } catch (e) {
        if (e instanceof ZkError && e.code === ZK_ERR.NODEEXISTS) continue;
        if (e instanceof ZkError && e.code === ZK_ERR.NONODE) {
          await zk.ensurePath(path.slice(0, path.lastIndexOf('/')));
          continue;
        }
        throw e;
      }
    }
    const n = Number(got.data) + 1;
    try {
      await zk.set(path, String(n), got.stat.version);
      return n;
    } catch (e) {
      if (!(e instanceof ZkError && e.code === ZK_ERR.BADVERSION)) throw e;
    }
  }
}

export async function recordOp(zk: ZkClient, root: string, op: Omit<OpRecord, 'op_id'>): Promise<OpRecord> {
  const p = new ZkPaths(root);
  const id = await nextId(zk, p.opIndex);
  const rec: OpRecord = { op_id: id, ...op };
  await zk.put(p.op(id), JSON.stringify(rec));
  return rec;
}
