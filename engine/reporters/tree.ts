// The live tree for terminals: plays as headings, each task a listr2 list whose
// children are the hosts, with status and transfer progress as they happen.
// The scheduler runs tasks one after another, so each task gets its own Listr
// that finishes before the next one starts. A free play (each host at its own
// pace) is one Listr instead, a row per host showing its latest task.

import { Listr, type ListrTaskWrapper } from 'listr2';
import type { HostStatus, RunEvent } from '../events.js';
import { bytes, duration, paint, recapLines, STATUS_COLOR, type Style } from './format.js';

interface Pending {
  resolve: (r: { status: HostStatus; msg: string; ms: number; ignored: boolean }) => void;
  wrapper?: ListrTaskWrapper<unknown, never, never>;
  started: number;
}

interface FreeRow {
  /** The row's listr task: its title and output line are what the row shows. */
  wrapper?: { title: string; output: string };
  /** The latest result's line, or the failure that stopped the host. */
  last?: string;
  failed?: string;
  finish: () => void;
  task?: string;
  started: number;
  counts: Record<string, number>;
}

export class TreeReporter {
  private chain: Promise<void> = Promise.resolve();
  private pending = new Map<string, Pending>();
  /** The rows of the free play being shown, by host. */
  private free: Map<string, FreeRow> | undefined;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly style: Style,
  ) {}

  private line(text: string): void {
    this.chain = this.chain.then(() => {
      this.out.write(text + '\n');
    });
  }

  handle(e: RunEvent): void {
    const s = this.style;
    switch (e.type) {
      case 'run_start':
        this.line(`runbook: ${e.playbook} on ${e.hosts.length} host${e.hosts.length === 1 ? '' : 's'}${e.check ? ' (check mode)' : ''}`);
        break;
      case 'play_start':
        this.line('\n' + paint(s, 'bold', `PLAY ${e.play}`) + (e.batch ? ` [batch ${e.batch.index}/${e.batch.count}]` : '') + (e.strategy === 'free' ? paint(s, 'gray', ' (strategy: free)') : ''));
        if (e.strategy === 'free') this.startFreePlay(e.hosts);
        break;
      case 'task_start':
        if (!this.free) this.startTask(e.task, e.hosts);
        break;
      case 'handler_start':
        this.endFreePlay();
        this.startTask(`handler: ${e.handler}`, e.hosts);
        break;
      case 'play_end':
        this.endFreePlay();
        break;
      case 'task_result': {
        const row = this.free?.get(e.host);
        if (row) {
          const label = e.ignored ? 'failed (ignored)' : e.status;
          const line = `${e.task}: ${paint(s, STATUS_COLOR[e.status], label)} ${e.msg.split('\n')[0]} ${paint(s, 'gray', `(${duration(e.duration_ms)})`)}`;
          row.last = line;
          row.counts[label] = (row.counts[label] ?? 0) + 1;
          if ((e.status === 'failed' && !e.ignored) || e.status === 'unreachable') row.failed = line;
          if (row.wrapper) row.wrapper.output = line;
          if (e.diff) this.line(e.diff.trimEnd());
          break;
        }
        const p = this.pending.get(e.host);
        if (p) {
          this.pending.delete(e.host);
          p.resolve({ status: e.status, msg: e.msg, ms: e.duration_ms, ignored: e.ignored ?? false });
        }
        if (e.diff) this.line(e.diff.trimEnd());
        break;
      }
      case 'progress': {
        const row = this.free?.get(e.host);
        if (row?.wrapper) {
          if (row.task !== e.task) {
            row.task = e.task;
            row.started = Date.now();
          }
          const secs = (Date.now() - row.started) / 1000;
          row.wrapper.output = `${e.task}: ${bytes(e.bytes)} of ${bytes(e.total)}${secs > 0 ? ` ${bytes(e.bytes / secs)}/s` : ''}`;
          break;
        }
        const p = this.pending.get(e.host);
        if (p?.wrapper) {
          const secs = (Date.now() - p.started) / 1000;
          const rate = secs > 0 ? `${bytes(e.bytes / secs)}/s` : '';
          p.wrapper.output = `${bytes(e.bytes)} of ${bytes(e.total)} ${rate}`;
        }
        break;
      }
      case 'recap':
        this.endFreePlay();
        // Hosts that never reported (interrupted, or the play ended early) must not hold the tree open.
        for (const [h, p] of this.pending) p.resolve({ status: 'skipped', msg: 'not run', ms: Date.now() - p.started, ignored: false });
        this.pending.clear();
        this.line('');
        for (const l of recapLines(s, e.hosts, e.duration_ms)) this.line(l);
        break;
      case 'run_end':
        if (e.error) this.line(e.error);
        if (e.log_file) this.line(paint(s, 'gray', `log: ${e.log_file}`));
        break;
      default:
        break;
    }
  }

  /** One Listr for the whole free play: a row per host, its output the host's latest result. */
  private startFreePlay(hosts: string[]): void {
    const s = this.style;
    const rows = new Map<string, FreeRow>();
    const done = new Map<string, Promise<void>>();
    for (const h of hosts) {
      const row: FreeRow = { finish: () => undefined, started: Date.now(), counts: {} };
      done.set(h, new Promise((resolve) => (row.finish = resolve)));
      rows.set(h, row);
    }
    this.free = rows;
    const list = new Listr(
      hosts.map((h) => ({
        title: h,
        task: async (_c: unknown, sub: { title: string; output: string }) => {
          const row = rows.get(h)!;
          row.wrapper = sub;
          if (row.last) sub.output = row.last;
          await done.get(h);
          if (row.failed) {
            sub.title = `${h}  ${row.failed}`;
            throw new Error(sub.title);
          }
          const counts = Object.entries(row.counts).map(([status, n]) => `${n} ${status}`);
          sub.title = `${h}  ${counts.length ? `done: ${counts.join(', ')}` : paint(s, 'gray', 'nothing run')}`;
        },
      })) as never,
      {
        concurrent: true,
        exitOnError: false,
        registerSignalListeners: false,
        renderer: 'default',
        rendererOptions: { collapseSubtasks: false, collapseErrors: false, collapseSkips: false, showErrorMessage: false, outputBar: 1 },
      } as never,
    );
    this.chain = this.chain.then(() => list.run().then(() => undefined, () => undefined));
  }

  private endFreePlay(): void {
    if (!this.free) return;
    for (const row of this.free.values()) row.finish();
    this.free = undefined;
  }

  private startTask(title: string, hosts: string[]): void {
    const s = this.style;
    const results = new Map<string, Promise<{ status: HostStatus; msg: string; ms: number; ignored: boolean }>>();
    for (const h of hosts) {
      const entry: Pending = { resolve: () => undefined, started: Date.now() };
      results.set(h, new Promise((resolve) => (entry.resolve = resolve)));
      this.pending.set(h, entry);
    }
    const width = Math.max(...hosts.map((h) => h.length));
    const list = new Listr(
      [
        {
          title: paint(s, 'bold', title),
          task: (_ctx, task) =>
            task.newListr(
              hosts.map((h) => ({
                title: h,
                task: async (_c: unknown, sub: ListrTaskWrapper<unknown, never, never>) => {
                  const p = this.pending.get(h);
                  if (p) p.wrapper = sub;
                  const r = await results.get(h)!;
                  const label = r.ignored ? 'failed (ignored)' : r.status;
                  sub.title = `${h.padEnd(width)}  ${paint(s, STATUS_COLOR[r.status], label.padEnd(7))}  ${r.msg} ${paint(s, 'gray', `(${duration(r.ms)})`)}`;
                  if ((r.status === 'failed' && !r.ignored) || r.status === 'unreachable') throw new Error(sub.title);
                  if (r.status === 'skipped') sub.skip(sub.title);
                },
              })),
              { concurrent: true, exitOnError: false },
            ),
        },
      ],
      {
        exitOnError: false,
        registerSignalListeners: false,
        renderer: 'default',
        rendererOptions: { collapseSubtasks: false, collapseErrors: false, collapseSkips: false, showErrorMessage: false },
      } as never,
    );
    this.chain = this.chain.then(() => list.run().then(() => undefined, () => undefined));
  }

  /** Resolves when everything queued has been drawn. */
  async flush(): Promise<void> {
    await this.chain;
  }
}
