// The `demo` simulated product: the smallest package that behaves like a real
// one (an archive with one top folder, a config file, a server, start and stop
// scripts, a log), used to try playbooks and to test the lab itself.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compiledServerText } from '../../compiled.js';
import type { SimulatedPackage } from '../types.js';

const NOTICE = 'SIMULATED product for runbook lab tests; not a real database or server.';

export const demoPackage: SimulatedPackage = {
  product: 'demo',
  version: '1.0.0-simulated',
  archiveName: 'demo-1.0.0-simulated.tar.gz',
  topDir: 'demo-1.0.0',
  format: 'tar.gz',
  description: 'A one-process TCP server on port 7070 with start/stop scripts, for trying playbooks against the lab.',

  async build(dir: string): Promise<void> {
    const server = compiledServerText('demo', 'server');
    for (const sub of ['bin', 'conf', 'lib', 'logs']) mkdirSync(join(dir, sub), { recursive: true });
    writeFileSync(join(dir, 'README.txt'), `demo 1.0.0\n\n${NOTICE}\n\nbin/start.sh starts demo-server on the port in conf/demo.conf; bin/stop.sh stops it.\nIt answers \`version\`, \`ping\` and \`quit\`, one per line.\n`);
    writeFileSync(join(dir, 'conf', 'demo.conf'), `# demo-server settings (${NOTICE})\nport=7070\n`);
    writeFileSync(join(dir, 'lib', 'demo-server.mjs'), server);
    // The compiled server is an ES module, and an extension-less file outside
    // any package.json is loaded as CommonJS; this stub bridges the two on
    // every Node version.
    writeFileSync(join(dir, 'bin', 'demo-server'), "#!/usr/bin/env node\n// demo-server (simulated): the server itself is lib/demo-server.mjs.\nimport('../lib/demo-server.mjs');\n", { mode: 0o755 });
    writeFileSync(join(dir, 'bin', 'start.sh'), START_SH, { mode: 0o755 });
    writeFileSync(join(dir, 'bin', 'stop.sh'), STOP_SH, { mode: 0o755 });
  },
};

const START_SH = `#!/bin/sh
# Start demo-server in the background (${NOTICE})
# Exits 0 once it listens, 1 with the reason from logs/demo.log if it cannot start.
set -eu
DEMO_HOME=$(cd "$(dirname "$0")/.." && pwd)
cd "$DEMO_HOME"
mkdir -p logs
PID_FILE=logs/demo.pid
if [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
  echo "demo-server is already running (pid $(cat "$PID_FILE"))"
  exit 0
fi
DEMO_HOME="$DEMO_HOME" setsid nohup "\${NODE:-node}" bin/demo-server >>logs/demo.out 2>&1 </dev/null &
pid=$!
echo "$pid" > "$PID_FILE"
# The server logs one line with its pid: "listening" or an ERROR.
tries=0
while [ "$tries" -lt 100 ]; do
  if grep -q "ERROR .*(pid $pid)" logs/demo.log 2>/dev/null; then
    rm -f "$PID_FILE"
    echo "demo-server did not start:" >&2
    grep "ERROR .*(pid $pid)" logs/demo.log >&2
    exit 1
  fi
  if grep -q "listening .*(pid $pid)" logs/demo.log 2>/dev/null; then
    echo "demo-server started (pid $pid)"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    rm -f "$PID_FILE"
    echo "demo-server exited at once; see $DEMO_HOME/logs/demo.out" >&2
    exit 1
  fi
  sleep 0.1
  tries=$((tries + 1))
done
echo "demo-server (pid $pid) did not report listening within 10 s; see $DEMO_HOME/logs/demo.log" >&2
exit 1
`;

const STOP_SH = `#!/bin/sh
# Stop demo-server (${NOTICE})
set -eu
DEMO_HOME=$(cd "$(dirname "$0")/.." && pwd)
PID_FILE="$DEMO_HOME/logs/demo.pid"
if [ ! -f "$PID_FILE" ] || ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
  rm -f "$PID_FILE"
  echo "demo-server is not running"
  exit 0
fi
pid=$(cat "$PID_FILE")
kill -TERM "$pid"
tries=0
while kill -0 "$pid" 2>/dev/null; do
  if [ "$tries" -ge 100 ]; then
    echo "demo-server (pid $pid) did not stop within 10 s" >&2
    exit 1
  fi
  sleep 0.1
  tries=$((tries + 1))
done
rm -f "$PID_FILE"
echo "demo-server stopped (pid $pid)"
`;
