// Issue 4, end to end: the real `runbook` CLI runs a custom playbook that uses
// every module (test/e2e/fixtures/every-module/playbook.yaml) against a lab
// host, with the simulated IoTDB started standalone for cli-sql. The tests run
// in order on one host: --check on a fresh host, the real run, a second run,
// --check of a pending change, a tagged partial run, then the teardown play.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { packageRoot } from '../../engine/paths.js';
import { moduleRegistry } from '../../modules/index.js';
import { results, totals } from '../support/cli.js';
import { useLab } from '../support/lab.js';
import { existing, onHost, pids, play, portOpen, readBanner, resultOf, sha256On, startedTasks, transcript, useScratch, waitFor } from './helpers.js';

const FIXTURE = join(packageRoot, 'test', 'e2e', 'fixtures', 'every-module');
const PLAYBOOK = join(FIXTURE, 'playbook.yaml');
const HOST = 'node1';
const ECHO_PORT = 17071;
const BASE = '/opt/e2e';
const APP_CONF = `${BASE}/app/app.conf`;
const PIDFILE = `${BASE}/app/echo.pid`;
const IOTDB_PATTERN = `${BASE}/iotdb/.*org\\.apache\\.iotdb\\.(confignode|db)\\.service`;
// Anchored: the `sh -c` wrapper run starts has the same words later in its command line.
const ECHO_PATTERN = `^/usr/bin/node ${BASE}/app/files/echo-server\\.mjs`;

describe('a custom playbook using every module (issue 4)', () => {
  const lab = useLab({ hosts: 1 });
  const scratch = useScratch({ iotdbPackage: true });

  const fetchDir = () => join(scratch.dir, 'fetched');
  const fetchedConf = () => join(fetchDir(), HOST, APP_CONF);
  const run = (...args: string[]) =>
    play(scratch, PLAYBOOK, lab.inventoryPath, [
      '--limit', HOST,
      '-e', 'site=lab',
      '-e', `pkg_zip=${scratch.packagePath}`,
      '-e', `fetch_dir=${fetchDir()}`,
      '-e', `echo_port=${ECHO_PORT}`,
      ...args,
    ]);
  const address = () => lab.host(HOST).address;

  test('--check on a fresh host reports what would change and changes nothing', async () => {
    const r = await run('--check');
    expect(r.code, transcript(r)).toBe(0);
    expect(r.events.find((e) => e.type === 'run_start')).toMatchObject({ check: true });

    // What would change is reported as changed, each saying "would".
    const changed = results(r).filter((e) => e.status === 'changed');
    expect(changed.map((e) => e.task).sort()).toEqual(['app config', 'app folder', 'ship the files', 'unpack the simulated IoTDB from the controller']);
    for (const e of changed) expect(e.msg).toMatch(/^would /);
    expect(totals(r).changed).toBe(4);
    // Commands are not run under --check; they say what they would run.
    expect(resultOf(r, 'start IoTDB standalone', HOST)).toMatchObject({ status: 'skipped', msg: 'would run: sbin/start-standalone.sh' });
    expect(resultOf(r, 'keep the echo daemon running', HOST).msg).toMatch(/^would start in the background: /);

    // And on the host nothing happened: no files, no processes, nothing listening.
    expect(await existing(lab, HOST, [BASE, `${BASE}/app`, `${BASE}/iotdb`])).toEqual([]);
    expect(await pids(lab, HOST, `${BASE}/`)).toEqual([]);
    expect(await portOpen(address(), ECHO_PORT)).toBe(false);
    expect(existsSync(fetchedConf())).toBe(false);
  });

  test('the playbook passes, using every module, and its background daemon survives the run', async () => {
    const r = await run();
    expect(r.code, transcript(r)).toBe(0);
    const t = totals(r);
    expect(t.failed, transcript(r)).toBe(0);
    expect(t.skipped, transcript(r)).toBe(0);

    // Every registered module ran at least once, so a new module must join the fixture.
    const used = new Set(r.events.flatMap((e) => (e.type === 'task_start' ? [e.module] : [])));
    expect([...used].sort()).toEqual([...moduleRegistry().keys()].sort());
    // The never-tagged teardown play did not run.
    expect(startedTasks(r)).not.toContain('stop the echo daemon');

    expect(resultOf(r, 'which site is this', HOST).msg).toMatch(/given with -e/);
    expect(resultOf(r, 'say what is going on', HOST).msg).toBe(`hello from runbook at lab on ${HOST} (${address()})`);
    expect(resultOf(r, 'ask the cluster', HOST)).toMatchObject({ status: 'ok' });
    expect(resultOf(r, 'the DataNode is not exposed on the lab network', HOST).msg).toMatch(/closed/);

    // upload, file, template, unzip and blockinfile did their work on the host.
    const shipped = await onHost(lab, HOST, `cat ${BASE}/app/files/greeting.txt`);
    expect(shipped).toBe(readFileSync(join(FIXTURE, 'files', 'greeting.txt'), 'utf8'));
    expect((await onHost(lab, HOST, `stat -c %a ${BASE}/app`)).trim()).toBe('755');
    const conf = await onHost(lab, HOST, `cat ${APP_CONF}`);
    expect(conf).toMatch(/^# .*generated/i);
    expect(conf).toContain('site = lab\n');
    expect(conf).toContain('greeting = hello from runbook at lab\n');
    expect(conf).toContain(`echo_port = ${ECHO_PORT}\n`);
    const props = await onHost(lab, HOST, `cat ${BASE}/iotdb/conf/iotdb-system.properties`);
    expect(props).toMatch(/# BEGIN e2e settings \(runbook\)\nheartbeat_interval_in_ms=200\n# END e2e settings \(runbook\)\n$/);
    expect(await existing(lab, HOST, [`${BASE}/iotdb/sbin/start-standalone.sh`])).toHaveLength(1);

    // fetch brought the rendered config to the controller, byte for byte.
    expect(readFileSync(fetchedConf(), 'utf8')).toBe(conf);

    // The standalone IoTDB (a ConfigNode and a DataNode) runs.
    expect(await pids(lab, HOST, IOTDB_PATTERN)).toHaveLength(2);

    // The daemon outlived the run's SSH session: it is alive now and answers.
    const pid = Number((await onHost(lab, HOST, `cat ${PIDFILE}`)).trim());
    expect(pid).toBeGreaterThan(0);
    await onHost(lab, HOST, `kill -0 ${pid}`);
    expect(await pids(lab, HOST, ECHO_PATTERN)).toHaveLength(1);
    expect(await readBanner(address(), ECHO_PORT)).toBe('lab\n');
  });

  test('a second run reports zero changes and restarts nothing', async () => {
    const before = { iotdb: await pids(lab, HOST, IOTDB_PATTERN), echo: await pids(lab, HOST, ECHO_PATTERN) };
    const r = await run();
    expect(r.code, transcript(r)).toBe(0);
    expect(totals(r).changed, transcript(r)).toBe(0);
    expect(totals(r).failed).toBe(0);
    expect(resultOf(r, 'start IoTDB standalone', HOST).status).toBe('skipped');
    expect(resultOf(r, 'keep the echo daemon running', HOST).msg).toMatch(/^already running: pid \d+/);
    expect(await pids(lab, HOST, IOTDB_PATTERN)).toEqual(before.iotdb);
    expect(await pids(lab, HOST, ECHO_PATTERN)).toEqual(before.echo);
  });

  test('--check of a pending change reports it with a diff and leaves the host alone', async () => {
    const sum = await sha256On(lab, HOST, APP_CONF);
    const r = await run('--check', '--diff', '-e', 'greeting=changed');
    expect(r.code, transcript(r)).toBe(0);
    const changed = results(r).filter((e) => e.status === 'changed');
    expect(changed.map((e) => e.task)).toEqual(['app config']);
    expect(changed[0]!.msg).toMatch(/^would update /);
    expect(changed[0]!.diff).toContain('+greeting = changed at lab');
    expect(changed[0]!.diff).toContain('-greeting = hello from runbook at lab');
    expect(await sha256On(lab, HOST, APP_CONF)).toBe(sum);
  });

  test('--tags config runs only the config tasks (and the always ones)', async () => {
    const echoBefore = await pids(lab, HOST, ECHO_PATTERN);
    const r = await run('--tags', 'config', '-e', 'greeting=bonjour');
    expect(r.code, transcript(r)).toBe(0);
    expect(startedTasks(r)).toEqual([
      'which site is this',
      'derive names',
      'app config',
      'fast heartbeats for the standalone IoTDB',
      'bring the config home',
    ]);
    expect(resultOf(r, 'app config', HOST).status).toBe('changed');
    expect(resultOf(r, 'fast heartbeats for the standalone IoTDB', HOST).status).toBe('ok');
    const conf = await onHost(lab, HOST, `cat ${APP_CONF}`);
    expect(conf).toContain('greeting = bonjour at lab\n');
    expect(readFileSync(fetchedConf(), 'utf8')).toBe(conf);
    // Untagged tasks (the daemon's) did not run: the same process still serves.
    expect(await pids(lab, HOST, ECHO_PATTERN)).toEqual(echoBefore);
  });

  // `run` with background records the pid of its `sh -c` wrapper, which leads
  // the daemon's process group; `process: { pidfile }` stops that whole group.
  test('--tags teardown stops the background daemon and IoTDB', async () => {
    const r = await run('--tags', 'teardown');
    expect(resultOf(r, 'stop the echo daemon', HOST).status).toBe('changed');
    expect(await pids(lab, HOST, ECHO_PATTERN)).toEqual([]);
    expect(r.code, transcript(r)).toBe(0);
    // Only the teardown play ran, after the always-tagged tasks of the first play.
    expect(startedTasks(r)).toEqual([
      'which site is this',
      'derive names',
      'stop the echo daemon',
      'the echo port is closed',
      'stop IoTDB',
      'the DataNode port is closed',
    ]);
    expect(await waitFor('IoTDB to stop', async () => (await pids(lab, HOST, IOTDB_PATTERN)).length === 0)).toBe(true);
  });
});
