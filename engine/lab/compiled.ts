// Simulated products ship small servers written in TypeScript. `npm run build`
// compiles them into dist/, and package builders copy the compiled file into
// the archive, because lab hosts run plain `node`, not a TypeScript loader.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { packageRoot } from '../paths.js';
import { LabError } from './errors.js';

/**
 * Path of the compiled form of engine/lab/packages/<folder>/<name>.ts, after
 * checking it exists and is not older than its source. The folder is the
 * product's own unless the product ships a shared one (sim-common).
 */
export function compiledServer(product: string, name: string, folder: string = product): string {
  const js = join(packageRoot, 'dist', 'engine', 'lab', 'packages', folder, `${name}.js`);
  const ts = join(packageRoot, 'engine', 'lab', 'packages', folder, `${name}.ts`);
  const hint = `run \`npm run build\` in ${packageRoot}, then build the package again`;
  if (!existsSync(js)) {
    throw new LabError('not-built', `the simulated ${product} package needs ${relative(packageRoot, js)}, which has not been compiled`, { hint });
  }
  // Only a source checkout has the .ts next to dist/; an installed copy has just dist/.
  if (existsSync(ts) && statSync(ts).mtimeMs > statSync(js).mtimeMs) {
    throw new LabError('not-built', `${relative(packageRoot, js)} is older than its source ${relative(packageRoot, ts)}, so the package would ship stale code`, { hint });
  }
  return js;
}

/** The compiled server's text, without the source-map comment that would point at a file the archive lacks. */
export function compiledServerText(product: string, name: string, folder: string = product): string {
  return readFileSync(compiledServer(product, name, folder), 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
}
