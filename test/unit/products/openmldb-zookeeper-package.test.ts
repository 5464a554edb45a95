// `runbook lab package zookeeper`: Debian's real ZooKeeper packed in the
// upstream release layout. Checked on the archive itself: its name and top
// folder, Debian's files carried over unchanged, the jars zookeeper.jar needs,
// and our zkEnv.sh finding everything from wherever the folder is unpacked
// (sourced by bash as zkServer.sh sources it; no JVM is started here).

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildLabPackage, type LabPackageResult } from '../../../engine/lab/package.js';

const installed = existsSync('/usr/share/java/zookeeper.jar') && existsSync('/usr/share/zookeeper/bin/zkServer.sh');

describe.runIf(installed)("the zookeeper lab package (Debian's ZooKeeper, not simulated)", () => {
  let dir = '';
  let built: LabPackageResult;
  let top = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rb-zk-pkg-'));
    built = await buildLabPackage('zookeeper', { outDir: join(dir, 'out') });
    // Unpacked somewhere with a space in its path, far from where it was built.
    const unpackTo = join(dir, 'some where');
    execFileSync('mkdir', ['-p', unpackTo]);
    execFileSync('tar', ['-xzf', built.path, '-C', unpackTo]);
    top = join(unpackTo, built.topDir);
  }, 60_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('is named and laid out as the upstream binary release', () => {
    const version = /^apache-zookeeper-(\d+\.\d+\.\d+)-bin$/.exec(built.topDir)?.[1];
    expect(version).toBeDefined();
    expect(built.path.endsWith(`/${built.topDir}.tar.gz`)).toBe(true);
    expect(built.version).toMatch(/Debian's real ZooKeeper .*not simulated/);
    for (const f of ['bin/zkServer.sh', 'bin/zkCli.sh', 'bin/zkEnv.sh', 'conf/zoo_sample.cfg', 'conf/log4j.properties', `lib/zookeeper-${version}.jar`, `lib/zookeeper-jute-${version}.jar`, 'README.md']) {
      expect(existsSync(join(top, f)), f).toBe(true);
    }
    expect(statSync(join(top, 'bin/zkServer.sh')).mode & 0o111).not.toBe(0);
    // Debian's scripts and sample config, byte for byte.
    expect(readFileSync(join(top, 'bin/zkServer.sh'), 'utf8')).toBe(readFileSync('/usr/share/zookeeper/bin/zkServer.sh', 'utf8'));
    expect(readFileSync(join(top, 'conf/zoo_sample.cfg'), 'utf8')).toBe(readFileSync('/etc/zookeeper/conf_example/zoo.cfg', 'utf8'));
    expect(readFileSync(join(top, 'README.md'), 'utf8')).toContain('REAL ZooKeeper');
  });

  test("lib/ holds every installed jar zookeeper.jar's manifest names, under Debian's versioned names, and a log4j binding", () => {
    const jars = readdirSync(join(top, 'lib'));
    const manifest = execFileSync('unzip', ['-p', '/usr/share/java/zookeeper.jar', 'META-INF/MANIFEST.MF'], { encoding: 'utf8' }).replace(/\r?\n /g, '');
    const named = (/^Class-Path:\s*(.*)$/m.exec(manifest)?.[1] ?? '').split(/\s+/).filter((p) => p.endsWith('.jar'));
    expect(named.length).toBeGreaterThan(5);
    for (const path of named.filter((p) => existsSync(p))) {
      const stem = path.slice(path.lastIndexOf('/') + 1, -'.jar'.length);
      expect(jars.some((j) => j === `${stem}.jar` || (j.startsWith(`${stem}-`) && /^\d/.test(j.slice(stem.length + 1)))), stem).toBe(true);
    }
    expect(jars.some((j) => j.startsWith('slf4j-log4j12-'))).toBe(true);
    expect(jars.some((j) => j.startsWith('log4j-1.2-'))).toBe(true);
  });

  test('zkEnv.sh finds conf/, logs/, lib/*.jar and java from the unpacked folder, after conf/java.env', () => {
    const probe = (javaEnv: string | undefined): Record<string, string> => {
      if (javaEnv !== undefined) execFileSync('sh', ['-c', 'printf "%s\\n" "$1" > "$2"', 'sh', javaEnv, join(top, 'conf', 'java.env')]);
      else rmSync(join(top, 'conf', 'java.env'), { force: true });
      // As zkServer.sh does: ZOOBINDIR set, then the file sourced.
      const out = execFileSync(
        'bash',
        ['-c', 'ZOOBINDIR="$(cd "$(dirname "$0")" && pwd)"; . "$ZOOBINDIR/zkEnv.sh"; printf "%s\\n" "ZOOCFGDIR=$ZOOCFGDIR" "ZOOCFG=$ZOOCFG" "ZOO_LOG_DIR=$ZOO_LOG_DIR" "JAVA=$JAVA" "CLASSPATH=$CLASSPATH" "SERVER_JVMFLAGS=$SERVER_JVMFLAGS"', join(top, 'bin', 'zkServer.sh')],
        { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', HOME: dir } },
      );
      return Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    };
    const plain = probe(undefined);
    expect(plain.ZOOCFGDIR).toBe(join(top, 'conf'));
    expect(plain.ZOOCFG).toBe(join(top, 'conf', 'zoo.cfg'));
    expect(plain.ZOO_LOG_DIR).toBe(join(top, 'logs'));
    expect(plain.JAVA).toBe(execFileSync('sh', ['-c', 'command -v java'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } }).trim());
    const cp = plain.CLASSPATH!.split(':');
    expect(cp[0]).toBe(join(top, 'conf'));
    expect(cp.slice(1).sort()).toEqual(readdirSync(join(top, 'lib')).map((j) => join(top, 'lib', j)).sort());

    const configured = probe('JAVA=/opt/jdk/bin/java\nSERVER_JVMFLAGS="-Xmx64m"\nZOO_LOG_DIR=/var/tmp/zk-logs');
    expect(configured).toMatchObject({ JAVA: '/opt/jdk/bin/java', SERVER_JVMFLAGS: '-Xmx64m', ZOO_LOG_DIR: '/var/tmp/zk-logs' });
  });
});
