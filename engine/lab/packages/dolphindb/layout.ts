// The text files of the simulated DolphinDB server/ folder: the `dolphindb`
// program (POSIX sh that runs lib/ddb-sim/main.js on node, keeping its own
// path and options on the command line), the community trial license,
// dolphindb.cfg, and clusterDemo/ with the document's config files (on
// 127.0.0.1) and its start/stop scripts.

import { licenseText, type License } from './sim/license.js';

export interface PackageFile {
  path: string;
  text: string;
  mode: number;
}

const NOTICE = '# SIMULATED DolphinDB (runbook test double): this runs lib/ddb-sim/main.js on node, not DolphinDB.';

const PROGRAM = `#!/bin/sh
${NOTICE}
#
# Cluster processes:  dolphindb -console 0 -mode controller|agent|datanode|computenode -home data
#                     -script dolphindb.dos -config <cfg> -logFile <log> [-nodesFile … -clusterConfig …]
# Terminal mode:      dolphindb -remoteHost <host> -remotePort <port> < script.dos

DDB_HOME=$(cd "$(dirname "$0")" && pwd)
DDB_SIM_NODE=\${DDB_SIM_NODE:-/usr/bin/node}
if [ ! -x "$DDB_SIM_NODE" ]; then
  echo "Unable to find $DDB_SIM_NODE, the runtime of the simulated DolphinDB. Set DDB_SIM_NODE to a node executable." >&2
  exit 1
fi
exec "$DDB_SIM_NODE" "$DDB_HOME/lib/ddb-sim/main.js" "$DDB_HOME/dolphindb" "$@"
`;

/** The document's start scripts: run from clusterDemo (`sh startController.sh`), output to *.nohup. */
function startScript(mode: 'controller' | 'agent'): string {
  const extra = mode === 'controller' ? ' -nodesFile config/cluster.nodes -clusterConfig config/cluster.cfg' : '';
  return `#!/bin/sh
${NOTICE}
cd "$(dirname "$0")" || exit 1
workDir=$(pwd)
export LD_LIBRARY_PATH="$(dirname "$workDir"):$LD_LIBRARY_PATH"
nohup ./../dolphindb -console 0 -mode ${mode} -home data -script dolphindb.dos -config config/${mode}.cfg -logFile log/${mode}.log${extra} > ${mode}.nohup 2>&1 &
`;
}

const STOP_ALL = `#!/bin/sh
${NOTICE}
# Stops every process of this install (controller, agent, data and compute
# nodes) with SIGTERM and waits until they are gone (at most 30 s; then SIGKILL).
cd "$(dirname "$0")/.." || exit 1
server=$(pwd)
pids=$(pgrep -f -- "/lib/ddb-sim/main\\.js $server/dolphindb -console")
if [ -z "$pids" ]; then
  echo "No DolphinDB process of $server is running."
  exit 0
fi
kill -TERM $pids 2>/dev/null
i=0
while [ $i -lt 150 ]; do
  left=
  for p in $pids; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
  [ -z "$left" ] && break
  sleep 0.2
  i=$((i + 1))
done
[ -n "$left" ] && kill -KILL $left 2>/dev/null
echo "Stopped the DolphinDB processes of $server:" $pids
`;

const CONTROLLER_CFG = `mode=controller
localSite=127.0.0.1:8900:controller8900
dfsReplicationFactor=1
dfsReplicaReliabilityLevel=2
dataSync=1
workerNum=4
maxConnections=512
maxMemSize=8
lanCluster=0
`;

const AGENT_CFG = `mode=agent
localSite=127.0.0.1:8901:P1-agent
controllerSite=127.0.0.1:8900:controller8900
workerNum=4
maxMemSize=4
lanCluster=0
`;

const CLUSTER_NODES = `localSite,mode
127.0.0.1:8901:P1-agent,agent
127.0.0.1:8902:P1-datanode,datanode
127.0.0.1:8903:P1-computenode,computenode
`;

const CLUSTER_CFG = `maxMemSize=32
maxConnections=512
workerNum=4
maxBatchJobWorker=4
chunkCacheEngineMemSize=2
TSDBCacheEngineSize=1
newValuePartitionPolicy=add
maxPubConnections=64
subExecutors=4
lanCluster=0
enableChunkGranularityConfig=true
`;

const SINGLE_CFG = `# Single-node configuration (the simulated package runs clusters only; see clusterDemo/).
localSite=localhost:8848:local8848
mode=single
maxMemSize=8
maxConnections=512
workerNum=4
`;

/** The community trial license the package ships: 2 data/compute nodes, so the document's 3-node cluster needs another. */
export const TRIAL_LICENSE: License = { type: 'trial', customer: 'community', maxNodes: 2, maxCores: 2, maxMemoryPerNode: 8, expiration: '2036.12.31' };

const README = (version: string): string => `# DolphinDB ${version} server — SIMULATED

This folder is a **test double** of DolphinDB_Linux64_V${version}.zip, built by
runbook for its end-to-end tests from DolphinDB's multi-server cluster
document. It keeps the folder layout, the \`dolphindb\` program and its
options, clusterDemo/ with its config files and scripts, the cluster rules
and the document's failure modes, but the program is a small Node.js
simulator in lib/ddb-sim/, not DolphinDB (sim-common/ holds the plumbing it
shares with runbook's other simulated products). It stores no data.
`;

export function packageFiles(version: string): PackageFile[] {
  const f = (path: string, text: string, mode = 0o644): PackageFile => ({ path, text, mode });
  const x = (path: string, text: string): PackageFile => f(path, text, 0o755);
  return [
    f('README.md', README(version)),
    // Stored without the execute bit: the document's `chmod +x dolphindb` is needed, as with the real zip.
    f('dolphindb', PROGRAM),
    f('dolphindb.lic', licenseText(TRIAL_LICENSE)),
    f('dolphindb.cfg', SINGLE_CFG),
    f('dolphindb.dos', '// Startup script (empty in the simulated package).\n'),
    f('clusterDemo/dolphindb.dos', '// Startup script of the cluster nodes (empty in the simulated package).\n'),
    f('clusterDemo/config/controller.cfg', CONTROLLER_CFG),
    f('clusterDemo/config/agent.cfg', AGENT_CFG),
    f('clusterDemo/config/cluster.nodes', CLUSTER_NODES),
    f('clusterDemo/config/cluster.cfg', CLUSTER_CFG),
    x('clusterDemo/startController.sh', startScript('controller')),
    x('clusterDemo/startagent.sh', startScript('agent')),
    x('clusterDemo/stopAllNode.sh', STOP_ALL),
  ];
}
