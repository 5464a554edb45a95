// Entry point of the simulated `server/dolphindb` (lib/ddb-sim/main.js). The
// shell script keeps the program's own path and DolphinDB's options on the
// command line:
//
//   main.js <server>/dolphindb -console 0 -mode controller|agent|datanode|computenode -home data … -logFile log/<x>.log …
//   main.js <server>/dolphindb -remoteHost <host> -remotePort <port>       (terminal mode, script on stdin)
//
// so `ps aux | grep dolphindb` and `pgrep -f -- '-mode agent'` find the
// processes as they find the real ones.

import { runMain } from '../../sim-common/main.js';
import { Agent } from './agent.js';
import { Fatal, parseArgs, type Proc } from './base.js';
import { runClient } from './client.js';
import { ConfigError } from './cfg.js';
import { Controller } from './controller.js';
import { Node } from './node.js';

const USAGE = 'usage: dolphindb -console 0 -mode controller|agent|datanode|computenode -config <cfg> -logFile <log> …, or dolphindb -remoteHost <host> -remotePort <port> < script';

async function main(argv: string[]): Promise<number | null> {
  const args = parseArgs(argv.slice(1));
  if (args.has('remoteHost') || args.has('remotePort')) return runClient(args);
  const mode = args.get('mode');
  let proc: (Proc & { start(): Promise<void> }) | undefined;
  try {
    if (mode === 'controller') proc = new Controller(args);
    else if (mode === 'agent') proc = new Agent(args);
    else if (mode === 'datanode' || mode === 'computenode') proc = new Node(mode, args);
    else {
      process.stderr.write(`The simulated DolphinDB runs clusters only (controller, agent, datanode, computenode).\n${USAGE}\n`);
      return 1;
    }
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => void proc!.stop().finally(() => process.exit(0)));
    await proc.start();
    return null;
  } catch (e) {
    const msg = e instanceof Fatal || e instanceof ConfigError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e);
    proc?.log.error(msg);
    process.stderr.write(`${msg}\n`);
    return 1;
  }
}

runMain(main);
