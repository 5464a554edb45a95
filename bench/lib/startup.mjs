// @ts-check
// Start-up: how long `runbook --version` and `runbook validate` take, next to
// a bare `node -e 0` (the least any Node CLI can take on this machine).
//
// NODE_EXTRA_CA_CERTS, when the environment sets it, makes every Node process
// read and parse that bundle at start; it is measured with and without, so the
// figure for runbook is not mistaken for the machine's setting.

import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { median, run } from './proc.mjs';

/**
 * @typedef {object} Timed
 * @property {string} what
 * @property {number} medianMs
 * @property {number} minMs
 * @property {number} runs
 * @property {string} [failed]  set when the command exited non-zero (timed all the same): the first line of its message
 */

/**
 * @typedef {object} StartupResult
 * @property {string | undefined} extraCaCerts   NODE_EXTRA_CA_CERTS as found, if set
 * @property {Timed} version                     runbook --version, environment as found
 * @property {Timed} [versionWithoutExtraCa]
 * @property {Timed} node                        node -e 0, environment as found
 * @property {Timed} [nodeWithoutExtraCa]
 * @property {Timed} [ansibleVersion]            ansible-playbook --version, for reference
 * @property {Timed[]} validate                  runbook validate <playbook> per built-in IoTDB playbook
 * @property {Record<string, number>} [notValidated]  playbooks of other products, per product (no lab topology to validate them with)
 * @property {string} topology                   the topology validate was given
 */

/**
 * @param {string} what @param {string} cmd @param {string[]} args @param {number} runs
 * @param {{ env?: Record<string, string | undefined>; allowFailure?: boolean; cwd?: string }} [o]
 * @returns {Promise<Timed>}
 */
async function timed(what, cmd, args, runs, o = {}) {
  const cwd = o.cwd ?? process.cwd();
  /** @type {number[]} */
  const ms = [];
  /** @type {string | undefined} */
  let failed;
  for (let i = 0; i < runs; i++) {
    const r = await run(cmd, args, { cwd, timeoutMs: 60_000, ...(o.env ? { env: o.env } : {}) });
    if (r.code !== 0) {
      const why = `exit ${r.code}: ${(r.stderr || r.stdout).trim().split('\n')[0] ?? ''}`;
      if (!o.allowFailure) throw new Error(`${what} failed (${why})`);
      failed = why;
    }
    ms.push(r.ms);
  }
  return { what, medianMs: median(ms), minMs: Math.min(...ms), runs, ...(failed !== undefined ? { failed } : {}) };
}

/**
 * The lab 3C3D topology with its archive path pointed at a placeholder the
 * bench creates (validate checks that the file exists, not what it holds).
 * @param {string} workDir
 */
function benchTopology(workDir, /** @type {string} */ root) {
  const dir = join(workDir, 'startup');
  mkdirSync(dir, { recursive: true });
  const placeholder = join(dir, 'apache-iotdb-1.3.0-all-bin.zip');
  if (!existsSync(placeholder)) writeFileSync(placeholder, '');
  const text = readFileSync(join(root, 'inventories', 'lab-3c3d.yaml'), 'utf8');
  if (!/^(\s*iotdb_zip_dir:\s*).*$/m.test(text)) throw new Error('inventories/lab-3c3d.yaml has no iotdb_zip_dir line for the bench to point at its placeholder');
  const path = join(dir, 'lab-3c3d.yaml');
  writeFileSync(path, `# inventories/lab-3c3d.yaml, copied by bench/run.mjs with iotdb_zip_dir pointing at an empty placeholder\n${text.replace(/^(\s*iotdb_zip_dir:\s*).*$/m, `$1${placeholder}`)}`);
  return path;
}

/** Built-in playbooks as `runbook list` shows them: playbooks/<product>/*.yaml, parts (_*.yaml) left out. */
function builtinPlaybooks(/** @type {string} */ pkgRoot) {
  const root = join(pkgRoot, 'playbooks');
  /** @type {Array<{ product: string; name: string }>} */
  const out = [];
  for (const product of readdirSync(root).sort()) {
    for (const f of readdirSync(join(root, product)).sort()) {
      if (/\.ya?ml$/.test(f) && !f.startsWith('_')) out.push({ product, name: f.replace(/\.ya?ml$/, '') });
    }
  }
  return out;
}

/**
 * @param {{ workDir: string; runbookRoot: string; quick: boolean; log: (line: string) => void }} o
 * @returns {Promise<StartupResult>}
 */
export async function measureStartup(o) {
  const runbook = join(o.runbookRoot, 'bin', 'runbook');
  const cwd = o.runbookRoot;
  const versionRuns = o.quick ? 3 : 15;
  const extra = process.env['NODE_EXTRA_CA_CERTS'];
  const noCa = { NODE_EXTRA_CA_CERTS: undefined };

  // One untimed call each first, so the files are in the page cache for all.
  await run(runbook, ['--version'], { cwd });
  const node = await timed('node -e 0', process.execPath, ['-e', '0'], versionRuns, { cwd });
  const version = await timed('runbook --version', runbook, ['--version'], versionRuns, { cwd });
  /** @type {StartupResult} */
  const result = { extraCaCerts: extra, version, node, validate: [], topology: '' };
  if (extra !== undefined) {
    result.nodeWithoutExtraCa = await timed('node -e 0 (no NODE_EXTRA_CA_CERTS)', process.execPath, ['-e', '0'], versionRuns, { env: noCa, cwd });
    result.versionWithoutExtraCa = await timed('runbook --version (no NODE_EXTRA_CA_CERTS)', runbook, ['--version'], versionRuns, { env: noCa, cwd });
  }
  o.log(`  runbook --version  median ${version.medianMs.toFixed(0)} ms (node -e 0: ${node.medianMs.toFixed(0)} ms)`);
  try {
    result.ansibleVersion = await timed('ansible-playbook --version', 'ansible-playbook', ['--version'], o.quick ? 1 : 5);
  } catch {
    // Reference only; the scenario runs report a missing Ansible themselves.
  }

  const topology = benchTopology(o.workDir, o.runbookRoot);
  result.topology = topology;
  /** @type {Map<string, number>} */
  const skipped = new Map();
  for (const p of builtinPlaybooks(o.runbookRoot)) {
    // Only IoTDB has a lab topology in inventories/ to validate against.
    if (p.product !== 'iotdb') {
      skipped.set(p.product, (skipped.get(p.product) ?? 0) + 1);
      continue;
    }
    // A playbook someone is still writing may not validate; its time still
    // says what start-up plus checking costs, so it is kept and marked.
    const t = await timed(`runbook validate ${p.name}`, runbook, ['validate', p.name, '-i', topology], o.quick ? 1 : 3, { allowFailure: true, cwd });
    if (t.failed !== undefined) o.log(`  (runbook validate ${p.name} did not pass: ${t.failed})`);
    result.validate.push(t);
  }
  for (const [product, n] of skipped) o.log(`  (${n} ${product} playbooks not validated: no lab topology for ${product})`);
  result.notValidated = Object.fromEntries(skipped);
  const v = result.validate.map((t) => t.medianMs);
  if (v.length) o.log(`  runbook validate    ${v.length} playbooks, median ${median(v).toFixed(0)} ms, slowest ${Math.max(...v).toFixed(0)} ms`);
  return result;
}
