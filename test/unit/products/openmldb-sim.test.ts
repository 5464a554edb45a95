// Pieces of the simulated OpenMLDB that need no ZooKeeper: its tables must
// read back through runbook's own OpenMLDB dialect (what playbooks parse is
// what the simulator prints), and its flag, statement and conf/hosts readers.

import { describe, expect, test } from 'vitest';
import { openmldb, parseDashed, parseHeaderRule } from '../../../modules/lib/cli-dialects.js';
import { splitStatements } from '../../../engine/lab/packages/sim-common/statements.js';
import { age, dashedTable, headerRuleTable, parseFlagLines } from '../../../engine/lab/packages/openmldb/sim/common.js';
import { parseHostsFile } from '../../../engine/lab/packages/openmldb/sim/control.js';
import { parseZkCluster } from '../../../engine/lab/packages/openmldb/sim/zk.js';

describe('output tables', () => {
  test('show components: the document\'s layout, read back by the dialect', () => {
    const rows = [
      ['172.24.4.39:10821', 'tablet', '2023-09-01 11:36:58', 'online', 'NULL'],
      ['172.24.4.40:7520', 'nameserver', '2023-09-01 11:36:59', 'online', 'master'],
    ];
    const text = dashedTable(['Endpoint', 'Role', 'Connect_time', 'Status', 'Ns_role'], rows);
    const lines = text.split('\n');
    // Dash runs two wider than the widest cell, one space apart, as in the document's example.
    expect(lines[0]).toBe(' ------------------- ------------ --------------------- -------- ---------');
    expect(lines[1]).toBe('  Endpoint            Role         Connect_time          Status   Ns_role');
    expect(lines[3]).toBe('  172.24.4.39:10821   tablet       2023-09-01 11:36:58   online   NULL');
    expect(lines.at(-2)).toBe('2 rows in set');
    const t = openmldb.parse(text);
    expect(t).toEqual(parseDashed(text));
    expect(t.rows).toEqual(rows.map(([Endpoint, Role, Connect_time, Status, Ns_role]) => ({ Endpoint, Role, Connect_time, Status, Ns_role })));
  });

  test('an empty result still has its header', () => {
    const t = parseDashed(dashedTable(['Tables'], []));
    expect(t).toEqual({ columns: ['Tables'], rows: [] });
  });

  test('ns_client tables (showtablet, confget) read back by the dialect', () => {
    const text = headerRuleTable(['endpoint', 'real_endpoint', 'state', 'age'], [['10.0.0.1:10921', '-', 'kTabletHealthy', '3h'], ['10.0.0.2:10921', '-', 'kTabletOffline', '12m']]);
    expect(parseHeaderRule(text).rows).toEqual([
      { endpoint: '10.0.0.1:10921', real_endpoint: '-', state: 'kTabletHealthy', age: '3h' },
      { endpoint: '10.0.0.2:10921', real_endpoint: '-', state: 'kTabletOffline', age: '12m' },
    ]);
    expect(openmldb.parse(headerRuleTable(['key', 'value'], [['auto_failover', 'false']])).rows).toEqual([{ key: 'auto_failover', value: 'false' }]);
    expect([age(5_000), age(12 * 60_000), age(3 * 3_600_000), age(2 * 86_400_000)]).toEqual(['5s', '12m', '3h', '2d']);
  });
});

describe('readers', () => {
  test('gflags: --name=value, bare booleans, comments; later wins', () => {
    const f = parseFlagLines(['# tablet', '--endpoint=10.0.0.1:10921', '--enable_status_service', '', '--endpoint=10.0.0.2:10921', 'not a flag']);
    expect(Object.fromEntries(f)).toEqual({ endpoint: '10.0.0.2:10921', enable_status_service: 'true' });
  });

  test('statements end at ";" outside quotes', () => {
    expect(splitStatements("create database d; use d;\nselect 'a;b' from t ;  ")).toEqual(['create database d', 'use d', "select 'a;b' from t"]);
  });

  test('conf/hosts sections and lines', () => {
    const { entries, problems } = parseHostsFile('[tablet]\nlocalhost:10921 /tmp/t1\nlocalhost:10922\n[zookeeper]\nlocalhost:2181:2888:3888 /tmp/zk\n[bogus]\nx\n');
    expect(entries.map((e) => [e.role, e.host, e.port, e.dir])).toEqual([
      ['tablet', 'localhost', 10921, '/tmp/t1'],
      ['tablet', 'localhost', 10922, undefined],
      ['zookeeper', 'localhost', 2181, '/tmp/zk'],
    ]);
    expect(problems).toEqual(['line 6: unknown section [bogus]', 'line 7: "x" is outside a known [section]']);
  });

  test('zk_cluster: host:port list, 2181 by default, no chroot', () => {
    expect(parseZkCluster('a:2181, b , c:2182')).toEqual([
      { host: 'a', port: 2181 },
      { host: 'b', port: 2181 },
      { host: 'c', port: 2182 },
    ]);
    expect(() => parseZkCluster('a:2181/openmldb')).toThrow(/put the path in zk_root_path/);
    expect(() => parseZkCluster('a:99999')).toThrow(/not host:port/);
  });
});
