// run: a command on the host, as a shell string or an argv list, optionally
// as a properly detached daemon. creates/removes make it idempotent; the
// engine applies changed_when/failed_when on top of what this returns.

import { z } from 'zod';
import { argv, changed, defineModule, failed, quote, reveal, Secret, sh, skipped, type ModuleContext } from '../engine/api.js';

const envValue = z.union([z.string(), z.number(), z.boolean(), z.instanceof(Secret)]);

const schema = z
  .object({
    cmd: z.string().min(1).optional().describe('The command as one shell string (POSIX sh syntax: pipes, &&, redirections work); each {{ value }} in it is quoted as one word, {{{ value }}} inserts trusted shell text as it is. Give cmd or argv, not both.'),
    argv: z
      .array(z.union([z.string(), z.number()]))
      .min(1)
      .optional()
      .describe('The command as a list of words; each word is quoted, so spaces and quotes in them are passed through unchanged.'),
    cwd: z.string().optional().describe('Working directory on the host.'),
    env: z.record(z.string(), envValue).optional().describe('Extra environment variables; secrets may be given and are never shown.'),
    stdin: z.string().optional().describe('Text written to the command\'s standard input.'),
    timeout: z.number().positive().optional().describe('Kill the command and fail after this many seconds.'),
    creates: z.string().optional().describe('Skip when this path exists on the host (relative paths start at cwd).'),
    removes: z.string().optional().describe('Skip unless this path exists on the host (relative paths start at cwd).'),
    login_shell: z.boolean().optional().describe('Run in a login shell, for hosts whose PATH or JAVA_HOME come from the profile.'),
    become: z.boolean().optional().describe('Run as root with sudo -n (overrides the task\'s become).'),
    background: z
      .boolean()
      .default(false)
      .describe(
        'Start the command as a daemon: a new session (setsid), stdin from /dev/null, output to `log`, descriptors 3-9 closed; it outlives the SSH channel. Its pid is returned in data.pid (it leads its own process group, so `kill -- -PID` ends the whole tree).',
      ),
    pidfile: z
      .string()
      .optional()
      .describe('With background: write the daemon\'s pid here; when the file names a live process, nothing is started.'),
    log: z.string().optional().describe('With background: append the daemon\'s stdout and stderr to this file (default /dev/null).'),
    expect_rc: z
      .union([z.number().int(), z.array(z.number().int()).min(1)])
      .default(0)
      .describe('Exit code(s) that count as success (default 0).'),
  })
  .strict()
  .refine((a) => (a.cmd === undefined) !== (a.argv === undefined), { message: 'give exactly one of cmd or argv' })
  .refine((a) => a.background || (a.pidfile === undefined && a.log === undefined), {
    message: 'pidfile and log need background: true',
  })
  .refine((a) => !a.background || a.stdin === undefined, { message: 'a background daemon reads /dev/null; stdin cannot be given with background: true' });

type Args = z.output<typeof schema>;

/** The last non-empty line, for one-line failure messages. */
function lastLine(text: string): string {
  const ls = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  return ls.at(-1) ?? '';
}

const splitLines = (text: string): string[] => (text === '' ? [] : text.replace(/\r?\n$/, '').split(/\r?\n/));

/** One line for messages: long commands are cut. */
function shortCmd(cmd: string): string {
  const one = cmd.replace(/\s*\n\s*/g, '; ');
  return one.length > 120 ? `${one.slice(0, 117)}…` : one;
}

/**
 * The launcher for background: the daemon gets a new session so that neither
 * the channel's end nor a SIGHUP to its process group reaches it, and fresh
 * stdin/stdout/stderr so that sshd sees EOF and closes the channel right away
 * (an inherited pipe would keep the task hanging until the daemon exits).
 * POSIX sh can only close descriptors 0-9, so 3-9 are closed here.
 * Without setsid (non-util-linux hosts) nohup is the closest portable fallback.
 */
function launcher(command: string, log: string, pidfile: string | undefined): string {
  const redir = sh`</dev/null >>${log} 2>&1`;
  const lines = [
    // The pidfile's check comes first, in the same session: a round trip less than a probe of its own.
    ...(pidfile === undefined ? [] : [sh`p=$(cat ${pidfile} 2>/dev/null) && case $p in ''|*[!0-9]*) ;; *) ! kill -0 "$p" 2>/dev/null || { echo "running $p"; exit 0; } ;; esac`]),
    'exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-',
    `if command -v setsid >/dev/null 2>&1; then setsid sh -c ${quote(command)} ${redir} & else nohup sh -c ${quote(command)} ${redir} & fi`,
    'rb_pid=$!',
  ];
  if (pidfile !== undefined) lines.push(`echo "$rb_pid" > ${quote(pidfile)} || exit 1`);
  lines.push('echo "$rb_pid"');
  return lines.join('\n');
}

/** pid from a pidfile when that process is alive, else nothing. */
const pidfileProbe = (pidfile: string): string =>
  sh`p=$(cat ${pidfile} 2>/dev/null) || exit 0; case $p in ''|*[!0-9]*) exit 0;; esac; kill -0 "$p" 2>/dev/null && echo "$p"; exit 0`;

/**
 * true / false, or why the test itself failed (no such cwd, sudo refused). A
 * relative path is tested after our own `cd`, whose failure exits 2: the
 * connection's cwd handling exits 1, which would read as "does not exist".
 */
async function pathExists(ctx: ModuleContext, path: string, a: Args): Promise<boolean | string> {
  const test = a.cwd !== undefined && !path.startsWith('/') ? sh`cd ${a.cwd} || exit 2
test -e ${path}` : sh`test -e ${path}`;
  const r = await ctx.exec(test, { become: a.become });
  if (r.exitCode === 0) return true;
  if (r.exitCode === 1) return false;
  return `could not test whether ${path} exists (exit ${r.exitCode ?? r.signal}): ${lastLine(r.stderr) || 'no output'}`;
}

export default defineModule({
  shellArgs: ['cmd'],
  name: 'run',
  description: 'Run a command on the host (shell string or argv), optionally as a detached daemon; creates/removes make it idempotent.',
  schema,
  freeForm: 'cmd',
  examples: [
    {
      title: 'Unpack once',
      yaml: `- name: unpack IoTDB
  run:
    argv: [unzip, -q, -o, /tmp/iotdb.zip, -d, /opt]
    creates: /opt/iotdb/sbin/start-cli.sh`,
    },
    {
      title: 'Start a daemon that outlives the SSH connection',
      yaml: `- name: start the ConfigNode
  run:
    cmd: ./sbin/start-confignode.sh
    cwd: /opt/iotdb
    background: true
    pidfile: /opt/iotdb/confignode.pid
    log: /opt/iotdb/logs/confignode.out
    login_shell: true
  register: cn`,
    },
    {
      title: 'A shell one-liner whose output is used later',
      yaml: `- run: hostname -f
  register: fqdn`,
    },
  ],
  async run(ctx, a) {
    const command = a.cmd ?? argv(a.argv ?? []);
    const shown = ctx.mask(shortCmd(command));

    for (const [path, skipIf] of [[a.creates, true], [a.removes, false]] as const) {
      if (path === undefined) continue;
      const exists = await pathExists(ctx, path, a);
      if (typeof exists === 'string') return failed(exists);
      if (exists === skipIf) return skipped(`${path} ${exists ? 'exists' : 'does not exist'}`);
    }

    const env = a.env && Object.fromEntries(Object.entries(a.env).map(([k, v]) => [k, v instanceof Secret ? reveal(v) : String(v)]));
    const opts = {
      cwd: a.cwd,
      env,
      become: a.become,
      loginShell: a.login_shell,
      timeoutMs: a.timeout !== undefined ? Math.round(a.timeout * 1000) : undefined,
    };

    if (a.background) {
      if (ctx.check) {
        const probe = a.pidfile !== undefined ? await ctx.exec(pidfileProbe(a.pidfile), { cwd: a.cwd, become: a.become }) : undefined;
        const pid = Number(probe?.stdout.trim());
        if (probe?.stdout.trim() && Number.isInteger(pid)) return skipped(`already running: pid ${pid} from ${a.pidfile}`, { pid });
        return skipped(`would start in the background: ${shown}`);
      }
      const r = await ctx.exec(launcher(command, a.log ?? '/dev/null', a.pidfile), opts);
      const running = /^running (\d+)$/.exec(r.stdout.trim());
      if (r.exitCode === 0 && running) return skipped(`already running: pid ${running[1]} from ${a.pidfile}`, { pid: Number(running[1]) });
      const pid = Number(r.stdout.trim());
      if (r.exitCode !== 0 || !Number.isInteger(pid) || pid <= 0) {
        return failed(ctx.mask(`could not start ${shown} in the background (exit ${r.exitCode ?? r.signal}): ${lastLine(r.stderr) || lastLine(r.stdout)}`), {
          rc: r.exitCode,
          stderr: ctx.mask(r.stderr),
        });
      }
      const where = a.log !== undefined ? `, output to ${a.log}` : '';
      return changed(`started pid ${pid} in the background${where}: ${shown}`, { pid, rc: 0 });
    }

    if (ctx.check) return skipped(`would run: ${shown}`);

    const r = await ctx.exec(command, { ...opts, stdin: a.stdin });
    const stdout = ctx.mask(r.stdout);
    const stderr = ctx.mask(r.stderr);
    const data = {
      rc: r.exitCode,
      stdout,
      stderr,
      stdout_lines: splitLines(stdout),
      stderr_lines: splitLines(stderr),
      truncated: r.truncated,
    };
    if (r.timedOut) {
      const after = a.timeout !== undefined ? `after ${a.timeout} s` : '(the task\'s timeout)';
      return failed(`timed out ${after}: ${shown}`, data);
    }
    if (r.exitCode === null) return failed(`killed by ${r.signal ?? 'a signal'}: ${shown}`, data);
    const allowed = Array.isArray(a.expect_rc) ? a.expect_rc : [a.expect_rc];
    if (!allowed.includes(r.exitCode)) {
      const why = lastLine(stderr) || lastLine(stdout) || 'no output';
      return failed(`exit code ${r.exitCode} from ${shown}: ${why}`, data);
    }
    return changed(`ran ${shown} (exit ${r.exitCode})`, data);
  },
});
