// Minimal modules for engine tests, so the scheduler is tested apart from the real modules.

import { z } from 'zod';
import { changed, defineModule, failed, ok, type ModuleDef } from '../../../engine/api.js';

export const shell = defineModule({
  name: 'shell',
  description: 'test: run a command',
  freeForm: 'cmd',
  shellArgs: ['cmd'],
  schema: z.object({ cmd: z.string().describe('command') }).strict(),
  examples: [],
  async run(ctx, args) {
    const r = await ctx.exec(args.cmd);
    const data = { rc: r.exitCode, stdout: r.stdout.trim() };
    return r.exitCode === 0 ? changed(`ran ${args.cmd}`, data) : failed(`exit ${r.exitCode}`, data);
  },
});

/** Counts how many run at once; yields to the event loop a few times while "running". */
export function concurrencyProbe(): { mod: ModuleDef; max: () => number } {
  let running = 0;
  let max = 0;
  const mod = defineModule({
    name: 'probe',
    description: 'test: measure concurrency',
    schema: z.object({}).strict(),
    examples: [],
    async run() {
      running++;
      max = Math.max(max, running);
      for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
      running--;
      return ok('probed');
    },
  });
  return { mod: mod as ModuleDef, max: () => max };
}

/** Fails on the hosts named in `on`, ok elsewhere. */
export const flaky = defineModule({
  name: 'flaky',
  description: 'test: fail on some hosts',
  schema: z.object({ on: z.array(z.string()).default([]) }).strict(),
  examples: [],
  async run(ctx, args) {
    return args.on.includes(ctx.host.name) ? failed(`failed on ${ctx.host.name}`) : ok('fine');
  },
});

/** Succeeds from the n-th call on (per host), to test retries/until. */
export function countdown(): ModuleDef {
  const calls = new Map<string, number>();
  return defineModule({
    name: 'countdown',
    description: 'test: count calls',
    schema: z.object({}).strict(),
    examples: [],
    async run(ctx) {
      const n = (calls.get(ctx.host.name) ?? 0) + 1;
      calls.set(ctx.host.name, n);
      return ok(`call ${n}`, { calls: n });
    },
  }) as ModuleDef;
}
