// The built-in modules. One file each; the engine knows them only through this list.

import type { ModuleDef } from '../engine/api.js';
import assertModule from './assert.js';
import pause from './pause.js';
import print from './print.js';
import prompt from './prompt.js';
import setFact from './set_fact.js';

export const builtinModules: ModuleDef[] = [assertModule, pause, print, prompt, setFact] as ModuleDef[];

export function moduleRegistry(extra: ModuleDef[] = []): Map<string, ModuleDef> {
  return new Map([...builtinModules, ...extra].map((m) => [m.name, m]));
}
