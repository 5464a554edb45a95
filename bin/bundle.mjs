#!/usr/bin/env node
// The second half of `npm run build`: after tsc has compiled everything into
// dist/, bundle the CLI (dist/bin/cli.js, everything it imports and the
// dependencies those import) into one CommonJS file, dist/bundle/cli.cjs,
// which is what bin/runbook runs.
//
// Why one file: Node resolves, reads and compiles every ES module file on its
// own, and `runbook play` imported 226 of ours plus its dependencies' files.
// Bundled as ES module chunks, the bench's warm rerun on six hosts reached its
// first event after 522 ms instead of 639 ms (median of 7).
//
// Why CommonJS: Node 20 keeps no compiled code for ES modules between runs,
// but compiles a CommonJS script through vm.Script, which takes and produces
// V8's code cache. bin/runbook keeps that cache per command under
// ~/.runbook/cache/v8/; with it, `runbook play` on six hosts reached its first
// event after 282 ms instead of 408 ms with the ES module chunks (334 ms as
// one CommonJS file without the cache; medians of 7). The lazy imports stay
// lazy: esbuild wraps each lazily imported module in a function that runs on
// the first import, so `play` still never runs the lab's code. Every import()
// becomes a require() (`dynamic-import: false`): a script compiled by
// vm.Script has no way to load an ES module.
//
// Left out of the bundle, and loaded from node_modules as usual:
// - compiled addons: ssh2's crypto binding is required by its path in
//   node_modules (see nativeAddonsInPlace), and cpu-features, which ssh2
//   loads, stays out whole. ssh2 itself is bundled, so its code is in the
//   code cache too: `play` on six hosts reached its first event 6-21 ms
//   sooner (medians of 11 and 15 interleaved runs);
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
import { existsSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');

rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['dist/bin/cli.js'],
  outfile: join(outdir, 'cli.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  supported: { 'dynamic-import': false },
  external: ['cpu-features', 'diff'],
  // Our code finds the package root (engine/paths.ts) and loads diff relative
  // to its own file; in the bundle that file is cli.cjs.
  define: { 'import.meta.url': '__runbookFileUrl' },
  banner: { js: "var __runbookFileUrl = require('node:url').pathToFileURL(__filename).href;" },
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [loadedOnFirstCall('string-width'), nativeAddonsInPlace()],
});

/**
 * An esbuild plugin: a compiled addon (`require('./x.node')`) stays where npm
 * put it, and the bundle requires it by its path from dist/bundle/. ssh2 loads
 * its crypto binding that way, inside a try: a path that did not resolve
 * would leave it on slower JavaScript crypto without a word, so the build
 * warns when an addon the bundle names is not there.
 * @returns {import('esbuild').Plugin}
 */
function nativeAddonsInPlace() {
  return {
    name: 'native-addons-in-place',
    setup(b) {
      b.onResolve({ filter: /\.node$/ }, (args) => {
        const file = resolvePath(args.resolveDir, args.path);
        // Not built (npm could not compile it): the require fails as it would have in node_modules.
        const warnings = existsSync(file) ? [] : [{ text: `${file} is missing: its package falls back to slower JavaScript (rebuild it with \`npm rebuild\`)` }];
        return { path: `./${relative(outdir, file)}`.replace(/^\.\/\.\.\//, '../'), external: true, warnings };
      });
    },
  };
}

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
