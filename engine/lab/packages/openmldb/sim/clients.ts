// `bin/openmldb --role=sql_client|ns_client`: the two command-line clients.
// Both find the cluster through ZooKeeper (--zk_cluster, --zk_root_path) and
// read statements from --cmd or standard input. Tables are printed in the
// formats of OpenMLDB's clients; errors start with "Error:" (ns_client:
// "failed to …"), which is what scripts look for, since the clients may exit 0.

import {
  masterNameserver,
  readCluster,
  unalivePartitions,
  type ClusterView,
} from './cluster.js';
import { age, dashedTable, dateTime, errorMessage, headerRuleTable, SIMULATED_NOTICE } from './common.js';
import { call, type Message } from './rpc.js';
import { ZkClient } from './zk.js';
import { splitStatements } from '../../sim-common/statements.js';

interface ClientArgs {
  zkCluster: string;
  zkRootPath: string;
  cmd: string | undefined;
  version: string;
}

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function connect(a: ClientArgs): Promise<ZkClient | null> {
  if (a.zkCluster === '') {
    out('Error: --zk_cluster is not set; the simulated OpenMLDB client only connects to a cluster');
    return null;
  }
  try {
    return await ZkClient.connect(a.zkCluster, { sessionTimeoutMs: 6000 });
  } catch (e) {
    out(`Error: zk connection to ${a.zkCluster} failed: ${errorMessage(e)}`);
    return null;
  }
}

/** The nameserver master's endpoint, or an error line when there is none. */
function master(view: ClusterView): string | undefined {
  const m = masterNameserver(view);
  if (!m) out(`Error: no nameserver master under ${view.root}/leader: start a NameServer (Fail to get nameserver client)`);
  return m?.endpoint;
}


/** Comma-separated parts outside parentheses: `c1 string, index(key=c1, ts=c2)`. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  parts.push(cur.trim());
  return parts;
}

// ---------------------------------------------------------------------------
// sql_client

export async function runSqlClient(a: ClientArgs): Promise<number> {
  const text = a.cmd ?? (await readStdin());
  out(`Welcome to OpenMLDB v${a.version} (${SIMULATED_NOTICE})`);
  out('');
  const zk = await connect(a);
  if (!zk) return 1;
  let failed = false;
  try {
    const first = await readCluster(zk, a.zkRootPath);
    if (master(first) === undefined) return 1;
    let db = '';
    for (const stmt of splitStatements(text)) {
      const s = stmt.replace(/\s+/g, ' ').trim();
      if (/^(quit|exit)$/i.test(s)) break;
      const view = await readCluster(zk, a.zkRootPath);
      const ok = await sqlStatement(s, view, (d) => (db = d), () => db);
      if (!ok) failed = true;
    }
  } catch (e) {
    out(`Error: ${errorMessage(e)}`);
    failed = true;
  } finally {
    await zk.close();
  }
  return failed ? 1 : 0;
}

async function sqlStatement(s: string, view: ClusterView, use: (db: string) => void, current: () => string): Promise<boolean> {
  const fail = (msg: string): boolean => {
    out(`Error: ${msg}`);
    return false;
  };
  const succeed = (): boolean => {
    out('SUCCEED');
    return true;
  };
  const ns = masterNameserver(view)?.endpoint;
  const nsCall = (req: Message): Promise<Message> =>
    ns === undefined ? Promise.resolve({ ok: false, message: `no nameserver master under ${view.root}/leader` }) : call(ns, req);
  if (/^show components$/i.test(s)) {
    const rows: string[][] = [];
    for (const t of view.tablets) rows.push([t.endpoint, 'tablet', dateTime(t.since), t.online ? 'online' : 'offline', 'NULL']);
    for (const n of view.nameservers) rows.push([n.endpoint, 'nameserver', dateTime(n.start), 'online', n.master ? 'master' : 'standby']);
    if (view.taskmanager) rows.push([view.taskmanager.endpoint, 'taskmanager', dateTime(view.taskmanager.start), 'online', 'NULL']);
    out(dashedTable(['Endpoint', 'Role', 'Connect_time', 'Status', 'Ns_role'], rows));
    return true;
  }
  if (/^show databases$/i.test(s)) {
    out(dashedTable(['Databases'], view.dbs.map((d) => [d])));
    return true;
  }
  let m = /^create database (if not exists )?([A-Za-z_][\w]*)$/i.exec(s);
  if (m) {
    if (m[1] && view.dbs.includes(m[2]!)) return succeed();
    const r = await nsCall({ op: 'createDatabase', name: m[2]! });
    if (r.ok !== true) return fail(String(r.message));
    out('SUCCEED');
    return true;
  }
  m = /^use ([A-Za-z_][\w]*)$/i.exec(s);
  if (m) {
    if (!view.dbs.includes(m[1]!)) return fail(`Cannot find database ${m[1]}`);
    use(m[1]!);
    out('SUCCEED: Database changed');
    return true;
  }
  if (/^show tables$/i.test(s)) {
    if (current() === '') return fail('Please use database first');
    out(dashedTable(['Tables'], view.tables.filter((t) => t.db === current()).map((t) => [t.name])));
    return true;
  }
  if (/^show table status$/i.test(s)) {
    const tables = view.tables.filter((t) => current() === '' || t.db === current());
    const rows = tables.map((t) => [
      String(t.tid), t.name, t.db, 'memory', '0', '0', '0',
      String(t.partitions.length), String(unalivePartitions(view, t).length), String(t.replicanum), 'NULL', 'NULL', 'NULL', '',
    ]);
    out(
      dashedTable(
        ['Table_id', 'Table_name', 'Database_name', 'Storage_type', 'Rows', 'Memory_data_size', 'Disk_data_size', 'Partition', 'Partition_unalive', 'Replica', 'Offline_path', 'Offline_format', 'Offline_deep_copy', 'Warnings'],
        rows,
      ),
    );
    return true;
  }
  m = /^create table (if not exists )?(?:([A-Za-z_]\w*)\.)?([A-Za-z_]\w*) ?\((.*?)\)(?: ?options ?\((.*)\))?$/i.exec(s);
  if (m) {
    const db = m[2] ?? current();
    if (db === '') return fail('Please use database first');
    const name = m[3]!;
    if (m[1] && view.tables.some((t) => t.db === db && t.name === name)) return succeed();
    const body = splitTopLevel(m[4]!).filter((c) => c !== '' && !/^index\b/i.test(c));
    const columns = body.map((c) => {
      const [n, ...type] = c.split(' ');
      return { name: n!, type: type.join(' ') };
    });
    const opts = new Map<string, string>();
    for (const o of (m[5] ?? '').split(',')) {
      const kv = /^\s*(\w+)\s*=\s*(\w+)\s*$/.exec(o);
      if (kv) opts.set(kv[1]!.toLowerCase(), kv[2]!);
    }
    const online = view.tablets.filter((t) => t.online).length;
    const partitionnum = Number(opts.get('partitionnum') ?? '8');
    const replicanum = Number(opts.get('replicanum') ?? String(Math.min(3, online)));
    if (!Number.isInteger(partitionnum) || partitionnum < 1) return fail(`partitionnum must be a positive integer`);
    const r = await nsCall({ op: 'createTable', db, name, columns, partitionnum, replicanum });
    if (r.ok !== true) return fail(String(r.message));
    out('SUCCEED');
    return true;
  }
  return fail(`the simulated OpenMLDB does not run this statement: ${s}`);
}

// ---------------------------------------------------------------------------
// ns_client

export async function runNsClient(a: ClientArgs): Promise<number> {
  const text = a.cmd ?? (await readStdin());
  const zk = await connect(a);
  if (!zk) return 1;
  let failed = false;
  try {
    const view = await readCluster(zk, a.zkRootPath);
    const ns = master(view);
    if (ns === undefined) return 1;
    for (const raw of text.split(/\r?\n|;/)) {
      const words = raw.trim().split(/\s+/).filter((w) => w !== '');
      if (words.length === 0) continue;
      const [cmd, ...args] = words as [string, ...string[]];
      if (cmd === 'quit' || cmd === 'exit') break;
      const now = await readCluster(zk, a.zkRootPath);
      if (!(await nsCommand(cmd, args, now, ns))) failed = true;
    }
  } catch (e) {
    out(`Error: ${errorMessage(e)}`);
    failed = true;
  } finally {
    await zk.close();
  }
  return failed ? 1 : 0;
}

async function nsCommand(cmd: string, args: string[], view: ClusterView, ns: string): Promise<boolean> {
  switch (cmd) {
    case 'confset': {
      if (args.length !== 2) {
        out('failed to confset: usage is confset auto_failover true|false');
        return false;
      }
      const r = await call(ns, { op: 'confset', key: args[0]!, value: args[1]! });
      if (r.ok !== true) {
        out(`failed to set ${args[0]}. error msg: ${String(r.message)}`);
        return false;
      }
      out(`set ${args[0]} ok`);
      return true;
    }
    case 'confget': {
      if (args.length > 0 && args[0] !== 'auto_failover') {
        out(`failed to get ${args[0]}: unsupported conf name`);
        return false;
      }
      out(headerRuleTable(['key', 'value'], [['auto_failover', String(view.autoFailover)]]));
      return true;
    }
    case 'showtablet': {
      const now = Date.now();
      out(headerRuleTable(['endpoint', 'real_endpoint', 'state', 'age'], view.tablets.map((t) => [t.endpoint, '-', t.online ? 'kTabletHealthy' : 'kTabletOffline', age(now - t.since)])));
      return true;
    }
    case 'showns': {
      out(headerRuleTable(['endpoint', 'real_endpoint', 'role'], view.nameservers.map((n) => [n.endpoint, '-', n.master ? 'leader' : 'standby'])));
      return true;
    }
    case 'showopstatus': {
      const [name, pid] = args;
      const ops = view.ops.filter((o) => (name === undefined || o.name === name || o.name.endsWith(`.${name}`)) && (pid === undefined || String(o.pid) === pid));
      out(
        headerRuleTable(
          ['op_id', 'op_type', 'name', 'pid', 'status', 'start_time', 'execute_time', 'end_time', 'cur_task', 'for_replica'],
          ops.map((o) => [String(o.op_id), o.op_type, o.name, String(o.pid), o.status, dateTime(o.start_time).replace(' ', '_'), `${Math.max(0, Math.round((o.end_time - o.start_time) / 1000))}s`, dateTime(o.end_time).replace(' ', '_'), '-', o.endpoint]),
        ),
      );
      return true;
    }
    default:
      out(`Error: unsupported cmd ${cmd} in the simulated ns_client (confset, confget, showtablet, showns, showopstatus)`);
      return false;
  }
}
