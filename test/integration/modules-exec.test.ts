// run, wait-port, process and facts against real hosts: the controller itself
// (LocalConnection) and a throwaway sshd on 127.0.0.1 (SshConnection). Both
// are this machine, so the tests can look at /proc to check what the modules
// claim: a daemon in its own session with /dev/null on stdin, still alive after
// the channel and the connection are gone; a process stopped by TERM or KILL.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Connection, ModuleDef, ModuleResult } from '../../engine/api.js';
import { createModuleContext } from '../../engine/context.js';
import { LocalConnection } from '../../engine/connection/local.js';
import { SshConnection } from '../../engine/connection/ssh.js';
import { Secret } from '../../engine/api.js';
import cliSql from '../../modules/cli-sql.js';
import run from '../../modules/run.js';
import waitPort from '../../modules/wait-port.js';
import processModule from '../../modules/process.js';
import facts from '../../modules/facts.js';
import { startSshd, type TestSshd } from '../support/sshd.js';

/** A TCP listener on 127.0.0.1 that says "listening" once it is, optionally ignoring TERM. */
const LISTENER = `
const net = require('node:net');
const [port, mode] = process.argv.slice(2);
if (mode === 'ignore-term') process.on('SIGTERM', () => {});
net.createServer((s) => s.end()).listen(Number(port), '127.0.0.1', () => console.log('listening ' + port));
`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The /proc/PID/stat fields after the command name: state, ppid, pgrp, session, … */
function statOf(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

const alive = (pid: number): boolean => {
  const s = statOf(pid);
  return s !== undefined && s[0] !== 'Z';
};

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface Transport {
  name: string;
  open(): Promise<Connection>;
}

let sshd: TestSshd | undefined;
const dir = mkdtempSync(join(tmpdir(), 'runbook-modules-exec-'));
/** Every daemon pid the tests started, killed in afterAll if a test failed before stopping it. */
const started = new Set<number>();
const listenerFile = join(dir, 'listener.cjs');
writeFileSync(listenerFile, LISTENER);

/**
 * A stand-in for IoTDB's sbin/start-cli.sh: it checks the password it was
 * given against the real one and prints the statement in an IoTDB-style box,
 * so the test sees whether "$RUNBOOK_PW" reached the client intact through
 * every quoting layer of the transport.
 */
const PASSWORD = `it's a "pw" with $pace & \\ ${Date.now()}`;
const FAKE_CLI = `#!/bin/sh
while [ $# -gt 0 ]; do case $1 in -pw) pw=$2; shift 2;; -e) sql=$2; shift 2;; *) shift;; esac; done
[ "$pw" = "$(cat "$(dirname "$0")/expected-pw")" ] || { echo "Msg: 801: Authentication failed."; exit 0; }
w=\${#sql}; [ "$w" -ge 3 ] || w=3
rule=$(printf "%\${w}s" "" | tr " " -)
echo "+$rule+"; printf "|%-\${w}s|\\n" SQL; echo "+$rule+"; printf "|%-\${w}s|\\n" "$sql"; echo "+$rule+"
echo "Total line number = 1"
`;
const fakeHome = join(dir, 'iotdb-home');
execFileSync('mkdir', ['-p', join(fakeHome, 'sbin')]);
writeFileSync(join(fakeHome, 'sbin', 'start-cli.sh'), FAKE_CLI, { mode: 0o755 });
writeFileSync(join(fakeHome, 'sbin', 'expected-pw'), PASSWORD);

beforeAll(async () => {
  sshd = await startSshd();
  writeFileSync(join(dir, 'known_hosts'), sshd.knownHostsLines());
});

afterAll(async () => {
  for (const pid of started) {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const transports: Transport[] = [
  { name: 'local', open: async () => new LocalConnection() },
  {
    name: 'ssh',
    open: () =>
      SshConnection.connect({
        name: 'sshd',
        address: sshd!.address,
        port: sshd!.port,
        user: sshd!.rootUser,
        auth: { privateKeyFile: sshd!.plainKeyFile },
        knownHostsFile: join(dir, 'known_hosts'),
      }),
  },
];

async function runModule(mod: ModuleDef, args: unknown, conn: Connection | undefined): Promise<ModuleResult> {
  const ctx = createModuleContext({ host: { name: 'h1', address: '127.0.0.1' }, vars: {}, conn });
  return mod.run(ctx, mod.schema.parse(args));
}

describe.each(transports)('exec modules over $name', (t) => {
  const sub = (name: string) => join(dir, `${t.name}-${name}`);

  /** Starts the listener with run background and waits until it listens. */
  async function startListener(conn: Connection, port: number, extra: string[] = []): Promise<{ pid: number; result: ModuleResult; log: string; pidfile: string }> {
    const log = sub(`listener-${port}.log`);
    const pidfile = sub(`listener-${port}.pid`);
    const result = await runModule(
      run,
      { argv: ['exec', process.execPath, listenerFile, port, ...extra], background: true, pidfile, log, cwd: dir },
      conn,
    );
    const pid = (result.data as { pid?: number } | undefined)?.pid;
    if (result.status !== 'changed' || pid === undefined) throw new Error(`could not start the listener: ${result.msg}`);
    started.add(pid);
    await until(`the listener on ${port} to listen`, () => existsSync(log) && readFileSync(log, 'utf8').includes('listening'));
    return { pid, result, log, pidfile };
  }

  test('run background: a detached daemon outlives its channel and the connection', async () => {
    const port = await freePort();
    const conn = await t.open();
    let pid: number;
    try {
      const l = await startListener(conn, port);
      pid = l.pid;
      expect(l.result.msg).toBe(`started pid ${pid} in the background, output to ${l.log}: exec ${process.execPath} ${listenerFile} ${port}`);
      expect(readFileSync(l.pidfile, 'utf8').trim()).toBe(String(pid));
      // Its own session (setsid), so neither the channel's end nor a hangup reaches it.
      const stat = statOf(pid)!;
      expect(stat[3], 'session id').toBe(String(pid));
      expect(stat[2], 'process group').toBe(String(pid));
      expect(readlinkSync(`/proc/${pid}/fd/0`)).toBe('/dev/null');
      expect(readlinkSync(`/proc/${pid}/fd/1`)).toBe(l.log);
      expect(readlinkSync(`/proc/${pid}/fd/2`)).toBe(l.log);

      // A second run with the same pidfile sees it running and starts nothing.
      const again = await runModule(run, { cmd: 'exit 1', background: true, pidfile: l.pidfile }, conn);
      expect(again).toMatchObject({ status: 'skipped', msg: `already running: pid ${pid} from ${l.pidfile}` });
    } finally {
      await conn.close();
    }
    expect(alive(pid), 'daemon alive after the connection closed').toBe(true);
    const probe = await runModule(waitPort, { host: '127.0.0.1', port, timeout: 10 }, undefined);
    expect(probe.status).toBe('ok');

    const conn2 = await t.open();
    try {
      const stop = await runModule(processModule, { pid }, conn2);
      expect(stop).toMatchObject({ status: 'changed', msg: `stopped pid ${pid} with TERM` });
    } finally {
      await conn2.close();
    }
    expect(alive(pid)).toBe(false);
  });

  test('wait-port in both states, from the target and from the controller, around a TERM stop', async () => {
    const port = await freePort();
    const conn = await t.open();
    try {
      const before = await runModule(waitPort, { host: '127.0.0.1', port, from: 'target', timeout: 0, log_tail: sub(`listener-${port}.log`) }, conn);
      expect(before.status).toBe('failed');
      expect(before.msg).toContain(`port ${port} on 127.0.0.1 did not open within 0 s (last error: ECONNREFUSED; 1 probe from h1)`);
      expect(before.msg).toContain(`(could not read ${sub(`listener-${port}.log`)}: tail: cannot open`);

      const l = await startListener(conn, port);
      const open = await runModule(waitPort, { host: '127.0.0.1', port, from: 'target', timeout: 10, log_tail: l.log }, conn);
      expect(open).toMatchObject({ status: 'ok', msg: `port ${port} on 127.0.0.1 is open at the first probe` });
      const openCtl = await runModule(waitPort, { host: '127.0.0.1', port, state: 'started', timeout: 10 }, conn);
      expect(openCtl.status).toBe('ok');

      const stop = await runModule(processModule, { pidfile: l.pidfile }, conn);
      expect(stop).toMatchObject({ status: 'changed', msg: `stopped pid ${l.pid} with TERM` });

      const closed = await runModule(waitPort, { host: '127.0.0.1', port, state: 'stopped', from: 'target', timeout: 10 }, conn);
      expect(closed.status, closed.msg).toBe('ok');
      const closedCtl = await runModule(waitPort, { host: '127.0.0.1', port, state: 'stopped', timeout: 10 }, conn);
      expect(closedCtl.status).toBe('ok');

      const notRunning = await runModule(processModule, { pidfile: l.pidfile }, conn);
      expect(notRunning).toMatchObject({ status: 'ok', msg: `no process matches pidfile ${l.pidfile} (pid ${l.pid} is not running)` });
    } finally {
      await conn.close();
    }
  });

  test('process falls back to KILL for a process that ignores TERM, found by pattern', async () => {
    const port = await freePort();
    const marker = `rb-ignores-term-${t.name}-${port}`;
    const conn = await t.open();
    try {
      const l = await startListener(conn, port, ['ignore-term', marker]);
      const running = await runModule(processModule, { pattern: marker, state: 'running' }, conn);
      expect(running).toMatchObject({ status: 'ok', msg: `running: pid ${l.pid}`, data: { pids: [l.pid] } });

      const t0 = Date.now();
      const r = await runModule(processModule, { pattern: marker, timeout: 1 }, conn);
      expect(Date.now() - t0, 'TERM was given its full second').toBeGreaterThanOrEqual(1000);
      expect(r).toMatchObject({ status: 'changed', msg: `stopped pid ${l.pid} with KILL after 1 s`, data: { signal: 'KILL' } });
      expect(alive(l.pid)).toBe(false);
    } finally {
      await conn.close();
    }
  });

  test('process matching by pattern never finds (or kills) its own probing shell', async () => {
    const conn = await t.open();
    try {
      // The pattern would match the probe's own `sh -c` line if it were on it.
      const marker = `rb-nothing-runs-${t.name}-${Date.now()}`;
      const none = await runModule(processModule, { pattern: marker }, conn);
      expect(none).toMatchObject({ status: 'ok', msg: `no process matches pattern ${JSON.stringify(marker)}` });
      // Nor does a pattern that matches the probe script's own text. Another
      // test's probe, running at that moment on this machine (the local
      // connection sees every pid namespace), matches it too: such a match is
      // a short-lived probe, so the look is made again. The probe's own shell
      // would be matched every time.
      let self: ModuleResult | undefined;
      for (let attempt = 0; attempt < 5; attempt++) {
        self = await runModule(processModule, { pattern: 'rb_pat', state: 'running' }, conn);
        const pid = /^running: pid (\d+)$/.exec(self.msg)?.[1];
        if (pid === undefined) break;
        let cmdline = '';
        try {
          cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        } catch {
          // Gone already: a probe that has finished.
        }
        expect(cmdline === '' || cmdline.includes('rb_pat'), `pid ${pid} is neither gone nor another probe: ${cmdline}`).toBe(true);
      }
      expect(self).toMatchObject({ status: 'failed', msg: 'no process matches pattern "rb_pat"' });
    } finally {
      await conn.close();
    }
  });

  test('run: timeout, creates relative to cwd, a failing exit', async () => {
    const conn = await t.open();
    try {
      const r = await runModule(run, { cmd: 'sleep 30', timeout: 1 }, conn);
      expect(r).toMatchObject({ status: 'failed', msg: 'timed out after 1 s: sleep 30' });
      // creates, relative to cwd: runs once, then skips; a missing cwd is an error, not "absent".
      const once = { cmd: `touch ${t.name}-made`, cwd: dir, creates: `${t.name}-made` };
      expect((await runModule(run, once, conn)).status).toBe('changed');
      expect(await runModule(run, once, conn)).toMatchObject({ status: 'skipped', msg: `${t.name}-made exists` });
      const noCwd = await runModule(run, { ...once, cwd: join(dir, 'no-such-dir') }, conn);
      expect(noCwd.status).toBe('failed');
      expect(noCwd.msg).toContain(`could not test whether ${t.name}-made exists (exit 2)`);

      const bad = await runModule(run, { cmd: 'echo out; echo "it broke" >&2; exit 3' }, conn);
      expect(bad).toMatchObject({ status: 'failed', msg: 'exit code 3 from echo out; echo "it broke" >&2; exit 3: it broke', data: { rc: 3, stdout_lines: ['out'] } });
    } finally {
      await conn.close();
    }
  });

  test('facts on the real host', async () => {
    const busy = await freePort();
    const free = await freePort();
    const conn = await t.open();
    try {
      const l = await startListener(conn, busy);
      const r = await runModule(facts, { commands: ['sh', 'rb-no-such-command'], ports: [busy, free], paths: [dir, join(dir, 'not/yet')] }, conn);
      expect(r.status, r.msg).toBe('ok');
      const f = (r.facts as { facts: Record<string, any> }).facts;

      const hostname = execFileSync('sh', ['-c', 'hostname -f 2>/dev/null || hostname'], { encoding: 'utf8' }).trim();
      expect(f.hostname).toBe(hostname);
      const hasJava = execFileSync('sh', ['-c', 'command -v java || true'], { encoding: 'utf8' }).trim() !== '';
      expect(f.java.present).toBe(hasJava);
      if (hasJava) expect(f.java.major).toBeGreaterThanOrEqual(8);
      expect(f.commands).toEqual({ sh: true, 'rb-no-such-command': false });
      expect(f.ports).toMatchObject({ in_use: [busy], free: [free] });
      expect(f.ports.tool).not.toBeNull();
      expect(f.disk[dir].free_bytes).toBeGreaterThan(0);
      expect(f.disk[join(dir, 'not/yet')].path_measured).toBe(dir);
      expect(f.memory.total_bytes).toBeGreaterThan(0);
      const osId = /^ID=(.*)$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1]?.replace(/"/g, '');
      expect(f.os.id).toBe(osId);

      const stop = await runModule(processModule, { pid: l.pid }, conn);
      expect(stop.status).toBe('changed');
    } finally {
      await conn.close();
    }
  });

  test('cli-sql: the password reaches the client through the environment, never in output', async () => {
    const conn = await t.open();
    try {
      const password = new Secret(PASSWORD, 'test');
      const r = await runModule(cliSql, { dialect: 'iotdb', home: fakeHome, password, statements: "show pipes where x='a b'" }, conn);
      expect(r).toMatchObject({ status: 'ok', data: { columns: ['SQL'], rows: [{ SQL: "show pipes where x='a b'" }] } });
      const wrong = await runModule(cliSql, { dialect: 'iotdb', home: fakeHome, password: 'not-the-pw', statements: 'show cluster' }, conn);
      expect(wrong).toMatchObject({ status: 'failed', msg: 'IoTDB rejected "show cluster": Msg: 801: Authentication failed.' });
      expect(JSON.stringify([r, wrong])).not.toContain(PASSWORD);
    } finally {
      await conn.close();
    }
  });
});
