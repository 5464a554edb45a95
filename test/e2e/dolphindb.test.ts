// DolphinDB end to end (issue 9): the real runbook CLI drives the built-in
// playbooks against three lab hosts, servers P1-P3 of the document's cluster
// (controller on P1, an agent on every server, data nodes on P1 and P2, a
// compute node on P3), running the simulated DolphinDB package. The
// inventory is the shipped inventories/dolphindb-lab.yaml aimed at this
// suite's lab, packages and licenses.
//
// One lab for the whole file, so the steps run in order and build on each
// other: check; deploy without a license (the package's community trial
// stays) and start, which the trial's node limit stops with what to do; the
// license playbook offline, as start advises; deploy again (no changes);
// status, stop, upgrade to a newer package (data written first, so there is
// metadata to back up), rollback, license (online, and an online update
// refused by the document's rules), restart; the FAQ's failure modes (those
// an inventory can express are refused before any host is touched; the
// others are made on the hosts and start names their cause); systemd; clean
// and destroy, with the typed confirmation on a terminal.
//
// CI time matters (the whole run must stay well under 15 minutes): each
// `runbook play` costs a start-up and a dial of three hosts, so the steps
// share states instead of resetting them (a failed start is the next
// step's starting point), and looks at the hosts go to all three at once.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildLabPackage } from '../../engine/lab/index.js';
import { writeDolphindbLicense } from '../../engine/lab/packages/dolphindb/index.js';
import { packageRoot } from '../../engine/paths.js';
import { dialects, type Table } from '../../modules/lib/cli-dialects.js';
import { results, runCli, totals, type CliResult } from '../support/cli.js';
import { useLab } from '../support/lab.js';
import { onTerminal } from '../support/tty.js';
import { anyMatch, existing, onHost, pids, transcript, useScratch, waitFor } from './helpers.js';

const lab = useLab({ hosts: 3 });
const scratch = useScratch();

const OLD = '2.00.11.3';
const NEW = '2.00.12.1';
const SERVER = '/opt/DolphinDB/server';
const DEMO = `${SERVER}/clusterDemo`;
const BACKUP = '/opt/DolphinDB/backup';
const UNITS = '/data/systemd';
/** Metadata outside the install, as the document allows: dfsMetaDir, a node's chunkMetaDir, volumes for the others. */
const DFS_META = '/data/ddb/dfsMeta';
const CHUNK_META: Record<string, string> = { 'P1-datanode': '/data/ddb/chunkMeta', 'P2-datanode': '/data/ddb/vol/P2-datanode' };
/** One step runs a few playbooks; a failing wait takes up to half a minute. */
const STEP_MS = 300_000;

type Server = 'P1' | 'P2' | 'P3';
/** The lab host of each server of the document. */
const HOST: Record<Server, string> = { P1: 'node1', P2: 'node2', P3: 'node3' };
const NODES = ['controller8900', 'P1-agent', 'P2-agent', 'P3-agent', 'P1-datanode', 'P2-datanode', 'P3-computenode'];

let shipped = '';
let addr: Record<Server, string> = { P1: '', P2: '', P3: '' };
let packages = '';
let oldPackage = '';
let enterprise = '';
let inv = '';
let invTrial = '';
let invNew = '';

/** The shipped lab inventory, pointed at this suite's lab, a package and a license, then edited. */
function inventory(name: string, pkg: string, license: string, edit: (text: string) => string = (t) => t): string {
  const text = edit(
    shipped
      .replace(/^controller\.cfg:\n/m, `controller.cfg:\n  dfsMetaDir: ${DFS_META}\n`)
      .replace(/^cluster\.cfg:\n/m, `cluster.cfg:\n  volumes: /data/ddb/vol/<ALIAS>\n  P1-datanode.chunkMetaDir: ${CHUNK_META['P1-datanode']}\n`)
      .replace(/^(\s*private_key_file: ).*$/m, `$1${lab.keyPath}`)
      .replace(/^(\s*known_hosts: ).*$/m, `$1${lab.knownHostsPath}`)
      .replace(/^(\s*package: ).*$/m, `$1${pkg}`)
      .replace(/^(\s*license: ).*$/m, `$1${license}`)
      .replace(/198\.19\.0\.1([1-3])/g, (_m, i: string) => addr[`P${i}` as Server]),
  );
  const path = join(scratch.dir, name);
  writeFileSync(path, text);
  return path;
}

beforeAll(async () => {
  addr = { P1: lab.host('node1').address, P2: lab.host('node2').address, P3: lab.host('node3').address };
  packages = join(scratch.dir, 'packages');
  oldPackage = (await buildLabPackage('dolphindb', { outDir: packages, version: OLD })).path;
  const newPackage = (await buildLabPackage('dolphindb', { outDir: packages, version: NEW })).path;
  enterprise = join(packages, 'dolphindb-enterprise.lic');
  shipped = readFileSync(join(packageRoot, 'inventories', 'dolphindb-lab.yaml'), 'utf8');
  inv = inventory('dolphindb-lab.yaml', oldPackage, enterprise);
  expect(readFileSync(inv, 'utf8')).not.toContain('198.19.0.');
  invNew = inventory('dolphindb-lab-new.yaml', newPackage, enterprise);
  // No license: the servers keep the package's own dolphindb.lic, the community trial.
  invTrial = inventory('dolphindb-lab-trial.yaml', oldPackage, enterprise, (t) => t.replace(/^\s*license: .*\n/m, ''));
  expect(readFileSync(invTrial, 'utf8')).not.toMatch(/license:/);
}, 240_000);

function play(name: string, inventoryPath: string, ...extra: string[]): Promise<CliResult> {
  return runCli(['play', name, '-i', inventoryPath, '-o', 'json', ...extra], { env: scratch.env, timeoutMs: STEP_MS - 20_000 });
}

function failures(r: CliResult): string[] {
  return results(r)
    .filter((e) => e.status === 'failed' && !e.ignored)
    .map((e) => `${e.host}: ${e.msg}`);
}

/** A DolphinDB script run with the product's own terminal mode on a server (login first, on stdin). */
async function ddb(server: Server, target: Server, port: number, script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return lab.sshExec(HOST[server], `${SERVER}/dolphindb -remoteHost ${addr[target]} -remotePort ${port}`, { input: `login("admin", "123456")\n${script}\n` });
}

async function table(server: Server, target: Server, port: number, script: string): Promise<Table> {
  const r = await ddb(server, target, port, script);
  if (r.code !== 0) throw new Error(`${script} on ${target}:${port} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return dialects.dolphindb.parse(r.stdout);
}

/** getClusterPerf() on the controller: alias → state. */
async function clusterStates(): Promise<Record<string, string>> {
  const t = await table('P2', 'P1', 8900, 'getClusterPerf()');
  return Object.fromEntries(t.rows.map((r) => [r.name!, r.state!]));
}

const allUp = Object.fromEntries(NODES.map((n) => [n, '1']));

/** Whether any DolphinDB process runs on each server. */
async function running(): Promise<Record<Server, boolean>> {
  const on = async (s: Server) => (await anyMatch(lab, HOST[s], ['dolphindb -console 0 -mode ']))[0]!;
  const [P1, P2, P3] = await Promise.all([on('P1'), on('P2'), on('P3')]);
  return { P1: P1!, P2: P2!, P3: P3! };
}
const NONE_RUNNING = { P1: false, P2: false, P3: false };

/** The `expiration=` of a license file. */
const expiry = (path: string): string => /^expiration=(\S+)$/m.exec(readFileSync(path, 'utf8'))![1]!;

/** The same shell command on every server, at once: its output per server. */
async function everywhere(cmd: string): Promise<Record<Server, string>> {
  const [P1, P2, P3] = await Promise.all((['P1', 'P2', 'P3'] as const).map((s) => onHost(lab, HOST[s], cmd)));
  return { P1: P1!, P2: P2!, P3: P3! };
}

/** The first line of a metadata file the simulator writes ("… format <version>"). */
async function metaFormat(host: string, path: string): Promise<string> {
  return (await onHost(lab, host, `head -n 1 ${path}`)).trim();
}

describe('a DolphinDB cluster on lab hosts', () => {
  it('check: the tools are there, the ports free, every server reaches the controller and the agents', async () => {
    const r = await play('check', inv);
    expect(r.code, transcript(r)).toBe(0);
    expect(results(r, 'verdict')[0]?.msg).toBe('ddblab: every server passed the check');
  }, STEP_MS);

  it('deploy without a license: the package, chmod +x and the config files; the package\'s trial license stays', async () => {
    const r = await play('deploy', invTrial);
    expect(r.code, transcript(r)).toBe(0);
    expect(totals(r).changed).toBeGreaterThan(0);
    expect(results(r, 'put the license in place').map((e) => e.status)).toEqual(['skipped', 'skipped', 'skipped']);

    // The community trial license on every server; dolphindb executable (the zip stores it without the bit).
    const lic = await everywhere(`test -x ${SERVER}/dolphindb && grep -E '^(type|maxNodes)=' ${SERVER}/dolphindb.lic`);
    for (const s of ['P1', 'P2', 'P3'] as const) expect(lic[s], s).toBe('type=trial\nmaxNodes=2\n');
    const [cfg1, cfg2, agent3] = await Promise.all([
      onHost(lab, 'node1', `cat ${DEMO}/config/cluster.nodes; echo @@; cat ${DEMO}/config/controller.cfg`),
      onHost(lab, 'node2', `cat ${DEMO}/config/controller.cfg`),
      onHost(lab, 'node3', `cat ${DEMO}/config/agent.cfg`),
    ]);
    const [clusterNodes, controllerCfg] = cfg1.split('@@\n');
    // The document's cluster.nodes: the header first, then the agents and nodes.
    const nodes = clusterNodes!.trim().split('\n');
    expect(nodes).toEqual([
      'localSite,mode',
      `${addr.P1}:8901:P1-agent,agent`,
      `${addr.P1}:8902:P1-datanode,datanode`,
      `${addr.P2}:8901:P2-agent,agent`,
      `${addr.P2}:8902:P2-datanode,datanode`,
      `${addr.P3}:8901:P3-agent,agent`,
      `${addr.P3}:8902:P3-computenode,computenode`,
    ]);
    expect(controllerCfg).toMatch(new RegExp(`^localSite=${addr.P1}:8900:controller8900$`, 'm'));
    expect(agent3).toMatch(new RegExp(`^localSite=${addr.P3}:8901:P3-agent$`, 'm'));
    expect(agent3).toMatch(new RegExp(`^controllerSite=${addr.P1}:8900:controller8900$`, 'm'));
    // controller.cfg is written on the controller's server only (P2 keeps the package's example).
    expect(cfg2).not.toContain(addr.P1);
  }, STEP_MS);

  it('start on the trial license: controller, agents, then startDataNode, which the node limit refuses; start says what to do', async () => {
    const r = await play('start', invTrial);
    expect(r.code, transcript(r)).toBe(1);
    // The document's order: controller before agents, agents before startDataNode.
    const started = results(r).filter((e) => ['start the controller', 'start the agent', 'startDataNode'].includes(e.task) && e.status !== 'skipped');
    expect([...new Set(started.map((e) => e.task))]).toEqual(['start the controller', 'start the agent', 'startDataNode']);
    expect(started.map((e) => e.host).sort()).toEqual(['P1', 'P1', 'P1', 'P2', 'P3']);
    const why = failures(r);
    expect(why, transcript(r)).toHaveLength(1);
    expect(why[0]).toMatch(/^P1: the cluster has 3 data and compute nodes, but the license the controller runs on \(trial, customer community\) allows 2, so startDataNode was refused/);
    expect(why[0]).toContain(`The inventory names no license, so every server kept the package's own dolphindb.lic, the community trial`);
    expect(why[0]).toContain(`set license: under cluster in ${invTrial} to your enterprise dolphindb.lic, then run \`runbook play license -i ${invTrial} -e license_update=offline\``);
    expect(why[0]).toContain(`or \`runbook play deploy -i ${invTrial}\` and then \`runbook play restart -i ${invTrial}\``);
    // No data or compute node runs; the controller and the agents do.
    const states = await clusterStates();
    expect(states).toMatchObject({ controller8900: '1', 'P1-agent': '1', 'P2-agent': '1', 'P3-agent': '1', 'P1-datanode': '0', 'P2-datanode': '0', 'P3-computenode': '0' });
  }, STEP_MS);

  it('license offline, as start advised: dolphindb.lic replaced everywhere, the cluster restarted onto it; a second deploy changes nothing', async () => {
    const r = await play('license', inv, '-e', 'license_update=offline');
    expect(r.code, transcript(r)).toBe(0);
    expect(results(r, 'stop the controller').map((e) => e.status)).toEqual(['changed']);
    expect(results(r, 'startDataNode').map((e) => e.status)).toEqual(['changed']);
    const report = results(r, 'expiry before and after')[0]?.msg ?? '';
    for (const n of ['controller8900', 'P1-agent', 'P2-agent', 'P3-agent']) expect(report).toContain(`${n}: 2036.12.31 -> ${expiry(enterprise)} (commercial, runbook lab)`);
    for (const n of ['P1-datanode', 'P2-datanode', 'P3-computenode']) expect(report).toContain(`${n}: -> ${expiry(enterprise)} (commercial, runbook lab)`);
    expect(await clusterStates()).toEqual(allUp);
    const lic = readFileSync(enterprise, 'utf8');
    for (const [s, text] of Object.entries(await everywhere(`cat ${SERVER}/dolphindb.lic`))) expect(text, s).toBe(lic);
    // Each node runs on its own server, started by that server's agent.
    const [p2, p3] = await Promise.all([pids(lab, 'node2', '-localSite .*:8902:P2-datanode'), pids(lab, 'node3', '-localSite .*:8902:P3-computenode')]);
    expect([p2.length, p3.length]).toEqual([1, 1]);

    const deploy = await play('deploy', inv);
    expect(deploy.code, transcript(deploy)).toBe(0);
    expect(totals(deploy).changed, transcript(deploy)).toBe(0);
  }, STEP_MS);

  it('status: every process with its pid and port, and the controller\'s getClusterPerf()', async () => {
    const r = await play('status', inv);
    expect(r.code, transcript(r)).toBe(0);
    const line = (host: string) => results(r, 'status').find((e) => e.host === host)?.msg ?? '';
    expect(line('P1')).toMatch(/^P1 \(.*\): controller controller8900: running, pid [\d,]+, listening on 8900; agent P1-agent: running, pid [\d,]+, listening on 8901; datanode P1-datanode: running, pid [\d,]+, listening on 8902$/);
    expect(line('P3')).toMatch(/; computenode P3-computenode: running, pid [\d,]+, listening on 8902$/);
    const cluster = results(r, 'cluster')[0]?.msg ?? '';
    for (const n of NODES) expect(cluster).toMatch(new RegExp(`^${n} \\S+ up$`, 'm'));
  }, STEP_MS);

  it('stop: nodes through the controller, then agents, then the controller; every port closed', async () => {
    // Data, so that the controller and the data nodes have metadata for the upgrade to back up.
    const db = await ddb('P1', 'P1', 8902, 'database("dfs://e2e", VALUE, 2021.01.01..2021.12.31)');
    expect(db.code, db.stderr).toBe(0);

    const r = await play('stop', inv);
    expect(r.code, transcript(r)).toBe(0);
    expect(results(r, 'stopDataNode').map((e) => e.status)).toEqual(['changed']);
    expect(results(r, 'the ports are closed').every((e) => e.status === 'ok'), transcript(r)).toBe(true);
    expect(await running()).toEqual(NONE_RUNNING);
  }, STEP_MS);

  it('upgrade: metadata and the previous server files backed up, server files replaced, version() is the new one', async () => {
    // Where the document's backup step finds the metadata: dfsMetaDir, chunkMetaDir, else the first volume.
    const dfsMeta = `${DFS_META}/DFSMetaLog.0`;
    const chunkMeta = (alias: string) => `${CHUNK_META[alias]!}/CHUNK_METADATA`;
    const kept = `sha256sum ${SERVER}/dolphindb.cfg ${SERVER}/dolphindb.lic ${DEMO}/config/agent.cfg`;
    const [before1, before2] = await Promise.all([
      existing(lab, 'node1', [dfsMeta, chunkMeta('P1-datanode'), `${DEMO}/dfsMeta`]),
      existing(lab, 'node2', [chunkMeta('P2-datanode')]),
    ]);
    expect([before1, before2]).toEqual([[dfsMeta, chunkMeta('P1-datanode')], [chunkMeta('P2-datanode')]]);
    const [format1, cfgBefore] = await Promise.all([metaFormat('node1', dfsMeta), onHost(lab, 'node2', kept)]);
    expect(format1).toContain(`format ${OLD}`);

    const r = await play('upgrade', invNew);
    expect(r.code, transcript(r)).toBe(0);
    expect(results(r, 'what the upgrade does here').map((e) => e.msg).sort()).toEqual([`P1: ${OLD} -> ${NEW}`, `P2: ${OLD} -> ${NEW}`, `P3: ${OLD} -> ${NEW}`]);
    // version() of every node, asked by the playbook and by us.
    expect(results(r, 'every node runs the expected version').map((e) => e.status)).toEqual(['ok', 'ok', 'ok']);
    const [version2, states, exists3] = await Promise.all([ddb('P2', 'P2', 8902, 'version()'), clusterStates(), ddb('P3', 'P3', 8902, 'existsDatabase("dfs://e2e")')]);
    expect(version2.stdout).toMatch(new RegExp(`^${NEW.replace(/\./g, '\\.')} `));
    expect(states).toEqual(allUp);
    // The data written before the upgrade, seen from the compute node.
    expect(exists3.stdout.trim()).toBe('true');

    // On each server, one look: the backups (DFSMetaLog.0 on the controller's server, CHUNK_METADATA of each
    // data node, the previous server files and version), the metadata's format now, the files upgrade keeps.
    const [on1, on2, on3] = await Promise.all([
      onHost(lab, 'node1', `head -n 1 ${BACKUP}/meta/controller/DFSMetaLog.0 ${dfsMeta}; ls -d ${BACKUP}/meta/P1-datanode/CHUNK_METADATA ${BACKUP}/server/dolphindb`),
      onHost(lab, 'node2', `ls -d ${BACKUP}/meta/P2-datanode/CHUNK_METADATA; head -n 1 ${chunkMeta('P2-datanode')}/chunks.meta; ${kept}`),
      onHost(lab, 'node3', `cat ${BACKUP}/previous-version`),
    ]);
    expect(on1).toBe(
      `==> ${BACKUP}/meta/controller/DFSMetaLog.0 <==\n# SIMULATED DolphinDB DFS meta log, format ${OLD}\n\n==> ${dfsMeta} <==\n# SIMULATED DolphinDB DFS meta log, format ${NEW}\n` +
        `${BACKUP}/meta/P1-datanode/CHUNK_METADATA\n${BACKUP}/server/dolphindb\n`,
    );
    // The new version rewrote the metadata in its format when it started; dolphindb.cfg, dolphindb.lic and clusterDemo were kept.
    expect(on2).toBe(`${BACKUP}/meta/P2-datanode/CHUNK_METADATA\n# SIMULATED DolphinDB chunk metadata, format ${NEW}\n${cfgBefore}`);
    expect(on3).toBe(`${OLD}\n`);
  }, STEP_MS);

  it('rollback: metadata restored from the backup, previous server files back, version() is the old one', async () => {
    const r = await play('rollback', invNew);
    expect(r.code, transcript(r)).toBe(0);
    expect(results(r, 'what the rollback does here').map((e) => e.msg).sort()).toEqual([`P1: back to ${OLD}`, `P2: back to ${OLD}`, `P3: back to ${OLD}`]);
    expect(results(r, 'every node runs the expected version').map((e) => e.status)).toEqual(['ok', 'ok', 'ok']);
    const [version1, states, exists3, format1, format2] = await Promise.all([
      ddb('P1', 'P1', 8902, 'version()'),
      clusterStates(),
      ddb('P3', 'P3', 8902, 'existsDatabase("dfs://e2e")'),
      metaFormat('node1', `${DFS_META}/DFSMetaLog.0`),
      // The previous server files are back, dolphindb executable.
      onHost(lab, 'node2', `test -x ${SERVER}/dolphindb && head -n 1 ${CHUNK_META['P2-datanode']!}/CHUNK_METADATA/chunks.meta`),
    ]);
    expect(version1.stdout).toMatch(new RegExp(`^${OLD.replace(/\./g, '\\.')} `));
    expect(states).toEqual(allUp);
    // The old version starts on the restored metadata (it would refuse the new format) and still has the data.
    expect(format1).toContain(`format ${OLD}`);
    expect(format2).toContain(`format ${OLD}`);
    expect(exists3.stdout.trim()).toBe('true');
  }, STEP_MS);

  it('license: online on every node with updateAllLicenses(), expiry reported before and after', async () => {
    const renewed = join(packages, 'dolphindb-enterprise-renewed.lic');
    const invRenewed = inventory('dolphindb-lab-renewed.yaml', oldPackage, renewed);

    const r = await play('license', invRenewed);
    expect(r.code, transcript(r)).toBe(0);
    // updateAllLicenses() ran on every node: the controller, three agents, three data/compute nodes.
    const updated = results(r).filter((e) => e.task.startsWith('updateAllLicenses()') && e.status !== 'skipped');
    expect(updated.map((e) => `${e.task}@${e.host}`).sort()).toEqual(
      [
        'updateAllLicenses() on the agent@P1',
        'updateAllLicenses() on the agent@P2',
        'updateAllLicenses() on the agent@P3',
        'updateAllLicenses() on the controller@P1',
        'updateAllLicenses() on the data and compute nodes@P1',
        'updateAllLicenses() on the data and compute nodes@P2',
        'updateAllLicenses() on the data and compute nodes@P3',
      ].sort(),
    );
    const report = results(r, 'expiry before and after')[0]?.msg ?? '';
    for (const n of NODES) expect(report).toContain(`${n}: ${expiry(enterprise)} -> ${expiry(renewed)}`);
    // No restart: the same processes run.
    expect(results(r, 'stop the controller').every((e) => e.status === 'skipped')).toBe(true);
    expect(await clusterStates()).toEqual(allUp);
    const lic = readFileSync(renewed, 'utf8');
    for (const [s, text] of Object.entries(await everywhere(`cat ${SERVER}/dolphindb.lic`))) expect(text, s).toBe(lic);
  }, STEP_MS);

  it('license: an online update the document forbids (another customer) fails naming the rule and saying to go offline', async () => {
    const other = await writeDolphindbLicense(join(scratch.dir, 'other-customer.lic'), { customer: 'someone else', expiration: '2031.06.30' });
    const invOther = inventory('dolphindb-lab-other.yaml', oldPackage, other);

    const online = await play('license', invOther);
    expect(online.code, transcript(online)).toBe(1);
    const why = failures(online).join('\n');
    expect(why, transcript(online)).toMatch(/customer of the new license \(someone else\) differs from the current one \(runbook lab\)/);
    expect(why).toContain('-e license_update=offline');
  }, STEP_MS);

  it('the FAQ mistakes an inventory can express are refused before any host is touched', async () => {
    const cases: Array<{ what: string; edit: (t: string) => string; says: RegExp }> = [
      {
        what: 'a port used twice on one server',
        edit: (t) => t.replace('- { server: P2, port: 8902 }', '- { server: P2, port: 8901 }'),
        says: /port 8901 on server P2 is taken twice: P2-datanode's port and P2-agent's default agent port/,
      },
      {
        what: '<ALIAS> on a line that names a node',
        edit: (t) => t.replace(/^cluster\.cfg:\n/m, 'cluster.cfg:\n  P1-datanode.persistenceDir: /data/streamCache/<ALIAS>\n'),
        says: /cluster\.cfg line P1-datanode\.persistenceDir names node P1-datanode and uses <ALIAS>: DolphinDB does not start that node/,
      },
      {
        what: 'a controllerSite that is not the controller\'s localSite',
        edit: (t) => t.replace(/^agent\.cfg:\n/m, `agent.cfg:\n  controllerSite: ${addr.P1}:8900:ctl\n`),
        says: /controllerSite in agent\.cfg is [\d.]+:8900:ctl, but the controller's localSite is [\d.]+:8900:controller8900/,
      },
    ];
    // One inventory with all three: each is reported at its own line, in one run.
    const bad = inventory('bad.yaml', oldPackage, enterprise, (t) => cases.reduce((text, c) => c.edit(text), t));
    const r = await play('start', bad);
    expect(r.code, r.stderr).toBe(2);
    for (const c of cases) expect(r.stderr, c.what).toMatch(c.says);
    expect(r.stderr.match(/bad\.yaml:\d+:\d+/g) ?? []).toHaveLength(3);
    expect(r.stderr).toContain('nothing was touched');
    expect(results(r)).toEqual([]);
  }, STEP_MS);

  it('restart with a blank first line in cluster.nodes: every node stops, then the controller does not start and start names why', async () => {
    await onHost(lab, 'node1', `sed -i '1i\\\\' ${DEMO}/config/cluster.nodes`);
    const r = await play('restart', inv);
    expect(r.code, transcript(r)).toBe(1);
    // The stop half: nodes through the controller, then the agents and the controller.
    expect(results(r, 'stopDataNode').map((e) => e.status)).toEqual(['changed']);
    expect(results(r, 'stop the controller').map((e) => e.status)).toEqual(['changed']);
    expect(failures(r)).toEqual([expect.stringMatching(new RegExp(`^P1: P1 \\(.*\\): controller controller8900: FAILED: the first line of ${DEMO}/config/cluster.nodes is blank`))]);
    expect(results(r, 'start the agent')).toEqual([]);
    // The message's first remedy: delete the blank line (deploy, its other one, rewrites the cfg files below).
    expect(await onHost(lab, 'node1', `sed -i '1{/^$/d}' ${DEMO}/config/cluster.nodes && head -n 1 ${DEMO}/config/cluster.nodes`)).toBe('localSite,mode\n');
  }, STEP_MS);

  it('a port in use and <ALIAS> on a line naming a node, made by hand: start names both causes; the other node starts', async () => {
    await onHost(lab, 'node1', `echo 'P1-datanode.persistenceDir=/data/streamCache/<ALIAS>' >> ${DEMO}/config/cluster.cfg`);
    // Something else listens on P2-datanode's port.
    const squat = await onHost(
      lab,
      'node2',
      `setsid node -e 'require("net").createServer().listen(8902, () => console.log("listening"))' > /tmp/squat.out 2>&1 < /dev/null & echo $!`,
    );
    const squatter = Number(squat.trim());
    try {
      await waitFor('the squatter to listen', async () => (await onHost(lab, 'node2', 'cat /tmp/squat.out')).includes('listening'));
      const r = await play('start', inv);
      expect(r.code, transcript(r)).toBe(1);
      const why = failures(r);
      expect(why.find((f) => f.startsWith('P1: ')), transcript(r)).toMatch(
        /P1-datanode: FAILED: the <ALIAS> macro is used on a cluster\.cfg line that names a node, which the document's FAQ \(5\.1\) says keeps the node from starting: .*"P1-datanode\.persistenceDir=\/data\/streamCache\/<ALIAS>"/,
      );
      expect(why.find((f) => f.startsWith('P2: ')), transcript(r)).toMatch(/P2-datanode: FAILED: port 8902 is already in use by users:\(\("node",pid=\d+/);
      expect(await onHost(lab, 'node2', `cat ${DEMO}/log/P2-datanode.log`)).toContain('Failed to bind the socket on port 8902 with error code 98');
      // Every agent registered this time, and the third node started.
      expect(results(r, 'the agent is registered').map((e) => e.status)).toEqual(['ok', 'ok', 'ok']);
      expect(results(r, 'it is up').filter((e) => e.status === 'ok').map((e) => e.host)).toContain('P3');
    } finally {
      await lab.sshExec('node2', `kill ${squatter}`);
    }
  }, STEP_MS);

  it('a controllerSite that is not the controller\'s localSite, written by hand: restart names both from the agent\'s log, without waiting; deploy rewrites agent.cfg and cluster.cfg', async () => {
    await onHost(lab, 'node2', `sed -i 's/^controllerSite=.*/controllerSite=${addr.P1}:8900:ctl/' ${DEMO}/config/agent.cfg`);
    // restart: P2's agent, running on the previous agent.cfg, is stopped and started on this one.
    const r = await play('restart', inv);
    expect(r.code, transcript(r)).toBe(1);
    const why = failures(r);
    expect(why, transcript(r)).toHaveLength(1);
    expect(why[0]).toContain(
      `P2: agent P2-agent on P2 (${addr.P2}) did not register with the controller ${addr.P1}:8900:controller8900: controllerSite in ${DEMO}/config/agent.cfg is ${addr.P1}:8900:ctl, but the controller's localSite is ${addr.P1}:8900:controller8900`,
    );
    // The agent's own log line, quoted: the controller refused it at once.
    expect(why[0]).toMatch(/The agent's log: The controller refused this agent: .*controllerSite=[\d.]+:8900:ctl/);
    // Read from the log, not waited for: the controller was not asked again.
    const p2 = (task: string) => results(r, task).find((e) => e.host === 'P2')?.status;
    expect(p2("what the agent's log says")).toBe('ok');
    expect(p2('wait until the controller lists the agent as up')).toBe('skipped');

    const fix = await play('deploy', inv);
    expect(fix.code, transcript(fix)).toBe(0);
    expect(results(fix, 'write agent.cfg').filter((e) => e.status === 'changed').map((e) => e.host)).toEqual(['P2']);
    expect(results(fix, 'write cluster.cfg').find((e) => e.host === 'P1')?.status).toBe('changed');
    // The blank line deleted by hand above left cluster.nodes as deploy writes it.
    expect(results(fix, 'write cluster.nodes').find((e) => e.host === 'P1')?.status).toBe('ok');
  }, STEP_MS);

  it('systemd: units installed and enabled; controller.sh and agent.sh start and stop as the units call them', async () => {
    const stop = await play('stop', inv);
    expect(stop.code, transcript(stop)).toBe(0);
    const r = await play('systemd', inv);
    expect(r.code, transcript(r)).toBe(0);
    // The lab runs no systemd: enabled as systemctl enable would, with the wants link.
    expect(results(r, 'enabled').find((e) => e.host === 'P1')?.msg).toContain(`linked from ${UNITS}/multi-user.target.wants`);
    const [units1, link3, units2] = await Promise.all([
      onHost(lab, 'node1', `readlink ${UNITS}/multi-user.target.wants/ddbcontroller.service; cat ${UNITS}/ddbcontroller.service; echo @@; cat ${UNITS}/ddbagent.service`),
      onHost(lab, 'node3', `readlink ${UNITS}/multi-user.target.wants/ddbagent.service`),
      existing(lab, 'node2', [`${UNITS}/ddbcontroller.service`]),
    ]);
    const [link1, ...ctlUnit] = units1.split('\n');
    expect(link1).toBe(`${UNITS}/ddbcontroller.service`);
    expect(link3.trim()).toBe(`${UNITS}/ddbagent.service`);
    expect(units2).toEqual([]);

    // Run each unit's ExecStart and ExecStop the way systemd would: in its WorkingDirectory.
    const unit = (text: string) => {
      const key = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(text)![1]!;
      return { dir: key('WorkingDirectory'), start: key('ExecStart'), stop: key('ExecStop') };
    };
    const [ctlText, agentText] = ctlUnit.join('\n').split('@@\n');
    const ctl = unit(ctlText!);
    expect(ctl).toEqual({ dir: DEMO, start: '/bin/sh controller.sh start', stop: '/bin/sh controller.sh stop' });
    const agent = unit(agentText!);
    await onHost(lab, 'node1', `cd ${ctl.dir} && ${ctl.start} < /dev/null > /dev/null 2>&1 && cd ${agent.dir} && ${agent.start} < /dev/null > /dev/null 2>&1`);
    await waitFor('the controller to list P1-agent', async () => (await clusterStates())['P1-agent'] === '1', 30_000);
    expect(await pids(lab, 'node1', 'dolphindb -console 0 -mode controller')).toHaveLength(1);
    // agent.sh stop stops the agent only; the controller keeps running (clean and destroy below find it).
    await onHost(lab, 'node1', `cd ${agent.dir} && ${agent.stop}`);
    await waitFor('the agent to exit', async () => (await pids(lab, 'node1', 'dolphindb -console 0 -mode agent')).length === 0, 30_000);
    expect(await pids(lab, 'node1', 'dolphindb -console 0 -mode controller')).toHaveLength(1);
  }, STEP_MS);

  it('clean and destroy refuse while anything runs, list what they delete, and need --yes or the cluster name typed at a terminal', async () => {
    // The controller that ddbcontroller.service's ExecStart started runs.
    const refused = await play('destroy', inv, '--yes');
    expect(refused.code, transcript(refused)).toBe(1);
    const p1 = failures(refused).find((f) => f.startsWith('P1: '));
    expect(p1, transcript(refused)).toMatch(new RegExp(`^P1: P1 \\(${addr.P1.replace(/\./g, '\\.')}\\) runs DolphinDB; stop the cluster first: runbook play stop -i ${inv.replace(/[.]/g, '\\.')} \\(pids? [\\d, ]+\\)$`));
    expect(await existing(lab, 'node1', [SERVER])).toEqual([SERVER]);

    // controller.sh stop, as ddbcontroller.service's ExecStop runs it.
    await onHost(lab, 'node1', `cd ${DEMO} && /bin/sh controller.sh stop`);
    await waitFor('the controller to exit', async () => (await running()).P1 === false, 30_000);

    const noYes = await play('clean', inv);
    expect(noYes.code, transcript(noYes)).toBe(1);
    expect(results(noYes, 'what will be deleted').find((e) => e.host === 'P2')?.msg).toBe(`P2 (${addr.P2}): ${DEMO}/data, ${DEMO}/log, ${CHUNK_META['P2-datanode']!}`);
    expect(failures(noYes).join('\n')).toContain('Run it again with --yes to go ahead.');
    expect(results(noYes, 'type the cluster name to go ahead')).toEqual([]);
    const kept = [`${DEMO}/data/P2-datanode`, `${DEMO}/log`, CHUNK_META['P2-datanode']!];
    expect(await existing(lab, 'node2', kept)).toEqual(kept);

    // At a terminal, clean asks for the cluster's name: a wrong one refuses and deletes nothing, the right one goes ahead.
    const question = 'Type the cluster name (ddblab) to go ahead';
    const wrong = onTerminal(['play', 'clean', '-i', inv, '-o', 'plain'], scratch.env);
    await wrong.shows(question);
    expect(wrong.screen).toContain(`${DEMO}/data, ${DEMO}/log, ${CHUNK_META['P2-datanode']!}`);
    wrong.type('ddblab2\r');
    const w = await wrong.exited;
    expect(w.code, w.screen).toBe(1);
    expect(w.screen).toContain('the answer for typed_cluster_name is not "ddblab"');
    expect(await existing(lab, 'node2', kept)).toEqual(kept);

    const right = onTerminal(['play', 'clean', '-i', inv, '-o', 'plain'], scratch.env);
    await right.shows(question);
    right.type('ddblab\r');
    const ok = await right.exited;
    expect(ok.code, ok.screen).toBe(0);
    expect(await existing(lab, 'node2', [`${DEMO}/data`, `${DEMO}/log`, `${SERVER}/dolphindb`])).toEqual([`${SERVER}/dolphindb`]);
    expect(await existing(lab, 'node1', [DFS_META, CHUNK_META['P1-datanode']!, '/data/ddb/vol/P1-datanode'])).toEqual([]);

    const destroy = await play('destroy', inv, '--yes');
    expect(destroy.code, transcript(destroy)).toBe(0);
    const left = await Promise.all(
      Object.values(HOST).map((host) => existing(lab, host, ['/opt/DolphinDB', `${UNITS}/ddbagent.service`, `${UNITS}/multi-user.target.wants/ddbagent.service`])),
    );
    expect(left).toEqual([[], [], []]);
    expect(await running()).toEqual(NONE_RUNNING);
  }, STEP_MS);
});
