// A dual-active IoTDB pair, end to end: the real CLI deploys two standalone
// instances of the simulated IoTDB package, A on one lab host and B on
// another, under the document's host names iotdb-1 and iotdb-2, and creates
// pipes AB and BA as documented. Then: check and show see every node Running
// and every pipe RUNNING; a row written on A arrives on B exactly once, and
// one written on B arrives on A, without coming back
// ('source.forwarding-pipe-requests' = 'false'); stop stops the pipes before
// the databases; start starts them again. The pair file's own mistakes are
// reported at their lines before any host is touched.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labPackage } from '../../engine/lab/index.js';
import { runCli, results, type CliResult } from '../support/cli.js';
import { useLab } from '../support/lab.js';
import { ensureSimulatorCompiled, parseTable, waitFor } from '../support/sim-iotdb.js';
import { why } from './helpers.js';

const lab = useLab({ hosts: 2 });
let dir: string;
let pair: string;

const HOME = '/opt/iotdb/iotdb';

function play(playbook: string, ...args: string[]): Promise<CliResult> {
  return runCli(['play', playbook, '-i', pair, '--output', 'json', ...args]);
}

/** Run SQL with the side's own start-cli.sh, connecting by host name as the document does. */
async function sql(side: 'a' | 'b', statement: string): Promise<Array<Record<string, string>>> {
  const [node, name] = side === 'a' ? ['node1', 'iotdb-1'] : ['node2', 'iotdb-2'];
  const r = await lab.sshExec(node, `${HOME}/sbin/start-cli.sh -h ${name} -e "${statement}"`);
  if (r.code !== 0) throw new Error(`${statement} on ${side.toUpperCase()} failed (${r.code}): ${r.stdout}${r.stderr}`);
  return parseTable(r.stdout);
}

/** Poll until `select` on a side returns exactly `rows` rows. */
function rowsOn(side: 'a' | 'b', device: string, rows: number): Promise<Array<Record<string, string>>> {
  return waitFor(
    `${rows} row(s) of ${device} on ${side.toUpperCase()}`,
    async () => {
      const t = await sql(side, `select s1 from ${device}`);
      return t.length === rows ? t : undefined;
    },
    30_000,
  );
}

/** The receiving DataNode logs one line per batch a pipe delivered. */
async function received(node: 'node1' | 'node2'): Promise<string[]> {
  const r = await lab.sshExec(node, `grep -o 'Pipe receiver: accepted .* write(s) from pipe [A-Za-z]*' ${HOME}/logs/log_datanode_all.log || true`);
  return r.stdout.split('\n').filter((l) => l !== '');
}

function sideTopology(cluster: string, hostname: string): string {
  return `  ssh:
    known_hosts: ${lab.knownHostsPath}
  global:
    user: root
    pkey: ${lab.keyPath}
    ssh_port: 22
    deploy_dir: /opt/iotdb
    iotdb_zip_dir: ${join(dir, 'apache-iotdb-1.3.0-all-bin.zip')}
    iotdb-system.properties:
      cluster_name: ${cluster}
  confignode_servers:
    - name: confignode_1
      cn_internal_address: ${hostname}
  datanode_servers:
    - name: datanode_1
      dn_rpc_address: ${hostname}
      dn_internal_address: ${hostname}
`;
}

beforeAll(async () => {
  await ensureSimulatorCompiled();
  dir = mkdtempSync(join(tmpdir(), 'runbook-e2e-dual-active-'));
  await labPackage('iotdb', { outDir: dir });
  pair = join(dir, 'pair.yaml');
  writeFileSync(
    pair,
    `product: iotdb-dual-active
hostnames:
  iotdb-1: ${lab.host('node1').address}
  iotdb-2: ${lab.host('node2').address}
a:
${sideTopology('clusterA', 'iotdb-1')}
b:
${sideTopology('clusterB', 'iotdb-2')}`,
  );
}, 240_000);

afterAll(() => {
  // The lab going down ends every process on its hosts; this only removes the local files.
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the pair file', () => {
  it('reports its mistakes at their lines, inline sides included, before touching a host', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      [
        'product: iotdb-dual-active',
        'hostname:',
        '  iotdb-1: 198.19.254.11',
        'a:',
        '  global:',
        '    user: root',
        '    ssh_port: 22',
        '    deploy_dir: /opt/iotdb',
        `    iotdb_zip_dir: ${join(dir, 'apache-iotdb-1.3.0-all-bin.zip')}`,
        '  confignode_servers:',
        '    - name: confignode_1',
        '      cn_internal_address: iotdb-1',
        '      cn_internal_prot: 10710',
        '  datanode_servers:',
        '    - name: datanode_1',
        '      dn_rpc_address: iotdb-1',
        '      dn_internal_address: iotdb-1',
        '',
      ].join('\n'),
    );
    const r = await runCli(['validate', 'show', '-i', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}:2:1: unknown key "hostname" in the dual-active pair`);
    expect(r.stderr).toContain('did you mean "hostnames"?');
    // An error inside the inline topology of A, at its own line and column.
    expect(r.stderr).toMatch(new RegExp(`${bad}:13:7: unknown key "cn_internal_prot"`));
    expect(r.stderr).toContain('the pair has no b: (instance B)');
  });
});

describe('a dual-active pair on two lab hosts', () => {
  it('deploys and starts A and B and creates pipes AB and BA as documented', async () => {
    const r = await play('deploy');
    expect(r.code, why(r)).toBe(0);
    // The document's host names, in the (shared) /etc/hosts of the lab hosts.
    expect(results(r, "map the pair's host names").some((e) => e.status === 'changed')).toBe(true);
    const hosts = await lab.sshExec('node2', 'getent hosts iotdb-1 iotdb-2');
    expect(hosts.stdout).toContain(`${lab.host('node1').address}`);
    expect(hosts.stdout).toContain('iotdb-2');
    expect(results(r, 'create the pipe to the other side').map((e) => [e.host, e.status]).sort()).toEqual([
      ['a_datanode_1', 'changed'],
      ['b_datanode_1', 'changed'],
    ]);
    const ab = await sql('a', 'show pipes');
    expect(ab).toEqual([
      expect.objectContaining({
        ID: 'AB',
        State: 'RUNNING',
        PipeSource: '{source.forwarding-pipe-requests=false}',
        PipeSink: '{sink=iotdb-thrift-sink, sink.ip=iotdb-2, sink.port=6667}',
      }),
    ]);
    expect(await sql('b', 'show pipes')).toEqual([expect.objectContaining({ ID: 'BA', State: 'RUNNING', PipeSink: '{sink=iotdb-thrift-sink, sink.ip=iotdb-1, sink.port=6667}' })]);
  }, 180_000);

  it('checks and shows every node Running and every pipe RUNNING on both sides', async () => {
    const check = await play('check');
    expect(check.code, why(check)).toBe(0);
    expect(results(check, 'verdict')[0]?.msg).toMatch(/clusterA \(A\) and clusterB \(B\): every node Running, pipes AB and BA RUNNING/);
    const show = await play('show');
    expect(show.code, why(show)).toBe(0);
    expect(results(show, 'every pipe is RUNNING').map((e) => e.msg).sort()).toEqual(['A: every pipe is RUNNING, AB among them', 'B: every pipe is RUNNING, BA among them']);
    expect(results(show, 'every node is Running').map((e) => e.status)).toEqual(['ok', 'ok']);
  }, 60_000);

  it('copies a write on each side to the other exactly once, and never back', async () => {
    await sql('a', 'insert into root.dual.fromA(time, s1) values(1, 1.5)');
    expect(await rowsOn('b', 'root.dual.fromA', 1)).toEqual([expect.objectContaining({ 'root.dual.fromA.s1': '1.5' })]);
    await sql('b', 'insert into root.dual.fromB(time, s1) values(2, 2.5)');
    expect(await rowsOn('a', 'root.dual.fromB', 1)).toEqual([expect.objectContaining({ 'root.dual.fromB.s1': '2.5' })]);

    // A pipe sends a DataNode's writes in order, so had B forwarded A's row, A
    // would have received it before B's own row, which it now has: A received
    // B's row alone.
    expect(await received('node1')).toEqual(['Pipe receiver: accepted 1 write(s) from pipe BA']);
    await sql('a', 'insert into root.dual.fromA(time, s1) values(3, 3.5)');
    await rowsOn('b', 'root.dual.fromA', 2);
    // Likewise B received A's two rows one at a time, and not its own row back in between.
    expect(await received('node2')).toEqual(['Pipe receiver: accepted 1 write(s) from pipe AB', 'Pipe receiver: accepted 1 write(s) from pipe AB']);
    expect(await sql('a', 'select s1 from root.dual.fromA')).toHaveLength(2);
    expect(await sql('b', 'select s1 from root.dual.fromB')).toHaveLength(1);
  }, 90_000);

  it('leaves existing pipes as they are when started again', async () => {
    const r = await play('start');
    expect(r.code, why(r)).toBe(0);
    expect(results(r, 'create the pipe to the other side').map((e) => e.status)).toEqual(['skipped', 'skipped']);
    expect(results(r, 'the existing pipe sends to the other side without forwarding').map((e) => e.msg).sort()).toEqual([
      'pipe AB already exists on A, sending to iotdb-2:6667; left as it is',
      'pipe BA already exists on B, sending to iotdb-1:6667; left as it is',
    ]);
  }, 90_000);

  it('stops the pipes, then the databases; start runs them again', async () => {
    const stop = await play('stop');
    expect(stop.code, why(stop)).toBe(0);
    const order = results(stop)
      .filter((e) => e.status === 'changed')
      .map((e) => `${e.task} ${e.host}`);
    const lastPipe = Math.max(order.indexOf('stop the pipe to the other side a_datanode_1'), order.indexOf('stop the pipe to the other side b_datanode_1'));
    const firstNode = order.findIndex((t) => t.startsWith('stop the node'));
    expect(order.filter((t) => t.startsWith('stop the pipe'))).toHaveLength(2);
    expect(firstNode).toBeGreaterThan(lastPipe);
    expect(order.filter((t) => t.startsWith('stop the node'))).toHaveLength(4);
    for (const node of ['node1', 'node2'] as const) {
      expect((await lab.sshExec(node, "pgrep -f 'org[.]apache[.]iotdb' || true")).stdout.trim()).toBe('');
    }

    const start = await play('start');
    expect(start.code, why(start)).toBe(0);
    expect(results(start, 'start the pipe again (it was stopped)').map((e) => e.status)).toEqual(['changed', 'changed']);
    const check = await play('check');
    expect(check.code, why(check)).toBe(0);
    // Data still flows after the restart.
    await sql('b', 'insert into root.dual.fromB(time, s1) values(4, 4.5)');
    await rowsOn('a', 'root.dual.fromB', 2);
  }, 180_000);

  it('stops one side alone with -N b; A keeps its pipe and catches B up when it is back', async () => {
    const stop = await play('stop', '-N', 'b');
    expect(stop.code, why(stop)).toBe(0);
    expect(new Set(results(stop).map((e) => e.host))).toEqual(new Set(['b_datanode_1', 'b_confignode_1']));
    await sql('a', 'insert into root.dual.fromA(time, s1) values(5, 5.5)');
    const start = await play('start', '-N', 'b');
    expect(start.code, why(start)).toBe(0);
    await rowsOn('b', 'root.dual.fromA', 3);
  }, 180_000);
});
