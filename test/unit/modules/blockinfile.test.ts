import { join } from 'node:path';
import blockinfile from '../../../modules/blockinfile.js';
import { runModuleCases } from '../../support/module-cases.js';

runModuleCases(blockinfile, join(import.meta.dirname, 'blockinfile'));
