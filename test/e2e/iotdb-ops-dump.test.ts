// dumplog and dumpdata against real SSH hosts: log lines seeded with known
// days and levels (in the live log and in rolled, gzipped ones) are filtered
// on the node and copied here or, as iotdbctl does, by the node to another
// machine with scp. TsFile folders laid out as IoTDB keeps them (the
// simulator writes none) are copied by time partition.
//
// The bandwidth limit is checked by what it guarantees: a limited transfer
// of S bytes cannot finish before S / rate (runbook's limiter has no initial
// burst; scp -l lets a first window through, so its copy is made large). The
// floor used is half that, counting only bytes no compression removes, so it
// holds however fast the machine is and however slow a loaded one makes it.

import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { results } from '../support/cli.js';
import { useLab } from '../support/lab.js';
import { deployedOnce, messages, play, transcript, useOpsScratch, type OpsTopology } from '../support/iotdb-ops.js';

const lab = useLab({ hosts: 2 });
const scratch = useOpsScratch();

const ready = deployedOnce({
  lab,
  scratch,
  file: 'c1d1.yaml',
  nodes: [
    { name: 'confignode_1', type: 'confignode', host: 'node1' },
    { name: 'datanode_1', type: 'datanode', host: 'node1' },
  ],
});

const line = (day: string, level: string, msg: string): string => `${day} 10:00:00,000 [main] ${level.padEnd(5)} o.a.i.db.Seeded - ${msg}`;

/** Random text lines of one day and level: RANDOM_CHARS characters each that no compression removes. */
const RANDOM_CHARS = 100;
function bulk(day: string, level: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => line(day, level, `bulk ${i} ${randomBytes(RANDOM_CHARS).toString('base64').slice(0, RANDOM_CHARS)}`));
}

async function seedLogs(t: OpsTopology): Promise<void> {
  const logs = `${t.node('datanode_1').home}/logs`;
  const live = [
    line('2023-04-10', 'WARN', 'the day before'),
    line('2023-04-11', 'WARN', 'first day warn'),
    line('2023-04-11', 'INFO', 'first day info'),
    line('2023-04-20', 'ERROR', 'an error'),
    'java.lang.IllegalStateException: seeded',
    '\tat org.apache.iotdb.Seeded.run(Seeded.java:42)',
    line('2023-04-20', 'WARN', 'a warning after the error'),
    line('2023-04-26', 'WARN', 'last day warn'),
    line('2023-04-27', 'WARN', 'the day after'),
  ].join('\n');
  const rolledIn = [line('2023-04-12', 'WARN', 'rolled warn'), line('2023-04-12', 'ERROR', 'rolled error')].join('\n');
  const rolledOut = line('2023-03-01', 'WARN', 'an old rolled file');
  const script = [
    'set -e',
    `cd ${logs}`,
    `printf '%s\\n' '${live}' >> log_datanode_all.log`,
    `printf '%s\\n' '${rolledIn}' | gzip > log-datanode-all-20230412.0.log.gz`,
    `printf '%s\\n' '${rolledOut}' | gzip > log-datanode-all-20230301.0.log.gz`,
    // The ConfigNode's log has lines of the range too; -N datanode_1 must leave them.
    `printf '%s\\n' '${line('2023-04-15', 'WARN', 'confignode warn')}' >> ${t.node('confignode_1').home}/logs/log_confignode_all.log`,
  ].join('\n');
  const r = await lab.sshExec('node1', script);
  expect(r.code, r.stderr).toBe(0);
}

const read = (dir: string): Record<string, string[]> =>
  Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean)]));

describe('dumplog', () => {
  it('copies the lines of a date range and level, from live and rolled logs, to a folder here', async () => {
    const t = await ready();
    await seedLogs(t);
    const dest = join(scratch.dir, 'logs-warn');
    const r = await play(scratch, 'dumplog', t.path, ['-N', 'datanode_1', '-e', 'startdate=2023-04-11', '-e', 'enddate=2023-04-26', '-e', 'loglevel=warn', '-e', `local_dir=${dest}`]);
    expect(r.code, transcript(r)).toBe(0);
    expect(readdirSync(dest)).toEqual(['datanode_1']);
    expect(read(join(dest, 'datanode_1'))).toEqual({
      'log-datanode-all-20230412.0.log': [line('2023-04-12', 'WARN', 'rolled warn')],
      'log_datanode_all.log': [line('2023-04-11', 'WARN', 'first day warn'), line('2023-04-20', 'WARN', 'a warning after the error'), line('2023-04-26', 'WARN', 'last day warn')],
    });

    // An error keeps its stack trace; the node's own lines of today are outside the range.
    const errors = join(scratch.dir, 'logs-error');
    const e = await play(scratch, 'dumplog', t.path, ['-N', 'datanode_1', '-e', 'startdate=2023-04-11', '-e', 'enddate=2023-04-26', '-e', 'loglevel=error', '-e', `local_dir=${errors}`]);
    expect(e.code, transcript(e)).toBe(0);
    expect(read(join(errors, 'datanode_1'))['log_datanode_all.log']).toEqual([
      line('2023-04-20', 'ERROR', 'an error'),
      'java.lang.IllegalStateException: seeded',
      '\tat org.apache.iotdb.Seeded.run(Seeded.java:42)',
    ]);

    // A range with nothing in it copies nothing, and says so.
    const none = await play(scratch, 'dumplog', t.path, ['-N', 'datanode_1', '-e', 'startdate=2020-01-01', '-e', 'enddate=2020-01-02', '-e', `local_dir=${join(scratch.dir, 'logs-none')}`]);
    expect(none.code, transcript(none)).toBe(0);
    expect(messages(none, 'nothing matched')).toEqual(['datanode_1: no log lines from 2020-01-01 to 2020-01-02; nothing to copy']);
  });

  it('holds the bandwidth limit, here and when the node sends to another machine with scp', async () => {
    const t = await ready();
    const log = `${t.node('datanode_1').home}/logs/log_datanode_all.log`;

    // Here: runbook's own limiter (fetch). The folder travels gzipped, so only the random characters count.
    const lines = bulk('2023-05-05', 'WARN', 240);
    expect((await lab.sshExec('node1', `cat >> ${log}`, { input: lines.join('\n') + '\n' })).code).toBe(0);
    const limit = 64;
    const here = join(scratch.dir, 'logs-limited');
    const r = await play(scratch, 'dumplog', t.path, ['-N', 'datanode_1', '-e', 'startdate=2023-05-05', '-e', 'enddate=2023-05-05', '-e', `limit=${limit}`, '-e', `local_dir=${here}`]);
    expect(r.code, transcript(r)).toBe(0);
    expect(read(join(here, 'datanode_1'))['log_datanode_all.log']).toEqual(lines);
    const fetched = results(r, 'fetch the copy to this machine, bandwidth limited').filter((x) => x.status === 'changed');
    expect(fetched).toHaveLength(1);
    expect(fetched[0]!.duration_ms).toBeGreaterThanOrEqual((0.5 * lines.length * RANDOM_CHARS * 1000) / ((limit * 1024) / 8));

    // There: node1 sends to node2 with its own key, as iotdbctl's -h/-u/-p/-path, under scp -l.
    // In its default (SFTP) mode scp lets a first window of a few hundred KB through before
    // its limiter catches up, so this copy is larger than that.
    const key = await lab.sshExec('node1', "test -f /root/.ssh/id_ed25519 || ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519; cat /root/.ssh/id_ed25519.pub");
    expect(key.code, key.stderr).toBe(0);
    expect((await lab.sshExec('node2', 'cat >> /root/.ssh/authorized_keys', { input: key.stdout })).code).toBe(0);
    const many = bulk('2023-05-06', 'WARN', 3000);
    expect((await lab.sshExec('node1', `cat >> ${log}`, { input: many.join('\n') + '\n' })).code).toBe(0);
    const scpLimit = 1024;
    const bytes = many.reduce((n, l) => n + l.length + 1, 0);
    const target = lab.host('node2').address;
    const sent = await play(scratch, 'dumplog', t.path, [
      '-N', 'datanode_1', '-e', 'startdate=2023-05-06', '-e', 'enddate=2023-05-06', '-e', `limit=${scpLimit}`,
      '-e', `h=${target}`, '-e', 'u=root', '-e', 'p=22', '-e', 'path=/tmp/iotdb-logs',
    ]);
    expect(sent.code, transcript(sent)).toBe(0);
    const scp = results(sent, 'send the copy to the target machine').filter((x) => x.status === 'changed');
    expect(scp).toHaveLength(1);
    expect(scp[0]!.duration_ms).toBeGreaterThanOrEqual((0.5 * bytes * 1000) / ((scpLimit * 1024) / 8));
    const there = await lab.sshExec('node2', 'ls /tmp/iotdb-logs/datanode_1 && cat /tmp/iotdb-logs/datanode_1/log_datanode_all.log');
    expect(there.stdout.split('\n').filter(Boolean)).toEqual(['log_datanode_all.log', ...many]);
    // The staging folders on the node are gone.
    expect((await lab.sshExec('node1', 'ls /tmp | grep runbook-dump || true')).stdout.trim()).toBe('');
  });

  it('refuses options it cannot honour before touching a host', async () => {
    const t = await ready();
    const both = await play(scratch, 'dumplog', t.path, ['-e', 'h=198.19.0.1', '-e', `local_dir=${scratch.dir}`]);
    expect(both.code).toBe(1);
    expect(messages(both, 'one destination').join('\n')).toContain('say where the copy goes');
    const level = await play(scratch, 'dumplog', t.path, ['-e', 'loglevel=debug', '-e', `local_dir=${scratch.dir}`]);
    expect(messages(level, 'the log level is one IoTDB writes').join('\n')).toContain('choose all, info, warn or error');
    const dates = await play(scratch, 'dumplog', t.path, ['-e', 'startdate=2023-05-01', '-e', 'enddate=2023-04-01', '-e', `local_dir=${scratch.dir}`]);
    expect(messages(dates, 'the dates are YYYY-MM-DD, start before end').join('\n')).toContain('the start not after the end');
  });
});

describe('dumpdata', () => {
  it('copies the time partitions that overlap the days asked for', async () => {
    const t = await ready();
    const data = `${t.node('datanode_1').dataDir}/data`;
    // Partition n spans n × 7 days from the epoch: 2780 is 2023-04-13 to 2023-04-20 (UTC).
    const folders = ['sequence/root.sg/1/2779', 'sequence/root.sg/1/2780', 'unsequence/root.sg/1/2780', 'sequence/root.sg/2/2781', 'sequence/root.other/3/2790'];
    const seed = await lab.sshExec(
      'node1',
      folders.map((f) => `mkdir -p ${data}/${f} && echo ${f} > ${data}/${f}/1681500000000-1-0-0.tsfile && echo r > ${data}/${f}/1681500000000-1-0-0.tsfile.resource`).join(' && '),
    );
    expect(seed.code, seed.stderr).toBe(0);
    const dest = join(scratch.dir, 'data');
    // Days well inside partition 2780, so no time zone moves the answer.
    const r = await play(scratch, 'dumpdata', t.path, ['-e', 'granularity=partition', '-e', 'startdate=2023-04-14', '-e', 'enddate=2023-04-18', '-e', `local_dir=${dest}`]);
    expect(r.code, transcript(r)).toBe(0);
    expect(messages(r, 'copied')).toEqual(['datanode_1: copied 2 time partitions (4 files) to ' + dest + '/datanode_1']);
    expect(readFileSync(join(dest, 'datanode_1', 'sequence/root.sg/1/2780/1681500000000-1-0-0.tsfile'), 'utf8')).toBe('sequence/root.sg/1/2780\n');
    expect(readdirSync(join(dest, 'datanode_1', 'unsequence/root.sg/1/2780'))).toEqual(['1681500000000-1-0-0.tsfile', '1681500000000-1-0-0.tsfile.resource']);
    expect(readdirSync(join(dest, 'datanode_1', 'sequence'))).toEqual(['root.sg']);
    expect(readdirSync(join(dest, 'datanode_1', 'sequence/root.sg'))).toEqual(['1']);

    const noGranularity = await play(scratch, 'dumpdata', t.path, ['-e', 'startdate=2023-04-14', '-e', 'enddate=2023-04-18', '-e', `local_dir=${dest}`]);
    expect(messages(noGranularity, 'the granularity is partition').join('\n')).toContain('-e granularity=partition');
  });
});
