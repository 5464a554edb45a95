// Where runbook's own files are, whether running from source (vitest) or from dist/.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'runbook') return dir;
      } catch {
        // not ours; keep walking
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('runbook: cannot find the runbook package root');
    dir = up;
  }
}

export const packageRoot = findRoot();
export const builtinPlaybooksDir = join(packageRoot, 'playbooks');
export const builtinTemplatesDir = join(packageRoot, 'templates');
export const builtinInventoriesDir = join(packageRoot, 'inventories');

/** Runtime state (logs, journals, lab) lives under RUNBOOK_HOME, default ~/.runbook. */
export function runbookHome(): string {
  return resolve(process.env.RUNBOOK_HOME ?? join(process.env.HOME ?? '/root', '.runbook'));
}
