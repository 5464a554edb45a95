import { describe, expect, test } from 'vitest';
import { Semaphore } from '../../../engine/concurrency.js';

describe('Semaphore', () => {
  test('admits `size` holders; the next waiter gets a leaving holder\'s place, in order', async () => {
    const s = new Semaphore(2);
    const order: string[] = [];
    const a = await s.acquire();
    const b = await s.acquire();
    const c = s.acquire().then((release) => (order.push('c'), release));
    const d = s.acquire().then((release) => (order.push('d'), release));
    await Promise.resolve();
    expect(order).toEqual([]);
    a();
    a(); // a second call gives nothing away twice
    const releaseC = await c;
    expect(order).toEqual(['c']);
    b();
    (await d)();
    releaseC();
    expect(order).toEqual(['c', 'd']);
    // All places are free again: two at once without waiting.
    const [x, y] = await Promise.all([s.acquire(), s.acquire()]);
    x();
    y();
  });

  test('an abort ends a wait with the signal\'s reason and takes the waiter out of the queue', async () => {
    const s = new Semaphore(1);
    const held = await s.acquire();
    const controller = new AbortController();
    const waiting = s.acquire(controller.signal);
    const next = s.acquire();
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    held();
    // The place went to the waiter behind the aborted one.
    (await next)();
    await expect(s.acquire(controller.signal)).rejects.toThrow('stop');
  });
});
