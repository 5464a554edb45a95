// `runbook lab package zookeeper`: the REAL Apache ZooKeeper, not a simulation.
// Upstream ships apache-zookeeper-<version>-bin.tar.gz: one folder holding
// bin/zkServer.sh, zkCli.sh, zkEnv.sh, conf/zoo_sample.cfg and lib/*.jar. An
// OpenMLDB deployment unpacks such an archive on each ZooKeeper machine,
// writes conf/zoo.cfg and myid and runs `bin/zkServer.sh start`. Vendor
// downloads are out of reach here, but Debian packages ZooKeeper, so this
// builder packs what Debian's `zookeeper` and `libzookeeper-java` install into
// that shape:
//
//   bin/zkServer.sh, zkCli.sh, zkCleanup.sh   Debian's scripts, unchanged
//   bin/zkEnv.sh                              runbook's (scripts.ts says why)
//   conf/zoo_sample.cfg, configuration.xsl    Debian's conf_example files
//   conf/log4j.properties                     runbook's (defaults Debian's lacks)
//   lib/<name>-<version>.jar                  zookeeper.jar, zookeeper-jute.jar and
//                                             every jar zookeeper.jar's manifest
//                                             names that is installed, plus the
//                                             log4j 1.2 binding Debian builds with
//   LICENSE.txt, NOTICE.txt, README.md        Debian's copyright and NOTICE; ours
//
// Left out: zooinspector (a GUI), the contrib and recipe jars, the maven-repo
// poms. Debian's zookeeper.jar names its dependencies in its manifest by
// absolute /usr/share/java paths; the same jars are in lib/, so the archive
// runs without them, and on a Debian machine the JVM finds identical files
// twice. A dependency Debian does not install (jline, for zkCli's line
// editing) is missing from lib/ and listed in README.md.
//
// Needs `apt-get install zookeeper` (RUNBOOK_ZOOKEEPER_JAVA_DIR and
// RUNBOOK_ZOOKEEPER_BIN_DIR point elsewhere). The version comes from the
// versioned name Debian gives zookeeper.jar (zookeeper-3.8.0.jar).

import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { LabError } from '../../errors.js';
import type { SimulatedPackage } from '../types.js';
import { LOG4J_PROPERTIES, ZK_ENV_SH } from './scripts.js';

const DEBIAN_SCRIPTS = ['zkServer.sh', 'zkCli.sh', 'zkCleanup.sh'];
const DEBIAN_CONF = '/etc/zookeeper/conf_example';
const DEBIAN_DOC = '/usr/share/doc/zookeeper';
/** slf4j's log4j 1.2 binding and log4j itself: Debian's libzookeeper-java depends on both. */
const LOGGING_JARS = ['slf4j-log4j12.jar', 'log4j-1.2.jar'];

function javaDir(): string {
  return process.env.RUNBOOK_ZOOKEEPER_JAVA_DIR ?? '/usr/share/java';
}

function binDir(): string {
  return process.env.RUNBOOK_ZOOKEEPER_BIN_DIR ?? '/usr/share/zookeeper/bin';
}

const INSTALL_HINT = "install Debian's real ZooKeeper with `apt-get install -y --no-install-recommends zookeeper`, or set RUNBOOK_ZOOKEEPER_JAVA_DIR and RUNBOOK_ZOOKEEPER_BIN_DIR to where its jars and scripts are";

interface Probe {
  /** The upstream release, e.g. 3.8.0: what upstream archive names carry. */
  upstream: string;
  /** Debian's package version when dpkg knows it, e.g. 3.8.0-11+deb12u2. */
  debian: string | undefined;
}

let probed: Probe | undefined;

/** `<dir>/<stem>-<version>.jar`, Debian's versioned link to `<dir>/<stem>.jar`, when there is one. */
function versionedName(dir: string, jar: string): string {
  const stem = jar.replace(/\.jar$/, '');
  const target = realpathSync(join(dir, jar));
  const pattern = new RegExp(`^${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d[\\w.+~-]*)\\.jar$`);
  const match = readdirSync(dir)
    .filter((n) => pattern.test(n))
    .sort()
    .find((n) => realpathSync(join(dir, n)) === target);
  return match ?? jar;
}

function probe(): Probe {
  if (probed) return probed;
  const dir = javaDir();
  for (const needed of [join(dir, 'zookeeper.jar'), join(dir, 'zookeeper-jute.jar'), join(binDir(), 'zkServer.sh')]) {
    if (!existsSync(needed)) throw new LabError('package-failed', `cannot pack ZooKeeper: ${needed} does not exist`, { hint: INSTALL_HINT });
  }
  const m = /^zookeeper-(\d+\.\d+\.\d+)\.jar$/.exec(versionedName(dir, 'zookeeper.jar'));
  if (!m) {
    throw new LabError('package-failed', `cannot pack ZooKeeper: ${dir}/zookeeper.jar has no versioned name beside it (like zookeeper-3.8.0.jar) to take the version from`, { hint: INSTALL_HINT });
  }
  let debian: string | undefined;
  try {
    debian = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'libzookeeper-java'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 30_000 }).trim() || undefined;
  } catch {
    debian = undefined;
  }
  probed = { upstream: m[1]!, debian };
  return probed;
}

/** The jars zookeeper.jar's manifest names (Class-Path), by file name. */
function manifestClassPath(jar: string): string[] {
  let manifest: string;
  try {
    manifest = execFileSync('unzip', ['-p', jar, 'META-INF/MANIFEST.MF'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (e) {
    throw new LabError('package-failed', `cannot pack ZooKeeper: reading ${jar}'s manifest with unzip failed: ${e instanceof Error ? e.message : String(e)}`, {
      hint: 'install unzip (apt-get install unzip)',
    });
  }
  // Manifest lines wrap at 72 bytes; a continuation line starts with one space.
  const unfolded = manifest.replace(/\r?\n /g, '');
  const line = /^Class-Path:\s*(.*)$/m.exec(unfolded)?.[1] ?? '';
  return line
    .split(/\s+/)
    .filter((p) => p.endsWith('.jar'))
    .map((p) => basename(p));
}

function copyFile(from: string, to: string, mode: number): void {
  copyFileSync(from, to);
  chmodSync(to, mode);
}

export const zookeeperPackage: SimulatedPackage = {
  product: 'zookeeper',
  get version(): string {
    const { upstream, debian } = probe();
    return `${upstream} (Debian's real ZooKeeper${debian ? ` ${debian}` : ''}, packed by runbook; not simulated)`;
  },
  get archiveName(): string {
    return `apache-zookeeper-${probe().upstream}-bin.tar.gz`;
  },
  get topDir(): string {
    return `apache-zookeeper-${probe().upstream}-bin`;
  },
  format: 'tar.gz',
  description:
    "Debian's real Apache ZooKeeper packed as upstream's apache-zookeeper-<version>-bin.tar.gz (bin/zkServer.sh, zkCli.sh, zkEnv.sh, conf/zoo_sample.cfg, lib/*.jar); not a simulation.",
  async build(dir: string): Promise<void> {
    const { upstream, debian } = probe();
    const jdir = javaDir();
    for (const sub of ['bin', 'conf', 'lib', 'logs']) mkdirSync(join(dir, sub), { recursive: true });

    for (const script of DEBIAN_SCRIPTS) {
      const from = join(binDir(), script);
      if (existsSync(from)) copyFile(from, join(dir, 'bin', script), 0o755);
    }
    writeFileSync(join(dir, 'bin', 'zkEnv.sh'), ZK_ENV_SH, { mode: 0o755 });
    chmodSync(join(dir, 'bin', 'zkEnv.sh'), 0o755);

    const sample = join(DEBIAN_CONF, 'zoo.cfg');
    if (existsSync(sample)) copyFile(sample, join(dir, 'conf', 'zoo_sample.cfg'), 0o644);
    else writeFileSync(join(dir, 'conf', 'zoo_sample.cfg'), 'tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/tmp/zookeeper\nclientPort=2181\n');
    const xsl = join(DEBIAN_CONF, 'configuration.xsl');
    if (existsSync(xsl)) copyFile(xsl, join(dir, 'conf', 'configuration.xsl'), 0o644);
    writeFileSync(join(dir, 'conf', 'log4j.properties'), LOG4J_PROPERTIES);

    const wanted = ['zookeeper.jar', 'zookeeper-jute.jar', ...manifestClassPath(join(jdir, 'zookeeper.jar')), ...LOGGING_JARS];
    const packed: string[] = [];
    const missing: string[] = [];
    for (const jar of [...new Set(wanted)]) {
      const from = join(jdir, jar);
      if (!existsSync(from) || !lstatSync(realpathSync(from)).isFile()) {
        missing.push(jar);
        continue;
      }
      const name = versionedName(jdir, jar);
      copyFile(from, join(dir, 'lib', name), 0o644);
      packed.push(name);
    }
    writeFileSync(join(dir, 'logs', '.keep'), '');

    const copyright = join(DEBIAN_DOC, 'copyright');
    if (existsSync(copyright)) copyFile(copyright, join(dir, 'LICENSE.txt'), 0o644);
    const notice = join(DEBIAN_DOC, 'NOTICE.txt');
    if (existsSync(notice)) copyFile(notice, join(dir, 'NOTICE.txt'), 0o644);
    writeFileSync(join(dir, 'README.md'), readme(upstream, debian, packed.sort(), missing.sort()));
  },
};

function readme(upstream: string, debian: string | undefined, packed: string[], missing: string[]): string {
  return `# Apache ZooKeeper ${upstream} (Debian's build, packed by runbook)

This is the REAL ZooKeeper${debian ? ` from Debian's zookeeper and libzookeeper-java ${debian}` : " from Debian's packages"},
not a simulation: runbook packed the installed jars and scripts in the layout
of upstream's apache-zookeeper-${upstream}-bin.tar.gz, for its tests and labs.

- bin/zkServer.sh, bin/zkCli.sh, bin/zkCleanup.sh: Debian's scripts, unchanged.
- bin/zkEnv.sh: written by runbook. Debian's is a link to
  /etc/zookeeper/conf/environment with fixed paths; this one finds conf/,
  logs/ and lib/*.jar from the unpacked folder and reads conf/java.env first.
- conf/zoo_sample.cfg, conf/configuration.xsl: Debian's examples.
- conf/log4j.properties: written by runbook, with defaults for the values
  Debian's zkServer.sh does not pass (logging goes to stdout unless
  -Dzookeeper.root.logger=INFO,ROLLINGFILE).
- LICENSE.txt is Debian's copyright file for the package; NOTICE.txt is ZooKeeper's.

Start a server: copy conf/zoo_sample.cfg to conf/zoo.cfg, set dataDir (with a
myid file for an ensemble), then \`bin/zkServer.sh start\`; \`bin/zkServer.sh status\`
asks it for its mode with the srvr four-letter word. Java comes from
JAVA_HOME or the PATH (or JAVA in conf/java.env).

lib/ (${packed.length} jars):
${packed.map((j) => `- ${j}`).join('\n')}
${missing.length > 0 ? `\nNamed by zookeeper.jar's manifest but not installed here, so not packed: ${missing.join(', ')}.\n` : ''}`;
}
