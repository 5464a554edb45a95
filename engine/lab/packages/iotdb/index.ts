// The simulated Apache IoTDB package (apache-iotdb-<version>-all-bin.zip).
//
// build(dir) lays out the vendor's folder: conf/, data/, lib/, licenses/,
// logs/, sbin/, tools/. lib/iotdb-sim/ holds the compiled simulator
// (engine/lab/packages/iotdb/sim/*.ts, compiled by `npm run build`), and
// lib/iotdb-sim-version.txt decides the version the nodes report, so an
// upgrade test can swap lib/ for one built by buildIotdbLib(dir, '1.3.1').

import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../../paths.js';
import { compiledServerText } from '../../compiled.js';
import type { SimulatedPackage } from '../types.js';
import { packageFiles, placeholderJars } from './layout.js';
import { renderSystemProperties } from './sim/spec.js';

export const DEFAULT_IOTDB_VERSION = '1.3.0';
export const BUILD_INFO = 'simulated';

/** Where `npm run build` puts the compiled simulator. */
export function compiledSimulatorDir(): string {
  return join(packageRoot, 'dist', 'engine', 'lab', 'packages', 'iotdb', 'sim');
}

/** The simulator's modules: from the source when this is a checkout (so none is forgotten), else from dist/. */
async function simulatorModules(): Promise<string[]> {
  const src = join(packageRoot, 'engine', 'lab', 'packages', 'iotdb', 'sim');
  const [dir, ext] = existsSync(src) ? [src, '.ts'] : [compiledSimulatorDir(), '.js'];
  const names = existsSync(dir) ? (await readdir(dir)).filter((f) => f.endsWith(ext) && !f.endsWith('.d.ts')).map((f) => f.slice(0, -ext.length)) : [];
  // compiledServerText reports a missing dist/ with the `npm run build` hint.
  return names.length > 0 ? names : ['main'];
}

/** Write lib/ for `version`: the simulator, its version file and placeholder jars. */
export async function buildIotdbLib(libDir: string, version: string = DEFAULT_IOTDB_VERSION): Promise<void> {
  const to = join(libDir, 'iotdb-sim');
  await mkdir(to, { recursive: true });
  // Each module is checked to be compiled and not older than its source.
  for (const name of await simulatorModules()) await writeFile(join(to, `${name}.js`), compiledServerText('iotdb', `sim/${name}`));
  // lib/ is not inside any package.json scope once unzipped; this marks the simulator's files as ES modules.
  await writeFile(
    join(to, 'package.json'),
    JSON.stringify({ name: 'iotdb-sim', private: true, type: 'module', description: 'Simulated Apache IoTDB runtime (runbook test double)' }, null, 2) + '\n',
  );
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
      for (const file of packageFiles(version, renderSystemProperties())) {
        const path = join(dir, file.path);
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, file.text);
        await chmod(path, file.mode);
      }
      await buildIotdbLib(join(dir, 'lib'), version);
    },
  };
}

const iotdb: SimulatedPackage = iotdbPackage();
export default iotdb;
