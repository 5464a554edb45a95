import { describe, expect, test } from 'vitest';
import { loadInventory } from '../../../engine/inventory/load.js';
import { resolvePlayHosts, selectHosts } from '../../../engine/inventory/select.js';
import type { Inventory } from '../../../engine/inventory/types.js';
import { fixture, inputError, withEnv } from './helpers.js';

function inventory(): Inventory {
  withEnv({ RUNBOOK_TEST_KEY_PASSPHRASE: 'phrase-7Hq2', RUNBOOK_TEST_DB_PASSWORD: 'db-pw-Zx81' });
  const inv = loadInventory(fixture('runbook.yaml'));
  // Product adapters give hosts ip:port aliases; add one the way they would.
  inv.hosts.get('node3')!.aliases.push('198.19.0.13:6667');
  return inv;
}

describe('host patterns', () => {
  test.each([
    ['all', ['node1', 'node2', 'node3', 'ctl']],
    ['*', ['node1', 'node2', 'node3', 'ctl']],
    ['confignodes', ['node1', 'node2']],
    ['iotdb', ['node1', 'node2', 'node3']],
    ['node3,node1', ['node1', 'node3']],
    [' node3 , ctl ', ['node3', 'ctl']],
    ['iotdb,!node2', ['node1', 'node3']],
    ['!ctl', ['node1', 'node2', 'node3']],
    ['!confignodes,!ctl', ['node3']],
    ['confignodes,&datanodes', ['node2']],
    ['node*', ['node1', 'node2', 'node3']],
    ['*nodes,!node?', []],
    ['198.19.0.11', ['node1']],
    ['198.19.0.13:6667', ['node3']],
    ['198.19.0.1*', ['node1', 'node2', 'node3']],
    ['db*', []],
  ])('%s', (pattern, expected) => {
    expect(selectHosts(inventory(), pattern)).toEqual(expected);
  });

  test('a list of patterns is the same as joining them with commas', () => {
    const inv = inventory();
    expect(selectHosts(inv, ['datanodes', '!node2', 'ctl'])).toEqual(selectHosts(inv, 'datanodes,!node2,ctl'));
  });

  test('within restricts the result (a --limit applied to a play\'s hosts)', () => {
    const inv = inventory();
    const play = selectHosts(inv, 'iotdb');
    expect(selectHosts(inv, '!node1', play)).toEqual(['node2', 'node3']);
    expect(selectHosts(inv, 'ctl,node1', play)).toEqual(['node1']);
  });

  test('an unknown name is an error listing the close matches', () => {
    const err = inputError(() => selectHosts(inventory(), 'nodes'));
    expect(err.exitCode).toBe(2);
    expect(err.format()).toBe(
      `no host, group or alias named "nodes" in the inventory ${fixture('runbook.yaml')}\nhint: did you mean "node1", "node2" or "node3"?`,
    );
  });

  test('several unknown names are reported together', () => {
    const err = inputError(() => selectHosts(inventory(), 'nod1,ctl,confignode'));
    expect(err.message).toContain('named "nod1", "confignode"');
    expect(err.hint).toBe('did you mean "node1" for "nod1"; "confignodes" for "confignode"?');
  });

  test('a misspelt exclusion is an error, not a silent run on the host', () => {
    const err = inputError(() => selectHosts(inventory(), 'all,!datanode'));
    expect(err.message).toContain('"datanode"');
    expect(err.hint).toContain('"datanodes"');
  });

  test('a name with nothing close lists the groups and hosts', () => {
    expect(inputError(() => selectHosts(inventory(), 'zzzzzz')).hint).toBe(
      'groups: iotdb, confignodes, datanodes; hosts: node1, node2, node3, ctl',
    );
  });

  test('an empty pattern is an error', () => {
    expect(inputError(() => selectHosts(inventory(), ' , ')).message).toContain('names no hosts');
  });

  test('a play\'s hosts: error points at the play', () => {
    const location = { file: 'site.yaml', line: 3, col: 10, lineText: '- hosts: confignode' };
    const err = inputError(() => resolvePlayHosts(inventory(), 'confignode', location));
    expect(err.format().split('\n')[0]).toBe(`site.yaml:3:10: no host, group or alias named "confignode" in the inventory ${fixture('runbook.yaml')}`);
    expect(err.hint).toBe('did you mean "confignodes"?');
    expect(resolvePlayHosts(inventory(), ['confignodes', 'ctl'])).toEqual(['node1', 'node2', 'ctl']);
  });
});
