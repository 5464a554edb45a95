import { statSync } from 'node:fs';
import { posix } from 'node:path';
import { z } from 'zod';
import { changed, defineModule, failed, ok, raw, sh, type ExecResult, type ModuleContext, type ModuleResult } from '../engine/api.js';
import { explain, guard, HostFailure, knownRemoteSha256, localSha256, mustRun, plural, remotePathArg, removeQuietly, safePath, sha256Script, short, tempPath, uploadAs } from './lib/remote-files.js';

const MARKER = '.runbook-unzip';

const schema = z
  .object({
    src: z.string().min(1).refine((p) => !p.startsWith('~'), 'write the path in full: "~" is not expanded').describe('The archive: a path on the host (default), or on the controller with remote_src: false. Its name says the format: .zip, .tar.gz, .tgz or .tar.'),
    dest: remotePathArg().describe('Directory to extract into; created if missing.'),
    rename_to: z
      .string()
      .min(1)
      .refine((n) => !n.includes('/') && n !== '.' && n !== '..', 'rename_to is a folder name, not a path')
      .optional()
      .describe("Give the archive's single top-level folder this name (apache-iotdb-1.3.0-all-bin → iotdb). The archive must have exactly one top-level folder."),
    creates: remotePathArg().optional().describe('A remote path; if it exists, nothing is extracted (unless force).'),
    force: z.boolean().default(false).describe('Extract even if this archive was already extracted here (files not in the archive are kept).'),
    remote_src: z.boolean().default(true).describe("true: src is on the host. false: src is a local file, copied to the host first (and removed after)."),
  })
  .strict();

type Args = z.output<typeof schema>;

interface Format {
  name: string;
  /** Commands the host needs; each is also its Debian/RHEL package name. */
  tools: string[];
  extract(archive: string): string;
}

// Extraction runs as whoever runs the task; tar would otherwise give files the
// archive's uids when that is root, unlike unzip.
const FORMATS: Array<[RegExp, Format]> = [
  [/\.zip$/i, { name: 'zip', tools: ['unzip'], extract: (a) => `{ ${sh`unzip -q -o ${safePath(a)} -d "$t"`}; [ $? -le 1 ]; }` }],
  [/\.(tar\.gz|tgz)$/i, { name: 'tar.gz', tools: ['tar', 'gzip'], extract: (a) => sh`tar --no-same-owner -xzf ${a} -C "$t"` }],
  [/\.tar$/i, { name: 'tar', tools: ['tar'], extract: (a) => sh`tar --no-same-owner -xf ${a} -C "$t"` }],
];

export default defineModule({
  name: 'unzip',
  description:
    "Extract a .zip, .tar.gz or .tar on the host with its own tools, optionally renaming the archive's top-level folder. Extracts beside the destination and moves into place; a marker holding the archive's sha256 makes reruns ok.",
  schema,
  examples: [
    {
      title: 'IoTDB, renamed to iotdb_dir_name',
      yaml: 'unzip:\n  src: /opt/packages/apache-iotdb-1.3.0-all-bin.zip\n  dest: /opt\n  rename_to: "{{ iotdb_dir_name }}"',
    },
    { title: 'A local tarball', yaml: 'unzip:\n  src: packages/TDengine-server-3.3.2.0-Linux-x64.tar.gz\n  dest: /opt/taos\n  remote_src: false' },
  ],
  run: (ctx, args) => guard(ctx, () => extract(ctx, args)),
});

async function extract(ctx: ModuleContext, args: Args): Promise<ModuleResult> {
  const name = posix.basename(args.src);
  const format = FORMATS.find(([re]) => re.test(name))?.[1];
  if (!format) return failed(`cannot tell the format of ${name} from its name: expected .zip, .tar.gz, .tgz or .tar`);
  const dest = args.dest.replace(/(.)\/+$/, '$1');

  let localSum: string | undefined;
  if (!args.remote_src) {
    const local = ctx.resolveLocal(args.src);
    try {
      if (!statSync(local).isFile()) return failed(`local archive ${local} is not a file`);
    } catch {
      return failed(`local archive ${local} does not exist`);
    }
    localSum = await localSha256(ctx, local);
  }
  // An archive that upload checked or wrote earlier in this run is not hashed again;
  // one whose identity matches the host's hash record (see remote-files.ts) is not hashed at all.
  const knownSum = args.remote_src ? knownRemoteSha256(ctx, args.src) : undefined;

  // One read-only look: creates, the tools, the archive, its sha256 and any marker holding it.
  const markers = args.rename_to !== undefined ? sh`${posix.join(dest, args.rename_to, MARKER)}` : sh`${dest}/${raw('*')}/${MARKER} ${dest}/${raw(`${MARKER}.*`)}`;
  // An archive already on the host is extracted by the same command when no
  // marker matches (outside check mode): a round trip less.
  const unpackHere = args.remote_src && !ctx.check;
  const probe = [
    args.creates !== undefined && !args.force ? sh`[ ! -e ${args.creates} ] || { echo 'creates exists'; exit 0; }` : '',
    sh`for c in ${format.tools}; do command -v "$c" >/dev/null 2>&1 || { echo "missing $c"; exit 0; }; done`,
    localSum !== undefined
      ? sh`h=${localSum}`
      : knownSum !== undefined
        ? sh`a=${args.src}; [ -f "$a" ] || { echo 'missing archive'; exit 0; }; h=${knownSum}`
        : sh`a=${args.src}; [ -f "$a" ] || { echo 'missing archive'; exit 0; }; ` + `${sha256Script('a', args.src, { save: !ctx.check })}; h=\${h%% *}`,
    `echo "sha256 $h"`,
    ...(unpackHere
      ? [
          // By its output, not its status: grep says 2 when one of the globs matched nothing, even with a match in another.
          args.force ? '' : `m=$(grep -l -x -F -- "sha256 $h" ${markers} 2>/dev/null); [ -z "$m" ] || { printf '%s\\n' "$m"; exit 0; }`,
          `echo ${UNPACKING}`,
          unpackCommand(format, args.src, dest, args.rename_to, name),
        ]
      : [args.force ? '' : `grep -l -x -F -- "sha256 $h" ${markers} 2>/dev/null`, 'exit 0']),
  ].filter(Boolean);
  const res = await ctx.exec(probe.join('; '));
  const looked = res.stdout.split('\n').filter(Boolean);
  if (looked[1] === UNPACKING) {
    const sum = /^sha256 ([0-9a-f]{64})$/.exec(looked[0] ?? '')?.[1];
    if (!sum) throw new HostFailure(`could not read the sha256 of ${args.src} on ${ctx.host.name} (got ${JSON.stringify(looked[0])})`);
    return placed(ctx, args, res, looked.slice(2), dest, name, { dest, sha256: sum });
  }
  if (res.exitCode !== 0) throw new HostFailure(`looking at ${args.src} failed on ${ctx.host.name} (${explain(res)})`);
  const first = looked[0] ?? '';
  if (first === 'creates exists') return ok(`${args.creates} already exists, so ${name} is not extracted (creates)`);
  if (first.startsWith('missing ') && first !== 'missing archive') {
    const tool = first.slice('missing '.length);
    return failed(`${tool} is not installed on ${ctx.host.name}: install the Debian/RHEL package ${tool}`);
  }
  if (first === 'missing archive') return failed(`archive ${args.src} does not exist on ${ctx.host.name}`);
  const sum = /^sha256 ([0-9a-f]{64})$/.exec(first)?.[1];
  if (!sum) throw new HostFailure(`could not read the sha256 of ${args.src} on ${ctx.host.name} (got ${JSON.stringify(first)})`);
  const data: Record<string, unknown> = { dest, sha256: sum };
  const marker = looked[1];
  if (marker !== undefined) {
    return ok(`${name} (sha256 ${short(sum)}) is already extracted in ${posix.dirname(marker)}`, { ...data, marker });
  }
  const as = args.rename_to !== undefined ? ` as ${posix.join(dest, args.rename_to)}` : '';
  if (ctx.check) return changed(`would extract ${name} (sha256 ${short(sum)}) into ${dest}${as}`, data);

  let archive = args.src;
  let uploaded: string | undefined;
  if (!args.remote_src) {
    await mustRun(ctx, sh`mkdir -p -- ${dest}`, `creating ${dest}`);
    uploaded = tempPath(posix.join(dest, name));
    archive = uploaded;
    try {
      const size = statSync(ctx.resolveLocal(args.src)).size;
      await uploadAs(ctx, ctx.resolveLocal(args.src), uploaded, { onProgress: (p) => ctx.progress({ bytes: p.bytes, total: p.total || size, label: name }) });
    } catch (err) {
      await removeQuietly(ctx, [uploaded]);
      throw err;
    }
  }
  try {
    return await extractAndPlace(ctx, args, format, archive, dest, name, sum, data);
  } finally {
    if (uploaded !== undefined) await removeQuietly(ctx, [uploaded]);
  }
}

/** The line before the unpacking's own output, when the look goes on to unpack. */
const UNPACKING = 'unpacking';
/**
 * Lines of unpackCommand's output after the listing. They hold a slash in the
 * middle, so no entry of the listing (a name, or a name and a slash) can be one.
 */
const PLACING = '/placing/';
const PLACED = '/placed/';
const REFUSED = '/refused/';

/**
 * Extract into a fresh temporary folder beside dest (same filesystem, so the
 * move is a rename); print that folder, the number of files, and the
 * top-level entries. Nothing lands in dest until the whole archive is out.
 *
 * Then, in the same command, into place: a new folder is renamed in whole; an
 * existing one (an earlier version, or force) gets the archive's files copied
 * over it, so data and logs living inside it survive. The marker, holding the
 * sha256 in $h, is written last: an interrupted run is not mistaken for a
 * finished one. rename_to with anything but one top-level folder places
 * nothing. The temporary folder is removed whatever happens.
 */
function unpackCommand(format: Format, archive: string, dest: string, renameTo: string | undefined, name: string): string {
  const entries = '"$t"/* "$t"/.[!.]* "$t"/..?*';
  const present = '[ -e "$p" ] || [ -L "$p" ]';
  const marker = `printf 'sha256 %s\\n' "$h"`;
  const single = [
    `s="$t/$e"; d=${renameTo !== undefined ? sh`"$D"/${renameTo}` : '"$D/$e"'}`,
    `if [ -e "$d" ]; then cp -a -- "$s/." "$d/" && r=merged; else mv -- "$s" "$d" && r=moved; fi && ${marker} > "$d/${MARKER}" && echo "${PLACED} $r"`,
  ].join('; ');
  const several =
    renameTo !== undefined
      ? `echo ${REFUSED}`
      : `r=moved; f=; for p in ${entries}; do ${present} || continue; e=\${p##*/}; ` +
        `if [ -e "$D/$e" ]; then cp -a -- "$p" "$D/" && r=merged; else mv -- "$p" "$D/$e"; fi || { f=1; break; }; done; ` +
        `[ -z "$f" ] && ${marker} > ${sh`"$D"/${`${MARKER}.${name}`}`} && echo "${PLACED} $r"`;
  return [
    sh`D=${dest}; t=; mkdir -p -- "$D" && t=$(mktemp -d "$D/${raw(`${MARKER}-XXXXXX`)}") && echo "$t" && ` +
      `${format.extract(archive)} && find "$t" -type f | wc -l && ls -A -p "$t" || { rc=$?; [ -z "$t" ] || rm -rf -- "$t"; exit $rc; }`,
    `echo ${PLACING}`,
    `n=0; for p in ${entries}; do ${present} || continue; n=$((n + 1)); e=\${p##*/}; done`,
    `if [ "$n" -eq 1 ] && [ -d "$t/$e" ] && [ ! -L "$t/$e" ]; then ${single}; else ${several}; fi; rc=$?; rm -rf -- "$t"; exit $rc`,
  ].join('; ');
}

async function extractAndPlace(ctx: ModuleContext, args: Args, format: Format, archive: string, dest: string, name: string, sum: string, data: Record<string, unknown>): Promise<ModuleResult> {
  const res = await ctx.exec(sh`h=${sum}; ` + unpackCommand(format, archive, dest, args.rename_to, name));
  return placed(ctx, args, res, res.stdout.split('\n').filter(Boolean), dest, name, data);
}

/** What unpackCommand did: its result, and its output's lines. */
function placed(ctx: ModuleContext, args: Args, res: ExecResult, lines: string[], dest: string, name: string, data: Record<string, unknown>): ModuleResult {
  const at = lines.indexOf(PLACING);
  if (at < 0) return failed(`extracting ${name} into ${dest} failed on ${ctx.host.name} (${explain(res)}); nothing in ${dest} was changed`);
  const [, count = '0', ...entries] = lines.slice(0, at);
  const files = parseInt(count.trim(), 10) || 0;
  const dirs = entries.filter((e) => e.endsWith('/')).map((e) => e.slice(0, -1));
  const single = entries.length === 1 && dirs.length === 1 ? dirs[0] : undefined;
  const where = single !== undefined ? posix.join(dest, args.rename_to ?? single) : dest;
  const outcome = lines[at + 1] ?? '';
  if (outcome === REFUSED) {
    const shown = entries.slice(0, 5).join(', ') + (entries.length > 5 ? ', …' : '');
    return failed(`rename_to needs an archive with a single top-level folder; ${name} has ${plural(entries.length, 'entry', 'entries')} at its top (${shown || 'none'})`);
  }
  if (res.exitCode !== 0 || !outcome.startsWith(`${PLACED} `)) return failed(`moving the extracted ${name} into ${where} failed on ${ctx.host.name} (${explain(res)})`);
  const merged = outcome === `${PLACED} merged`;
  const renamed = args.rename_to !== undefined && single !== args.rename_to ? ` (renamed from ${single})` : '';
  const how = merged ? ` over the existing ${where} (files not in the archive were kept)` : ` to ${where}${renamed}`;
  return changed(`extracted ${plural(files, 'file')} from ${name}${how}`, { ...data, files, path: where, merged });
}
