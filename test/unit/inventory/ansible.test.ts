import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadInventory } from '../../../engine/inventory/load.js';
import { Secret } from '../../../engine/secret.js';
import { fixture, problems, tempFiles, withEnv } from './helpers.js';

const load = () => {
  withEnv({ RUNBOOK_TEST_ANSIBLE_PASSWORD: 'ansible-pw-Rt5' });
  return loadInventory(fixture('ansible.yaml'));
};

describe('Ansible YAML inventory', () => {
  test('hosts in order of first appearance, ranges expanded', () => {
    expect([...load().hosts.keys()]).toEqual(['bastion', 'cn1', 'cn2', 'dn1', 'dn2', 'dn3', 'controller']);
  });

  test('ansible_* vars become connection settings and leave the vars', () => {
    const inv = load();
    const bastion = inv.hosts.get('bastion')!;
    expect(bastion).toMatchObject({ address: '203.0.113.5', port: 2200, user: 'admin', connection: 'ssh', groups: [] });
    expect(bastion.auth.privateKeyFile).toBe(join(homedir(), '.ssh/ansible_key'));
    expect(bastion.aliases).toEqual(['203.0.113.5']);
    expect(bastion.vars).toEqual({ ntp: 'pool.ntp.org', inventory_hostname: 'bastion', address: '203.0.113.5' });
    expect(Object.keys(inv.vars)).toEqual(['ntp']);
    expect(inv.groups.get('datanodes')!.vars).toEqual({});
  });

  test('connection vars follow precedence: a group\'s ansible_user beats all\'s, a host\'s beats both', () => {
    const inv = load();
    expect(inv.hosts.get('cn1')!.user).toBe('admin');
    expect(inv.hosts.get('dn2')!.user).toBe('iotdb');
    // cn2 is in confignodes and datanodes; only datanodes sets ansible_user.
    expect(inv.hosts.get('cn2')!.user).toBe('iotdb');
    const dir = tempFiles({
      'inv.yaml': 'all:\n  vars: { ansible_user: a }\n  children:\n    g:\n      vars: { ansible_user: g }\n      hosts:\n        h1: { ansible_user: h }\n        h2:\n',
    });
    const inv2 = loadInventory(join(dir, 'inv.yaml'));
    expect([inv2.hosts.get('h1')!.user, inv2.hosts.get('h2')!.user]).toEqual(['h', 'g']);
  });

  test('nested children: a parent group holds its children\'s hosts, and a host can be in several groups', () => {
    const inv = load();
    expect(inv.groups.get('iotdb')).toMatchObject({ hosts: ['cn1', 'cn2', 'dn1', 'dn2', 'dn3'], children: ['confignodes', 'datanodes'] });
    expect(inv.groups.get('confignodes')!.hosts).toEqual(['cn1', 'cn2']);
    expect(inv.hosts.get('cn2')!.groups).toEqual(['iotdb', 'confignodes', 'datanodes']);
    expect(inv.hosts.get('cn2')!.vars).toMatchObject({ tier: 'db', role: 'both', ntp: 'pool.ntp.org' });
    expect(inv.groups.has('all')).toBe(false);
  });

  test('ansible_connection: local and a password from the environment', () => {
    const controller = load().hosts.get('controller')!;
    expect(controller.connection).toBe('local');
    expect(controller.auth.password).toBeInstanceOf(Secret);
    expect(controller.auth.password!.origin).toBe('env:RUNBOOK_TEST_ANSIBLE_PASSWORD');
    expect(controller.vars).not.toHaveProperty('ansible_password');
  });

  test('hosts with no value, and groups declared in two places, merge', () => {
    const dir = tempFiles({
      'inv.yaml': [
        'all:',
        '  hosts:',
        '    web1:',
        '  children:',
        '    web:',
        '      hosts:',
        '        web1: { ansible_port: "2222", color: red }',
        '    edge:',
        '      children:',
        '        web:',
        '          hosts:',
        '            web2:',
        '          vars: { tier: front }',
        '',
      ].join('\n'),
    });
    const inv = loadInventory(join(dir, 'inv.yaml'));
    expect([...inv.hosts.keys()]).toEqual(['web1', 'web2']);
    expect(inv.groups.get('web')!.hosts).toEqual(['web1', 'web2']);
    expect(inv.groups.get('edge')!.hosts).toEqual(['web1', 'web2']);
    expect(inv.hosts.get('web1')).toMatchObject({ port: 2222, vars: { color: 'red', tier: 'front' } });
  });

  test('ranges keep leading zeros and accept a step and letters', () => {
    const dir = tempFiles({ 'inv.yaml': 'all:\n  hosts:\n    node[08:12:2]:\n    db-[a:c]:\n' });
    expect([...loadInventory(join(dir, 'inv.yaml')).hosts.keys()]).toEqual(['node08', 'node10', 'node12', 'db-a', 'db-b', 'db-c']);
  });

  test('other top-level keys are groups, as in Ansible', () => {
    const dir = tempFiles({ 'inv.yaml': 'all:\n  hosts:\n    a:\nextra:\n  hosts:\n    b:\n' });
    const inv = loadInventory(join(dir, 'inv.yaml'));
    expect(inv.groups.get('extra')!.hosts).toEqual(['b']);
  });

  test('problems are reported at their lines, all at once', () => {
    const file = fixture('ansible-problems.yaml');
    const texts = problems(() => loadInventory(file));
    expect(texts.map((t) => t.split('\n')[0])).toEqual([
      `${file}:4:7: unknown key "host" in group "web"`,
      `${file}:7:14: hosts of group "db" must be a mapping, not a list`,
      `${file}:11:25: ansible_port of host "app1": must be a port number (1-65535)`,
    ]);
    expect(texts[0]).toContain('hint: did you mean "hosts"?');
    expect(texts[1]).toContain('hint: in Ansible YAML, hosts is a mapping');
  });

  test('a group that is its own descendant is a cycle; a name used for a host and a group is refused', () => {
    const dir = tempFiles({
      'inv.yaml': 'all:\n  children:\n    a:\n      children:\n        b:\n    b:\n      children:\n        a:\n      hosts:\n        a:\n',
    });
    const path = join(dir, 'inv.yaml');
    const texts = problems(() => loadInventory(path)).map((t) => t.split('\n')[0]);
    expect(texts).toEqual([
      `${path}:3:5: "a" is both a host and a group`,
      `${path}:8:9: groups form a cycle: a → b → a`,
    ]);
  });

  test('an unsupported ansible_connection is an error', () => {
    const dir = tempFiles({ 'inv.yaml': 'all:\n  hosts:\n    w:\n      ansible_connection: winrm\n' });
    const [text] = problems(() => loadInventory(join(dir, 'inv.yaml')));
    expect(text).toContain(`${join(dir, 'inv.yaml')}:4:27: ansible_connection of host "w": "winrm" is not supported`);
  });

  test('a YAML alias that puts a group inside itself is an error, not endless recursion', () => {
    const dir = tempFiles({ 'inv.yaml': 'all:\n  children:\n    g: &g\n      children:\n        h: *g\n' });
    const [text] = problems(() => loadInventory(join(dir, 'inv.yaml')));
    expect(text).toContain('group "h" contains itself through a YAML alias');
  });

  test('"all" cannot be nested under another group', () => {
    const dir = tempFiles({ 'inv.yaml': 'all:\n  children:\n    g:\n      children:\n        all:\n' });
    const [text] = problems(() => loadInventory(join(dir, 'inv.yaml')));
    expect(text).toContain(`${join(dir, 'inv.yaml')}:5:9: "all" cannot be a child group`);
  });
});
