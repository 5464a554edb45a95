// The simulated TDengine package (TDengine-server-<version>-Linux-x64.tar.gz).
//
// build(dir) lays out the vendor's folder: install.sh, bin/ (taosd, taos,
// taosadapter, taoskeeper, taos-explorer), cfg/ (taos.cfg, taosadapter.toml,
// taoskeeper.toml, explorer.toml), driver/, include/,
// examples/. lib/taos-sim/ holds the compiled simulator
// (engine/lab/packages/tdengine/sim/*.ts, compiled by `npm run build`).

import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../../paths.js';
import { compiledServerText } from '../../compiled.js';
import type { SimulatedPackage } from '../types.js';
import { packageFiles } from './layout.js';

export const DEFAULT_TDENGINE_VERSION = '3.3.2.0';

/** Where `npm run build` puts the compiled simulator. */
export function compiledSimulatorDir(): string {
  return join(packageRoot, 'dist', 'engine', 'lab', 'packages', 'tdengine', 'sim');
}

/** The simulator's modules: from the source in a checkout (so none is forgotten), else from dist/. */
async function simulatorModules(): Promise<string[]> {
  const src = join(packageRoot, 'engine', 'lab', 'packages', 'tdengine', 'sim');
  const [dir, ext] = existsSync(src) ? [src, '.ts'] : [compiledSimulatorDir(), '.js'];
  const names = existsSync(dir) ? (await readdir(dir)).filter((f) => f.endsWith(ext) && !f.endsWith('.d.ts')).map((f) => f.slice(0, -ext.length)) : [];
  return names.length > 0 ? names : ['main'];
}

export function tdenginePackage(version: string = DEFAULT_TDENGINE_VERSION): SimulatedPackage {
  const topDir = `TDengine-server-${version}`;
  return {
    product: 'tdengine',
    version: `${version} (simulated by runbook)`,
    archiveName: `${topDir}-Linux-x64.tar.gz`,
    topDir,
    format: 'tar.gz',
    description:
      `Simulated TDengine ${version} server package: taosd (firstEp, create dnode, must-match parameters, up to 3 mnodes), ` +
      'the taos client (show dnodes, show mnodes, create dnode, create mnode on dnode), taosAdapter on 6041, taosKeeper on 6043 and taos-Explorer on 6060.',
    async build(dir: string): Promise<void> {
      for (const file of packageFiles(version)) {
        const path = join(dir, file.path);
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, file.text);
        await chmod(path, file.mode);
      }
      const lib = join(dir, 'lib', 'taos-sim');
      await mkdir(lib, { recursive: true });
      // Each module is checked to be compiled and not older than its source.
      for (const name of await simulatorModules()) await writeFile(join(lib, `${name}.js`), compiledServerText('tdengine', `sim/${name}`));
      // lib/ is in no package.json scope once unpacked; this marks the simulator's files as ES modules.
      await writeFile(join(lib, 'package.json'), JSON.stringify({ name: 'taos-sim', private: true, type: 'module', description: 'Simulated TDengine runtime (runbook test double)' }, null, 2) + '\n');
    },
  };
}

const tdengine: SimulatedPackage = tdenginePackage();
export default tdengine;
