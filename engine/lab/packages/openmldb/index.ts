// The simulated OpenMLDB package (openmldb-<version>-linux.tar.gz).
//
// build(dir) lays out the release folder: bin/, conf/, sbin/, tools/, logs/,
// and lib/openmldb-sim/ with the compiled simulator
// (engine/lab/packages/openmldb/sim/*.ts, compiled by `npm run build`).
// lib/openmldb-sim-version.txt decides the version the servers report, so an
// upgrade test can build a second package with another version.

import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../../paths.js';
import { compiledServerText } from '../../compiled.js';
import type { SimulatedPackage } from '../types.js';
import { packageFiles } from './layout.js';

export const DEFAULT_OPENMLDB_VERSION = '0.8.3';

/** The simulator's modules: from the source when this is a checkout (so none is forgotten), else from dist/. */
async function simulatorModules(): Promise<string[]> {
  const src = join(packageRoot, 'engine', 'lab', 'packages', 'openmldb', 'sim');
  const dist = join(packageRoot, 'dist', 'engine', 'lab', 'packages', 'openmldb', 'sim');
  const [dir, ext] = existsSync(src) ? [src, '.ts'] : [dist, '.js'];
  const names = existsSync(dir) ? (await readdir(dir)).filter((f) => f.endsWith(ext) && !f.endsWith('.d.ts')).map((f) => f.slice(0, -ext.length)) : [];
  return names.length > 0 ? names : ['main'];
}

export function openmldbPackage(version: string = DEFAULT_OPENMLDB_VERSION): SimulatedPackage {
  const topDir = `openmldb-${version}-linux`;
  return {
    product: 'openmldb',
    version: `${version} (simulated by runbook)`,
    archiveName: `${topDir}.tar.gz`,
    topDir,
    format: 'tar.gz',
    description:
      `Simulated OpenMLDB ${version} cluster release: bin/start.sh per component, one-click sbin/start-all.sh and stop-all.sh with conf/hosts, ` +
      'servers that register in a real ZooKeeper, the documented start order, auto_failover, sql_client/ns_client and tools/openmldb_ops.py recoverdata.',
    async build(dir: string): Promise<void> {
      for (const file of packageFiles(version)) {
        const path = join(dir, file.path);
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, file.text);
        await chmod(path, file.mode);
      }
      const lib = join(dir, 'lib', 'openmldb-sim');
      await mkdir(lib, { recursive: true });
      // Each module is checked to be compiled and not older than its source.
      for (const name of await simulatorModules()) await writeFile(join(lib, `${name}.js`), compiledServerText('openmldb', `sim/${name}`));
      // lib/ is in no package.json scope once unpacked; this marks the simulator's files as ES modules.
      await writeFile(join(lib, 'package.json'), JSON.stringify({ name: 'openmldb-sim', private: true, type: 'module', description: 'Simulated OpenMLDB runtime (runbook test double)' }, null, 2) + '\n');
      await writeFile(join(dir, 'lib', 'openmldb-sim-version.txt'), `# Version reported by the simulated OpenMLDB servers in this lib/ (runbook test double).\nversion=${version}\n`);
    },
  };
}

const openmldb: SimulatedPackage = openmldbPackage();
export default openmldb;
