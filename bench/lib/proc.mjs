// @ts-check
// Running the tools under test and measuring them: wall time from spawn to
// exit, and the controller-side memory of everything the run started.
//
// Memory is sampled from /proc rather than taken from getrusage: getrusage's
// ru_maxrss of children is the peak of the single largest process, not of
// the tree, and it never sees processes that daemonise (Ansible's ssh
// ControlPersist masters leave the tree at once). So every run gets a unique
// marker in its environment, which every descendant inherits, daemons
// included; the sampler sums the processes that carry it.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * @typedef {object} RunResult
 * @property {number | null} code
 * @property {string} stdout
 * @property {string} stderr
 * @property {number} ms          wall time from spawn to exit
 */

/**
 * @typedef {object} RunOptions
 * @property {string} [cwd]
 * @property {Record<string, string | undefined>} [env]   added to (or, undefined, removed from) this process's environment
 * @property {number} [timeoutMs]  the run is killed (whole process group) after this
 * @property {(stream: 'stdout' | 'stderr', t: number, line: string) => void} [onLine]  each line as it arrives, with ms since the spawn
 * @property {(pid: number) => void} [onSpawn]
 */

/**
 * @param {Record<string, string | undefined>} [extra]
 * @returns {NodeJS.ProcessEnv}
 */
function withEnv(extra = {}) {
  /** @type {NodeJS.ProcessEnv} */
  const env = { ...process.env };
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/**
 * Run a command to completion, capturing its output.
 * @param {string} cmd @param {string[]} args @param {RunOptions} [opts]
 * @returns {Promise<RunResult>}
 */
export function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: withEnv(opts.env),
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a timeout can end everything it started.
      detached: true,
    });
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    /** @type {Buffer[]} */
    const out = [];
    /** @type {Buffer[]} */
    const err = [];
    let timedOut = false;
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            if (child.pid !== undefined) {
              try {
                process.kill(-child.pid, 'SIGKILL');
              } catch {
                // Already gone.
              }
            }
          }, opts.timeoutMs);
    /** @type {{ stdout: string; stderr: string }} */
    const partial = { stdout: '', stderr: '' };
    /** @param {'stdout' | 'stderr'} stream @param {Buffer[]} into */
    const collect = (stream, into) => (/** @type {Buffer} */ c) => {
      into.push(c);
      if (!opts.onLine) return;
      const t = performance.now() - t0;
      const lines = (partial[stream] + c.toString('utf8')).split('\n');
      partial[stream] = lines.pop() ?? '';
      for (const line of lines) opts.onLine(stream, t, line);
    };
    child.stdout.on('data', collect('stdout', out));
    child.stderr.on('data', collect('stderr', err));
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      for (const stream of /** @type {const} */ (['stdout', 'stderr'])) {
        if (opts.onLine && partial[stream] !== '') opts.onLine(stream, performance.now() - t0, partial[stream]);
      }
      const stderr = Buffer.concat(err).toString('utf8');
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: timedOut ? `${stderr}\n(killed after ${opts.timeoutMs} ms)` : stderr,
        ms: performance.now() - t0,
      });
    });
  });
}

/**
 * @typedef {object} MemoryPeak
 * @property {number} pssBytes   peak of the summed proportional set size (shared pages split between sharers)
 * @property {number} rssBytes   peak of the summed resident set size (shared pages counted in every process)
 * @property {number} processes  most processes seen at once
 * @property {number} samples
 */

/**
 * CPU seconds spent during one run, user + system. All three tools and the
 * lab hosts share this machine's cores, so CPU time is the currency that
 * explains wall time once a run is CPU-bound.
 * @typedef {object} CpuUse
 * @property {number | undefined} controllerS  the tool and everything it started, daemons included
 * @property {number | undefined} hostsS       every process on the lab hosts (sshd, sftp-server, unzip, Ansible's Python …)
 */

/**
 * @typedef {RunResult & { memory: MemoryPeak; cpu: CpuUse }} MeasuredRun
 */

const PAGE = 4096;
const TICKS = 100; // USER_HZ: /proc reports CPU times in 1/100 s on Linux
const GNU_TIME = '/usr/bin/time';
const MARKER = 'RUNBOOK_BENCH_RUN';

/**
 * Samples /proc every `intervalMs` for processes whose environment holds
 * MARKER=id, keeping the peak of their summed PSS and RSS. Environments are
 * read once per process (keyed by pid and start time, so a reused pid is
 * looked at again).
 */
class TreeSampler {
  /** @type {Map<number, { start: string; ours: boolean; cpu: number }>} */
  #seen = new Map();
  /** Never counted: the GNU time wrapper, which is not part of the tool. */
  skip = -1;
  /** @type {MemoryPeak} */
  peak = { pssBytes: 0, rssBytes: 0, processes: 0, samples: 0 };
  /** @type {NodeJS.Timeout | undefined} */
  #timer;
  #needle;

  /** @param {string} id @param {number} intervalMs */
  constructor(id, intervalMs) {
    this.#needle = Buffer.from(`${MARKER}=${id}\0`);
    this.#timer = setInterval(() => this.sample(), intervalMs);
  }

  sample() {
    let pss = 0;
    let rss = 0;
    let n = 0;
    let pids;
    try {
      pids = readdirSync('/proc');
    } catch {
      return;
    }
    for (const name of pids) {
      const pid = Number(name);
      if (!Number.isInteger(pid)) continue;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
        // Fields after the command name, which may hold spaces and parentheses.
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const start = f[19] ?? '';
        let known = this.#seen.get(pid);
        if (known === undefined || known.start !== start) {
          const env = readFileSync(`/proc/${pid}/environ`);
          known = { start, ours: env.includes(this.#needle), cpu: 0 };
          this.#seen.set(pid, known);
        }
        if (!known.ours || pid === this.skip) continue;
        known.cpu = Number(f[11] ?? 0) + Number(f[12] ?? 0);
        const rssPages = Number(f[21] ?? 0);
        if (rssPages === 0) continue; // a zombie, or a kernel thread
        rss += rssPages * PAGE;
        const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
        const m = /^Pss:\s+(\d+) kB/m.exec(rollup);
        pss += m ? Number(m[1]) * 1024 : rssPages * PAGE;
        n++;
      } catch {
        // The process ended between readdir and read.
      }
    }
    this.peak.samples++;
    if (pss > this.peak.pssBytes) this.peak.pssBytes = pss;
    if (rss > this.peak.rssBytes) this.peak.rssBytes = rss;
    if (n > this.peak.processes) this.peak.processes = n;
  }

  stop() {
    if (this.#timer) clearInterval(this.#timer);
  }

  /** CPU ticks of marked processes still alive, as of the last sample. @param {Set<number>} alive */
  cpuOf(alive) {
    let ticks = 0;
    for (const [pid, k] of this.#seen) if (k.ours && alive.has(pid)) ticks += k.cpu;
    return ticks;
  }
}

/** Pids alive now. */
function livePids() {
  return new Set(readdirSync('/proc').map(Number).filter(Number.isInteger));
}

/**
 * CPU ticks, own and of reaped children, summed over the processes in the
 * given network namespaces. Taken before and after a run, the difference is
 * what the run cost on the lab hosts: a finished process's time has been
 * added to its parent's children's time, up to the host's sshd (its init),
 * which lives throughout.
 * @param {Set<number>} inodes
 */
function namespaceCpuTicks(inodes) {
  let ticks = 0;
  for (const pid of livePids()) {
    try {
      const m = /net:\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/net`));
      if (!m || !inodes.has(Number(m[1]))) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11] ?? 0) + Number(f[12] ?? 0) + Number(f[13] ?? 0) + Number(f[14] ?? 0);
    } catch {
      // Gone meanwhile.
    }
  }
  return ticks;
}

/**
 * Run a command like `run`, with its environment marked, sampling the memory
 * of every process that carries the mark (every descendant, daemons too).
 *
 * Controller CPU: the command runs under GNU time, whose figure covers every
 * process it waited for, plus, from the last sample, the marked processes
 * still alive after the command ended (daemons such as Ansible's ssh
 * ControlPersist masters, which carry its transfers and are nobody's child).
 * Host CPU: namespaceCpuTicks before and after, when `netnsInodes` are given.
 * @param {string} cmd @param {string[]} args @param {RunOptions & { intervalMs?: number; netnsInodes?: Set<number> }} [opts]
 * @returns {Promise<MeasuredRun>}
 */
export async function runMeasured(cmd, args, opts = {}) {
  const id = randomBytes(8).toString('hex');
  const sampler = new TreeSampler(id, opts.intervalMs ?? 100);
  const timed = existsSync(GNU_TIME);
  const tmp = timed ? mkdtempSync(join(tmpdir(), 'rb-bench-time-')) : undefined;
  const timeFile = tmp === undefined ? undefined : join(tmp, 'rusage');
  const hostsBefore = opts.netnsInodes ? namespaceCpuTicks(opts.netnsInodes) : undefined;
  try {
    const child = timeFile === undefined ? { cmd, args } : { cmd: GNU_TIME, args: ['-q', '-f', '%U %S', '-o', timeFile, cmd, ...args] };
    const r = await run(child.cmd, child.args, { ...opts, env: { ...opts.env, [MARKER]: id }, onSpawn: (pid) => void (timed ? (sampler.skip = pid) : undefined) });
    sampler.sample();
    const hostsAfter = opts.netnsInodes ? namespaceCpuTicks(opts.netnsInodes) : undefined;
    /** @type {number | undefined} */
    let controllerS;
    if (timeFile !== undefined) {
      const [u, sy] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)?.split(' ').map(Number) ?? [];
      if (u !== undefined && sy !== undefined && Number.isFinite(u + sy)) controllerS = u + sy + sampler.cpuOf(livePids()) / TICKS;
    }
    const hostsS = hostsBefore !== undefined && hostsAfter !== undefined ? (hostsAfter - hostsBefore) / TICKS : undefined;
    return { ...r, memory: sampler.peak, cpu: { controllerS, hostsS } };
  } finally {
    sampler.stop();
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  }
}

/** @param {number[]} xs */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  if (s.length === 0) return NaN;
  return s.length % 2 ? /** @type {number} */ (s[mid]) : (/** @type {number} */ (s[mid - 1]) + /** @type {number} */ (s[mid])) / 2;
}
