import { z } from 'zod';
import { defineModule, ok } from '../engine/api.js';

export default defineModule({
  name: 'pause',
  description:
    'Wait a number of seconds, e.g. to let an operator watch a rolling change. Prefer wait-port or until: for waiting on a condition. Runs on the controller.',
  local: true,
  freeForm: 'seconds',
  schema: z
    .object({
      seconds: z.coerce.number().min(0).max(86_400).describe('How long to wait, in seconds.'),
      reason: z.string().optional().describe('Shown in the output while waiting.'),
    })
    .strict(),
  examples: [{ title: 'Give an operator time to look', yaml: 'pause: { seconds: 30, reason: "watch the dashboard" }' }],
  async run(ctx, args) {
    if (ctx.check) return ok(`would pause ${args.seconds} s`);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, args.seconds * 1000);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(t);
        reject(new Error('pause interrupted'));
      }, { once: true });
    });
    return ok(`paused ${args.seconds} s${args.reason ? `: ${args.reason}` : ''}`);
  },
});
