// The simulated OpenMLDB package (openmldb-<version>-linux.tar.gz).
//
// build(dir) lays out the release folder: bin/, conf/, sbin/, tools/, logs/,
// lib/openmldb-sim/ with the compiled simulator
// (engine/lab/packages/openmldb/sim/*.ts, compiled by `npm run build`), and
// sim-common/ with the plumbing it shares with the other simulated products.
// lib/openmldb-sim-version.txt decides the version the servers report, so an
// upgrade test can build a second package with another version.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writePackageFiles, writeSimCommon, writeSimulator } from '../simulator-files.js';
import type { SimulatedPackage } from '../types.js';
import { packageFiles } from './layout.js';

export const DEFAULT_OPENMLDB_VERSION = '0.8.3';

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
      await writePackageFiles(dir, packageFiles(version));
      await writeSimulator('openmldb', join(dir, 'lib', 'openmldb-sim'), { name: 'openmldb-sim', description: 'Simulated OpenMLDB runtime (runbook test double)' });
      await writeSimCommon('openmldb', dir);
      await writeFile(join(dir, 'lib', 'openmldb-sim-version.txt'), `# Version reported by the simulated OpenMLDB servers in this lib/ (runbook test double).\nversion=${version}\n`);
    },
  };
}

const openmldb: SimulatedPackage = openmldbPackage();
export default openmldb;
