// The simulated DolphinDB package (DolphinDB_Linux64_V<version>.zip).
//
// build(dir) lays out the vendor's server/ folder: the dolphindb program,
// dolphindb.lic (community trial), dolphindb.cfg, clusterDemo/ with config/,
// the start/stop scripts, data/ and log/. lib/ddb-sim/ holds the compiled
// simulator (engine/lab/packages/dolphindb/sim/*.ts, compiled by `npm run
// build`) and version.txt, which decides the version the processes report,
// so `runbook lab package dolphindb --version V` builds another release;
// sim-common/ holds the plumbing it shares with the other simulated products.
// Beside the archive it writes two simulated enterprise licenses.

import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { LabError } from '../../errors.js';
import { writePackageFiles, writeSimCommon, writeSimulator } from '../simulator-files.js';
import type { SimulatedPackage } from '../types.js';
import { packageFiles } from './layout.js';
import { ddbDate, licenseText, type License, type LicenseType } from './sim/license.js';

export const DEFAULT_DOLPHINDB_VERSION = '2.00.11.3';
/** The build date version() reports (fixed, so the same version always gives the same archive). */
const BUILD_DATE = '2024.01.01';

export const ENTERPRISE_LICENSE = 'dolphindb-enterprise.lic';
export const RENEWED_LICENSE = 'dolphindb-enterprise-renewed.lic';
export const LAB_CUSTOMER = 'runbook lab';

export interface LicenseOptions {
  customer?: string;
  type?: LicenseType;
  /** A date, or `YYYY.MM.DD`. Default: one year from now. */
  expiration?: Date | string;
  maxNodes?: number;
  maxCores?: number;
  maxMemoryPerNode?: number;
}

const DAY_MS = 86_400_000;

/** The text of a simulated license; defaults are the lab's enterprise license. */
export function dolphindbLicense(o: LicenseOptions = {}): string {
  const exp = o.expiration ?? new Date(Date.now() + 365 * DAY_MS);
  const l: License = {
    type: o.type ?? 'commercial',
    customer: o.customer ?? LAB_CUSTOMER,
    maxNodes: o.maxNodes ?? 8,
    maxCores: o.maxCores ?? 64,
    maxMemoryPerNode: o.maxMemoryPerNode ?? 256,
    expiration: typeof exp === 'string' ? exp : ddbDate(exp),
  };
  return licenseText(l);
}

/** Write a simulated license file (tests use it for customers, types, limits and expiries of their choice). */
export async function writeDolphindbLicense(path: string, o: LicenseOptions = {}): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, dolphindbLicense(o));
  return path;
}

export function dolphindbPackage(version: string = DEFAULT_DOLPHINDB_VERSION): SimulatedPackage {
  if (!/^\d+(?:\.\d+){1,3}$/.test(version)) {
    throw new LabError('bad-input', `${JSON.stringify(version)} is not a DolphinDB version; give one like ${DEFAULT_DOLPHINDB_VERSION}`);
  }
  return {
    product: 'dolphindb',
    version: `${version} (simulated by runbook)`,
    archiveName: `DolphinDB_Linux64_V${version}.zip`,
    topDir: 'server',
    format: 'zip',
    description:
      `Simulated DolphinDB ${version} server: controller, agents, data and compute nodes started through the controller, ` +
      'the document\'s failure modes (port in use, blank cluster.nodes line, <ALIAS> misuse, wrong controllerSite), ' +
      'licenses (getAllLicenses, updateAllLicenses), versioned DFS metadata, and terminal mode for scripts.',
    withVersion: (v) => dolphindbPackage(v),
    async besides(outDir: string): Promise<string[]> {
      const now = Date.now();
      const first = join(outDir, ENTERPRISE_LICENSE);
      const renewed = join(outDir, RENEWED_LICENSE);
      await writeDolphindbLicense(first, { expiration: new Date(now + 365 * DAY_MS) });
      await writeDolphindbLicense(renewed, { expiration: new Date(now + 2 * 365 * DAY_MS) });
      return [first, renewed];
    },
    async build(dir: string): Promise<void> {
      await writePackageFiles(dir, packageFiles(version));
      for (const d of ['clusterDemo/data', 'clusterDemo/log']) await mkdir(join(dir, d), { recursive: true });
      const lib = join(dir, 'lib', 'ddb-sim');
      await writeSimulator('dolphindb', lib, { name: 'ddb-sim', description: 'Simulated DolphinDB runtime (runbook test double)' });
      await writeSimCommon('dolphindb', dir);
      await writeFile(join(lib, 'version.txt'), `# Version reported by the simulated DolphinDB in this lib/ (runbook test double).\nversion=${version}\nbuild=${BUILD_DATE}\n`);
    },
  };
}

const dolphindb: SimulatedPackage = dolphindbPackage();
export default dolphindb;
