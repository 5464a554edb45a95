// Issue 11, end to end: the built-in OpenMLDB playbooks, run by the real CLI
// against three lab hosts, with a REAL ZooKeeper ensemble (Debian's
// ZooKeeper packed as upstream's apache-zookeeper-<version>-bin.tar.gz, one
// server per host, deployed from that archive) and the simulated OpenMLDB
// package: three tablets, a nameserver, a TaskManager and an APIServer. The
// tests run in order through one lifecycle (ZooKeeper's JVMs start once):
// deploy → start → rolling restart → restart → stop → one-click start refused
// → start-order rules → a one-click cluster across the three hosts (refused
// until ssh trust is set up) → destroy (confirmed by the cluster's name typed
// at a terminal).
//
// What the cluster reports is checked against ZooKeeper itself, through a
// client of its wire protocol held by this test, so "online", the order of
// events and "never more than one tablet offline" come from what is really
// registered there, watched while the playbooks run.

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildLabPackage } from '../../engine/lab/index.js';
import { openmldbPackage } from '../../engine/lab/packages/openmldb/index.js';
import { ZkClient, type WatchEvent } from '../../engine/lab/packages/openmldb/sim/zk.js';
import { results, type CliResult } from '../support/cli.js';
import { useLab } from '../support/lab.js';
import { onTerminal } from '../support/tty.js';
import { anyMatch, existing, onHost, play, resultOf, transcript, useScratch, waitFor } from './helpers.js';

const lab = useLab({ hosts: 3 });
const scratch = useScratch();
const ROOT = '/openmldb_e2e';
const DEPLOY = '/opt/openmldb';

let topology = '';
/** The ZooKeeper release the lab packs: its archive, and the top folder it unpacks to. */
let zkArchive = '';
let zkTopDir = '';
let zk: ZkClient | undefined;
let addr: string[] = [];
let tablets: string[] = [];
let nameserver = '';
let taskmanager = '';

const run = (playbook: string, ...args: string[]): Promise<CliResult> => play(scratch, `openmldb/${playbook}`, topology, args);

function zkc(): ZkClient {
  if (!zk) throw new Error('the test has no ZooKeeper session (start did not run)');
  return zk;
}

/** Run on node1 from the client tablet's folder, e.g. the SQL client. */
function client(role: 'sql_client' | 'ns_client', input: string): Promise<string> {
  return onHost(lab, 'node1', `printf '%s\\n' '${input}' | ${DEPLOY}/tablet-1/bin/openmldb --zk_cluster=${addr[0]}:2181 --zk_root_path=${ROOT} --role=${role}`);
}

interface TopologyOptions {
  name: string;
  mode: 'manual' | 'one-click';
  deployDir: string;
  root: string;
  /** ZooKeeper: an ensemble on every lab host run by runbook, or the existing one. */
  zookeeper: 'servers' | 'existing';
  components: Record<'tablets' | 'nameservers' | 'taskmanagers' | 'apiservers', string[]>;
}

/** A topology file for this lab, in the form the adapter reads. */
function writeTopology(path: string, packagePath: string, o: TopologyOptions): string {
  const zk = addr.map((a) => `${a}:2181`).join(',');
  const lines = [
    'product: openmldb',
    'ssh:',
    '  user: root',
    `  private_key_file: ${lab.keyPath}`,
    `  known_hosts: ${lab.knownHostsPath}`,
    'cluster:',
    `  name: ${o.name}`,
    `  mode: ${o.mode}`,
    `  package: ${packagePath}`,
    `  deploy_dir: ${o.deployDir}`,
    `  zk_root_path: ${o.root}`,
    ...(o.zookeeper === 'existing'
      ? [`  zk_cluster: ${zk}`]
      : ['zookeeper:', `  package: ${zkArchive}`, '  servers:', ...addr.map((a) => `    - { host: ${a}, data_dir: /data/zookeeper }`)]),
  ];
  for (const [section, endpoints] of Object.entries(o.components)) {
    if (endpoints.length > 0) lines.push(`${section}:`, ...endpoints.map((e) => `  - endpoint: ${e}`));
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

let packagePath = '';

/** The cluster of the lifecycle tests: ZooKeeper and a tablet on every host, the rest spread. */
function clusterOptions(): TopologyOptions {
  return {
    name: 'e2e',
    mode: 'manual',
    deployDir: DEPLOY,
    root: ROOT,
    zookeeper: 'servers',
    components: { tablets, nameservers: [nameserver], taskmanagers: [taskmanager], apiservers: [`${addr[2]}:9080`] },
  };
}

beforeAll(async () => {
  addr = lab.hosts.map((h) => h.address);
  tablets = addr.map((a) => `${a}:10921`);
  nameserver = `${addr[0]}:7527`;
  taskmanager = `${addr[1]}:9902`;
  packagePath = (await buildLabPackage('openmldb', { outDir: join(scratch.dir, 'packages') })).path;
  const zkPackage = await buildLabPackage('zookeeper', { outDir: join(scratch.dir, 'packages') });
  zkArchive = zkPackage.path;
  zkTopDir = zkPackage.topDir;
  topology = writeTopology(join(scratch.dir, 'openmldb.yaml'), packagePath, clusterOptions());
});

afterAll(async () => {
  await zk?.close();
});

/** Hosts on which a task ran (not skipped), in the order their results came. */
function ranOn(r: CliResult, task: string): string[] {
  return results(r, task)
    .filter((e) => e.status !== 'skipped')
    .map((e) => e.host);
}

/** Index of the first result of `task` on `host` among all task results. */
function position(r: CliResult, task: string, host: string): number {
  const all = results(r);
  const i = all.findIndex((e) => e.task === task && e.host === host && e.status !== 'skipped');
  if (i < 0) throw new Error(`no result of "${task}" on ${host}\n${transcript(r)}`);
  return i;
}

describe.sequential('an OpenMLDB cluster with a real ZooKeeper ensemble', () => {
  test('deploy writes ZooKeeper and OpenMLDB configuration and records the manual mode', async () => {
    const r = await run('deploy');
    expect(r.code, transcript(r)).toBe(0);
    const conf = await onHost(lab, 'node1', `cat ${DEPLOY}/tablet-1/conf/tablet.flags ${DEPLOY}/zookeeper-1/conf/zoo.cfg /data/zookeeper/myid ${DEPLOY}/tablet-1/conf/hosts`);
    expect(conf).toContain(`--endpoint=${tablets[0]}`);
    expect(conf).toContain(`--zk_cluster=${addr.map((a) => `${a}:2181`).join(',')}`);
    expect(conf).toContain(`--zk_root_path=${ROOT}`);
    for (const [i, a] of addr.entries()) expect(conf).toContain(`server.${i + 1}=${a}:2888:3888`);
    expect(conf).toMatch(/^1$/m);
    expect(await onHost(lab, 'node3', `cat ${DEPLOY}/apiserver-1/.runbook-mode`)).toBe('manual');
    expect(conf).toContain(`${nameserver} ${DEPLOY}/nameserver-1`);
    // ZooKeeper unpacked from its release archive: the release's own scripts and jars, our zoo.cfg and java.env.
    const version = /^apache-zookeeper-(.+)-bin$/.exec(zkTopDir)?.[1];
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    const zk2 = `${DEPLOY}/zookeeper-2`;
    expect(await existing(lab, 'node2', [`${DEPLOY}/${zkTopDir}.tar.gz`, `${zk2}/bin/zkServer.sh`, `${zk2}/bin/zkEnv.sh`, `${zk2}/conf/zoo_sample.cfg`, `${zk2}/lib/zookeeper-${version}.jar`, `${zk2}/conf/java.env`])).toHaveLength(6);
    expect(await onHost(lab, 'node2', `test -L ${zk2}/bin/zkServer.sh || echo regular; cat /data/zookeeper/myid; cat ${zk2}/conf/java.env`)).toMatch(/^regular\n2\n[\s\S]*SERVER_JVMFLAGS="-Xmx256m -Dzookeeper\.root\.logger=INFO,ROLLINGFILE"/);
  }, 240_000);

  test('start: ZooKeeper quorum, then tablets, nameserver, TaskManager, APIServer in order; all online; auto_failover on; recoverdata ran', async () => {
    const r = await run('start');
    expect(r.code, transcript(r)).toBe(0);

    // A real ZooKeeper JVM on every host, started by the release's bin/zkServer.sh, in a quorum with one leader.
    expect(ranOn(r, 'bin/zkServer.sh start').sort()).toEqual(['zookeeper-1', 'zookeeper-2', 'zookeeper-3']);
    const quorum = results(r, 'ZooKeeper serves in a quorum (srvr)').filter((e) => e.status === 'ok');
    expect(quorum.map((e) => e.host).sort()).toEqual(['zookeeper-1', 'zookeeper-2', 'zookeeper-3']);
    for (const [i, host] of ['node1', 'node2', 'node3'].entries()) {
      expect(await anyMatch(lab, host, ['org\\.apache\\.zookeeper\\.server\\.quorum\\.QuorumPeerMain'])).toEqual([true]);
      // The JVM whose pid zkServer.sh wrote runs the deployed release's jars, not Debian's installed ones.
      const cmdline = await onHost(lab, host, "tr '\\0' ' ' < /proc/$(cat /data/zookeeper/zookeeper_server.pid)/cmdline");
      expect(cmdline).toContain(`-cp ${DEPLOY}/zookeeper-${i + 1}/conf:${DEPLOY}/zookeeper-${i + 1}/lib/`);
      expect(cmdline).toMatch(/QuorumPeerMain \S+\/conf\/zoo\.cfg\s*$/);
    }
    expect(await onHost(lab, 'node1', `grep -c 'QuorumPeer' ${DEPLOY}/zookeeper-1/logs/zookeeper.log`)).toMatch(/^[1-9]\d*\n$/);
    expect(resultOf(r, 'the ensemble has one leader', 'tablet-1').status).toBe('ok');

    // The document's order: each step only after the one before.
    const started = 'bash bin/start.sh start';
    expect(ranOn(r, started).sort()).toEqual(['apiserver-1', 'nameserver-1', 'tablet-1', 'tablet-2', 'tablet-3', 'taskmanager-1']);
    const lastTablet = Math.max(...['tablet-1', 'tablet-2', 'tablet-3'].map((h) => position(r, started, h)));
    expect(lastTablet).toBeLessThan(position(r, started, 'nameserver-1'));
    expect(position(r, started, 'nameserver-1')).toBeLessThan(position(r, started, 'taskmanager-1'));
    expect(position(r, started, 'taskmanager-1')).toBeLessThan(position(r, started, 'apiserver-1'));

    // What ZooKeeper holds: three live tablets, the nameserver master, the TaskManager, auto_failover on.
    zk = await ZkClient.connect(addr.map((a) => `${a}:2181`).join(','));
    expect(await zkc().children(`${ROOT}/nodes`)).toEqual([...tablets].sort());
    const election = (await zkc().children(`${ROOT}/leader`)) ?? [];
    expect(election).toHaveLength(1);
    expect(JSON.parse((await zkc().get(`${ROOT}/leader/${election[0]}`))!.data).endpoint).toBe(nameserver);
    expect(JSON.parse((await zkc().get(`${ROOT}/taskmanager/leader`))!.data).endpoint).toBe(taskmanager);
    expect((await zkc().get(`${ROOT}/config/auto_failover`))?.data).toBe('true');

    const shown = resultOf(r, 'components table', 'tablet-1').msg;
    for (const t of tablets) expect(shown).toMatch(new RegExp(`${t.replace(/\./g, '\\.')}\\s+tablet\\s+\\S+ \\S+\\s+online\\s+NULL`));
    expect(shown).toMatch(new RegExp(`${nameserver.replace(/\./g, '\\.')}\\s+nameserver\\s+\\S+ \\S+\\s+online\\s+master`));
    expect(shown).toContain('5 rows in set');
    expect(resultOf(r, 'what recoverdata did', 'tablet-1').msg).toMatch(/recoverdata success/);
    // The APIServer answers over HTTP.
    expect(await onHost(lab, 'node3', `exec 3<>/dev/tcp/${addr[2]}/9080; printf 'GET /dbs HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3`)).toContain('"code":0');
  }, 300_000);

  test('show and status report the running cluster', async () => {
    const shown = await run('show');
    expect(shown.code, transcript(shown)).toBe(0);
    expect(resultOf(shown, 'every component is online', 'tablet-1').msg).toContain('all 5 components are online');
    expect(resultOf(shown, 'auto_failover and tablets', 'tablet-1').msg).toMatch(/auto_failover\s+true[\s\S]*kTabletHealthy/);

    const status = await run('status');
    expect(status.code, transcript(status)).toBe(0);
    for (const h of ['tablet-1', 'tablet-2', 'tablet-3', 'nameserver-1', 'taskmanager-1', 'apiserver-1']) {
      expect(resultOf(status, 'status', h).msg).toMatch(/: running, pid \d+; listening: yes$/);
    }
    const modes = ['zookeeper-1', 'zookeeper-2', 'zookeeper-3'].map((h) => /Mode: (\w+)/.exec(resultOf(status, 'status', h).msg)?.[1]);
    expect(modes.sort()).toEqual(['follower', 'follower', 'leader']);
  }, 120_000);

  test('rolling-restart: one tablet at a time, never more than one offline, each recovered and healthy before the next', async () => {
    // Partitions on every tablet, so each restart has something to recover.
    expect(await client('sql_client', 'create database d; use d; create table t (c1 string, c2 int) options (partitionnum=4, replicanum=3);')).not.toMatch(/Error/);

    // Watch the live tablets in ZooKeeper while the playbook runs.
    const seen: string[][] = [];
    let watching = true;
    const watch = async (): Promise<void> => {
      if (!watching) return;
      const now = await zkc().children(`${ROOT}/nodes`, () => void watch().catch(() => undefined));
      if (now) seen.push(now);
    };
    await watch();
    const r = await run('rolling-restart');
    watching = false;
    expect(r.code, transcript(r)).toBe(0);

    const online = seen.map((s) => s.length);
    expect(Math.min(...online)).toBe(2);
    expect(Math.max(...online)).toBe(3);
    // Which tablet was missing each time one was: all three, in order, each once.
    const missing = seen.filter((s) => s.length < 3).map((s) => tablets.find((t) => !s.includes(t)));
    expect(missing).toEqual(tablets);
    expect(seen.at(-1)).toEqual([...tablets].sort());

    const stopped = ranOn(r, 'bash bin/start.sh stop');
    expect(stopped).toEqual(['tablet-1', 'tablet-2', 'tablet-3']);
    for (const t of ['tablet-1', 'tablet-2', 'tablet-3']) {
      expect(resultOf(r, 'what recoverdata did', t).msg).toMatch(/recoverdata success: 4 partitions recovered/);
      // The next tablet stops only after this one is healthy again.
      const next = `tablet-${Number(t.slice(-1)) + 1}`;
      if (next !== 'tablet-4') expect(position(r, 'every table is healthy again', t)).toBeLessThan(position(r, 'bash bin/start.sh stop', next));
    }
    // auto_failover was off around the restarts and is back on.
    expect(resultOf(r, 'confset auto_failover false', 'tablet-1').status).toBe('changed');
    expect((await zkc().get(`${ROOT}/config/auto_failover`))?.data).toBe('true');
    expect(await client('sql_client', 'show table status;')).toMatch(/\s4\s+0\s+3\s/);
  }, 300_000);

  test('rolling-restart -e upgrade=true: each tablet in turn runs the new release', async () => {
    // The next release, built like the first (a simulated 0.8.4), and the topology pointed at it.
    const dir = join(scratch.dir, 'upgrade');
    const next = openmldbPackage('0.8.4');
    mkdirSync(join(dir, next.topDir), { recursive: true });
    await next.build(join(dir, next.topDir));
    execFileSync('tar', ['-czf', join(dir, next.archiveName), '-C', dir, next.topDir]);
    writeTopology(topology, join(dir, next.archiveName), clusterOptions());

    const r = await run('rolling-restart', '-e', 'upgrade=true');
    expect(r.code, transcript(r)).toBe(0);
    expect(ranOn(r, 'unpack the OpenMLDB package over the tablet (upgrade)')).toEqual(['tablet-1', 'tablet-2', 'tablet-3']);
    for (const t of tablets) expect(JSON.parse((await zkc().get(`${ROOT}/nodes/${t}`))!.data).version).toBe('0.8.4');
    // Only the tablets were restarted: the nameserver still runs the release it started with.
    expect(await onHost(lab, 'node1', `${DEPLOY}/tablet-1/bin/openmldb --version; ${DEPLOY}/nameserver-1/bin/openmldb --version`)).toMatch(/^openmldb version 0\.8\.4 .*\nopenmldb version 0\.8\.3 /);
    // The tablet kept its data and its config through the upgrade.
    expect(await onHost(lab, 'node2', `grep -c . ${DEPLOY}/tablet-2/conf/tablet.flags; ls ${DEPLOY}/tablet-2/db`)).toMatch(/^\d+\n1_0\n1_1\n1_2\n1_3\n$/);
    expect(await onHost(lab, 'node2', `cat ${DEPLOY}/tablet-2/conf/tablet.flags`)).toContain(`--endpoint=${tablets[1]}`);
  }, 300_000);

  test('restart (ZooKeeper kept): stop in order with auto_failover off first, then start in order; new sessions, auto_failover on, data recovered', async () => {
    const zkPids = await Promise.all(['node1', 'node2', 'node3'].map((h) => onHost(lab, h, 'cat /data/zookeeper/zookeeper_server.pid')));
    const sessionsBefore = await Promise.all(tablets.map(async (t) => (await zkc().get(`${ROOT}/nodes/${t}`))!.stat.ephemeralOwner));

    const r = await run('restart', '--skip-tags', 'zookeeper');
    expect(r.code, transcript(r)).toBe(0);

    // Stop, then start: auto_failover off before the first stop, every stop before the first start.
    const stop = 'bash bin/start.sh stop';
    const start = 'bash bin/start.sh start';
    const everyone = ['tablet-1', 'tablet-2', 'tablet-3', 'nameserver-1', 'taskmanager-1', 'apiserver-1'];
    expect(ranOn(r, stop).sort()).toEqual([...everyone].sort());
    expect(ranOn(r, start).sort()).toEqual([...everyone].sort());
    const firstStop = Math.min(...everyone.map((h) => position(r, stop, h)));
    const lastStop = Math.max(...everyone.map((h) => position(r, stop, h)));
    expect(position(r, 'auto_failover is off', 'tablet-1')).toBeLessThan(firstStop);
    expect(lastStop).toBeLessThan(Math.min(...everyone.map((h) => position(r, start, h))));
    expect(Math.max(...['tablet-1', 'tablet-2', 'tablet-3'].map((h) => position(r, start, h)))).toBeLessThan(position(r, start, 'nameserver-1'));
    expect(position(r, start, 'taskmanager-1')).toBeLessThan(position(r, start, 'apiserver-1'));
    // ZooKeeper was left alone: the same JVMs, and no ZooKeeper task ran.
    expect(await Promise.all(['node1', 'node2', 'node3'].map((h) => onHost(lab, h, 'cat /data/zookeeper/zookeeper_server.pid')))).toEqual(zkPids);
    expect(ranOn(r, 'bin/zkServer.sh stop')).toEqual([]);

    // Every tablet registered again from a new session, auto_failover is back on, and recoverdata loaded the partitions.
    const sessionsAfter = await Promise.all(tablets.map(async (t) => (await zkc().get(`${ROOT}/nodes/${t}`))!.stat.ephemeralOwner));
    sessionsAfter.forEach((s, i) => expect(s).not.toBe(sessionsBefore[i]));
    expect((await zkc().get(`${ROOT}/config/auto_failover`))?.data).toBe('true');
    expect(resultOf(r, 'what recoverdata did', 'tablet-1').msg).toMatch(/recoverdata success/);
    expect(await client('sql_client', 'show table status;')).toMatch(/\s4\s+0\s+3\s/);
  }, 300_000);

  test('stop: auto_failover off before any tablet stops, then everything in order; no failover happened', async () => {
    const opsBefore = ((await zkc().children(`${ROOT}/op`)) ?? []).length;
    // ZooKeeper delivers a session's watch events in the order of the changes.
    const events: string[] = [];
    let watching = true;
    await zkc().get(`${ROOT}/config/auto_failover`, () => events.push('auto_failover changed'));
    const watchNodes = async (): Promise<void> => {
      if (!watching) return;
      await zkc().children(`${ROOT}/nodes`, (e: WatchEvent) => {
        events.push(`tablets changed (${e.type})`);
        void watchNodes().catch(() => undefined);
      });
    };
    await watchNodes();

    const r = await run('stop', '--skip-tags', 'zookeeper');
    watching = false;
    expect(r.code, transcript(r)).toBe(0);
    expect(events[0]).toBe('auto_failover changed');
    expect(events.filter((e) => e.startsWith('tablets changed')).length).toBeGreaterThan(0);
    expect((await zkc().get(`${ROOT}/config/auto_failover`))?.data).toBe('false');
    expect(await zkc().children(`${ROOT}/nodes`)).toEqual([]);
    expect(await zkc().children(`${ROOT}/leader`)).toEqual([]);
    // With auto_failover off, the nameserver recorded no failover operation while tablets went away.
    expect(((await zkc().children(`${ROOT}/op`)) ?? []).length).toBe(opsBefore);

    const stopped = 'bash bin/start.sh stop';
    const lastTablet = Math.max(...['tablet-1', 'tablet-2', 'tablet-3'].map((h) => position(r, stopped, h)));
    expect(position(r, 'auto_failover is off', 'tablet-1')).toBeLessThan(Math.min(...['tablet-1', 'tablet-2', 'tablet-3'].map((h) => position(r, stopped, h))));
    expect(lastTablet).toBeLessThan(position(r, stopped, 'nameserver-1'));
    expect(position(r, stopped, 'nameserver-1')).toBeLessThan(position(r, stopped, 'taskmanager-1'));
    expect(position(r, stopped, 'taskmanager-1')).toBeLessThan(position(r, stopped, 'apiserver-1'));
  }, 240_000);

  test('start in one-click mode is refused for a manual-mode cluster, before anything is touched', async () => {
    const r = await run('start', '-e', 'openmldb_mode=one-click');
    expect(r.code, transcript(r)).toBe(1);
    for (const h of ['tablet-1', 'tablet-2', 'tablet-3', 'nameserver-1', 'taskmanager-1', 'apiserver-1']) {
      const check = resultOf(r, 'this run uses the recorded mode', h);
      expect(check.status).toBe('failed');
      expect(check.msg).toContain('was deployed for manual mode');
      expect(check.msg).toContain('forbids mixing');
    }
    expect(ranOn(r, 'sbin/start-all.sh')).toEqual([]);
    expect(ranOn(r, 'bash bin/start.sh start')).toEqual([]);
    expect(await zkc().children(`${ROOT}/nodes`)).toEqual([]);
  }, 120_000);

  test('the simulated servers enforce the start order: no nameserver before a tablet, no TaskManager before a nameserver', async () => {
    const ns = await lab.sshExec('node1', `cd ${DEPLOY}/nameserver-1 && bash bin/start.sh start nameserver`);
    expect(ns.code).toBe(1);
    expect(ns.stdout).toContain('Starting nameserver ...');
    expect(ns.stdout).toMatch(/Start nameserver failed: no tablet is registered under \/openmldb_e2e\/nodes: start the TabletServers before the NameServer/);
    const tm = await lab.sshExec('node2', `cd ${DEPLOY}/taskmanager-1 && bash bin/start.sh start taskmanager`);
    expect(tm.code).toBe(1);
    expect(tm.stdout).toMatch(/Start taskmanager failed: no NameServer master under \/openmldb_e2e\/leader: start the NameServers before the TaskManager/);
    expect(await zkc().children(`${ROOT}/leader`)).toEqual([]);
  }, 120_000);

  test('one-click mode across the three hosts: refused until the one-click machine has ssh trust, then start-all.sh / stop-all.sh over ssh; manual start refused', async () => {
    // A second cluster on the same ZooKeeper ensemble under another root: a tablet on every host,
    // the nameserver on node2, the APIServer on node3; start-all.sh runs on node1 (tablet-1's machine).
    const ocRoot = `${ROOT}_oc`;
    const ocTablets = addr.map((a) => `${a}:20921`);
    const oneClick = writeTopology(join(scratch.dir, 'one-click.yaml'), packagePath, {
      name: 'e2e-one-click',
      mode: 'one-click',
      deployDir: '/opt/one-click',
      root: ocRoot,
      zookeeper: 'existing',
      components: { tablets: ocTablets, nameservers: [`${addr[1]}:27527`], taskmanagers: [], apiservers: [`${addr[2]}:29080`] },
    });
    const oc = (playbook: string, ...args: string[]): Promise<CliResult> => play(scratch, `openmldb/${playbook}`, oneClick, args);
    const deployed = await oc('deploy');
    expect(deployed.code, transcript(deployed)).toBe(0);
    const esc = (t: string): string => t.replace(/\./g, '\\.');
    expect(await onHost(lab, 'node1', 'cat /opt/one-click/tablet-1/.runbook-mode; echo; cat /opt/one-click/tablet-1/conf/hosts')).toMatch(
      new RegExp(`^one-click\n[\\s\\S]*\\[tablet\\]\n${esc(ocTablets[0]!)} /opt/one-click/tablet-1\n${esc(ocTablets[1]!)} /opt/one-click/tablet-2\n${esc(ocTablets[2]!)} /opt/one-click/tablet-3\n`),
    );

    // Lab hosts have no keys to each other: start is refused before anything is touched, naming the missing trust.
    const untrusted = await oc('start');
    expect(untrusted.code, transcript(untrusted)).toBe(1);
    const refused = resultOf(untrusted, 'the one-click machine logs in to the others without a password', 'tablet-1');
    expect(refused.status).toBe('failed');
    expect(refused.msg).toMatch(new RegExp(`cannot log in to: ${esc(addr[1]!)} \\(ssh: .+?\\); ${esc(addr[2]!)} \\(ssh: .+?\\)\\. Nothing was touched\\.`));
    expect(refused.msg).toContain(`${addr[2]} (ssh: `);
    expect(refused.msg).toContain('runbook play openmldb/ssh-trust -i');
    expect(ranOn(untrusted, 'sbin/start-all.sh')).toEqual([]);
    expect(await zkc().children(`${ocRoot}/nodes`)).toBeNull();

    // The opt-in trust: a key made on node1, authorised on node2 and node3, their host keys in node1's known_hosts.
    const trusted = await oc('ssh-trust');
    expect(trusted.code, transcript(trusted)).toBe(0);
    expect(resultOf(trusted, 'make ~/.ssh/id_ed25519 (kept when it exists)', 'tablet-1').status).toBe('changed');
    const key = (await onHost(lab, 'node1', 'cat /root/.ssh/id_ed25519.pub')).trim();
    for (const host of ['node2', 'node3']) expect(await onHost(lab, host, 'cat /root/.ssh/authorized_keys')).toContain(key);
    expect(await onHost(lab, 'node1', 'cat /root/.ssh/authorized_keys')).not.toContain(key);
    expect(await onHost(lab, 'node1', 'cat /root/.ssh/known_hosts')).toMatch(new RegExp(`^${esc(addr[1]!)} ssh-ed25519 [\\s\\S]*^${esc(addr[2]!)} ssh-ed25519 `, 'm'));
    expect(resultOf(trusted, 'the one-click machine logs in to the others without a password', 'tablet-1').status).toBe('ok');
    // Run again, it changes nothing.
    const again = await oc('ssh-trust');
    expect(again.code, transcript(again)).toBe(0);
    expect(results(again).filter((e) => e.status === 'changed').map((e) => `${e.task} on ${e.host}`)).toEqual([]);

    const started = await oc('start');
    expect(started.code, transcript(started)).toBe(0);
    expect(ranOn(started, 'sbin/start-all.sh')).toEqual(['tablet-1']);
    expect(ranOn(started, 'bash bin/start.sh start')).toEqual([]);
    expect(resultOf(started, 'what start-all.sh did', 'tablet-1').msg).toMatch(/(Start tablet success[\s\S]*){3}Start nameserver success[\s\S]*Start apiserver success/);
    // Each component runs on its own machine, started there over ssh from node1.
    expect(await zkc().children(`${ocRoot}/nodes`)).toEqual([...ocTablets].sort());
    for (const [i, host] of ['node1', 'node2', 'node3'].entries()) {
      expect(await anyMatch(lab, host, [`/opt/one-click/tablet-${i + 1}/lib/openmldb-sim/main\\.js --role=tablet`])).toEqual([true]);
    }
    const leader = ((await zkc().children(`${ocRoot}/leader`)) ?? [])[0];
    expect(JSON.parse((await zkc().get(`${ocRoot}/leader/${leader}`))!.data).endpoint).toBe(`${addr[1]}:27527`);
    expect((await zkc().get(`${ocRoot}/config/auto_failover`))?.data).toBe('true');

    const manual = await oc('stop', '-e', 'openmldb_mode=manual');
    expect(manual.code, transcript(manual)).toBe(1);
    expect(resultOf(manual, 'this run uses the recorded mode', 'nameserver-1').msg).toContain('was deployed for one-click mode');
    expect(await zkc().children(`${ocRoot}/nodes`)).toHaveLength(3);

    const stopped = await oc('stop');
    expect(stopped.code, transcript(stopped)).toBe(0);
    expect(ranOn(stopped, 'sbin/stop-all.sh')).toEqual(['tablet-1']);
    expect(position(stopped, 'auto_failover is off', 'tablet-1')).toBeLessThan(position(stopped, 'sbin/stop-all.sh', 'tablet-1'));
    expect(await zkc().children(`${ocRoot}/nodes`)).toEqual([]);
    expect(await zkc().children(`${ocRoot}/leader`)).toEqual([]);
    for (const host of ['node1', 'node2', 'node3']) expect(await anyMatch(lab, host, ['/opt/one-click/.*/openmldb-sim/main\\.js'])).toEqual([false]);

    // The trust comes out again on request; the lab's own key stays authorised (the next test logs in with it).
    const untrust = await oc('ssh-trust', '-e', 'ssh_trust=absent');
    expect(untrust.code, transcript(untrust)).toBe(0);
    for (const host of ['node2', 'node3']) expect(await onHost(lab, host, 'cat /root/.ssh/authorized_keys')).not.toContain(key);
    expect(await onHost(lab, 'node1', 'cat /root/.ssh/known_hosts')).not.toContain(addr[1]!);

    const destroyed = await oc('destroy', '--yes');
    expect(destroyed.code, transcript(destroyed)).toBe(0);
    expect(await existing(lab, 'node2', ['/opt/one-click/tablet-2', '/opt/one-click/nameserver-1'])).toEqual([]);
  }, 300_000);

  test('clean and destroy refuse while ZooKeeper runs, need --yes (or the cluster name typed at a terminal), then delete what they listed', async () => {
    const running = await run('destroy', '--yes');
    expect(running.code, transcript(running)).toBe(1);
    expect(resultOf(running, 'the ZooKeeper server is stopped', 'zookeeper-1').status).toBe('failed');

    await zk?.close();
    zk = undefined;
    const stop = await run('stop');
    expect(stop.code, transcript(stop)).toBe(0);
    for (const host of ['node1', 'node2', 'node3']) {
      await waitFor(`ZooKeeper gone on ${host}`, async () => !(await anyMatch(lab, host, ['QuorumPeerMain']))[0]);
    }

    const cleaned = await run('clean', '--yes');
    expect(cleaned.code, transcript(cleaned)).toBe(0);
    expect(await existing(lab, 'node1', [`${DEPLOY}/tablet-1/db`, `${DEPLOY}/tablet-1/logs`, '/data/zookeeper/version-2', `${DEPLOY}/tablet-1/bin/openmldb`, '/data/zookeeper/myid'])).toEqual([
      `${DEPLOY}/tablet-1/bin/openmldb`,
      '/data/zookeeper/myid',
    ]);

    const unconfirmed = await run('destroy');
    expect(unconfirmed.code, transcript(unconfirmed)).toBe(1);
    expect(resultOf(unconfirmed, 'what will be deleted', 'tablet-1').msg).toContain(`${DEPLOY}/tablet-1`);
    expect(await existing(lab, 'node1', [`${DEPLOY}/tablet-1`])).toEqual([`${DEPLOY}/tablet-1`]);

    // At a terminal the cluster's name, typed, stands for --yes (issue 8): a wrong name deletes nothing.
    const targets = [`${DEPLOY}/tablet-1`, `${DEPLOY}/nameserver-1`, `${DEPLOY}/zookeeper-1`, '/data/zookeeper'];
    expect(await existing(lab, 'node1', targets)).toEqual(targets);
    const question = 'destroy deletes the folders listed above. Type the cluster name (e2e) to go ahead: ';
    const destroy = ['play', 'openmldb/destroy', '-i', topology, '-o', 'plain'];
    const wrong = onTerminal(destroy, scratch.env);
    await wrong.shows(question);
    expect(wrong.screen).toContain(`${DEPLOY}/nameserver-1`);
    wrong.type('e2e-one-click\r');
    const refused = await wrong.exited;
    expect(refused.code, refused.screen).toBe(1);
    expect(refused.screen).toContain('"e2e-one-click" is not the cluster\'s name (e2e); nothing was touched.');
    expect(refused.screen).not.toContain("delete the component's folders");
    expect(await existing(lab, 'node1', targets)).toEqual(targets);

    const right = onTerminal(destroy, scratch.env);
    await right.shows(question);
    right.type('e2e\r');
    const done = await right.exited;
    expect(done.code, done.screen).toBe(0);
    expect(done.screen).toContain("e2e is the cluster's name; going ahead");
    expect(done.screen).toContain("delete the component's folders");
    expect(await existing(lab, 'node1', targets)).toEqual([]);
  }, 240_000);
});
