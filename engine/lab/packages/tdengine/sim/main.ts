// Entry point of the simulated TDengine programs in lib/taos-sim/. The bin/
// scripts call it as:
//
//   main.js taosd <home>/bin/taosd -c <cfgDir>     (foreground, as TDengine's taosd)
//   main.js taos [taos options]
//   main.js taosadapter <home>/bin/taosadapter -c <taosadapter.toml>
//   main.js taoskeeper <home>/bin/taoskeeper -c <taoskeeper.toml>
//   main.js taos-explorer <home>/bin/taos-explorer -C <explorer.toml>
//
// The program's own path is kept on the command line so `pgrep -f
// '<home>/bin/taosd -c <cfgDir>'` finds the simulated process as it would
// find the real one.

import { resolve } from 'node:path';
import { errorMessage, installHome, runMain } from '../../sim-common/main.js';
import { runAdapter } from './adapter.js';
import { runCli } from './cli.js';
import { DEFAULT_CFG_DIR, readVersion, SIMULATED_NOTICE } from './cfg.js';
import { Dnode } from './dnode.js';
import { runService } from './services.js';

const home = process.env.TAOS_SIM_HOME ?? installHome(import.meta.url);

function option(args: string[], name: string, dflt: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
}

async function main(argv: string[]): Promise<number | null> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'taosd': {
      const args = rest.slice(1);
      if (args.includes('-V')) {
        process.stdout.write(`taosd version: ${readVersion(home).version} — ${SIMULATED_NOTICE}\n`);
        return 0;
      }
      const dnode = new Dnode(home, resolve(option(args, '-c', DEFAULT_CFG_DIR)), process.stdout.isTTY === true);
      for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => void dnode.stop(sig).then(() => process.exit(0)));
      try {
        await dnode.start();
      } catch (e) {
        const msg = errorMessage(e);
        dnode.log.error('DND', `failed to start since ${msg}`);
        process.stderr.write(`failed to start taosd since ${msg}\n`);
        return 1;
      }
      return null; // keeps running on its server and timer
    }
    case 'taos':
      return runCli(rest, home);
    case 'taosadapter': {
      const args = rest.slice(1);
      try {
        await runAdapter(home, resolve(option(args, '-c', `${DEFAULT_CFG_DIR}/taosadapter.toml`)));
      } catch (e) {
        process.stderr.write(`taosAdapter: ${errorMessage(e)}\n`);
        return 1;
      }
      return null;
    }
    case 'taoskeeper':
    case 'taos-explorer': {
      const keeper = command === 'taoskeeper';
      const args = rest.slice(1);
      try {
        await runService(keeper ? 'keeper' : 'explorer', home, resolve(option(args, keeper ? '-c' : '-C', `${DEFAULT_CFG_DIR}/${keeper ? 'taoskeeper' : 'explorer'}.toml`)));
      } catch (e) {
        process.stderr.write(`${keeper ? 'taosKeeper' : 'taos-Explorer'}: ${errorMessage(e)}\n`);
        return 1;
      }
      return null;
    }
    default:
      process.stderr.write(`unknown program '${String(command)}'\n`);
      return 2;
  }
}

runMain(main);
