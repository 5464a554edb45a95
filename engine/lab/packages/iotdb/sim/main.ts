// Entry point of the simulated IoTDB program in lib/iotdb-sim/. The sbin
// scripts call it as:
//
//   main.js confignode|datanode --home H --conf C [--pidfile P] [--daemon] [--main-class CLASS]
//   main.js stop-confignode|stop-datanode --home H [--pidfile P] [--force]
//   main.js remove-confignode|remove-datanode --home H --conf C -- <id | address:port>
//   main.js wait-confignode --home H --conf C [--timeout-ms N]
//   main.js cli <start-cli.sh options>
//   main.js version --home H

import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { installHome, runMain } from '../../sim-common/main.js';
import { runCli } from './cli.js';
import { readVersion } from './config.js';
import { runConfigNode } from './confignode.js';
import { removeClusterNode, startDaemon, stopNode, waitConfigNodeReady } from './control.js';
import { runDataNode } from './datanode.js';
import { startNodeServices } from './node-services.js';
import type { Role } from './log.js';
import { defaultPidFile, SIMULATED_NOTICE } from './node-base.js';

interface Args {
  command: string;
  home: string;
  conf: string;
  pidFile: string | null;
  daemon: boolean;
  daemonChild: boolean;
  force: boolean;
  timeoutMs: number;
  rest: string[];
}

function parse(argv: string[]): Args {
  const a: Args = {
    command: argv[0] ?? '',
    home: process.env.IOTDB_HOME ?? installHome(import.meta.url),
    conf: '',
    pidFile: null,
    daemon: false,
    daemonChild: false,
    force: false,
    timeoutMs: 60_000,
    rest: [],
  };
  if (a.command === 'cli') {
    a.rest = argv.slice(1);
    return a;
  }
  for (let i = 1; i < argv.length; i++) {
    const x = argv[i]!;
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`missing value for ${x}`);
      return v;
    };
    if (x === '--home') a.home = next();
    else if (x === '--conf') a.conf = next();
    else if (x === '--pidfile') a.pidFile = next();
    else if (x === '--daemon') a.daemon = true;
    else if (x === '--daemon-child') a.daemonChild = true;
    else if (x === '--force') a.force = true;
    else if (x === '--timeout-ms') a.timeoutMs = Number(next());
    // Only there so `ps`/`pgrep -f` checks written for the Java process match the simulated one.
    else if (x === '--main-class') next();
    else if (x === '--') {
      a.rest = argv.slice(i + 1);
      break;
    } else a.rest.push(x);
  }
  a.home = resolve(a.home);
  if (a.conf === '') a.conf = resolve(a.home, 'conf');
  return a;
}

async function main(argv: string[]): Promise<number | null> {
  const a = parse(argv);
  const role: Role | null = a.command.endsWith('confignode') ? 'confignode' : a.command.endsWith('datanode') ? 'datanode' : null;
  const pidFile = a.pidFile ?? (role ? defaultPidFile(a.home, role) : '');
  switch (a.command) {
    case 'confignode':
    case 'datanode': {
      if (a.daemon) return startDaemon(role!, a.home, a.conf, pidFile, fileURLToPath(import.meta.url));
      const opts = { home: a.home, confDir: a.conf, pidFile, foreground: !a.daemonChild };
      if (role === 'confignode') await runConfigNode(opts);
      else await runDataNode(opts);
      await startNodeServices(role!, opts);
      return null; // the node keeps running on its servers and timers
    }
    case 'stop-confignode':
    case 'stop-datanode':
      return stopNode(role!, a.home, pidFile, a.force);
    case 'remove-confignode':
      return removeClusterNode('ConfigNode', a.home, a.conf, a.rest);
    case 'remove-datanode':
      return removeClusterNode('DataNode', a.home, a.conf, a.rest);
    case 'wait-confignode':
      return waitConfigNodeReady(a.home, a.conf, a.timeoutMs);
    case 'cli':
      return runCli(a.rest);
    case 'version': {
      const v = readVersion(a.home);
      process.stdout.write(`${v.version} (Build: ${v.buildInfo}) — ${SIMULATED_NOTICE}\n`);
      return 0;
    }
    default:
      process.stderr.write(`unknown command '${a.command}'\n`);
      return 2;
  }
}

runMain(main);
