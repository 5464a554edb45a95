// `runbook lab package <product>`: build a simulated product's archive. The
// same inputs always give the same bytes (sorted entries, fixed owners, modes
// and times), so a playbook's checksum check sees the same sha256 on every
// build, and an archive is rewritten only when its content changed.

import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, utimesSync, lutimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { didYouMean, errorMessage } from '../errors.js';
import { LabError } from './errors.js';
import { labsRoot } from './layout.js';
import { simulatedPackages } from './packages/index.js';
import type { SimulatedPackage } from './packages/types.js';
import { requireTools, run } from './system.js';

/** 2000-01-01T00:00:00Z: any fixed time works; this one is inside zip's DOS date range. */
const FIXED_TIME = 946_684_800;
/** Bump when the way archives are written changes, so old ones are rebuilt. */
const ARCHIVER_VERSION = 1;

export interface LabPackageOptions {
  /** Default: runbookHome()/lab/packages. */
  outDir?: string | undefined;
  /** Build this version instead of the package's default (only packages with `withVersion`). */
  version?: string | undefined;
}

export interface LabPackageResult {
  product: string;
  version: string;
  format: SimulatedPackage['format'];
  topDir: string;
  path: string;
  sha256: string;
  /** False when the archive on disk already had exactly this content. */
  rebuilt: boolean;
  /** Why it was (or was not) rebuilt, for the CLI to print. */
  reason: string;
  /** Files the package wrote beside the archive (licenses, …). */
  besides: string[];
}

export function defaultPackagesDir(): string {
  return join(labsRoot(), 'packages');
}

/** Build (or keep) the archive and return its path. */
export async function labPackage(product: string, opts: LabPackageOptions = {}): Promise<string> {
  return (await buildLabPackage(product, opts)).path;
}

export async function buildLabPackage(product: string, opts: LabPackageOptions = {}): Promise<LabPackageResult> {
  const known = simulatedPackages[product];
  if (known === undefined) {
    const known = Object.keys(simulatedPackages).sort();
    const guess = didYouMean(product, known);
    throw new LabError('unknown-product', `there is no simulated package for ${JSON.stringify(product)}${guess ? `; did you mean ${guess}?` : ''}`, {
      hint: `known products: ${known.join(', ')}`,
    });
  }
  const pkg = withVersion(known, opts.version);
  const archiver = pkg.format === 'zip' ? 'zip' : 'tar';
  const tool = requireTools([archiver], `building the ${pkg.format} archive of ${product}`)[archiver];
  const outDir = resolve(opts.outDir ?? defaultPackagesDir());
  mkdirSync(outDir, { recursive: true });
  const archive = join(outDir, pkg.archiveName);
  const record = join(outDir, `.${pkg.archiveName}.build.json`);
  const staging = mkdtempSync(join(outDir, `.build-${product}-`));
  const base = { product, version: pkg.version, format: pkg.format, topDir: pkg.topDir, path: archive, besides: (await pkg.besides?.(outDir)) ?? [] };
  try {
    const top = join(staging, pkg.topDir);
    mkdirSync(top);
    try {
      await pkg.build(top);
    } catch (err) {
      if (err instanceof LabError) throw err;
      throw new LabError('package-failed', `building the simulated ${product} package failed: ${errorMessage(err)}`, { cause: err });
    }
    const entries = normalise(staging, pkg.topDir);
    const treeDigest = digest(pkg, staging, entries);

    const previous = readRecord(record);
    const onDisk = existsSync(archive) ? sha256(readFileSync(archive)) : undefined;
    if (previous?.treeDigest === treeDigest && onDisk !== undefined && onDisk === previous.sha256) {
      return { ...base, sha256: onDisk, rebuilt: false, reason: 'the archive already holds exactly this content' };
    }
    const reason =
      onDisk === undefined
        ? 'there was no archive yet'
        : previous === undefined
          ? 'the archive was not built by this command'
          : previous.treeDigest !== treeDigest
            ? 'its content changed since the last build'
            : 'the archive on disk no longer matches the sha256 recorded when it was built';

    const tmp = join(staging, pkg.archiveName);
    if (pkg.format === 'zip') {
      await run(tool, ['-X', '-y', '-q', '-9', tmp, '-@'], {
        cwd: staging,
        input: entries.map((e) => (e.type === 'dir' ? `${e.path}/` : e.path)).join('\n') + '\n',
        // zip stores local times; a fixed zone keeps the bytes the same everywhere.
        env: { ...process.env, TZ: 'UTC' },
        what: `write ${pkg.archiveName}`,
      });
    } else {
      const tar = join(staging, `${pkg.archiveName}.tar`);
      await run(
        tool,
        ['--create', '--file', tar, '--directory', staging, '--sort=name', '--format=gnu', '--owner=0', '--group=0', '--numeric-owner', `--mtime=@${FIXED_TIME}`, pkg.topDir],
        { what: `write ${pkg.archiveName}` },
      );
      // zlib's gzip header carries no file name and a zero time, unlike gzip(1) by default.
      writeFileSync(tmp, gzipSync(readFileSync(tar), { level: 9 }));
    }
    const sum = sha256(readFileSync(tmp));
    renameSync(tmp, archive);
    writeFileSync(record, JSON.stringify({ treeDigest, sha256: sum }, null, 2) + '\n');
    return { ...base, sha256: sum, rebuilt: true, reason };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

function withVersion(pkg: SimulatedPackage, version: string | undefined): SimulatedPackage {
  if (version === undefined) return pkg;
  if (pkg.withVersion === undefined) {
    throw new LabError('bad-input', `the simulated ${pkg.product} package is built in one version only (${pkg.version}); drop --version`);
  }
  return pkg.withVersion(version);
}

interface Entry {
  /** Relative to the staging folder, starting with topDir. */
  path: string;
  type: 'dir' | 'file' | 'symlink';
  mode: number;
}

/** Fix modes and times so only names and contents vary between builds. Returns entries sorted by path. */
function normalise(staging: string, topDir: string): Entry[] {
  const entries: Entry[] = [];
  const walk = (rel: string): void => {
    const abs = join(staging, rel);
    const st = lstatSync(abs);
    if (st.isSymbolicLink()) {
      entries.push({ path: rel, type: 'symlink', mode: 0o777 });
      lutimesSync(abs, FIXED_TIME, FIXED_TIME);
    } else if (st.isDirectory()) {
      entries.push({ path: rel, type: 'dir', mode: 0o755 });
      chmodSync(abs, 0o755);
      for (const child of readdirSync(abs).sort()) walk(`${rel}/${child}`);
      // After the children: creating or touching them changes the folder's time.
      utimesSync(abs, FIXED_TIME, FIXED_TIME);
    } else if (st.isFile()) {
      const mode = st.mode & 0o111 ? 0o755 : 0o644;
      entries.push({ path: rel, type: 'file', mode });
      chmodSync(abs, mode);
      utimesSync(abs, FIXED_TIME, FIXED_TIME);
    } else {
      throw new LabError('package-failed', `${rel} in the package is neither a file, a folder nor a symlink`);
    }
  };
  walk(topDir);
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function digest(pkg: SimulatedPackage, staging: string, entries: Entry[]): string {
  const h = createHash('sha256');
  h.update(`archiver ${ARCHIVER_VERSION} ${pkg.format} ${pkg.archiveName}\n`);
  for (const e of entries) {
    const abs = join(staging, e.path);
    const content = e.type === 'file' ? sha256(readFileSync(abs)) : e.type === 'symlink' ? readlinkSync(abs) : '';
    h.update(`${e.type} ${e.mode.toString(8)} ${JSON.stringify(e.path)} ${content}\n`);
  }
  return h.digest('hex');
}

function readRecord(file: string): { treeDigest: string; sha256: string } | undefined {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as { treeDigest?: unknown; sha256?: unknown };
    return typeof r.treeDigest === 'string' && typeof r.sha256 === 'string' ? { treeDigest: r.treeDigest, sha256: r.sha256 } : undefined;
  } catch {
    return undefined;
  }
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
