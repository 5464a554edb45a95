// process: make sure a process is stopped (TERM, wait, then KILL) or check
// that it runs. The process is named by a pid, a pidfile or a pgrep -f
// pattern; the waiting happens in one remote loop, not one round trip per poll.

import { z } from 'zod';
import { changed, defineModule, failed, ok, sh, type ModuleContext } from '../engine/api.js';

const SIGNALS = ['TERM', 'INT', 'HUP', 'QUIT', 'KILL', 'USR1', 'USR2'] as const;
/** How long to wait for the kernel to reap a process after KILL. */
const KILL_WAIT_S = 5;

const schema = z
  .object({
    pidfile: z.string().optional().describe('A file on the host holding the pid.'),
    pattern: z
      .string()
      .min(1)
      .optional()
      .describe("A regular expression matched against whole command lines (pgrep -f), e.g. 'org.apache.iotdb.db.service.DataNode'."),
    pid: z.coerce.number().int().positive().optional().describe('The process id.'),
    state: z
      .enum(['stopped', 'running', 'absent', 'query'])
      .default('stopped')
      .describe(
        'stopped: end the process if it runs; running: fail unless it runs; absent: fail if it runs, and never signal it (a guard before destructive work); query: only report whether it runs (data.pids), never fail.',
      ),
    fail_msg: z.string().optional().describe('With state running or absent: the message when the check fails (e.g. how to fix it).'),
    signal: z
      .preprocess((v) => (typeof v === 'string' ? v.toUpperCase().replace(/^SIG/, '') : v), z.enum(SIGNALS))
      .default('TERM')
      .describe('The first signal sent when stopping (TERM, INT, HUP, QUIT, KILL, USR1, USR2; a SIG prefix is allowed).'),
    timeout: z.coerce.number().min(0).default(30).describe('Seconds to wait after the first signal before sending KILL.'),
    force: z.boolean().default(false).describe('Send KILL at once.'),
    become: z.boolean().optional().describe('Signal as root with sudo -n (for processes of another user).'),
  })
  .strict()
  .refine((a) => [a.pidfile, a.pattern, a.pid].filter((x) => x !== undefined).length === 1, {
    message: 'give exactly one of pidfile, pattern or pid',
  });

type Args = z.output<typeof schema>;

/**
 * Alive means: ps knows it and it is not a zombie (kill -0 succeeds on a
 * zombie, and a daemon whose parent does not reap would look alive forever).
 * Without a usable ps, /proc is the fallback.
 */
const ALIVE = `rb_alive() { s=$(ps -o stat= -p "$1" 2>/dev/null) || s=; if [ -n "$s" ]; then case $s in Z*) return 1;; esac; return 0; fi; [ -d "/proc/$1" ]; }`;

/**
 * The pattern comes on stdin, so it appears in no command line of ours: pgrep
 * -f would otherwise match the very shell that runs it (`sh -c '… pgrep -f
 * PATTERN'`), and any sudo or login-shell wrapper around it. The probing
 * shell's ancestors are left out as well, in case the pattern matches our own
 * script text.
 */
const FIND_BY_PATTERN = [
  ALIVE,
  'command -v pgrep >/dev/null 2>&1 || { echo nopgrep; exit 0; }',
  'IFS= read -r rb_pat',
  'rb_anc=" $$ "; q=$$; i=0',
  'while [ "$i" -lt 30 ]; do q=$(ps -o ppid= -p "$q" 2>/dev/null | tr -d " "); case $q in ""|0|1) break;; esac; rb_anc="$rb_anc$q "; i=$((i+1)); done',
  'for p in $(pgrep -f -- "$rb_pat"); do case $rb_anc in *" $p "*) continue;; esac; rb_alive "$p" && echo "$p"; done',
  'exit 0',
].join('\n');

const findByPid = (pid: number) => `${ALIVE}\nrb_alive ${pid} && echo ${pid}\nexit 0`;

const findByPidfile = (pidfile: string) =>
  [
    ALIVE,
    sh`[ -e ${pidfile} ] || { echo nofile; exit 0; }`,
    sh`p=$(tr -d ' \t\r\n' < ${pidfile}) || { echo unreadable; exit 0; }`,
    `case $p in ''|*[!0-9]*) echo "badfile $p"; exit 0;; esac`,
    'rb_alive "$p" && echo "$p" || echo "dead $p"',
    'exit 0',
  ].join('\n');

/**
 * Signal the pids, then wait at least `wait` seconds for them to go; the last
 * line is "gone" or "alive PID…". The wait counts sleeps rather than reading
 * `date +%s`, whose whole seconds would cut a 1 s wait to anything above 0;
 * hosts whose sleep takes no fractions poll once a second instead.
 */
function signalAndWait(pids: number[], signal: string, wait: number, groups = false): string {
  const list = pids.join(' ');
  // A pid or pidfile that names a process-group leader (a daemon started by
  // run's background: its sh -c wrapper leads the new session) stands for its
  // whole group: the daemon is the wrapper's child. Its group is signalled, and
  // it is gone only when no member is left.
  const kill = groups
    ? [
        `rb_gone() { for q in $(pgrep -g "$1" 2>/dev/null) "$1"; do rb_alive "$q" && return 1; done; return 0; }`,
        `for p in ${list}; do g=$(ps -o pgid= -p "$p" 2>/dev/null | tr -d ' '); if [ "$g" = "$p" ]; then kill -s ${signal} -- "-$p"; else kill -s ${signal} "$p"; fi; done`,
      ]
    : [`rb_gone() { ! rb_alive "$1"; }`, `kill -${signal} ${list}`];
  return [
    ALIVE,
    ...kill,
    `if sleep 0.01 2>/dev/null; then rb_step=0.2; rb_n=${Math.ceil(wait / 0.2)}; else rb_step=1; rb_n=${Math.ceil(wait)}; fi`,
    'rb_i=0',
    'while :; do',
    `  rb_left=; for p in ${list}; do rb_gone "$p" || rb_left="$rb_left $p"; done`,
    '  [ -z "$rb_left" ] && { echo gone; exit 0; }',
    '  [ "$rb_i" -ge "$rb_n" ] && { echo "alive$rb_left"; exit 0; }',
    '  sleep "$rb_step"; rb_i=$((rb_i+1))',
    'done',
  ].join('\n');
}

interface Found {
  pids: number[];
  /** Why nothing was found, when that is worth saying. */
  note?: string;
  /** Why the search itself failed. */
  error?: string;
}

function selector(a: Args): string {
  if (a.pidfile !== undefined) return `pidfile ${a.pidfile}`;
  if (a.pattern !== undefined) return `pattern ${JSON.stringify(a.pattern)}`;
  return `pid ${a.pid}`;
}

async function find(ctx: ModuleContext, a: Args): Promise<Found> {
  const r =
    a.pattern !== undefined
      ? await ctx.exec(FIND_BY_PATTERN, { stdin: `${a.pattern}\n`, become: a.become })
      : a.pidfile !== undefined
        ? await ctx.exec(findByPidfile(a.pidfile), { become: a.become })
        : await ctx.exec(findByPid(a.pid!), { become: a.become });
  if (r.exitCode !== 0) {
    return { pids: [], error: `could not look for ${selector(a)} on ${ctx.host.name} (exit ${r.exitCode ?? r.signal}): ${r.stderr.trim().split('\n').at(-1) ?? ''}` };
  }
  const out = r.stdout.trim().split('\n').filter((l) => l !== '');
  const first = out[0] ?? '';
  if (first === 'nopgrep') return { pids: [], error: `pgrep is not installed on ${ctx.host.name} (package procps); use pid or pidfile instead of pattern` };
  if (first === 'nofile') return { pids: [], note: 'no such file' };
  if (first === 'unreadable') return { pids: [], error: `cannot read ${a.pidfile} on ${ctx.host.name}; try become: true` };
  if (first.startsWith('badfile')) return { pids: [], note: `it holds no pid: ${JSON.stringify(first.slice(8))}` };
  if (first.startsWith('dead ')) return { pids: [], note: `pid ${first.slice(5)} is not running` };
  return { pids: out.map(Number).filter((n) => Number.isInteger(n) && n > 0) };
}

const pidList = (pids: number[]) => `pid${pids.length === 1 ? '' : 's'} ${pids.join(', ')}`;

export default defineModule({
  name: 'process',
  description: 'Stop a process (TERM, wait, then KILL) or check that it runs; found by pid, pidfile or command-line pattern.',
  schema,
  examples: [
    {
      title: 'Stop the IoTDB DataNode, killing it if it ignores TERM for 60 s',
      yaml: `- process: { pattern: 'org\\.apache\\.iotdb\\.db\\.service\\.DataNode', timeout: 60 }`,
    },
    {
      title: 'Stop a daemon started by run with a pidfile',
      yaml: `- process: { pidfile: /opt/srv/srv.pid }`,
    },
    {
      title: 'Refuse to go on while the node runs',
      yaml: `- process: { pattern: '/opt/iotdb/lib/.*DataNode', state: absent, fail_msg: 'stop the cluster first' }`,
    },
    {
      title: 'Fail unless taosd runs',
      yaml: `- process: { pattern: '^/usr/bin/taosd', state: running }`,
    },
  ],
  async run(ctx, a) {
    const what = selector(a);
    const { pids, note, error } = await find(ctx, a);
    if (error !== undefined) return failed(error);

    if (a.state === 'running') {
      if (pids.length === 0) return failed(a.fail_msg ?? `no process matches ${what}${note ? ` (${note})` : ''}`, { pids });
      return ok(`running: ${pidList(pids)}`, { pids });
    }

    if (a.state === 'query') {
      return ok(pids.length ? `running: ${pidList(pids)}` : `not running: no process matches ${what}${note ? ` (${note})` : ''}`, { pids });
    }

    if (a.state === 'absent') {
      if (pids.length > 0) return failed(a.fail_msg ? `${a.fail_msg} (${pidList(pids)})` : `still running: ${pidList(pids)} (${what})`, { pids });
      return ok(`not running: no process matches ${what}`, { pids });
    }

    if (pids.length === 0) return ok(`no process matches ${what}${note ? ` (${note})` : ''}`, { pids });

    const first = a.force ? 'KILL' : a.signal;
    if (ctx.check) {
      const then = first === 'KILL' ? '' : `, then KILL after ${a.timeout} s`;
      return changed(`would stop ${pidList(pids)} with ${first}${then}`, { pids });
    }

    const wait = first === 'KILL' ? KILL_WAIT_S : a.timeout;
    const groups = a.pattern === undefined;
    const r1 = await ctx.exec(signalAndWait(pids, first, wait, groups), { become: a.become, timeoutMs: (wait + 15) * 1000 });
    const left = (r: typeof r1): number[] | undefined => {
      const last = r.stdout.trim().split('\n').at(-1) ?? '';
      if (last === 'gone') return [];
      if (last.startsWith('alive')) return last.slice(5).trim().split(/\s+/).map(Number);
      return undefined;
    };
    const why = (r: typeof r1): string => {
      const err = r.stderr.trim().split('\n').at(-1) ?? '';
      const hint = /not permitted/i.test(err) && !a.become ? '; try become: true' : '';
      return `${err || `exit ${r.exitCode ?? r.signal}`}${hint}`;
    };
    const after1 = left(r1);
    if (after1 === undefined) return failed(`could not stop ${pidList(pids)}: ${why(r1)}`, { pids });
    if (after1.length === 0) {
      return changed(`stopped ${pidList(pids)} with ${first}${a.force ? ' (force)' : ''}`, { pids, signal: first });
    }
    if (first === 'KILL') {
      return failed(`${pidList(after1)} still running ${KILL_WAIT_S} s after KILL: ${why(r1)}`, { pids, left: after1 });
    }
    // A permission error will not go away with KILL; say so instead of trying.
    if (/not permitted/i.test(r1.stderr)) return failed(`could not signal ${pidList(after1)}: ${why(r1)}`, { pids, left: after1 });

    const r2 = await ctx.exec(signalAndWait(after1, 'KILL', KILL_WAIT_S, groups), { become: a.become, timeoutMs: (KILL_WAIT_S + 15) * 1000 });
    const after2 = left(r2);
    if (after2 === undefined || after2.length > 0) {
      return failed(`${pidList(after2 ?? after1)} still running after ${first} and KILL: ${why(r2)}`, { pids, left: after2 ?? after1 });
    }
    return changed(`stopped ${pidList(after1)} with KILL after ${a.timeout} s${after1.length < pids.length ? ` (${pidList(pids.filter((p) => !after1.includes(p)))} ended on ${first})` : ''}`, {
      pids,
      signal: 'KILL',
    });
  },
});
