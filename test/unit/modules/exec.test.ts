// The exec-family modules: table-driven cases (one YAML file per case) plus the
// few things a YAML case cannot express: connection results with timedOut or a
// signal, Secret objects, real sockets on 127.0.0.1 for wait-port's controller
// probe, and cancellation.

import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { Connection, ExecOptions, ExecResult, ModuleDef } from '../../../engine/api.js';
import { Secret } from '../../../engine/api.js';
import { createModuleContext } from '../../../engine/context.js';
import { runModuleCases } from '../../support/module-cases.js';
import run from '../../../modules/run.js';
import waitPort, { nextDelay } from '../../../modules/wait-port.js';
import processModule from '../../../modules/process.js';
import facts from '../../../modules/facts.js';
import cliSql from '../../../modules/cli-sql.js';

const cases = (name: string) => join(import.meta.dirname, name);

describe('run', () => runModuleCases(run, cases('run')));
describe('wait-port', () => runModuleCases(waitPort, cases('wait-port')));
describe('process', () => runModuleCases(processModule, cases('process')));
describe('facts', () => runModuleCases(facts, cases('facts')));
describe('cli-sql', () => runModuleCases(cliSql, cases('cli-sql')));

/** A connection whose answers come from a function, for results the YAML cases cannot give. */
class ScriptedConnection implements Connection {
  readonly kind = 'fake' as const;
  readonly executed: Array<{ command: string; opts: ExecOptions }> = [];
  constructor(private readonly answer: (command: string, opts: ExecOptions) => Partial<ExecResult>) {}
  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.executed.push({ command, opts });
    return { exitCode: 0, signal: null, stdout: '', stderr: '', truncated: false, timedOut: false, durationMs: 0, ...this.answer(command, opts) };
  }
  async upload(): Promise<void> {
    throw new Error('no uploads expected');
  }
  async download(): Promise<void> {
    throw new Error('no downloads expected');
  }
  async close(): Promise<void> {}
}

async function runWith(mod: ModuleDef, args: unknown, conn: Connection | undefined, extra: { check?: boolean; signal?: AbortSignal } = {}) {
  const ctx = createModuleContext({ host: { name: 'h1', address: '127.0.0.1' }, vars: {}, conn, check: extra.check, signal: extra.signal });
  return mod.run(ctx, mod.schema.parse(args));
}

describe('run: results the table cannot express', () => {
  test('a timed-out command fails and says after how long', async () => {
    const conn = new ScriptedConnection(() => ({ exitCode: null, signal: 'SIGKILL', timedOut: true, stdout: 'partial\n' }));
    const r = await runWith(run, { cmd: 'sleep 100', timeout: 2 }, conn);
    expect(r.status).toBe('failed');
    expect(r.msg).toBe('timed out after 2 s: sleep 100');
    expect(conn.executed[0]!.opts.timeoutMs).toBe(2000);
    expect(r.data).toMatchObject({ rc: null, stdout: 'partial\n' });
  });

  test('a command ended by a signal names it', async () => {
    const conn = new ScriptedConnection(() => ({ exitCode: null, signal: 'SIGSEGV' }));
    const r = await runWith(run, { cmd: './crash' }, conn);
    expect(r).toMatchObject({ status: 'failed', msg: 'killed by SIGSEGV: ./crash' });
  });

  test('truncated output is reported as such', async () => {
    const conn = new ScriptedConnection(() => ({ stdout: 'tail of it\n', truncated: true }));
    const r = await runWith(run, { cmd: 'cat big.log' }, conn);
    expect(r.data).toMatchObject({ truncated: true, stdout_lines: ['tail of it'] });
  });

  test('a Secret in env reaches the host but never the result', async () => {
    const pw = 'run-env-s3cret-value';
    const conn = new ScriptedConnection((_c, o) => ({ exitCode: 3, stderr: `auth failed for ${o.env?.PW}\n`, stdout: `using ${o.env?.PW}\n` }));
    const r = await runWith(run, { cmd: 'login --password "$PW"', env: { PW: new Secret(pw) } }, conn);
    expect(conn.executed[0]!.opts.env).toEqual({ PW: pw });
    expect(conn.executed[0]!.command).not.toContain(pw);
    expect(r.status).toBe('failed');
    expect(JSON.stringify(r)).not.toContain(pw);
    expect(r.msg).toContain('auth failed for ********');
  });
});

describe('cli-sql: passwords never show', () => {
  const pw = 'Cli-pw-9f3e1';
  // A hostile client that prints the password everywhere it can.
  const leaky = (exitCode: number, errorLine: string) =>
    new ScriptedConnection((_c, o) => ({
      exitCode,
      stdout: [
        '+----+--------+',
        '|User|Password|',
        '+----+--------+',
        `|root|${(o.env?.RUNBOOK_PW ?? '').padEnd(8).slice(0, 8)}|`,
        '+----+--------+',
        errorLine.replace('PW', o.env?.RUNBOOK_PW ?? ''),
      ].join('\n'),
      stderr: `debug: connecting with ${o.env?.RUNBOOK_PW}\n`,
    }));

  for (const [label, password] of [
    ['a Secret from the inventory', new Secret(pw, 'env:IOTDB_PW')],
    ['plain text in the task', pw],
  ] as const) {
    test(`${label}: not in the command, msg or data; only in the environment`, async () => {
      const okConn = leaky(0, '');
      const r1 = await runWith(cliSql, { dialect: 'iotdb', home: '/opt/iotdb', password, statements: 'list user' }, okConn);
      expect(r1.status).toBe('ok');
      expect(okConn.executed[0]!.command).toBe(`/opt/iotdb/sbin/start-cli.sh -pw "$RUNBOOK_PW" -e 'list user'`);
      expect(okConn.executed[0]!.opts.env).toEqual({ RUNBOOK_PW: pw });
      expect(JSON.stringify(r1)).not.toContain(pw);

      const badConn = leaky(0, 'DB error: Authentication failure for PW (0.001s)');
      const r2 = await runWith(cliSql, { dialect: 'tdengine', password, statements: ['show dnodes', 'show mnodes'] }, badConn);
      expect(r2.status).toBe('failed');
      expect(badConn.executed[0]!.command).toBe(`taos -p"$RUNBOOK_PW" -s 'show dnodes'`);
      expect(JSON.stringify(r2)).not.toContain(pw);

      const iotdbErr = leaky(0, 'Msg: 801: Authentication failed for password PW');
      const r3 = await runWith(cliSql, { dialect: 'iotdb', password, statements: 'show cluster' }, iotdbErr);
      expect(r3.status).toBe('failed');
      expect(r3.msg).toContain('Msg: 801: Authentication failed for password ********');
      expect(JSON.stringify(r3)).not.toContain(pw);

      const exitConn = leaky(1, `fatal: bad password PW`);
      const r4 = await runWith(cliSql, { dialect: 'openmldb', zk_cluster: 'zk:2181', password, statements: 'show components' }, exitConn);
      expect(r4.status).toBe('failed');
      expect(exitConn.executed[0]!.command).toBe(`openmldb --zk_cluster=zk:2181 --password="$RUNBOOK_PW" --role=sql_client`);
      expect(JSON.stringify(r4)).not.toContain(pw);
    });
  }

  test('a timed-out client call fails and names the statement', async () => {
    const conn = new ScriptedConnection(() => ({ exitCode: null, timedOut: true }));
    const r = await runWith(cliSql, { dialect: 'iotdb', statements: 'show cluster', timeout: 3 }, conn);
    expect(r).toMatchObject({ status: 'failed', msg: 'IoTDB client timed out after 3 s on "show cluster"' });
    expect(conn.executed[0]!.opts.timeoutMs).toBe(3000);
  });
});

describe('wait-port: the waits between probes', () => {
  /** The probe times a schedule gives while nothing answers, up to `untilMs`. */
  const probeTimes = (from: 'controller' | 'target', interval: number, untilMs: number): number[] => {
    const times = [0];
    let delay = interval;
    for (let t = delay; t <= untilMs; t += delay) {
      times.push(t);
      delay = nextDelay(delay, t, interval, from);
    }
    return times;
  };

  test('from the controller: every interval for the first second, then ×1.5 up to 2 s', () => {
    const times = probeTimes('controller', 50, 10_000);
    expect(times.slice(0, 21)).toEqual(Array.from({ length: 21 }, (_, i) => i * 50));
    const waits = times.slice(1).map((t, i) => t - times[i]!);
    expect(waits.slice(20, 23)).toEqual([75, 112.5, 168.75]);
    expect(Math.max(...waits)).toBe(2000);
  });

  test('from the target (a command per probe): ×1.5 from the second wait', () => {
    expect(probeTimes('target', 50, 700)).toEqual([0, 50, 125, 237.5, 406.25, 659.375]);
  });
});

describe('wait-port from the controller (real sockets on 127.0.0.1)', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise<void>((res) => (s.listening ? s.close(() => res()) : res()))));
  });
  const listen = (port = 0): Promise<Server> =>
    new Promise((resolve, reject) => {
      const s = createServer((sock) => sock.destroy());
      servers.push(s);
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve(s));
    });
  const portOf = (s: Server) => (s.address() as { port: number }).port;
  /** A port that was free a moment ago: listen on an ephemeral one, then close it. */
  const freePort = async (): Promise<number> => {
    const s = await listen();
    const p = portOf(s);
    await new Promise<void>((res) => s.close(() => res()));
    return p;
  };

  test('an open port is found at the first probe', async () => {
    const s = await listen();
    const r = await runWith(waitPort, { host: '127.0.0.1', port: portOf(s) }, undefined);
    expect(r).toMatchObject({ status: 'ok', msg: `port ${portOf(s)} on 127.0.0.1 is open at the first probe`, data: { attempts: 1 } });
  });

  test('a closed port times out naming ECONNREFUSED, after several probes', async () => {
    const port = await freePort();
    const r = await runWith(waitPort, { host: '127.0.0.1', port, timeout: 0.4, interval: 20 }, undefined);
    expect(r.status).toBe('failed');
    expect(r.msg).toContain(`port ${port} on 127.0.0.1 did not open within 0.4 s (last error: ECONNREFUSED;`);
    expect(r.msg).toContain('from the controller');
    expect((r.data as { attempts: number }).attempts).toBeGreaterThan(2);
  });

  test('a port that opens while waiting is found', async () => {
    const port = await freePort();
    const waiting = runWith(waitPort, { host: '127.0.0.1', port, timeout: 20, interval: 20 }, undefined);
    await listen(port);
    const r = await waiting;
    expect(r.status).toBe('ok');
  });

  test('state stopped waits until the listener closes', async () => {
    const s = await listen();
    const port = portOf(s);
    const waiting = runWith(waitPort, { host: '127.0.0.1', port, state: 'stopped', timeout: 20, interval: 20 }, undefined);
    await new Promise<void>((res) => s.close(() => res()));
    const r = await waiting;
    expect(r.status).toBe('ok');
    expect(r.msg).toMatch(new RegExp(`^port ${port} on 127\\.0\\.0\\.1 is closed`));
  });

  test('cancellation ends the wait at once with a failed result', async () => {
    const port = await freePort();
    const ac = new AbortController();
    const started = Date.now();
    const waiting = runWith(waitPort, { host: '127.0.0.1', port, timeout: 60, interval: 50 }, undefined, { signal: ac.signal });
    ac.abort();
    const r = await waiting;
    expect(r.status).toBe('failed');
    expect(r.msg).toMatch(/^interrupted while waiting for port \d+ on 127\.0\.0\.1/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test('check mode probes once and does not wait', async () => {
    const port = await freePort();
    const r = await runWith(waitPort, { host: '127.0.0.1', port, timeout: 60 }, undefined, { check: true });
    expect(r).toMatchObject({ status: 'skipped', msg: `would wait up to 60 s for port ${port} on 127.0.0.1 to open (now: ECONNREFUSED)` });
  });
});
