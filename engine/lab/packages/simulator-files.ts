// What the simulated products' package builders share. They write the
// product's own files (scripts, configs) from its layout.ts, and copy
// compiled simulators into their archives: a product's sim/ into
// lib/<product>-sim/, and the plumbing the sims share (sim-common/) beside
// that lib/, because the sims import it as `../../sim-common/…`, the path
// that leads from packages/<product>/sim/ to packages/sim-common/ in dist/ as
// well. Each module is checked to be compiled and not older than its source,
// sim-common's too, so no archive ships stale code.

import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../paths.js';
import { compiledServerText } from '../compiled.js';

export const SIM_COMMON = 'sim-common';

/** A file of the archive, relative to its top folder. */
export interface PackageFile {
  path: string;
  text: string;
  mode: number;
}

export async function writePackageFiles(top: string, files: readonly PackageFile[]): Promise<void> {
  for (const file of files) {
    const path = join(top, file.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, file.text);
    await chmod(path, file.mode);
  }
}

/** The modules of engine/lab/packages/<folder>/: from the source in a checkout (so none is forgotten), else from dist/. */
async function modules(folder: string): Promise<string[]> {
  const src = join(packageRoot, 'engine', 'lab', 'packages', folder);
  const dist = join(packageRoot, 'dist', 'engine', 'lab', 'packages', folder);
  const [dir, ext] = existsSync(src) ? [src, '.ts'] : [dist, '.js'];
  const names = existsSync(dir) ? (await readdir(dir)).filter((f) => f.endsWith(ext) && !f.endsWith('.d.ts')).map((f) => f.slice(0, -ext.length)) : [];
  // compiledServerText reports a missing dist/ with the `npm run build` hint.
  return names.length > 0 ? names : ['main'];
}

async function writeModules(product: string, folder: string, to: string, pkg: { name: string; description: string }): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const name of await modules(folder)) await writeFile(join(to, `${name}.js`), compiledServerText(product, name, folder));
  // The archive is in no package.json scope once unpacked; this marks the files as ES modules.
  await writeFile(join(to, 'package.json'), JSON.stringify({ name: pkg.name, private: true, type: 'module', description: pkg.description }, null, 2) + '\n');
}

/** engine/lab/packages/<product>/sim/, compiled, into `to` (the archive's lib/<product>-sim/). */
export async function writeSimulator(product: string, to: string, pkg: { name: string; description: string }): Promise<void> {
  await writeModules(product, join(product, 'sim'), to, pkg);
}

/** sim-common, compiled, into <top>/sim-common/, for the sims in <top>/lib/<product>-sim/. */
export async function writeSimCommon(product: string, top: string): Promise<void> {
  await writeModules(product, SIM_COMMON, join(top, SIM_COMMON), {
    name: SIM_COMMON,
    description: `Plumbing shared by runbook's simulated products, here for the simulated ${product} in lib/ (runbook test double)`,
  });
}
