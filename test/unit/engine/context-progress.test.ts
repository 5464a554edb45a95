// ctx.progress passes transfer progress on at most every 100 ms or 5 % of
// the transfer, with the first and last reports always: modules report every
// chunk they send, and every event is a line of NDJSON for -o json.

import { afterEach, describe, expect, test, vi } from 'vitest';
import { createModuleContext, type ContextEvent } from '../../../engine/context.js';

const host = { name: 'h1', address: '127.0.0.1' };
const CHUNK = 256 * 1024;

function collect() {
  const events: Array<Extract<ContextEvent, { type: 'progress' }>> = [];
  const ctx = createModuleContext({ host, vars: {}, onEvent: (e) => e.type === 'progress' && events.push(e) });
  return { ctx, events };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('ctx.progress', () => {
  test('a fast transfer reports its first chunk, every 5 %, and its end', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const { ctx, events } = collect();
    const total = 400 * CHUNK;
    for (let sent = CHUNK; sent <= total; sent += CHUNK) ctx.progress({ bytes: sent, total, label: '/opt/x.zip' });
    // 400 reports within one instant: the first, one per 5 % after it, the last.
    expect(events.length).toBe(21);
    expect(events[0]).toEqual({ type: 'progress', host: 'h1', bytes: CHUNK, total, label: '/opt/x.zip' });
    expect(events.at(-1)!.bytes).toBe(total);
    for (let i = 1; i < events.length; i++) expect(events[i]!.bytes - events[i - 1]!.bytes).toBeGreaterThanOrEqual(Math.min(total * 0.05, total - events[i - 1]!.bytes));
  });

  test('a slow transfer reports every 100 ms whatever its share', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const { ctx, events } = collect();
    const total = 10_000 * CHUNK;
    ctx.progress({ bytes: CHUNK, total });
    ctx.progress({ bytes: 2 * CHUNK, total });
    expect(events.length).toBe(1);
    vi.advanceTimersByTime(99);
    ctx.progress({ bytes: 3 * CHUNK, total });
    expect(events.length).toBe(1);
    vi.advanceTimersByTime(1);
    ctx.progress({ bytes: 4 * CHUNK, total });
    expect(events.map((e) => e.bytes)).toEqual([CHUNK, 4 * CHUNK]);
  });

  test('each transfer label, and a transfer that starts again, gets its own first report', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const { ctx, events } = collect();
    ctx.progress({ bytes: CHUNK, total: 100 * CHUNK, label: 'a' });
    ctx.progress({ bytes: CHUNK, total: 100 * CHUNK, label: 'b' });
    ctx.progress({ bytes: 2 * CHUNK, total: 100 * CHUNK, label: 'a' });
    // A retry of "a" starts from the beginning: its smaller count is news.
    ctx.progress({ bytes: 0, total: 100 * CHUNK, label: 'a' });
    expect(events.map((e) => [e.label, e.bytes])).toEqual([
      ['a', CHUNK],
      ['b', CHUNK],
      ['a', 0],
    ]);
  });
});
