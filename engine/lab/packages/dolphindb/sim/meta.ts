// Metadata files, in a format stamped with the version that wrote them, so
// an upgrade and a rollback mean something: a server starting on files an
// older version wrote rewrites them in its own format (and logs it); one
// starting on files a newer version wrote refuses to start, which is why the
// document backs them up before upgrading and restores them on rollback.
//
// Controller: <dfsMetaDir>/DFSMetaLog.0 (one line per database created or
// dropped) and, once the log holds CHECKPOINT_EVERY entries, a
// DFSMasterMetaCheckpoint.0 with every database, after which the log starts
// again. Data node: a CHUNK_METADATA folder holding chunks.meta.

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const CHECKPOINT_EVERY = 3;

/** -1, 0 or 1, comparing dotted version numbers part by part. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

const HEADER = /^# SIMULATED DolphinDB (.+), format ([\d.]+)$/;

export interface MetaFile {
  format: string;
  entries: string[];
}

function header(what: string, version: string): string {
  return `# SIMULATED DolphinDB ${what}, format ${version}`;
}

export function readMeta(path: string): MetaFile | undefined {
  if (!existsSync(path)) return undefined;
  const [first, ...rest] = readFileSync(path, 'utf8').split('\n');
  const m = HEADER.exec(first ?? '');
  if (!m) throw new Error(`${path} is not a metadata file of the simulated DolphinDB (its first line is ${JSON.stringify(first)})`);
  return { format: m[2]!, entries: rest.filter((l) => l.trim() !== '') };
}

export function writeMeta(path: string, what: string, version: string, entries: string[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, [header(what, version), ...entries].join('\n') + '\n');
  renameSync(tmp, path);
}

/**
 * Bring a metadata file to this version's format: undefined when there is no
 * file or it already is; a line for the log when it was rewritten. Throws
 * (with the message the server logs before exiting) when a newer version
 * wrote it.
 */
export function adoptMeta(path: string, what: string, version: string): string | undefined {
  const m = readMeta(path);
  if (m === undefined) return undefined;
  const c = compareVersions(m.format, version);
  if (c > 0) {
    throw new Error(
      `${path} is in the metadata format of DolphinDB ${m.format}, newer than this server (${version}), which cannot read it. ` +
        'Restore the metadata backed up before the upgrade (the document\'s rollback, step 1).',
    );
  }
  if (c === 0) return undefined;
  writeMeta(path, what, version, m.entries);
  return `Upgraded the metadata format of ${path} from ${m.format} to ${version}`;
}

export const chunkMetaFile = (chunkMetaDir: string): string => join(chunkMetaDir, 'CHUNK_METADATA', 'chunks.meta');
