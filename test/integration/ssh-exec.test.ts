// exec over a real OpenSSH server: one TCP connection for many commands, the
// channel limit, output tails, and timeouts/aborts that really end the remote
// process (checked in /proc: the "remote" host is this machine).

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshConnection } from '../../engine/connection/ssh.js';
import { UnreachableError } from '../../engine/errors.js';
import { processesMatching, processesRunning, processTree, sshTarget, startSshd, type TestSshd } from '../support/sshd.js';

let sshd: TestSshd | undefined;
let conn: SshConnection;
/** root, for become: the test account has no sudo rights. */
let rootConn: SshConnection;
const extraConnections: SshConnection[] = [];

beforeAll(async () => {
  // Only what a test configures may be tried; an agent from the environment would blur that.
  delete process.env.SSH_AUTH_SOCK;
  sshd = await startSshd();
  conn = await SshConnection.connect(sshTarget(sshd));
  rootConn = await SshConnection.connect(sshTarget(sshd, { user: sshd.rootUser }));
});

afterAll(async () => {
  await Promise.allSettled([conn, rootConn, ...extraConnections].map((c) => c?.close()));
  await sshd?.stop();
});

/** A `sleep` no other process on the machine runs, so /proc can find exactly ours. */
function uniqueSleep(): { command: string; marker: string } {
  const seconds = `300.${randomBytes(3).readUIntBE(0, 3)}`;
  return { command: `sleep ${seconds}`, marker: `sleep ${seconds}` };
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('exec', () => {
  it('returns output and exit code, with stdin, env and cwd applied', async () => {
    const result = await conn.exec(`cat; pwd; printf '%s' "$GREETING" >&2; exit 3`, {
      stdin: 'from stdin\n',
      cwd: '/tmp',
      env: { GREETING: `it's "$(quoted)"` },
    });
    expect(result).toMatchObject({
      exitCode: 3,
      signal: null,
      stdout: 'from stdin\n/tmp\n',
      stderr: `it's "$(quoted)"`,
      truncated: false,
      timedOut: false,
    });
  });

  it('reports a command killed by a signal', async () => {
    const result = await conn.exec('kill -s TERM $$');
    expect(result).toMatchObject({ exitCode: null, signal: 'SIGTERM', timedOut: false });
  });

  it('runs with become under sudo -n (as root: the test account may not sudo)', async () => {
    const result = await rootConn.exec('id -u; pwd', { become: true, cwd: '/' });
    expect(result).toMatchObject({ exitCode: 0, stdout: '0\n/\n' });
  });

  it('streams stdout chunks as they arrive', async () => {
    const chunks: string[] = [];
    const result = await conn.exec('echo one; sleep 0.2; echo two', { onStdout: (c) => chunks.push(c.toString()) });
    expect(chunks.join('')).toBe(result.stdout);
    expect(chunks.length).toBeGreaterThanOrEqual(2);
  });

  it('runs 200 sequential tasks over one TCP connection', async () => {
    const loginsBefore = sshd!.acceptedLogins();
    const connectionsBefore = new Set(sshd!.connectionPids());
    const own = await SshConnection.connect(sshTarget(sshd!));
    extraConnections.push(own);
    const ours = sshd!.connectionPids().filter((pid) => !connectionsBefore.has(pid));
    expect(ours).toHaveLength(1);
    for (let i = 0; i < 200; i++) {
      const result = await own.exec(`echo task-${i}`);
      expect(result.stdout).toBe(`task-${i}\n`);
    }
    // The server saw exactly one login for all 200, and the same single
    // per-connection sshd process served them all.
    expect(sshd!.acceptedLogins() - loginsBefore).toBe(1);
    expect(sshd!.connectionPids().filter((pid) => !connectionsBefore.has(pid))).toEqual(ours);
    expect(own.stats.peakChannels).toBe(1);
  });

  it('runs 20 concurrent commands, never more than the channel limit at once', async () => {
    const dir = `${sshd!.home}/concurrent`;
    expect((await conn.exec(`mkdir ${dir}`)).exitCode).toBe(0);
    // Each command registers itself in `dir` while it runs and reports how many were running.
    const command = `touch ${dir}/$$; sleep 0.3; ls ${dir} | wc -l; rm ${dir}/$$`;
    const results = await Promise.all(Array.from({ length: 20 }, () => conn.exec(command)));
    const running = results.map((r) => Number(r.stdout.trim()));
    expect(results.map((r) => [r.exitCode, r.stderr])).toEqual(results.map(() => [0, '']));
    expect(Math.max(...running)).toBeLessThanOrEqual(8);
    expect(Math.max(...running)).toBeGreaterThan(1);
    expect(conn.stats.peakChannels).toBeLessThanOrEqual(8);
  });

  it('waits and retries when the server refuses a channel (limit above MaxSessions)', async () => {
    const eager = await SshConnection.connect(sshTarget(sshd!), { maxChannels: 16 });
    extraConnections.push(eager);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => eager.exec(`sleep 0.3; echo ${i}`)));
    expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 20 }, (_, i) => `${i}\n`));
    // sshd's MaxSessions is 10, so some of the 16 opens were refused and retried.
    expect(eager.stats.channelOpenRetries).toBeGreaterThan(0);
  });

  it('keeps exactly the last bytes of a 30 MB output, without holding it all', async () => {
    const limit = 1024 * 1024;
    const expectedTail = execFileSync('sh', ['-c', `seq 1 3800000 | tail -c ${limit}`], { maxBuffer: 2 * limit }).toString();
    const rssBefore = process.memoryUsage().rss;
    const result = await conn.exec('seq 1 3800000; echo done >&2');
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    expect(result.exitCode).toBe(0);
    expect(result.truncated).toBe(true);
    expect(result.stdout.length).toBe(limit);
    expect(result.stdout).toBe(expectedTail);
    expect(result.stderr).toBe('done\n');
    expect(rssGrowth).toBeLessThan(100 * 1024 * 1024);
  });

  it('honours a smaller maxOutputBytes for both streams', async () => {
    const result = await conn.exec(`printf 'abcdefghij'; printf '0123456789' >&2`, { maxOutputBytes: 4 });
    expect(result).toMatchObject({ stdout: 'ghij', stderr: '6789', truncated: true });
  });
});

describe('stopping a remote command', () => {
  it('times out and leaves no remote process behind', async () => {
    const sleep = uniqueSleep();
    const started = Date.now();
    const result = await conn.exec(`${sleep.command} & ${sleep.command}; echo never`, { timeoutMs: 500 });
    expect(result).toMatchObject({ exitCode: null, timedOut: true, stdout: '' });
    expect(Date.now() - started).toBeLessThan(5000);
    // exec resolves only once the process group is gone: checked at once, no waiting.
    expect(processesMatching(sleep.marker)).toEqual([]);
  });

  it('kills with KILL a command that ignores TERM', async () => {
    const sleep = uniqueSleep();
    // An ignored signal stays ignored in children, so sleep ignores TERM too.
    const result = await conn.exec(`trap '' TERM; ${sleep.command}`, { timeoutMs: 300 });
    expect(result.timedOut).toBe(true);
    expect(processesMatching(sleep.marker)).toEqual([]);
  });

  it('kills the remote command when the signal aborts, then rejects with the reason', async () => {
    const sleep = uniqueSleep();
    const controller = new AbortController();
    const running = conn.exec(sleep.command, { signal: controller.signal });
    await waitFor(() => processesRunning(sleep.marker).length > 0, 5000);
    const reason = new Error('stop it');
    controller.abort(reason);
    await expect(running).rejects.toBe(reason);
    expect(processesMatching(sleep.marker)).toEqual([]);
  });

  it("learns that OpenSSH gives each command a session of its own, and stops a command's whole group through it", async () => {
    const fresh = await SshConnection.connect(sshTarget(sshd!));
    extraConnections.push(fresh);
    expect(fresh.stats.groupForm).toBeUndefined();
    // The first command probes; its own group id is the shell's pid.
    const first = await fresh.exec('echo "$$"; read -r l </proc/$$/stat; set -- ${l##*) }; echo "$3"');
    const [pid, group] = first.stdout.trim().split('\n');
    expect(group).toBe(pid);
    expect(first.stderr).toBe('');
    expect(fresh.stats.groupForm).toBe('session');

    const sleep = uniqueSleep();
    const controller = new AbortController();
    const running = fresh.exec(`${sleep.command} & ${sleep.command}; echo never`, { signal: controller.signal });
    await waitFor(() => processesRunning(sleep.marker).length === 2, 5000);
    // No timeout(1) in between: the sleeps' parent is the shell sshd started.
    const parents = processesRunning(sleep.marker).map((p) => readFileSync(`/proc/${p}/stat`, 'latin1').split(') ')[1]!.split(' ')[1]);
    expect(new Set(parents).size).toBe(1);
    expect(readFileSync(`/proc/${parents[0]}/cmdline`, 'latin1').split('\0')[0]).toBe('sh');
    controller.abort(new Error('stop it'));
    await expect(running).rejects.toThrow('stop it');
    expect(processesMatching(sleep.marker)).toEqual([]);
  });

  it('stops a command run with become (root-owned group, killed via sudo)', async () => {
    const sleep = uniqueSleep();
    const result = await rootConn.exec(sleep.command, { become: true, timeoutMs: 300 });
    expect(result.timedOut).toBe(true);
    expect(processesMatching(sleep.marker)).toEqual([]);
  });

  it('rejects at once when already aborted, and a queued command leaves the queue on abort', async () => {
    const aborted = new AbortController();
    aborted.abort(new Error('too late'));
    await expect(conn.exec('echo never', { signal: aborted.signal })).rejects.toThrow('too late');

    const small = await SshConnection.connect(sshTarget(sshd!), { maxChannels: 2 });
    extraConnections.push(small);
    const sleep = uniqueSleep();
    const blockers = [small.exec(sleep.command, { timeoutMs: 1500 }), small.exec(sleep.command, { timeoutMs: 1500 })];
    await waitFor(() => processesRunning(sleep.marker).length === 2, 5000);
    const controller = new AbortController();
    const queued = small.exec('echo queued', { signal: controller.signal });
    controller.abort(new Error('gave up waiting'));
    await expect(queued).rejects.toThrow('gave up waiting');
    expect((await Promise.all(blockers)).every((r) => r.timedOut)).toBe(true);
    expect(small.stats.peakChannels).toBe(2);
  });
});

describe('a lost connection', () => {
  it('fails the running command with UnreachableError, and later ones too', async () => {
    const before = new Set(sshd!.connectionPids());
    const doomed = await SshConnection.connect(sshTarget(sshd!));
    extraConnections.push(doomed);
    const ours = sshd!.connectionPids().filter((pid) => !before.has(pid));
    expect(ours).toHaveLength(1);
    const sleep = uniqueSleep();
    const running = doomed.exec(sleep.command);
    await waitFor(() => processesRunning(sleep.marker).length > 0, 5000);
    // The monitor, the unprivileged process that holds the socket, and the command: the server side of the link, gone at once.
    for (const pid of processTree(ours[0]!)) process.kill(pid, 'SIGKILL');
    await expect(running).rejects.toBeInstanceOf(UnreachableError);
    await expect(doomed.exec('true')).rejects.toBeInstanceOf(UnreachableError);
  });
});
