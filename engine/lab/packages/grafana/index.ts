// The simulated Grafana package (grafana-<version>.linux-amd64.tar.gz), for
// the monitoring part of the IoTDB topology (grafana_server). It keeps the
// vendor's layout: grafana-<version>/ with bin/grafana-server (and bin/grafana
// with its `server` subcommand), conf/defaults.ini, conf/sample.ini and the
// conf/provisioning folders, so a playbook that deploys the real archive
// deploys this one the same way. The server is engine/lab/packages/grafana/
// server.ts compiled by `npm run build`, run with /usr/bin/node; it is
// labelled simulated in its VERSION-derived health answer, its log and README.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { compiledServerText } from '../../compiled.js';
import type { SimulatedPackage } from '../types.js';

export const DEFAULT_GRAFANA_VERSION = '10.0.3';

const NOTICE = 'SIMULATED PACKAGE (runbook test double of Grafana): runs lib/grafana-sim/server.mjs on /usr/bin/node, not Grafana.';

const LAUNCH = (prelude: string): string => `#!/bin/sh
# ${NOTICE}
${prelude}GRAFANA_HOME=$(cd "$(dirname "$0")/.." && pwd)
GRAFANA_SIM_NODE=\${GRAFANA_SIM_NODE:-/usr/bin/node}
if [ ! -x "$GRAFANA_SIM_NODE" ]; then
  echo "Unable to find $GRAFANA_SIM_NODE, the runtime of the simulated Grafana. Set GRAFANA_SIM_NODE to a node executable." >&2
  exit 1
fi
exec "$GRAFANA_SIM_NODE" "$GRAFANA_HOME/lib/grafana-sim/server.mjs" "$@"
`;

const GRAFANA_SERVER_ONLY = `if [ "\${1:-}" != server ]; then
  echo "the simulated grafana only knows: grafana server [flags]" >&2
  exit 2
fi
shift
`;

// The keys the simulator reads, with Grafana's defaults; the real defaults.ini has many more.
const DEFAULTS_INI = `##################### Grafana Configuration Defaults #####################
#
# ${NOTICE}
# Do not modify this file in grafana installs: override settings in conf/custom.ini
# or in the file given with --config, as with Grafana.

#################################### Paths ###############################
[paths]
# Path to where grafana can store temp files, sessions, and the sqlite3 db (if that is used)
data = data

# Directory where grafana can store logs
logs = data/log

# folder that contains provisioning config files that grafana will apply on startup and while running.
provisioning = conf/provisioning

#################################### Server ##############################
[server]
# Protocol (http, https, h2, socket); the simulator serves http
protocol = http

# The ip address to bind to, empty will bind to all interfaces
http_addr =

# The http port to use
http_port = 3000

#################################### Security ############################
[security]
# default admin user, created on startup
admin_user = admin

# default admin password, can be changed before first start of grafana, or in profile settings
admin_password = admin
`;

const SAMPLE_INI = `##################### Grafana Configuration Example #####################
#
# ${NOTICE}
# Copy the settings you change into conf/custom.ini.

;[server]
;http_addr =
;http_port = 3000

;[security]
;admin_user = admin
;admin_password = admin
`;

const PROVISIONING_SAMPLE = (what: string): string => `# # config file version
# apiVersion: 1
#
# # list of ${what} to provision; see Grafana's provisioning documentation.
# # ${NOTICE}
# # The simulator reads these files in YAML's JSON form.
`;

const README = (version: string): string => `# Grafana ${version} — SIMULATED

This folder is a **test double** of the \`grafana-${version}\` distribution,
built by runbook for its end-to-end tests. It keeps Grafana's layout
(bin/grafana-server, conf/defaults.ini, conf/provisioning/), its ini settings
(paths.data, paths.logs, paths.provisioning, server.http_addr, server.http_port,
security.admin_user, security.admin_password) and the HTTP API a deployment
check uses: /api/health, and with the admin's basic auth /api/search,
/api/datasources and /api/dashboards/uid/<uid>. Dashboards come from
file-based dashboard providers; provisioning files are read in YAML's JSON form.
There is no web UI, database, alerting or plugin system.

Start: bin/grafana-server --homepath <this folder> [--config conf/custom.ini] [--pidfile FILE]
Log:   data/log/grafana.log
`;

export function grafanaPackage(version: string = DEFAULT_GRAFANA_VERSION): SimulatedPackage {
  const topDir = `grafana-${version}`;
  return {
    product: 'grafana',
    version: `${version} (simulated by runbook)`,
    archiveName: `${topDir}.linux-amd64.tar.gz`,
    topDir,
    format: 'tar.gz',
    description: `Simulated Grafana ${version}: bin/grafana-server, conf/defaults.ini, file-provisioned data sources and dashboards, /api/health and /api/search.`,
    async build(dir: string): Promise<void> {
      const server = compiledServerText('grafana', 'server');
      const files: Array<{ path: string; text: string; mode?: number }> = [
        { path: 'README.md', text: README(version) },
        { path: 'VERSION', text: `${version}\n` },
        { path: 'LICENSE', text: 'GNU Affero General Public License v3.0 — placeholder in a simulated package built by runbook; no Grafana code is included.\n' },
        { path: 'NOTICE.md', text: `Simulated Grafana ${version} package, built by runbook for tests. Not a distribution of Grafana.\n` },
        { path: 'bin/grafana-server', text: LAUNCH(''), mode: 0o755 },
        // Grafana 10 also ships `grafana server …`; the simulator only knows that subcommand.
        { path: 'bin/grafana', text: LAUNCH(GRAFANA_SERVER_ONLY), mode: 0o755 },
        { path: 'conf/defaults.ini', text: DEFAULTS_INI },
        { path: 'conf/sample.ini', text: SAMPLE_INI },
        { path: 'conf/provisioning/dashboards/sample.yaml', text: PROVISIONING_SAMPLE('dashboard providers') },
        { path: 'conf/provisioning/datasources/sample.yaml', text: PROVISIONING_SAMPLE('data sources') },
        { path: 'public/README-simulated.txt', text: 'The simulated Grafana has no web UI; the folder exists because the real layout has it.\n' },
        { path: 'lib/grafana-sim/server.mjs', text: server },
      ];
      for (const f of files) {
        const path = join(dir, f.path);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, f.text, { mode: f.mode ?? 0o644 });
      }
    },
  };
}

const grafana: SimulatedPackage = grafanaPackage();
export default grafana;
