// A marked block of lines in a remote text file: added at the end, replaced in
// place when it changes, removed with state: absent. The IoTDB topology's
// extra_opts are appended to confignode-env.sh / datanode-env.sh this way, so
// the package's own settings stay as they ship.

import { z } from 'zod';
import { changed, defineModule, ok, sh } from '../engine/api.js';
import { guard, installCommand, mustRun, remoteStat, tempPath, unifiedDiff, uploadAs } from './lib/remote-files.js';

export default defineModule({
  name: 'blockinfile',
  description: 'Keep a block of lines, between two marker lines, in a remote text file (add, replace or remove it).',
  schema: z
    .object({
      path: z.string().min(1).describe('The remote file.'),
      block: z.string().default('').describe('The lines to keep between the markers (a trailing newline is added).'),
      marker: z
        .string()
        .default('# {mark} MANAGED BY runbook')
        .refine((m) => m.includes('{mark}'), 'the marker must contain {mark}, which becomes BEGIN and END')
        .describe('The marker line; {mark} becomes BEGIN and END. Use a distinct marker for each block in one file.'),
      state: z.enum(['present', 'absent']).default('present').describe('present keeps the block; absent removes it.'),
      create: z.boolean().default(false).describe('Create the file when it does not exist (otherwise that is an error).'),
    })
    .strict(),
  examples: [
    {
      title: 'Append JVM options to datanode-env.sh',
      yaml: 'blockinfile:\n  path: /opt/iotdb/conf/datanode-env.sh\n  marker: "# {mark} extra_opts (runbook)"\n  block: |\n    IOTDB_JMX_OPTS="$IOTDB_JMX_OPTS -XX:+UseG1GC"',
    },
  ],
  async run(ctx, args) {
    return guard(ctx, async () => {
      const begin = args.marker.replace('{mark}', 'BEGIN');
      const end = args.marker.replace('{mark}', 'END');
      const stat = await remoteStat(ctx, args.path);
      if (!stat) {
        if (args.state === 'absent') return ok(`${args.path} does not exist, so holds no block`);
        if (!args.create) return { status: 'failed', msg: `${args.path} does not exist; set create: true to create it` };
      } else if (stat.kind !== 'file') {
        return { status: 'failed', msg: `${args.path} is a ${stat.typeName}, not a regular file` };
      }
      const before = stat ? (await mustRun(ctx, sh`cat -- ${args.path}`, `reading ${args.path}`)).stdout : '';
      const after = withBlock(before, begin, end, args.state === 'present' ? args.block : undefined);
      if (after === before) {
        return ok(args.state === 'present' ? `${args.path} already holds the block "${begin}"` : `${args.path} holds no block "${begin}"`);
      }
      const verb = args.state === 'absent' ? 'removed the block from' : before.includes(begin) ? 'updated the block in' : 'added the block to';
      const diff = ctx.diff ? unifiedDiff(ctx, args.path, before, after) : undefined;
      if (ctx.check) return { ...changed(`would have ${verb} ${args.path}`), diff };
      const tmp = tempPath(args.path);
      await uploadAs(ctx, Buffer.from(after), tmp);
      await mustRun(ctx, installCommand([{ tmp, dest: args.path, existing: stat, mode: stat ? undefined : '0644' }]), `replacing ${args.path}`);
      return { ...changed(`${verb} ${args.path}`), diff };
    });
  },
});

/** The file's text with the marked block set to `block` (or removed when undefined). */
export function withBlock(text: string, begin: string, end: string, block: string | undefined): string {
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const start = lines.indexOf(begin);
  const stop = start >= 0 ? lines.indexOf(end, start + 1) : -1;
  const body = block === undefined ? [] : [begin, ...block.replace(/\n$/, '').split('\n'), end];
  let out: string[];
  if (start >= 0 && stop > start) out = [...lines.slice(0, start), ...body, ...lines.slice(stop + 1)];
  else out = block === undefined ? lines : [...lines, ...body];
  return out.length ? out.join('\n') + '\n' : '';
}
