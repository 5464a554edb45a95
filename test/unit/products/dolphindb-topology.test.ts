// The DolphinDB topology adapter: the shipped inventories load into the
// hosts, groups and vars of the DolphinDB contract; the terse form gets the
// document's defaults; every rule of the multi-server document that can be
// checked before touching a host is reported at its yaml line with a hint,
// all together; and the templates render the document's own files.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadInventory } from '../../../engine/inventory/load.js';
import { selectHosts } from '../../../engine/inventory/select.js';
import type { Inventory } from '../../../engine/inventory/types.js';
import type { DolphindbHostVars } from '../../../engine/products/dolphindb/topology.js';
import { registerBuiltinProducts } from '../../../engine/products/index.js';
import { Secret } from '../../../engine/secret.js';
import { renderString } from '../../../engine/template.js';
import { problems, tempFiles, withEnv } from '../inventory/helpers.js';

const ZIP = 'DolphinDB_Linux64_V2.00.11.3.zip';
const sample = (name: string): string => fileURLToPath(new URL(`../../../inventories/${name}`, import.meta.url));
const template = (name: string): string => readFileSync(fileURLToPath(new URL(`../../../templates/dolphindb/${name}`, import.meta.url)), 'utf8');
const vars = (inv: Inventory, host: string): DolphindbHostVars => inv.hosts.get(host)!.vars.dolphindb as DolphindbHostVars;
const groups = (inv: Inventory): Record<string, string[]> => Object.fromEntries([...inv.groups.values()].map((g) => [g.name, g.hosts]));
const render = (inv: Inventory, host: string, name: string): string => renderString(template(name), inv.hosts.get(host)!.vars);
/** The inventory's warnings but the missing-license one (the terse examples leave the license out). */
const warnings = (inv: Inventory): string[] => (inv.warnings ?? []).map((w) => w.message).filter((m) => !m.includes('no cluster.license'));
/** A rendered file without runbook's `#` comment lines (the document's files have none). */
const body = (text: string): string =>
  text
    .split('\n')
    .filter((l) => !l.startsWith('# '))
    .join('\n');

/** The document's 3-server inventory with its zip and license beside it in a temp folder. */
function shipped(): { path: string; dir: string } {
  const dir = tempFiles({ [ZIP]: '', 'dolphindb.lic': 'license' });
  const path = join(dir, 'dolphindb-3servers.yaml');
  writeFileSync(path, readFileSync(sample('dolphindb-3servers.yaml'), 'utf8'));
  return { path, dir };
}

/** A topology written here: the cluster header (with a real zip) plus the given yaml. */
function topology(body: string, cluster = ''): string {
  const dir = tempFiles({ [ZIP]: '' });
  const path = join(dir, 'topology.yaml');
  writeFileSync(path, `product: dolphindb\ncluster:\n  package: ./${ZIP}\n${cluster}${body}`);
  return path;
}

/** The document's example in the terse form (lines 4-10 of the file). */
const TERSE = `servers:
  P1: 10.0.0.80
  P2: 10.0.0.81
  P3: 10.0.0.82
controller: { server: P1, port: 8900 }
nodes:
  - { server: P1, port: 8902 }
  - { server: P2, port: 8902 }
  - { server: P3, port: 8902, mode: computenode }
`;

beforeAll(() => registerBuiltinProducts());

describe('the shipped inventories', () => {
  test("the document's three servers: hosts, groups and the contract's vars", () => {
    const { path, dir } = shipped();
    const inv = loadInventory(path);
    expect(inv.product).toBe('dolphindb');
    expect(inv.warnings).toBeUndefined();
    expect([...inv.hosts.keys()]).toEqual(['P1', 'P2', 'P3']);
    expect(groups(inv)).toEqual({
      controller: ['P1'],
      agents: ['P1', 'P2', 'P3'],
      datanodes: ['P1', 'P2'],
      computenodes: ['P3'],
      dolphindb: ['P1', 'P2', 'P3'],
    });
    expect(inv.hosts.get('P1')).toMatchObject({ address: '10.0.0.80', user: 'root', aliases: ['controller8900', 'P1-agent', 'P1-datanode', '10.0.0.80'] });

    const p1 = vars(inv, 'P1');
    expect(p1).toMatchObject({
      cluster_name: 'ddbcluster',
      install_dir: '/DolphinDB',
      server_dir: '/DolphinDB/server',
      cluster_dir: '/DolphinDB/server/clusterDemo',
      config_dir: '/DolphinDB/server/clusterDemo/config',
      log_dir: '/DolphinDB/server/clusterDemo/log',
      package: join(dir, ZIP),
      package_name: ZIP,
      version: '2.00.11.3',
      license: join(dir, 'dolphindb.lic'),
      license_name: 'dolphindb.lic',
      is_controller: true,
      controller: { server: 'P1', address: '10.0.0.80', port: 8900, alias: 'controller8900', site: '10.0.0.80:8900:controller8900' },
      agent: { address: '10.0.0.80', port: 8901, alias: 'P1-agent', site: '10.0.0.80:8901:P1-agent' },
      nodes: [{ alias: 'P1-datanode', mode: 'datanode', port: 8902, site: '10.0.0.80:8902:P1-datanode' }],
      dfs_meta_dir: '/DolphinDB/server/clusterDemo/dfsMeta',
      chunk_meta_dirs: [{ alias: 'P1-datanode', dir: '/DolphinDB/server/clusterDemo/data/P1-datanode/storage' }],
      ports: [8900, 8901, 8902],
      backup_dir: '/DolphinDB/backup',
      clean_dirs: ['/DolphinDB/server/clusterDemo/data', '/DolphinDB/server/clusterDemo/log', '/DolphinDB/server/clusterDemo/dfsMeta'],
      systemd_dir: '/usr/lib/systemd/system',
    });
    expect(p1.all_nodes).toEqual([
      { alias: 'P1-datanode', mode: 'datanode', server: 'P1', site: '10.0.0.80:8902:P1-datanode' },
      { alias: 'P2-datanode', mode: 'datanode', server: 'P2', site: '10.0.0.81:8902:P2-datanode' },
      { alias: 'P3-computenode', mode: 'computenode', server: 'P3', site: '10.0.0.82:8902:P3-computenode' },
    ]);
    // The controller endpoint and the document's admin login, the password a Secret.
    expect(p1.cli).toMatchObject({ host: '10.0.0.80', port: 8900, user: 'admin' });
    expect(p1.cli.password).toBeInstanceOf(Secret);
    expect(p1.cli.password.reveal()).toBe('123456');

    const p3 = vars(inv, 'P3');
    expect(p3).toMatchObject({ is_controller: false, dfs_meta_dir: null, chunk_meta_dirs: [], controller_cfg: null, ports: [8901, 8902] });
    expect(p3.nodes).toEqual([{ alias: 'P3-computenode', mode: 'computenode', port: 8902, site: '10.0.0.82:8902:P3-computenode' }]);
    expect(p3.clean_dirs).toEqual(['/DolphinDB/server/clusterDemo/data', '/DolphinDB/server/clusterDemo/log']);

    // -N takes a server's name, address, or any DolphinDB alias on it.
    expect(selectHosts(inv, 'P2-datanode')).toEqual(['P2']);
    expect(selectHosts(inv, 'controller8900')).toEqual(['P1']);
    expect(selectHosts(inv, '10.0.0.82')).toEqual(['P3']);
  });

  test('the lab inventory: /opt, private systemd folder, the lab package and license', () => {
    const dir = tempFiles({ [ZIP]: '', 'dolphindb-enterprise.lic': 'x' });
    const path = join(dir, 'lab.yaml');
    writeFileSync(path, readFileSync(sample('dolphindb-lab.yaml'), 'utf8').replace(/~\/\.runbook\/lab\/packages\//g, `${dir}/`));
    const inv = loadInventory(path);
    expect(inv.warnings).toBeUndefined();
    expect(inv.hosts.get('P1')).toMatchObject({ address: '198.19.0.11', user: 'root' });
    expect(inv.hosts.get('P3')!.address).toBe('198.19.0.13');
    const p2 = vars(inv, 'P2');
    expect(p2).toMatchObject({ install_dir: '/opt/DolphinDB', cluster_dir: '/opt/DolphinDB/server/clusterDemo', systemd_dir: '/data/systemd', license_name: 'dolphindb-enterprise.lic' });
    expect(p2.cli.password.reveal()).toBe('123456');
    // The public default is not registered with the masker: it would mask "123456" inside every longer number.
    expect(String(p2.cli.password)).not.toContain('123456');
  });

  test('without the zip and the license the shipped inventories fail only for that', () => {
    const found = problems(() => loadInventory(sample('dolphindb-3servers.yaml')));
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(/cluster\.package names .*DolphinDB_Linux64_V2\.00\.11\.3\.zip, which does not exist/);
    expect(found[1]).toMatch(/cluster\.license names .*dolphindb\.lic, which does not exist/);
    // The lab variant points at what `runbook lab package dolphindb` builds; once built, it loads cleanly.
    const built = ['DolphinDB_Linux64_V2.00.11.3.zip', 'dolphindb-enterprise.lic'].filter((f) => existsSync(join(process.env.HOME ?? '/root', '.runbook/lab/packages', f))).length;
    if (built === 2) expect(() => loadInventory(sample('dolphindb-lab.yaml'))).not.toThrow();
    else expect(problems(() => loadInventory(sample('dolphindb-lab.yaml')))).toHaveLength(2 - built);
  });
});

describe('the terse form', () => {
  test("the document's defaults: ports, aliases, one agent per server, /DolphinDB", () => {
    const inv = loadInventory(topology(TERSE));
    const p2 = vars(inv, 'P2');
    expect(p2).toMatchObject({
      install_dir: '/DolphinDB',
      license: null,
      license_name: null,
      cluster_name: 'dolphindb',
      agent: { alias: 'P2-agent', port: 8901, site: '10.0.0.81:8901:P2-agent' },
    });
    expect(p2.controller.site).toBe('10.0.0.80:8900:controller8900');
    expect(p2.all_agents.map((a) => a.alias)).toEqual(['P1-agent', 'P2-agent', 'P3-agent']);
    expect(p2.all_nodes.map((n) => n.alias)).toEqual(['P1-datanode', 'P2-datanode', 'P3-computenode']);
    expect(p2.agent_cfg).toEqual({ mode: 'agent', localSite: '10.0.0.81:8901:P2-agent', controllerSite: '10.0.0.80:8900:controller8900' });
    expect(vars(inv, 'P1').controller_cfg).toEqual({ mode: 'controller', localSite: '10.0.0.80:8900:controller8900' });
    expect(p2.cluster_cfg).toEqual({});
  });

  test('several nodes of one mode on a server are numbered from the second; aliases and ports may be given', () => {
    const inv = loadInventory(
      topology(`servers: { A: 10.1.1.1 }
controller: { server: A, port: 7900, alias: ctl }
agents:
  - { server: A, port: 7901, alias: a-agent }
nodes:
  - { server: A, port: 7902 }
  - { server: A, port: 7903 }
  - { server: A, port: 7904, mode: computenode }
  - { server: A, port: 7905, alias: extra }
`),
    );
    const a = vars(inv, 'A');
    expect(a.nodes.map((n) => n.alias)).toEqual(['A-datanode', 'A-datanode2', 'A-computenode', 'extra']);
    expect(a.controller).toMatchObject({ alias: 'ctl', site: '10.1.1.1:7900:ctl' });
    expect(a.agent).toMatchObject({ alias: 'a-agent', site: '10.1.1.1:7901:a-agent' });
    expect(a.ports).toEqual([7900, 7901, 7902, 7903, 7904, 7905]);
    expect(groups(inv)).toMatchObject({ datanodes: ['A'], computenodes: ['A'], agents: ['A'] });
  });

  test('the password from the environment is a Secret; a server may carry its own ssh', () => {
    withEnv({ RUNBOOK_TEST_DDB_PW: 'Ddb-s3cret' });
    const inv = loadInventory(
      topology(
        `servers:\n  P1: { address: 10.0.0.80, ssh: { port: 2222, user: ddb } }\ncontroller: { server: P1 }\nnodes:\n  - { server: P1, port: 8902 }\n`,
        '  password: { env: RUNBOOK_TEST_DDB_PW }\n  user: root2\n',
      ),
    );
    expect(inv.hosts.get('P1')).toMatchObject({ port: 2222, user: 'ddb' });
    const cli = vars(inv, 'P1').cli;
    expect(cli.user).toBe('root2');
    expect(cli.password.reveal()).toBe('Ddb-s3cret');
    expect(JSON.stringify(vars(inv, 'P1'))).not.toContain('Ddb-s3cret');
  });

  test('cluster.cfg keys pass through as written: wildcards, <ALIAS>, and each node\'s own lines', () => {
    const inv = loadInventory(
      topology(`servers: { P1: 10.0.0.80, P2: 10.0.0.81 }
controller: { server: P1 }
nodes:
  - { server: P1, port: 8902, cfg: { chunkMetaDir: /meta/P1 } }
  - { server: P2, port: 8902 }
  - { server: P2, port: 8903, mode: computenode, cfg: { subPort: 8910 } }
cluster.cfg:
  P1-%.publicName: 19.56.128.21
  "%-datanode.volumes": /VOL1/<ALIAS>,/VOL2/<ALIAS>
  persistenceDir: /hdd/hdd1/streamCache/<ALIAS>
  P2-d?tanode.maxMemSize: 16
`),
    );
    const p2 = vars(inv, 'P2');
    expect(p2.cluster_cfg).toEqual({
      'P1-%.publicName': '19.56.128.21',
      '%-datanode.volumes': '/VOL1/<ALIAS>,/VOL2/<ALIAS>',
      persistenceDir: '/hdd/hdd1/streamCache/<ALIAS>',
      'P2-d?tanode.maxMemSize': '16',
      'P1-datanode.chunkMetaDir': '/meta/P1',
      'P2-computenode.subPort': '8910',
    });
    // CHUNK_METADATA: chunkMetaDir when set, else the first volume with <ALIAS> resolved.
    expect(vars(inv, 'P1').chunk_meta_dirs).toEqual([{ alias: 'P1-datanode', dir: '/meta/P1' }]);
    expect(p2.chunk_meta_dirs).toEqual([{ alias: 'P2-datanode', dir: '/VOL1/P2-datanode' }]);
    expect(p2.ports).toEqual([8901, 8902, 8903, 8910]);
    expect(p2.clean_dirs).toEqual(['/DolphinDB/server/clusterDemo/data', '/DolphinDB/server/clusterDemo/log', '/VOL1/P2-datanode', '/VOL2/P2-datanode']);
    expect(vars(inv, 'P1').clean_dirs).toContain('/meta/P1');

    const text = body(render(inv, 'P1', 'cluster.cfg.hbs'));
    expect(text).toBe(
      [
        'P1-%.publicName=19.56.128.21',
        '%-datanode.volumes=/VOL1/<ALIAS>,/VOL2/<ALIAS>',
        'persistenceDir=/hdd/hdd1/streamCache/<ALIAS>',
        'P2-d?tanode.maxMemSize=16',
        'P1-datanode.chunkMetaDir=/meta/P1',
        'P2-computenode.subPort=8910',
        '',
      ].join('\n'),
    );
  });

  test('dfsMetaDir in controller.cfg moves the controller\'s metadata; pasted identity lines that agree are accepted', () => {
    const inv = loadInventory(
      topology(`${TERSE}controller.cfg:
  mode: controller
  localSite: 10.0.0.80:8900:controller8900
  dfsMetaDir: /ddb/meta/
agent.cfg:
  controllerSite: 10.0.0.80:8900:controller8900
`),
    );
    expect(vars(inv, 'P1').dfs_meta_dir).toBe('/ddb/meta');
    expect(vars(inv, 'P1').controller_cfg).toEqual({ mode: 'controller', localSite: '10.0.0.80:8900:controller8900', dfsMetaDir: '/ddb/meta/' });
    expect(vars(inv, 'P3').agent_cfg!.controllerSite).toBe('10.0.0.80:8900:controller8900');
  });
});

describe('checks before touching a host, each at its line with a hint', () => {
  const one = (path: string): string => {
    const found = problems(() => loadInventory(path));
    expect(found, found.join('\n\n')).toHaveLength(1);
    return found[0]!;
  };

  test('aliases are unique, case-sensitively', () => {
    const p = one(topology(`servers: { P1: 10.0.0.80 }\ncontroller: { server: P1 }\nnodes:\n  - { server: P1, port: 8902, alias: P1-agent }\n`));
    expect(p).toMatch(/:7:\d+: alias P1-agent of the datanode on P1 is already the alias of the agent on P1 \(line 4\)[\s\S]*hint: aliases name nodes in the cluster and must be unique \(case-sensitive\)/);
    // Differing only in case, they are two aliases.
    expect(() => loadInventory(topology(`servers: { P1: 10.0.0.80 }\ncontroller: { server: P1 }\nnodes:\n  - { server: P1, port: 8902, alias: node }\n  - { server: P1, port: 8903, alias: NODE }\n`))).not.toThrow();
  });

  test('an alias that cannot be written in a site or an alias.key line', () => {
    expect(one(topology(`servers: { P1: 10.0.0.80 }\ncontroller: { server: P1 }\nnodes:\n  - { server: P1, port: 8902, alias: p1.data }\n`))).toMatch(/alias "p1\.data" of the datanode on P1 cannot be used/);
  });

  test('every server with data or compute nodes has exactly one agent', () => {
    const missing = one(topology(`servers: { P1: 10.0.0.80, P2: 10.0.0.81 }\ncontroller: { server: P1 }\nagents:\n  - { server: P1 }\nnodes:\n  - { server: P2, port: 8902 }\n`));
    expect(missing).toMatch(/:9:\d+: server P2 runs P2-datanode but has no agent[\s\S]*hint: .*add "- server: P2" under agents/);
    const two = one(topology(`servers: { P1: 10.0.0.80 }\ncontroller: { server: P1 }\nagents:\n  - { server: P1 }\n  - { server: P1, port: 8909, alias: second }\nnodes:\n  - { server: P1, port: 8902 }\n`));
    expect(two).toMatch(/:8:\d+: server P1 has two agents, P1-agent and second[\s\S]*exactly one agent per server/);
  });

  test('ports are unique per server', () => {
    const p = one(topology(`servers: { P1: 10.0.0.80, P2: 10.0.0.81 }\ncontroller: { server: P1 }\nnodes:\n  - { server: P1, port: 8901 }\n  - { server: P2, port: 8900 }\n`));
    expect(p).toMatch(/:7:\d+: port 8901 on server P1 is taken twice: P1-datanode's port and P1-agent's default agent port[\s\S]*Failed to bind the socket on port 8901[\s\S]*e\.g\. 8902/);
    // A default agent's port is changed by listing the agents.
    const agent = one(topology(`servers: { P1: 10.0.0.80 }\ncontroller: { server: P1, port: 8901 }\nnodes:\n  - { server: P1, port: 8902 }\n`));
    expect(agent).toMatch(/:4:\d+: port 8901 on server P1 is taken twice: P1-agent's default agent port and controller8901's controller port[\s\S]*hint: .*list the agents to give this one another, e\.g\. agents: \[\{ server: P1, port: 8903 \}/);
  });

  test("controllerSite must equal the controller's localSite, alias included", () => {
    const p = one(topology(`${TERSE}agent.cfg:\n  controllerSite: 10.0.0.80:8900:controller\n`));
    expect(p).toMatch(/:14:19: controllerSite in agent\.cfg is 10\.0\.0\.80:8900:controller, but the controller's localSite is 10\.0\.0\.80:8900:controller8900[\s\S]*alias included/);
    const own = one(topology(`${TERSE.replace('nodes:', 'agents:\n  - { server: P1 }\n  - { server: P2 }\n  - server: P3\n    cfg: { controllerSite: "10.0.0.81:8900:controller8900" }\nnodes:')}`));
    expect(own).toMatch(/controllerSite in agent\.cfg of P3-agent is 10\.0\.0\.81:8900:controller8900/);
  });

  test('localSite and mode written by hand must agree with the topology', () => {
    const found = problems(() => loadInventory(topology(`${TERSE}controller.cfg:\n  localSite: 10.0.0.80:8900:master\n  mode: single\nagent.cfg:\n  localSite: 10.0.0.80:8901:P1-agent\n`)));
    expect(found).toHaveLength(3);
    expect(found[0]).toMatch(/localSite in controller\.cfg is 10\.0\.0\.80:8900:master, but the topology makes it 10\.0\.0\.80:8900:controller8900/);
    expect(found[1]).toMatch(/mode in controller\.cfg is single; it must be controller/);
    expect(found[2]).toMatch(/localSite in the agent\.cfg of every agent cannot be right for each of them/);
  });

  test("no <ALIAS> on a line that already names a node (the document's FAQ)", () => {
    const p = one(topology(`${TERSE}cluster.cfg:\n  P1-datanode.persistenceDir: /hdd/hdd1/streamCache/<ALIAS>\n`));
    expect(p).toMatch(/:14:\d+: cluster\.cfg line P1-datanode\.persistenceDir names node P1-datanode and uses <ALIAS>: DolphinDB does not start that node/);
    expect(p).toMatch(/hint: write the alias itself \(\/hdd\/hdd1\/streamCache\/P1-datanode\), or drop the "P1-datanode\." prefix/);
    const own = one(topology(TERSE.replace('{ server: P2, port: 8902 }', '{ server: P2, port: 8902, cfg: { volumes: /VOL1/<ALIAS> } }')));
    expect(own).toMatch(/volumes of P2-datanode uses <ALIAS>, which DolphinDB does not allow on a line that names the node/);
    // With a wildcard or for every node it is what the macro is for.
    expect(() => loadInventory(topology(`${TERSE}cluster.cfg:\n  "%-datanode.volumes": /VOL1/<ALIAS>\n  persistenceDir: /p/<ALIAS>\n`))).not.toThrow();
  });

  test('a cluster.cfg line naming no data or compute node', () => {
    expect(one(topology(`${TERSE}cluster.cfg:\n  P1-datnode.volumes: /VOL1\n`))).toMatch(/cluster\.cfg line P1-datnode\.volumes names "P1-datnode", which is not a data or compute node[\s\S]*did you mean "P1-datanode"\?/);
    expect(one(topology(`${TERSE}cluster.cfg:\n  P2-agent.workerNum: 8\n`))).toMatch(/names an agent \(P2-agent\)[\s\S]*set agent\.cfg parameters there/);
    // A wildcard matching nothing is only a warning.
    const inv = loadInventory(topology(`${TERSE}cluster.cfg:\n  "%-dn.volumes": /VOL1/<ALIAS>\n`));
    expect(warnings(inv)).toEqual(['cluster.cfg line %-dn.volumes matches no data or compute node']);
  });

  test('volumes are absolute paths, and not system folders', () => {
    expect(one(topology(`${TERSE}cluster.cfg:\n  volumes: /VOL1/<ALIAS>,data/<ALIAS>\n`))).toMatch(/:14:\d+: cluster\.cfg line volumes: data\/<ALIAS> is not an absolute path[\s\S]*DolphinDB accepts only absolute volume paths/);
    expect(one(topology(TERSE.replace('{ server: P1, port: 8902 }', '{ server: P1, port: 8902, cfg: { volumes: /data } }')))).toMatch(/volumes of P1-datanode: \/data is a system folder, which clean would empty/);
    expect(one(topology(`${TERSE}controller.cfg:\n  dfsMetaDir: dfsMeta\n`))).toMatch(/controller\.cfg dfsMetaDir: dfsMeta is not an absolute path/);
  });

  test('two data nodes of one server cannot share a volume', () => {
    const p = one(topology(`servers: { P1: 10.0.0.80 }\ncontroller: { server: P1 }\nnodes:\n  - { server: P1, port: 8902 }\n  - { server: P1, port: 8903 }\ncluster.cfg:\n  "%-datanode%.volumes": /VOL1\n`));
    expect(p).toMatch(/data nodes P1-datanode and P1-datanode2 on P1 both use the volume \/VOL1/);
  });

  test('the install path has no spaces or non-ASCII characters', () => {
    expect(one(topology(TERSE, '  install_dir: /opt/Dolphin DB\n'))).toMatch(/:4:\d+: cluster\.install_dir "\/opt\/Dolphin DB" contains a space[\s\S]*fails to start its data nodes/);
    expect(one(topology(TERSE, '  install_dir: /opt/海豚\n'))).toMatch(/contains a non-ASCII character/);
    expect(one(topology(TERSE, '  install_dir: opt/ddb\n'))).toMatch(/install_dir must be an absolute path/);
  });

  test('lanCluster=0 is suggested when the servers may not be one LAN', () => {
    const spread = TERSE.replace('10.0.0.81', '10.0.1.81');
    const inv = loadInventory(topology(spread));
    expect(warnings(inv)).toEqual(['the servers may not be on one LAN (the addresses are in 2 different /24 networks (10.0.0.0/24, 10.0.1.0/24)), and controller.cfg and agent.cfg do not set lanCluster: 0']);
    expect(inv.warnings!.find((w) => w.message.includes('LAN'))!.hint).toMatch(/add lanCluster: 0 to controller\.cfg and agent\.cfg/);
    expect(warnings(loadInventory(topology(TERSE.replace('10.0.0.82', '19.56.128.23'))))).toEqual([expect.stringMatching(/19\.56\.128\.23 is a public address/)]);
    expect(warnings(loadInventory(topology(`${spread}controller.cfg: { lanCluster: 0 }\n`)))).toEqual([expect.stringMatching(/and agent\.cfg does not set lanCluster: 0$/)]);
    // Set in both files: nothing to suggest. One LAN: nothing either.
    expect(warnings(loadInventory(topology(`${spread}controller.cfg: { lanCluster: 0 }\nagent.cfg: { lanCluster: 0 }\n`)))).toEqual([]);
    expect(warnings(loadInventory(topology(TERSE)))).toEqual([]);
    // Each agent's own cfg counts for that agent.
    const perAgent = spread.replace('nodes:', 'agents:\n  - { server: P1, cfg: { lanCluster: 0 } }\n  - { server: P2, cfg: { lanCluster: 0 } }\n  - { server: P3 }\nnodes:');
    expect(warnings(loadInventory(topology(`${perAgent}controller.cfg: { lanCluster: 0 }\n`)))).toEqual([expect.stringMatching(/and agent\.cfg does not set lanCluster: 0$/)]);
    expect(warnings(loadInventory(topology(`${perAgent}controller.cfg: { lanCluster: 0 }\nagent.cfg: { lanCluster: 0 }\n`)))).toEqual([]);
  });

  test('more nodes than the community trial allows, without a license, is a warning', () => {
    const inv = loadInventory(topology(TERSE));
    expect(inv.warnings!.map((w) => w.message)).toEqual(["the cluster has 3 data and compute nodes, and no cluster.license: the package's community trial license allows 2"]);
    expect(inv.warnings![0]!.hint).toMatch(/set cluster\.license to the enterprise license/);
    expect(loadInventory(topology(`servers: { P1: 10.0.0.80 }\ncontroller: { server: P1 }\nnodes:\n  - { server: P1, port: 8902 }\n`)).warnings).toBeUndefined();
  });

  test('the controller and nodes name servers that exist; servers have one address each', () => {
    expect(one(topology(TERSE.replace('controller: { server: P1', 'controller: { server: p1')))).toMatch(/the controller is on server "p1", which is not under servers[\s\S]*did you mean "P1"\?/);
    expect(one(topology(TERSE.replace('P3: 10.0.0.82', 'P3: 10.0.0.81')))).toMatch(/servers P3 and P2 have one address, 10\.0\.0\.81/);
    expect(one(topology(TERSE.replace(/P3/g, 'agents')))).toMatch(/"agents" is the name of a group runbook makes/);
  });

  test('the package must be a DolphinDB zip with the version in its name', () => {
    const dir = tempFiles({ 'dolphindb.zip': '' });
    const path = join(dir, 't.yaml');
    writeFileSync(path, `product: dolphindb\ncluster:\n  package: ./dolphindb.zip\n${TERSE}`);
    expect(one(path)).toMatch(/cluster\.package must be a DolphinDB server zip named like DolphinDB_Linux64_V2\.00\.11\.3\.zip, not dolphindb\.zip/);
  });

  test('an unknown key lists the allowed ones; a missing password variable is named', () => {
    expect(one(topology(TERSE.replace('mode: computenode', 'mdoe: computenode')))).toMatch(/:12:\d+: unknown key "mdoe"[\s\S]*allowed keys: server, port, alias, mode, cfg/);
    expect(one(topology(TERSE, '  password: { env: RUNBOOK_TEST_NO_SUCH_VAR }\n'))).toMatch(/environment variable RUNBOOK_TEST_NO_SUCH_VAR is not set/);
  });

  test('a cluster needs a data node', () => {
    expect(one(topology(`servers: { P1: 10.0.0.80 }\ncontroller: { server: P1 }\nnodes:\n  - { server: P1, port: 8902, mode: computenode }\n`))).toMatch(/:6:1: the cluster has no data node[\s\S]*compute nodes store nothing/);
  });

  test('several problems are reported together, in file order, before any host is touched', () => {
    const found = problems(() =>
      loadInventory(
        topology(
          `servers: { P1: 10.0.0.80, P2: 10.0.0.81 }\ncontroller: { server: P1 }\nagents:\n  - { server: P1 }\nnodes:\n  - { server: P1, port: 8901 }\n  - { server: P2, port: 8902 }\ncluster.cfg:\n  P1-datanode.volumes: /v/<ALIAS>\n`,
          '  install_dir: /opt/d d\n',
        ),
      ),
    );
    expect(found.map((f) => /:(\d+):\d+:/.exec(f)?.[1])).toEqual(['4', '10', '11', '13']);
  });
});

describe("templates render the document's files", () => {
  test('controller.cfg, agent.cfg on every server, cluster.cfg', () => {
    const inv = loadInventory(shipped().path);
    const controller = render(inv, 'P1', 'controller.cfg.hbs');
    expect(controller).toMatch(/^# This file is generated by runbook from the template templates\/dolphindb\/controller\.cfg\.hbs\./);
    expect(body(controller)).toBe(
      'mode=controller\nlocalSite=10.0.0.80:8900:controller8900\ndfsReplicationFactor=1\ndfsReplicaReliabilityLevel=2\ndataSync=1\nworkerNum=4\nmaxConnections=512\nmaxMemSize=8\nlanCluster=0\n',
    );
    for (const [server, address] of [['P1', '10.0.0.80'], ['P2', '10.0.0.81'], ['P3', '10.0.0.82']]) {
      expect(body(render(inv, server!, 'agent.cfg.hbs'))).toBe(
        `mode=agent\nlocalSite=${address}:8901:${server}-agent\ncontrollerSite=10.0.0.80:8900:controller8900\nworkerNum=4\nmaxMemSize=4\nlanCluster=0\n`,
      );
    }
    expect(body(render(inv, 'P1', 'cluster.cfg.hbs'))).toBe(
      'maxMemSize=32\nmaxConnections=512\nworkerNum=4\nmaxBatchJobWorker=4\nchunkCacheEngineMemSize=2\nTSDBCacheEngineSize=1\nnewValuePartitionPolicy=add\nmaxPubConnections=64\nsubExecutors=4\nlanCluster=0\nenableChunkGranularityConfig=true\n',
    );
  });

  test('cluster.nodes: the header first, never a blank or comment line before it', () => {
    const inv = loadInventory(shipped().path);
    expect(render(inv, 'P1', 'cluster.nodes.hbs')).toBe(
      [
        'localSite,mode',
        '10.0.0.80:8901:P1-agent,agent',
        '10.0.0.80:8902:P1-datanode,datanode',
        '10.0.0.81:8901:P2-agent,agent',
        '10.0.0.81:8902:P2-datanode,datanode',
        '10.0.0.82:8901:P3-agent,agent',
        '10.0.0.82:8902:P3-computenode,computenode',
        '',
      ].join('\n'),
    );
  });

  test('controller.sh and agent.sh are the document\'s scripts', () => {
    const inv = loadInventory(shipped().path);
    const script = (mode: 'controller' | 'agent', command: string, gap: string): string =>
      `#!/bin/bash\n#${mode}.sh\n${gap}workDir=$PWD

start(){
    cd \${workDir} && export LD_LIBRARY_PATH=$(dirname "$workDir"):$LD_LIBRARY_PATH
    nohup ./../dolphindb ${command}
}

stop(){
    ps -o ruser=userForLongName -e -o pid,ppid,c,time,cmd |grep dolphindb|grep -v grep|grep $USER|grep ${mode}| awk '{print $2}'| xargs kill -TERM
}

case $1 in
    start)
        start
        ;;
    stop)
        stop
        ;;
    restart)
        stop
        start
        ;;
esac
`;
    expect(body(render(inv, 'P1', 'controller.sh.hbs'))).toBe(
      script(
        'controller',
        '-console 0 -mode controller -home data -script dolphindb.dos -config config/controller.cfg -logFile log/controller.log -nodesFile config/cluster.nodes -clusterConfig config/cluster.cfg > controller.nohup 2>&1 &',
        '',
      ),
    );
    expect(body(render(inv, 'P2', 'agent.sh.hbs'))).toBe(
      script('agent', '-console 0 -mode agent -home data -script dolphindb.dos -config config/agent.cfg -logFile log/agent.log  > agent.nohup 2>&1 &', '\n\n'),
    );
  });

  test('the systemd units run the scripts from the real cluster folder', () => {
    const dir = tempFiles({ [ZIP]: '', 'dolphindb-enterprise.lic': 'x' });
    const path = join(dir, 'lab.yaml');
    writeFileSync(path, readFileSync(sample('dolphindb-lab.yaml'), 'utf8').replace(/~\/\.runbook\/lab\/packages\//g, `${dir}/`));
    const inv = loadInventory(path);
    for (const unit of ['controller', 'agent']) {
      expect(body(render(inv, 'P1', `ddb${unit}.service.hbs`))).toBe(`[Unit]
Description=ddb${unit}
Documentation=https://www.dolphindb.com/

[Service]
Type=forking
WorkingDirectory=/opt/DolphinDB/server/clusterDemo
ExecStart=/bin/sh ${unit}.sh start
ExecStop=/bin/sh ${unit}.sh stop
ExecReload=/bin/sh ${unit}.sh restart
Restart=always
RestartSec=10s
LimitNOFILE=infinity
LimitNPROC=infinity
LimitCORE=infinity

[Install]
WantedBy=multi-user.target
`);
    }
  });

  test('a server without the controller cannot render controller.cfg', () => {
    const inv = loadInventory(shipped().path);
    expect(() => render(inv, 'P2', 'controller.cfg.hbs')).toThrow(/cfg/);
  });
});
