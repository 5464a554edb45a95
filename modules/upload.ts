import { readFileSync, statSync, type Stats } from 'node:fs';
import { basename, posix } from 'node:path';
import { z } from 'zod';
import { changed, defineModule, failed, ok, sh, type ModuleContext, type ModuleResult } from '../engine/api.js';
import {
  attrCommands,
  attrDifferences,
  batches,
  explain,
  formatBytes,
  guard,
  HostFailure,
  installCommand,
  localSha256,
  modeArg,
  mustRun,
  plural,
  putFile,
  remotePathArg,
  remoteStat,
  rememberRemoteSha256,
  remoteText,
  remoteTree,
  removeQuietly,
  short,
  tempPath,
  unifiedDiff,
  uploadAs,
  walkLocal,
  type InstallStep,
  type RemoteStat,
} from './lib/remote-files.js';

const schema = z
  .object({
    src: z.string().min(1).describe("Local file or directory to copy; a relative path starts at the playbook's folder. A directory is copied with everything under it."),
    dest: remotePathArg().describe('Remote path. Ending in "/" means "into this directory" (the source keeps its name); otherwise it is the exact path of the file, or of the directory that mirrors src.'),
    mode: modeArg()
      .optional()
      .describe('Octal mode, quoted ("0644"). Default: a replaced file keeps its mode, a new one gets the host\'s default. For a directory upload it applies to the files.'),
    owner: z.string().min(1).optional().describe('Owner (name or uid) of the file(s) and of directories the upload creates. Changing it usually needs become.'),
    group: z.string().min(1).optional().describe('Group (name or gid), like owner.'),
    force: z.boolean().default(false).describe('Upload even when the remote file already has the same sha256.'),
  })
  .strict();

type Args = z.output<typeof schema>;

/** Diffs are for config-sized text, not packages. */
const DIFF_LIMIT = 256 * 1024;

export default defineModule({
  localPaths: { src: 'file' },
  name: 'upload',
  description:
    'Copy a local file or directory to the host. Streams (memory stays flat), skips files whose remote sha256 already matches, and writes each file under a temporary name before renaming it, so the destination is never partial.',
  schema,
  examples: [
    { title: 'Ship a package into a folder', yaml: 'upload:\n  src: packages/apache-iotdb-1.3.0-all-bin.zip\n  dest: /opt/packages/' },
    { title: 'A file with mode and owner', yaml: 'upload:\n  src: files/dolphindb.lic\n  dest: /opt/dolphindb/server/dolphindb.lic\n  mode: "0640"\n  owner: ddb\n  group: ddb' },
    { title: 'A whole folder', yaml: 'upload:\n  src: files/scripts\n  dest: /opt/iotdb/tools/scripts' },
  ],
  run: (ctx, args) =>
    guard(ctx, async () => {
      const src = ctx.resolveLocal(args.src);
      let st: Stats;
      try {
        st = statSync(src);
      } catch {
        return failed(`local source ${src} does not exist`);
      }
      const dest = args.dest.endsWith('/') ? posix.join(args.dest, basename(src)) : args.dest;
      if (st.isDirectory()) return uploadTree(ctx, args, src, dest.replace(/(.)\/+$/, '$1'));
      if (!st.isFile()) return failed(`local source ${src} is not a regular file or directory`);
      return uploadFile(ctx, args, src, dest, st.size);
    }),
});

async function uploadFile(ctx: ModuleContext, args: Args, src: string, dest: string, size: number): Promise<ModuleResult> {
  const [sum, have] = await Promise.all([localSha256(ctx, src), remoteStat(ctx, dest, { hash: true, records: ctx.check ? 'use' : 'use-and-save' })]);
  if (have?.kind === 'directory') return failed(`${dest} on ${ctx.host.name} is a directory: end dest with "/" to upload into it`);
  if (have && have.kind === 'other') return failed(`${dest} on ${ctx.host.name} is a ${have.typeName}, not a regular file`);
  const data = { dest, sha256: sum, size };

  if (have?.sha256 === sum && !args.force) {
    rememberRemoteSha256(ctx, dest, sum);
    const fixes = attrDifferences(have, args);
    if (fixes.length === 0) return ok(`remote file already has sha256 ${short(sum)}`, data);
    if (ctx.check) return changed(`would set ${fixes.join(', ')} on ${dest} (content already has sha256 ${short(sum)})`, data);
    await mustRun(ctx, attrCommands(dest, args, have).join(' && '), `setting attributes of ${dest}`);
    return changed(`set ${fixes.join(', ')} on ${dest}; content already had sha256 ${short(sum)}`, data);
  }

  const diff = ctx.diff ? await fileDiff(ctx, src, dest, size, have) : undefined;
  const from = have ? ` (sha256 ${have.sha256 ? short(have.sha256) : `of a ${have.typeName}`} → ${short(sum)}), ${formatBytes(size)}` : `, ${formatBytes(size)}`;
  if (ctx.check) return { ...changed(`would ${have ? 'replace' : 'create'} ${dest}${from}`, data), diff };
  await putFile(ctx, { source: src, dest, mode: args.mode, owner: args.owner, group: args.group, existing: have, size, record: sum });
  rememberRemoteSha256(ctx, dest, sum);
  return { ...changed(`${have ? 'replaced' : 'uploaded'} ${dest}${from}${have ? '' : ` with sha256 ${short(sum)}`}`, data), diff };
}

/** A diff when both sides are small text; otherwise a one-line note, so --diff still says something. */
async function fileDiff(ctx: ModuleContext, src: string, dest: string, size: number, have: RemoteStat | undefined): Promise<string> {
  if (size > DIFF_LIMIT || (have && have.size > DIFF_LIMIT)) return `(no diff for ${dest}: larger than ${formatBytes(DIFF_LIMIT)})\n`;
  const after = readFileSync(src);
  if (after.includes(0)) return `(no diff for ${dest}: binary file)\n`;
  const before = have?.kind === 'file' ? await remoteText(ctx, dest, DIFF_LIMIT) : '';
  if (before === undefined) return `(no diff for ${dest}: the remote file is not text)\n`;
  return unifiedDiff(ctx, dest, before, after.toString('utf8'));
}

async function uploadTree(ctx: ModuleContext, args: Args, src: string, dest: string): Promise<ModuleResult> {
  const local = walkLocal(src);
  const remote = await remoteTree(ctx, dest);
  if (remote.state === 'not-directory') return failed(`${dest} on ${ctx.host.name} exists and is not a directory`);
  const have = remote.state === 'directory' ? remote.entries : new Map<string, RemoteStat>();
  const at = (rel: string): string => (rel === '' ? dest : `${dest}/${rel}`);
  const ownership = { owner: args.owner, group: args.group };

  const newDirs: string[] = [];
  const toSend: Array<{ abs: string; rel: string; size: number; existing: RemoteStat | undefined }> = [];
  const fixes: string[] = [];
  let files = 0;
  for (const e of local) {
    const r = have.get(e.rel);
    if (e.kind === 'directory') {
      if (!r) newDirs.push(at(e.rel));
      else if (r.kind !== 'directory') return failed(`${at(e.rel)} on ${ctx.host.name} is a ${r.typeName}, but ${e.abs} is a directory`);
      else fixes.push(...attrCommands(at(e.rel), ownership, r));
      continue;
    }
    files++;
    if (r && r.kind !== 'file') return failed(`${at(e.rel)} on ${ctx.host.name} is a ${r.typeName}, but ${e.abs} is a file`);
    const sum = await localSha256(ctx, e.abs);
    if (!r || r.sha256 !== sum || args.force) toSend.push({ abs: e.abs, rel: e.rel, size: e.size, existing: r });
    else fixes.push(...attrCommands(at(e.rel), args, r));
  }

  const bytes = toSend.reduce((n, f) => n + f.size, 0);
  const data = { dest, files, uploaded: toSend.length, bytes };
  if (newDirs.length === 0 && toSend.length === 0 && fixes.length === 0) return ok(`all ${plural(files, 'file')} under ${dest} already match by sha256`, data);
  const summary = [
    toSend.length > 0 ? `${toSend.length} of ${plural(files, 'file')} (${formatBytes(bytes)})` : '',
    newDirs.length > 0 ? plural(newDirs.length, 'new directory', 'new directories') : '',
    fixes.length > 0 ? plural(fixes.length, 'attribute fix', 'attribute fixes') : '',
  ]
    .filter(Boolean)
    .join(', ');
  if (ctx.check) return changed(`would upload to ${dest}: ${summary}`, data);

  for (const group of batches(newDirs, (d) => d.length + 4)) {
    const mk = sh`mkdir -p -- ${group}`;
    await mustRun(ctx, [mk, ...group.flatMap((d) => attrCommands(d, ownership))].join(' && '), `creating directories under ${dest}`);
  }

  // Temporary files first, then all renames together: the tree switches over
  // file by file at the end rather than staying half-written during the transfer.
  const steps: InstallStep[] = [];
  let sent = 0;
  try {
    for (const f of toSend) {
      const step: InstallStep = { tmp: tempPath(at(f.rel)), dest: at(f.rel), mode: args.mode, owner: args.owner, group: args.group, existing: f.existing };
      steps.push(step);
      const base = sent;
      await uploadAs(ctx, f.abs, step.tmp, {
        mode: args.mode === undefined ? undefined : parseInt(args.mode, 8),
        onProgress: (p) => ctx.progress({ bytes: base + p.bytes, total: bytes, label: dest }),
      });
      sent += f.size;
    }
  } catch (err) {
    await removeQuietly(ctx, steps.map((s) => s.tmp));
    throw err;
  }
  const installs = batches(steps, (s) => 3 * (s.tmp.length + s.dest.length) + 120);
  for (let i = 0; i < installs.length; i++) {
    const res = await ctx.exec(installCommand(installs[i]!));
    if (res.exitCode !== 0) {
      // installCommand cleans its own batch; the batches after it were never started.
      await removeQuietly(ctx, installs.slice(i + 1).flat().map((s) => s.tmp));
      throw new HostFailure(`putting files in place under ${dest} failed on ${ctx.host.name} (${explain(res)})`);
    }
  }
  for (const group of batches(fixes, (c) => c.length + 4)) await mustRun(ctx, group.join(' && '), `setting attributes under ${dest}`);
  return changed(`uploaded to ${dest}: ${summary}`, data);
}
