// @ts-check
// The runbook the bench measures: a private copy, compiled once at the start.
//
// Several people work in this tree at once and rebuild dist/ whenever they
// like; a bench that ran bin/runbook from the tree met a half-written dist/
// within minutes. So the bench copies the sources (the working tree, or the
// committed HEAD with --head) into .work/snapshot, compiles
// them there with the project's own tsconfig, and runs that copy: every run
// of every round measures the same code, and results.json names it. The
// working tree is the default because that is the code in front of whoever
// runs the bench; --head measures the last commit alone, and --head --with
// a,b the last commit plus the working tree's copies of those paths (one
// change measured while others' half-finished work sits in the tree).

import { cpSync, existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './proc.mjs';

/** What a built runbook needs at run time, plus what compiling it needs. */
const PARTS = ['package.json', 'tsconfig.json', 'bin', 'engine', 'modules', 'playbooks', 'templates', 'inventories'];

/**
 * @typedef {object} Snapshot
 * @property {string} root        a runbook package root: bin/runbook, dist/, playbooks/ …
 * @property {string} source      "HEAD <commit>" or "working tree at <commit> (+ uncommitted changes)"
 * @property {string} commit
 * @property {boolean} dirty      the working tree differed from HEAD in the copied parts (whichever was copied)
 * @property {string[]} compileErrors  first lines of tsc's complaints (it emits all the same)
 */

/**
 * @param {string} repo @param {string} workDir @param {{ worktree: boolean, with?: string[] }} o
 * @returns {Promise<Snapshot>}
 */
export async function snapshotRunbook(repo, workDir, o) {
  const git = async (/** @type {string[]} */ args) => {
    const r = await run('git', ['-C', repo, ...args], {});
    if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr.trim()}`);
    return r.stdout.trim();
  };
  const commit = await git(['rev-parse', 'HEAD']);
  const dirty = (await git(['status', '--porcelain', '--', ...PARTS])) !== '';
  const root = join(workDir, 'snapshot');
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  if (o.worktree) {
    for (const p of PARTS) cpSync(join(repo, p), join(root, p), { recursive: true });
  } else {
    const r = await run('sh', ['-c', `git -C "$1" archive --format=tar HEAD -- ${PARTS.join(' ')} | tar -x -C "$2"`, 'sh', repo, root], {});
    if (r.code !== 0) throw new Error(`copying HEAD into ${root} failed: ${r.stderr.trim()}`);
    for (const p of o.with ?? []) {
      if (!existsSync(join(repo, p))) throw new Error(`--with ${p}: no such file in ${repo}`);
      cpSync(join(repo, p), join(root, p), { recursive: true });
    }
  }
  // Dependencies are not copied: they change only with package-lock.json.
  symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules'), 'dir');
  const tsc = await run(join(repo, 'node_modules', '.bin', 'tsc'), ['-p', join(root, 'tsconfig.json')], { cwd: root, timeoutMs: 300_000 });
  const compileErrors = tsc.code === 0 ? [] : (tsc.stdout + tsc.stderr).split('\n').filter((l) => /error TS/.test(l)).slice(0, 5);
  if (!existsSync(join(root, 'dist', 'bin', 'cli.js'))) {
    throw new Error(`compiling the runbook snapshot produced no dist/bin/cli.js:\n${(tsc.stdout + tsc.stderr).trim().split('\n').slice(0, 20).join('\n')}`);
  }
  // The second half of `npm run build`: bin/runbook runs the bundle.
  const bundle = await run(process.execPath, [join(root, 'bin', 'bundle.mjs')], { cwd: root, timeoutMs: 120_000 });
  if (bundle.code !== 0) throw new Error(`bundling the runbook snapshot failed:\n${(bundle.stdout + bundle.stderr).trim().split('\n').slice(0, 20).join('\n')}`);
  const short = commit.slice(0, 10);
  const added = o.with?.length ? ` + working-tree ${o.with.join(', ')}` : '';
  const source = o.worktree ? `working tree at ${short}${dirty ? ' (+ uncommitted changes)' : ''}` : `HEAD ${short}${added}`;
  return { root, source, commit, dirty, compileErrors };
}
