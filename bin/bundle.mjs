#!/usr/bin/env node
// The second half of `npm run build`: after tsc has compiled everything into
// dist/, bundle the CLI (dist/bin/cli.js, everything it imports and the
// dependencies those import) into a few files under dist/bundle/, which is
// what bin/runbook runs.
//
// Why: Node resolves, reads and compiles every ES module file on its own, and
// `runbook play` imported 226 of ours plus its dependencies' files. Bundled,
// the bench's warm rerun on six hosts reached its first event after 522 ms
// instead of 639 ms (median of 7). The bundle keeps the CLI's lazy imports: each command's
// code is a chunk of its own, loaded only when that command runs.
//
// Left out of the bundle, and loaded from node_modules as usual:
// - ssh2 (and cpu-features, which it loads): it finds its compiled crypto
//   binding by a path relative to its own files, and falls back to slower
//   JavaScript crypto without a word when that path does not resolve;
// - diff: remote-files.ts loads it with require() only for --diff.
// Everything else runbook imports at run time is plain JavaScript.
//
// The simulated product packages (engine/lab/packages/*/) are not bundled:
// they are separate programs, copied from dist/ into the archives they build.

import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');

rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['dist/bin/cli.js'],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['ssh2', 'cpu-features', 'diff'],
  // CommonJS dependencies (handlebars, yaml's, yargs') call require() for Node's
  // own modules; an ES module has no require of its own, so each chunk gets one.
  banner: { js: "import { createRequire as __runbookCreateRequire } from 'node:module'; const require = __runbookCreateRequire(import.meta.url);" },
  legalComments: 'none',
  logLevel: 'warning',
});
