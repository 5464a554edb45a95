// tools/openmldb_ops.py: the OpenMLDB operations tool, as far as the
// start/stop document uses it. `--cmd=recoverdata` brings every partition
// back: each replica that does not serve is reloaded on its tablet, and a
// partition whose leader is gone gets a serving one, all through the
// NameServer master. It prints what it recovered and exits non-zero when
// something could not be. Only one may run at a time (an ephemeral lock in
// ZooKeeper); the document says to run it once and never interrupt it.

import { masterNameserver, readCluster, replicaAlive, ZkPaths } from './cluster.js';
import { errorMessage, SIMULATED_NOTICE } from './common.js';
import { call } from './rpc.js';
import { CreateMode, ZkClient, ZkError, ZK_ERR } from './zk.js';

export interface OpsArgs {
  zkCluster: string;
  zkRootPath: string;
  cmd: string;
}

function log(level: 'INFO' | 'WARNING' | 'ERROR', msg: string): void {
  const d = new Date().toISOString().replace('T', ' ').replace('Z', '');
  process.stdout.write(`${d} - ${level} - ${msg}\n`);
}

export async function runOps(a: OpsArgs): Promise<number> {
  if (a.zkCluster === '' || a.zkRootPath === '') {
    log('ERROR', 'need --zk_cluster and --zk_root_path');
    return 2;
  }
  if (!['recoverdata', 'showtablestatus', 'showopstatus'].includes(a.cmd)) {
    log('ERROR', `unsupported cmd ${a.cmd || '(none)'}: the simulated openmldb_ops supports recoverdata, showtablestatus, showopstatus`);
    return 2;
  }
  let zk: ZkClient;
  try {
    zk = await ZkClient.connect(a.zkCluster, { sessionTimeoutMs: 6000 });
  } catch (e) {
    log('ERROR', `cannot connect to zookeeper ${a.zkCluster}: ${errorMessage(e)}`);
    return 1;
  }
  try {
    const view = await readCluster(zk, a.zkRootPath);
    const ns = masterNameserver(view);
    if (!ns) {
      log('ERROR', `no nameserver master under ${a.zkRootPath}/leader; start the cluster first`);
      return 1;
    }
    if (a.cmd === 'showtablestatus') {
      for (const t of view.tables) {
        const bad = t.partitions.filter((p) => p.replicas.some((r) => !replicaAlive(view, t, p.pid, r.endpoint)));
        log('INFO', `table ${t.db}.${t.name}: ${t.partitions.length} partitions, ${bad.length} unalive${bad.length === 0 ? ', healthy' : ` (pid ${bad.map((p) => p.pid).join(',')})`}`);
      }
      return 0;
    }
    if (a.cmd === 'showopstatus') {
      for (const o of view.ops) log('INFO', `op ${o.op_id} ${o.op_type} ${o.name} pid ${o.pid} ${o.endpoint}: ${o.status}`);
      return 0;
    }
    return await recoverData(zk, a, ns.endpoint);
  } finally {
    await zk.close();
  }
}

async function recoverData(zk: ZkClient, a: OpsArgs, ns: string): Promise<number> {
  const paths = new ZkPaths(a.zkRootPath);
  await zk.ensurePath(`${a.zkRootPath}/ops`);
  try {
    await zk.create(paths.recoverLock, JSON.stringify({ pid: process.pid, start: Date.now() }), CreateMode.EPHEMERAL);
  } catch (e) {
    if (e instanceof ZkError && e.code === ZK_ERR.NODEEXISTS) {
      log('ERROR', `another recoverdata is running (${paths.recoverLock} exists); wait until it ends, never run two at once`);
      return 1;
    }
    throw e;
  }
  log('INFO', `recoverdata start: zk_cluster ${a.zkCluster}, zk_root_path ${a.zkRootPath}, nameserver ${ns} (${SIMULATED_NOTICE})`);
  const view = await readCluster(zk, a.zkRootPath);
  let recovered = 0;
  let failed = 0;
  const offline = new Set<string>();
  for (const t of view.tables) {
    for (const part of t.partitions) {
      const name = `${t.db}.${t.name}`;
      const todo = part.replicas.filter((r) => !replicaAlive(view, t, part.pid, r.endpoint));
      const leader = part.replicas.find((r) => r.leader);
      if (todo.length === 0) continue;
      let partOk = true;
      for (const r of todo) {
        const tablet = view.tablets.find((x) => x.endpoint === r.endpoint);
        if (!tablet?.online) {
          offline.add(r.endpoint);
          log('WARNING', `table ${name} pid ${part.pid}: replica on ${r.endpoint} not recovered, the tablet is offline`);
          partOk = false;
          continue;
        }
        const resp = await call(ns, { op: 'recoverPartition', table: name, pid: part.pid, endpoint: r.endpoint }, 30_000);
        if (resp.ok !== true) {
          log('ERROR', `table ${name} pid ${part.pid}: recover on ${r.endpoint} failed: ${String(resp.message)}`);
          partOk = false;
          failed++;
          continue;
        }
        const actions = Array.isArray(resp.actions) ? resp.actions.map(String) : [];
        log('INFO', `table ${name} pid ${part.pid}: ${actions.join('; ') || `replica on ${r.endpoint} already serving`}${leader?.endpoint === r.endpoint ? ' (leader)' : ''}`);
      }
      // A leader on an offline tablet hands over to a serving replica, so the partition can serve.
      if (leader !== undefined && offline.has(leader.endpoint)) {
        const after = await readCluster(zk, a.zkRootPath);
        const next = part.replicas.find((r) => replicaAlive(after, t, part.pid, r.endpoint));
        if (next) {
          const resp = await call(ns, { op: 'recoverPartition', table: name, pid: part.pid, endpoint: next.endpoint }, 30_000);
          const actions = Array.isArray(resp.actions) ? resp.actions.map(String) : [];
          log(resp.ok === true ? 'INFO' : 'ERROR', `table ${name} pid ${part.pid}: ${resp.ok === true ? actions.join('; ') : `change leader failed: ${String(resp.message)}`}`);
        }
      }
      if (partOk) recovered++;
    }
  }
  const summary = `${recovered} partitions recovered, ${failed} failed${offline.size > 0 ? `, replicas on offline tablets skipped: ${[...offline].join(', ')}` : ''}`;
  if (failed > 0 || offline.size > 0) {
    log('ERROR', `recoverdata finished with problems: ${summary}`);
    return 1;
  }
  log('INFO', `recoverdata success: ${summary}`);
  return 0;
}
