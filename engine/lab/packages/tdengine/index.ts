// The simulated TDengine package (TDengine-server-<version>-Linux-x64.tar.gz).
//
// build(dir) lays out the vendor's folder: install.sh, bin/ (taosd, taos,
// taosadapter, taoskeeper, taos-explorer), cfg/ (taos.cfg, taosadapter.toml,
// taoskeeper.toml, explorer.toml), driver/, include/,
// examples/. lib/taos-sim/ holds the compiled simulator
// (engine/lab/packages/tdengine/sim/*.ts, compiled by `npm run build`),
// sim-common/ the plumbing it shares with the other simulated products.

import { join } from 'node:path';
import { writePackageFiles, writeSimCommon, writeSimulator } from '../simulator-files.js';
import type { SimulatedPackage } from '../types.js';
import { packageFiles } from './layout.js';

export const DEFAULT_TDENGINE_VERSION = '3.3.2.0';

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
      await writePackageFiles(dir, packageFiles(version));
      await writeSimulator('tdengine', join(dir, 'lib', 'taos-sim'), { name: 'taos-sim', description: 'Simulated TDengine runtime (runbook test double)' });
      await writeSimCommon('tdengine', dir);
    },
  };
}

const tdengine: SimulatedPackage = tdenginePackage();
export default tdengine;
