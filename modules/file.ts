import { posix } from 'node:path';
import { z } from 'zod';
import { changed, defineModule, failed, ok, sh, type ModuleContext, type ModuleResult } from '../engine/api.js';
import { attrCommands, attrDifferences, explain, guard, HostFailure, modeArg, mustRun, normMode, parseStat, remotePathArg, remoteStat, safePath, statCommand, tempPath, type RemoteStat } from './lib/remote-files.js';

const schema = z
  .object({
    path: remotePathArg()
      .refine((p) => posix.normalize(p).replace(/\/+$/, '') !== '', 'path may not be "/"')
      .describe('Remote path to manage.'),
    state: z
      .enum(['directory', 'absent', 'file', 'touch', 'symlink'])
      .describe(
        'directory: exists as a directory (parents created). absent: removed, recursively for a directory. file: an existing regular file (only its attributes are managed; it is never created). touch: a file that is created empty if missing (an existing one is left as it is, so reruns are ok). symlink: a symbolic link to src.',
      ),
    src: z.string().min(1).optional().describe('For state symlink: where the link points (stored as given, so it may be relative).'),
    mode: modeArg().optional().describe('Octal mode, quoted ("0755"). Not for symlinks. With recurse it still applies to the directory itself only.'),
    owner: z.string().min(1).optional().describe('Owner (name or uid). Changing it usually needs become.'),
    group: z.string().min(1).optional().describe('Group (name or gid).'),
    recurse: z.boolean().default(false).describe('For state directory: give owner and group to everything under the directory too.'),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.state === 'symlink' && a.src === undefined) ctx.addIssue({ code: 'custom', path: ['src'], message: 'state symlink needs src: where the link points' });
    if (a.state !== 'symlink' && a.src !== undefined) ctx.addIssue({ code: 'custom', path: ['src'], message: 'src is only for state symlink' });
    if (a.state === 'symlink' && a.mode !== undefined) ctx.addIssue({ code: 'custom', path: ['mode'], message: 'symlinks have no mode of their own on Linux' });
    if (a.recurse && a.state !== 'directory') ctx.addIssue({ code: 'custom', path: ['recurse'], message: 'recurse is only for state directory' });
    if (a.state === 'absent' && (a.mode ?? a.owner ?? a.group) !== undefined) ctx.addIssue({ code: 'custom', path: ['state'], message: 'mode, owner and group mean nothing for state absent' });
  });

type Args = z.output<typeof schema>;

export default defineModule({
  name: 'file',
  description: 'Make a remote path a directory, a file, a symlink, or absent, with the mode and owner asked for.',
  schema,
  examples: [
    { title: 'Data directory owned by the service user', yaml: 'file:\n  path: /data/iotdb\n  state: directory\n  owner: iotdb\n  group: iotdb\n  mode: "0750"\n  recurse: true' },
    { title: 'Point "current" at a release', yaml: 'file:\n  path: /opt/iotdb/current\n  state: symlink\n  src: /opt/iotdb/apache-iotdb-1.3.0-all-bin' },
    { title: 'Remove an old release', yaml: 'file:\n  path: /opt/iotdb/apache-iotdb-1.2.0-all-bin\n  state: absent' },
  ],
  run: (ctx, args) =>
    guard(ctx, async () => {
      if (args.state === 'absent') return absent(ctx, args, await statUnlessGone(ctx, args.path));
      if (args.state === 'directory' && !ctx.check) return directoryAtOnce(ctx, args);
      const have = await remoteStat(ctx, args.path, { link: args.state === 'symlink' });
      switch (args.state) {
        case 'directory':
          return directory(ctx, args, have);
        case 'file':
        case 'touch':
          return file(ctx, args, have);
        case 'symlink':
          return symlink(ctx, args, have);
      }
    }),
});

/** Apply attribute fixes to something that exists already, or say it is fine. */
async function attrs(ctx: ModuleContext, args: Args, have: RemoteStat, what: string, opts: { link?: boolean } = {}): Promise<ModuleResult> {
  const fixes = attrDifferences(have, opts.link ? { ...args, mode: undefined } : args);
  if (fixes.length === 0) return ok(`${what} ${args.path} already exists${describeAttrs(have, args)}`);
  if (ctx.check) return changed(`would set ${fixes.join(', ')} on ${what} ${args.path}`);
  await mustRun(ctx, attrCommands(args.path, args, have, opts).join(' && '), `setting attributes of ${args.path}`);
  return changed(`set ${fixes.join(', ')} on ${what} ${args.path}`);
}

/** ", mode 0755, owner iotdb" for the attributes that were asked about. */
function describeAttrs(have: RemoteStat, args: Args): string {
  const parts = [args.mode !== undefined ? `mode ${normMode(have.mode)}` : '', args.owner !== undefined ? `owner ${have.owner}` : '', args.group !== undefined ? `group ${have.group}` : ''];
  const text = parts.filter(Boolean).join(', ');
  return text ? ` with ${text}` : '';
}

/**
 * The path's stat, or undefined when it is absent, also when another program
 * removed it between the existence test and stat (several programs on one
 * machine deleting a shared file): for state absent that is success, not an error.
 */
async function statUnlessGone(ctx: ModuleContext, path: string): Promise<RemoteStat | undefined> {
  try {
    return await remoteStat(ctx, path);
  } catch (err) {
    const again = await ctx.exec(sh`p=${path}; ` + '[ -e "$p" ] || [ -L "$p" ] || echo absent');
    if (again.exitCode === 0 && again.stdout.trim() === 'absent') return undefined;
    throw err;
  }
}

async function absent(ctx: ModuleContext, args: Args, have: RemoteStat | undefined): Promise<ModuleResult> {
  if (!have) return ok(`${args.path} is already absent`);
  const what = have.kind === 'directory' ? 'directory' : have.kind === 'link' ? 'symlink' : have.typeName;
  if (ctx.check) return changed(`would remove ${what} ${args.path}`);
  await mustRun(ctx, sh`rm -rf -- ${args.path}`, `removing ${args.path}`);
  return changed(`removed ${what} ${args.path}`);
}

/** mkdir -p and the attributes asked for; with recurse, chown -R covers the directory itself as well. */
function createDirectory(args: Args): string {
  const own = args.recurse ? [...attrCommands(args.path, { mode: args.mode }), ...recursiveOwnership(args)] : attrCommands(args.path, args);
  return [sh`mkdir -p -- ${args.path}`, ...own].join(' && ');
}

/**
 * State directory outside check mode: the look and, when the path is absent,
 * its creation are one command (a round trip less for every new directory);
 * a path that exists goes on as after any look.
 */
async function directoryAtOnce(ctx: ModuleContext, args: Args): Promise<ModuleResult> {
  const res = await ctx.exec(statCommand(args.path, { ifAbsent: `{ ${createDirectory(args)}; } && echo created` }));
  if (res.stdout.startsWith('absent\n')) {
    if (res.exitCode !== 0 || res.stdout !== 'absent\ncreated\n') throw new HostFailure(`creating ${args.path} failed on ${ctx.host.name} (${explain(res)})`);
    return changed(`created directory ${args.path}${describeWanted(args)}`);
  }
  if (res.exitCode !== 0) throw new HostFailure(`looking at ${args.path} failed on ${ctx.host.name} (${explain(res)})`);
  return directory(ctx, args, parseStat(res.stdout));
}

async function directory(ctx: ModuleContext, args: Args, have: RemoteStat | undefined): Promise<ModuleResult> {
  if (have && have.kind !== 'directory') return failed(`${args.path} on ${ctx.host.name} is a ${have.typeName}, not a directory`);
  if (!have) {
    if (ctx.check) return changed(`would create directory ${args.path}`);
    await mustRun(ctx, createDirectory(args), `creating ${args.path}`);
    return changed(`created directory ${args.path}${describeWanted(args)}`);
  }
  const top = await attrs(ctx, args, have, 'directory');
  if (!args.recurse || (args.owner === undefined && args.group === undefined)) return top;

  // Count what is not owned right, so a rerun is ok and the reason says how much changed.
  const test = [args.owner !== undefined ? sh`! -user ${args.owner}` : '', args.group !== undefined ? sh`! -group ${args.group}` : ''].filter(Boolean).join(' -o ');
  const res = await mustRun(ctx, `${sh`find ${safePath(args.path)}`} -mindepth 1 \\( ${test} \\) | wc -l`, `checking ownership under ${args.path}`);
  const wrong = parseInt(res.stdout.trim(), 10) || 0;
  if (wrong === 0) return top;
  const msg = `${wrong} ${wrong === 1 ? 'entry' : 'entries'} under ${args.path}`;
  if (ctx.check) return changed(`would change the owner of ${msg}${top.status === 'changed' ? `; ${top.msg}` : ''}`);
  await mustRun(ctx, recursiveOwnership(args).join(' && '), `changing ownership under ${args.path}`);
  return changed(`changed the owner of ${msg}${top.status === 'changed' ? `; ${top.msg}` : ''}`);
}

function recursiveOwnership(args: Args): string[] {
  if (!args.recurse) return [];
  if (args.owner !== undefined) return [sh`chown -R ${args.group !== undefined ? `${args.owner}:${args.group}` : args.owner} -- ${args.path}`];
  if (args.group !== undefined) return [sh`chgrp -R ${args.group} -- ${args.path}`];
  return [];
}

function describeWanted(args: Args): string {
  const parts = [args.mode !== undefined ? `mode ${normMode(args.mode)}` : '', args.owner !== undefined ? `owner ${args.owner}` : '', args.group !== undefined ? `group ${args.group}` : ''];
  const text = parts.filter(Boolean).join(', ');
  return text ? ` with ${text}` : '';
}

async function file(ctx: ModuleContext, args: Args, have: RemoteStat | undefined): Promise<ModuleResult> {
  if (have && have.kind !== 'file') return failed(`${args.path} on ${ctx.host.name} is a ${have.typeName}, not a regular file`);
  if (have) return attrs(ctx, args, have, 'file');
  if (args.state === 'file') return failed(`${args.path} does not exist on ${ctx.host.name}; state file only manages an existing file (use state touch to create an empty one, or upload/template to give it content)`);
  if (ctx.check) return changed(`would create empty file ${args.path}`);
  await mustRun(ctx, [sh`touch -- ${args.path}`, ...attrCommands(args.path, args)].join(' && '), `creating ${args.path}`);
  return changed(`created empty file ${args.path}${describeWanted(args)}`);
}

async function symlink(ctx: ModuleContext, args: Args, have: RemoteStat | undefined): Promise<ModuleResult> {
  const target = args.src!;
  if (have && have.kind !== 'link') {
    return failed(`${args.path} on ${ctx.host.name} is a ${have.typeName}, not a symlink; remove it first (state: absent) if it should become a link`);
  }
  if (have && have.target === target) return attrs(ctx, args, have, 'symlink', { link: true });
  if (!have) {
    if (ctx.check) return changed(`would create symlink ${args.path} → ${target}`);
    await mustRun(ctx, [sh`ln -s -- ${target} ${args.path}`, ...attrCommands(args.path, args, undefined, { link: true })].join(' && '), `creating symlink ${args.path}`);
    return changed(`created symlink ${args.path} → ${target}`);
  }
  if (ctx.check) return changed(`would repoint symlink ${args.path} from ${have.target ?? '?'} to ${target}`);
  // A new link under a temporary name renamed over the old one: the path never
  // disappears. mv -T, or mv would move the link into the directory the old one points to.
  const tmp = tempPath(args.path);
  await mustRun(
    ctx,
    `{ ${[sh`ln -s -- ${target} ${tmp}`, ...attrCommands(tmp, args, undefined, { link: true }), sh`mv -fT -- ${tmp} ${args.path}`].join(' && ')}; } || { rc=$?; ${sh`rm -f -- ${tmp}`}; exit $rc; }`,
    `repointing symlink ${args.path}`,
  );
  return changed(`repointed symlink ${args.path} from ${have.target ?? '?'} to ${target}`);
}
