// `runbook lab package prometheus`: the REAL Prometheus, not a simulation.
// Upstream ships prometheus-<version>.linux-<arch>.tar.gz (the archive an
// iotdbctl topology's prometheus_tar_dir names): one folder holding the
// `prometheus` binary and a prometheus.yml, among other things. Vendor
// downloads are out of reach here, but Debian packages Prometheus, so this
// builder packs Debian's /usr/bin/prometheus into that shape: the binary, a
// minimal prometheus.yml without the console templates (Debian ships those
// apart from the binary and the playbooks do not need them), Debian's
// copyright file as LICENSE, and a NOTICE saying where the binary came from.
//
// Needs `apt-get install prometheus` (or RUNBOOK_PROMETHEUS_BIN pointing at
// another prometheus binary). The version and the archive's name come from
// the binary's own `--version`, read the first time they are asked for.

import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabError } from '../../errors.js';
import type { SimulatedPackage } from '../types.js';

const DEBIAN_BINARY = '/usr/bin/prometheus';
const DEBIAN_COPYRIGHT = '/usr/share/doc/prometheus/copyright';

function binary(): string {
  return process.env.RUNBOOK_PROMETHEUS_BIN ?? DEBIAN_BINARY;
}

interface Probe {
  /** As the binary says it, e.g. 2.42.0+ds. */
  full: string;
  /** The upstream release, e.g. 2.42.0: what upstream archive names carry. */
  upstream: string;
}

let probed: Probe | undefined;

function probe(): Probe {
  if (probed) return probed;
  const bin = binary();
  if (!existsSync(bin)) {
    throw new LabError('package-failed', `cannot pack Prometheus: ${bin} does not exist`, {
      hint: "install Debian's real Prometheus with `apt-get install -y --no-install-recommends prometheus`, or set RUNBOOK_PROMETHEUS_BIN to a prometheus binary",
    });
  }
  let out: string;
  try {
    out = execFileSync(bin, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (e) {
    throw new LabError('package-failed', `cannot pack Prometheus: \`${bin} --version\` failed: ${e instanceof Error ? e.message : String(e)}`, {
      hint: 'check that the binary runs on this machine',
    });
  }
  const m = /version\s+((\d+\.\d+\.\d+)\S*)/.exec(out);
  if (!m) throw new LabError('package-failed', `cannot pack Prometheus: \`${bin} --version\` printed no version: ${out.split('\n')[0] ?? ''}`);
  probed = { full: m[1]!, upstream: m[2]! };
  return probed;
}

/** Upstream's architecture names in archive names. */
function arch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

const CONFIG = `# Minimal Prometheus configuration (packed by runbook with Debian's prometheus binary).
# Deployments replace this file: runbook's IoTDB playbooks write one that scrapes
# the nodes whose iotdb-system.properties enable the Prometheus reporter.
global:
  scrape_interval: 15s
  evaluation_interval: 15s

scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["localhost:9090"]
`;

export const prometheusPackage: SimulatedPackage = {
  product: 'prometheus',
  get version(): string {
    return `${probe().full} (Debian's real prometheus binary, packed by runbook; not simulated)`;
  },
  get archiveName(): string {
    return `prometheus-${probe().upstream}.linux-${arch()}.tar.gz`;
  },
  get topDir(): string {
    return `prometheus-${probe().upstream}.linux-${arch()}`;
  },
  format: 'tar.gz',
  description: "Debian's real Prometheus binary packed as upstream's prometheus-<version>.linux-<arch>.tar.gz (prometheus, prometheus.yml); not a simulation.",
  async build(dir: string): Promise<void> {
    const { full } = probe();
    copyFileSync(binary(), join(dir, 'prometheus'));
    writeFileSync(join(dir, 'prometheus.yml'), CONFIG);
    if (existsSync(DEBIAN_COPYRIGHT)) copyFileSync(DEBIAN_COPYRIGHT, join(dir, 'LICENSE'));
    writeFileSync(
      join(dir, 'NOTICE'),
      `This archive holds the real Prometheus ${full} binary from ${binary()} (Debian's prometheus package),\n` +
        "packed by runbook in the shape of upstream's release archive, for tests and labs.\n" +
        'It has no promtool and no console templates. LICENSE is Debian\'s copyright file for the package.\n',
    );
  },
};
