// The text files of the simulated openmldb-<version>-linux folder: scripts
// with OpenMLDB's names and arguments, default configuration, the one-click
// conf/hosts and openmldb-env.sh. Scripts are POSIX sh (bin/start.sh is run
// with bash, as the document says, but must not need it) and hand over to
// lib/openmldb-sim/main.js on /usr/bin/node.

export interface PackageFile {
  path: string;
  text: string;
  mode: number;
}

const NOTICE =
  '# SIMULATED PACKAGE (runbook test double of OpenMLDB): this script runs\n' +
  '# lib/openmldb-sim/main.js on /usr/bin/node, not OpenMLDB.';

/** Finds the package folder and the simulator; every script starts with it. */
const PRELUDE = `OPENMLDB_SIM_HOME=$(cd "$(dirname "$0")/.." && pwd)
OPENMLDB_SIM_NODE=\${OPENMLDB_SIM_NODE:-/usr/bin/node}
OPENMLDB_SIM_MAIN="$OPENMLDB_SIM_HOME/lib/openmldb-sim/main.js"
if [ ! -x "$OPENMLDB_SIM_NODE" ]; then
  echo "Unable to find $OPENMLDB_SIM_NODE, the runtime of the simulated OpenMLDB. Set OPENMLDB_SIM_NODE to a node executable." >&2
  exit 1
fi
if [ ! -f "$OPENMLDB_SIM_MAIN" ]; then
  echo "Cannot find $OPENMLDB_SIM_MAIN: $OPENMLDB_SIM_HOME/lib is incomplete." >&2
  exit 1
fi`;

const OPENMLDB_BIN = `#!/bin/sh
${NOTICE}
#
# The openmldb program: servers (--role=tablet|nameserver|apiserver, with
# --flagfile=conf/<role>.flags), the SQL client (--role=sql_client) and the
# NameServer client (--role=ns_client), both with --zk_cluster and
# --zk_root_path; statements come from --cmd or standard input.

${PRELUDE}
exec "$OPENMLDB_SIM_NODE" "$OPENMLDB_SIM_MAIN" "$@"
`;

const START_SH = `#!/bin/sh
${NOTICE}
#
# Usage: bash bin/start.sh start|stop|restart tablet|nameserver|taskmanager|apiserver
# Run it in the component's deploy folder. start prints "Starting <role> ..."
# then "Start <role> success" once the server has registered in ZooKeeper;
# the pid is kept in bin/<role>.pid.

${PRELUDE}
cd "$OPENMLDB_SIM_HOME" || exit 1
exec "$OPENMLDB_SIM_NODE" "$OPENMLDB_SIM_MAIN" start.sh "$@"
`;

function allScript(action: 'start' | 'stop'): string {
  return `#!/bin/sh
${NOTICE}
#
# One-click ${action}: ${action}s every component listed in conf/hosts, in the
# order tablet, nameserver, taskmanager, apiserver, by running bin/start.sh
# ${action} <role> in each component's folder (over ssh for other machines).
# Do not mix it with bin/start.sh on single nodes: the OpenMLDB document warns
# that mixing the two ways leads to unpredictable problems.

${PRELUDE}
exec "$OPENMLDB_SIM_NODE" "$OPENMLDB_SIM_MAIN" ${action}-all
`;
}

const CLI_SH = `#!/bin/sh
${NOTICE}
#
# The SQL client of the cluster described by conf/openmldb-env.sh.

${PRELUDE}
. "$OPENMLDB_SIM_HOME/conf/openmldb-env.sh"
exec "$OPENMLDB_SIM_NODE" "$OPENMLDB_SIM_MAIN" --zk_cluster="$OPENMLDB_ZK_CLUSTER" --zk_root_path="$OPENMLDB_ZK_ROOT_PATH" --role=sql_client "$@"
`;

const OPS_PY = `#!/usr/bin/env python3
# SIMULATED PACKAGE (runbook test double of OpenMLDB): this tool hands over to
# lib/openmldb-sim/main.js on node; it is not OpenMLDB's openmldb_ops.py.
#
# python3 tools/openmldb_ops.py --openmldb_bin_path=./bin/openmldb \\
#     --zk_cluster=HOST:PORT --zk_root_path=/openmldb --cmd=recoverdata
# cmd: recoverdata, showtablestatus, showopstatus
import os
import sys

home = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
node = os.environ.get("OPENMLDB_SIM_NODE", "/usr/bin/node")
main = os.path.join(home, "lib", "openmldb-sim", "main.js")
if not os.path.isfile(main):
    sys.exit("Cannot find %s: %s/lib is incomplete." % (main, home))
os.execv(node, [node, main, "ops"] + sys.argv[1:])
`;

const TABLET_FLAGS = `# tablet settings (simulated OpenMLDB reads the same keys)
--endpoint=127.0.0.1:10921
--role=tablet
--zk_cluster=127.0.0.1:2181
--zk_root_path=/openmldb
--zk_session_timeout=10000
--db_root_path=./db
--recycle_bin_root_path=./recycle
--openmldb_log_dir=./logs
`;

const NAMESERVER_FLAGS = `# nameserver settings (simulated OpenMLDB reads the same keys)
--endpoint=127.0.0.1:7527
--role=nameserver
--zk_cluster=127.0.0.1:2181
--zk_root_path=/openmldb
--zk_session_timeout=10000
--auto_failover=false
--openmldb_log_dir=./logs
`;

const APISERVER_FLAGS = `# apiserver settings (simulated OpenMLDB reads the same keys)
--endpoint=127.0.0.1:9080
--role=apiserver
--zk_cluster=127.0.0.1:2181
--zk_root_path=/openmldb
--openmldb_log_dir=./logs
`;

const TASKMANAGER_PROPERTIES = `# TaskManager settings (simulated OpenMLDB reads the same keys; it runs no Spark jobs)
server.host=127.0.0.1
server.port=9902
zookeeper.cluster=127.0.0.1:2181
zookeeper.root_path=/openmldb
spark.master=local
offline.data.prefix=file:///tmp/openmldb_offline_storage/
`;

const HOSTS = `# One-click deployment: the components and where they are installed.
# [role] sections; one component per line: host:port [deploy folder]
# (zookeeper: host:client_port:peer_port:election_port [folder])
[tablet]
localhost:10921 /tmp/openmldb/tablet-1
localhost:10922 /tmp/openmldb/tablet-2

[nameserver]
localhost:7527

[apiserver]
localhost:9080

[taskmanager]
localhost:9902

[zookeeper]
localhost:2181:2888:3888 /tmp/openmldb/zk-1
`;

const ENV_SH = `# One-click deployment settings, read by sbin/*.sh
export OPENMLDB_VERSION=__VERSION__
export OPENMLDB_MODE=\${OPENMLDB_MODE:=cluster}
# The simulated package never runs ZooKeeper itself: use an existing ensemble.
export OPENMLDB_USE_EXISTING_ZK_CLUSTER=true
export OPENMLDB_ZK_CLUSTER=127.0.0.1:2181
export OPENMLDB_ZK_ROOT_PATH=/openmldb
export OPENMLDB_HOME=
`;

const README = (version: string): string => `# OpenMLDB ${version} — SIMULATED

This folder is a **test double** of the \`openmldb-${version}-linux\` release,
built by runbook for its end-to-end tests. It keeps OpenMLDB's layout, script
names and arguments, configuration files, default ports, start-order rules and
client output, but the programs in \`lib/openmldb-sim/\` are small Node.js
servers, not OpenMLDB (\`sim-common/\` holds the plumbing they share with
runbook's other simulated products). They register in a real ZooKeeper. No
data is stored.

- bin/openmldb, bin/start.sh (start|stop|restart tablet|nameserver|taskmanager|apiserver)
- sbin/start-all.sh, sbin/stop-all.sh, sbin/openmldb-cli.sh (one-click, conf/hosts)
- conf/tablet.flags, nameserver.flags, apiserver.flags, taskmanager.properties, hosts, openmldb-env.sh
- tools/openmldb_ops.py (--cmd=recoverdata|showtablestatus|showopstatus)
`;

export function packageFiles(version: string): PackageFile[] {
  const f = (path: string, text: string, mode = 0o644): PackageFile => ({ path, text, mode });
  const x = (path: string, text: string): PackageFile => f(path, text, 0o755);
  return [
    f('README.md', README(version)),
    f('LICENSE', 'Apache License, Version 2.0 — placeholder in a simulated package built by runbook.\n'),
    x('bin/openmldb', OPENMLDB_BIN),
    x('bin/start.sh', START_SH),
    x('sbin/start-all.sh', allScript('start')),
    x('sbin/stop-all.sh', allScript('stop')),
    x('sbin/openmldb-cli.sh', CLI_SH),
    x('tools/openmldb_ops.py', OPS_PY),
    f('conf/tablet.flags', TABLET_FLAGS),
    f('conf/nameserver.flags', NAMESERVER_FLAGS),
    f('conf/apiserver.flags', APISERVER_FLAGS),
    f('conf/taskmanager.properties', TASKMANAGER_PROPERTIES),
    f('conf/hosts', HOSTS),
    f('conf/openmldb-env.sh', ENV_SH.replace('__VERSION__', version)),
    f('logs/.keep', ''),
  ];
}
