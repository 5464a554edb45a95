// The run journal and --resume at the scheduler level, against fake hosts that
// reject any command they were not told to expect: what a journal holds, what
// a resumed run skips, runs again and restores, and when a resume is refused.

import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { ModuleDef } from '../../engine/api.js';
import { InputError } from '../../engine/errors.js';
import { EventBus, type RunEvent } from '../../engine/events.js';
import type { Inventory } from '../../engine/inventory/types.js';
import { readJournal, RunJournal, type SelectionInput } from '../../engine/journal.js';
import type { Playbook } from '../../engine/playbook/types.js';
import { planResume, type ResumePlan } from '../../engine/resume.js';
import { runPlaybook } from '../../engine/scheduler.js';
import { Secret } from '../../engine/secret.js';
import { builtinModules } from '../../modules/index.js';
import { FakeConnection, type ExpectedCommand } from '../support/fake-connection.js';
import { makeInventory } from '../support/inventory.js';
import { playbookFrom } from '../support/playbook.js';
import { flaky, shell } from './engine/test-modules.js';

const modules = [...builtinModules, shell, flaky] as ModuleDef[];
const homes: string[] = [];
afterEach(() => {
  for (const d of homes.splice(0)) rmSync(d, { recursive: true, force: true });
});

function newHome(): string {
  const d = mkdtempSync(join(tmpdir(), 'rb-journal-'));
  homes.push(d);
  return d;
}

interface Setup {
  home: string;
  playbook: Playbook;
  inventory: Inventory;
  /** An inventory file on disk: the journal records its digest. */
  inventoryFile: string;
}

function setup(files: Record<string, string>, inventory: Inventory): Setup {
  const home = newHome();
  const playbook = playbookFrom(files, modules);
  const inventoryFile = join(dirname(playbook.path), 'inventory.yaml');
  writeFileSync(inventoryFile, 'hosts: {}\n');
  return { home, playbook, inventory, inventoryFile };
}

interface Run {
  exitCode: number;
  events: RunEvent[];
  journal: RunJournal;
  results: (task?: string) => Array<{ host: string; status: string; msg: string; restored_from?: string | undefined }>;
}

async function run(
  s: Setup,
  expect_: Record<string, ExpectedCommand[]>,
  opts: { resume?: ResumePlan; selection?: SelectionInput; extraVars?: Record<string, unknown> } = {},
): Promise<Run> {
  const journal = RunJournal.create({
    home: s.home,
    playbookPath: s.playbook.path,
    playbookFiles: s.playbook.files,
    inventoryPath: s.inventoryFile,
    selection: opts.selection ?? {},
    resumedFrom: opts.resume?.fromRunId,
  });
  const conns = new Map([...s.inventory.hosts.keys()].map((h) => [h, new FakeConnection(expect_[h] ?? [])]));
  const bus = new EventBus();
  const events: RunEvent[] = [];
  bus.on((e) => events.push(e));
  bus.on((e) => journal.handle(e));
  const summary = await runPlaybook({
    inventory: s.inventory,
    playbook: s.playbook,
    modules: new Map(modules.map((m) => [m.name, m])),
    bus,
    connect: async (h) => conns.get(h.name)!,
    resume: opts.resume,
    runId: journal.runId,
    extraVars: opts.extraVars,
  });
  journal.close();
  for (const c of conns.values()) c.assertDone();
  return {
    exitCode: summary.exitCode,
    events,
    journal,
    results: (task) =>
      events
        .filter((e): e is Extract<RunEvent, { type: 'task_result' }> => e.type === 'task_result')
        .filter((e) => task === undefined || e.task === task)
        .map((e) => ({ host: e.host, status: e.status, msg: e.msg, restored_from: e.restored_from })),
  };
}

const resumeOf = (s: Setup, selection: SelectionInput = {}) =>
  planResume({ home: s.home, playbookPath: s.playbook.path, playbookFiles: s.playbook.files, inventoryPath: s.inventoryFile, selection });

const two = () => makeInventory({ a: {}, b: {} });

describe('the run journal', () => {
  test('starts with a header of file digests and the selection, then one line per event', async () => {
    const s = setup(
      {
        'main.yaml': '- hosts: all\n  tasks:\n    - import: part.yaml\n',
        'part.yaml': '- name: hello\n  shell: echo hi\n  register: hi\n',
      },
      two(),
    );
    const r = await run(s, { a: [{ run: 'echo hi', stdout: 'hi\n' }], b: [{ run: 'echo hi', stdout: 'hi\n' }] }, {
      selection: { tags: ['b', 'a'], limit: ['a', 'b'], extraVars: { v: 1 } },
    });
    const j = readJournal(r.journal.path);
    expect(j.header).toMatchObject({
      type: 'journal',
      run_id: r.journal.runId,
      playbook: { path: s.playbook.path },
      selection: { tags: ['a', 'b'], limit: ['a', 'b'], check: false, extra_vars: { names: ['v'] } },
    });
    expect(j.header.playbook.files.map((f) => f.path.split('/').pop())).toEqual(['main.yaml', 'part.yaml']);
    expect(j.header.playbook.files.every((f) => /^[0-9a-f]{64}$/.test(f.sha256))).toBe(true);
    expect(j.header.inventory.sha256).toMatch(/^[0-9a-f]{64}$/);
    // The same events the reporters saw, in order, each with its time.
    expect(j.records.map((e) => e.type)).toEqual(r.events.map((e) => e.type));
    const state = j.records.find((e) => e.type === 'task_state' && e.host === 'a');
    expect(state).toMatchObject({ task_id: '1.1', status: 'changed', restorable: true, registered: { stdout: 'hi' } });
  });

  test('never holds a secret, not even one that JSON would escape', async () => {
    const pw = 'pa"ss\\word-71';
    const inv = makeInventory({ a: { db_pw: new Secret(pw) } });
    const s = setup({ 'main.yaml': '- hosts: all\n  tasks:\n    - name: uses it\n      shell: "login {{ db_pw }}"\n      register: out\n' }, inv);
    // The shell test module gets the masked text (templates do not reveal secrets); the host echoes the real value back.
    const r = await run(s, { a: [{ run: "login '********'", stdout: `token ${pw}\n` }] });
    const text = readFileSync(r.journal.path, 'utf8');
    expect(text).not.toContain(pw);
    expect(text).not.toContain(JSON.stringify(pw).slice(1, -1));
    expect(text).toContain('********');
    // The registered stdout held the secret: that result is not restorable, and its data is not kept.
    const state = readJournal(r.journal.path).records.find((e) => e.type === 'task_state');
    expect(state).toMatchObject({ restorable: false, why_not: expect.stringContaining('secret') });
    expect(state).not.toHaveProperty('registered.stdout');
  });

  test('a last line torn by a crash is dropped; everything before it is read', async () => {
    const s = setup({ 'main.yaml': '- hosts: all\n  tasks:\n    - shell: echo 1\n' }, makeInventory({ a: {} }));
    const r = await run(s, { a: [{ run: 'echo 1' }] });
    appendFileSync(r.journal.path, '{"type":"task_state","host":"a","tas');
    const j = readJournal(r.journal.path);
    expect(j.truncated).toBe(true);
    // The scheduler's last event (the CLI adds run_end after it).
    expect(j.records.at(-1)?.type).toBe('recap');
    expect(() => resumeOf(s)).not.toThrow();
  });
});

describe('--resume', () => {
  const files = {
    'main.yaml': [
      '- hosts: all',
      '  tasks:',
      '    - name: first',
      '      shell: echo one',
      '      register: first',
      '    - name: may fail',
      '      flaky: { on: "{{ fail_on }}" }',
      '    - name: uses first',
      '      shell: "got {{ first.stdout }}"',
      '',
    ].join('\n'),
  };

  test('skips what succeeded, restores registered data, and continues where each host stopped', async () => {
    const s = setup(files, makeInventory({ a: { fail_on: [] }, b: { fail_on: ['b'] } }));
    const first = await run(s, {
      a: [{ run: 'echo one', stdout: 'one-a\n' }, { run: 'got one-a' }],
      b: [{ run: 'echo one', stdout: 'one-b\n' }],
    });
    expect(first.exitCode).toBe(1);

    // Now b no longer fails (its var changed: the inventory object, not the file, so the digests still match).
    s.inventory.hosts.get('b')!.vars['fail_on'] = [];
    const plan = resumeOf(s);
    expect(plan.fromRunId).toBe(first.journal.runId);
    const second = await run(s, { b: [{ run: 'got one-b' }] }, { resume: plan });
    expect(second.exitCode).toBe(0);
    expect(second.results('first')).toEqual([
      { host: 'a', status: 'skipped', msg: 'done in run ' + first.journal.runId + ' (changed): ran echo one', restored_from: first.journal.runId },
      { host: 'b', status: 'skipped', msg: 'done in run ' + first.journal.runId + ' (changed): ran echo one', restored_from: first.journal.runId },
    ]);
    expect(second.results('may fail').map((r) => [r.host, r.status])).toEqual([
      ['a', 'skipped'],
      ['b', 'ok'],
    ]);
    // b's "uses first" ran with the stdout restored from the first run (the fake host only accepts "got one-b").
    expect(second.results('uses first').map((r) => [r.host, r.status])).toEqual([
      ['a', 'skipped'],
      ['b', 'changed'],
    ]);

    // A resumed run's journal holds the restored results too, naming the run that did them: it can be resumed in turn.
    const third = await run(s, {}, { resume: resumeOf(s) });
    expect(third.results().every((r) => r.status === 'skipped')).toBe(true);
    expect(third.results('first')[0]!.restored_from).toBe(first.journal.runId);
    expect(third.results('uses first').find((r) => r.host === 'b')!.restored_from).toBe(second.journal.runId);
  });

  test('a loop resumes at the item it stopped on', async () => {
    const s = setup({ 'main.yaml': '- hosts: all\n  tasks:\n    - name: each\n      shell: "do {{ item }}"\n      loop: [x, y, z]\n      register: each\n    - name: after\n      shell: "n={{ each.results.0.stdout }}"\n' }, makeInventory({ a: {} }));
    const first = await run(s, { a: [{ run: 'do x', stdout: 'X\n' }, { run: 'do y', exitCode: 1 }] });
    expect(first.exitCode).toBe(1);
    const second = await run(s, { a: [{ run: 'do y' }, { run: 'do z' }, { run: 'n=X' }] }, { resume: resumeOf(s) });
    expect(second.exitCode).toBe(0);
    expect(second.results('each')).toMatchObject([{ host: 'a', status: 'changed', msg: '3 items: 3 changed' }]);
  });

  test('a task that registered a secret runs again, and says why', async () => {
    const s = setup(
      { 'main.yaml': '- hosts: all\n  tasks:\n    - name: keep pw\n      set_fact: { pw: "{{ db_pw }}" }\n    - name: fails\n      flaky: { on: "{{ fail_on }}" }\n' },
      makeInventory({ a: { db_pw: new Secret('hunter2-secret'), fail_on: ['a'] } }),
    );
    await run(s, {});
    s.inventory.hosts.get('a')!.vars['fail_on'] = [];
    const second = await run(s, {}, { resume: resumeOf(s) });
    expect(second.exitCode).toBe(0);
    const kept = second.results('keep pw')[0]!;
    expect(kept.status).toBe('ok');
    expect(kept.msg).toMatch(/^run again, not restored from run \S+ \(it registered a secret value, which the journal never keeps\): set pw$/);
  });

  test('handlers a restored change notified run, unless the journal shows they ran', async () => {
    const yaml = [
      '- hosts: all',
      '  tasks:',
      '    - name: change',
      '      shell: echo change',
      '      notify: restart',
      '    - name: may fail',
      '      flaky: { on: "{{ fail_on }}" }',
      '  handlers:',
      '    - name: restart',
      '      shell: echo restart',
      '',
    ].join('\n');
    const s = setup({ 'main.yaml': yaml }, makeInventory({ a: { fail_on: [] }, b: { fail_on: ['b'] } }));
    // a: changed, then its handler ran. b: changed, then failed, so its handler never ran.
    await run(s, { a: [{ run: 'echo change' }, { run: 'echo restart' }], b: [{ run: 'echo change' }] });
    s.inventory.hosts.get('b')!.vars['fail_on'] = [];
    const second = await run(s, { b: [{ run: 'echo restart' }] }, { resume: resumeOf(s) });
    expect(second.results('restart').map((r) => [r.host, r.status])).toEqual([
      ['a', 'skipped'],
      ['b', 'changed'],
    ]);
  });

  test('is refused when the playbook, an import or the inventory changed, naming the file', async () => {
    const s = setup({ 'main.yaml': '- hosts: all\n  tasks:\n    - import: part.yaml\n', 'part.yaml': '- shell: echo 1\n' }, makeInventory({ a: {} }));
    await run(s, { a: [{ run: 'echo 1' }] });
    const part = s.playbook.files.find((f) => f.endsWith('part.yaml'))!;
    writeFileSync(part, '- shell: echo 2\n');
    const err = catchInput(() => resumeOf(s));
    expect(err.message).toMatch(/^cannot resume run \S+: a file it ran from has changed since:\n {2}\S+part\.yaml changed \(sha256 [0-9a-f]{12}… then, [0-9a-f]{12}… now\)$/);
    expect(err.hint).toContain('run without --resume to start over');

    writeFileSync(part, '- shell: echo 1\n');
    expect(() => resumeOf(s)).not.toThrow();
    writeFileSync(s.inventoryFile, 'hosts: { a: {} }\n');
    expect(catchInput(() => resumeOf(s)).message).toContain(`inventory ${s.inventoryFile} changed`);
  });

  test('is refused when asked for other tags, limit, -e, --check, --force or --yes', async () => {
    const s = setup({ 'main.yaml': '- hosts: all\n  tasks:\n    - shell: echo 1\n' }, makeInventory({ a: {} }));
    const selection: SelectionInput = { tags: ['deploy'], limit: ['a'], extraVars: { version: '1.3.0' }, force: true };
    await run(s, { a: [{ run: 'echo 1' }] }, { selection });
    expect(() => resumeOf(s, selection)).not.toThrow();
    const cases: Array<[SelectionInput, RegExp]> = [
      [{ ...selection, tags: ['config'] }, /--tags: deploy then, config now/],
      [{ ...selection, limit: [] }, /--limit: a then, \(none\) now/],
      [{ ...selection, extraVars: { version: '1.3.1' } }, /-e values differ \(version;/],
      [{ ...selection, extraVars: {} }, /-e names: version then, \(none\) now/],
      [{ ...selection, check: true }, /--check: not given then, given now/],
      [{ ...selection, force: false }, /--force: given then, not given now/],
      [{ ...selection, yes: true }, /--yes: not given then, given now/],
    ];
    for (const [sel, why] of cases) {
      const err = catchInput(() => resumeOf(s, sel));
      expect(err.message).toMatch(why);
      expect(err.hint).toBe('resume with the same options as the run you resume: --tags deploy --limit a --force -e version=…');
    }
    // The -e values themselves never reach the journal.
    expect(readFileSync(join(s.home, 'runs', readJournal(findJournal(s.home)).header.run_id, 'journal.ndjson'), 'utf8')).not.toContain('1.3.0');
  });

  test('names the runs it could resume when the id is wrong, and says when there is nothing to resume', async () => {
    const s = setup({ 'main.yaml': '- hosts: all\n  tasks:\n    - shell: echo 1\n' }, makeInventory({ a: {} }));
    expect(catchInput(() => resumeOf(s)).message).toMatch(/^nothing to resume: no earlier run of \S+main\.yaml with inventory \S+inventory\.yaml in /);
    const r = await run(s, { a: [{ run: 'echo 1' }] });
    const err = catchInput(() =>
      planResume({ home: s.home, runId: '20200101-000000-abcd', playbookPath: s.playbook.path, playbookFiles: s.playbook.files, inventoryPath: s.inventoryFile, selection: {} }),
    );
    expect(err.message).toContain('there is no run 20200101-000000-abcd');
    expect(err.hint).toContain(r.journal.runId);
  });
});

function catchInput(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error('expected an InputError');
}

function findJournal(home: string): string {
  const [id] = readdirSync(join(home, 'runs'));
  return join(home, 'runs', id!, 'journal.ndjson');
}
