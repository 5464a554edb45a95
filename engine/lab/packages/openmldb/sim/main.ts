// Entry point of the simulated OpenMLDB (lib/openmldb-sim/main.js). The
// package's scripts call it as:
//
//   main.js --role=tablet|nameserver|taskmanager|apiserver [--flagfile=F]   a server (bin/openmldb)
//   main.js --role=sql_client|ns_client --zk_cluster=Z --zk_root_path=P [--cmd=S]   a client (bin/openmldb)
//   main.js --version                                                        (bin/openmldb --version)
//   main.js start.sh start|stop|restart <role>                               (bin/start.sh)
//   main.js start-all | stop-all                                             (sbin/*.sh)
//   main.js ops --zk_cluster=Z --zk_root_path=P --cmd=recoverdata            (tools/openmldb_ops.py)

import { fileURLToPath } from 'node:url';
import { installHome, runMain } from '../../sim-common/main.js';
import { runNsClient, runSqlClient } from './clients.js';
import { errorMessage, parseFlagLines, SERVER_ROLES, SIMULATED_NOTICE, type ServerRole } from './common.js';
import { ConfigError, loadServerConfig, readVersion } from './config.js';
import { clusterAll, startRole, stopRole } from './control.js';
import { runOps } from './ops.js';
import { runApiServer, runNameserver, runTablet, runTaskManager, StartError } from './servers.js';

const mainPath = fileURLToPath(import.meta.url);
const home = installHome(import.meta.url);

function isServerRole(r: string | undefined): r is ServerRole {
  return r !== undefined && (SERVER_ROLES as readonly string[]).includes(r);
}

async function main(argv: string[]): Promise<number | null> {
  const [first, ...rest] = argv;
  if (first === 'start.sh') {
    const [action, role] = rest;
    if (!['start', 'stop', 'restart'].includes(action ?? '') || !isServerRole(role)) {
      process.stdout.write(`Usage: bash bin/start.sh start|stop|restart ${SERVER_ROLES.join('|')}\n`);
      return 1;
    }
    if (action === 'start') return startRole(home, role, mainPath);
    if (action === 'stop') return stopRole(home, role);
    const stopped = await stopRole(home, role);
    return stopped === 0 ? startRole(home, role, mainPath) : stopped;
  }
  if (first === 'start-all' || first === 'stop-all') return clusterAll(home, first === 'start-all' ? 'start' : 'stop');

  const flags = parseFlagLines(argv.filter((a) => a.startsWith('-')));
  if (first === 'ops') {
    return runOps({ zkCluster: flags.get('zk_cluster') ?? '', zkRootPath: flags.get('zk_root_path') ?? '', cmd: flags.get('cmd') ?? '' });
  }
  if (flags.has('version')) {
    process.stdout.write(`openmldb version ${readVersion(home)} — ${SIMULATED_NOTICE}\n`);
    return 0;
  }
  const role = flags.get('role');
  if (role === 'sql_client' || role === 'ns_client') {
    const a = { zkCluster: flags.get('zk_cluster') ?? '', zkRootPath: flags.get('zk_root_path') ?? '/openmldb', cmd: flags.get('cmd'), version: readVersion(home) };
    return role === 'sql_client' ? runSqlClient(a) : runNsClient(a);
  }
  if (!isServerRole(role)) {
    process.stderr.write(`--role must be one of tablet, nameserver, taskmanager, apiserver, sql_client, ns_client (got ${role ?? 'none'})\n`);
    return 2;
  }
  const cfg = loadServerConfig(role, home, argv);
  const run = { tablet: runTablet, nameserver: runNameserver, taskmanager: runTaskManager, apiserver: runApiServer }[role];
  await run(cfg);
  return null; // the server keeps running on its sockets and timers
}

// Start failures go to stderr (the server's .out file), where start.sh reads the reason.
runMain(main, (e) => `${e instanceof StartError || e instanceof ConfigError ? '' : 'unexpected error: '}${errorMessage(e)}`);
