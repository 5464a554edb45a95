import { join } from 'node:path';
import assertModule from '../../../modules/assert.js';
import pause from '../../../modules/pause.js';
import print from '../../../modules/print.js';
import prompt from '../../../modules/prompt.js';
import setFact from '../../../modules/set_fact.js';
import { runModuleCases } from '../../support/module-cases.js';

// Controller-side modules: the fake host must see no command at all.
for (const mod of [assertModule, pause, print, prompt, setFact]) runModuleCases(mod, join(import.meta.dirname, mod.name));
