// @ts-check
// The benchmark's product archive: a zip with one top folder shaped like a
// Java product's distribution (bin/ start and stop scripts, conf/, a lib/ of
// jars, a small server). The jars are AES-CTR keystream, so they are
// incompressible (every tool must move every byte) yet the same on every
// build: an unchanged archive keeps its sha256 and is not rebuilt.

import { createCipheriv, createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './proc.mjs';

export const TOP_DIR = 'bench-product-1.0.0';
export const ARCHIVE_NAME = `${TOP_DIR}.zip`;
/** Bump when the layout or content changes, so cached archives are rebuilt. */
const LAYOUT_VERSION = 1;
/** Inside zip's DOS date range; fixed so that rebuilding gives the same bytes. */
const FIXED_TIME = new Date('2001-01-01T00:00:00Z');
const here = dirname(fileURLToPath(import.meta.url));

/**
 * @typedef {object} BenchPackage
 * @property {string} path       the zip
 * @property {string} sha256
 * @property {number} bytes      size of the zip
 * @property {number} files      regular files inside
 * @property {boolean} rebuilt
 */

/**
 * Jar names and sizes: a few large jars and a long tail of small ones, as in
 * a real server distribution, scaled so that lib/ totals `totalBytes`.
 * @param {number} totalBytes
 * @returns {Array<{ name: string; bytes: number }>}
 */
export function jarPlan(totalBytes) {
  /** @type {Array<[string, number]>} */
  const weights = [
    ['bench-server-core-1.0.0.jar', 250],
    ['bench-storage-engine-1.0.0.jar', 90],
    ['bench-query-planner-1.0.0.jar', 80],
    ['bench-consensus-1.0.0.jar', 70],
  ];
  for (let i = 1; i <= 6; i++) weights.push([`bench-connector-${i}-1.0.0.jar`, 40]);
  // A tail of 60 third-party-sized jars, 0.5 ‰ to 1.2 % each.
  for (let i = 1; i <= 60; i++) weights.push([`dep-${String(i).padStart(2, '0')}-2.${i % 7}.${i % 5}.jar`, 0.5 + ((i * 37) % 23) / 2]);
  const sum = weights.reduce((n, [, w]) => n + w, 0);
  return weights.map(([name, w]) => ({ name, bytes: Math.max(1024, Math.round((totalBytes * w) / sum)) }));
}

/**
 * Incompressible, reproducible bytes: the AES-256-CTR keystream of a key
 * derived from the file's name.
 * @param {string} path @param {string} seed @param {number} bytes
 */
function writeKeystream(path, seed, bytes) {
  const key = createHash('sha256').update(`runbook-bench:${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(1 << 20);
  const chunks = [];
  for (let left = bytes; left > 0; left -= zeros.length) chunks.push(cipher.update(left >= zeros.length ? zeros : zeros.subarray(0, left)));
  writeFileSync(path, Buffer.concat(chunks));
}

/** @param {string} dir */
function writeTree(dir, /** @type {number} */ totalBytes) {
  for (const sub of ['bin', 'conf', 'lib', 'logs']) mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(join(dir, 'README.txt'), README);
  writeFileSync(join(dir, 'conf', 'server.properties'), '# bench-server settings; deployments template their own\nserver.name=unnamed\nserver.port=7070\nserver.listen=0.0.0.0\n');
  writeFileSync(join(dir, 'logs', '.keep'), '');
  copyFileSync(join(here, 'server.mjs'), join(dir, 'lib', 'bench-server.mjs'));
  for (const jar of jarPlan(totalBytes)) writeKeystream(join(dir, 'lib', jar.name), jar.name, jar.bytes);
  for (const [name, text] of Object.entries(SCRIPTS)) {
    writeFileSync(join(dir, 'bin', name), text);
    chmodSync(join(dir, 'bin', name), 0o755);
  }
}

/** @param {string} dir */
function countFiles(dir) {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? countFiles(join(dir, e.name)) : 1;
  return n;
}

/** @param {string} dir */
function fixTimes(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) fixTimes(p);
    utimesSync(p, FIXED_TIME, FIXED_TIME);
  }
  utimesSync(dir, FIXED_TIME, FIXED_TIME);
}

/**
 * Build the archive into `outDir` unless one of this size and layout is already there.
 * @param {string} outDir @param {number} totalBytes
 * @returns {Promise<BenchPackage>}
 */
export async function buildPackage(outDir, totalBytes) {
  mkdirSync(outDir, { recursive: true });
  const sizeTag = `${Math.round(totalBytes / (1 << 20))}m`;
  const path = join(outDir, sizeTag, ARCHIVE_NAME);
  const manifestPath = `${path}.json`;
  const serverText = readFileSync(join(here, 'server.mjs'), 'utf8');
  const wanted = { layout: LAYOUT_VERSION, totalBytes, server: createHash('sha256').update(serverText).update(JSON.stringify(SCRIPTS)).digest('hex') };
  if (existsSync(path) && existsSync(manifestPath)) {
    const m = JSON.parse(readFileSync(manifestPath, 'utf8'));
    if (m.layout === wanted.layout && m.totalBytes === wanted.totalBytes && m.server === wanted.server && statSync(path).size === m.bytes) {
      return { path, sha256: m.sha256, bytes: m.bytes, files: m.files, rebuilt: false };
    }
  }
  const work = join(outDir, `.build-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const top = join(work, TOP_DIR);
    writeTree(top, totalBytes);
    const files = countFiles(top);
    fixTimes(top);
    // -X: no uid/gid extra fields, so the bytes do not depend on who builds;
    // -n .jar: store jars as they are, as Java tooling does (deflating
    // random bytes only burns CPU).
    const zip = join(work, ARCHIVE_NAME);
    const r = await run('zip', ['-q', '-r', '-X', '-n', '.jar', zip, TOP_DIR], { cwd: work });
    if (r.code !== 0) throw new Error(`zip failed (exit ${r.code}): ${r.stderr.trim()}`);
    const sha256 = createHash('sha256').update(readFileSync(zip)).digest('hex');
    const bytes = statSync(zip).size;
    mkdirSync(dirname(path), { recursive: true });
    renameSync(zip, path);
    writeFileSync(manifestPath, JSON.stringify({ ...wanted, sha256, bytes, files }, null, 2) + '\n');
    return { path, sha256, bytes, files, rebuilt: true };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const README = `bench-product 1.0.0

A stand-in product archive for runbook's benchmark (bench/ in the runbook
repository): lib/ holds jar-named files of incompressible bytes, not code.
bin/bench-server runs lib/bench-server.mjs, which listens on server.port from
conf/server.properties; bin/query.sh asks it a question (version, ping,
status); bin/start.sh and bin/stop.sh start and stop it as a daemon.
`;

/** @type {Record<string, string>} */
const SCRIPTS = {
  'bench-server': `#!/bin/sh
# Run bench-server in the foreground (tools that daemonise it call this).
BENCH_HOME=$(cd "$(dirname "$0")/.." && pwd)
export BENCH_HOME
exec "\${NODE:-node}" "$BENCH_HOME/lib/bench-server.mjs" "$@"
`,
  'query.sh': `#!/bin/bash
# Ask the running bench-server one question (default: status) and print the answer.
# bash for /dev/tcp: the query needs no client installed on the host.
BENCH_HOME=$(cd "$(dirname "$0")/.." && pwd)
port=$(sed -n 's/^server\\.port=//p' "$BENCH_HOME/conf/server.properties")
exec 3<>"/dev/tcp/127.0.0.1/\${port:-7070}" || { echo "bench-server is not listening on port \${port:-7070}" >&2; exit 1; }
printf '%s\\n' "\${1:-status}" >&3
IFS= read -r -t 5 answer <&3 || { echo "bench-server on port $port did not answer" >&2; exit 1; }
printf '%s\\n' "$answer"
`,
  'start.sh': `#!/bin/sh
# Start bench-server as a daemon unless it runs; the pid goes to logs/server.pid.
set -eu
BENCH_HOME=$(cd "$(dirname "$0")/.." && pwd)
pidfile="$BENCH_HOME/logs/server.pid"
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "bench-server is already running (pid $(cat "$pidfile"))"
  exit 0
fi
setsid nohup "$BENCH_HOME/bin/bench-server" >>"$BENCH_HOME/logs/server.out" 2>&1 </dev/null &
echo $! > "$pidfile"
echo "bench-server started (pid $!)"
`,
  'stop.sh': `#!/bin/sh
# Stop bench-server if it runs.
BENCH_HOME=$(cd "$(dirname "$0")/.." && pwd)
pidfile="$BENCH_HOME/logs/server.pid"
[ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
rm -f "$pidfile"
`,
};
