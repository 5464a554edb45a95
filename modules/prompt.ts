import { z } from 'zod';
import { defineModule, failed, ok, Secret } from '../engine/api.js';

export default defineModule({
  name: 'prompt',
  description:
    'Ask the person running runbook for a value (an activation code, a confirmation) and store it in a variable. Non-interactive runs pass it with -e VAR=value. Runs on the controller.',
  local: true,
  schema: z
    .object({
      question: z.string().describe('What to ask.'),
      var: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).describe('Variable that receives the answer; if -e already set it, nothing is asked.'),
      secret: z.boolean().default(false).describe('Do not echo the answer, and treat it as a secret (masked everywhere).'),
      pattern: z.string().optional().describe('A regular expression the answer must match.'),
      equals: z.string().optional().describe('Text the answer must be exactly, compared as text (a cluster name with dots stays exact, which a pattern would not).'),
    })
    .strict(),
  examples: [
    { title: 'Ask for an activation code', yaml: 'prompt:\n  question: "Activation code for {{ inventory_hostname }}"\n  var: activation_code\n  secret: true' },
    { title: 'Confirm a deletion by typing the cluster name', yaml: 'prompt:\n  question: "Type the cluster name ({{ cluster_name }}) to go ahead"\n  var: typed_cluster_name\n  equals: "{{ cluster_name }}"' },
  ],
  async run(ctx, args) {
    const given = ctx.vars[args.var];
    let answer: string;
    let asked = false;
    if (given !== undefined && given !== null && given !== '') {
      answer = given instanceof Secret ? given.reveal() : String(given);
    } else {
      answer = (await ctx.prompt(args.question, { secret: args.secret })).trim();
      asked = true;
    }
    if (args.pattern && !new RegExp(args.pattern).test(answer)) {
      return failed(`the answer for ${args.var} does not match ${args.pattern}`);
    }
    if (args.equals !== undefined && answer !== args.equals) {
      return failed(args.secret ? `the answer for ${args.var} is not the expected one` : `the answer for ${args.var} is not "${args.equals}"`);
    }
    const value = args.secret ? new Secret(answer, `prompt:${args.var}`) : answer;
    return { ...ok(asked ? `${args.var} answered` : `${args.var} given with -e`), facts: { [args.var]: value } };
  },
});
