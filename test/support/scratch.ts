// A scratch folder per suite: also the RUNBOOK_HOME of every CLI run (so run
// logs go away with it), optionally with the simulated IoTDB package built
// into it. Shared by the end-to-end suites (test/e2e/helpers.ts) and the IoTDB
// operations suites (test/support/iotdb-ops.ts).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { buildLabPackage } from '../../engine/lab/index.js';

export interface Scratch {
  /** The folder; valid from beforeAll on. */
  readonly dir: string;
  /** The simulated IoTDB zip built into the folder (only with `iotdbPackage: true`). */
  readonly packagePath: string;
  /** Environment for runCli: RUNBOOK_HOME inside the folder. */
  readonly env: Record<string, string>;
}

export interface ScratchOptions {
  iotdbPackage?: boolean;
  /** Work to finish before the package is built (compiling the simulator). */
  before?: () => Promise<void>;
}

/** A scratch folder for the suite, removed after it even when tests fail. */
export function useScratch(opts: ScratchOptions = {}): Scratch {
  let dir: string | undefined;
  let packagePath: string | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rb-e2e-'));
    await opts.before?.();
    // Built per suite: suites never race each other (or a user) on the shared package folder.
    if (opts.iotdbPackage) packagePath = (await buildLabPackage('iotdb', { outDir: join(dir, 'packages') })).path;
  });
  afterAll(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`${what} is not ready (used outside the suite, or its beforeAll failed)`);
    return v;
  };
  return {
    get dir() {
      return need(dir, 'the scratch folder');
    },
    get packagePath() {
      return need(packagePath, 'the simulated IoTDB package');
    },
    get env() {
      return { RUNBOOK_HOME: join(need(dir, 'the scratch folder'), 'home') };
    },
  };
}
