// The simulated DolphinDB package on three lab hosts, driven by hand the way
// the vendor's multi-server document does it (no playbooks): unzip, chmod +x,
// the config files on P1-P3, startController.sh, startagent.sh, data and
// compute nodes started through the controller with the server's own
// terminal mode, stopAllNode.sh. Every expectation is a rule or a failure
// mode from the document (or the contract the playbooks rely on), so a
// simulator that drifts from it fails here first.
//
// What the playbooks already show end to end (test/e2e/dolphindb.test.ts: a
// blank first line in cluster.nodes, a refused controllerSite, a port in use,
// <ALIAS> on a line naming a node, the upgrade's metadata rewrite and the
// rollback's restore, an online update refused for another customer) is not
// repeated here; this file keeps what only it shows: the trial license's node
// limit per cluster and per server, the online update's other rules, the
// metadata files' format, an older version refusing newer metadata, the
// document's stop lines and an expired license.
//
// One lab for the file; the steps build on each other, in order. Commands go
// to the three servers at once where the document allows it, and one ssh
// session does all of a step's work on a server.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLabPackage, type LabPackageResult } from '../../engine/lab/index.js';
import { dolphindbLicense, dolphindbPackage, ENTERPRISE_LICENSE, LAB_CUSTOMER, RENEWED_LICENSE } from '../../engine/lab/packages/dolphindb/index.js';
import { parseClusterNodes, resolveNodeConfig } from '../../engine/lab/packages/dolphindb/sim/cfg.js';
import { Interpreter, type Session } from '../../engine/lab/packages/dolphindb/sim/script.js';
import { parseDolphinDB, type Table } from '../../modules/lib/cli-dialects.js';
import { ensureCompiledServer, useLab, type SshResult } from '../support/lab.js';
import { waitFor } from '../support/wait.js';

const lab = useLab({ hosts: 3 });
const INSTALL = '/opt/DolphinDB';
const SERVER = `${INSTALL}/server`;
const DEMO = `${SERVER}/clusterDemo`;
/** Heartbeat interval for this suite's processes (the simulator's default is 500 ms). */
const HB_MS = 200;
const STEP_MS = 120_000;

let work = '';
let first: LabPackageResult;
let second: LabPackageResult;

const addr = (n: number): string => lab.host(`node${n}`).address;
const host = (n: number): string => `node${n}`;
const ALL = [1, 2, 3];

async function sh(n: number, cmd: string, input?: string | Buffer): Promise<string> {
  const r = await lab.sshExec(host(n), cmd, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`node${n}: \`${cmd}\` exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

const put = (n: number, path: string, text: string): Promise<string> => sh(n, `cat > ${path}`, text);

/** Write several files on a server, then run `then`, in one ssh session. */
function writeFiles(n: number, files: Record<string, string>, then = 'true'): Promise<string> {
  const script = Object.entries(files)
    .map(([path, text]) => {
      if (text.includes('\nRB_EOF\n')) throw new Error(`${path}: the text holds the heredoc end marker`);
      return `cat > ${path} <<'RB_EOF'\n${text.endsWith('\n') ? text : `${text}\n`}RB_EOF\n`;
    })
    .join('');
  return sh(n, 'sh -s', `set -e\n${script}${then}\n`);
}

/** Shell: wait until no process matches `pattern` (as pids() takes it), at most 10 s; fails after that. */
const untilGone = (pattern: string): string =>
  `i=0; while pgrep -f -- '[${pattern[0]}]${pattern.slice(1)}' >/dev/null; do i=$((i + 1)); [ $i -lt 200 ] || exit 1; sleep 0.05; done`;

/** The same step on every server at once. */
const onAll = <T>(step: (n: number) => Promise<T>, servers = ALL): Promise<T[]> => Promise.all(servers.map(step));

/** The server's own terminal mode on node1, talking to `port` on node `on` (default: the controller). */
async function ddb(script: string, opts: { on?: number; port?: number; login?: boolean } = {}): Promise<SshResult & { table: Table }> {
  const input = `${opts.login === false ? '' : 'login("admin", "123456")\n'}${script}\n`;
  const r = await lab.sshExec(host(1), `${SERVER}/dolphindb -remoteHost ${addr(opts.on ?? 1)} -remotePort ${opts.port ?? 8900}`, { input });
  return { ...r, table: parseDolphinDB(r.stdout) };
}

async function ok(script: string, opts: { on?: number; port?: number } = {}): Promise<SshResult & { table: Table }> {
  const r = await ddb(script, opts);
  if (r.code !== 0) throw new Error(`${script} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r;
}

type Row = Record<string, string>;

async function perf(): Promise<Record<string, Row>> {
  const r = await ok('getClusterPerf()');
  return Object.fromEntries(r.table.rows.map((row) => [row['name']!, row]));
}


const states = (want: Record<string, string>) => async (): Promise<Record<string, Row> | undefined> => {
  const p = await perf();
  return Object.entries(want).every(([name, state]) => p[name]?.['state'] === state) ? p : undefined;
};

const logOf = (n: number, name: string): Promise<string> => sh(n, `cat ${DEMO}/log/${name}.log 2>/dev/null || true`);
const waitLog = (n: number, name: string, text: string | RegExp, timeoutMs?: number): Promise<string> =>
  waitFor(`${JSON.stringify(String(text))} in node${n}'s ${name}.log`, async () => {
    const log = await logOf(n, name);
    return (typeof text === 'string' ? log.includes(text) : text.test(log)) ? log : undefined;
  }, timeoutMs);

/** pgrep -f on the host; `[-]mode` keeps the pattern from matching the shell that runs pgrep. */
const pids = async (n: number, pattern: string): Promise<number[]> =>
  (await sh(n, `pgrep -f -- '[${pattern[0]}]${pattern.slice(1)}' || true`)).split('\n').filter(Boolean).map(Number);

const startController = (): Promise<string> => sh(1, `cd ${DEMO} && DDB_SIM_HEARTBEAT_MS=${HB_MS} sh startController.sh`);
const startAgent = (n: number): Promise<string> => sh(n, `cd ${DEMO} && DDB_SIM_HEARTBEAT_MS=${HB_MS} sh startagent.sh`);
/** startController.sh, then startagent.sh, on P1 (one ssh session). */
const startP1 = (): Promise<string> => sh(1, `cd ${DEMO} && export DDB_SIM_HEARTBEAT_MS=${HB_MS} && sh startController.sh && sh startagent.sh`);
const stopAll = async (servers = ALL): Promise<void> => {
  await onAll((n) => sh(n, `${DEMO}/stopAllNode.sh`), servers);
};

const controllerCfg = (): string =>
  `mode=controller\nlocalSite=${addr(1)}:8900:controller8900\ndfsReplicationFactor=1\ndfsReplicaReliabilityLevel=2\ndataSync=1\nworkerNum=4\nmaxConnections=512\nmaxMemSize=8\nlanCluster=0\n`;
const agentCfg = (n: number, controllerAlias = 'controller8900'): string =>
  `mode=agent\nlocalSite=${addr(n)}:8901:P${n}-agent\ncontrollerSite=${addr(1)}:8900:${controllerAlias}\nworkerNum=4\nmaxMemSize=4\nlanCluster=0\n`;
const clusterNodes = (): string =>
  'localSite,mode\n' +
  `${addr(1)}:8901:P1-agent,agent\n${addr(1)}:8902:P1-datanode,datanode\n` +
  `${addr(2)}:8901:P2-agent,agent\n${addr(2)}:8902:P2-datanode,datanode\n` +
  `${addr(3)}:8901:P3-agent,agent\n${addr(3)}:8902:P3-computenode,computenode\n`;
const CLUSTER_CFG =
  'maxMemSize=32\nmaxConnections=512\nworkerNum=4\nmaxBatchJobWorker=4\nchunkCacheEngineMemSize=2\nTSDBCacheEngineSize=1\n' +
  'newValuePartitionPolicy=add\nmaxPubConnections=64\nsubExecutors=4\nlanCluster=0\nenableChunkGranularityConfig=true\n';

const NODES = ['P1-datanode', 'P2-datanode', 'P3-computenode'];
const AGENTS = ['P1-agent', 'P2-agent', 'P3-agent'];
const allUp = Object.fromEntries([...AGENTS, ...NODES].map((n) => [n, '1']));

/**
 * Unzip a package into INSTALL on a server, then run `then`; `over` keeps
 * clusterDemo, dolphindb.cfg and dolphindb.lic (the document's upgrade) and
 * makes dolphindb executable again.
 */
function unpack(n: number, pkg: LabPackageResult, over = false, then = 'true'): Promise<string> {
  const keep = over ? ` -x 'server/clusterDemo/*' server/dolphindb.cfg server/dolphindb.lic && chmod +x ${SERVER}/dolphindb` : '';
  return sh(n, `mkdir -p ${INSTALL} && cat > ${INSTALL}/dolphindb.zip && cd ${INSTALL} && unzip -q -o dolphindb.zip${keep} && ${then}`, readFileSync(pkg.path));
}

const licenseEverywhere = async (text: string): Promise<void> => {
  await onAll((n) => put(n, `${SERVER}/dolphindb.lic`, text));
};

beforeAll(async () => {
  await ensureCompiledServer('dolphindb', 'sim/main');
  work = mkdtempSync(join(tmpdir(), 'runbook-sim-dolphindb-'));
  first = await buildLabPackage('dolphindb', { outDir: join(work, 'packages') });
  second = await buildLabPackage('dolphindb', { outDir: join(work, 'packages'), version: '2.00.12.3' });
  await onAll((n) => unpack(n, first));
}, 180_000);

afterAll(async () => {
  try {
    if (work) await stopAll();
  } finally {
    if (work) rmSync(work, { recursive: true, force: true });
  }
}, 60_000);

describe('the simulator\'s rules, without processes', () => {
  it('cluster.cfg: lines for every node, % and ? patterns, lines naming a node (which win); <ALIAS> only where no node is named', () => {
    const cfg = ['maxMemSize=32', 'volumes=/VOL1/<ALIAS>,/VOL2/<ALIAS>', '%-datanode.maxMemSize=16', 'P?-compute%.workerNum=2', 'P2-datanode.maxMemSize=8', 'P3-%.publicName=19.56.128.23'].join('\n');
    expect(Object.fromEntries(resolveNodeConfig(cfg, 'P1-datanode'))).toEqual({ maxMemSize: '16', volumes: '/VOL1/P1-datanode,/VOL2/P1-datanode' });
    expect(resolveNodeConfig(cfg, 'P2-datanode').get('maxMemSize')).toBe('8');
    expect(Object.fromEntries(resolveNodeConfig(cfg, 'P3-computenode'))).toMatchObject({ maxMemSize: '32', workerNum: '2', publicName: '19.56.128.23' });
    // Aliases are case-sensitive.
    expect(resolveNodeConfig(cfg, 'p2-datanode').get('maxMemSize')).toBe('16');
    expect(() => resolveNodeConfig(`${cfg}\nP1-datanode.persistenceDir = /hdd/<ALIAS>`, 'P1-datanode', 'cluster.cfg')).toThrow(
      'The macro <ALIAS> cannot be used on a line that names a node: "P1-datanode.persistenceDir = /hdd/<ALIAS>" (cluster.cfg line 7)',
    );
    // Only the node the line names is affected.
    expect(resolveNodeConfig(`${cfg}\nP1-datanode.persistenceDir = /hdd/<ALIAS>`, 'P2-datanode').get('persistenceDir')).toBeUndefined();
  });

  it('cluster.nodes: the header first, no blank first line, unique aliases, known modes', () => {
    expect(parseClusterNodes('localSite,mode\n10.0.0.80:8901:P1-agent,agent\n')).toMatchObject({ ok: true, members: [{ mode: 'agent', site: { alias: 'P1-agent', port: 8901 } }] });
    expect(parseClusterNodes('\nlocalSite,mode\n')).toMatchObject({ ok: false, blankFirstLine: true });
    expect(parseClusterNodes('10.0.0.80:8901:P1-agent,agent\n')).toMatchObject({ ok: false, blankFirstLine: false, message: expect.stringContaining('header localSite,mode') });
    expect(parseClusterNodes('localSite,mode\nh:1:A,agent\nh:2:A,datanode\n')).toMatchObject({ ok: false, message: 'Duplicate alias A on line 3 of cluster.nodes' });
    expect(parseClusterNodes('localSite,mode\nh:1:A,master\n')).toMatchObject({ ok: false, message: expect.stringContaining('Invalid line 2') });
  });

  it('the script language: the document\'s statements, results as the console prints them, errors as `<statement> => <message>`', async () => {
    const made: string[] = [];
    const interp = new Interpreter({
      existsDatabase: async ([n]) => made.includes(String(n)),
      database: async ([n, type, range]) => {
        made.push(String(n));
        return `${String(n)} ${JSON.stringify(type)} ${JSON.stringify(range)}`;
      },
      names: async () => ['a', 'b'],
    });
    const session = (): Session => ({ user: undefined, modules: new Set(), vars: new Map() });
    const r = await interp.run('dbName = "dfs://t"\nif(!existsDatabase(dbName)){\n  db = database(dbName, VALUE, 2021.01.01..2021.12.31)\n}\nexistsDatabase(dbName); names(); `x`y', session());
    expect(r).toEqual({ output: ['true', '["a","b"]', '["x","y"]'] });
    expect(made).toEqual(['dfs://t']);
    expect(await interp.run('names()\nnope(1)\nnames()', session())).toEqual({ output: ['["a","b"]'], error: 'nope(1) => Cannot recognize the token nope' });
    expect((await interp.run('names(', session())).error).toMatch(/Syntax error/);
  });

  it('versions: any dotted version builds; anything else is refused', () => {
    expect(dolphindbPackage('2.00.12.3').archiveName).toBe('DolphinDB_Linux64_V2.00.12.3.zip');
    expect(() => dolphindbPackage('latest')).toThrow(/"latest" is not a DolphinDB version; give one like 2\.00\.11\.3/);
  });
});

describe('the simulated DolphinDB package on three servers', () => {
  it('lab package: the zip, its name per version, the two enterprise licenses beside it', () => {
    expect(first.path).toMatch(/\/DolphinDB_Linux64_V2\.00\.11\.3\.zip$/);
    expect(second.path).toMatch(/\/DolphinDB_Linux64_V2\.00\.12\.3\.zip$/);
    expect(first.topDir).toBe('server');
    expect(first.version).toMatch(/^2\.00\.11\.3 .*simulated/);
    expect(first.besides.map((p) => p.split('/').pop())).toEqual([ENTERPRISE_LICENSE, RENEWED_LICENSE]);
    const lic = readFileSync(first.besides[0]!, 'utf8');
    expect(lic).toMatch(/^# SIMULATED DolphinDB license/);
    expect(lic).toMatch(/^type=commercial$/m);
    expect(lic).toContain(`customer=${LAB_CUSTOMER}\n`);
    expect(lic).toMatch(/^maxNodes=8$/m);
    const year = (text: string): number => Number(/^expiration=(\d{4})/m.exec(text)![1]);
    expect(year(readFileSync(first.besides[1]!, 'utf8')) - year(lic)).toBe(1);
  });

  it('unzip gives server/; dolphindb needs chmod +x; the trial license and the labels say simulated', async () => {
    const denied = await lab.sshExec(host(1), `cd ${SERVER} && ./dolphindb -remoteHost 127.0.0.1 -remotePort 8900 </dev/null`);
    expect(denied.code).toBe(126);
    expect(denied.stderr).toMatch(/Permission denied/);
    const [demo, config, lic, readme] = (await sh(1, `ls ${DEMO}; echo @@; ls ${DEMO}/config; echo @@; cat ${SERVER}/dolphindb.lic; echo @@; cat ${SERVER}/README.md`)).split('@@\n');
    expect(demo!.split('\n')).toEqual(expect.arrayContaining(['config', 'data', 'log', 'startController.sh', 'startagent.sh', 'stopAllNode.sh']));
    expect(config!.split('\n').filter(Boolean).sort()).toEqual(['agent.cfg', 'cluster.cfg', 'cluster.nodes', 'controller.cfg']);
    expect(lic).toMatch(/SIMULATED/);
    expect(lic).toMatch(/^type=trial$/m);
    expect(lic).toMatch(/^maxNodes=2$/m);
    expect(readme).toMatch(/SIMULATED/);
    // The document's steps on every server: chmod +x, then the config files (controller.cfg on P1).
    await onAll((n) =>
      writeFiles(
        n,
        {
          [`${DEMO}/config/agent.cfg`]: agentCfg(n),
          [`${DEMO}/config/cluster.nodes`]: clusterNodes(),
          [`${DEMO}/config/cluster.cfg`]: CLUSTER_CFG,
          ...(n === 1 ? { [`${DEMO}/config/controller.cfg`]: controllerCfg() } : {}),
        },
        `chmod +x ${SERVER}/dolphindb`,
      ),
    );
  }, STEP_MS);

  it('controller, then agents from the scripts; the agents register; data and compute nodes are listed down', async () => {
    await startController();
    await onAll(startAgent);
    const [controllers, agents] = await Promise.all([pids(1, '-mode controller'), onAll((n) => pids(n, '-mode agent'))]);
    expect([controllers.length, ...agents.map((a) => a.length)]).toEqual([1, 1, 1, 1]);
    const p = await waitFor('every agent registered', states({ 'P1-agent': '1', 'P2-agent': '1', 'P3-agent': '1' }));
    expect(p['controller8900']).toMatchObject({ state: '1', mode: '2', host: addr(1), port: '8900', site: `${addr(1)}:8900:controller8900` });
    expect(p['P1-datanode']).toMatchObject({ state: '0', mode: '0', agentSite: `${addr(1)}:8901:P1-agent` });
    expect(p['P3-computenode']).toMatchObject({ state: '0', mode: '4' });
    const [controllerLog, agentLog] = await Promise.all([logOf(1, 'controller'), logOf(2, 'agent')]);
    expect(controllerLog.split('\n')[0]).toMatch(/<INFO> :DolphinDB 2\.00\.11\.3 SIMULATED by runbook/);
    // The line start.yaml reads to tell a registered agent from a refused one.
    expect(agentLog).toContain(`<INFO> :Registered with the controller ${addr(1)}:8900:controller8900`);
  }, STEP_MS);

  it('the community trial license: three data/compute nodes are refused, naming the license', async () => {
    const r = await ddb('startDataNode(["P1-datanode", "P2-datanode", "P3-computenode"])');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Server response: 'startDataNode\(\["P1-datanode", "P2-datanode", "P3-computenode"\]\) => startDataNode: the license allows 2 data and compute nodes \(trial, customer community\); starting P1-datanode, P2-datanode, P3-computenode would make 3'/);
    expect(Object.values(await perf()).filter((row) => row['mode'] === '0' || row['mode'] === '4').every((row) => row['state'] === '0')).toBe(true);
  }, STEP_MS);

  it('startDataNode through the controller: a server still on the trial license cannot run the third node; with its license replaced it can', async () => {
    // The enterprise license on P1 and P2 only; an offline update is a restart (P3's agent keeps running on the trial one).
    const enterprise = readFileSync(first.besides[0]!, 'utf8');
    await onAll((n) => writeFiles(n, { [`${SERVER}/dolphindb.lic`]: enterprise }, `${DEMO}/stopAllNode.sh`), [1, 2]);
    expect(await pids(1, '-mode ')).toEqual([]);
    await Promise.all([startP1(), startAgent(2)]);
    await waitFor('every agent registered', states({ 'P1-agent': '1', 'P2-agent': '1', 'P3-agent': '1' }));

    const started = Date.now();
    await ok('startDataNode(["P1-datanode", "P2-datanode", "P3-computenode"])');
    await waitFor('both data nodes up', states({ 'P1-datanode': '1', 'P2-datanode': '1' }));
    const upMs = Date.now() - started;
    expect(upMs).toBeLessThan(10_000);
    const log = await waitLog(3, 'P3-computenode', /<ERROR> :The license on this server \(trial, customer community\) allows 2 data and compute nodes; with this one the cluster would run 3/);
    expect(log.split('\n')[0]).toMatch(/SIMULATED by runbook .*: computenode, pid/);
    // Once it has exited (within 10 s), P3 gets the license.
    await writeFiles(3, { [`${SERVER}/dolphindb.lic`]: enterprise }, `${untilGone(`-localSite ${addr(3)}:8902:P3-computenode`)}`);
    await ok('startDataNode("P3-computenode")');
    const p = await waitFor('every node up', states(allUp));
    const nodes = [[1, 'P1-datanode'], [2, 'P2-datanode'], [3, 'P3-computenode']] as const;
    const [found, v, alias3] = await Promise.all([
      Promise.all(nodes.map(([n, alias]) => pids(n, `-localSite ${addr(n)}:8902:${alias}`))),
      ok('version()', { on: 2, port: 8902 }),
      ok('getNodeAlias()', { on: 3, port: 8902 }),
    ]);
    for (const [i, [n, alias]] of nodes.entries()) {
      expect(found[i], alias).toHaveLength(1);
      expect(p[alias]).toMatchObject({ host: addr(n), port: '8902', version: '2.00.11.3' });
    }
    expect(v.table.rows[0]!['value']).toMatch(/^2\.00\.11\.3 .*simulated/);
    expect(alias3.stdout.trim()).toBe('P3-computenode');
  }, STEP_MS);

  it('database(...) writes the metadata: DFSMetaLog.0 on the controller, CHUNK_METADATA on each data node, a checkpoint later', async () => {
    const script = [
      'dbName = "dfs://testDB"',
      'if(existsDatabase(dbName)){',
      '        dropDatabase(dbName)',
      '}',
      'db = database(dbName, VALUE, 2021.01.01..2021.12.31)',
      'existsDatabase(dbName)',
    ].join('\n');
    const r = await ok(script, { on: 1, port: 8902 });
    expect(r.stdout.trim()).toBe('true');
    const [metaLog, listing, chunks1] = (await sh(1, `cat ${DEMO}/dfsMeta/DFSMetaLog.0; echo @@; ls ${DEMO}/dfsMeta; echo @@; cat ${DEMO}/data/P1-datanode/storage/CHUNK_METADATA/chunks.meta`)).split('@@\n');
    expect(metaLog).toMatch(/^# SIMULATED DolphinDB DFS meta log, format 2\.00\.11\.3\ncreate dfs:\/\/testDB VALUE 2021\.01\.01\.\.2021\.12\.31\n$/);
    expect(listing).toBe('DFSMetaLog.0\n');
    expect(chunks1).toMatch(/format 2\.00\.11\.3\ncreate dfs:\/\/testDB /);
    expect(await sh(2, `cat ${DEMO}/data/P2-datanode/storage/CHUNK_METADATA/chunks.meta`)).toMatch(/format 2\.00\.11\.3\ncreate dfs:\/\/testDB /);
    expect(await sh(3, `ls ${DEMO}/data/P3-computenode/storage 2>&1 || true`)).toMatch(/No such file/);
    // The compute node sees the database; two more entries make a checkpoint.
    expect((await ok('existsDatabase("dfs://testDB")', { on: 3, port: 8902 })).stdout.trim()).toBe('true');
    await ok('database("dfs://db2", VALUE, 1..10); database("dfs://db3", VALUE, 1..10)', { on: 2, port: 8902 });
    expect(await sh(1, `cat ${DEMO}/dfsMeta/DFSMasterMetaCheckpoint.0`)).toMatch(/^# SIMULATED DolphinDB DFS master meta checkpoint, format 2\.00\.11\.3\ndfs:\/\/testDB .*\ndfs:\/\/db2 .*\ndfs:\/\/db3 .*\n$/);
  }, STEP_MS);

  it('getAllLicenses on every node; updateAllLicenses keeps the document\'s four rules', async () => {
    const enterprise = readFileSync(first.besides[0]!, 'utf8');
    const expiry = /^expiration=(.*)$/m.exec(enterprise)![1]!;
    // P3's agent started before P3's license was replaced: it still runs on the trial one until restarted (the offline update).
    const stale = await ok('use ops\ngetAllLicenses()');
    expect(stale.table.rows.find((r) => r['node'] === 'P3-agent')).toMatchObject({ type: 'trial', customer: 'community' });
    const registered = async (): Promise<number> => (await logOf(3, 'agent')).split('<INFO> :Registered with the controller').length - 1;
    const seen = await registered();
    // Stopped, and started again once it has exited.
    await sh(3, `pkill -f -- '[-]mode agent'; ${untilGone('-mode agent')} && cd ${DEMO} && DDB_SIM_HEARTBEAT_MS=${HB_MS} sh startagent.sh`);
    await waitFor('the new agent on node3 registered', async () => (await registered()) > seen);

    const before = await ok('use ops\ngetAllLicenses()');
    expect(before.table.columns).toEqual(expect.arrayContaining(['node', 'expiration', 'type', 'customer']));
    expect(before.table.rows.map((r) => r['node']).sort()).toEqual(['P1-agent', 'P1-datanode', 'P2-agent', 'P2-datanode', 'P3-agent', 'P3-computenode', 'controller8900']);
    expect(before.table.rows.every((r) => r['expiration'] === expiry && r['type'] === 'commercial' && r['customer'] === LAB_CUSTOMER)).toBe(true);
    expect((await ddb('getAllLicenses()')).stderr).toMatch(/Cannot recognize the token getAllLicenses/);

    // The customer rule is shown end to end by the license playbook; the others only here.
    const refusals: Array<[string, RegExp]> = [
      [dolphindbLicense({ maxNodes: 4 }), /the new license allows fewer nodes \(maxNodes 4\) than the current one \(8\)/],
      [dolphindbLicense({ type: 'trial' }), /the new license is a trial license; only commercial and free licenses can be updated online/],
    ];
    for (const [text, why] of refusals) {
      await licenseEverywhere(text);
      const r = await ddb('use ops\nupdateAllLicenses()', { on: 2, port: 8902 });
      expect(r.code, r.stdout).toBe(1);
      expect(r.stderr).toMatch(/^Server response: 'updateAllLicenses\(\) => controller8900: /);
      expect(r.stderr).toMatch(why);
    }
    // Nothing changed anywhere.
    expect((await ok('use ops\ngetAllLicenses()')).table.rows.every((r) => r['expiration'] === expiry)).toBe(true);

    const renewed = readFileSync(first.besides[1]!, 'utf8');
    const newExpiry = /^expiration=(.*)$/m.exec(renewed)![1]!;
    await licenseEverywhere(renewed);
    const r = await ok('use ops\nupdateAllLicenses()');
    expect(r.table.rows).toHaveLength(7);
    expect(r.table.rows.every((row) => row['expiration'] === newExpiry)).toBe(true);
    expect((await ok('getLicenseExpiration()', { on: 3, port: 8902 })).stdout.trim()).toBe(newExpiry);
  }, STEP_MS);

  it('the document\'s controller.sh / agent.sh stop lines hit only their own process; an expired license keeps a process from starting', async () => {
    // From the document's systemd scripts (5.2), as written there.
    const docStop = (what: string): string =>
      `ps -o ruser=userForLongName -e -o pid,ppid,c,time,cmd |grep dolphindb|grep -v grep|grep $USER|grep ${what}| awk '{print $2}'| xargs kill -TERM`;
    const node1 = `-localSite ${addr(1)}:8902:P1-datanode`;
    expect(await pids(1, node1)).toHaveLength(1);
    await sh(1, docStop('controller'));
    await waitFor('the controller to exit', async () => (await pids(1, '-mode controller')).length === 0);
    expect(await pids(1, '-mode agent')).toHaveLength(1);
    expect(await pids(1, node1)).toHaveLength(1);
    await sh(1, docStop('agent'));
    await waitFor('the agent to exit', async () => (await pids(1, '-mode agent')).length === 0);
    expect(await pids(1, node1)).toHaveLength(1);

    await writeFiles(3, { [`${SERVER}/dolphindb.lic`]: dolphindbLicense({ expiration: '2020.01.01' }) }, `${DEMO}/stopAllNode.sh && rm -f ${DEMO}/log/agent.log`);
    await startAgent(3);
    await waitLog(3, 'agent', '<ERROR> :The license has expired on 2020.01.01');
    await waitFor('the agent on node3 to exit', async () => (await pids(3, '-mode agent')).length === 0);
  }, STEP_MS);

  it('upgrade rewrites the metadata format; the old version refuses it until the backup is restored', async () => {
    // On P1, the controller's server with a data node (P2 and P3 stay stopped).
    await stopAll([1, 2]);
    expect(await pids(1, '-mode ')).toEqual([]);
    // The document's backup (the controller's files and the data node's CHUNK_METADATA), then the new release over server/.
    await unpack(
      1,
      second,
      true,
      `mkdir -p ${INSTALL}/backup/P1-datanode && cp -r ${DEMO}/dfsMeta/DFSMetaLog.0 ${DEMO}/dfsMeta/DFSMasterMetaCheckpoint.0 ${INSTALL}/backup/ && ` +
        `cp -r ${DEMO}/data/P1-datanode/storage/CHUNK_METADATA ${INSTALL}/backup/P1-datanode/`,
    );
    // What upgrade must keep: the license and the cluster's config.
    expect(await sh(1, `grep -c '^type=commercial' ${SERVER}/dolphindb.lic`)).toBe('1\n');

    await startP1();
    await waitFor('P1-agent registered', states({ 'P1-agent': '1' }));
    await ok('startDataNode("P1-datanode")');
    const p = await waitFor('P1-datanode up', states({ 'P1-datanode': '1' }));
    expect([p['controller8900']!['version'], p['P1-datanode']!['version']]).toEqual(['2.00.12.3', '2.00.12.3']);
    expect((await ok('version()')).stdout).toMatch(/^2\.00\.12\.3 /);
    const [metaHead, ctlLog, chunkHead] = (
      await sh(1, `head -1 ${DEMO}/dfsMeta/DFSMetaLog.0; echo @@; cat ${DEMO}/log/controller.log; echo @@; head -1 ${DEMO}/data/P1-datanode/storage/CHUNK_METADATA/chunks.meta`)
    ).split('@@\n');
    expect(metaHead).toBe('# SIMULATED DolphinDB DFS meta log, format 2.00.12.3\n');
    expect(ctlLog).toContain(`Upgraded the metadata format of ${DEMO}/dfsMeta/DFSMasterMetaCheckpoint.0 from 2.00.11.3 to 2.00.12.3`);
    expect(chunkHead).toBe('# SIMULATED DolphinDB chunk metadata, format 2.00.12.3\n');
    expect((await ok('existsDatabase("dfs://db3")', { on: 1, port: 8902 })).stdout.trim()).toBe('true');

    // Rollback without the metadata: the old controller refuses the new format.
    await stopAll([1]);
    await unpack(1, first, true, `rm -f ${DEMO}/log/controller.log ${DEMO}/log/P1-datanode.log`);
    await startController();
    const refusal = await waitLog(1, 'controller', /<ERROR> :.*DFSMasterMetaCheckpoint\.0 is in the metadata format of DolphinDB 2\.00\.12\.3, newer than this server \(2\.00\.11\.3\)/);
    expect(refusal).toMatch(/Restore the metadata backed up before the upgrade/);
    await waitFor('the controller to exit', async () => (await pids(1, '-mode controller')).length === 0);

    // The controller's backup restored: it starts; the data node, still on the new format, refuses.
    await sh(1, `cp -r ${INSTALL}/backup/DFSMetaLog.0 ${INSTALL}/backup/DFSMasterMetaCheckpoint.0 ${DEMO}/dfsMeta/`);
    await startP1();
    await waitFor('P1-agent registered', states({ 'P1-agent': '1' }));
    await ok('startDataNode("P1-datanode")');
    await waitLog(1, 'P1-datanode', /<ERROR> :.*CHUNK_METADATA\/chunks\.meta is in the metadata format of DolphinDB 2\.00\.12\.3, newer than this server/);
    await waitFor('P1-datanode to exit', async () => (await pids(1, `-localSite ${addr(1)}:8902:P1-datanode`)).length === 0);

    await sh(1, `cp -r ${INSTALL}/backup/P1-datanode/CHUNK_METADATA ${DEMO}/data/P1-datanode/storage/`);
    await ok('startDataNode("P1-datanode")');
    const back = await waitFor('P1-datanode up on the old version', states({ 'P1-datanode': '1' }));
    expect([back['controller8900']!['version'], back['P1-datanode']!['version']]).toEqual(['2.00.11.3', '2.00.11.3']);
    expect((await ok('existsDatabase("dfs://testDB")', { on: 1, port: 8902 })).stdout.trim()).toBe('true');
  }, STEP_MS);
});
