// The text files of the simulated apache-iotdb-<version>-all-bin folder:
// sbin scripts, conf env files, placeholders. Scripts are POSIX sh (hosts may
// have dash as /bin/sh) and keep IoTDB's names, options and messages; they run
// the simulator in lib/iotdb-sim/ with /usr/bin/node instead of a JVM.

import { MAIN_CLASS } from './sim/control.js';

export interface PackageFile {
  path: string;
  text: string;
  mode: number;
}

const NOTICE =
  '# SIMULATED PACKAGE (runbook test double of Apache IoTDB): this script runs\n' +
  '# lib/iotdb-sim/main.js on /usr/bin/node, not Apache IoTDB.';

const COMMON_SH = `#!/bin/sh
${NOTICE}
#
# Sourced by every sbin script: finds IOTDB_HOME and the simulator.

if [ -z "\${IOTDB_HOME:-}" ]; then
  IOTDB_HOME=$(cd "$(dirname "$0")/.." && pwd)
fi
export IOTDB_HOME
IOTDB_SIM_NODE=\${IOTDB_SIM_NODE:-/usr/bin/node}
IOTDB_SIM_MAIN="$IOTDB_HOME/lib/iotdb-sim/main.js"
if [ ! -x "$IOTDB_SIM_NODE" ]; then
  echo "Unable to find $IOTDB_SIM_NODE, the runtime of the simulated IoTDB. Set IOTDB_SIM_NODE to a node executable." >&2
  exit 1
fi
if [ ! -f "$IOTDB_SIM_MAIN" ]; then
  echo "Cannot find $IOTDB_SIM_MAIN: $IOTDB_HOME/lib is incomplete." >&2
  exit 1
fi
`;

function startScript(role: 'confignode' | 'datanode'): string {
  const title = role === 'confignode' ? 'ConfigNode' : 'DataNode';
  const confVar = role === 'confignode' ? 'CONFIGNODE_CONF' : 'DATANODE_CONF';
  const optsVar = role === 'confignode' ? 'CONFIGNODE_JMX_OPTS' : 'IOTDB_JMX_OPTS';
  const mainClass = MAIN_CLASS[role];
  return `#!/bin/sh
${NOTICE}
#
# Starts a ${title} in the foreground (default, as IoTDB's script) or, with -d,
# in the background. Options: -d daemon, -f foreground, -p pidfile,
# -c conf folder, -v version, -h help; -D/-X/-H/-E/-g are recorded as JVM options.

. "$(dirname "$0")/../conf/iotdb-common.sh"

echo ----------------------------
echo "Starting IoTDB ${title} (simulated)"
echo ----------------------------

${confVar}=\${${confVar}:-"$IOTDB_HOME/conf"}
daemon=""
pidfile=""

need_value() {
  if [ "$2" -lt 2 ]; then
    echo "Error parsing arguments! Option $1 needs a value" >&2
    exit 1
  fi
}

if [ $# -ne 0 ]; then
  echo "All parameters are $*"
fi
while [ $# -gt 0 ]; do
  case "$1" in
    -c) need_value "$1" $#; ${confVar}=$2; shift 2 ;;
    -p) need_value "$1" $#; pidfile=$2; shift 2 ;;
    -d) daemon=yes; shift ;;
    -f) daemon=""; shift ;;
    -g|printgc) shift ;;
    -H) need_value "$1" $#; IOTDB_JVM_OPTS="$IOTDB_JVM_OPTS -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=$2"; shift 2 ;;
    -E) need_value "$1" $#; IOTDB_JVM_OPTS="$IOTDB_JVM_OPTS -XX:ErrorFile=$2"; shift 2 ;;
    -D) need_value "$1" $#; IOTDB_JVM_OPTS="$IOTDB_JVM_OPTS -D$2"; shift 2 ;;
    -D*) IOTDB_JVM_OPTS="$IOTDB_JVM_OPTS $1"; shift ;;
    -X) need_value "$1" $#; IOTDB_JVM_OPTS="$IOTDB_JVM_OPTS -XX:$2"; shift 2 ;;
    -X*) IOTDB_JVM_OPTS="$IOTDB_JVM_OPTS $1"; shift ;;
    -v) exec "$IOTDB_SIM_NODE" "$IOTDB_SIM_MAIN" version --home "$IOTDB_HOME" ;;
    -h) echo "Usage: $0 [-v] [-f] [-d] [-h] [-p pidfile] [-c configFolder] [-H HeapDumpPath] [-E JvmErrorFile] [printgc]"; exit 0 ;;
    --) shift; break ;;
    *) echo "Error parsing arguments! Unknown argument \\"$1\\"" >&2; exit 1 ;;
  esac
done

if [ -f "$${confVar}/${role}-env.sh" ]; then
  . "$${confVar}/${role}-env.sh"
else
  echo "Can't find $${confVar}/${role}-env.sh"
fi
export ${optsVar} IOTDB_JVM_OPTS MAX_HEAP_SIZE ON_HEAP_MEMORY OFF_HEAP_MEMORY

set -- ${role} --home "$IOTDB_HOME" --conf "$${confVar}" --main-class ${mainClass}
if [ -n "$pidfile" ]; then set -- "$@" --pidfile "$pidfile"; fi
if [ -n "$daemon" ]; then set -- "$@" --daemon; fi
exec "$IOTDB_SIM_NODE" "$IOTDB_SIM_MAIN" "$@"
`;
}

function stopScript(role: 'confignode' | 'datanode'): string {
  const title = role === 'confignode' ? 'ConfigNode' : 'DataNode';
  return `#!/bin/sh
${NOTICE}
#
# Stops this folder's ${title}: SIGTERM (or SIGKILL with -f), then waits until
# the process is gone. Exits 1 with "No ${title} to stop" when none runs.

. "$(dirname "$0")/../conf/iotdb-common.sh"

force=""
pidfile=""
while [ $# -gt 0 ]; do
  case "$1" in
    -f) force=yes; shift ;;
    -p) pidfile=$2; shift 2 ;;
    *) echo "Error parsing arguments! Unknown argument \\"$1\\"" >&2; exit 1 ;;
  esac
done

set -- stop-${role} --home "$IOTDB_HOME"
if [ -n "$pidfile" ]; then set -- "$@" --pidfile "$pidfile"; fi
if [ -n "$force" ]; then set -- "$@" --force; fi
exec "$IOTDB_SIM_NODE" "$IOTDB_SIM_MAIN" "$@"
`;
}

function removeScript(role: 'confignode' | 'datanode'): string {
  const confVar = role === 'confignode' ? 'CONFIGNODE_CONF' : 'DATANODE_CONF';
  const shape = role === 'confignode' ? '<confignode_id | cn_internal_address:cn_internal_port>' : '<datanode_id | dn_rpc_address:dn_rpc_port>';
  return `#!/bin/sh
${NOTICE}
#
# Usage: remove-${role}.sh ${shape}
# Asks the ConfigNode-leader (found through this folder's conf and system dir)
# to remove the node; the removed node stops itself.

. "$(dirname "$0")/../conf/iotdb-common.sh"

${confVar}=\${${confVar}:-"$IOTDB_HOME/conf"}
exec "$IOTDB_SIM_NODE" "$IOTDB_SIM_MAIN" remove-${role} --home "$IOTDB_HOME" --conf "$${confVar}" -- "$@"
`;
}

const CLI_SH = `#!/bin/sh
${NOTICE}
#
# usage: start-cli.sh [-h host] [-p port] [-u user] [-pw password] [-e "statements"]
# Defaults: -h 127.0.0.1 -p 6667 -u root -pw root. Without -e, statements are read from stdin.

. "$(dirname "$0")/../conf/iotdb-common.sh"

exec "$IOTDB_SIM_NODE" "$IOTDB_SIM_MAIN" cli "$@"
`;

const START_ACTIVATE_SH = `#!/bin/sh
${NOTICE}
#
# TimechoDB activation (simulated): prints this machine's code from
# activation/system_info (the ConfigNode writes it when it starts), reads the
# license (activation code) from stdin and stores it as activation/license
# when it fits that code. See lib/iotdb-sim/activation.js for the scheme.

. "$(dirname "$0")/../conf/iotdb-common.sh"

exec "$IOTDB_SIM_NODE" "$IOTDB_HOME/lib/iotdb-sim/activation.js" --home "$IOTDB_HOME"
`;

const START_STANDALONE_SH = `#!/bin/sh
${NOTICE}
#
# Starts one ConfigNode and one DataNode from this folder's conf, in the
# background: the DataNode is started once the ConfigNode serves.

SBIN=$(cd "$(dirname "$0")" && pwd)
. "$SBIN/../conf/iotdb-common.sh"

sh "$SBIN/start-confignode.sh" -d || exit $?
"$IOTDB_SIM_NODE" "$IOTDB_SIM_MAIN" wait-confignode --home "$IOTDB_HOME" --conf "\${CONFIGNODE_CONF:-$IOTDB_HOME/conf}" || exit $?
sh "$SBIN/start-datanode.sh" -d || exit $?
echo "Execute start-standalone.sh finished, you can see more details in the logs of confignode and datanode"
`;

const STOP_STANDALONE_SH = `#!/bin/sh
${NOTICE}
#
# Stops this folder's DataNode, then its ConfigNode.

SBIN=$(cd "$(dirname "$0")" && pwd)
sh "$SBIN/stop-datanode.sh"
dn=$?
sh "$SBIN/stop-confignode.sh"
cn=$?
if [ $dn -ne 0 ] || [ $cn -ne 0 ]; then
  exit 1
fi
`;

function envScript(role: 'confignode' | 'datanode'): string {
  const title = role === 'confignode' ? 'ConfigNode' : 'DataNode';
  const optsVar = role === 'confignode' ? 'CONFIGNODE_JMX_OPTS' : 'IOTDB_JMX_OPTS';
  const defaultHeap = role === 'confignode' ? '1024M' : '2048M';
  return `#!/bin/sh
#
# ${title} environment, sourced by sbin/start-${role}.sh (and start-standalone.sh).
# SIMULATED PACKAGE (runbook test double of Apache IoTDB): there is no JVM; the
# simulated ${title} writes the resulting ${optsVar} and memory settings to
# logs/log_${role}_all.log when it starts. Lines appended to this file (for
# instance iotdbctl's extra_opts) take effect the same way.

# You can set ${title} memory size, example '2G' or '2048M'
MEMORY_SIZE=

# on heap memory size
#ON_HEAP_MEMORY="2G"
# off heap memory size
#OFF_HEAP_MEMORY="512M"

if [ -z "\${ON_HEAP_MEMORY:-}" ]; then
  ON_HEAP_MEMORY=\${MEMORY_SIZE:-${defaultHeap}}
fi
if [ -z "\${OFF_HEAP_MEMORY:-}" ]; then
  OFF_HEAP_MEMORY=512M
fi
MAX_HEAP_SIZE=$ON_HEAP_MEMORY

${optsVar}="$${optsVar} -Xms\${ON_HEAP_MEMORY} -Xmx\${ON_HEAP_MEMORY} -XX:MaxDirectMemorySize=\${OFF_HEAP_MEMORY}"
${optsVar}="$${optsVar} -Djdk.nio.maxCachedBufferSize=262144 -XX:+CrashOnOutOfMemoryError"
`;
}

function logback(role: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- SIMULATED PACKAGE (runbook test double of Apache IoTDB): placeholder.
     The simulated ${role} always writes logs/log_${role}_all.log, _warn.log and _error.log
     with the pattern "%d [%t] %-5level %logger - %msg%n". -->
<configuration/>
`;
}

const README = (version: string): string => `# Apache IoTDB ${version} — SIMULATED

This folder is a **test double** of the \`apache-iotdb-${version}-all-bin\`
distribution, built by runbook for its end-to-end tests. It keeps the vendor's
layout, script names, configuration keys, default ports, start-order rules,
failure modes and CLI output, but the programs in \`lib/iotdb-sim/\` are small
Node.js servers, not Apache IoTDB (\`sim-common/\` holds the plumbing they
share with runbook's other simulated products). Nothing here stores
time-series data.

- conf/iotdb-system.properties — the documented keys and defaults
- sbin/start-confignode.sh, start-datanode.sh (-d for background), stop-*.sh,
  start-cli.sh, remove-confignode.sh, remove-datanode.sh,
  start-standalone.sh, stop-standalone.sh
- logs/log_confignode_all.log, logs/log_datanode_all.log
`;

export function packageFiles(version: string, sysProps: string): PackageFile[] {
  const f = (path: string, text: string, mode = 0o644): PackageFile => ({ path, text, mode });
  const x = (path: string, text: string): PackageFile => f(path, text, 0o755);
  return [
    f('README.md', README(version)),
    f('LICENSE', 'Apache License, Version 2.0 — placeholder in a simulated package built by runbook.\n'),
    f('NOTICE', `Simulated Apache IoTDB ${version} package, built by runbook for tests. Not a distribution of Apache IoTDB.\n`),
    f('conf/iotdb-system.properties', sysProps),
    x('conf/iotdb-common.sh', COMMON_SH),
    x('conf/confignode-env.sh', envScript('confignode')),
    x('conf/datanode-env.sh', envScript('datanode')),
    f('conf/logback-confignode.xml', logback('confignode')),
    f('conf/logback-datanode.xml', logback('datanode')),
    f('conf/logback-cli.xml', logback('cli')),
    x('sbin/start-confignode.sh', startScript('confignode')),
    x('sbin/stop-confignode.sh', stopScript('confignode')),
    x('sbin/start-datanode.sh', startScript('datanode')),
    x('sbin/stop-datanode.sh', stopScript('datanode')),
    x('sbin/remove-confignode.sh', removeScript('confignode')),
    x('sbin/remove-datanode.sh', removeScript('datanode')),
    x('sbin/start-cli.sh', CLI_SH),
    x('sbin/start-activate.sh', START_ACTIVATE_SH),
    x('sbin/start-standalone.sh', START_STANDALONE_SH),
    x('sbin/stop-standalone.sh', STOP_STANDALONE_SH),
    f('licenses/LICENSE-thrift.txt', 'Placeholder license file of the simulated IoTDB package.\n'),
    f('licenses/LICENSE-ratis.txt', 'Placeholder license file of the simulated IoTDB package.\n'),
    f('tools/README-simulated.txt', 'The simulated IoTDB package ships no tools (import/export, backup); the folder exists because the real layout has it.\n'),
  ];
}

/** Placeholder jar names: an upgraded lib/ shows its version in the names, as IoTDB's does. */
export function placeholderJars(version: string): string[] {
  return [
    `iotdb-server-${version}.jar`,
    `iotdb-confignode-${version}.jar`,
    `iotdb-cli-${version}.jar`,
    `iotdb-session-${version}.jar`,
    `node-commons-${version}.jar`,
    `tsfile-${version}.jar`,
    'libthrift-0.14.1.jar',
    'ratis-server-2.4.1.jar',
  ];
}
