import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { changed, defineModule, failed, ok, sh, type ModuleContext, type ModuleResult } from '../engine/api.js';
import {
  downloadAs,
  formatBytes,
  guard,
  HostFailure,
  mustRun,
  plural,
  remotePathArg,
  remoteStat,
  remoteTree,
  removeQuietly,
  sha256File,
  short,
  walkLocal,
  type RemoteStat,
} from './lib/remote-files.js';

const schema = z
  .object({
    src: remotePathArg().describe('Remote file or directory to copy to the controller (symlinks are followed).'),
    dest: z
      .string()
      .min(1)
      .describe("Local folder; relative paths start at the playbook's folder. The copy goes to <dest>/<host>/<src>, so hosts never overwrite each other (see flat)."),
    flat: z
      .boolean()
      .default(false)
      .describe('Save to dest itself instead of <dest>/<host>/<src>; a dest ending in "/" means "into this folder, under the source\'s name". Only safe with one host.'),
    limit_kbit: z.number().positive().optional().describe('Bandwidth limit for the transfer, in Kbit/s.'),
  })
  .strict();

type Args = z.output<typeof schema>;

export default defineModule({
  name: 'fetch',
  description:
    "Copy a remote file or directory to the controller. Skips when the local copy already has the same sha256; writes under a temporary name and renames, so the local copy is never partial.",
  schema,
  examples: [
    { title: 'Collect every node\'s log', yaml: 'fetch:\n  src: /opt/iotdb/logs/log_datanode_all.log\n  dest: collected/' },
    { title: 'One file to an exact path, slowly', yaml: 'fetch:\n  src: /opt/dolphindb/server/dolphindb.lic\n  dest: backup/dolphindb.lic\n  flat: true\n  limit_kbit: 8192' },
  ],
  run: (ctx, args) =>
    guard(ctx, async () => {
      const base = ctx.resolveLocal(args.dest);
      // join() would quietly resolve "..", and <dest>/<host>/<src> must stay under dest.
      if (!args.flat && args.src.split('/').includes('..')) return failed(`refusing to fetch ${args.src}: ".." in src would put the copy outside ${base}`);
      const local = args.flat
        ? args.dest.endsWith('/')
          ? join(base, posix.basename(args.src))
          : base
        : join(base, ctx.host.name, ...args.src.split('/').filter((p) => p !== '' && p !== '.'));
      const have = await remoteStat(ctx, args.src, { hash: true, follow: true });
      if (!have) return failed(`${args.src} does not exist on ${ctx.host.name}`);
      if (have.kind === 'directory') return fetchTree(ctx, args, local);
      if (have.kind !== 'file') return failed(`${args.src} on ${ctx.host.name} is a ${have.typeName}; only files and directories can be fetched`);
      return fetchFile(ctx, args, local, have);
    }),
});

/** `.name.runbook-tmp-<random>` beside a local path, so the final rename stays on one filesystem. */
function localTemp(path: string): string {
  return join(dirname(path), `.${basename(path).slice(0, 100)}.runbook-tmp-${randomBytes(4).toString('hex')}`);
}

function localKind(path: string): 'absent' | 'file' | 'directory' | 'other' {
  if (!existsSync(path)) return 'absent';
  const st = statSync(path);
  return st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other';
}

async function fetchFile(ctx: ModuleContext, args: Args, local: string, have: RemoteStat): Promise<ModuleResult> {
  const sum = have.sha256!;
  const data = { dest: local, sha256: sum, size: have.size };
  const kind = localKind(local);
  if (kind === 'directory' || kind === 'other') return failed(`local path ${local} exists and is not a file`);
  if (kind === 'file' && (await sha256File(local)) === sum) return ok(`local copy ${local} already has sha256 ${short(sum)}`, data);
  if (ctx.check) return changed(`would fetch ${args.src} (${formatBytes(have.size)}, sha256 ${short(sum)}) to ${local}`, data);

  mkdirSync(dirname(local), { recursive: true });
  const tmp = localTemp(local);
  try {
    await downloadAs(ctx, args.src, tmp, {
      limitKbit: args.limit_kbit,
      onProgress: (p) => ctx.progress({ bytes: p.bytes, total: p.total || have.size, label: args.src }),
    });
    const got = await sha256File(tmp);
    if (got !== sum) throw new HostFailure(`${args.src} changed on ${ctx.host.name} while it was being fetched (sha256 ${short(sum)} before, ${short(got)} received); run again`);
    renameSync(tmp, local);
  } finally {
    rmSync(tmp, { force: true });
  }
  return changed(`fetched ${args.src} (${formatBytes(have.size)}, sha256 ${short(sum)}) to ${local}`, data);
}

/**
 * A directory travels as one tar.gz made on the host, so thousands of small
 * files cost one transfer; it is unpacked beside the local copy and swapped
 * in whole. The local copy mirrors the remote one: files that are no longer
 * there go.
 */
async function fetchTree(ctx: ModuleContext, args: Args, local: string): Promise<ModuleResult> {
  const tree = await remoteTree(ctx, args.src);
  if (tree.state !== 'directory') throw new HostFailure(`${args.src} on ${ctx.host.name} changed while it was being looked at`);
  const remoteFiles = [...tree.entries.values()].filter((e) => e.kind === 'file');
  const bytes = remoteFiles.reduce((n, e) => n + e.size, 0);
  const data = { dest: local, files: remoteFiles.length, bytes };
  const kind = localKind(local);
  if (kind === 'file' || kind === 'other') return failed(`local path ${local} exists and is not a directory`);
  if (kind === 'directory' && (await sameTree(local, remoteFiles))) {
    return ok(`local copy ${local} already matches all ${plural(remoteFiles.length, 'file')} by sha256`, data);
  }
  if (ctx.check) return changed(`would fetch ${args.src} (${plural(remoteFiles.length, 'file')}, ${formatBytes(bytes)}) to ${local}`, data);

  const name = posix.basename(args.src.replace(/\/+$/, ''));
  if (name === '' || name === '.' || name === '..') return failed(`cannot fetch ${args.src}: give the directory by its name, not "/", "." or ".."`);
  // Made by the SSH user, so the download can read it even when tar runs under become.
  const archive = (await mustRun(ctx, 'mktemp', 'making a temporary file for the archive', { become: false })).stdout.trim();
  const work = localTemp(local);
  try {
    await mustRun(ctx, sh`tar -czf ${archive} -C ${posix.dirname(args.src.replace(/\/+$/, ''))} ${`./${name}`}`, `packing ${args.src}`);
    mkdirSync(join(work, 'x'), { recursive: true });
    await ctx.download(archive, join(work, 'archive.tar.gz'), {
      limitKbit: args.limit_kbit,
      onProgress: (p) => ctx.progress({ bytes: p.bytes, total: p.total, label: args.src }),
    });
    await untar(join(work, 'archive.tar.gz'), join(work, 'x'));
    // Swap: the old copy steps aside, the new one takes its name, the old one goes.
    const old = existsSync(local) ? localTemp(local) : undefined;
    if (old !== undefined) renameSync(local, old);
    try {
      renameSync(join(work, 'x', name), local);
    } catch (err) {
      if (old !== undefined) renameSync(old, local);
      throw err;
    }
    if (old !== undefined) rmSync(old, { recursive: true, force: true });
  } finally {
    rmSync(work, { recursive: true, force: true });
    await removeQuietly(ctx, [archive]);
  }
  return changed(`fetched ${args.src} (${plural(remoteFiles.length, 'file')}, ${formatBytes(bytes)}) to ${local}`, data);
}

async function sameTree(local: string, remoteFiles: Array<{ rel: string; sha256?: string | undefined }>): Promise<boolean> {
  const localFiles = walkLocal(local).filter((e) => e.kind === 'file');
  if (localFiles.length !== remoteFiles.length) return false;
  const sums = new Map(remoteFiles.map((f) => [f.rel, f.sha256]));
  for (const f of localFiles) {
    const want = sums.get(f.rel);
    if (want === undefined || want !== (await sha256File(f.abs))) return false;
  }
  return true;
}

/**
 * Unpacks on the controller with its own tar: argv without a shell, and into
 * a fresh folder, so names in the archive cannot reach anything else (GNU and
 * BSD tar both refuse members with ".." or a leading "/").
 */
async function untar(archive: string, into: string): Promise<void> {
  try {
    await promisify(execFile)('tar', ['--no-same-owner', '-xzf', archive, '-C', into]);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new HostFailure('fetching a directory needs tar on the controller, and there is none on PATH');
    throw new HostFailure(`unpacking the fetched archive on the controller failed: ${(e.stderr ?? e.message).trim()}`);
  }
}
