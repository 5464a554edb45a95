import { describe, expect, test } from 'vitest';
import type { ModuleDef } from '../../../engine/api.js';
import { InputError } from '../../../engine/errors.js';
import { builtinModules } from '../../../modules/index.js';
import { playbookFrom } from '../../support/playbook.js';
import { shell } from './test-modules.js';

const modules = [...builtinModules, shell] as ModuleDef[];

function errorText(files: Record<string, string>): string {
  try {
    playbookFrom(files, modules);
  } catch (err) {
    if (err instanceof InputError) return err.format().replace(/\/tmp\/runbook-pb-[^/]+\//g, '');
    throw err;
  }
  throw new Error('expected the playbook to be rejected');
}

describe('playbook parsing', () => {
  test('imports are resolved relative to the importing file, with vars and tags', () => {
    const pb = playbookFrom(
      {
        'main.yaml': '# Restart the demo\n- import: parts/stop.yaml\n  tags: [stop]\n- import: parts/start.yaml\n  vars: { mode: fast }\n',
        'parts/stop.yaml': '- hosts: all\n  tasks:\n    - print: stopping\n',
        'parts/start.yaml': '- hosts: all\n  vars: { mode: slow }\n  tasks:\n    - print: "starting {{ mode }}"\n',
      },
      modules,
    );
    expect(pb.description).toBe('Restart the demo');
    expect(pb.plays).toHaveLength(2);
    expect(pb.plays[0]!.tasks[0]!.tags).toEqual(['stop']);
    expect(pb.plays[1]!.vars).toEqual({ mode: 'fast' });
    expect(pb.files).toHaveLength(3);
  });

  test('free-form arguments become the module\'s main argument', () => {
    const pb = playbookFrom({ 'main.yaml': '- hosts: all\n  tasks:\n    - shell: echo hi\n' }, modules);
    expect(pb.plays[0]!.tasks[0]!.args).toEqual({ cmd: 'echo hi' });
  });
});

describe('errors point at file:line:col with the line, a caret and a hint', () => {
  test('misspelt task key', () => {
    expect(errorText({ 'main.yaml': '- hosts: all\n  tasks:\n    - name: x\n      print: hi\n      retires: 3\n' })).toBe(
      [
        'main.yaml:5:7: unknown module or task key "retires"',
        '  5 |       retires: 3',
        '            ^',
        'hint: did you mean "retries"?',
        '',
        '1 problem found before connecting to any host; nothing was touched.',
      ].join('\n'),
    );
  });

  test('misspelt module argument, statically and when other arguments are templated', () => {
    const text = errorText({
      'main.yaml': '- hosts: all\n  tasks:\n    - assert: { tht: x }\n    - assert:\n        that: "{{ a }}"\n        fail_mgs: no\n',
    });
    expect(text).toContain('main.yaml:3:17: unknown key "tht" in the arguments of assert');
    expect(text).toContain('hint: did you mean "that"?');
    expect(text).toContain('main.yaml:6:9: unknown key "fail_mgs" in the arguments of assert');
    expect(text).toContain('hint: did you mean "fail_msg"?');
    expect(text).not.toContain('"that": ');
    expect(text).toContain('2 problems found');
  });

  test('two modules in one task, and a task with none', () => {
    const text = errorText({ 'main.yaml': '- hosts: all\n  tasks:\n    - print: a\n      shell: b\n    - name: empty\n' });
    expect(text).toContain('main.yaml:4:7: a task runs exactly one module, this one names print and shell');
    expect(text).toContain('main.yaml:5:7: the task names no module');
  });

  test('unknown module with a suggestion', () => {
    expect(errorText({ 'main.yaml': '- hosts: all\n  tasks:\n    - prnt: hi\n' })).toContain('hint: did you mean "print"?');
  });

  test('unquoted {{ }} gets the classic hint', () => {
    const text = errorText({ 'main.yaml': '- hosts: all\n  tasks:\n    - print: {{ x }}\n' });
    expect(text).toContain('main.yaml:3:14: the value of print looks like an unquoted template {{ x }}');
    expect(text).toContain('must be quoted');
  });

  test('tabs get a hint', () => {
    expect(errorText({ 'main.yaml': '- hosts: all\n  tasks:\n\t- print: hi\n' })).toContain('tabs');
  });

  test('a bad condition is reported at its line', () => {
    const text = errorText({ 'main.yaml': '- hosts: all\n  tasks:\n    - print: hi\n      when: x ==\n' });
    expect(text).toContain('main.yaml:4:13: cannot parse condition "x =="');
  });

  test('a condition written as a template', () => {
    expect(errorText({ 'main.yaml': '- hosts: all\n  tasks:\n    - print: hi\n      when: "{{ x }}"\n' })).toContain('write x without {{ }}');
  });

  test('errors inside an imported file name that file', () => {
    const text = errorText({ 'main.yaml': '- import: other.yaml\n', 'other.yaml': '- hosts: all\n  tasks:\n    - print: { bogus: 1 }\n' });
    expect(text).toContain('other.yaml:3:16: unknown key "bogus" in the arguments of print');
  });

  test('an import cycle is refused', () => {
    expect(errorText({ 'main.yaml': '- import: b.yaml\n', 'b.yaml': '- import: main.yaml\n' })).toContain('import cycle');
  });

  test('a missing import', () => {
    expect(errorText({ 'main.yaml': '- import: nope.yaml\n' })).toContain('main.yaml:1:11: imported file nope.yaml does not exist');
  });

  test('notify of a handler that does not exist', () => {
    const text = errorText({
      'main.yaml': '- hosts: all\n  tasks:\n    - print: hi\n      notify: restrat\n  handlers:\n    - name: restart\n      print: r\n',
    });
    expect(text).toContain('notifies "restrat"');
    expect(text).toContain('did you mean "restart"?');
  });

  test('a literal local file that does not exist is reported before any host is touched', () => {
    const text = errorText({
      'main.yaml': '- hosts: all\n  tasks:\n    - upload: { src: files/app.tar.gz, dest: /opt/ }\n    - template: { src: app.conf.hbs, dest: /etc/app.conf }\n',
      'files/other.txt': 'x',
      'templates/app.conf.hbs': 'port=1\n',
    });
    expect(text).toContain('main.yaml:3:22: upload\'s src "files/app.tar.gz" does not exist on this machine');
    expect(text).not.toContain('template\'s src');
    expect(text).toContain('1 problem found');
  });

  test('a wrong type says what was expected', () => {
    expect(errorText({ 'main.yaml': '- hosts: all\n  tasks:\n    - print: hi\n      retries: "3"\n' })).toContain(
      'main.yaml:4:16: retries must be a number ≥ 0, got "3"',
    );
  });
});
