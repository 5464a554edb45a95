// The built-in modules. One file each; the engine knows them only through this list.

import type { ModuleDef } from '../engine/api.js';
import assertModule from './assert.js';
import blockinfile from './blockinfile.js';
import cliSql from './cli-sql.js';
import facts from './facts.js';
import fetch from './fetch.js';
import file from './file.js';
import pause from './pause.js';
import print from './print.js';
import processModule from './process.js';
import prompt from './prompt.js';
import run from './run.js';
import setFact from './set_fact.js';
import template from './template.js';
import unzip from './unzip.js';
import upload from './upload.js';
import waitPort from './wait-port.js';

export const builtinModules: ModuleDef[] = [
  assertModule,
  blockinfile,
  cliSql,
  facts,
  fetch,
  file,
  pause,
  print,
  processModule,
  prompt,
  run,
  setFact,
  template,
  unzip,
  upload,
  waitPort,
] as ModuleDef[];

export function moduleRegistry(extra: ModuleDef[] = []): Map<string, ModuleDef> {
  return new Map([...builtinModules, ...extra].map((m) => [m.name, m]));
}
