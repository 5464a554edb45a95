// The OpenMLDB topology adapter: the shipped samples, a one-click conf/hosts,
// and every problem reported at its line before any host is touched.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadInventory } from '../../../engine/inventory/load.js';
import { prepare } from '../../../engine/runner.js';
import { moduleRegistry } from '../../../modules/index.js';
import type { Inventory } from '../../../engine/inventory/types.js';
import { registerBuiltinProducts } from '../../../engine/products/index.js';
import type { OpenmldbClusterVars, OpenmldbComponentVars, ZookeeperVars } from '../../../engine/products/openmldb/topology.js';
import { parseConfHosts } from '../../../engine/products/openmldb/conf-hosts.js';
import { Secret } from '../../../engine/secret.js';
import { problems, tempFiles, withEnv } from '../inventory/helpers.js';

const sample = (name: string): string => fileURLToPath(new URL(`../../../inventories/${name}`, import.meta.url));
const component = (inv: Inventory, host: string): OpenmldbComponentVars => inv.hosts.get(host)!.vars.openmldb as OpenmldbComponentVars;
const zookeeper = (inv: Inventory, host: string): ZookeeperVars => inv.hosts.get(host)!.vars.zookeeper as ZookeeperVars;
const cluster = (inv: Inventory): OpenmldbClusterVars => inv.vars.openmldb_cluster as OpenmldbClusterVars;
const groups = (inv: Inventory): Record<string, string[]> => Object.fromEntries([...inv.groups.values()].map((g) => [g.name, g.hosts]));

/** A copy of a shipped topology whose packages (OpenMLDB's, ZooKeeper's) are (empty) local files of the same names. */
function withPackage(name: string): { path: string; dir: string } {
  const dir = tempFiles({ 'openmldb-0.8.3-linux.tar.gz': '', 'apache-zookeeper-3.8.0-bin.tar.gz': '' });
  const text = readFileSync(sample(name), 'utf8').replace(/(?<=package: )\S+/g, (p) => join(dir, basename(p)));
  const path = join(dir, name);
  writeFileSync(path, text);
  return { path, dir };
}

/** A topology from a base that works, with `body` appended (sections it names replace nothing: write whole documents). */
function topo(body: string, extra: Record<string, string> = {}): string {
  const dir = tempFiles({ 'openmldb-0.8.3-linux.tar.gz': '', ...extra, 'topology.yaml': body.replace(/\$PKG/g, 'openmldb-0.8.3-linux.tar.gz') });
  return join(dir, 'topology.yaml');
}

const ZK_PKG = 'apache-zookeeper-3.8.0-bin.tar.gz';

const MINIMAL = `product: openmldb
cluster:
  package: $PKG
  zk_cluster: 10.0.0.9:2181
tablets:
  - endpoint: 10.0.0.1:10921
nameservers:
  - endpoint: 10.0.0.1:7527
`;

beforeAll(() => registerBuiltinProducts());

describe('the shipped samples', () => {
  test('openmldb-cluster.yaml: the document\'s cluster on an existing ZooKeeper, manual mode', () => {
    const { path, dir } = withPackage('openmldb-cluster.yaml');
    const inv = loadInventory(path);
    expect(inv.product).toBe('openmldb');
    expect([...inv.hosts.keys()]).toEqual(['tablet-1', 'tablet-2', 'tablet-3', 'nameserver-1', 'taskmanager-1', 'apiserver-1']);
    expect(groups(inv)).toMatchObject({
      tablets: ['tablet-1', 'tablet-2', 'tablet-3'],
      nameservers: ['nameserver-1'],
      taskmanagers: ['taskmanager-1'],
      apiservers: ['apiserver-1'],
      zookeepers: [],
      client: ['tablet-1'],
      openmldb: ['tablet-1', 'tablet-2', 'tablet-3', 'nameserver-1', 'taskmanager-1', 'apiserver-1'],
    });
    expect(inv.hosts.get('nameserver-1')).toMatchObject({ address: '172.24.4.40', user: 'root', aliases: ['172.24.4.40:7520', '172.24.4.40'] });
    expect(inv.vars.openmldb_mode).toBe('manual');
    expect(cluster(inv)).toMatchObject({
      name: 'openmldb-prod',
      mode: 'manual',
      zk_cluster: '172.27.2.52:12200',
      zk_root_path: '/openmldb',
      managed_zookeeper: false,
      client: 'tablet-1',
      client_home: '/work/openmldb/tablet-1',
      python: 'python3',
    });
    // show components lists tablets, nameservers and TaskManagers, never the APIServer (the document).
    expect(cluster(inv).components.map((c) => `${c.role} ${c.endpoint}`)).toEqual([
      'tablet 172.24.4.39:10821',
      'tablet 172.24.4.40:10821',
      'tablet 172.24.4.56:10821',
      'nameserver 172.24.4.40:7520',
      'taskmanager 172.24.4.56:9902',
    ]);
    expect(component(inv, 'tablet-2')).toMatchObject({
      role: 'tablet',
      endpoint: '172.24.4.40:10821',
      home: '/work/openmldb/tablet-2',
      parent_dir: '/work/openmldb',
      dir_name: 'tablet-2',
      package: join(dir, 'openmldb-0.8.3-linux.tar.gz'),
      package_name: 'openmldb-0.8.3-linux.tar.gz',
      top_dir: 'openmldb-0.8.3-linux',
      conf_file: 'conf/tablet.flags',
      pid_file: '/work/openmldb/tablet-2/bin/tablet.pid',
      log_file: '/work/openmldb/tablet-2/logs/tablet.info.log',
      mode_file: '/work/openmldb/tablet-2/.runbook-mode',
      clean_dirs: ['/work/openmldb/tablet-2/logs', '/work/openmldb/tablet-2/db', '/work/openmldb/tablet-2/recycle'],
      destroy_dirs: ['/work/openmldb/tablet-2'],
      listed: true,
      properties: null,
    });
    expect(component(inv, 'tablet-2').flags).toEqual({
      endpoint: '172.24.4.40:10821',
      role: 'tablet',
      zk_cluster: '172.27.2.52:12200',
      zk_root_path: '/openmldb',
      zk_session_timeout: '10000',
      openmldb_log_dir: './logs',
      db_root_path: './db',
      recycle_bin_root_path: './recycle',
    });
    expect(component(inv, 'taskmanager-1').properties).toMatchObject({
      'server.host': '172.24.4.56',
      'server.port': '9902',
      'zookeeper.cluster': '172.27.2.52:12200',
      'zookeeper.root_path': '/openmldb',
      'spark.master': 'local[4]',
    });
    expect(component(inv, 'apiserver-1')).toMatchObject({ listed: false, flags: { role: 'apiserver', endpoint: '172.24.4.39:9080' } });
    // Start order is the document's: tablets, nameservers, TaskManagers, APIServers.
    expect(['tablet-3', 'nameserver-1', 'taskmanager-1', 'apiserver-1'].map((h) => component(inv, h).start_order)).toEqual([2, 3, 4, 5]);
    expect(inv.hosts.get('apiserver-1')!.vars.destroy_dirs).toEqual(['/work/openmldb/apiserver-1']);
  });

  test('openmldb-lab.yaml: a three-server ZooKeeper ensemble runbook runs', () => {
    const { path } = withPackage('openmldb-lab.yaml');
    const inv = loadInventory(path);
    expect(groups(inv).zookeepers).toEqual(['zookeeper-1', 'zookeeper-2', 'zookeeper-3']);
    expect(cluster(inv)).toMatchObject({ managed_zookeeper: true, zk_cluster: '198.19.0.11:2181,198.19.0.12:2181,198.19.0.13:2181' });
    const zk2 = zookeeper(inv, 'zookeeper-2');
    expect(zk2).toMatchObject({
      myid: 2,
      host: '198.19.0.12',
      endpoint: '198.19.0.12:2181',
      home: '/opt/openmldb/zookeeper-2',
      data_dir: '/data/zookeeper',
      cfg_file: '/opt/openmldb/zookeeper-2/conf/zoo.cfg',
      pid_file: '/data/zookeeper/zookeeper_server.pid',
      log_file: '/opt/openmldb/zookeeper-2/logs/zookeeper.log',
      package_name: 'apache-zookeeper-3.8.0-bin.tar.gz',
      top_dir: 'apache-zookeeper-3.8.0-bin',
      parent_dir: '/opt/openmldb',
      dir_name: 'zookeeper-2',
      java: '/usr/bin/java',
      ensemble_size: 3,
      servers: ['server.1=198.19.0.11:2888:3888', 'server.2=198.19.0.12:2888:3888', 'server.3=198.19.0.13:2888:3888'],
      clean_dirs: ['/data/zookeeper/version-2', '/opt/openmldb/zookeeper-2/logs'],
      destroy_dirs: ['/opt/openmldb/zookeeper-2', '/data/zookeeper'],
    });
    expect(zk2.settings).toMatchObject({ dataDir: '/data/zookeeper', clientPort: '2181', tickTime: '2000' });
    expect(new RegExp(zk2.process_pattern).test('/usr/bin/java -cp x org.apache.zookeeper.server.quorum.QuorumPeerMain /opt/openmldb/zookeeper-2/conf/zoo.cfg')).toBe(true);
    expect(new RegExp(zk2.process_pattern).test('/usr/bin/java -cp x org.apache.zookeeper.server.quorum.QuorumPeerMain /opt/openmldb/zookeeper-3/conf/zoo.cfg')).toBe(false);
    expect(component(inv, 'tablet-1').flags?.zk_cluster).toBe('198.19.0.11:2181,198.19.0.12:2181,198.19.0.13:2181');
    expect(cluster(inv).hosts_file).toEqual([
      { role: 'tablet', lines: ['198.19.0.11:10921 /opt/openmldb/tablet-1', '198.19.0.12:10921 /opt/openmldb/tablet-2', '198.19.0.13:10921 /opt/openmldb/tablet-3'] },
      { role: 'nameserver', lines: ['198.19.0.11:7527 /opt/openmldb/nameserver-1'] },
      { role: 'taskmanager', lines: ['198.19.0.12:9902 /opt/openmldb/taskmanager-1'] },
      { role: 'apiserver', lines: ['198.19.0.13:9080 /opt/openmldb/apiserver-1'] },
      { role: 'zookeeper', lines: ['198.19.0.11:2181:2888:3888 /opt/openmldb/zookeeper-1', '198.19.0.12:2181:2888:3888 /opt/openmldb/zookeeper-2', '198.19.0.13:2181:2888:3888 /opt/openmldb/zookeeper-3'] },
    ]);
    // Hosts are recognised by their keys too, without product:.
    const noProduct = topo(readFileSync(path, 'utf8').replace(/^product: openmldb\n/m, '').replace(/(?<=package: )\S+/, '$PKG'));
    expect(loadInventory(noProduct).product).toBe('openmldb');
  });
});

describe('a one-click conf/hosts', () => {
  const HOSTS = `# one-click deployment
[tablet]
10.0.0.1:10921 /work/openmldb/tablet-1
10.0.0.2:10921

[nameserver]
10.0.0.1:7527 /work/openmldb/ns-1

[apiserver]
10.0.0.2:9080

[zookeeper]
10.0.0.3:2181:2888:3888 /work/zk
`;

  test('supplies the components and the ZooKeeper servers, with their folders', () => {
    const inv = loadInventory(topo(`product: openmldb\ncluster:\n  package: $PKG\n  mode: one-click\n  conf_hosts: ./hosts\nzookeeper:\n  package: ${ZK_PKG}\n`, { hosts: HOSTS, [ZK_PKG]: '' }));
    expect([...inv.hosts.keys()]).toEqual(['tablet-1', 'tablet-2', 'nameserver-1', 'apiserver-1', 'zookeeper-1']);
    expect(component(inv, 'tablet-1').home).toBe('/work/openmldb/tablet-1');
    expect(component(inv, 'tablet-2').home).toBe('/work/openmldb/tablet-2');
    expect(component(inv, 'nameserver-1').home).toBe('/work/openmldb/ns-1');
    expect(inv.hosts.get('tablet-2')!.address).toBe('10.0.0.2');
    expect(zookeeper(inv, 'zookeeper-1')).toMatchObject({ home: '/work/zk', data_dir: '/work/zk/data', client_port: 2181 });
    expect(inv.vars.openmldb_mode).toBe('one-click');
    expect(cluster(inv).zk_cluster).toBe('10.0.0.3:2181');
    // start-all.sh runs on tablet-1's machine and reaches the other one over ssh.
    expect(cluster(inv)).toMatchObject({ client: 'tablet-1', client_host: '10.0.0.1', remote_machines: [{ host: '10.0.0.2', name: 'tablet-2' }], remote_hosts: ['10.0.0.2'] });
  });

  test('problems point at the file\'s own lines', () => {
    const bad = `[tablet]\n10.0.0.1\n[tablets]\n10.0.0.2:10921 relative/dir\n`;
    const { errors } = parseConfHosts(bad, 'conf/hosts');
    expect(errors.map((e) => `${e.location?.line}: ${e.message}`)).toEqual([
      '2: "10.0.0.1" in conf/hosts is not host:port [folder]',
      '3: unknown section [tablets] in conf/hosts',
    ]);
    const p = problems(() => loadInventory(topo(`product: openmldb\ncluster:\n  package: $PKG\n  conf_hosts: hosts\n`, { hosts: `[tablet]\n10.0.0.1:10921 tablet-1\n[nameserver]\n10.0.0.1:7527\n[zookeeper]\n10.0.0.3:2181\n` })));
    expect(p.join('\n')).toMatch(/hosts:2:\d+: the folder "tablet-1" in .*hosts must be an absolute path/);
  });

  test('the same role in conf/hosts and in the yaml is refused', () => {
    const p = problems(() => loadInventory(topo(`${MINIMAL.replace('  zk_cluster: 10.0.0.9:2181\n', '  zk_cluster: 10.0.0.9:2181\n  conf_hosts: hosts\n')}`, { hosts: '[tablet]\n10.0.0.5:10921\n' })));
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/topology\.yaml:6:1: tablets are listed here and in .*hosts \(\[tablet\] at line 2\)/);
  });
});

describe('problems, each at its line, all at once', () => {
  test('misspelt keys get a suggestion', () => {
    const p = problems(() => loadInventory(topo(MINIMAL.replace('tablets:', 'tablet:').replace('  - endpoint: 10.0.0.1:7527', '  - endpont: 10.0.0.1:7527'))));
    expect(p[0]).toMatch(/topology\.yaml:5:1: unknown key "tablet" in the OpenMLDB topology\n.*\n.*\nhint: did you mean "tablets"\?$/);
    expect(p.at(-1)).toMatch(/topology\.yaml:8:5: unknown key "endpont" in the OpenMLDB topology\n.*\n.*\nhint: did you mean "endpoint"\?$/);
  });

  test('no ZooKeeper, or two of them', () => {
    const none = problems(() => loadInventory(topo(MINIMAL.replace('  zk_cluster: 10.0.0.9:2181\n', ''))));
    expect(none.join('\n')).toContain('the cluster has no ZooKeeper: OpenMLDB needs one');
    const both = problems(() => loadInventory(topo(`${MINIMAL}zookeeper:\n  servers:\n    - host: 10.0.0.9\n`)));
    expect(both.join('\n')).toMatch(/:4:3: cluster\.zk_cluster names an existing ZooKeeper, but the topology also lists ZooKeeper servers/);
  });

  test('bad values: zk_root_path, zk_cluster, mode, endpoints', () => {
    const p = problems(() =>
      loadInventory(
        topo(
          MINIMAL.replace('  zk_cluster: 10.0.0.9:2181\n', '  zk_cluster: 10.0.0.9:2181/chroot\n  zk_root_path: openmldb/\n  mode: oneclick\n').replace('10.0.0.1:10921', '10.0.0.1'),
        ),
      ),
    );
    const all = p.join('\n');
    expect(all).toContain('"cluster.mode" in the OpenMLDB topology');
    expect(all).toContain('"tablets.0.endpoint" in the OpenMLDB topology');
    // The shape is wrong, so the cross-checks wait; fix the shape, and they speak.
    const q = problems(() => loadInventory(topo(MINIMAL.replace('  zk_cluster: 10.0.0.9:2181\n', '  zk_cluster: 10.0.0.9:2181/chroot\n  zk_root_path: openmldb/\n'))));
    expect(q.join('\n')).toMatch(/:4:15: zk_cluster "10\.0\.0\.9:2181\/chroot" must be host:port/);
    expect(q.join('\n')).toMatch(/:5:17: zk_root_path "openmldb\/" must be a ZooKeeper path/);
  });

  test('an OpenMLDB cluster needs tablets and a nameserver', () => {
    const p = problems(() => loadInventory(topo(MINIMAL.replace(/nameservers:\n.*\n/, ''))));
    expect(p.join('\n')).toContain('the topology has no nameservers: an OpenMLDB cluster needs at least one NameServer');
  });

  test('endpoints, ports and folders shared on one machine', () => {
    const p = problems(() =>
      loadInventory(
        topo(`product: openmldb
cluster:
  package: $PKG
zookeeper:
  servers:
    - host: 10.0.0.1
      client_port: 7527
tablets:
  - endpoint: 10.0.0.1:10921
  - endpoint: 10.0.0.1:10921
    dir: /work/openmldb/tablet-1
nameservers:
  - endpoint: 10.0.0.1:7527
`),
      ),
    );
    const all = p.join('\n');
    expect(all).toMatch(/:10:5: tablet-2 and tablet-1 both have endpoint 10\.0\.0\.1:10921/);
    expect(all).toMatch(/port 10921 on 10\.0\.0\.1 is taken twice: tablet-2's port and tablet-1's port/);
    expect(all).toMatch(/port 7527 on 10\.0\.0\.1 is taken twice: zookeeper-1's client_port and nameserver-1's port/);
    expect(all).toMatch(/tablet-2 and tablet-1 both use \/work\/openmldb\/tablet-1 on 10\.0\.0\.1/);
  });

  test('flags runbook writes itself cannot be set by hand', () => {
    const p = problems(() => loadInventory(topo(`${MINIMAL.replace('  - endpoint: 10.0.0.1:7527', '  - endpoint: 10.0.0.1:7527\n    flags:\n      zk_root_path: /other\n      auto_failover: true')}`)));
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/:10:7: zk_root_path of nameserver-1 is written by runbook from cluster\.zk_root_path/);
  });

  test('the package must exist and be an OpenMLDB release', () => {
    const missing = problems(() => loadInventory(topo(MINIMAL.replace('$PKG', 'nowhere/openmldb-0.8.3-linux.tar.gz'))));
    expect(missing.join('\n')).toMatch(/:3:12: cluster\.package names .*nowhere\/openmldb-0\.8\.3-linux\.tar\.gz, which does not exist/);
    const wrong = problems(() => loadInventory(topo(MINIMAL.replace('$PKG', 'other.zip'), { 'other.zip': '' })));
    expect(wrong.join('\n')).toContain('cluster.package must be an OpenMLDB release named like openmldb-0.8.3-linux.tar.gz, not other.zip');
  });

  test('ZooKeeper servers runbook runs need a ZooKeeper release archive', () => {
    const servers = MINIMAL.replace('  zk_cluster: 10.0.0.9:2181\n', '');
    const none = problems(() => loadInventory(topo(`${servers}zookeeper:\n  servers:\n    - host: 10.0.0.9\n`)));
    expect(none).toHaveLength(1);
    expect(none[0]).toMatch(/:9:3: runbook runs the ZooKeeper servers, so it needs zookeeper\.package[\s\S]*hint: .*runbook lab package zookeeper/);
    const missing = problems(() => loadInventory(topo(`${servers}zookeeper:\n  package: nowhere/${ZK_PKG}\n  servers:\n    - host: 10.0.0.9\n`)));
    expect(missing.join('\n')).toMatch(/:9:12: zookeeper\.package names .*nowhere\/apache-zookeeper-3\.8\.0-bin\.tar\.gz, which does not exist/);
    const wrong = problems(() => loadInventory(topo(`${servers}zookeeper:\n  package: apache-zookeeper-3.8.0.tar.gz\n  servers:\n    - host: 10.0.0.9\n`, { 'apache-zookeeper-3.8.0.tar.gz': '' })));
    expect(wrong.join('\n')).toContain('zookeeper.package must be a ZooKeeper release named like apache-zookeeper-3.8.0-bin.tar.gz (or zookeeper-3.4.14.tar.gz), not apache-zookeeper-3.8.0.tar.gz');
    // The 3.4 name OpenMLDB's deployment guide downloads is a release too; its top folder is the name.
    const old = loadInventory(topo(`${servers}zookeeper:\n  package: zookeeper-3.4.14.tar.gz\n  servers:\n    - host: 10.0.0.9\n`, { 'zookeeper-3.4.14.tar.gz': '' }));
    expect(zookeeper(old, 'zookeeper-1')).toMatchObject({ package_name: 'zookeeper-3.4.14.tar.gz', top_dir: 'zookeeper-3.4.14', parent_dir: '/work/openmldb', dir_name: 'zookeeper-1' });
  });

  test('the keys that ran an installed ZooKeeper say what replaced them', () => {
    const text = `${MINIMAL.replace('  zk_cluster: 10.0.0.9:2181\n', '')}zookeeper:\n  package: ${ZK_PKG}\n  bin_dir: /usr/share/zookeeper/bin\n  classpath: /usr/share/java/zookeeper.jar\n  servers:\n    - host: 10.0.0.9\n`;
    const p = problems(() => loadInventory(topo(text, { [ZK_PKG]: '' })));
    expect(p).toHaveLength(2);
    expect(p[0]).toMatch(/:10:3: zookeeper\.bin_dir is no longer read: runbook deploys ZooKeeper from a release archive \(zookeeper\.package\)/);
    expect(p[1]).toMatch(/:11:3: zookeeper\.classpath is no longer read/);
  });

  test('ssh passwords come from the environment, and a missing variable is named', () => {
    withEnv({ OPENMLDB_TEST_SSH_PW: 's3cret-pw' });
    const inv = loadInventory(topo(MINIMAL.replace('cluster:', 'ssh:\n  password: { env: OPENMLDB_TEST_SSH_PW }\ncluster:')));
    const pw = inv.hosts.get('tablet-1')!.auth.password;
    expect(pw).toBeInstanceOf(Secret);
    expect(pw!.reveal()).toBe('s3cret-pw');
    expect(JSON.stringify(inv)).not.toContain('s3cret-pw');
    const p = problems(() => loadInventory(topo(MINIMAL.replace('cluster:', 'ssh:\n  password: { env: OPENMLDB_TEST_NOT_SET }\ncluster:'))));
    expect(p.join('\n')).toMatch(/:3:\d+: environment variable OPENMLDB_TEST_NOT_SET is not set/);
  });

  test('an even number of ZooKeeper servers is a warning, not an error', () => {
    const inv = loadInventory(
      topo(MINIMAL.replace('  zk_cluster: 10.0.0.9:2181\n', '').concat(`zookeeper:\n  package: ${ZK_PKG}\n  servers:\n    - host: 10.0.0.8\n    - host: 10.0.0.9\n`), { [ZK_PKG]: '' }),
    );
    expect(inv.warnings?.map((w) => w.message)).toEqual(['2 ZooKeeper servers survive no more failures than 1: a quorum is a majority']);
  });
});

describe('the built-in playbooks', () => {
  // Each one must pass every check that needs no host, against both kinds of ZooKeeper.
  const playbooks = readdirSync(fileURLToPath(new URL('../../../playbooks/openmldb/', import.meta.url)))
    .filter((f) => f.endsWith('.yaml') && !f.startsWith('_'))
    .map((f) => f.replace(/\.yaml$/, ''));

  test.each(['openmldb-cluster.yaml', 'openmldb-lab.yaml'])('validate against %s', (name) => {
    const { path } = withPackage(name);
    expect(playbooks).toEqual(expect.arrayContaining(['deploy', 'start', 'stop', 'restart', 'rolling-restart', 'status', 'show', 'clean', 'destroy']));
    for (const playbook of playbooks) {
      const prepared = prepare({ playbook, inventory: path, modules: moduleRegistry() });
      expect(prepared.playbook.plays.length, playbook).toBeGreaterThan(0);
    }
  });
});
