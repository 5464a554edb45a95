import { readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { InputErrors } from '../../../engine/errors.js';
import { registeredAdapters } from '../../../engine/inventory/adapters.js';
import { loadInventory } from '../../../engine/inventory/load.js';
import { selectHosts } from '../../../engine/inventory/select.js';
import type { Inventory } from '../../../engine/inventory/types.js';
import type { IotdbClusterVars, IotdbHostVars } from '../../../engine/products/iotdb/topology.js';
import { registerBuiltinProducts } from '../../../engine/products/index.js';
import { Secret, secretMasker } from '../../../engine/secret.js';
import { inputError, problems, tempFiles, withEnv } from '../inventory/helpers.js';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const sample = (name: string): string => fileURLToPath(new URL(`../../../inventories/${name}`, import.meta.url));
const iotdb = (inv: Inventory, host: string): IotdbHostVars => inv.hosts.get(host)!.vars.iotdb as IotdbHostVars;
const groups = (inv: Inventory): Record<string, string[]> => Object.fromEntries([...inv.groups.values()].map((g) => [g.name, g.hosts]));

/**
 * A copy of a shipped topology whose local archives exist: each absolute
 * archive path is replaced by an empty file of the same name in a temp folder
 * (the adapter checks that they exist, not what is in them).
 */
function withArchives(name: string): { path: string; dir: string } {
  const dir = tempFiles({});
  const text = readFileSync(sample(name), 'utf8').replace(/(?<=: )\/\S+\.(zip|tar\.gz)$/gm, (full) => {
    const local = join(dir, full.slice(full.lastIndexOf('/') + 1));
    writeFileSync(local, '');
    return local;
  });
  const path = join(dir, name);
  writeFileSync(path, text);
  return { path, dir };
}

beforeAll(() => registerBuiltinProducts());

describe('the documented samples', () => {
  test('1C1D: one ConfigNode and one DataNode sharing an installation on 192.168.1.5', () => {
    const { path, dir } = withArchives('1c1d.yaml');
    const inv = loadInventory(path);
    expect(inv.product).toBe('iotdb');
    expect([...inv.hosts.keys()]).toEqual(['confignode_1', 'datanode_1']);
    expect(groups(inv)).toEqual({ confignodes: ['confignode_1'], datanodes: ['datanode_1'], iotdb: ['confignode_1', 'datanode_1'], seed: ['confignode_1'] });
    const cn = inv.hosts.get('confignode_1')!;
    expect(cn).toMatchObject({ address: '192.168.1.5', port: 22, user: 'root', aliases: ['192.168.1.5:10710', '192.168.1.5'] });
    expect(cn.auth.privateKeyFile).toBe(join(homedir(), '.ssh/id_rsa'));
    expect(iotdb(inv, 'confignode_1')).toMatchObject({
      node_type: 'confignode',
      home: '/home/data/iotdb/iotdb',
      zip: join(dir, 'apache-iotdb-1.3.0-all-bin.zip'),
      zip_name: 'apache-iotdb-1.3.0-all-bin.zip',
      top_dir: 'apache-iotdb-1.3.0-all-bin',
      is_seed: true,
      shares_home_with: 'datanode_1',
    });
    // One installation, one conf/iotdb-system.properties: both nodes carry the same map.
    expect(iotdb(inv, 'datanode_1').properties).toEqual(iotdb(inv, 'confignode_1').properties);
    expect(iotdb(inv, 'datanode_1').properties).toMatchObject({ cn_internal_port: '10710', dn_rpc_port: '6667', dn_seed_config_node: '192.168.1.5:10710' });
  });

  test('3C3D: six servers, seed first, default ports, replication from global properties', () => {
    const inv = loadInventory(withArchives('3c3d.yaml').path);
    expect(groups(inv)).toMatchObject({
      confignodes: ['confignode_1', 'confignode_2', 'confignode_3'],
      datanodes: ['datanode_1', 'datanode_2', 'datanode_3'],
      seed: ['confignode_1'],
    });
    expect(inv.vars.iotdb_cluster).toEqual({
      name: 'defaultCluster',
      confignodes: ['confignode_1', 'confignode_2', 'confignode_3'],
      datanodes: ['datanode_1', 'datanode_2', 'datanode_3'],
      seed: 'confignode_1',
      replication: { schema: 3, data: 2 },
      cli_endpoints: ['192.168.1.20:6667', '192.168.1.21:6667', '192.168.1.22:6667'],
    } satisfies IotdbClusterVars);
    expect([...inv.hosts.values()].map((h) => [h.name, iotdb(inv, h.name).start_order])).toEqual([
      ['confignode_1', 0],
      ['confignode_2', 1],
      ['confignode_3', 2],
      ['datanode_1', 3],
      ['datanode_2', 4],
      ['datanode_3', 5],
    ]);
    expect(iotdb(inv, 'datanode_2').env).toEqual({
      file: 'datanode-env.sh',
      extra_opts: 'IOTDB_JMX_OPTS="$IOTDB_JMX_OPTS -XX:+UseG1GC"\nIOTDB_JMX_OPTS="$IOTDB_JMX_OPTS -XX:MaxGCPauseMillis=200"\n',
    });
    expect(iotdb(inv, 'confignode_2').env).toEqual({ file: 'confignode-env.sh', extra_opts: null });
  });

  test('3C3D with Grafana and Prometheus: both are hosts and groups, Prometheus scrapes every node', () => {
    const { path, dir } = withArchives('3c3d-grafana-prometheus.yaml');
    const inv = loadInventory(path);
    expect([...inv.hosts.keys()].slice(-2)).toEqual(['prometheus', 'grafana']);
    expect(groups(inv)).toMatchObject({ grafana: ['grafana'], prometheus: ['prometheus'] });
    expect(selectHosts(inv, 'grafana')).toEqual(['grafana']);
    expect(iotdb(inv, 'confignode_1').ports).toEqual([10710, 10720, 9091]);
    expect(iotdb(inv, 'datanode_1').ports).toEqual([6667, 10730, 10740, 10750, 10760, 9092]);
    expect(iotdb(inv, 'prometheus')).toMatchObject({
      node_type: 'prometheus',
      home: '/home/data/prometheus/prometheus_iotdb',
      ports: [9090],
      endpoint: '192.168.1.30:9090',
      start_order: 6,
      destroy_dirs: ['/home/data/prometheus/prometheus_iotdb'],
      prometheus: {
        tar: join(dir, 'prometheus-2.45.0.linux-amd64.tar.gz'),
        tar_name: 'prometheus-2.45.0.linux-amd64.tar.gz',
        retention_time: '15d',
        retention_size: null,
      },
    });
    expect(iotdb(inv, 'prometheus').prometheus!.targets.map((t) => t.endpoint)).toEqual([
      '192.168.1.10:9091',
      '192.168.1.11:9091',
      '192.168.1.12:9091',
      '192.168.1.20:9092',
      '192.168.1.21:9092',
      '192.168.1.22:9092',
    ]);
    expect(iotdb(inv, 'grafana')).toMatchObject({
      node_type: 'grafana',
      home: '/home/data/grafana/grafana_iotdb',
      start_order: 7,
      cli: null,
      properties: null,
      grafana: { tar_name: 'grafana-10.0.3.linux-amd64.tar.gz', dashboards: [], prometheus_url: 'http://192.168.1.30:9090' },
    });
  });

  // The samples name archives on the user's machine; loaded as shipped, the
  // adapter says which ones are missing, at their lines, and nothing else.
  test('loaded as shipped, a sample reports exactly its missing local archives', () => {
    const file = sample('3c3d-grafana-prometheus.yaml');
    const found = problems(() => loadInventory(file));
    expect(found.map((p) => p.split('\n')[0])).toEqual([
      `${file}:15:18: iotdb_zip_dir in global names /home/data/apache-iotdb-1.3.0-all-bin.zip, which does not exist`,
      `${file}:75:20: grafana_tar_dir in grafana_server names /home/data/grafana-10.0.3.linux-amd64.tar.gz, which does not exist`,
      `${file}:83:23: prometheus_tar_dir in prometheus_server names /home/data/prometheus-2.45.0.linux-amd64.tar.gz, which does not exist`,
    ]);
    expect(problems(() => loadInventory(sample('1c1d.yaml')))).toHaveLength(1);
    expect(problems(() => loadInventory(sample('3c3d.yaml')))).toHaveLength(1);
  });

  test('the lab variants aim at runbook lab hosts with the lab key, known_hosts and package', () => {
    const one = loadInventory(withArchives('lab-1c1d.yaml').path);
    const cn = one.hosts.get('confignode_1')!;
    expect(cn).toMatchObject({ address: '198.19.0.11', port: 22, user: 'root', knownHostsFile: '/root/.runbook/lab/default/known_hosts' });
    expect(cn.auth.privateKeyFile).toBe('/root/.runbook/lab/default/id_ed25519');
    expect(iotdb(one, 'confignode_1').home).toBe('/opt/iotdb/confignode');
    expect(iotdb(one, 'datanode_1').home).toBe('/opt/iotdb/datanode');
    expect(iotdb(one, 'datanode_1').zip_name).toBe('apache-iotdb-1.3.0-all-bin.zip');

    const three = loadInventory(withArchives('lab-3c3d.yaml').path);
    expect([...three.hosts.values()].map((h) => h.address)).toEqual(['198.19.0.11', '198.19.0.12', '198.19.0.13', '198.19.0.11', '198.19.0.12', '198.19.0.13']);
    expect(iotdb(three, 'datanode_3').clean_dirs).toEqual([
      '/opt/iotdb/datanode/data',
      '/data/datanode/data',
      '/data/datanode/consensus',
      '/data/datanode/system',
      '/data/datanode/wal',
      '/opt/iotdb/datanode/logs',
      '/opt/iotdb/datanode/ext',
    ]);
    expect(iotdb(three, 'confignode_2').properties).toMatchObject({ cn_seed_config_node: '198.19.0.11:10710', cn_system_dir: '/data/confignode/system' });
    expect(iotdb(three, 'confignode_2').properties).not.toHaveProperty('dn_data_dirs');
  });
});

describe('precedence and defaults', () => {
  const load = (): Inventory => {
    withEnv({ RUNBOOK_TEST_IOTDB_SSH_PASSWORD: 'ssh-pw-Qm27' });
    return loadInventory(fixture('precedence.yaml'));
  };

  test('a server\'s value wins over global: ssh, folders, JDK, env.sh', () => {
    const inv = load();
    const [a, b] = [inv.hosts.get('cn_a')!, inv.hosts.get('cn_b')!];
    expect(a).toMatchObject({ user: 'deploy', port: 2222, knownHostsFile: fixture('known_hosts') });
    expect(b).toMatchObject({ user: 'admin', port: 22 });
    // ssh: agent: false is the runbook extension block, applying to every node.
    expect(a.auth.agent).toBeUndefined();
    expect(iotdb(inv, 'cn_a')).toMatchObject({
      deploy_dir: '/opt/iotdb',
      dir_name: 'iotdb-1.3.0',
      home: '/opt/iotdb/iotdb-1.3.0',
      jdk: { tar: null, deploy_dir: '/opt/java', dir_name: 'jdk_iotdb', home: '/opt/java/jdk_iotdb' },
      env: { file: 'confignode-env.sh', extra_opts: 'IOTDB_JMX_OPTS="$IOTDB_JMX_OPTS -Xmx1g"\n' },
    });
    expect(iotdb(inv, 'cn_b')).toMatchObject({
      deploy_dir: '/srv/iotdb',
      dir_name: 'cn',
      home: '/srv/iotdb/cn',
      jdk: { dir_name: 'jdk17', home: '/opt/java/jdk17' },
      env: { extra_opts: 'IOTDB_JMX_OPTS="$IOTDB_JMX_OPTS -Xmx4g"' },
    });
    // `datanode-env.sh:` with nothing under it leaves the global block in force.
    expect(iotdb(inv, 'dn_b').env!.extra_opts).toBe('IOTDB_JMX_OPTS="$IOTDB_JMX_OPTS -Xmx2g"\n');
  });

  test('properties: global < server properties < server keys; each node gets common keys and its own kind only', () => {
    const inv = load();
    expect(iotdb(inv, 'cn_a').properties).toEqual({
      cluster_name: 'prodCluster',
      query_timeout_threshold: '60000',
      cn_metric_level: 'IMPORTANT',
      cn_consensus_port: '10721',
      cn_internal_address: '10.0.0.1',
      cn_internal_port: '10710',
      cn_seed_config_node: '10.0.0.1:10710',
    });
    // null in a server's properties drops the global value.
    expect(iotdb(inv, 'cn_b').properties).toEqual({
      cluster_name: 'prodCluster',
      query_timeout_threshold: '30000',
      cn_consensus_port: '10721',
      cn_system_dir: '/data/cn_b/system',
      cn_internal_address: '10.0.0.2',
      cn_internal_port: '10711',
      cn_seed_config_node: '10.0.0.1:10710',
    });
    const dnA = iotdb(inv, 'dn_a').properties!;
    expect(dnA).toMatchObject({ dn_rpc_port: '6669', dn_data_dirs: 'data/d1,/mnt/d2', flush_proportion: '0.40', enable_auto_create_schema: 'true' });
    expect(Object.keys(dnA).some((k) => k.startsWith('cn_'))).toBe(false);
    expect(iotdb(inv, 'dn_b').properties!.dn_rpc_port).toBe('6670');
    for (const h of inv.hosts.keys()) for (const v of Object.values(iotdb(inv, h).properties!)) expect(typeof v).toBe('string');
  });

  test('defaults: folder names, ports, seeds, cluster name, credentials, order', () => {
    const inv = load();
    const dn = iotdb(inv, 'dn_b');
    expect(dn).toMatchObject({
      cluster_name: 'prodCluster',
      ports: [6670, 10730, 10740, 10750, 10760],
      endpoint: '10.0.0.4:6670',
      is_seed: false,
      start_order: 3,
      cli: { host: '10.0.0.4', port: 6670, user: 'root' },
    });
    expect(dn.properties).toMatchObject({ dn_internal_port: '10730', dn_mpp_data_exchange_port: '10740', dn_data_region_consensus_port: '10750', dn_schema_region_consensus_port: '10760', dn_seed_config_node: '10.0.0.1:10710' });
    // A ConfigNode's CLI goes through the first DataNode.
    expect(iotdb(inv, 'cn_b').cli).toMatchObject({ host: '10.0.0.3', port: 6669 });
    expect(dn.cli!.password).toBeInstanceOf(Secret);
    expect(dn.cli!.password.reveal()).toBe('root');

    const dir = tempFiles({ 'iotdb.zip': '', 't.yaml': minimal('') });
    const plain = loadInventory(join(dir, 't.yaml'));
    expect(iotdb(plain, 'cn')).toMatchObject({ dir_name: 'iotdb', home: '/opt/iotdb/iotdb', jdk: null, lib_dir: null, cluster_name: 'defaultCluster', ports: [10710, 10720] });
    expect(plain.vars.iotdb_cluster).toMatchObject({ name: 'defaultCluster', replication: { schema: 1, data: 1 } });
  });

  test('the seed is the ConfigNode that points at itself, and starts first', () => {
    const inv = loadInventory(fixture('seed-second.yaml'));
    expect(groups(inv).confignodes).toEqual(['confignode_2', 'confignode_1', 'confignode_3']);
    expect(groups(inv).seed).toEqual(['confignode_2']);
    expect(iotdb(inv, 'confignode_2')).toMatchObject({ is_seed: true, start_order: 0 });
    expect(iotdb(inv, 'confignode_3').properties!.cn_seed_config_node).toBe('10.0.0.1:10710');
    expect((inv.vars.iotdb_cluster as IotdbClusterVars).seed).toBe('confignode_2');
    // A DataNode listening on 0.0.0.0 is reached at its machine's address, and locally as 127.0.0.1.
    expect(iotdb(inv, 'datanode_1')).toMatchObject({ endpoint: '10.0.0.1:6667', cli: { host: '127.0.0.1', port: 6667 } });
    expect(iotdb(inv, 'confignode_3').cli).toMatchObject({ host: '10.0.0.1', port: 6667 });
  });

  test('ssh password wins over pkey, which is then reported as unused; without a password pkey is used', () => {
    withEnv({ RUNBOOK_TEST_IOTDB_SSH_PASSWORD: 'ssh-pw-Qm27' });
    const dir = tempFiles({
      'iotdb.zip': '',
      'both.yaml': minimal('  password: { env: RUNBOOK_TEST_IOTDB_SSH_PASSWORD }\n  pkey: ./id_key\n'),
      'key.yaml': minimal('  pkey: ./id_key\n'),
    });
    const both = loadInventory(join(dir, 'both.yaml'));
    expect(both.hosts.get('cn')!.auth.password!.reveal()).toBe('ssh-pw-Qm27');
    expect(both.hosts.get('cn')!.auth.privateKeyFile).toBeUndefined();
    expect(both.warnings).toEqual([
      expect.objectContaining({ message: 'pkey is not used because a password is set', location: expect.objectContaining({ line: 7, col: 9 }) }),
    ]);
    const key = loadInventory(join(dir, 'key.yaml'));
    expect(key.hosts.get('dn')!.auth).toMatchObject({ privateKeyFile: join(dir, 'id_key') });
    expect(key.hosts.get('dn')!.auth.password).toBeUndefined();
  });

  test('folders: relative ones start at the installation, several data dirs, nested ones folded', () => {
    const inv = load();
    const dnA = iotdb(inv, 'dn_a');
    expect(dnA.clean_dirs).toEqual(['/opt/iotdb/iotdb-1.3.0/data', '/mnt/d2', '/opt/iotdb/iotdb-1.3.0/logs', '/opt/iotdb/iotdb-1.3.0/ext']);
    expect(dnA.destroy_dirs).toEqual(['/mnt/d2', '/opt/iotdb/iotdb-1.3.0']);
    expect(iotdb(inv, 'cn_b').clean_dirs).toEqual(['/srv/iotdb/cn/data', '/data/cn_b/system', '/srv/iotdb/cn/logs', '/srv/iotdb/cn/ext']);
  });

  test('iotdb_download_url alone: no local zip, names taken from the URL; jdk_tar_dir uploads a JDK', () => {
    const dir = tempFiles({
      'jdk.tar.gz': '',
      't.yaml': minimal('  jdk_tar_dir: ./jdk.tar.gz\n  jdk_deploy_dir: /opt/java\n', 'iotdb_download_url: https://archive.apache.org/dist/iotdb/1.3.0/apache-iotdb-1.3.0-all-bin.zip'),
    });
    const vars = iotdb(loadInventory(join(dir, 't.yaml')), 'dn');
    expect(vars).toMatchObject({
      zip: null,
      zip_name: 'apache-iotdb-1.3.0-all-bin.zip',
      top_dir: 'apache-iotdb-1.3.0-all-bin',
      download_url: 'https://archive.apache.org/dist/iotdb/1.3.0/apache-iotdb-1.3.0-all-bin.zip',
      jdk: { tar: join(dir, 'jdk.tar.gz'), deploy_dir: '/opt/java', dir_name: 'jdk_iotdb', home: '/opt/java/jdk_iotdb' },
    });
  });
});

describe('selecting nodes as iotdbctl -N does', () => {
  test('by name, by ip:port (DataNode rpc, ConfigNode internal), by group', () => {
    const inv = loadInventory(withArchives('1c1d.yaml').path);
    expect(selectHosts(inv, '192.168.1.5:6667')).toEqual(['datanode_1']);
    expect(selectHosts(inv, '192.168.1.5:10710')).toEqual(['confignode_1']);
    expect(selectHosts(inv, 'datanode_1')).toEqual(['datanode_1']);
    expect(selectHosts(inv, '192.168.1.5')).toEqual(['confignode_1', 'datanode_1']);
    const three = loadInventory(withArchives('3c3d.yaml').path);
    expect(selectHosts(three, 'confignodes,!seed')).toEqual(['confignode_2', 'confignode_3']);
    expect(selectHosts(three, 'iotdb')).toHaveLength(6);
    expect(selectHosts(three, '192.168.1.21:6667')).toEqual(['datanode_2']);
  });

  test('an ip:port that is no node names the close ones', () => {
    const inv = loadInventory(withArchives('3c3d.yaml').path);
    // The wording of the hint is select.ts's; what matters here is that the aliases are its candidates.
    const hint = inputError(() => selectHosts(inv, '192.168.1.21:6668')).hint ?? '';
    expect(hint).toContain('"192.168.1.21:6667"');
  });
});

describe('validation before any host is touched', () => {
  test('unknown keys, with "did you mean" and where they belong', () => {
    const file = fixture('unknown-keys.yaml');
    expect(problems(() => loadInventory(file))).toEqual([
      `${file}:5:3: unknown key "iotdb_zip_dri" in global\n  5 |   iotdb_zip_dri: ./apache-iotdb-1.3.0-all-bin.zip\n        ^\nhint: did you mean "iotdb_zip_dir"?`,
      `${file}:8:5: unknown key "extra_opt" in global datanode-env.sh\n  8 |     extra_opt: -Xmx1g\n          ^\nhint: did you mean "extra_opts"?`,
      `${file}:12:5: unknown key "cn_internal_prot" in confignode_servers[0] (confignode_1)\n  12 |     cn_internal_prot: 10711\n           ^\nhint: did you mean "cn_internal_port"?`,
      `${file}:13:5: unknown key "iotdb-common.properties" in confignode_servers[0] (confignode_1)\n  13 |     iotdb-common.properties:\n           ^\nhint: IoTDB 1.3 reads one file, iotdb-system.properties; move these settings under "iotdb-system.properties"`,
      `${file}:19:5: unknown key "dn_mpp_data_exchange_port" in datanode_servers[0] (datanode_1)\n  19 |     dn_mpp_data_exchange_port: 10741\n           ^\nhint: IoTDB settings go under "iotdb-system.properties": write dn_mpp_data_exchange_port there`,
      `${file}:20:5: unknown key "iotdb_zip_dir" in datanode_servers[0] (datanode_1)\n  20 |     iotdb_zip_dir: ./apache-iotdb-1.3.0-all-bin.zip\n           ^\nhint: iotdb_zip_dir belongs under global`,
      `${file}:21:1: unknown key "prometheus_servers" in the IoTDB topology\n  21 | prometheus_servers:\n       ^\nhint: did you mean "prometheus_server"?`,
    ]);
  });

  test('required keys of the document\'s tables, and no archive to install', () => {
    const file = fixture('missing.yaml');
    const firstLines = problems(() => loadInventory(file)).map((p) => p.split('\n')[0]);
    expect(firstLines).toEqual([
      `${file}:1:1: neither iotdb_zip_dir nor iotdb_download_url is set: there is no IoTDB to install`,
      `${file}:1:1: user is not set: global has none, and neither has any server`,
      `${file}:1:1: ssh_port is not set: global has none, and neither has any server`,
      `${file}:4:5: confignode_servers[0] (confignode_1) has no cn_internal_address`,
      `${file}:6:5: confignode_servers[1] has no name`,
      `${file}:8:5: datanode_servers[0] (datanode_1) has no dn_internal_address`,
      `${file}:9:17: deploy_dir in datanode_servers[0] (datanode_1) must be an absolute path on the machine, not "iotdb"`,
      `${file}:11:1: grafana_server has no deploy_dir`,
      `${file}:11:1: grafana_server has no grafana_tar_dir`,
    ]);
    const none = fixture('no-archive.yaml');
    expect(problems(() => loadInventory(none))).toEqual([
      `${none}:1:1: neither iotdb_zip_dir nor iotdb_download_url is set: there is no IoTDB to install\n  1 | global:\n      ^\nhint: set iotdb_zip_dir to the local apache-iotdb-<version>-all-bin.zip, or iotdb_download_url`,
    ]);
  });

  test('wrong types: ports, folder names, property values, sections, unreachable addresses', () => {
    const file = fixture('types.yaml');
    expect(problems(() => loadInventory(file)).map((p) => p.split('\n')[0])).toEqual([
      `${file}:4:13: ssh_port in global must be a port number from 1 to 65535, not "twenty-two"`,
      `${file}:7:19: iotdb_dir_name in global must be the name of one folder, not "a/b"`,
      `${file}:9:19: cluster_name in global iotdb-system.properties must be a single value, not a mapping`,
      `${file}:11:3: confignode_servers must be a list of nodes (each starting with "- name:"), not a mapping`,
      `${file}:15:26: dn_internal_address of datanode_1 must be an address other nodes can reach, not "0.0.0.0"`,
      `${file}:16:18: dn_rpc_port of datanode_1 must be a port number from 1 to 65535, not "70000"`,
    ]);
  });

  test('node names are unique and do not hide a group', () => {
    const file = fixture('names.yaml');
    expect(problems(() => loadInventory(file))).toEqual([
      `${file}:7:11: node name "seed" is the name of a group runbook makes\n  7 |   - name: seed\n                ^\nhint: reserved: confignodes, datanodes, iotdb, seed, grafana, prometheus; rename the node, e.g. confignode_1`,
      `${file}:13:11: node name "datanode_1" is used twice\n  13 |   - name: datanode_1\n                 ^\nhint: datanode_servers[0] (datanode_1) at line 10 has it too; names select nodes (-N), so each must be unique`,
    ]);
  });

  test('two nodes on one machine cannot listen on one port', () => {
    const file = fixture('ports.yaml');
    expect(problems(() => loadInventory(file))).toEqual([
      `${file}:12:11: port 6667 on 10.0.0.1 is taken twice: datanode_1's dn_rpc_port (the default) and confignode_1's cn_consensus_port\n  12 |   - name: datanode_1\n                 ^\nhint: confignode_1 sets it at line 10; nodes on one machine need their own ports: set dn_rpc_port of datanode_1 to another port, e.g. 6669`,
      `${file}:16:11: ports 10730, 10740, 10750, 10760 on 10.0.0.1 are taken twice: datanode_2 (by default) and datanode_1 both listen on them\n  16 |   - name: datanode_2\n                 ^\nhint: nodes on one machine need their own ports: under iotdb-system.properties of datanode_2 set dn_internal_port: 10731, dn_mpp_data_exchange_port: 10741, dn_data_region_consensus_port: 10751, dn_schema_region_consensus_port: 10761`,
    ]);
  });

  test('folders on one machine belong to one node (a ConfigNode and a DataNode may share an installation)', () => {
    const file = fixture('dirs.yaml');
    expect(problems(() => loadInventory(file))).toEqual([
      `${file}:9:11: confignode_2 (deploy_dir) and confignode_1 (deploy_dir) both use /opt/iotdb/iotdb on 10.0.0.1\n  9 |   - name: confignode_2\n                ^\nhint: each node on a machine needs its own installation (only one ConfigNode and one DataNode may share one): set a different deploy_dir or iotdb_dir_name`,
      `${file}:30:21: datanode_2 (dn_data_dirs) and datanode_1 (dn_data_dirs) use /data/iotdb/dn2 and /data/iotdb, one inside the other on 10.0.0.1\n  30 |       dn_data_dirs: /data/iotdb/dn2,/data2/iotdb\n                           ^\nhint: clean and destroy of one node would delete the other's data: give each node its own folders`,
    ]);
  });

  test('a shared installation needs one set of common settings; system folders are never cleaned', () => {
    const file = fixture('shared-conflict.yaml');
    expect(problems(() => loadInventory(file))).toEqual([
      `${file}:17:28: timestamp_precision is "us" for datanode_1 but "ms" for confignode_1, which share /opt/iotdb/iotdb/conf/iotdb-system.properties\n  17 |       timestamp_precision: us\n                                  ^\nhint: nodes installed in one folder read one properties file: give them the same value, or separate installations (deploy_dir / iotdb_dir_name)`,
      `${file}:18:20: dn_wal_dirs of datanode_1 is /: clean would delete it\n  18 |       dn_wal_dirs: /\n                          ^\nhint: give IoTDB a folder of its own, e.g. /data/iotdb`,
    ]);
  });

  test('seed addresses must be configured ConfigNodes, and only one ConfigNode may be the seed', () => {
    const file = fixture('seeds.yaml');
    expect(problems(() => loadInventory(file))).toEqual([
      `${file}:6:24: dn_seed_config_node in global is "10.0.0.9:10710", which is not the cn_internal_address:cn_internal_port of any ConfigNode in this topology\n  6 |   dn_seed_config_node: "10.0.0.9:10710"\n                             ^\nhint: did you mean "10.0.0.1:10710" (confignode_1)?`,
      `${file}:12:26: cn_seed_config_node of confignode_2 is "10.0.0.1:10701", which is not the cn_internal_address:cn_internal_port of any ConfigNode in this topology\n  12 |     cn_seed_config_node: "10.0.0.1:10701"\n                                ^\nhint: did you mean "10.0.0.1:10710" (confignode_1)?`,
      `${file}:15:26: confignode_3 also points cn_seed_config_node at itself; only one ConfigNode (the seed, here confignode_1) may start a new cluster\n  15 |     cn_seed_config_node: "10.0.0.3:10710"\n                                ^\nhint: point it at the seed: 10.0.0.1:10710`,
    ]);
  });

  test('replication needs as many DataNodes; cluster-wide settings agree; settings sit on the right kind of node', () => {
    const file = fixture('cluster.yaml');
    expect(problems(() => loadInventory(file))).toEqual([
      `${file}:7:32: schema_replication_factor is 3, but the topology has 1 DataNode\n  7 |     schema_replication_factor: 3\n                                     ^\nhint: IoTDB serves only with at least as many DataNodes as replicas: add DataNodes or lower schema_replication_factor to 1`,
      `${file}:17:21: cluster_name of datanode_1 is "other" but "defaultCluster" for the rest of the cluster\n  17 |       cluster_name: other\n                           ^\nhint: IoTDB nodes refuse to start when cluster-wide settings differ; set it once under global iotdb-system.properties`,
      `${file}:18:25: cn_internal_port is a ConfigNode setting, but datanode_1 is a DataNode\n  18 |       cn_internal_port: 10711\n                               ^\nhint: move it to a confignode_servers entry or to global`,
    ]);
  });

  test('local files must exist; relative paths start at the topology file', () => {
    const file = fixture('files.yaml');
    const dir = fixture('');
    expect(problems(() => loadInventory(file)).map((p) => p.split('\n')[0])).toEqual([
      `${file}:5:18: iotdb_zip_dir in global names ./no-such-iotdb.zip (${dir}no-such-iotdb.zip), which does not exist`,
      `${file}:6:16: jdk_tar_dir in global names ./no-such-jdk.tar.gz (${dir}no-such-jdk.tar.gz), which does not exist`,
      `${file}:6:16: jdk_tar_dir is set but jdk_deploy_dir is not: runbook would not know where to unpack the JDK`,
      `${file}:7:18: iotdb_lib_dir in global names ./no-such-lib (${dir}no-such-lib), which does not exist`,
    ]);
  });

  test('a setting given both on the server and in its properties must agree', () => {
    const dir = tempFiles({
      'iotdb.zip': '',
      't.yaml': minimal('').replace('    cn_internal_address: 10.0.0.1\n', '    cn_internal_address: 10.0.0.1\n    cn_internal_port: 10711\n    iotdb-system.properties:\n      cn_internal_port: 10712\n      cn_consensus_port: 10720\n'),
    });
    const file = join(dir, 't.yaml');
    expect(problems(() => loadInventory(file))).toEqual([
      `${file}:11:25: cn_internal_port of cn is set twice: "10711" at line 9 and "10712" here\n  11 |       cn_internal_port: 10712\n                               ^\nhint: keep one of them`,
    ]);
  });

  test('all problems come in one InputErrors', () => {
    const err = inputError(() => loadInventory(fixture('seeds.yaml')));
    expect(err).toBeInstanceOf(InputErrors);
    expect(err.format().endsWith('3 problems found before connecting to any host; nothing was touched.')).toBe(true);
  });
});

describe('secrets', () => {
  test('an ssh password from the environment and an admin password never appear in JSON', () => {
    withEnv({ RUNBOOK_TEST_IOTDB_SSH_PASSWORD: 'ssh-pw-Qm27' });
    const dir = tempFiles({
      'iotdb.zip': '',
      't.yaml': minimal('  password: { env: RUNBOOK_TEST_IOTDB_SSH_PASSWORD }\n  iotdb-system.properties:\n    admin_password: admin-pw-Lk55\n'),
    });
    const inv = loadInventory(join(dir, 't.yaml'));
    const cli = iotdb(inv, 'cn').cli!;
    expect(cli.password.reveal()).toBe('admin-pw-Lk55');
    expect(inv.hosts.get('cn')!.auth.password!.origin).toBe('env:RUNBOOK_TEST_IOTDB_SSH_PASSWORD');
    const json = JSON.stringify(inv);
    expect(json).not.toContain('ssh-pw-Qm27');
    expect(json).not.toContain('admin-pw-Lk55');
    expect(json).toContain('"user":"root"');
  });

  test('IoTDB\'s default root password is a Secret that does not mask every "root"', () => {
    const dir = tempFiles({ 'iotdb.zip': '', 't.yaml': minimal('') });
    const cli = iotdb(loadInventory(join(dir, 't.yaml')), 'dn').cli!;
    expect(cli.password.reveal()).toBe('root');
    expect(String(cli.password)).toBe('********');
    expect(secretMasker.mask('ssh root@host /root/x')).toBe('ssh root@host /root/x');
  });

  test('an unset environment variable is an error at its line', () => {
    const dir = tempFiles({ 'iotdb.zip': '', 't.yaml': minimal('  password: { env: RUNBOOK_TEST_IOTDB_NEVER_SET }\n') });
    expect(problems(() => loadInventory(join(dir, 't.yaml')))[0]!.split('\n')[0]).toBe(
      `${join(dir, 't.yaml')}:6:20: environment variable RUNBOOK_TEST_IOTDB_NEVER_SET is not set (global password reads it)`,
    );
  });
});

describe('registration', () => {
  test('registerBuiltinProducts adds the IoTDB adapter, which recognises an iotdbctl file by its keys', () => {
    expect(registeredAdapters().map((a) => a.product)).toContain('iotdb');
    const adapter = registeredAdapters().find((a) => a.product === 'iotdb')!;
    expect(adapter.recognises({ global: {}, confignode_servers: [] })).toBe(true);
    expect(adapter.recognises({ datanode_servers: [] })).toBe(true);
    expect(adapter.recognises({ hosts: {} })).toBe(false);
  });
});

/** A small valid topology on two machines; `extra` goes into global, `archive` replaces the local zip line. */
function minimal(extra: string, archive = 'iotdb_zip_dir: ./iotdb.zip'): string {
  return [
    'global:',
    '  user: root',
    '  ssh_port: 22',
    '  deploy_dir: /opt/iotdb',
    `  ${archive}`,
    extra.trimEnd(),
    'confignode_servers:',
    '  - name: cn',
    '    cn_internal_address: 10.0.0.1',
    'datanode_servers:',
    '  - name: dn',
    '    dn_rpc_address: 10.0.0.2',
    '    dn_internal_address: 10.0.0.2',
    '',
  ]
    .filter((l, i, all) => l !== '' || i === all.length - 1)
    .join('\n');
}
