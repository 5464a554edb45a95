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
 * @property {Array<Timed & { product: string }>} validate  runbook validate <playbook> per built-in playbook, each with its product's lab topology
 * @property {Record<string, number>} [notValidated]  playbooks of a product with no lab topology named in LAB_TOPOLOGIES, per product
 * @property {Record<string, string>} topologies  per product, the topology validate was given
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

/** Each product's lab topology in inventories/, the one its built-in playbooks are validated with. */
const LAB_TOPOLOGIES = /** @type {Record<string, string>} */ ({
  iotdb: 'lab-3c3d.yaml',
  'iotdb-dual-active': 'iotdb-dual-active-lab.yaml',
  dolphindb: 'dolphindb-lab.yaml',
  tdengine: 'tdengine-lab.yaml',
  openmldb: 'openmldb-lab.yaml',
});

/**
 * A product's lab topology, copied with every file it names under the lab's
 * packages folder (the archives, DolphinDB's license) pointed at an empty
 * placeholder the bench creates: validate checks that those files exist, not
 * what they hold, and the bench should not need `runbook lab package` first.
 * @param {string} workDir @param {string} root @param {string} file
 */
function benchTopology(workDir, root, file) {
  const dir = join(workDir, 'startup');
  const packages = join(dir, 'packages');
  mkdirSync(packages, { recursive: true });
  const text = readFileSync(join(root, 'inventories', file), 'utf8');
  const named = /(?:~|\/root)\/\.runbook\/lab\/packages\/([^\s'"#]+)/g;
  const copy = text.replace(named, (_, name) => {
    const placeholder = join(packages, name);
    if (!existsSync(placeholder)) writeFileSync(placeholder, '');
    return placeholder;
  });
  if (copy === text) throw new Error(`inventories/${file} names no file under ~/.runbook/lab/packages for the bench to point at a placeholder`);
  const path = join(dir, file);
  writeFileSync(path, `# inventories/${file}, copied by bench/run.mjs with the lab packages it names pointing at empty placeholders\n${copy}`);
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
  const result = { extraCaCerts: extra, version, node, validate: [], topologies: {} };
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

  /** @type {Record<string, string>} */
  const topologies = {};
  /** @type {Map<string, number>} */
  const skipped = new Map();
  for (const p of builtinPlaybooks(o.runbookRoot)) {
    const file = LAB_TOPOLOGIES[p.product];
    if (file === undefined) {
      skipped.set(p.product, (skipped.get(p.product) ?? 0) + 1);
      continue;
    }
    const topology = (topologies[p.product] ??= benchTopology(o.workDir, o.runbookRoot, file));
    // A playbook someone is still writing may not validate; its time still
    // says what start-up plus checking costs, so it is kept and marked.
    const t = await timed(`runbook validate ${p.product}/${p.name}`, runbook, ['validate', p.name, '-i', topology], o.quick ? 1 : 3, { allowFailure: true, cwd });
    if (t.failed !== undefined) o.log(`  (runbook validate ${p.product}/${p.name} did not pass: ${t.failed})`);
    result.validate.push({ ...t, product: p.product });
  }
  for (const [product, n] of skipped) o.log(`  (${n} ${product} playbooks not validated: bench/lib/startup.mjs names no lab topology for ${product})`);
  result.topologies = topologies;
  result.notValidated = Object.fromEntries(skipped);
  const v = result.validate.map((t) => t.medianMs);
  if (v.length) o.log(`  runbook validate    ${v.length} playbooks, median ${median(v).toFixed(0)} ms, slowest ${Math.max(...v).toFixed(0)} ms`);
  return result;
}
