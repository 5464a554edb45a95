// The steps every topology adapter shares (engine/products/common.ts and
// paths.ts): the clash checks find what the adapters report, local files say
// why they cannot be used, and a factory password reveals itself without
// teaching the masker to hide a common word.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { FactoryDefaultPassword, folderClashes, localFileProblem, portClashes } from '../../../engine/products/common.js';
import { isInside, normaliseDir, outermost } from '../../../engine/products/paths.js';
import { secretMasker } from '../../../engine/secret.js';
import { tempFiles } from '../inventory/helpers.js';

describe('portClashes', () => {
  test('pairs a listener with the first one on its machine and port, and suggests a port nothing there uses', () => {
    const listeners = [
      { name: 'a', machine: 'm1', port: 6030 },
      { name: 'b', machine: 'm1', port: 6031 },
      { name: 'c', machine: 'm2', port: 6030 },
      { name: 'd', machine: 'm1', port: 6030 },
    ];
    const clashes = portClashes(listeners, (l) => l.machine);
    expect(clashes.map((c) => [c.listener.name, c.first.name, c.free])).toEqual([['d', 'a', 6032]]);
  });

  test('reports every later listener against the first one', () => {
    const listeners = ['a', 'b', 'c'].map((name) => ({ name, machine: 'm', port: 80 }));
    expect(portClashes(listeners, (l) => l.machine).map((c) => [c.listener.name, c.first.name])).toEqual([
      ['b', 'a'],
      ['c', 'a'],
    ]);
  });
});

describe('folderClashes', () => {
  test('finds one folder, or one inside the other, of two owners on one machine; once per later folder', () => {
    const dirs = [
      { owner: 'dnode1', address: 'm1', dir: '/var/lib/taos' },
      { owner: 'dnode1', address: 'm1', dir: '/var/lib/taos/sub' },
      { owner: 'dnode2', address: 'm2', dir: '/var/lib/taos' },
      { owner: 'dnode3', address: 'm1', dir: '/var/lib/taos/log' },
      { owner: 'dnode4', address: 'm1', dir: '/var/lib' },
    ];
    const found = folderClashes(dirs).map((c) => [c.later.owner, c.earlier.owner, c.how]);
    expect(found).toEqual([
      ['dnode3', 'dnode1', 'use /var/lib/taos/log and /var/lib/taos, one inside the other'],
      ['dnode4', 'dnode1', 'use /var/lib and /var/lib/taos, one inside the other'],
    ]);
  });

  test('says "both use" for the very same folder', () => {
    const dirs = [
      { owner: 'a', address: 'm', dir: '/opt/x' },
      { owner: 'b', address: 'm', dir: '/opt/x' },
    ];
    expect(folderClashes(dirs).map((c) => c.how)).toEqual(['both use /opt/x']);
  });
});

describe('paths', () => {
  test('isInside compares folders, not strings', () => {
    expect(isInside('/opt/taos', '/opt/taos')).toBe(true);
    expect(isInside('/opt/taos/log', '/opt/taos/')).toBe(true);
    expect(isInside('/opt/taosadapter', '/opt/taos')).toBe(false);
    expect(isInside('/anything', '/')).toBe(true);
  });

  test('normaliseDir and outermost', () => {
    expect(normaliseDir('/data//x/../y/')).toBe('/data/y');
    expect(normaliseDir('/')).toBe('/');
    expect(outermost(['/a/b', '/a', '/c', '/a', '/c/d'])).toEqual(['/a', '/c']);
  });
});

describe('localFileProblem', () => {
  test('a readable file has none; a folder, or nothing, says why', () => {
    const dir = tempFiles({ 'pkg.tar.gz': '' });
    mkdirSync(join(dir, 'folder'));
    expect(localFileProblem(join(dir, 'pkg.tar.gz'))).toBeUndefined();
    expect(localFileProblem(join(dir, 'folder'))).toBe('is not a file');
    expect(localFileProblem(join(dir, 'folder'), 'file-or-dir')).toBeUndefined();
    expect(localFileProblem(join(dir, 'missing'))).toBe('does not exist');
  });
});

describe('FactoryDefaultPassword', () => {
  test('reveals the factory password, prints as a mask, and leaves the word unmasked elsewhere', () => {
    const word = `factory${process.pid}word`;
    const p = new FactoryDefaultPassword(word, 'Product default');
    expect(p.reveal()).toBe(word);
    expect(String(p)).not.toContain(word);
    expect(JSON.stringify({ p })).not.toContain(word);
    expect(p.origin).toBe('Product default');
    expect(secretMasker.mask(`host ${word}.example.com`)).toBe(`host ${word}.example.com`);
  });
});
