// The text files of the simulated TDengine-server-<version> folder: install.sh,
// bin/ programs, cfg/ samples, placeholders for the drivers and headers. The
// programs are POSIX sh (hosts may have dash as /bin/sh) that run the
// simulator in lib/taos-sim/ with node, keeping the program's path on the
// command line (see sim/main.ts).

export interface PackageFile {
  path: string;
  text: string;
  mode: number;
}

const NOTICE = '# SIMULATED PACKAGE (runbook test double of TDengine): this runs lib/taos-sim/main.js on node, not TDengine.';

function program(name: 'taosd' | 'taos' | 'taosadapter' | 'taoskeeper' | 'taos-explorer', usage: string): string {
  // taos takes no program path: its own arguments follow directly.
  const self = name === 'taos' ? '' : ` "$TAOS_HOME/bin/${name}"`;
  return `#!/bin/sh
${NOTICE}
#
# ${usage}

TAOS_HOME=$(cd "$(dirname "$0")/.." && pwd)
TAOS_SIM_NODE=\${TAOS_SIM_NODE:-/usr/bin/node}
if [ ! -x "$TAOS_SIM_NODE" ]; then
  echo "Unable to find $TAOS_SIM_NODE, the runtime of the simulated TDengine. Set TAOS_SIM_NODE to a node executable." >&2
  exit 1
fi
TAOS_SIM_HOME=$TAOS_HOME
export TAOS_SIM_HOME
exec "$TAOS_SIM_NODE" "$TAOS_HOME/lib/taos-sim/main.js" ${name}${self} "$@"
`;
}

const INSTALL_SH = `#!/bin/sh
${NOTICE}
#
# TDengine's install.sh copies the programs to /usr/local/taos, links them
# into /usr/bin, writes /etc/taos/taos.cfg and registers systemd services.
# The simulated package does not change the system: run the programs from
# this folder instead, each with its own config folder:
#   bin/taosd -c <folder with taos.cfg>
#   bin/taos -h <fqdn> -P 6030 -s "show dnodes"
#   bin/taosadapter -c <taosadapter.toml>
#   bin/taoskeeper -c <taoskeeper.toml>
#   bin/taos-explorer -C <explorer.toml>

echo "This is a simulated TDengine package (runbook test double); install.sh installs nothing."
echo "Run bin/taosd -c <config folder> from $(cd "$(dirname "$0")" && pwd) instead."
`;

function taosCfg(): string {
  return `########################################################
#                                                      #
#                  Configuration                       #
#      (simulated TDengine package built by runbook)   #
########################################################

######### 0. Client only configurations #############

# The interval for CLI to send heartbeat to mnode
# shellActivityTimer           3

############### 1. Cluster End point ############################

# The end point of the first dnode in the cluster to be connected to when this dnode or the CLI utility is started
# firstEp                      hostname:6030

# The end point of the second dnode to be connected to if the firstEp is not available
# secondEp

############### 2. Configuration Parameters of current dnode #####

# The FQDN of the host on which this dnode will be started. It can be IP address
# fqdn                         hostname

# The port for external access after this dnode is started
# serverPort                   6030

# The maximum number of connections a dnode can accept
# maxShellConns                5000

# The directory for writing log files, if you are using Windows platform please change to Windows path
# logDir                       /var/log/taos

# All data files are stored in this directory, if you are using Windows platform please change to Windows path
# dataDir                      /var/lib/taos

# The interval of dnode reporting status to mnode
# statusInterval               1

# Timezone, locale and charset must be identical on every dnode of a cluster
# timezone                     UTC-8
# locale                       en_US.UTF-8
# charset                      UTF-8

# Whether the ttl expiration time changes with the table modification operation
# ttlChangeOnWrite             0

# The number of vnodes supported by this dnode
# supportVnodes                16
`;
}

const ADAPTER_TOML = `# taosAdapter configuration (simulated TDengine package built by runbook).
debug = true
taosConfigDir = ""
port = 6041
logLevel = "info"

[log]
path = "/var/log/taos"
`;

const KEEPER_TOML = `# taosKeeper configuration (simulated TDengine package built by runbook).
debug = false
port = 6043
loglevel = "info"

[tdengine]
host = "127.0.0.1"
port = 6041
username = "root"
password = "taosdata"
usessl = false

[metrics]
prefix = "taos"
database.name = "log"

[log]
path = "/var/log/taos"
`;

const EXPLORER_TOML = `# taos-Explorer configuration (simulated TDengine package built by runbook).
port = 6060
addr = "0.0.0.0"
cluster = "http://localhost:6041"
log_level = "info"

[log]
path = "/var/log/taos"
`;

const README = (version: string): string => `# TDengine ${version} — SIMULATED

This folder is a **test double** of the TDengine-server-${version} package,
built by runbook for its end-to-end tests from TDengine's cluster deployment
document. It keeps the package's layout, program names and options, taos.cfg
keys and defaults, port 6030, the cluster rules (firstEp, create dnode,
parameters that must match, at most 3 mnodes) and the taos client's output,
but the programs are small Node.js servers in lib/taos-sim/, not TDengine
(sim-common/ holds the plumbing they share with runbook's other simulated
products). Nothing here stores time-series data.
`;

export function packageFiles(version: string): PackageFile[] {
  const f = (path: string, text: string, mode = 0o644): PackageFile => ({ path, text, mode });
  const x = (path: string, text: string): PackageFile => f(path, text, 0o755);
  return [
    f('README.md', README(version)),
    x('install.sh', INSTALL_SH),
    x('bin/taosd', program('taosd', 'Usage: taosd -c <config folder> [-V]. Runs in the foreground, as TDengine\'s taosd.')),
    x('bin/taos', program('taos', 'Usage: taos [-h fqdn] [-P port] [-u user] [-p<password>] [-s "sql"] [-c config folder] [-V]')),
    x('bin/taosadapter', program('taosadapter', 'Usage: taosadapter -c <taosadapter.toml>. Runs in the foreground on port 6041.')),
    x('bin/taoskeeper', program('taoskeeper', 'Usage: taoskeeper -c <taoskeeper.toml>. Runs in the foreground on port 6043; asks the cluster through taosAdapter.')),
    x('bin/taos-explorer', program('taos-explorer', 'Usage: taos-explorer -C <explorer.toml>. Runs in the foreground on port 6060; asks the cluster through taosAdapter.')),
    f('cfg/taos.cfg', taosCfg()),
    f('cfg/taoskeeper.toml', KEEPER_TOML),
    f('cfg/explorer.toml', EXPLORER_TOML),
    f('cfg/taosadapter.toml', ADAPTER_TOML),
    f('driver/README-simulated.txt', 'The simulated TDengine package ships no client driver (libtaos.so); the folder exists because the real layout has it.\n'),
    f('include/README-simulated.txt', 'The simulated TDengine package ships no headers (taos.h); the folder exists because the real layout has it.\n'),
    f('examples/README-simulated.txt', 'The simulated TDengine package ships no examples.\n'),
    f('sim-version.txt', `# Version reported by the simulated TDengine programs (runbook test double).\nversion=${version}\nbuild_info=simulated\n`),
  ];
}
