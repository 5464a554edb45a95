import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { SourceFile } from '../../../engine/source.js';
import { findAdapter, registerProductAdapter, unregisterProductAdapter } from '../../../engine/inventory/adapters.js';
import { loadInventory } from '../../../engine/inventory/load.js';
import type { Inventory, ProductAdapter } from '../../../engine/inventory/types.js';
import { inputError, tempFiles } from './helpers.js';

/** A product whose topology is `toy_nodes: [ip, …]`; each node is a host with an ip:port alias. */
function toyAdapter(product = 'toy'): ProductAdapter & { loaded: number } {
  const adapter = {
    product,
    loaded: 0,
    recognises: (doc: Record<string, unknown>) => 'toy_nodes' in doc,
    load(source: SourceFile, doc: Record<string, unknown>): Inventory {
      adapter.loaded++;
      const ips = doc.toy_nodes as string[];
      const hosts = new Map(
        ips.map((ip, i) => [
          `toy${i + 1}`,
          {
            name: `toy${i + 1}`,
            address: ip,
            port: 22,
            user: 'toy',
            auth: {},
            connection: 'ssh' as const,
            groups: ['toys'],
            vars: { ip },
            aliases: [`${ip}:7000`],
          },
        ]),
      );
      return { path: source.path, vars: {}, hosts, groups: new Map([['toys', { name: 'toys', hosts: [...hosts.keys()], vars: {} }]]) };
    },
  };
  return adapter;
}

describe('product adapters', () => {
  test('product: <name> dispatches to that adapter, and the inventory names the product', () => {
    const toy = toyAdapter();
    const dir = tempFiles({ 'cluster.yaml': 'product: toy\ntoy_nodes: [10.0.0.1, 10.0.0.2]\n' });
    const inv = loadInventory(join(dir, 'cluster.yaml'), { extraAdapters: [toy] });
    expect(toy.loaded).toBe(1);
    expect(inv.product).toBe('toy');
    expect([...inv.hosts.keys()]).toEqual(['toy1', 'toy2']);
    expect(inv.hosts.get('toy2')!.aliases).toEqual(['10.0.0.2:7000']);
  });

  test('a registered adapter recognises its topology without product:', () => {
    const toy = toyAdapter('toy-registered');
    registerProductAdapter(toy);
    try {
      const dir = tempFiles({ 'cluster.yaml': 'toy_nodes: [10.0.0.9]\n' });
      const inv = loadInventory(join(dir, 'cluster.yaml'));
      expect(toy.loaded).toBe(1);
      expect(inv.product).toBe('toy-registered');
      expect(findAdapter({ toy_nodes: [] })).toBe(toy);
    } finally {
      unregisterProductAdapter('toy-registered');
    }
    expect(findAdapter({ toy_nodes: [] })).toBeUndefined();
  });

  test('an extra adapter overrides a registered one for the same product', () => {
    const registered = toyAdapter('toy-x');
    const extra = toyAdapter('toy-x');
    registerProductAdapter(registered);
    try {
      expect(findAdapter({ product: 'toy-x' }, [extra])).toBe(extra);
    } finally {
      unregisterProductAdapter('toy-x');
    }
  });

  test('an adapter inventory keeps its source out of JSON but dumps its hosts', () => {
    const dir = tempFiles({ 'cluster.yaml': 'product: toy\ntoy_nodes: [10.0.0.1]\n' });
    const inv = loadInventory(join(dir, 'cluster.yaml'), { extraAdapters: [toyAdapter()] });
    expect(inv.source?.path).toBe(join(dir, 'cluster.yaml'));
    const json = JSON.parse(JSON.stringify(inv));
    expect(json.source).toBeUndefined();
    expect(json.hosts.map((h: { name: string }) => h.name)).toEqual(['toy1']);
  });

  test('an unknown product is an error at the product line with the close name', () => {
    const dir = tempFiles({ 'cluster.yaml': 'toy_nodes: []\nproduct: toyy\n' });
    const err = inputError(() => loadInventory(join(dir, 'cluster.yaml'), { extraAdapters: [toyAdapter()] }));
    expect(err.format()).toContain(`${join(dir, 'cluster.yaml')}:2:10: no adapter for product "toyy"`);
    expect(err.format()).toContain('hint: did you mean "toy"?');
  });
});

describe('unrecognised files', () => {
  test('a mapping in none of the three forms is an error at line 1 naming them', () => {
    const dir = tempFiles({ 'x.yaml': 'servers:\n  - a\n' });
    const text = inputError(() => loadInventory(join(dir, 'x.yaml'))).format();
    expect(text).toContain(`${join(dir, 'x.yaml')}:1:1: runbook cannot tell what kind of inventory this is; an inventory is one of three forms`);
    expect(text).toContain('runbook form: top-level hosts:, groups:, ssh: and vars:');
    expect(text).toContain('Ansible YAML inventory: top-level all:');
    expect(text).toContain('product topology: product: <name>');
  });

  test('an empty file and a list are refused the same way', () => {
    const dir = tempFiles({ 'empty.yaml': '# nothing\n', 'list.yaml': '- a\n- b\n' });
    expect(inputError(() => loadInventory(join(dir, 'empty.yaml'))).format()).toContain(`${join(dir, 'empty.yaml')}:1:1: the inventory is empty`);
    expect(inputError(() => loadInventory(join(dir, 'list.yaml'))).format()).toContain(
      `${join(dir, 'list.yaml')}:1:1: the inventory must be a mapping, not a list`,
    );
  });

  test('a missing file says so', () => {
    expect(inputError(() => loadInventory('/nonexistent/inventory.yaml')).message).toBe('cannot read /nonexistent/inventory.yaml: no such file');
  });
});
