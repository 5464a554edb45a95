// Monitoring of an IoTDB cluster from its iotdbctl topology, end to end: the
// real CLI deploys and starts a simulated 1C1D whose iotdb-system.properties
// enable the Prometheus reporter on one lab host, and Prometheus and Grafana
// (prometheus_server / grafana_server) on another. Prometheus is the REAL one
// (Debian's binary, packed as upstream's archive by `runbook lab package
// prometheus`); it must scrape the simulated nodes' /metrics endpoints.
// Grafana is the simulated package; it must answer /api/health and list the
// topology's dashboards. Then `-N prometheus` and `-N grafana` stop, start and
// destroy one of them without touching anything else.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labPackage } from '../../engine/lab/index.js';
import { runCli, results, type CliResult } from '../support/cli.js';
import { ensureCompiledServer, useLab } from '../support/lab.js';
import { ensureSimulatorCompiled, waitFor } from '../support/sim-iotdb.js';
import { why } from './helpers.js';

const lab = useLab({ hosts: 2 });
let dir: string;
let topology: string;
let iotdbHost: string;
let monitorHost: string;

function play(playbook: string, ...args: string[]): Promise<CliResult> {
  return runCli(['play', playbook, '-i', topology, '--output', 'json', ...args]);
}

async function httpJson(url: string, auth?: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { headers: auth ? { Authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {}, signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : (JSON.parse(text) as unknown) };
}

/** Whether anything accepts connections at url now. */
async function answers(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(3000) });
    return true;
  } catch {
    return false;
  }
}

interface Target {
  health: string;
  lastError: string;
  labels: Record<string, string>;
}

async function targets(): Promise<Target[]> {
  const r = await httpJson(`http://${monitorHost}:9090/api/v1/targets`);
  return (r.body as { data: { activeTargets: Target[] } }).data.activeTargets;
}

/** Poll Prometheus until it has scraped both nodes successfully. */
function allTargetsUp(): Promise<Target[]> {
  return waitFor(
    'Prometheus to scrape both simulated nodes',
    async () => {
      const t = await targets();
      return t.length === 2 && t.every((x) => x.health === 'up') ? t : undefined;
    },
    60_000,
  );
}

beforeAll(async () => {
  await ensureSimulatorCompiled();
  await ensureCompiledServer('grafana', 'server');
  dir = mkdtempSync(join(tmpdir(), 'runbook-e2e-monitoring-'));
  const iotdbZip = await labPackage('iotdb', { outDir: dir });
  const grafanaTar = await labPackage('grafana', { outDir: dir });
  // The real binary is 50 MB: packed once into the shared packages folder and reused while it is unchanged.
  const prometheusTar = await labPackage('prometheus');

  iotdbHost = lab.host('node1').address;
  monitorHost = lab.host('node2').address;
  writeFileSync(join(dir, 'confignode.json'), JSON.stringify({ uid: 'iotdb-cn', title: 'IoTDB ConfigNode', tags: ['iotdb'], panels: [] }));
  writeFileSync(join(dir, 'datanode.json'), JSON.stringify({ uid: 'iotdb-dn', title: 'IoTDB DataNode', tags: ['iotdb'], panels: [] }));
  topology = join(dir, 'monitoring.yaml');
  writeFileSync(
    topology,
    `ssh:
  known_hosts: ${lab.knownHostsPath}
global:
  user: root
  pkey: ${lab.keyPath}
  ssh_port: 22
  deploy_dir: /opt/iotdb
  iotdb_zip_dir: ${iotdbZip}
  iotdb-system.properties:
    cluster_name: monitoredCluster
    cn_metric_reporter_list: PROMETHEUS
    cn_metric_level: IMPORTANT
    cn_metric_prometheus_reporter_port: 9091
    dn_metric_reporter_list: PROMETHEUS
    dn_metric_level: IMPORTANT
    dn_metric_prometheus_reporter_port: 9092
confignode_servers:
  - name: confignode_1
    cn_internal_address: ${iotdbHost}
datanode_servers:
  - name: datanode_1
    dn_rpc_address: ${iotdbHost}
    dn_internal_address: ${iotdbHost}
grafana_server:
  host: ${monitorHost}
  deploy_dir: /opt/grafana
  grafana_tar_dir: ${grafanaTar}
  dashboards: confignode.json,datanode.json
prometheus_server:
  host: ${monitorHost}
  deploy_dir: /opt/prometheus
  prometheus_tar_dir: ${prometheusTar}
  storage_tsdb_retention_time: 2d
`,
  );
}, 240_000);

afterAll(async () => {
  // The lab going down ends every process on its hosts; this only removes the local files.
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('Prometheus and Grafana from the topology', () => {
  it('deploys and starts the cluster, Prometheus and Grafana', async () => {
    // A short scrape interval keeps the wait for the first scrape short; the default is 15s.
    const deploy = await play('deploy', '-e', 'prometheus_scrape_interval=1s');
    expect(deploy.code, why(deploy)).toBe(0);
    const deployed = new Set(results(deploy).filter((e) => e.status === 'changed').map((e) => e.host));
    expect([...deployed].sort()).toEqual(['confignode_1', 'datanode_1', 'grafana', 'prometheus']);

    const start = await play('start');
    expect(start.code, why(start)).toBe(0);
    expect(results(start, 'start Prometheus').map((e) => [e.host, e.status])).toEqual([['prometheus', 'changed']]);
    expect(results(start, 'start Grafana').map((e) => [e.host, e.status])).toEqual([['grafana', 'changed']]);
  }, 180_000);

  it('has the real Prometheus scrape every node whose properties enable metrics', async () => {
    const up = await allTargetsUp();
    expect(up.map((t) => [t.labels.node, t.labels.instance]).sort()).toEqual([
      ['confignode_1', `${iotdbHost}:9091`],
      ['datanode_1', `${iotdbHost}:9092`],
    ]);
    // What was scraped is stored and queryable: the simulated nodes say what they are.
    const q = await httpJson(`http://${monitorHost}:9090/api/v1/query?query=${encodeURIComponent('iotdb_build_info')}`);
    const series = (q.body as { data: { result: Array<{ metric: Record<string, string> }> } }).data.result;
    expect(series.map((s) => [s.metric.nodeType, s.metric.build_info, s.metric.cluster]).sort()).toEqual([
      ['ConfigNode', 'simulated', 'monitoredCluster'],
      ['DataNode', 'simulated', 'monitoredCluster'],
    ]);
    // Started with the topology's retention and address.
    const flags = (await httpJson(`http://${monitorHost}:9090/api/v1/status/flags`)).body as { data: Record<string, string> };
    expect(flags.data['storage.tsdb.retention.time']).toBe('2d');
    expect(flags.data['web.listen-address']).toBe(`${monitorHost}:9090`);
  }, 90_000);

  it('has Grafana healthy, with the topology dashboards and Prometheus as data source', async () => {
    const health = await httpJson(`http://${monitorHost}:3000/api/health`);
    expect(health).toMatchObject({ status: 200, body: { database: 'ok' } });
    expect((await httpJson(`http://${monitorHost}:3000/api/search`)).status).toBe(401);
    const search = await httpJson(`http://${monitorHost}:3000/api/search`, 'admin:admin');
    expect((search.body as Array<{ title: string; uid: string }>).map((d) => [d.uid, d.title])).toEqual([
      ['iotdb-cn', 'IoTDB ConfigNode'],
      ['iotdb-dn', 'IoTDB DataNode'],
    ]);
    const ds = await httpJson(`http://${monitorHost}:3000/api/datasources`, 'admin:admin');
    expect(ds.body).toEqual([expect.objectContaining({ type: 'prometheus', url: `http://${monitorHost}:9090`, isDefault: true })]);
  }, 30_000);

  it('stops and starts only Prometheus with -N prometheus', async () => {
    const stop = await play('stop', '-N', 'prometheus');
    expect(stop.code, why(stop)).toBe(0);
    expect(new Set(results(stop).map((e) => e.host))).toEqual(new Set(['prometheus']));
    expect(await answers(`http://${monitorHost}:9090/-/ready`)).toBe(false);
    // Everything else still runs.
    expect((await httpJson(`http://${monitorHost}:3000/api/health`)).status).toBe(200);
    expect(await answers(`http://${iotdbHost}:9092/metrics`)).toBe(true);

    const start = await play('start', '-N', 'prometheus');
    expect(start.code, why(start)).toBe(0);
    expect(new Set(results(start).map((e) => e.host))).toEqual(new Set(['prometheus']));
    await allTargetsUp();
  }, 150_000);

  it('reloads a running Prometheus when a deploy changes its configuration', async () => {
    const deploy = await play('deploy', '-N', 'prometheus', '-e', 'prometheus_scrape_interval=2s');
    expect(deploy.code, why(deploy)).toBe(0);
    expect(results(deploy, 'write prometheus.yml (scrape the nodes that enable metrics)')[0]?.status).toBe('changed');
    expect(results(deploy, 'reload Prometheus').map((e) => [e.host, e.status])).toEqual([['prometheus', 'changed']]);
    // SIGHUP makes Prometheus read the file again; its API shows the configuration in force.
    await waitFor('Prometheus to load the new scrape interval', async () => {
      const c = await httpJson(`http://${monitorHost}:9090/api/v1/status/config`);
      return (c.body as { data: { yaml: string } }).data.yaml.includes('scrape_interval: 2s');
    });
  }, 90_000);

  it('destroys only Grafana with -N grafana, and only once it is stopped', async () => {
    const refused = await play('destroy', '-N', 'grafana', '--yes');
    expect(refused.code).toBe(1);
    expect(results(refused, 'Prometheus or Grafana is stopped')[0]?.msg).toMatch(/grafana is running; stop it first/);
    expect((await lab.sshExec('node2', 'test -d /opt/grafana/grafana_iotdb')).code).toBe(0);

    const stop = await play('stop', '-N', 'grafana');
    expect(stop.code, why(stop)).toBe(0);
    const destroy = await play('destroy', '-N', 'grafana', '--yes');
    expect(destroy.code, why(destroy)).toBe(0);
    expect(new Set(results(destroy).map((e) => e.host))).toEqual(new Set(['grafana']));
    expect((await lab.sshExec('node2', 'test -e /opt/grafana/grafana_iotdb')).code).toBe(1);
    // Prometheus, its data and the cluster are untouched: both nodes are still
    // scraped (polled: one scrape of a busy machine may time out at a 2 s interval).
    expect((await lab.sshExec('node2', 'test -d /opt/prometheus/prometheus_iotdb/data')).code).toBe(0);
    expect(await allTargetsUp()).toHaveLength(2);
  }, 120_000);

  it('stops and destroys everything', async () => {
    const stop = await play('stop');
    expect(stop.code, why(stop)).toBe(0);
    expect(await answers(`http://${monitorHost}:9090/-/ready`)).toBe(false);
    const destroy = await play('destroy', '--yes');
    expect(destroy.code, why(destroy)).toBe(0);
    expect((await lab.sshExec('node2', 'test -e /opt/prometheus/prometheus_iotdb')).code).toBe(1);
    expect((await lab.sshExec('node1', 'test -e /opt/iotdb/iotdb')).code).toBe(1);
  }, 120_000);
});
