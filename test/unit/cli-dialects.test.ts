import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  dialects,
  dolphindb,
  iotdb,
  isReadOnly,
  openmldb,
  parseBoxed,
  parseDashed,
  parseDolphinDB,
  parseHeaderRule,
  parsePiped,
  tdengine,
} from '../../modules/lib/cli-dialects.js';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, '../fixtures/cli-dialects', name), 'utf8');

describe('IoTDB boxed tables', () => {
  test('show cluster details from the IoTDB document', () => {
    const t = parseBoxed(fixture('iotdb-show-cluster-details.txt'));
    expect(t.columns).toEqual([
      'NodeID', 'NodeType', 'Status', 'InternalAddress', 'InternalPort', 'ConfigConsensusPort',
      'RpcAddress', 'RpcPort', 'MppPort', 'SchemaConsensusPort', 'DataConsensusPort',
    ]);
    // The document's footer says "Total line number = 6".
    expect(t.rows).toHaveLength(6);
    expect(t.rows[0]).toEqual({
      NodeID: '0', NodeType: 'ConfigNode', Status: 'Running', InternalAddress: 'iotdb-1', InternalPort: '10710',
      ConfigConsensusPort: '10720', RpcAddress: '', RpcPort: '', MppPort: '', SchemaConsensusPort: '', DataConsensusPort: '',
    });
    expect(t.rows[3]).toMatchObject({ NodeID: '1', NodeType: 'DataNode', RpcAddress: 'iotdb-4', RpcPort: '6667', DataConsensusPort: '10760' });
    expect(t.rows.every((r) => r.Status === 'Running')).toBe(true);
  });

  test('a header with no rows is an empty result, and the banner is ignored', () => {
    const t = parseBoxed(fixture('made-iotdb-empty.txt'));
    expect(t).toEqual({ columns: ['PipeName', 'Status', 'Sink'], rows: [] });
  });

  test('a | inside a value survives because cells are cut at the border positions', () => {
    const t = parseBoxed(['+---+-----+', '|  a|    b|', '+---+-----+', '|  1|x|y  |', '+---+-----+'].join('\n'));
    expect(t.rows).toEqual([{ a: '1', b: 'x|y' }]);
  });

  test('a row that does not line up with the border is split on |', () => {
    const t = parseBoxed(['+---+---+', '|a  |b  |', '+---+---+', '|温度计|ok|', '+---+---+'].join('\n'));
    expect(t.rows).toEqual([{ a: '温度计', b: 'ok' }]);
  });

  test('no table at all', () => {
    expect(parseBoxed('Msg: The statement is executed successfully.\n')).toEqual({ columns: [], rows: [] });
  });

  test('error lines: status-coded Msg lines fail, the success Msg does not', () => {
    expect(iotdb.errorText('Msg: The statement is executed successfully.\n', '', {})).toBeUndefined();
    expect(iotdb.errorText('', 'Msg: 301: Check metadata error: pipe AB already exists\n', {})).toBe(
      'Msg: 301: Check metadata error: pipe AB already exists',
    );
    expect(
      iotdb.errorText('Connection Error, please check whether the network is available or the server has started. Host is 127.0.0.1, port is 6667.\n', '', {}),
    ).toMatch(/^Connection Error/);
  });
});

describe('TDengine | tables', () => {
  test('show dnodes from the TDengine document', () => {
    const t = parsePiped(fixture('tdengine-show-dnodes.txt'));
    expect(t.columns).toEqual(['id', 'endpoint', 'vnodes', 'support_vnodes', 'status', 'create_time', 'note']);
    expect(t.rows).toEqual([
      { id: '1', endpoint: 'h1.taosdata.com:6030', vnodes: '0', support_vnodes: '1024', status: 'ready', create_time: '2022-07-16 10:50:42.673', note: '' },
    ]);
  });

  test('a whole taos -s run: banner, padded cells, Query OK footer', () => {
    const t = parsePiped(fixture('made-tdengine-taos-s.txt'));
    expect(t.rows).toHaveLength(2);
    expect(t.rows[1]).toEqual({
      id: '2', endpoint: 'h2.taosdata.com:6030', vnodes: '0', support_vnodes: '16', status: 'offline',
      create_time: '2024-05-01 10:52:11.020', note: 'status msg timeout',
    });
  });

  test('error lines', () => {
    expect(tdengine.errorText('taos> use nodb;\nDB error: Database not exist (0.000157s)\n', '', {})).toBe('DB error: Database not exist (0.000157s)');
    expect(tdengine.errorText('Query OK, 0 row(s) affected (0.001s)\n', '', {})).toBeUndefined();
  });
});

describe('OpenMLDB tables', () => {
  test('show components from the OpenMLDB document', () => {
    const t = parseDashed(fixture('openmldb-show-components.txt'));
    expect(t.columns).toEqual(['Endpoint', 'Role', 'Connect_time', 'Status', 'Ns_role']);
    // The document's footer says "4 rows in set".
    expect(t.rows).toHaveLength(4);
    expect(t.rows[3]).toEqual({ Endpoint: '172.24.4.40:7520', Role: 'nameserver', Connect_time: '2023-09-01 11:36:59', Status: 'online', Ns_role: 'master' });
    expect(openmldb.parse(fixture('openmldb-show-components.txt'))).toEqual(t);
  });

  test('ns_client header-and-rule listing', () => {
    const t = parseHeaderRule(fixture('made-openmldb-ns-showtablet.txt'));
    expect(t.columns).toEqual(['endpoint', 'real_endpoint', 'state', 'age']);
    expect(t.rows[1]).toEqual({ endpoint: '172.24.4.40:10821', real_endpoint: '-', state: 'kTabletOffline', age: '12m' });
  });

  test('error lines; ns_client "failed to" lines count only for ns_client', () => {
    const syntax = 'Error: Syntax error: Expected ")" or "," but got ";" [at 1:23]\n';
    expect(openmldb.errorText(syntax, '', {})).toMatch(/^Error: Syntax error/);
    expect(openmldb.errorText('failed to set auto_failover\n', '', { role: 'ns_client' })).toBe('failed to set auto_failover');
    expect(openmldb.errorText('failed to set auto_failover\n', '', {})).toBeUndefined();
  });
});

describe('client calls', () => {
  test('IoTDB: every value quoted, the password only as a variable reference', () => {
    const c = iotdb.call("show pipes where x='a b'", { home: '/opt/iot db', host: 'iotdb-1', port: 6667, user: 'root', passwordEnv: 'RUNBOOK_PW' });
    expect(c.command).toBe(`'/opt/iot db/sbin/start-cli.sh' -h iotdb-1 -p 6667 -u root -pw "$RUNBOOK_PW" -e 'show pipes where x='\\''a b'\\'''`);
    expect(c.stdin).toBeUndefined();
  });

  test('TDengine: -p glued to the password variable', () => {
    expect(tdengine.call('show dnodes', { passwordEnv: 'RUNBOOK_PW', port: 6030 }).command).toBe(`taos -P 6030 -p"$RUNBOOK_PW" -s 'show dnodes'`);
  });

  test('OpenMLDB: cluster flags, statement on stdin with its semicolon', () => {
    const c = openmldb.call('show components', { home: '/work/openmldb', zkCluster: '172.27.2.52:12200', zkRootPath: '/openmldb' });
    expect(c.command).toBe('/work/openmldb/bin/openmldb --zk_cluster=172.27.2.52:12200 --zk_root_path=/openmldb --role=sql_client');
    expect(c.stdin).toBe('show components;\n');
    const ns = openmldb.call('confset auto_failover true', { zkCluster: 'z:1', role: 'ns_client' });
    expect(ns.command).toBe('openmldb --zk_cluster=z:1 --role=ns_client');
    expect(ns.stdin).toBe('confset auto_failover true\n');
  });

  test('DolphinDB: terminal mode, the script on stdin, the login line built on the host from the password variable', () => {
    const c = dolphindb.call('getClusterPerf()', { home: '/Dolphin DB/server/', host: '10.0.0.80', port: 8900, user: 'admin', passwordEnv: 'RUNBOOK_PW' });
    expect(c.command).toContain(`{ printf 'login("%s", "%s")\\n' admin "$RUNBOOK_PW"; cat; } | '/Dolphin DB/server/dolphindb' -remoteHost 10.0.0.80 -remotePort 8900`);
    expect(c.command.startsWith(`case "$RUNBOOK_PW" in *'"'*|*'\\'*|*'\n'*) echo 'runbook: the DolphinDB password contains`)).toBe(true);
    expect(c.stdin).toBe('getClusterPerf()\n');
    expect(c.program).toBe('dolphindb');
    // Without a password there is no login line: the script goes as it is.
    expect(dolphindb.call('version()', { port: 8900 })).toEqual({ command: 'dolphindb -remotePort 8900', stdin: 'version()\n', program: 'dolphindb' });
    expect(dialects.dolphindb.unsupported).toBeUndefined();
  });

  test('read-only statements', () => {
    expect(isReadOnly('  SHOW cluster details')).toBe(true);
    expect(isReadOnly('select * from root.**')).toBe(true);
    expect(isReadOnly('create pipe AB with sink (...)')).toBe(false);
    expect(isReadOnly('showing')).toBe(false);
  });
});

describe('DolphinDB terminal output', () => {
  test('the first table of the output, cut at the dash runs; scalars before and after are not rows', () => {
    const t = parseDolphinDB(fixture('made-dolphindb-terminal.txt'));
    expect(t.columns).toEqual(['name', 'state', 'mode', 'host', 'port', 'site', 'agentSite', 'version']);
    expect(t.rows).toHaveLength(4);
    expect(t.rows[0]).toEqual({ name: 'controller8900', state: '1', mode: '2', host: '10.0.0.80', port: '8900', site: '10.0.0.80:8900:controller8900', agentSite: '', version: '2.00.11.3' });
    expect(t.rows[3]).toEqual({ name: 'P3-computenode', state: '0', mode: '4', host: '10.0.0.82', port: '8902', site: '10.0.0.82:8902:P3-computenode', agentSite: '10.0.0.82:8901:P3-agent', version: '' });
    expect(dolphindb.parse(fixture('made-dolphindb-terminal.txt'))).toEqual(t);
  });

  test('without a table, each output line is a row { value }', () => {
    expect(parseDolphinDB('2.00.11.3 2024.01.01 LINUX x86_64 (simulated by runbook)\n\ntrue\n')).toEqual({
      columns: ['value'],
      rows: [{ value: '2.00.11.3 2024.01.01 LINUX x86_64 (simulated by runbook)' }, { value: 'true' }],
    });
    expect(parseDolphinDB('')).toEqual({ columns: [], rows: [] });
  });

  test('error lines: the server\'s response, a failed connection, runbook\'s own refusal', () => {
    expect(dolphindb.errorText('', "Server response: 'startDataNode(\"P9\") => startDataNode: P9 is not a data node or compute node in cluster.nodes'\n", {})).toMatch(
      /^Server response: 'startDataNode\("P9"\) => /,
    );
    expect(dolphindb.errorText('', 'Failed to connect to 10.0.0.80:8900: Connection refused\n', {})).toBe('Failed to connect to 10.0.0.80:8900: Connection refused');
    expect(dolphindb.errorText('DB[dfs://testDB]\n', '', {})).toBeUndefined();
  });

  test('read-only scripts: getters, login and use only', () => {
    expect(dolphindb.readOnly!('use ops; getAllLicenses()')).toBe(true);
    expect(dolphindb.readOnly!('getClusterPerf()\nversion()')).toBe(true);
    expect(dolphindb.readOnly!('existsDatabase("dfs://x")')).toBe(true);
    expect(dolphindb.readOnly!('use ops; updateAllLicenses()')).toBe(false);
    expect(dolphindb.readOnly!('startDataNode("P1-datanode")')).toBe(false);
    expect(dolphindb.readOnly!('version(); dropDatabase("dfs://x")')).toBe(false);
  });

  /** Run the dialect's command with sh, `home` holding a stand-in dolphindb that prints its arguments and its stdin. */
  function runCall(password: string, user = 'admin'): { code: number | null; stdout: string; stderr: string } {
    const home = mkdtempSync(join(tmpdir(), 'runbook-ddb-dialect-'));
    try {
      writeFileSync(join(home, 'dolphindb'), '#!/bin/sh\nprintf "argv:%s\\n" "$*"\ncat\n');
      chmodSync(join(home, 'dolphindb'), 0o755);
      const c = dolphindb.call('getClusterPerf()', { home, host: '127.0.0.1', port: 8900, user, passwordEnv: 'RUNBOOK_PW' });
      const r = spawnSync('sh', ['-c', c.command], { input: c.stdin, env: { ...process.env, RUNBOOK_PW: password }, encoding: 'utf8' });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }

  test('on a real shell the password reaches stdin in the login line and no argument', () => {
    const pw = "it's $HOME `x` %s;";
    const r = runCall(pw);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`argv:-remoteHost 127.0.0.1 -remotePort 8900\nlogin("admin", "${pw}")\ngetClusterPerf()\n`);
  });

  test('a password or user that would break the DolphinDB string is refused, and nothing runs', () => {
    for (const pw of ['a"b', 'a\\b', 'a\nb']) {
      const r = runCall(pw);
      expect(r.code, JSON.stringify(pw)).toBe(2);
      expect(r.stdout).toBe('');
      expect(dolphindb.errorText(r.stdout, r.stderr, {})).toMatch(/^runbook: the DolphinDB password contains a double quote, a backslash or a line break/);
    }
    const u = runCall('123456', 'ad"min');
    expect(u.code).toBe(2);
    expect(u.stdout).toBe('');
    expect(dolphindb.errorText(u.stdout, u.stderr, {})).toMatch(/^runbook: the DolphinDB user name contains/);
  });
});
