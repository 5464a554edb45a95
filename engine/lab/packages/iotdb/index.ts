// The simulated Apache IoTDB package (apache-iotdb-<version>-all-bin.zip).
//
// build(dir) lays out the vendor's folder: conf/, data/, lib/, licenses/,
// logs/, sbin/, tools/. lib/iotdb-sim/ holds the compiled simulator
// (engine/lab/packages/iotdb/sim/*.ts, compiled by `npm run build`), sim-common/
// the plumbing it shares with the other simulated products, and
// lib/iotdb-sim-version.txt decides the version the nodes report, so an
// upgrade test can swap lib/ for one built by buildIotdbLib(dir, '1.3.1')
// (the swapped lib/ uses the sim-common/ the package came with).

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageRoot } from '../../../paths.js';
import { writePackageFiles, writeSimCommon, writeSimulator } from '../simulator-files.js';
import type { SimulatedPackage } from '../types.js';
import { packageFiles, placeholderJars } from './layout.js';
import { renderSystemProperties } from './sim/spec.js';

export const DEFAULT_IOTDB_VERSION = '1.3.0';
export const BUILD_INFO = 'simulated';

/** Where `npm run build` puts the compiled simulator. */
export function compiledSimulatorDir(): string {
  return join(packageRoot, 'dist', 'engine', 'lab', 'packages', 'iotdb', 'sim');
}

/** Write lib/ for `version`: the simulator, its version file and placeholder jars. */
export async function buildIotdbLib(libDir: string, version: string = DEFAULT_IOTDB_VERSION): Promise<void> {
  await writeSimulator('iotdb', join(libDir, 'iotdb-sim'), { name: 'iotdb-sim', description: 'Simulated Apache IoTDB runtime (runbook test double)' });
  await writeFile(
    join(libDir, 'iotdb-sim-version.txt'),
    `# Version reported by the simulated IoTDB nodes in this lib/ (runbook test double).\nversion=${version}\nbuild_info=${BUILD_INFO}\n`,
  );
  for (const jar of placeholderJars(version)) {
    await writeFile(join(libDir, jar), `Placeholder for ${jar} in the simulated Apache IoTDB ${version} package built by runbook. Not a Java archive.\n`);
  }
}

export function iotdbPackage(version: string = DEFAULT_IOTDB_VERSION): SimulatedPackage {
  const topDir = `apache-iotdb-${version}-all-bin`;
  return {
    product: 'iotdb',
    version: `${version} (simulated by runbook)`,
    archiveName: `${topDir}.zip`,
    topDir,
    format: 'zip',
    description:
      `Simulated Apache IoTDB ${version} cluster distribution: ConfigNode/DataNode scripts, iotdb-system.properties, ` +
      'documented ports and seed/replication rules, show cluster, remove-confignode/remove-datanode, standalone scripts.',
    async build(dir: string): Promise<void> {
      for (const d of ['conf', 'data', 'lib', 'licenses', 'logs', 'sbin', 'tools']) await mkdir(join(dir, d), { recursive: true });
      await writePackageFiles(dir, packageFiles(version, renderSystemProperties()));
      await buildIotdbLib(join(dir, 'lib'), version);
      await writeSimCommon('iotdb', dir);
    },
  };
}

const iotdb: SimulatedPackage = iotdbPackage();
export default iotdb;
