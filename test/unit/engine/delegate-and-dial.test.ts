// What scalein --force relies on in the scheduler: delegate_to may be a
// template (the live node to act from is chosen per run), and a host is not
// dialed before the tasks when nothing will reach it: its remote tasks are all
// delegated elsewhere, or their `when` is false before anything ran (a lost
// machine must not hold the run up while runbook dials it).

import { describe, expect, test } from 'vitest';
import type { ModuleDef } from '../../../engine/api.js';
import { UnreachableError } from '../../../engine/errors.js';
import { EventBus, type RunEvent } from '../../../engine/events.js';
import type { Inventory, InventoryHost } from '../../../engine/inventory/types.js';
import { runPlaybook } from '../../../engine/scheduler.js';
import { builtinModules } from '../../../modules/index.js';
import { FakeConnection, type ExpectedCommand } from '../../support/fake-connection.js';
import { makeInventory } from '../../support/inventory.js';
import { playbookFrom } from '../../support/playbook.js';
import { shell } from './test-modules.js';

async function run(yaml: string, inventory: Inventory, opts: { expect: Record<string, ExpectedCommand[]>; lost?: string[]; force?: boolean; limit?: string[] }) {
  const modules = [...builtinModules, shell] as ModuleDef[];
  const playbook = playbookFrom({ 'main.yaml': yaml }, modules);
  const conns = new Map<string, FakeConnection>();
  for (const name of inventory.hosts.keys()) conns.set(name, new FakeConnection(opts.expect[name] ?? []));
  const events: RunEvent[] = [];
  const bus = new EventBus();
  bus.on((e) => events.push(e));
  const dialedFirst: string[] = [];
  const connected: string[] = [];
  const summary = await runPlaybook({
    inventory,
    playbook,
    modules: new Map(modules.map((m) => [m.name, m])),
    bus,
    force: opts.force,
    limit: opts.limit,
    beforeTasks: async (hosts: InventoryHost[]) => {
      dialedFirst.push(...hosts.map((h) => h.name));
      return new Map();
    },
    connect: async (h) => {
      connected.push(h.name);
      if (opts.lost?.includes(h.name)) throw new UnreachableError(`connect ECONNREFUSED ${h.address}:22`, { host: h.name });
      return conns.get(h.name)!;
    },
  });
  for (const c of conns.values()) c.assertDone();
  const results = events.filter((e): e is Extract<RunEvent, { type: 'task_result' }> => e.type === 'task_result');
  return { exitCode: summary.exitCode, dialedFirst, connected, results };
}

const cluster = () => makeInventory({ lost: { peer: 'live' }, live: {} });

describe('delegate_to with a template', () => {
  test('runs the task for one host on the host a variable names', async () => {
    const h = await run('- hosts: lost\n  tasks:\n    - name: remove it\n      delegate_to: "{{ peer }}"\n      shell: remove {{ inventory_hostname }}\n', cluster(), {
      expect: { live: [{ match: "^remove '?lost'?$" }] },
      lost: ['lost'],
    });
    expect(h.exitCode).toBe(0);
    expect(h.results.map((r) => [r.host, r.status])).toEqual([['lost', 'changed']]);
    expect(h.connected).toEqual(['live']);
  });

  test('a name that is not in the inventory fails the task, naming it', async () => {
    const h = await run('- hosts: lost\n  tasks:\n    - name: remove it\n      delegate_to: "{{ peer }}x"\n      shell: remove\n', cluster(), { expect: {} });
    expect(h.exitCode).toBe(1);
    expect(h.results[0]).toMatchObject({ host: 'lost', status: 'failed', msg: expect.stringContaining('delegate_to names "livex", which is not in the inventory') });
  });
});

describe('which hosts are dialed before the first task', () => {
  const playbook = [
    '- hosts: lost',
    '  tasks:',
    '    - name: on the machine itself',
    '      when: "!runbook.force"',
    '      shell: cleanup',
    '    - name: through a live node',
    '      delegate_to: "{{ peer }}"',
    '      shell: remove',
    '',
  ].join('\n');

  test('not a host whose remote tasks are delegated or off from the start', async () => {
    const h = await run(playbook, cluster(), { expect: { live: [{ run: 'remove' }] }, lost: ['lost'], force: true });
    expect(h.exitCode).toBe(0);
    expect(h.dialedFirst).toEqual([]);
    expect(h.connected).toEqual(['live']);
  });

  test('the host itself when a task will reach it', async () => {
    const h = await run(playbook, cluster(), { expect: { lost: [{ run: 'cleanup' }], live: [{ run: 'remove' }] } });
    expect(h.exitCode).toBe(0);
    expect(h.dialedFirst).toEqual(['lost']);
  });

  test('a condition that needs a result counts as reaching the host', async () => {
    const pb = '- hosts: lost\n  tasks:\n    - name: look\n      delegate_to: live\n      shell: look\n      register: seen\n    - name: on the machine\n      when: seen.rc == 0\n      shell: cleanup\n';
    const h = await run(pb, cluster(), { expect: { live: [{ run: 'look' }], lost: [{ run: 'cleanup' }] } });
    expect(h.exitCode).toBe(0);
    expect(h.dialedFirst).toEqual(['lost']);
  });
});
