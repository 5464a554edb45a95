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
// string-width (imported by yargs, its cliui and listr2) builds an
// Intl.Segmenter and compiles a regular expression of every emoji sequence
// when it is loaded: 38 ms of every start, though only help text and the
// terminal tree ever measure a string. In the bundle each import of it gets a
// stand-in that loads the real module (the version that importer asked for)
// on the first call.
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
  plugins: [loadedOnFirstCall('string-width')],
});

/**
 * An esbuild plugin: every import of `name` gets a module whose default export
 * requires the real one on its first call. esbuild wraps a module that is
 * require()d in a function run on the first require, so the real module's
 * top level waits until then.
 * @param {string} name
 * @returns {import('esbuild').Plugin}
 */
function loadedOnFirstCall(name) {
  const namespace = `first-call-${name}`;
  return {
    name: namespace,
    setup(b) {
      b.onResolve({ filter: new RegExp(`^${name}$`) }, async (args) => {
        if (args.pluginData === namespace) return undefined;
        const real = await b.resolve(name, { resolveDir: args.resolveDir, kind: args.kind, pluginData: namespace });
        if (real.errors.length > 0) return { errors: real.errors };
        return { path: real.path, namespace };
      });
      b.onLoad({ filter: /.*/, namespace }, (args) => ({
        contents: `let real;\nexport default function firstCall(...a) {\n  real ??= require(${JSON.stringify(args.path)}).default;\n  return real(...a);\n}\n`,
        resolveDir: root,
        loader: 'js',
      }));
    },
  };
}
