// Writes playbook YAML to a temporary folder and loads it.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach } from 'vitest';
import type { ModuleDef } from '../../engine/api.js';
import { loadPlaybook } from '../../engine/playbook/load.js';
import type { Playbook } from '../../engine/playbook/types.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Write files (name → YAML text) into a fresh temporary folder; returns its path. */
export function writeFiles(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'runbook-pb-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

export function playbookFrom(files: Record<string, string>, modules: ModuleDef[], main = 'main.yaml'): Playbook {
  const dir = writeFiles(files);
  return loadPlaybook(join(dir, main), { modules: new Map(modules.map((m) => [m.name, m])) });
}
