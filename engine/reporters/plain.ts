// One line per task result, for logs, pipes and CI. Also the format of the log file.

import type { RunEvent } from '../events.js';
import { bytes, duration, paint, recapLines, STATUS_COLOR, type Style } from './format.js';

export class PlainReporter {
  private readonly lastProgress = new Map<string, number>();
  /** In a free play results of different tasks interleave, so each line names its task. */
  private free = false;

  constructor(
    private readonly write: (line: string) => void,
    private readonly style: Style,
    private readonly verbose = false,
  ) {}

  handle(e: RunEvent): void {
    const s = this.style;
    switch (e.type) {
      case 'run_start':
        this.write(`runbook: ${e.playbook} on ${e.hosts.length} host${e.hosts.length === 1 ? '' : 's'}${e.check ? ' (check mode: nothing will be changed)' : ''}`);
        break;
      case 'play_start':
        this.free = e.strategy === 'free';
        this.write('');
        this.write(
          paint(s, 'bold', `PLAY ${e.play}`) +
            (e.batch ? ` [batch ${e.batch.index}/${e.batch.count}: ${e.hosts.join(', ')}]` : ` [${e.hosts.join(', ')}]`) +
            (this.free ? paint(s, 'gray', ' (strategy: free, each host at its own pace)') : ''),
        );
        break;
      case 'task_start':
        if (!this.free) this.write(paint(s, 'bold', `TASK ${e.task}`) + paint(s, 'gray', ` (${e.module})`));
        break;
      case 'handler_start':
        this.free = false;
        this.write(paint(s, 'bold', `HANDLER ${e.handler}`) + ` [${e.hosts.join(', ')}]`);
        break;
      case 'task_result': {
        const status = e.ignored ? 'failed (ignored)' : e.status;
        const lines = e.msg.trimEnd().split('\n');
        const head = `  ${paint(s, STATUS_COLOR[e.status], status.padEnd(11))} ${e.host}${this.free ? ` [${e.task}]` : ''}:`;
        const took = paint(s, 'gray', `(${duration(e.duration_ms)})`);
        if (lines.length === 1) {
          this.write(`${head} ${lines[0]} ${took}`);
        } else {
          // A table or a log tail keeps its shape, indented under its host.
          this.write(`${head} ${took}`);
          for (const line of lines) this.write(`      ${line}`);
        }
        if (e.diff) for (const line of e.diff.trimEnd().split('\n')) this.write(`    ${colorDiff(s, line)}`);
        if (e.data && this.verbose) this.write(paint(s, 'gray', `    ${JSON.stringify(e.data)}`));
        break;
      }
      case 'progress': {
        if (!this.verbose) break;
        // At most one progress line per host and task every 10 %.
        const key = `${e.host}\0${e.task}`;
        const pct = e.total > 0 ? Math.floor((e.bytes / e.total) * 10) : 0;
        if (this.lastProgress.get(key) === pct) break;
        this.lastProgress.set(key, pct);
        this.write(paint(s, 'gray', `    ${e.host}: ${bytes(e.bytes)} of ${bytes(e.total)}`));
        break;
      }
      case 'log':
        if (this.verbose) this.write(paint(s, 'gray', `    ${e.host}: ${e.message}`));
        break;
      case 'play_end':
        break;
      case 'recap':
        this.write('');
        for (const l of recapLines(s, e.hosts, e.duration_ms)) this.write(l);
        break;
      case 'run_end':
        if (e.error) this.write(e.error);
        if (e.log_file) this.write(paint(s, 'gray', `log: ${e.log_file}`));
        break;
    }
  }
}

function colorDiff(s: Style, line: string): string {
  if (line.startsWith('+') && !line.startsWith('+++')) return paint(s, 'green', line);
  if (line.startsWith('-') && !line.startsWith('---')) return paint(s, 'red', line);
  return line;
}
