// ctx.prompt and interrupts: a question nobody answers must not hold up an
// interrupted run (the CLI's 3 s exit bound), and an answer given in time
// still arrives.

import { describe, expect, test } from 'vitest';
import { createModuleContext } from '../../../engine/context.js';
import { InterruptedError } from '../../../engine/errors.js';

const host = { name: 'h1', address: '127.0.0.1' };

describe('ctx.prompt', () => {
  test('gives up with the abort reason when the run is interrupted while it waits', async () => {
    const controller = new AbortController();
    let asked = '';
    const ctx = createModuleContext({
      host,
      vars: {},
      signal: controller.signal,
      // Never answers, like a person who walked away.
      prompter: (question) => ((asked = question), new Promise<string>(() => undefined)),
    });
    const answer = ctx.prompt('Type the cluster name');
    expect(asked).toBe('Type the cluster name');
    controller.abort(new InterruptedError('interrupted by SIGINT'));
    await expect(answer).rejects.toThrow('interrupted by SIGINT');
  });

  test('is not asked at all once the run is interrupted, and returns an answer given in time', async () => {
    const controller = new AbortController();
    let asked = 0;
    const ctx = createModuleContext({ host, vars: {}, signal: controller.signal, prompter: async () => (asked++, 'tty_cluster') });
    await expect(ctx.prompt('name?')).resolves.toBe('tty_cluster');
    controller.abort(new InterruptedError('interrupted by SIGTERM'));
    await expect(ctx.prompt('name?')).rejects.toThrow('interrupted by SIGTERM');
    expect(asked).toBe(1);
  });
});
