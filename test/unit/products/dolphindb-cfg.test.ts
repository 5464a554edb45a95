// What runbook knows about DolphinDB's cfg files, tested on its own: how
// cluster.cfg lines apply to a node (the precedence the simulator shares),
// the package name, and the lanCluster heuristic.

import { describe, expect, test } from 'vitest';
import { installPathProblem, lanVerdict, nodeParam, packageVersion, parseClusterKey, prefixMatches } from '../../../engine/products/dolphindb/cfg.js';

describe('cluster.cfg lines', () => {
  test('a key names every node, a pattern of aliases, or one node', () => {
    expect(parseClusterKey('maxMemSize')).toEqual({ prefix: undefined, param: 'maxMemSize', wildcard: false });
    expect(parseClusterKey('P1-%.publicName')).toEqual({ prefix: 'P1-%', param: 'publicName', wildcard: true });
    expect(parseClusterKey('P1-datanode.volumes')).toEqual({ prefix: 'P1-datanode', param: 'volumes', wildcard: false });
  });

  test('% matches any run of characters, ? exactly one, case-sensitively and literally otherwise', () => {
    expect(prefixMatches('%-datanode', 'P1-datanode')).toBe(true);
    expect(prefixMatches('%-datanode', '-datanode')).toBe(true);
    expect(prefixMatches('%-datanode', 'P1-computenode')).toBe(false);
    expect(prefixMatches('P?-datanode', 'P1-datanode')).toBe(true);
    expect(prefixMatches('P?-datanode', 'P10-datanode')).toBe(false);
    expect(prefixMatches('p1-%', 'P1-datanode')).toBe(false);
    // Regex characters in a prefix are literal.
    expect(prefixMatches('a+b', 'aab')).toBe(false);
    expect(prefixMatches('a+b', 'a+b')).toBe(true);
  });

  test('a node\'s value: its own line over a pattern over every node, later lines winning, <ALIAS> replaced', () => {
    const cfg = {
      volumes: '/VOL0/<ALIAS>',
      '%-datanode.volumes': '/VOL1/<ALIAS>',
      'P1-datanode.volumes': '/DFS/P1-datanode',
      '%.volumes': '/VOL2/<ALIAS>',
      'P?-datanode.chunkMetaDir': '/meta/a',
      'P%-datanode.chunkMetaDir': '/meta/b',
    };
    expect(nodeParam(cfg, 'P1-datanode', 'volumes')).toBe('/DFS/P1-datanode');
    expect(nodeParam(cfg, 'P2-datanode', 'volumes')).toBe('/VOL2/P2-datanode');
    expect(nodeParam(cfg, 'P2-datanode', 'chunkMetaDir')).toBe('/meta/b');
    expect(nodeParam({ volumes: '/VOL0/<ALIAS>' }, 'P3-datanode', 'volumes')).toBe('/VOL0/P3-datanode');
    expect(nodeParam(cfg, 'P2-datanode', 'subPort')).toBeUndefined();
  });
});

describe('the package', () => {
  test('the version comes from the vendor\'s zip name, ABI and JIT builds included', () => {
    expect(packageVersion('DolphinDB_Linux64_V2.00.11.3.zip')).toBe('2.00.11.3');
    expect(packageVersion('DolphinDB_Linux64_V2.00.9.1_JIT.zip')).toBe('2.00.9.1');
    expect(packageVersion('DolphinDB_Linux64_V2.00.11.3_ABI.zip')).toBe('2.00.11.3');
    expect(packageVersion('dolphindb.zip')).toBeUndefined();
    expect(packageVersion('DolphinDB_Win64_V2.00.11.3.zip')).toBeUndefined();
  });

  test('the install path: no spaces, no non-ASCII characters', () => {
    expect(installPathProblem('/opt/DolphinDB')).toBeUndefined();
    expect(installPathProblem('/opt/my ddb')).toBe('contains a space');
    expect(installPathProblem('/opt/数据库')).toBe('contains a non-ASCII character');
  });
});

describe('lanCluster: are the servers one LAN?', () => {
  test('private addresses in one /24 are; different /24s or a public address may not be', () => {
    expect(lanVerdict(['10.0.0.80', '10.0.0.81', '10.0.0.82'])).toEqual({ oneLan: true, why: 'private addresses in one /24' });
    expect(lanVerdict(['198.19.0.11', '198.19.0.12'])?.oneLan).toBe(true);
    expect(lanVerdict(['10.0.0.80', '10.0.1.80'])).toEqual({ oneLan: false, why: 'the addresses are in 2 different /24 networks (10.0.0.0/24, 10.0.1.0/24)' });
    expect(lanVerdict(['10.0.0.80', '8.8.8.8'])).toEqual({ oneLan: false, why: '8.8.8.8 is a public address' });
    expect(lanVerdict(['172.32.0.1', '172.32.0.2'])?.oneLan).toBe(false);
    expect(lanVerdict(['192.168.1.10'])?.oneLan).toBe(true);
  });

  test('host names cannot be judged', () => {
    expect(lanVerdict(['db1.example.com', '10.0.0.2'])).toBeUndefined();
  });
});
