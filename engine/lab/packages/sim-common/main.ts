// How a simulator's main.js starts and ends. The product's scripts call it
// with the product's own options, which each sim/main.ts reads; what is shared
// is where the install is and how the entry's outcome becomes an exit.

import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The install's top folder for a module in <top>/lib/<product>-sim/ (`import.meta.url`). */
export function installHome(metaUrl: string): string {
  return resolve(fileURLToPath(metaUrl), '../../..');
}

/**
 * Run `main` on the command line's arguments: a number is the exit code, null
 * keeps the process running on its servers and timers. A throw prints
 * `describe(error)` on stderr (where the product's start script looks for the
 * reason) and exits 1.
 */
export function runMain(main: (argv: string[]) => Promise<number | null>, describe: (e: unknown) => string = errorMessage): void {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code !== null) process.exit(code);
    },
    (e: unknown) => {
      process.stderr.write(`${describe(e)}\n`);
      process.exit(1);
    },
  );
}
