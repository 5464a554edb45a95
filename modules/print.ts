import { z } from 'zod';
import { defineModule, ok } from '../engine/api.js';

export default defineModule({
  name: 'print',
  description: 'Print a message (or a variable) in the run output. Runs on the controller.',
  local: true,
  freeForm: 'msg',
  schema: z
    .object({
      msg: z.unknown().optional().describe('Text to print; {{ }} templates are rendered with the host\'s vars. Lists and maps print as JSON.'),
      var: z.string().optional().describe('Name of a variable to print as JSON instead of msg (a dotted path like result.rows).'),
    })
    .strict(),
  examples: [
    { title: 'Say where we are', yaml: 'print: "deploying {{ inventory_hostname }}"' },
    { title: 'Show a registered result', yaml: 'print: { var: cluster.rows }' },
  ],
  async run(ctx, args) {
    if (args.var !== undefined) {
      const value = args.var.split('.').reduce<unknown>((cur, k) => (cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined), ctx.vars);
      if (value === undefined) return ok(`${args.var} is undefined`, { msg: undefined });
      return ok(ctx.mask(`${args.var} = ${JSON.stringify(value)}`), { msg: value });
    }
    const text = typeof args.msg === 'string' ? args.msg : JSON.stringify(args.msg ?? '');
    return ok(ctx.mask(text), { msg: args.msg });
  },
});
