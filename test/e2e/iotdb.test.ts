// Issue 5, end to end: the built-in IoTDB playbooks, run by the real CLI
// against lab hosts with the simulated IoTDB package, from iotdbctl
// topologies written for this lab (test/support/iotdb-topology.ts). One
// 3-host lab serves both clusters: 1C1D on node1 (destroyed before 3C3D
// starts), then 3C3D across node1-3. Tests within a cluster run in order and
// reuse its deployment, the way an operator would go through the lifecycle.

import { beforeAll, describe, expect, test } from 'vitest';
import { results, totals, type CliResult } from '../support/cli.js';
import { useLab, type LabHandle } from '../support/lab.js';
import { writeIotdbTopology, type IotdbTopology, type IotdbTopologyNode } from '../support/iotdb-topology.js';
import { anyMatch, existing, onHost, parseIotdbTable, play, portOpen, resultOf, sha256On, startedTasks, transcript, useScratch, waitFor, type Scratch } from './helpers.js';

/** The tasks of playbooks/iotdb/_config.yaml: all that `deploy --tags config` may run. */
const CONFIG_TASKS = ['write iotdb-system.properties', 'append extra_opts to the env script', 'no extra_opts in the env script'];

type Row = Record<string, string>;

/** Run a built-in playbook against the topology. */
function lifecycle(scratch: Scratch, topo: () => IotdbTopology) {
  return (playbook: string, ...args: string[]): Promise<CliResult> => play(scratch, playbook, topo().path, args);
}

/** The table `show` printed, parsed. */
function shownRows(r: CliResult): Row[] {
  const printed = results(r, 'cluster table');
  if (printed.length !== 1) throw new Error(`show printed ${printed.length} tables\n${transcript(r)}`);
  return parseIotdbTable(printed[0]!.msg);
}

function rowOf(rows: Row[], n: IotdbTopologyNode): Row | undefined {
  const type = n.type === 'confignode' ? 'ConfigNode' : 'DataNode';
  return rows.find((r) => r.NodeType === type && r.InternalAddress === n.address && r.InternalPort === String(n.internalPort));
}

/** Each node's status as `show` reports it, by node name ("absent" when it has no row). */
function statuses(rows: Row[], topo: IotdbTopology): Record<string, string> {
  return Object.fromEntries(topo.nodes.map((n) => [n.name, rowOf(rows, n)?.Status ?? 'absent']));
}

function allRunning(topo: IotdbTopology): Record<string, string> {
  return Object.fromEntries(topo.nodes.map((n) => [n.name, 'Running']));
}

/** Run `show` until the nodes' statuses are `want`, and return the rows (polls: Unknown follows heartbeats). */
async function showUntil(run: ReturnType<typeof lifecycle>, topo: IotdbTopology, want: Record<string, string>): Promise<Row[]> {
  let last = '';
  try {
    return await waitFor(
      `show to report ${JSON.stringify(want)}`,
      async () => {
        const r = await run('show');
        if (r.code !== 0) {
          last = transcript(r);
          return undefined;
        }
        const rows = shownRows(r);
        last = JSON.stringify(statuses(rows, topo));
        return JSON.stringify(statuses(rows, topo)) === JSON.stringify(want) ? rows : undefined;
      },
      20_000,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\nlast show: ${last}`);
  }
}

/** Group the nodes by machine and ask each machine once, all machines at the same time. */
async function perMachine<T>(topo: IotdbTopology, ask: (host: string, nodes: IotdbTopologyNode[]) => Promise<T[]>): Promise<T[]> {
  const hosts = [...new Set(topo.nodes.map((n) => n.labHost))];
  const answers = await Promise.all(hosts.map((h) => ask(h, topo.nodes.filter((n) => n.labHost === h))));
  return answers.flat();
}

/** Whether each node's process runs, by node name. */
async function runningNodes(lab: LabHandle, topo: IotdbTopology): Promise<Record<string, boolean>> {
  const pairs = await perMachine(topo, async (host, nodes) => {
    const up = await anyMatch(lab, host, nodes.map((n) => n.processPattern));
    return nodes.map((n, i) => [n.name, up[i]!] as const);
  });
  return Object.fromEntries(topo.nodes.map((n) => [n.name, pairs.find(([name]) => name === n.name)![1]]));
}

/** Every node running except the named ones. */
function runningExcept(topo: IotdbTopology, ...stopped: string[]): Record<string, boolean> {
  return Object.fromEntries(topo.nodes.map((n) => [n.name, !stopped.includes(n.name)]));
}

/** Which of the nodes' folders exist, as host:path, sorted. */
async function leftovers(lab: LabHandle, topo: IotdbTopology, which: (n: IotdbTopologyNode) => string[]): Promise<string[]> {
  const found = await perMachine(topo, async (host, nodes) =>
    (await existing(lab, host, [...new Set(nodes.flatMap(which))])).map((p) => `${host}:${p}`),
  );
  return found.sort();
}

function expectOnly(r: CliResult, status: string, tasks: string[]): void {
  expect(results(r).filter((e) => e.status === status).map((e) => e.task).sort(), transcript(r)).toEqual([...tasks].sort());
}

describe('IoTDB lifecycle playbooks on lab hosts (issue 5)', () => {
  const lab = useLab({ hosts: 3 });
  const scratch = useScratch({ iotdbPackage: true });

  describe('1C1D on one host', () => {
    let topo: IotdbTopology;
    const write = (properties: Record<string, string | number> = {}) =>
      writeIotdbTopology({ lab, layout: '1c1d', packagePath: scratch.packagePath, dir: scratch.dir, properties });
    const run = lifecycle(scratch, () => topo);
    beforeAll(() => {
      topo = write();
    });

    test('check passes and prints the per-host table and the success line', async () => {
      const r = await run('check');
      expect(r.code, transcript(r)).toBe(0);
      const table = results(r, 'check table')[0]!.msg;
      for (const n of topo.nodes) expect(table).toContain(`${n.name} (${n.address}): jdk ok, unzip ok, lsof/netstat ok, ports ok`);
      expect(results(r, 'verdict')[0]!.msg).toBe(`Info:${topo.clusterName} check successfully!`);
    });

    test('deploy installs both nodes with their config; a second deploy changes nothing', async () => {
      const first = await run('deploy');
      expect(first.code, transcript(first)).toBe(0);
      expect(totals(first).changed).toBeGreaterThan(0);
      for (const n of topo.nodes) {
        const props = await onHost(lab, n.labHost, `cat ${n.propertiesFile}`);
        expect(props).toMatch(/generated by runbook/i);
        expect(props).toContain(`cluster_name=${topo.clusterName}\n`);
        expect(props).toContain('heartbeat_interval_in_ms=200\n');
        expect(await existing(lab, n.labHost, [`${n.home}/sbin/start-${n.type}.sh`])).toHaveLength(1);
      }
      expect(await onHost(lab, 'node1', `cat ${topo.node('datanode_1').propertiesFile}`)).toContain(`dn_seed_config_node=${topo.node('confignode_1').endpoint}\n`);

      const second = await run('deploy');
      expect(second.code, transcript(second)).toBe(0);
      expect(totals(second).changed, transcript(second)).toBe(0);
    });

    test('deploy --tags config only regenerates and distributes the config', async () => {
      const zip = `${topo.deployDir}/apache-iotdb-1.3.0-all-bin.zip`;
      const stat = (p: string) => onHost(lab, 'node1', `stat -c '%i %Y %s' ${p}`);
      const zipBefore = await stat(zip);
      const scriptBefore = await stat(`${topo.node('datanode_1').home}/sbin/start-datanode.sh`);
      const propsBefore = await Promise.all(topo.nodes.map((n) => sha256On(lab, n.labHost, n.propertiesFile)));

      topo = write({ query_timeout_threshold: 61000 });
      const r = await run('deploy', '--tags', 'config');
      expect(r.code, transcript(r)).toBe(0);
      // Only config tasks ran: nothing was uploaded or unpacked.
      for (const task of startedTasks(r)) expect(CONFIG_TASKS, `unexpected task ${task}`).toContain(task);
      for (const n of topo.nodes) expect(resultOf(r, 'write iotdb-system.properties', n.name).status).toBe('changed');
      expectOnly(r, 'changed', topo.nodes.map(() => 'write iotdb-system.properties'));

      // The files on the host changed, and hold the new property.
      for (const [i, n] of topo.nodes.entries()) {
        expect(await sha256On(lab, n.labHost, n.propertiesFile)).not.toBe(propsBefore[i]);
        expect(await onHost(lab, n.labHost, `cat ${n.propertiesFile}`)).toContain('query_timeout_threshold=61000\n');
      }
      // The package was neither uploaded again nor unpacked again.
      expect(await stat(zip)).toBe(zipBefore);
      expect(await stat(`${topo.node('datanode_1').home}/sbin/start-datanode.sh`)).toBe(scriptBefore);
    });

    test('start brings up the ConfigNode, then the DataNode; show lists both Running', async () => {
      const r = await run('start');
      expect(r.code, transcript(r)).toBe(0);
      const starts = results(r, 'start the node').map((e) => e.host);
      expect(starts).toEqual(['confignode_1', 'datanode_1']);
      expect(await runningNodes(lab, topo)).toEqual(runningExcept(topo));

      const rows = await showUntil(run, topo, allRunning(topo));
      expect(rows).toHaveLength(2);
      for (const row of rows) expect(row).toMatchObject({ Status: 'Running', BuildInfo: 'simulated' });
    });

    test('clean refuses while the cluster runs and deletes nothing', async () => {
      const before = await leftovers(lab, topo, (n) => [n.home, ...topo.cleanDirs(n)]);
      const r = await run('clean', '--yes');
      expect(r.code, transcript(r)).toBe(1);
      for (const n of topo.nodes) {
        expect(resultOf(r, 'the node is stopped', n.name)).toMatchObject({ status: 'failed' });
        expect(resultOf(r, 'the node is stopped', n.name).msg).toMatch(/is running; stop the cluster first/);
      }
      expect(startedTasks(r)).not.toContain("delete the node's data folders");
      expect(await leftovers(lab, topo, (n) => [n.home, ...topo.cleanDirs(n)])).toEqual(before);
      expect(await runningNodes(lab, topo)).toEqual(runningExcept(topo));
    });

    test('stop ends the DataNode, then the ConfigNode', async () => {
      const r = await run('stop');
      expect(r.code, transcript(r)).toBe(0);
      expect(results(r, 'stop the node').map((e) => [e.host, e.status])).toEqual([
        ['datanode_1', 'changed'],
        ['confignode_1', 'changed'],
      ]);
      expect(await runningNodes(lab, topo)).toEqual(runningExcept(topo, 'confignode_1', 'datanode_1'));
      for (const n of topo.nodes) expect(await portOpen(n.address, n.ports[0]!), n.endpoint).toBe(false);
    });

    test('clean deletes the data, log and ext folders and keeps the installation', async () => {
      const dataBefore = await leftovers(lab, topo, (n) => n.dataDirs);
      expect(dataBefore.length).toBeGreaterThan(0);
      const r = await run('clean', '--yes');
      expect(r.code, transcript(r)).toBe(0);
      expect(await leftovers(lab, topo, (n) => topo.cleanDirs(n))).toEqual([]);
      expect(await leftovers(lab, topo, (n) => [`${n.home}/conf`, `${n.home}/sbin`])).toHaveLength(4);
    });

    test('destroy without --yes refuses and deletes nothing; with --yes it deletes the installations', async () => {
      const before = await leftovers(lab, topo, (n) => [n.home, `${n.home}/conf/iotdb-system.properties`]);
      expect(before).toHaveLength(4);
      const refused = await run('destroy');
      expect(refused.code, transcript(refused)).toBe(1);
      expect(results(refused, 'needs --yes')[0]!.msg).toMatch(/nothing was touched\. Run it again with --yes/);
      expect(startedTasks(refused)).not.toContain("delete the node's folders");
      expect(await leftovers(lab, topo, (n) => [n.home, `${n.home}/conf/iotdb-system.properties`])).toEqual(before);

      const r = await run('destroy', '--yes');
      expect(r.code, transcript(r)).toBe(0);
      expect(await leftovers(lab, topo, (n) => [n.home, ...topo.cleanDirs(n)])).toEqual([]);
    });
  });

  describe('3C3D on three hosts', () => {
    let topo: IotdbTopology;
    const run = lifecycle(scratch, () => topo);
    beforeAll(() => {
      topo = writeIotdbTopology({ lab, layout: '3c3d', packagePath: scratch.packagePath, dir: scratch.dir });
    });

    test('check passes on all three hosts', async () => {
      const r = await run('check');
      expect(r.code, transcript(r)).toBe(0);
      expect(results(r, 'verdict')[0]!.msg).toBe(`Info:${topo.clusterName} check successfully!`);
      expect(results(r, 'look at the host').map((e) => e.host).sort()).toEqual(topo.nodes.map((n) => n.name).sort());
    });

    test('deploy installs six nodes, uploading the package once per machine; a second deploy changes nothing', async () => {
      const first = await run('deploy');
      expect(first.code, transcript(first)).toBe(0);
      // Two nodes share each machine: one of them uploads, the other finds the package there.
      const uploads = results(first, 'upload the IoTDB package');
      expect(uploads.filter((e) => e.status === 'changed').map((e) => e.host).length).toBe(3);
      expect(uploads.filter((e) => e.status === 'ok').length).toBe(3);
      for (const n of topo.nodes) {
        expect(await onHost(lab, n.labHost, `cat ${n.propertiesFile}`)).toContain(`cluster_name=${topo.clusterName}\n`);
      }

      const second = await run('deploy');
      expect(second.code, transcript(second)).toBe(0);
      expect(totals(second).changed, transcript(second)).toBe(0);
    });

    test('start brings up the seed ConfigNode first and show lists all six Running', async () => {
      const r = await run('start');
      expect(r.code, transcript(r)).toBe(0);
      expect(results(r, 'start the node').map((e) => e.host).slice(0, 3)).toEqual(['confignode_1', 'confignode_2', 'confignode_3']);
      expect(await runningNodes(lab, topo)).toEqual(runningExcept(topo));
      const rows = await showUntil(run, topo, allRunning(topo));
      expect(rows).toHaveLength(6);
    });

    test('stop and start one DataNode by name', async () => {
      const stopped = await run('stop', '-N', 'datanode_2');
      expect(stopped.code, transcript(stopped)).toBe(0);
      expect(results(stopped, 'stop the node').map((e) => e.host)).toEqual(['datanode_2']);
      expect(await runningNodes(lab, topo)).toEqual(runningExcept(topo, 'datanode_2'));
      await showUntil(run, topo, { ...allRunning(topo), datanode_2: 'Unknown' });

      const started = await run('start', '-N', 'datanode_2');
      expect(started.code, transcript(started)).toBe(0);
      expect(results(started, 'start the node').map((e) => [e.host, e.status])).toEqual([['datanode_2', 'changed']]);
      expect(await runningNodes(lab, topo)).toEqual(runningExcept(topo));
      await showUntil(run, topo, allRunning(topo));
    });

    test('stop and start one ConfigNode by ip:port', async () => {
      const cn3 = topo.node('confignode_3');
      const stopped = await run('stop', '-N', cn3.endpoint);
      expect(stopped.code, transcript(stopped)).toBe(0);
      expect(results(stopped, 'stop the node').map((e) => e.host)).toEqual(['confignode_3']);
      expect(await runningNodes(lab, topo)).toEqual(runningExcept(topo, 'confignode_3'));
      await showUntil(run, topo, { ...allRunning(topo), confignode_3: 'Unknown' });

      const started = await run('start', '-N', cn3.endpoint);
      expect(started.code, transcript(started)).toBe(0);
      expect(results(started, 'start the node').map((e) => [e.host, e.status])).toEqual([['confignode_3', 'changed']]);
      await showUntil(run, topo, allRunning(topo));
    });

    test('clean refuses while the cluster runs and deletes nothing', async () => {
      const before = await leftovers(lab, topo, (n) => topo.cleanDirs(n));
      const r = await run('clean', '--yes');
      expect(r.code, transcript(r)).toBe(1);
      expect(results(r, 'the node is stopped').filter((e) => e.status === 'failed').map((e) => e.host).sort()).toEqual(topo.nodes.map((n) => n.name).sort());
      expect(startedTasks(r)).not.toContain("delete the node's data folders");
      expect(await leftovers(lab, topo, (n) => topo.cleanDirs(n))).toEqual(before);
    });

    test('stop ends every DataNode before any ConfigNode', async () => {
      const r = await run('stop');
      expect(r.code, transcript(r)).toBe(0);
      expect(results(r, 'stop the node').map((e) => e.host)).toEqual(['datanode_1', 'datanode_2', 'datanode_3', 'confignode_1', 'confignode_2', 'confignode_3']);
      expect(await runningNodes(lab, topo)).toEqual(runningExcept(topo, ...topo.nodes.map((n) => n.name)));
    });

    test('clean, then destroy: refused without --yes, complete with it', async () => {
      const cleaned = await run('clean', '--yes');
      expect(cleaned.code, transcript(cleaned)).toBe(0);
      expect(await leftovers(lab, topo, (n) => topo.cleanDirs(n))).toEqual([]);

      const homes = await leftovers(lab, topo, (n) => [n.home]);
      expect(homes).toHaveLength(6);
      const refused = await run('destroy');
      expect(refused.code, transcript(refused)).toBe(1);
      expect(await leftovers(lab, topo, (n) => [n.home])).toEqual(homes);

      const r = await run('destroy', '--yes');
      expect(r.code, transcript(r)).toBe(0);
      expect(await leftovers(lab, topo, (n) => [n.home, ...topo.cleanDirs(n)])).toEqual([]);
    });
  });
});
