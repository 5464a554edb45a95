// Templated local paths (upload's and template's src) are checked before any
// host is touched when their value is already known then (inventory vars of
// the targeted hosts, play and task vars, -e), and left to run time when it
// needs what a run produces (registers, set_fact, prompts, facts) or when the
// task may not run (a `when` only the run decides, a handler).

import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { InputError } from '../../../engine/errors.js';
import { prepare } from '../../../engine/runner.js';
import { moduleRegistry } from '../../../modules/index.js';
import { writeFiles } from '../../support/playbook.js';

const inventory = [
  'vars:',
  '  pkg: files/present.zip',
  'hosts:',
  '  a: { address: 198.19.0.11, vars: { pkg: files/missing-a.zip, tpl: app.conf.hbs } }',
  '  b: { address: 198.19.0.12 }',
  '  c: { address: 198.19.0.13, vars: { pkg: files/missing-c.zip } }',
  '',
].join('\n');

/** 'valid', or the formatted input errors. */
function check(playbook: string, opts: { limit?: string[]; extraVars?: Record<string, unknown>; files?: Record<string, string> } = {}): string {
  const dir = writeFiles({ 'main.yaml': playbook, 'inv.yaml': inventory, 'files/present.zip': 'zip', ...(opts.files ?? {}) });
  try {
    prepare({ playbook: join(dir, 'main.yaml'), inventory: join(dir, 'inv.yaml'), modules: moduleRegistry(), limit: opts.limit, extraVars: opts.extraVars });
    return 'valid';
  } catch (err) {
    if (err instanceof InputError) return err.format();
    throw err;
  }
}

const upload = (src: string, extra = '') => `- hosts: all\n  tasks:\n    - name: ship\n${extra}      upload: { src: "${src}", dest: /opt/x.zip }\n`;

describe('templated local paths known before the run', () => {
  test('a host var naming a missing file is reported at the argument, with the hosts and where to fix it', () => {
    const text = check(upload('{{ pkg }}'));
    expect(text).toContain(`main.yaml:4:22: upload's src "{{ pkg }}" is "files/missing-a.zip" for host a, which does not exist on this machine`);
    expect(text).toContain(`is "files/missing-c.zip" for host c`);
    // b takes the global var, whose file is there.
    expect(text).not.toContain('for host b');
    expect(text).toContain("hint: the value comes from the inventory, the play's or task's vars or -e");
    expect(text).toContain('2 problems found before connecting to any host');
  });

  test('only the hosts the run targets are checked (--limit)', () => {
    expect(check(upload('{{ pkg }}'), { limit: ['b'] })).toBe('valid');
    expect(check(upload('{{ pkg }}'), { limit: ['c'] })).toContain('for host c');
  });

  test('-e wins over the inventory, as at run time', () => {
    expect(check(upload('{{ pkg }}'), { extraVars: { pkg: 'files/present.zip' } })).toBe('valid');
    expect(check(upload('{{ pkg }}'), { extraVars: { pkg: 'files/nope.zip' } })).toContain('is "files/nope.zip" for hosts a, b, c');
  });

  test('play vars and task vars are rendered the way the scheduler renders them', () => {
    const pb = '- hosts: b\n  vars:\n    dir: files\n  tasks:\n    - name: ship\n      vars:\n        name: "{{ dir }}/gone.zip"\n      upload: { src: "{{ name }}", dest: /opt/x.zip }\n';
    expect(check(pb)).toContain('is "files/gone.zip" for host b');
  });

  test('template looks in templates/ too, and a found file is fine', () => {
    const pb = '- hosts: a\n  tasks:\n    - template: { src: "{{ tpl }}", dest: /etc/app.conf }\n';
    expect(check(pb)).toContain(`template's src "{{ tpl }}" is "app.conf.hbs" for host a`);
    expect(check(pb, { files: { 'templates/app.conf.hbs': 'x={{ inventory_hostname }}\n' } })).toBe('valid');
  });

  test('a known loop is checked item by item', () => {
    const pb = '- hosts: b\n  tasks:\n    - loop: [present.zip, absent.zip]\n      upload: { src: "files/{{ item }}", dest: /opt/ }\n';
    const text = check(pb);
    expect(text).toContain('is "files/absent.zip" for host b');
    expect(text).not.toContain('present.zip" for');
  });

  test('a literal path is checked even when another argument is templated', () => {
    const text = check('- hosts: b\n  tasks:\n    - upload: { src: files/not-here.zip, dest: "/opt/{{ inventory_hostname }}.zip" }\n');
    expect(text).toContain(`upload's src "files/not-here.zip" does not exist on this machine`);
  });
});

describe('left to run time', () => {
  test('a path built from a registered result', () => {
    expect(check('- hosts: all\n  tasks:\n    - run: echo files/x.zip\n      register: where\n    - upload: { src: "{{ where.stdout }}", dest: /opt/x.zip }\n')).toBe('valid');
  });

  test('a path built from set_fact, even over an inventory var of the same name', () => {
    expect(check('- hosts: all\n  tasks:\n    - set_fact: { pkg: files/present.zip }\n    - upload: { src: "{{ pkg }}", dest: /opt/x.zip }\n')).toBe('valid');
  });

  test('a path from a prompt answer, or from a loop the run computes', () => {
    expect(check('- hosts: b\n  tasks:\n    - prompt: { question: where?, var: answer }\n    - upload: { src: "{{ answer }}", dest: /opt/x.zip }\n')).toBe('valid');
    expect(check('- hosts: b\n  tasks:\n    - run: ls\n      register: listing\n    - loop: "{{ listing.stdout_lines }}"\n      upload: { src: "{{ item }}", dest: /opt/ }\n')).toBe('valid');
  });

  test('a task whose when is false for the host, or only decided at run time', () => {
    expect(check(upload('{{ pkg }}', '      when: inventory_hostname == "b"\n'))).toBe('valid');
    expect(check('- hosts: all\n  tasks:\n    - run: "true"\n      register: r\n' + upload('{{ pkg }}', '      when: r.rc == 0\n').split('\n').slice(2).join('\n'))).toBe('valid');
    // A condition that is true now does not hide the problem.
    expect(check(upload('{{ pkg }}', '      when: inventory_hostname == "c"\n'))).toContain('for host c');
  });

  test('a handler (it runs only when notified)', () => {
    expect(check('- hosts: a\n  tasks:\n    - print: hi\n  handlers:\n    - name: ship\n      upload: { src: "{{ pkg }}", dest: /opt/x.zip }\n')).toBe('valid');
  });
});
