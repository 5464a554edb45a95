// wait-port: wait until a TCP port accepts connections (or stops accepting
// them), probing from the controller with node:net or from the target with
// the host's own tools. node:net is not a host transport: it only opens a TCP
// connection to the port being waited for.

import { connect } from 'node:net';
import { z } from 'zod';
import { defineModule, failed, ok, skipped, sh, type ModuleContext } from '../engine/api.js';

const schema = z
  .object({
    host: z.string().min(1).optional().describe("The address to probe (default: the target's inventory address)."),
    port: z.coerce.number().int().min(1).max(65535).describe('The TCP port.'),
    state: z
      .enum(['started', 'stopped'])
      .default('started')
      .describe('started: wait until the port accepts connections; stopped: wait until it refuses them.'),
    from: z
      .enum(['controller', 'target'])
      .default('controller')
      .describe(
        'Where to probe from: the machine running runbook, or the target itself (for ports bound to loopback or behind a firewall). On the target the probe uses bash /dev/tcp, then nc -z, then python3, whichever exists.',
      ),
    timeout: z.coerce.number().min(0).default(60).describe('Give up after this many seconds (at least one probe is always made).'),
    interval: z.coerce
      .number()
      .int()
      .positive()
      .default(50)
      .describe(
        'Milliseconds between probes. From the controller a probe is one TCP connect, so for the first second they come every interval (a port that opens then is seen within interval ms) and only then do the waits grow ×1.5, up to 2 s. From the target each probe is a command on the host, so the waits grow ×1.5 from the second one.',
      ),
    log_tail: z.string().optional().describe("A log file on the target whose last lines are shown when the wait fails (the service's log)."),
    log_lines: z.coerce.number().int().positive().default(20).describe('How many lines of log_tail to show.'),
  })
  .strict();

type Args = z.output<typeof schema>;

const MAX_DELAY_MS = 2000;
/** How long controller probes keep the first interval before backing off. */
const STEADY_MS = 1000;

/**
 * The wait before the next probe. A service usually opens its port within
 * the first second, and backing off ×1.5 from 50 ms at once saw a port that
 * opened at 130 ms only at 237 ms; controller probes are cheap, so they keep
 * the interval for that first second.
 */
export function nextDelay(delay: number, elapsedMs: number, interval: number, from: 'controller' | 'target'): number {
  if (from === 'controller' && elapsedMs < STEADY_MS) return interval;
  return Math.min(delay * 1.5, MAX_DELAY_MS);
}

/** One connection attempt never waits longer than this, so a filtered port still gets retried. */
const ATTEMPT_MS = 3000;

type Probe = { open: true } | { open: false; error: string } | { noProbe: string };

/** Node's short error codes for the phrases remote tools print. */
function errorCode(text: string): string {
  const t = text.toLowerCase();
  if (t.includes('refused')) return 'ECONNREFUSED';
  if (t.includes('timed out') || t.includes('timeout')) return 'ETIMEDOUT';
  if (t.includes('no route to host')) return 'EHOSTUNREACH';
  if (t.includes('network is unreachable')) return 'ENETUNREACH';
  if (t.includes('name or service not known') || t.includes('temporary failure in name resolution') || t.includes('not known') || t.includes('unknown host')) {
    return 'ENOTFOUND';
  }
  return text.trim() === '' ? 'connection failed' : text.trim();
}

function probeFromController(host: string, port: number, waitMs: number, signal: AbortSignal): Promise<Probe> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    let settled = false;
    const finish = (p: Probe) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      resolve(p);
    };
    const onAbort = () => finish({ open: false, error: 'interrupted' });
    const timer = setTimeout(() => finish({ open: false, error: `ETIMEDOUT (no answer in ${waitMs} ms)` }), waitMs);
    signal.addEventListener('abort', onAbort, { once: true });
    sock.once('connect', () => finish({ open: true }));
    sock.once('error', (e: NodeJS.ErrnoException) => finish({ open: false, error: e.code ?? e.message }));
  });
}

/**
 * The target-side probe, one line out: "open TOOL", "closed TOOL REASON" or
 * "noprobe". bash's /dev/tcp gives the kernel's reason (refused, no route…),
 * so it comes first; some bash builds lack /dev/tcp ("No such file"), and then
 * nc -z and python3 are tried. `timeout` bounds bash's connect, which has none.
 */
export function targetProbeScript(host: string, port: number, seconds: number): string {
  return [
    sh`h=${host}; p=${port}; t=${seconds}`,
    'if command -v timeout >/dev/null 2>&1; then to="timeout $t"; else to=; fi',
    'if command -v bash >/dev/null 2>&1; then',
    `  if err=$($to bash -c 'exec 3<>"/dev/tcp/$1/$2"' rb "$h" "$p" 2>&1); then echo open bash; exit 0; else rc=$?; fi`,
    '  case $err in',
    '    *"No such file"*|*"not supported"*) ;;',
    '    *) [ "$rc" = 124 ] && err="timed out after ${t}s"; printf \'closed bash %s\\n\' "$(printf %s "$err" | tr \'\\n\' \' \')"; exit 0;;',
    '  esac',
    'fi',
    'if command -v nc >/dev/null 2>&1; then',
    '  if nc -z -w "$t" "$h" "$p" >/dev/null 2>&1; then echo open nc; else echo "closed nc not accepting"; fi; exit 0',
    'fi',
    'if command -v python3 >/dev/null 2>&1; then',
    `  python3 -c 'import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), float(sys.argv[3])).close()
    print("open python3")
except OSError as e:
    print("closed python3", e.strerror or e)' "$h" "$p" "$t"; exit 0`,
    'fi',
    'echo noprobe',
  ].join('\n');
}

async function probeFromTarget(ctx: ModuleContext, host: string, port: number, seconds: number): Promise<Probe> {
  const r = await ctx.exec(targetProbeScript(host, port, seconds), { timeoutMs: (seconds + 10) * 1000 });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.exitCode !== 0 || line === '') {
    const why = r.timedOut ? 'timed out' : (r.stderr.trim().split('\n').at(-1) ?? `exit ${r.exitCode ?? r.signal}`);
    return { noProbe: `the probe itself failed on ${ctx.host.name}: ${why}` };
  }
  if (line === 'noprobe') {
    return { noProbe: `no TCP probe on ${ctx.host.name}: none of bash (/dev/tcp), nc or python3 is there; use from: controller` };
  }
  if (line.startsWith('open ')) return { open: true };
  const m = /^closed (\S+)\s*(.*)$/.exec(line);
  const reason = m?.[2] ?? line;
  return { open: false, error: errorCode(reason) };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

async function logTail(ctx: ModuleContext, a: Args): Promise<string> {
  if (a.log_tail === undefined) return '';
  const r = await ctx.exec(sh`tail -n ${a.log_lines} ${a.log_tail}`);
  if (r.exitCode !== 0) {
    return `\n(could not read ${a.log_tail}: ${r.stderr.trim().split('\n').at(-1) ?? `exit ${r.exitCode}`})`;
  }
  const body = r.stdout.replace(/\s+$/, '');
  if (body === '') return `\n(${a.log_tail} is empty)`;
  return `\nlast ${a.log_lines} lines of ${a.log_tail}:\n${body
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')}`;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const probes = (n: number) => `${n} probe${n === 1 ? '' : 's'}`;

export default defineModule({
  name: 'wait-port',
  description: 'Wait until a TCP port accepts connections (or stops accepting them); on timeout show the last connection error and the tail of a log.',
  schema,
  examples: [
    {
      title: 'Wait for the DataNode RPC port, showing its log if it never opens',
      yaml: `- wait-port:
    port: 6667
    timeout: 120
    log_tail: /opt/iotdb/logs/log_datanode_all.log`,
    },
    {
      title: 'Wait on the target itself until a stopped service has let go of its port',
      yaml: `- wait-port: { port: 10710, state: stopped, from: target, host: 127.0.0.1, timeout: 30 }`,
    },
  ],
  async run(ctx, a) {
    const host = a.host ?? ctx.host.address;
    const want = a.state === 'started';
    const what = `port ${a.port} on ${host}`;
    const where = a.from === 'controller' ? 'from the controller' : `from ${ctx.host.name}`;
    const start = Date.now();
    const deadline = start + a.timeout * 1000;

    const probe = (): Promise<Probe> => {
      const left = Math.max(0, deadline - Date.now());
      if (a.from === 'controller') return probeFromController(host, a.port, Math.max(250, Math.min(left, ATTEMPT_MS)), ctx.signal);
      return probeFromTarget(ctx, host, a.port, Math.max(1, Math.min(Math.ceil(left / 1000), ATTEMPT_MS / 1000)));
    };

    let attempts = 0;
    let delay = a.interval;
    let last = '';
    for (;;) {
      attempts++;
      const p = await probe();
      if ('noProbe' in p) return failed(p.noProbe, { elapsed_ms: Date.now() - start, attempts });
      const elapsed = Date.now() - start;
      if (p.open === want) {
        const after = attempts === 1 ? 'at the first probe' : `after ${seconds(elapsed)} (${probes(attempts)})`;
        return ok(`${what} is ${want ? 'open' : 'closed'} ${after}`, { elapsed_ms: elapsed, attempts });
      }
      last = p.open ? 'still accepting connections' : p.error;
      if (ctx.check) {
        return skipped(`would wait up to ${a.timeout} s for ${what} to ${want ? 'open' : 'close'} (now: ${last})`, { elapsed_ms: elapsed, attempts });
      }
      const interrupted = () => {
        const ms = Date.now() - start;
        return failed(`interrupted while waiting for ${what} after ${seconds(ms)} (${probes(attempts)} ${where}, last: ${last})`, {
          elapsed_ms: ms,
          attempts,
        });
      };
      if (ctx.signal.aborted) return interrupted();
      if (Date.now() >= deadline) break;
      await sleep(Math.min(delay, Math.max(0, deadline - Date.now())), ctx.signal);
      if (ctx.signal.aborted) return interrupted();
      delay = nextDelay(delay, Date.now() - start, a.interval, a.from);
    }
    const elapsed = Date.now() - start;
    const head = want
      ? `${what} did not open within ${a.timeout} s (last error: ${last}; ${probes(attempts)} ${where})`
      : `${what} still accepts connections after ${a.timeout} s (${probes(attempts)} ${where})`;
    return failed(ctx.mask(head + (await logTail(ctx, a))), { elapsed_ms: elapsed, attempts });
  },
});
