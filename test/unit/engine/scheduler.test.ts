import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { defineModule, failed, ok, type ModuleDef } from '../../../engine/api.js';
import { UnreachableError } from '../../../engine/errors.js';
import { EventBus, type RunEvent } from '../../../engine/events.js';
import type { Inventory } from '../../../engine/inventory/types.js';
import { runPlaybook, batchesOf } from '../../../engine/scheduler.js';
import type { TagFilter } from '../../../engine/tags.js';
import { builtinModules } from '../../../modules/index.js';
import { FakeConnection, type ExpectedCommand } from '../../support/fake-connection.js';
import { makeInventory } from '../../support/inventory.js';
import { playbookFrom } from '../../support/playbook.js';
import { concurrencyProbe, countdown, flaky, shell } from './test-modules.js';

interface Harness {
  events: RunEvent[];
  conns: Map<string, FakeConnection>;
  results: (task?: string) => Array<{ host: string; status: string; msg: string; task: string }>;
}

async function run(
  yaml: string | Record<string, string>,
  inventory: Inventory,
  opts: {
    expect?: Record<string, ExpectedCommand[]>;
    modules?: ModuleDef[];
    tags?: TagFilter;
    forks?: number;
    unreachable?: string[];
    extraVars?: Record<string, unknown>;
    check?: boolean;
    signal?: AbortSignal;
    taskTimeout?: number;
    onEvent?: (e: RunEvent) => void;
  } = {},
): Promise<Harness & { exitCode: number }> {
  const files = typeof yaml === 'string' ? { 'main.yaml': yaml } : yaml;
  const modules = [...builtinModules, shell, flaky, ...(opts.modules ?? [])] as ModuleDef[];
  const playbook = playbookFrom(files, modules);
  const conns = new Map<string, FakeConnection>();
  for (const name of inventory.hosts.keys()) conns.set(name, new FakeConnection(opts.expect?.[name] ?? []));
  const bus = new EventBus();
  const events: RunEvent[] = [];
  bus.on((e) => events.push(e));
  if (opts.onEvent) bus.on(opts.onEvent);
  const summary = await runPlaybook({
    inventory,
    playbook,
    modules: new Map(modules.map((m) => [m.name, m])),
    bus,
    connect: async (h) => {
      if (opts.unreachable?.includes(h.name)) throw new UnreachableError(`connect ECONNREFUSED ${h.address}:22`, { host: h.name });
      return conns.get(h.name)!;
    },
    tags: opts.tags,
    forks: opts.forks,
    extraVars: opts.extraVars,
    check: opts.check,
    signal: opts.signal,
    taskTimeout: opts.taskTimeout,
  });
  for (const c of conns.values()) c.assertDone();
  const results = (task?: string) =>
    events
      .filter((e): e is Extract<RunEvent, { type: 'task_result' }> => e.type === 'task_result')
      .filter((e) => task === undefined || e.task === task)
      .map((e) => ({ host: e.host, status: e.status, msg: e.msg, task: e.task }));
  return { events, conns, results, exitCode: summary.exitCode };
}

const three = () => makeInventory({ a: {}, b: {}, c: {} }, { web: ['a', 'b'], db: ['c'] });

describe('linear strategy', () => {
  test('each task runs on every host before the next task starts', async () => {
    const h = await run(
      `- hosts: all\n  tasks:\n    - name: first\n      shell: echo 1\n    - name: second\n      shell: echo 2\n`,
      three(),
      { expect: Object.fromEntries(['a', 'b', 'c'].map((n) => [n, [{ run: 'echo 1' }, { run: 'echo 2' }]])) },
    );
    const order = h.events.filter((e) => e.type === 'task_result').map((e) => (e as { task: string }).task);
    expect(order).toEqual(['first', 'first', 'first', 'second', 'second', 'second']);
    expect(h.exitCode).toBe(0);
  });

  test('a failing host stops for that host only', async () => {
    const h = await run(
      `- hosts: all\n  tasks:\n    - flaky: { on: [b] }\n    - name: after\n      shell: echo after\n`,
      three(),
      { expect: { a: [{ run: 'echo after' }], c: [{ run: 'echo after' }] } },
    );
    expect(h.results('after').map((r) => r.host)).toEqual(['a', 'c']);
    expect(h.results('flaky').find((r) => r.host === 'b')?.status).toBe('failed');
    expect(h.exitCode).toBe(1);
  });

  test('any_errors_fatal stops the play for every host, and the plays after it', async () => {
    const h = await run(
      // c is in no batch of the fatal play, so only ending the run keeps the second play off it.
      `- hosts: web\n  any_errors_fatal: true\n  tasks:\n    - flaky: { on: [b] }\n    - name: after\n      shell: echo after\n- hosts: db\n  tasks:\n    - name: next play\n      shell: echo next\n`,
      three(),
    );
    expect(h.results('after')).toEqual([]);
    expect(h.results('next play')).toEqual([]);
    expect(h.exitCode).toBe(1);
  });

  test('an unreachable host is reported as unreachable, not failed, and skipped afterwards', async () => {
    const h = await run(`- hosts: all\n  tasks:\n    - shell: echo 1\n    - name: two\n      shell: echo 2\n`, three(), {
      unreachable: ['c'],
      expect: { a: [{ run: 'echo 1' }, { run: 'echo 2' }], b: [{ run: 'echo 1' }, { run: 'echo 2' }] },
    });
    const c = h.results().filter((r) => r.host === 'c');
    expect(c).toEqual([expect.objectContaining({ status: 'unreachable', msg: expect.stringContaining('ECONNREFUSED') })]);
    const recap = h.events.find((e) => e.type === 'recap') as Extract<RunEvent, { type: 'recap' }>;
    expect(recap.hosts['c']).toMatchObject({ unreachable: 1, failed: 0 });
    expect(recap.hosts['a']).toMatchObject({ changed: 2 });
    expect(h.exitCode).toBe(1);
  });

  test('forks bounds how many hosts run at once', async () => {
    const inv = makeInventory(Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`h${i}`, {}])));
    const p2 = concurrencyProbe();
    await run(`- hosts: all\n  tasks:\n    - probe: {}\n`, inv, { modules: [p2.mod], forks: 2 });
    expect(p2.max()).toBe(2);
    const p7 = concurrencyProbe();
    await run(`- hosts: all\n  tasks:\n    - probe: {}\n`, inv, { modules: [p7.mod], forks: 50 });
    expect(p7.max()).toBe(7);
  });

  test('per_machine: serial makes nodes on one machine take turns, machines in parallel; throttle caps a task', async () => {
    const inv = makeInventory({ cn: {}, dn: {}, other: {} });
    inv.hosts.get('dn')!.address = inv.hosts.get('cn')!.address;
    const serial = concurrencyProbe();
    await run(`- hosts: all\n  tasks:\n    - probe: {}\n      per_machine: serial\n`, inv, { modules: [serial.mod] });
    expect(serial.max()).toBe(2);
    const throttled = concurrencyProbe();
    await run(`- hosts: all\n  tasks:\n    - probe: {}\n      throttle: 1\n`, inv, { modules: [throttled.mod] });
    expect(throttled.max()).toBe(1);
  });

  test('serial runs every task on one batch before the next batch starts', async () => {
    const inv = makeInventory({ a: {}, b: {}, c: {}, d: {} });
    const h = await run(`- hosts: all\n  serial: 2\n  tasks:\n    - name: one\n      print: x\n    - name: two\n      print: y\n`, inv);
    const seq = h.results().map((r) => `${r.task}:${r.host}`);
    expect(seq).toEqual(['one:a', 'one:b', 'two:a', 'two:b', 'one:c', 'one:d', 'two:c', 'two:d']);
    expect(batchesOf(['a', 'b', 'c', 'd', 'e'], '40%')).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
  });
});

describe('task keywords', () => {
  test('when skips with the condition as the reason; vars by precedence', async () => {
    const inv = makeInventory({ a: { role: 'seed', port: 1 }, b: { role: 'follower', port: 1 } });
    const h = await run(
      `- hosts: all\n  vars: { port: 2 }\n  tasks:\n    - name: only seed\n      when: role == "seed"\n      print: "port {{ port }} {{ tier }}"\n`,
      inv,
      { extraVars: { tier: 'gold' } },
    );
    expect(h.results().sort((x, y) => x.host.localeCompare(y.host))).toEqual([
      expect.objectContaining({ host: 'a', status: 'ok', msg: 'port 2 gold' }),
      expect.objectContaining({ host: 'b', status: 'skipped', msg: 'condition is false: role == "seed"' }),
    ]);
  });

  test('loop, register and a later condition on the registered result', async () => {
    const inv = makeInventory({ a: {} });
    const h = await run(
      `- hosts: all\n  tasks:\n    - name: each\n      loop: [x, y]\n      register: out\n      shell: "echo {{ item }}"\n    - name: check\n      assert:\n        that: 'size(out.results) == 2 && out.results[1].stdout == "y"'\n`,
      inv,
      { expect: { a: [{ run: 'echo x', stdout: 'x\n' }, { run: 'echo y', stdout: 'y\n' }] } },
    );
    expect(h.results('each')[0]).toMatchObject({ status: 'changed', msg: '2 items: 2 changed' });
    expect(h.results('check')[0]).toMatchObject({ status: 'ok' });
  });

  test('until retries until the condition holds', async () => {
    const inv = makeInventory({ a: {} });
    const h = await run(`- hosts: all\n  tasks:\n    - countdown: {}\n      register: r\n      until: r.calls >= 3\n      retries: 5\n      delay: 0\n`, inv, {
      modules: [countdown()],
    });
    expect(h.results()[0]).toMatchObject({ status: 'ok', msg: 'call 3 (after 3 attempts)' });
  });

  test('until gives up with the condition in the message', async () => {
    const inv = makeInventory({ a: {} });
    const h = await run(`- hosts: all\n  tasks:\n    - countdown: {}\n      register: r\n      until: r.calls >= 9\n      retries: 2\n      delay: 0\n`, inv, {
      modules: [countdown()],
    });
    expect(h.results()[0]).toMatchObject({ status: 'failed', msg: expect.stringContaining('"r.calls >= 9" still false after 3 attempts') });
  });

  test('changed_when, failed_when and ignore_errors', async () => {
    const inv = makeInventory({ a: {} });
    const h = await run(
      `- hosts: all\n  tasks:\n    - name: quiet\n      shell: "true"\n      changed_when: false\n    - name: judged\n      shell: grep x f\n      register: g\n      failed_when: g.rc > 1\n    - name: ignored\n      flaky: { on: [a] }\n      ignore_errors: true\n    - name: still runs\n      print: yes\n`,
      inv,
      { expect: { a: [{ run: 'true' }, { run: 'grep x f', exitCode: 1 }] } },
    );
    expect(h.results('quiet')[0]?.status).toBe('ok');
    expect(h.results('judged')[0]).toMatchObject({ status: 'ok', msg: expect.stringContaining('failure accepted by failed_when') });
    expect(h.results('still runs')[0]?.status).toBe('ok');
    const recap = h.events.find((e) => e.type === 'recap') as Extract<RunEvent, { type: 'recap' }>;
    expect(recap.hosts['a']).toMatchObject({ ignored: 1, failed: 0 });
    expect(h.exitCode).toBe(0);
  });

  test('run_once runs on the first host and registers the result everywhere', async () => {
    const h = await run(
      `- hosts: all\n  tasks:\n    - name: once\n      run_once: true\n      shell: hostname\n      register: hn\n    - name: use\n      print: "{{ hn.stdout }}"\n`,
      three(),
      { expect: { a: [{ run: 'hostname', stdout: 'node-a\n' }] } },
    );
    expect(h.results('once').map((r) => r.host)).toEqual(['a']);
    expect(h.results('use').map((r) => r.msg)).toEqual(['node-a', 'node-a', 'node-a']);
  });

  test('set_fact is visible to later tasks and hostvars', async () => {
    const h = await run(
      `- hosts: all\n  tasks:\n    - set_fact: { n: "{{ inventory_hostname }}-x" }\n    - print: "{{ hostvars.a.n }} {{ n }}"\n`,
      makeInventory({ a: {}, b: {} }),
    );
    expect(h.results('print').map((r) => r.msg)).toEqual(['a-x a-x', 'a-x b-x']);
  });

  test('handlers run once at the end, only for hosts that notified', async () => {
    const h = await run(
      `- hosts: all\n  tasks:\n    - name: maybe change\n      shell: "echo {{ inventory_hostname }}"\n      changed_when: inventory_hostname != "b"\n      notify: restart\n    - name: again\n      shell: "echo again"\n      notify: restart\n      changed_when: false\n  handlers:\n    - name: restart\n      shell: restart-it\n`,
      three(),
      {
        expect: {
          a: [{ run: 'echo a' }, { run: 'echo again' }, { run: 'restart-it' }],
          b: [{ run: 'echo b' }, { run: 'echo again' }],
          c: [{ run: 'echo c' }, { run: 'echo again' }, { run: 'restart-it' }],
        },
      },
    );
    expect(h.results('restart').map((r) => r.host)).toEqual(['a', 'c']);
    const kinds = h.events.map((e) => e.type);
    expect(kinds.indexOf('handler_start')).toBeGreaterThan(kinds.lastIndexOf('task_start'));
  });

  test('a value in shell code reaches the host as one quoted word, never as a command', async () => {
    const inv = makeInventory({ a: { dir: "/opt/x; touch /tmp/CANARY" } });
    const h = await run(`- hosts: all\n  tasks:\n    - shell: "ls {{ dir }}"\n`, inv, {
      expect: { a: [{ run: "ls '/opt/x; touch /tmp/CANARY'" }] },
    });
    expect(h.exitCode).toBe(0);
  });

  test('a task that hangs is cancelled at --task-timeout, and its module sees the cancellation', async () => {
    let cancelled = false;
    const hang = defineModule({
      name: 'hang',
      description: 'test: wait until cancelled',
      schema: z.object({}).strict(),
      examples: [],
      run: (ctx) =>
        new Promise((resolve) =>
          ctx.signal.addEventListener('abort', () => {
            cancelled = true;
            resolve({ status: 'ok', msg: 'not reached' });
          }),
        ),
    }) as ModuleDef;
    const h = await run(`- hosts: all\n  tasks:\n    - hang: {}\n`, makeInventory({ a: {} }), { modules: [hang], taskTimeout: 0.05 });
    expect(h.results()[0]).toMatchObject({ status: 'failed', msg: expect.stringContaining('timed out after 0.05 s (--task-timeout)') });
    expect(cancelled).toBe(true);
    expect(h.exitCode).toBe(1);
  });

  test('check mode reaches the modules', async () => {
    const h = await run(`- hosts: all\n  tasks:\n    - print: "{{ runbook.check }}"\n`, makeInventory({ a: {} }), { check: true });
    expect(h.results()[0]?.msg).toBe('true');
  });

  test('an interrupted run stops and exits 130', async () => {
    const controller = new AbortController();
    controller.abort(new Error('SIGINT'));
    const h = await run(`- hosts: all\n  tasks:\n    - print: one\n`, makeInventory({ a: {} }), { signal: controller.signal });
    expect(h.exitCode).toBe(130);
    expect(h.results()).toEqual([]);
  });
});

/**
 * A module that waits, per host and key, until the test lets it go: the order
 * of events is then decided by the test, not by timing.
 */
function holds(): { mod: ModuleDef; release: (host: string, key: string) => void } {
  const gates = new Map<string, { promise: Promise<void>; open: () => void }>();
  const gate = (k: string) => {
    let g = gates.get(k);
    if (!g) {
      let open!: () => void;
      const promise = new Promise<void>((r) => (open = r));
      gates.set(k, (g = { promise, open }));
    }
    return g;
  };
  const mod = defineModule({
    name: 'hold',
    description: 'test: wait until released',
    schema: z.object({ key: z.string() }).strict(),
    examples: [],
    async run(ctx, args) {
      const aborted = new Promise<'aborted'>((r) => ctx.signal.addEventListener('abort', () => r('aborted'), { once: true }));
      if ((await Promise.race([gate(`${ctx.host.name}:${args.key}`).promise, aborted])) === 'aborted') return failed('interrupted while held');
      return ok(`released ${args.key}`);
    },
  });
  return { mod: mod as ModuleDef, release: (host, key) => gate(`${host}:${key}`).open() };
}

describe('free strategy', () => {
  const resultOf = (e: RunEvent, task: string, host: string) => e.type === 'task_result' && e.task === task && e.host === host;

  test('a host goes on to its next tasks while another is still on its first', async () => {
    const h = holds();
    // b's first task is let go only once a has finished all three: under the linear strategy this would never happen.
    const run3 = await run(
      `- hosts: [a, b]\n  strategy: free\n  tasks:\n    - name: one\n      hold: { key: one }\n    - name: two\n      print: x\n    - name: three\n      print: y\n`,
      makeInventory({ a: {}, b: {} }),
      {
        modules: [h.mod],
        onEvent: (e) => {
          if (e.type === 'task_start' && e.task === 'one') h.release('a', 'one');
          if (resultOf(e, 'three', 'a')) h.release('b', 'one');
        },
      },
    );
    const seq = run3.results().map((r) => `${r.task}:${r.host}`);
    expect(seq).toEqual(['one:a', 'two:a', 'three:a', 'one:b', 'two:b', 'three:b']);
    // Each task is announced once, when its first host reaches it, naming the hosts of the play.
    const starts = run3.events.filter((e) => e.type === 'task_start');
    expect(starts.map((e) => (e as { task: string }).task)).toEqual(['one', 'two', 'three']);
    expect(run3.events.find((e) => e.type === 'play_start')).toMatchObject({ strategy: 'free' });
    expect(run3.exitCode).toBe(0);
  });

  test('the same playbook under the linear strategy holds every host at each task', async () => {
    const h = holds();
    const r = await run(
      `- hosts: [a, b]\n  tasks:\n    - name: one\n      hold: { key: one }\n    - name: two\n      print: x\n`,
      makeInventory({ a: {}, b: {} }),
      {
        modules: [h.mod],
        onEvent: (e) => {
          if (e.type === 'task_start' && e.task === 'one') h.release('a', 'one');
          if (resultOf(e, 'one', 'a')) h.release('b', 'one');
        },
      },
    );
    expect(r.results().map((x) => `${x.task}:${x.host}`)).toEqual(['one:a', 'one:b', 'two:a', 'two:b']);
  });

  test('a failing host stops alone; with any_errors_fatal no host starts another task after the failure', async () => {
    const inv = () => makeInventory({ a: {}, b: {} });
    const plain = await run(`- hosts: all\n  strategy: free\n  tasks:\n    - flaky: { on: [b] }\n    - name: after\n      print: x\n`, inv());
    expect(plain.results('after').map((r) => r.host)).toEqual(['a']);
    expect(plain.exitCode).toBe(1);

    const h = holds();
    const fatal = await run(
      `- hosts: all\n  strategy: free\n  any_errors_fatal: true\n  tasks:\n    - name: first\n      hold: { key: first }\n    - flaky: { on: [b] }\n    - name: after\n      print: x\n`,
      inv(),
      {
        modules: [h.mod],
        onEvent: (e) => {
          if (e.type === 'task_start' && e.task === 'first') h.release('b', 'first');
          // a is let go only once b's failure is in.
          if (resultOf(e, 'flaky', 'b')) h.release('a', 'first');
        },
      },
    );
    expect(fatal.results().map((r) => `${r.task}:${r.host}:${r.status}`)).toEqual(['first:b:ok', 'flaky:b:failed', 'first:a:ok']);
    expect(fatal.exitCode).toBe(1);
  });

  test('run_once runs on the first host to get there; the others wait for its result and register it', async () => {
    const h = await run(
      `- hosts: all\n  strategy: free\n  tasks:\n    - name: once\n      run_once: true\n      shell: hostname\n      register: hn\n    - name: use\n      print: "{{ hn.stdout }}"\n`,
      three(),
      { expect: { a: [{ run: 'hostname', stdout: 'node-a\n' }] } },
    );
    expect(h.results('once').map((r) => r.host)).toEqual(['a']);
    expect(h.results('use').map((r) => r.msg)).toEqual(['node-a', 'node-a', 'node-a']);
  });

  test('throttle and per_machine: serial still hold per task', async () => {
    const inv = makeInventory({ cn: {}, dn: {}, other: {} });
    inv.hosts.get('dn')!.address = inv.hosts.get('cn')!.address;
    const serial = concurrencyProbe();
    await run(`- hosts: all\n  strategy: free\n  tasks:\n    - probe: {}\n      per_machine: serial\n`, inv, { modules: [serial.mod] });
    expect(serial.max()).toBe(2);
    const throttled = concurrencyProbe();
    await run(`- hosts: all\n  strategy: free\n  tasks:\n    - probe: {}\n      throttle: 1\n`, inv, { modules: [throttled.mod] });
    expect(throttled.max()).toBe(1);
    const forks = concurrencyProbe();
    await run(`- hosts: all\n  strategy: free\n  tasks:\n    - probe: {}\n`, inv, { modules: [forks.mod], forks: 2 });
    expect(forks.max()).toBe(2);
  });

  test('an interrupt ends a free play with 130, and no host starts another task (one was waiting for the throttle)', async () => {
    const h = holds();
    const controller = new AbortController();
    const r = await run(
      `- hosts: all\n  strategy: free\n  tasks:\n    - name: one\n      hold: { key: one }\n      throttle: 1\n    - name: two\n      print: x\n`,
      makeInventory({ a: {}, b: {}, c: {} }),
      {
        modules: [h.mod],
        signal: controller.signal,
        onEvent: (e) => {
          if (e.type === 'task_start' && e.task === 'one') h.release('a', 'one');
          // a is through "one"; b holds the throttle's one place, c waits for it.
          if (resultOf(e, 'one', 'a')) controller.abort(new Error('SIGINT'));
        },
      },
    );
    expect(r.exitCode).toBe(130);
    expect(r.results('two')).toEqual([]);
    expect(r.results('one').map((x) => x.host)).not.toContain('c');
  });

  test('serial batches still run one after another; inside a batch each host goes at its own pace', async () => {
    const h = holds();
    const r = await run(
      `- hosts: all\n  strategy: free\n  serial: 2\n  tasks:\n    - name: one\n      hold: { key: one }\n    - name: two\n      print: x\n`,
      makeInventory({ a: {}, b: {}, c: {}, d: {} }),
      {
        modules: [h.mod],
        onEvent: (e) => {
          // Each batch: its second host is let go only after its first host has finished both tasks.
          if (e.type === 'play_start') h.release(e.hosts[0]!, 'one');
          if (e.type === 'task_result' && e.task === 'two' && (e.host === 'a' || e.host === 'c')) h.release(e.host === 'a' ? 'b' : 'd', 'one');
        },
      },
    );
    expect(r.results().map((x) => `${x.task}:${x.host}`)).toEqual(['one:a', 'two:a', 'one:b', 'two:b', 'one:c', 'two:c', 'one:d', 'two:d']);
    expect(r.events.filter((e) => e.type === 'play_start').map((e) => (e as { hosts: string[] }).hosts)).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
  });

  test('handlers run after every host is through, for the hosts that notified', async () => {
    const h = await run(
      `- hosts: all\n  strategy: free\n  tasks:\n    - name: change\n      shell: echo hi\n      when: inventory_hostname != "c"\n      notify: restart\n  handlers:\n    - name: restart\n      shell: echo restart\n`,
      three(),
      { expect: { a: [{ run: 'echo hi' }, { run: 'echo restart' }], b: [{ run: 'echo hi' }, { run: 'echo restart' }] } },
    );
    const seq = h.results().map((r) => `${r.task}:${r.host}`);
    expect(seq.slice(-2).sort()).toEqual(['restart:a', 'restart:b']);
    expect(seq.slice(0, 3).every((x) => x.startsWith('change:'))).toBe(true);
  });
});

describe('tags', () => {
  const pb = {
    'main.yaml': `- hosts: all\n  tasks:\n    - { name: conf, print: c, tags: [config] }\n    - { name: pkg, print: p, tags: [package] }\n    - { name: always, print: a, tags: [always] }\n    - { name: never, print: n, tags: [never, debug] }\n    - import: more.yaml\n      tags: [extra]\n`,
    'more.yaml': `- { name: inherited, print: i }\n`,
  };
  const names = async (tags?: TagFilter) => (await run(pb, makeInventory({ a: {} }), tags ? { tags } : {})).results().map((r) => r.task);

  test('no filter runs everything but never', async () => {
    expect(await names()).toEqual(['conf', 'pkg', 'always', 'inherited']);
  });
  test('--tags picks tagged tasks plus always', async () => {
    expect(await names({ only: ['config'] })).toEqual(['conf', 'always']);
  });
  test('tags given to an import apply to its tasks', async () => {
    expect(await names({ only: ['extra'] })).toEqual(['always', 'inherited']);
  });
  test('never runs only when named', async () => {
    expect(await names({ only: ['debug'] })).toEqual(['always', 'never']);
  });
  test('--skip-tags wins, even over always', async () => {
    expect(await names({ skip: ['always', 'package'] })).toEqual(['conf', 'inherited']);
  });
});
