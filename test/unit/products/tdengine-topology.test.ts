// The TDengine topology adapter: the shipped inventories load into the hosts,
// groups and vars the playbooks use; every rule of the deployment document
// that can be checked before touching a host is reported at its yaml line;
// the templates render the document's taos.cfg and nginx configuration; the
// simulated taos client's tables read back through the TDengine dialect.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadInventory } from '../../../engine/inventory/load.js';
import { selectHosts } from '../../../engine/inventory/select.js';
import type { Inventory } from '../../../engine/inventory/types.js';
import { renderTable } from '../../../engine/lab/packages/tdengine/sim/cli.js';
import { splitStatements } from '../../../engine/lab/packages/sim-common/statements.js';
import { parseStatement } from '../../../engine/lab/packages/tdengine/sim/statements.js';
import { registerBuiltinProducts } from '../../../engine/products/index.js';
import type { TdengineAdapterVars, TdengineClusterVars, TdengineDnodeVars, TdengineNginxVars, TdengineServiceVars } from '../../../engine/products/tdengine/topology.js';
import { Secret } from '../../../engine/secret.js';
import { renderString } from '../../../engine/template.js';
import { parsePiped, tdengine as dialect } from '../../../modules/lib/cli-dialects.js';
import { problems, tempFiles, withEnv } from '../inventory/helpers.js';

const ARCHIVE = 'TDengine-server-3.3.2.0-Linux-x64.tar.gz';
const sample = (name: string): string => fileURLToPath(new URL(`../../../inventories/${name}`, import.meta.url));
const template = (name: string): string => readFileSync(fileURLToPath(new URL(`../../../templates/tdengine/${name}`, import.meta.url)), 'utf8');
const vars = <T>(inv: Inventory, host: string): T => inv.hosts.get(host)!.vars.tdengine as T;
const groups = (inv: Inventory): Record<string, string[]> => Object.fromEntries([...inv.groups.values()].map((g) => [g.name, g.hosts]));

/** A shipped inventory whose package path points at an (empty) archive in a temp folder. */
function withArchive(name: string): { path: string; dir: string } {
  const dir = tempFiles({ [ARCHIVE]: '' });
  const text = readFileSync(sample(name), 'utf8').replace(/^(\s*package: ).*$/m, `$1${join(dir, ARCHIVE)}`);
  const path = join(dir, name);
  writeFileSync(path, text);
  return { path, dir };
}

/** A topology written here: the cluster header (with a real archive) plus the given yaml. */
function topology(body: string, cluster = ''): string {
  const dir = tempFiles({ [ARCHIVE]: '' });
  const path = join(dir, 'topology.yaml');
  writeFileSync(path, `product: tdengine\ncluster:\n  package: ./${ARCHIVE}\n${cluster}${body}`);
  return path;
}

const THREE = `dnodes:
  - fqdn: h1.example.com
  - fqdn: h2.example.com
  - fqdn: h3.example.com
`;

beforeAll(() => registerBuiltinProducts());

describe('the shipped inventories', () => {
  test('the document\'s three-dnode cluster with adapters and nginx', () => {
    withEnv({ TDENGINE_PASSWORD: 'Td-s3cret' });
    const { path, dir } = withArchive('tdengine-3dnodes.yaml');
    const inv = loadInventory(path);
    expect(inv.product).toBe('tdengine');
    expect([...inv.hosts.keys()]).toEqual(['dnode1', 'dnode2', 'dnode3', 'adapter1', 'adapter2', 'nginx']);
    expect(groups(inv)).toEqual({
      dnodes: ['dnode1', 'dnode2', 'dnode3'],
      first_ep: ['dnode1'],
      mnodes: ['dnode1', 'dnode2', 'dnode3'],
      adapters: ['adapter1', 'adapter2'],
      keepers: [],
      explorers: [],
      tdengine: ['dnode1', 'dnode2', 'dnode3', 'adapter1', 'adapter2'],
      nginx: ['nginx'],
    });

    const d1 = vars<TdengineDnodeVars>(inv, 'dnode1');
    expect(inv.hosts.get('dnode1')).toMatchObject({ address: '172.16.214.201', user: 'root', aliases: ['h1.taosdata.com:6030', 'h1.taosdata.com', '172.16.214.201'] });
    expect(d1).toMatchObject({
      role: 'dnode',
      fqdn: 'h1.taosdata.com',
      endpoint: 'h1.taosdata.com:6030',
      is_first_ep: true,
      mnode: true,
      home: '/opt/tdengine/taos',
      cfg_dir: '/opt/tdengine/taos/cfg',
      package: join(dir, ARCHIVE),
      package_name: ARCHIVE,
      top_dir: 'TDengine-server-3.3.2.0',
      data_dir: '/var/lib/taos',
      log_file: '/var/log/taos/taosdlog.0',
      ports: [6030],
      clean_dirs: ['/var/lib/taos', '/var/log/taos'],
      destroy_dirs: ['/var/lib/taos', '/var/log/taos', '/opt/tdengine/taos', `/opt/tdengine/${ARCHIVE}`],
    });
    // taos.cfg in file order: identity, then the must-match parameters, then the rest.
    expect(Object.entries(vars<TdengineDnodeVars>(inv, 'dnode3').cfg)).toEqual([
      ['firstEp', 'h1.taosdata.com:6030'],
      ['fqdn', 'h3.taosdata.com'],
      ['serverPort', '6030'],
      ['dataDir', '/var/lib/taos'],
      ['logDir', '/var/log/taos'],
      ['statusInterval', '1'],
      ['timezone', 'Asia/Shanghai'],
      ['locale', 'en_US.UTF-8'],
      ['charset', 'UTF-8'],
      ['ttlChangeOnWrite', '0'],
      ['supportVnodes', '16'],
      ['numOfRpcThreads', '4'],
    ]);
    // Every dnode's client reaches the cluster through firstEp, with the password from the environment.
    expect(d1.cli).toMatchObject({ host: 'h1.taosdata.com', port: 6030, user: 'root' });
    expect(d1.cli.password).toBeInstanceOf(Secret);
    expect(d1.cli.password.reveal()).toBe('Td-s3cret');
    expect(d1.process_pattern).toBe('/opt/tdengine/taos/bin/taosd -c /opt/tdengine/taos/cfg( |$)');
    expect(new RegExp(d1.process_pattern).test('/opt/tdengine/taos/bin/taosd -c /opt/tdengine/taos/cfg')).toBe(true);

    expect(vars<TdengineAdapterVars>(inv, 'adapter2')).toMatchObject({
      role: 'adapter',
      endpoint: 'h2.taosdata.com:6041',
      home: '/opt/tdengine/taosadapter',
      config_file: '/opt/tdengine/taosadapter/cfg/taosadapter.toml',
      cfg: { firstEp: 'h1.taosdata.com:6030', timezone: 'Asia/Shanghai' },
    });
    expect(vars<TdengineNginxVars>(inv, 'nginx')).toMatchObject({
      role: 'nginx',
      conf_file: '/opt/tdengine-nginx/nginx.conf',
      error_log: '/var/log/nginx_error.log',
      listen: { adapter: 6041, keeper: 6043, explorer: 6060 },
      upstreams: { dbserver: ['h1.taosdata.com:6041', 'h2.taosdata.com:6041'], keeper: [], explorer: [] },
      ports: [6041],
    });
    expect(inv.vars.tdengine_cluster as TdengineClusterVars).toEqual({
      name: 'tdcluster',
      first_ep: 'h1.taosdata.com:6030',
      first_ep_host: 'dnode1',
      dnodes: ['dnode1', 'dnode2', 'dnode3'],
      endpoints: ['h1.taosdata.com:6030', 'h2.taosdata.com:6030', 'h3.taosdata.com:6030'],
      mnodes: ['dnode1', 'dnode2', 'dnode3'],
      mnode_endpoints: ['h1.taosdata.com:6030', 'h2.taosdata.com:6030', 'h3.taosdata.com:6030'],
      adapters: ['adapter1', 'adapter2'],
      keepers: [],
      explorers: [],
      user: 'root',
    });
    // -N takes a dnode's name, fqdn or endpoint.
    expect(selectHosts(inv, 'h2.taosdata.com')).toEqual(['dnode2']);
    expect(selectHosts(inv, 'h3.taosdata.com:6030')).toEqual(['dnode3']);
  });

  test('the lab inventory: data under the hosts\' private /data, the factory password', () => {
    const { path } = withArchive('tdengine-lab.yaml');
    const inv = loadInventory(path);
    expect([...inv.hosts.keys()]).toEqual(['node1', 'node2', 'node3', 'adapter1', 'adapter2', 'keeper1', 'explorer1', 'nginx']);
    // Lab hosts are <host>.<lab>.runbook, their `hostname -f`; runbook connects by that name.
    expect(inv.hosts.get('node2')!.address).toBe('node2.default.runbook');
    const n2 = vars<TdengineDnodeVars>(inv, 'node2');
    expect(n2).toMatchObject({ fqdn: 'node2.default.runbook', data_dir: '/data/taos/data', log_dir: '/data/taos/log', mnode: true, is_first_ep: false });
    expect(n2.cli.password.reveal()).toBe('taosdata');
    // The factory password is public: it must not mask "taosdata" everywhere (h1.taosdata.com).
    expect(String(n2.cli.password)).not.toContain('taosdata');
    expect(vars<TdengineNginxVars>(inv, 'nginx')).toMatchObject({ home: '/data/nginx', error_log: '/data/nginx/error.log' });
  });

  test('without the package the shipped inventories fail only for that', () => {
    withEnv({ TDENGINE_PASSWORD: 'x' });
    expect(problems(() => loadInventory(sample('tdengine-3dnodes.yaml')))).toHaveLength(1);
    // The lab variant points at the package `runbook lab package tdengine` builds; once built, it loads cleanly.
    const labPackage = '/root/.runbook/lab/packages/TDengine-server-3.3.2.0-Linux-x64.tar.gz';
    if (existsSync(labPackage)) expect(() => loadInventory(sample('tdengine-lab.yaml'))).not.toThrow();
    else expect(problems(() => loadInventory(sample('tdengine-lab.yaml')))).toHaveLength(1);
    const [p] = problems(() => loadInventory(sample('tdengine-3dnodes.yaml')));
    expect(p).toMatch(/cluster\.package names .*TDengine-server-3\.3\.2\.0-Linux-x64\.tar\.gz, which does not exist/);
  });
});

describe('defaults', () => {
  test('names, serverPort, folders and firstEp default as the document says', () => {
    const inv = loadInventory(topology(THREE));
    expect([...inv.hosts.keys()]).toEqual(['dnode1', 'dnode2', 'dnode3']);
    expect(inv.hosts.get('dnode2')!.address).toBe('h2.example.com');
    expect(vars<TdengineDnodeVars>(inv, 'dnode2')).toMatchObject({ endpoint: 'h2.example.com:6030', data_dir: '/var/lib/taos', mnode: false, home: '/opt/tdengine/taos' });
    expect(groups(inv).mnodes).toEqual(['dnode1']);
    expect(vars<TdengineDnodeVars>(inv, 'dnode2').cfg).toEqual({
      firstEp: 'h1.example.com:6030',
      fqdn: 'h2.example.com',
      serverPort: '6030',
      dataDir: '/var/lib/taos',
      logDir: '/var/log/taos',
    });
  });

  test('first_ep may name any dnode, by name, fqdn or endpoint', () => {
    for (const ref of ['dnode2', 'h2.example.com', 'h2.example.com:6030']) {
      const inv = loadInventory(topology(THREE, `  first_ep: ${ref}\n`));
      expect(groups(inv).first_ep).toEqual(['dnode2']);
      expect(vars<TdengineDnodeVars>(inv, 'dnode1').cfg.firstEp).toBe('h2.example.com:6030');
      expect(groups(inv).mnodes).toEqual(['dnode2']);
      // The playbooks ask the cluster through these, firstEp's first.
      expect((inv.vars.tdengine_cluster as TdengineClusterVars).endpoints).toEqual(['h2.example.com:6030', 'h1.example.com:6030', 'h3.example.com:6030']);
    }
  });

  test('two dnodes on one machine share its fqdn and differ by serverPort and folders', () => {
    const inv = loadInventory(
      topology(`dnodes:
  - fqdn: h1.example.com
  - name: second
    fqdn: h1.example.com
    serverPort: 7030
    dir_name: taos2
    dataDir: /data/taos2
    logDir: /data/taos2-log
`),
    );
    expect(vars<TdengineDnodeVars>(inv, 'second')).toMatchObject({ endpoint: 'h1.example.com:7030', home: '/opt/tdengine/taos2' });
    // The fqdn alone would name two dnodes, so only the endpoints select them.
    expect(inv.hosts.get('second')!.aliases).toEqual(['h1.example.com:7030', 'h1.example.com']);
    expect(inv.hosts.get('dnode1')!.aliases).toEqual(['h1.example.com:6030', 'h1.example.com']);
  });
});

describe('checks before touching a host, each at its line', () => {
  const one = (path: string): string => {
    const found = problems(() => loadInventory(path));
    expect(found, found.join('\n\n')).toHaveLength(1);
    return found[0]!;
  };

  test('two dnodes with one endpoint', () => {
    const p = one(topology(`dnodes:\n  - fqdn: h1.example.com\n  - fqdn: h1.example.com\n`));
    expect(p).toMatch(/:6:11: dnode2 and dnode1 are both h1\.example\.com:6030/);
  });

  test('one fqdn on two machines, and two fqdns on one machine', () => {
    expect(one(topology(`dnodes:\n  - fqdn: h1.example.com\n    address: 10.0.0.1\n  - fqdn: h1.example.com\n    address: 10.0.0.2\n    serverPort: 7030\n`))).toMatch(
      /fqdn h1\.example\.com is used by dnode1 on 10\.0\.0\.1 and by dnode2 on 10\.0\.0\.2[\s\S]*hint: each machine has one FQDN/,
    );
    expect(one(topology(`dnodes:\n  - fqdn: h1.example.com\n    address: 10.0.0.1\n  - fqdn: h2.example.com\n    address: 10.0.0.1\n    serverPort: 7030\n    dir_name: t2\n    dataDir: /d2\n    logDir: /l2\n`))).toMatch(
      /dnode2 \(fqdn h2\.example\.com\) and dnode1 \(fqdn h1\.example\.com\) are on the same machine 10\.0\.0\.1/,
    );
  });

  test('an IP address is not an FQDN', () => {
    expect(one(topology(`dnodes:\n  - fqdn: 10.0.0.1\n`))).toMatch(/fqdn of dnode1 is "10\.0\.0\.1", which is not a host name[\s\S]*put an IP address in address/);
  });

  test('first_ep must be a dnode of the topology', () => {
    expect(one(topology(THREE, '  first_ep: h4.example.com:6030\n'))).toMatch(/:4:13: cluster\.first_ep is "h4\.example\.com:6030", which is not a dnode[\s\S]*did you mean "h1\.example\.com:6030"\?/);
  });

  test('at most 3 mnodes, the firstEp dnode always one of them', () => {
    const four = `dnodes:\n  - fqdn: h1.example.com\n  - fqdn: h2.example.com\n    mnode: true\n  - fqdn: h3.example.com\n    mnode: true\n  - fqdn: h4.example.com\n    mnode: true\n`;
    expect(one(topology(four))).toMatch(/4 dnodes would carry an mnode \(dnode1, dnode2, dnode3, dnode4\); a TDengine cluster has at most 3/);
    expect(one(topology(`dnodes:\n  - fqdn: h1.example.com\n    mnode: false\n`))).toMatch(/dnode1 is the firstEp dnode, which always carries the cluster's first mnode/);
  });

  test('extra mnodes need at least 3 dnodes', () => {
    expect(one(topology(`dnodes:\n  - fqdn: h1.example.com\n  - fqdn: h2.example.com\n    mnode: true\n`))).toMatch(/mnodes are added once the cluster has at least 3 dnodes, and this topology has 2/);
  });

  test('a must-match parameter cannot be overridden per dnode', () => {
    const p = one(
      topology(`dnodes:\n  - fqdn: h1.example.com\n  - fqdn: h2.example.com\n    taos.cfg:\n      timezone: Asia/Shanghai\n`, '  taos.cfg:\n    timezone: UTC\n'),
    );
    expect(p).toMatch(/:10:7: timezone of dnode2 overrides a parameter that must be identical on every dnode \(cluster: UTC, here: Asia\/Shanghai\)/);
    expect(p).toMatch(/cannot join the cluster/);
  });

  test('firstEp, fqdn, serverPort, dataDir and logDir are topology fields, not taos.cfg entries', () => {
    const found = problems(() => loadInventory(topology(`dnodes:\n  - fqdn: h1.example.com\n    taos.cfg:\n      dataDir: /x\n`, '  taos.cfg:\n    firstEp: h1.example.com:6030\n')));
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(/firstEp is written by runbook from cluster\.first_ep/);
    expect(found[1]).toMatch(/dataDir of dnode1 is written by runbook from the dnode's dataDir/);
  });

  test('secondEp must be a dnode', () => {
    expect(one(topology(THREE, '  taos.cfg:\n    secondEp: h9.example.com:6030\n'))).toMatch(/secondEp is "h9\.example\.com:6030", which is not the fqdn:serverPort of any dnode/);
  });

  test('ports on one machine: nginx and an adapter both on 6041', () => {
    const p = one(topology(`${THREE}adapters:\n  - host: h1.example.com\nnginx:\n  host: h1.example.com\n`));
    expect(p).toMatch(/port 6041 on h1\.example\.com is taken twice: nginx's adapter_port and adapter1's port[\s\S]*e\.g\. 6042/);
  });

  test('folders on one machine: two dnodes with one dataDir', () => {
    const p = one(topology(`dnodes:\n  - fqdn: h1.example.com\n  - fqdn: h1.example.com\n    serverPort: 7030\n    dir_name: taos2\n    logDir: /var/log/taos2\n`));
    expect(p).toMatch(/dnode2 \(dataDir\) and dnode1 \(dataDir\) both use \/var\/lib\/taos on h1\.example\.com/);
  });

  test('a system folder as dataDir', () => {
    expect(one(topology(`dnodes:\n  - fqdn: h1.example.com\n    dataDir: /var\n`))).toMatch(/dataDir of dnode1 is \/var: clean would delete it/);
  });

  test('the package must be a TDengine server archive that exists', () => {
    const dir = tempFiles({ 'taos.zip': '' });
    const path = join(dir, 't.yaml');
    writeFileSync(path, `product: tdengine\ncluster:\n  package: ./taos.zip\n${THREE}`);
    expect(one(path)).toMatch(/cluster\.package must be a TDengine server archive named like TDengine-server-3\.3\.2\.0-Linux-x64\.tar\.gz, not taos\.zip/);
  });

  test('a misspelt key gets "did you mean"', () => {
    expect(one(topology(`dnodes:\n  - fqdn: h1.example.com\n    serverport: 6030\n`))).toMatch(/unknown key "serverport"[\s\S]*did you mean "serverPort"\?/);
  });

  test('taosKeeper and taos-Explorer need an adapter, and a named one must exist', () => {
    expect(one(topology(`${THREE}keepers:\n  - host: h1.example.com\n`))).toMatch(/keeper1 reaches the cluster through a taosAdapter, but the topology has no adapters/);
    expect(one(topology(`${THREE}adapters:\n  - host: h1.example.com\nexplorers:\n  - host: h2.example.com\n    adapter: h9.example.com:6041\n`))).toMatch(
      /adapter of explorer1 is "h9\.example\.com:6041", which is not an adapter of this topology[\s\S]*adapter1 \(h1\.example\.com:6041\)/,
    );
    expect(one(topology(`${THREE}adapters:\n  - host: h1.example.com\nkeepers:\n  - host: h1.example.com\n    port: 6041\n`))).toMatch(/port 6041 on h1\.example\.com is taken twice: keeper1's port and adapter1's port/);
  });

  test('keepers and explorers: groups, vars and the nginx upstreams', () => {
    const inv = loadInventory(
      topology(`${THREE}adapters:\n  - host: h1.example.com\n  - host: h2.example.com\nkeepers:\n  - host: h2.example.com\n  - host: h3.example.com\nexplorers:\n  - host: h3.example.com\n    adapter: adapter1\nnginx:\n  host: lb.example.com\n`),
    );
    expect(groups(inv)).toMatchObject({ keepers: ['keeper1', 'keeper2'], explorers: ['explorer1'] });
    // The adapter on the keeper's own machine, else the first; or the one named.
    expect(vars<TdengineServiceVars>(inv, 'keeper1')).toMatchObject({ role: 'keeper', port: 6043, adapter_host: 'h2.example.com', home: '/opt/tdengine/taoskeeper', ports: [6043], clean_dirs: [] });
    expect(vars<TdengineServiceVars>(inv, 'keeper2').adapter_host).toBe('h1.example.com');
    expect(vars<TdengineServiceVars>(inv, 'explorer1')).toMatchObject({
      role: 'explorer',
      adapter_host: 'h1.example.com',
      program: 'taos-explorer',
      config_flag: '-C',
      config_file: '/opt/tdengine/taos-explorer/cfg/explorer.toml',
    });
    expect(vars<TdengineNginxVars>(inv, 'nginx').upstreams).toEqual({
      dbserver: ['h1.example.com:6041', 'h2.example.com:6041'],
      keeper: ['h2.example.com:6043', 'h3.example.com:6043'],
      explorer: ['h3.example.com:6060'],
    });
    expect(vars<TdengineNginxVars>(inv, 'nginx').ports).toEqual([6041, 6043, 6060]);
    expect(selectHosts(inv, 'h3.example.com:6060')).toEqual(['explorer1']);
  });

  test('nginx needs adapters; the password variable must be set', () => {
    expect(one(topology(`${THREE}nginx:\n  host: lb.example.com\n`))).toMatch(/nginx balances taosAdapter instances, but the topology has no adapters/);
    expect(one(topology(THREE, '  password: { env: RUNBOOK_TEST_NO_SUCH_VAR }\n'))).toMatch(/environment variable RUNBOOK_TEST_NO_SUCH_VAR is not set/);
  });

  test('several problems are reported together, in file order', () => {
    const found = problems(() => loadInventory(topology(`dnodes:\n  - fqdn: 10.0.0.1\n  - fqdn: h2.example.com\n    taos.cfg:\n      charset: GBK\n`, '  first_ep: nope\n')));
    expect(found.map((f) => /:(\d+):\d+:/.exec(f)?.[1])).toEqual(['4', '6', '9']);
  });
});

describe('templates', () => {
  test('taos.cfg: the topology\'s parameters as `name value` lines', () => {
    const { path } = withArchive('tdengine-3dnodes.yaml');
    withEnv({ TDENGINE_PASSWORD: 'x' });
    const inv = loadInventory(path);
    const text = renderString(template('taos.cfg.hbs'), inv.hosts.get('dnode2')!.vars);
    expect(text).toMatch(/^# This file is generated by runbook from the template templates\/tdengine\/taos\.cfg\.hbs\./);
    const lines = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(lines.slice(0, 3)).toEqual(['firstEp          h1.taosdata.com:6030', 'fqdn             h2.taosdata.com', 'serverPort       6030']);
    expect(lines).toContain('timezone         Asia/Shanghai');
  });

  test('nginx.conf: the document\'s configuration with the topology\'s adapters', () => {
    const { path } = withArchive('tdengine-lab.yaml');
    const inv = loadInventory(path);
    const text = renderString(template('nginx.conf.hbs'), inv.hosts.get('nginx')!.vars);
    expect(text).toContain('user root;\nworker_processes auto;\nerror_log /data/nginx/error.log;\npid /data/nginx/nginx.pid;');
    expect(text).toContain('    server {\n        listen 6041;\n        location ~* {\n            proxy_pass http://dbserver;');
    expect(text).toContain('    upstream dbserver {\n        least_conn;\n        server node1.default.runbook:6041 max_fails=0;\n        server node2.default.runbook:6041 max_fails=0;\n    }');
    // The keeper and explorer upstreams come from the topology's keepers and explorers.
    expect(text).toContain('    upstream keeper {\n        ip_hash;\n        server node1.default.runbook:6043 ;\n    }');
    expect(text).toContain('    upstream explorer{\n        ip_hash;\n        server node2.default.runbook:6060 ;\n    }');
  });

  test('nginx.conf without keepers or explorers has no server blocks and no empty upstreams (nginx refuses those)', () => {
    const inv = loadInventory(topology(`${THREE}adapters:\n  - host: h1.example.com\nnginx:\n  host: lb.example.com\n`));
    const text = renderString(template('nginx.conf.hbs'), inv.hosts.get('nginx')!.vars);
    expect(text).toContain('upstream dbserver {');
    expect(text).not.toContain('keeper');
    expect(text).not.toContain('explorer');
    expect(vars<TdengineNginxVars>(inv, 'nginx').ports).toEqual([6041]);
  });

  test('taoskeeper.toml and explorer.toml name the taosAdapter each asks', () => {
    const { path } = withArchive('tdengine-lab.yaml');
    const inv = loadInventory(path);
    const keeper = renderString(template('taoskeeper.toml.hbs'), inv.hosts.get('keeper1')!.vars, { revealSecrets: true });
    expect(keeper).toMatch(/^port = 6043$/m);
    expect(keeper).toContain('[tdengine]\nhost = "node1.default.runbook"\nport = 6041\nusername = "root"\npassword = "taosdata"');
    expect(keeper).toContain('[log]\npath = "/data/taoskeeper/log"');
    const explorer = renderString(template('explorer.toml.hbs'), inv.hosts.get('explorer1')!.vars);
    expect(explorer).toMatch(/^port = 6060$/m);
    expect(explorer).toMatch(/^cluster = "http:\/\/node2\.default\.runbook:6041"$/m);
  });

  test('nginx.conf with taosKeeper and taos-Explorer upstreams', () => {
    const inv = loadInventory(
      topology(`${THREE}adapters:\n  - host: h1.example.com\nnginx:\n  host: lb.example.com\n  keepers: [h1.example.com:6043, h2.example.com:6043]\n  explorers: [h1.example.com:6060]\n`),
    );
    const text = renderString(template('nginx.conf.hbs'), inv.hosts.get('nginx')!.vars);
    expect(text).toContain('listen 6043;');
    expect(text).toContain('listen 6060;');
    expect(text).toContain('    upstream keeper {\n        ip_hash;\n        server h1.example.com:6043 ;\n        server h2.example.com:6043 ;\n    }');
    expect(text).toContain('    upstream explorer{\n        ip_hash;\n        server h1.example.com:6060 ;\n    }');
    expect(vars<TdengineNginxVars>(inv, 'nginx').ports).toEqual([6041, 6043, 6060]);
  });
});

describe('the simulated taos client against the TDengine dialect', () => {
  test('its tables parse into the rows the playbooks test', () => {
    const lines = renderTable({
      columns: [
        { name: 'id', align: 'right' },
        { name: 'endpoint', align: 'left' },
        { name: 'status', align: 'left' },
        { name: 'note', align: 'left' },
      ],
      rows: [
        ['1', 'node1:6030', 'ready', ''],
        ['12', 'node2:6030', 'offline', 'timezone not match'],
      ],
    });
    const out = ['Welcome to the TDengine Command Line Interface', '', 'taos> show dnodes;', ...lines, 'Query OK, 2 row(s) in set (0.001s)', ''].join('\n');
    expect(parsePiped(out).rows).toEqual([
      { id: '1', endpoint: 'node1:6030', status: 'ready', note: '' },
      { id: '12', endpoint: 'node2:6030', status: 'offline', note: 'timezone not match' },
    ]);
    expect(dialect.errorText(out, '', {})).toBeUndefined();
    expect(dialect.errorText('taos> create dnode "h2:6030";\nDB error: Dnode already exists (0.000200s)\n', '', {})).toBe('DB error: Dnode already exists (0.000200s)');
    expect(dialect.errorText('failed to connect to server, reason: Unable to establish connection\n', '', {})).toMatch(/^failed to connect/);
  });

  test('create dnode needs its fqdn:port quoted, as the document warns', () => {
    expect(parseStatement('create dnode "h2.taosdata.com:6030"')).toEqual({ kind: 'create-dnode', fqdn: 'h2.taosdata.com', port: 6030 });
    expect(parseStatement("CREATE DNODE 'h2:7030';")).toEqual({ kind: 'create-dnode', fqdn: 'h2', port: 7030 });
    expect(parseStatement('create dnode h2 port 6030')).toEqual({ kind: 'create-dnode', fqdn: 'h2', port: 6030 });
    expect(parseStatement('create dnode h2.taosdata.com:6030')).toEqual({ kind: 'error', message: "syntax error near ':6030'" });
    expect(parseStatement('create mnode on dnode 2')).toEqual({ kind: 'create-mnode', dnodeId: 2 });
    expect(parseStatement('create mnode on dnode two')).toEqual({ kind: 'error', message: "syntax error near 'two'" });
    expect(parseStatement('drop dnode 3')).toMatchObject({ kind: 'error', message: expect.stringMatching(/does not support/) });
    expect(splitStatements('show dnodes; create dnode "a;b:1"; show mnodes')).toEqual(['show dnodes', 'create dnode "a;b:1"', 'show mnodes']);
  });
});
