import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { InputError } from '../../../engine/errors.js';
import { prepare } from '../../../engine/runner.js';
import { moduleRegistry } from '../../../modules/index.js';
import { writeFiles } from '../../support/playbook.js';

const inventory = 'hosts:\n  a: { address: 198.19.0.11 }\n';

function check(playbook: string): string {
  const dir = writeFiles({ 'main.yaml': playbook, 'inv.yaml': inventory });
  try {
    prepare({ playbook: join(dir, 'main.yaml'), inventory: join(dir, 'inv.yaml'), modules: moduleRegistry() });
    return 'valid';
  } catch (err) {
    if (err instanceof InputError) return err.format();
    throw err;
  }
}

describe('variables are checked before any host is touched', () => {
  test('a register from an earlier play counts as defined', () => {
    expect(check('- hosts: all\n  tasks:\n    - run: hostname\n      register: hn\n- hosts: all\n  tasks:\n    - print: "{{ hn.stdout }}"\n')).toBe('valid');
  });

  test('a name nothing defines is reported with a suggestion', () => {
    const text = check('- hosts: all\n  tasks:\n    - run: hostname\n      register: hostname_out\n    - print: "{{ hostname_ot.stdout }}"\n');
    expect(text).toContain('uses undefined variable "hostname_ot"');
    expect(text).toContain('did you mean "hostname_out"?');
  });

  test('a register that would replace a play variable is refused at its task', () => {
    const text = check('- hosts: all\n  vars:\n    trust: present\n  tasks:\n    - name: probe\n      run: "true"\n      register: trust\n');
    expect(text).toContain('main.yaml:5:7');
    expect(text).toContain('task "probe" registers its result as "trust", which would replace the variable "trust" from the vars of play');
    expect(text).toContain('"trust_result"');
  });

  test('a register that would replace an inventory variable is refused; registering one name twice is fine', () => {
    const dir = writeFiles({
      'main.yaml': '- hosts: all\n  tasks:\n    - run: "true"\n      register: out\n    - run: "true"\n      register: out\n    - run: "true"\n      register: port\n',
      'inv.yaml': 'hosts:\n  a: { address: 198.19.0.11, vars: { port: 22 } }\n',
    });
    let text = 'valid';
    try {
      prepare({ playbook: join(dir, 'main.yaml'), inventory: join(dir, 'inv.yaml'), modules: moduleRegistry() });
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      text = err.format();
    }
    expect(text).toContain('registers its result as "port", which would replace the variable "port" from the inventory (host a)');
    expect(text).not.toContain('"out"');
  });
});
