// The plain reporter's lines (also the log file's): under the linear strategy a
// TASK heading and then one line per host; in a free play results of
// different tasks interleave, so each line names its task instead.

import { describe, expect, test } from 'vitest';
import type { RunEvent } from '../../../engine/events.js';
import { PlainReporter } from '../../../engine/reporters/plain.js';

function lines(events: RunEvent[]): string[] {
  const out: string[] = [];
  const r = new PlainReporter((l) => out.push(l), { color: false });
  for (const e of events) r.handle(e);
  return out;
}

const result = (task: string, host: string, msg: string): RunEvent => ({ type: 'task_result', play: 'p', task, task_id: '1.1', host, status: 'ok', msg, duration_ms: 12 });
const start = (task: string): RunEvent => ({ type: 'task_start', play: 'p', task, task_id: '1.1', module: 'print', hosts: ['a', 'b'] });

describe('plain reporter', () => {
  test('linear: a heading per task, then its hosts', () => {
    const out = lines([{ type: 'play_start', play: 'p', hosts: ['a', 'b'], tasks: ['one', 'two'] }, start('one'), result('one', 'a', 'x'), result('one', 'b', 'x')]);
    expect(out).toEqual(['', 'PLAY p [a, b]', 'TASK one (print)', '  ok          a: x (12 ms)', '  ok          b: x (12 ms)']);
  });

  test('free: no task headings; every line names its host and task, and the play says it is free', () => {
    const out = lines([
      { type: 'play_start', play: 'p', hosts: ['a', 'b'], tasks: ['one', 'two'], strategy: 'free' },
      start('one'),
      result('one', 'a', 'x'),
      start('two'),
      result('two', 'a', 'y'),
      result('one', 'b', 'x'),
      { type: 'handler_start', play: 'p', handler: 'restart', hosts: ['a'] },
      result('restart', 'a', 'z'),
    ]);
    expect(out).toEqual([
      '',
      'PLAY p [a, b] (strategy: free, each host at its own pace)',
      '  ok          a [one]: x (12 ms)',
      '  ok          a [two]: y (12 ms)',
      '  ok          b [one]: x (12 ms)',
      // Handlers run after every host is through, one at a time again.
      'HANDLER restart [a]',
      '  ok          a: z (12 ms)',
    ]);
  });
});
