import { z } from 'zod';
import { defineModule, failed, ok } from '../engine/api.js';

export default defineModule({
  name: 'assert',
  description: 'Check conditions (CEL) over the host\'s vars, facts and registered results; fail with a message when one is false. Runs on the controller.',
  local: true,
  schema: z
    .object({
      that: z.union([z.string(), z.array(z.string()).min(1)]).describe('A condition or a list of conditions; all must be true.'),
      fail_msg: z.string().optional().describe('Message when a condition is false (default: the condition itself).'),
      success_msg: z.string().optional().describe('Message when all hold.'),
    })
    .strict(),
  examples: [
    {
      title: 'Every node of the cluster is Running',
      yaml: 'assert:\n  that: cluster.rows.all(r, r.Status == "Running")\n  fail_msg: "not every node is Running"',
    },
  ],
  async run(ctx, args) {
    const conditions = typeof args.that === 'string' ? [args.that] : args.that;
    for (const cond of conditions) {
      const value = ctx.evaluate(cond);
      if (value !== true) {
        return failed(args.fail_msg ?? `assertion failed: ${cond}${value === false ? '' : ` (gave ${JSON.stringify(value)})`}`, { failed_condition: cond });
      }
    }
    return ok(args.success_msg ?? `${conditions.length} condition${conditions.length === 1 ? '' : 's'} hold`);
  },
});
