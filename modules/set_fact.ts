import { z } from 'zod';
import { defineModule, ok } from '../engine/api.js';

export default defineModule({
  name: 'set_fact',
  description:
    'Set variables on the host for the rest of the run. They rank above play vars and below -e. Runs on the controller.',
  local: true,
  schema: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a variable name: letters, digits and _'), z.unknown())
    .describe('Each key is a variable name; values may use {{ }} templates.'),
  examples: [{ title: 'Remember the seed ConfigNode', yaml: 'set_fact:\n  seed: "{{ groups.confignodes.0 }}"' }],
  async run(_ctx, args) {
    const names = Object.keys(args);
    return { status: 'ok', msg: names.length ? `set ${names.join(', ')}` : 'nothing to set', facts: args, data: args };
  },
});
