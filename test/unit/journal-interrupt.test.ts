// Interrupts at the scheduler level: after the run's signal aborts, nothing
// new starts, modules that honour the signal are recorded as cut off (so a
// resume runs them again), and a module that ignores it is waited for no
// longer than the grace period before the recap.

import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { defineModule, ok, type ModuleDef } from '../../engine/api.js';
import { EventBus, type RunEvent } from '../../engine/events.js';
import { runPlaybook } from '../../engine/scheduler.js';
import { builtinModules } from '../../modules/index.js';
import { makeInventory } from '../support/inventory.js';
import { playbookFrom } from '../support/playbook.js';

/** Waits until aborted, then rejects like a transport does; or, with `deaf`, never settles at all. */
function blocking(started: () => void): ModuleDef {
  return defineModule({
    name: 'block',
    description: 'test: run until interrupted',
    local: true,
    schema: z.object({ deaf: z.boolean().default(false) }).strict(),
    examples: [],
    run: (ctx, args) =>
      new Promise((_resolve, reject) => {
        if (!args.deaf) ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
        started();
      }),
  }) as ModuleDef;
}

const second = defineModule({
  name: 'second',
  description: 'test: must not start after an interrupt',
  local: true,
  schema: z.object({}).strict(),
  examples: [],
  run: async () => ok('ran'),
}) as ModuleDef;

async function interrupted(deaf: boolean): Promise<{ exitCode: number; events: RunEvent[] }> {
  const controller = new AbortController();
  let running = 0;
  const hosts = { a: {}, b: {} };
  const mod = blocking(() => {
    // Both hosts are inside the module: now interrupt.
    if (++running === Object.keys(hosts).length) controller.abort(new Error('SIGINT'));
  });
  const modules = [...builtinModules, mod, second] as ModuleDef[];
  const playbook = playbookFrom({ 'main.yaml': `- hosts: all\n  tasks:\n    - name: long\n      block: { deaf: ${deaf} }\n    - name: next\n      second: {}\n` }, modules);
  const bus = new EventBus();
  const events: RunEvent[] = [];
  bus.on((e) => events.push(e));
  const summary = await runPlaybook({
    inventory: makeInventory(hosts),
    playbook,
    modules: new Map(modules.map((m) => [m.name, m])),
    bus,
    connect: async () => {
      throw new Error('no connection in this test');
    },
    signal: controller.signal,
    graceMs: 50,
  });
  return { exitCode: summary.exitCode, events };
}

describe('interrupts', () => {
  test('modules that honour the signal are recorded as cut off; nothing new starts; exit 130', async () => {
    const { exitCode, events } = await interrupted(false);
    expect(exitCode).toBe(130);
    expect(events.filter((e) => e.type === 'task_start').map((e) => (e as { task: string }).task)).toEqual(['long']);
    expect(events.filter((e) => e.type === 'task_result').map((e) => [(e as { host: string }).host, (e as { msg: string }).msg])).toEqual([
      ['a', 'interrupted before it finished'],
      ['b', 'interrupted before it finished'],
    ]);
    expect(events.filter((e) => e.type === 'task_state')).toMatchObject([
      { host: 'a', restorable: false, status: 'failed' },
      { host: 'b', restorable: false, status: 'failed' },
    ]);
    expect(events.at(-1)).toMatchObject({ type: 'recap', hosts: { a: { failed: 1 }, b: { failed: 1 } } });
  });

  test('a module that ignores the signal is left behind after the grace period', async () => {
    const { exitCode, events } = await interrupted(true);
    expect(exitCode).toBe(130);
    // No result: the module never finished, and the recap does not wait for it.
    expect(events.filter((e) => e.type === 'task_result')).toEqual([]);
    expect(events.at(-1)).toMatchObject({ type: 'recap' });
  });
});
