// The bundle bin/runbook runs (bin/bundle.mjs): compiled addons stay in
// node_modules and are required by their path from dist/bundle/. ssh2 loads its
// crypto binding inside a try, so a wrong path would only show as slower
// transfers; here it shows as a failure.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const bundle = join(import.meta.dirname, '..', '..', 'dist', 'bundle', 'cli.cjs');

describe('dist/bundle/cli.cjs', () => {
  const source = readFileSync(bundle, 'utf8');
  const addons = [...source.matchAll(/require\("([^"]+\.node)"\)/g)].map((m) => m[1]!);

  it("requires ssh2's crypto binding where npm built it", () => {
    const crypto = addons.filter((a) => a.endsWith('/sshcrypto.node'));
    expect(crypto).toHaveLength(1);
    expect(existsSync(resolve(dirname(bundle), crypto[0]!))).toBe(true);
  });

  it('names every compiled addon by a path that resolves from its own folder', () => {
    for (const addon of addons) {
      expect(addon.startsWith('../'), addon).toBe(true);
      expect(existsSync(resolve(dirname(bundle), addon)), addon).toBe(true);
    }
  });

  it('is a script: no import() is left for vm.Script to fail on', () => {
    // esbuild turns every import() into a require() (`dynamic-import: false`); a real one would throw at run time.
    expect(source).not.toMatch(/[^\w.$]import\(\s*["'`][^"'`]*["'`]\s*\)/);
  });
});
