import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { InputErrors } from '../../../engine/errors.js';
import { loadInventory } from '../../../engine/inventory/load.js';
import { fixture, inputError, problems, tempFiles, withEnv } from './helpers.js';

const SECRET_ENV = { RUNBOOK_TEST_KEY_PASSPHRASE: 'phrase-7Hq2', RUNBOOK_TEST_DB_PASSWORD: 'db-pw-Zx81' };

describe('runbook form', () => {
  test('hosts get their own settings, else the ssh defaults', () => {
    withEnv(SECRET_ENV);
    const inv = loadInventory(fixture('runbook.yaml'));
    expect([...inv.hosts.keys()]).toEqual(['node1', 'node2', 'node3', 'ctl']);

    const node1 = inv.hosts.get('node1')!;
    expect(node1).toMatchObject({ address: '198.19.0.11', port: 2222, user: 'deploy', connection: 'ssh' });
    expect(node1.auth.privateKeyFile).toBe(join(homedir(), '.ssh/id_ed25519'));
    expect(node1.knownHostsFile).toBe(fixture('known_hosts'));
    // agent: false in ssh switches the agent off even when SSH_AUTH_SOCK is set.
    expect(node1.auth.agent).toBeUndefined();

    const node2 = inv.hosts.get('node2')!;
    expect(node2).toMatchObject({ address: '198.19.0.12', port: 22, user: 'root' });
    expect(node2.auth.privateKeyFile).toBe(fixture('keys/node2'));
    expect(node2.auth.agent).toBe('/run/agent.sock');

    expect(inv.hosts.get('node3')!.address).toBe('node3');
    expect(inv.hosts.get('ctl')!.connection).toBe('local');
  });

  test('built-in defaults: port 22, the current user, ~/.ssh/known_hosts, the running agent', () => {
    withEnv({ SSH_AUTH_SOCK: '/tmp/agent-test.sock' });
    const dir = tempFiles({ 'inv.yaml': 'hosts:\n  a:\n' });
    const a = loadInventory(join(dir, 'inv.yaml')).hosts.get('a')!;
    expect(a).toMatchObject({ address: 'a', port: 22, user: userInfo().username, connection: 'ssh', groups: [], aliases: [] });
    expect(a.knownHostsFile).toBe(join(homedir(), '.ssh', 'known_hosts'));
    expect(a.auth.agent).toBe('/tmp/agent-test.sock');
  });

  test('groups hold the hosts of their child groups, in inventory order', () => {
    withEnv(SECRET_ENV);
    const inv = loadInventory(fixture('runbook.yaml'));
    expect(inv.groups.get('iotdb')).toMatchObject({ hosts: ['node1', 'node2', 'node3'], children: ['confignodes', 'datanodes'] });
    expect(inv.groups.get('datanodes')!.hosts).toEqual(['node2', 'node3']);
    expect(inv.hosts.get('node2')!.groups).toEqual(['iotdb', 'confignodes', 'datanodes']);
    expect(inv.hosts.get('ctl')!.groups).toEqual([]);
    expect(inv.groups.has('all')).toBe(false);
  });

  test('a host declared with nothing under it is valid', () => {
    const dir = tempFiles({ 'inv.yaml': 'hosts:\n  lonely:\ngroups:\n  empty:\n' });
    const inv = loadInventory(join(dir, 'inv.yaml'));
    expect(inv.hosts.get('lonely')!.address).toBe('lonely');
    expect(inv.groups.get('empty')!.hosts).toEqual([]);
  });

  test('agent: true without a running agent is an error at its line', () => {
    const saved = process.env.SSH_AUTH_SOCK;
    delete process.env.SSH_AUTH_SOCK;
    try {
      const dir = tempFiles({ 'inv.yaml': 'ssh:\n  agent: true\nhosts:\n  a:\n' });
      const [text] = problems(() => loadInventory(join(dir, 'inv.yaml')));
      expect(text).toContain(`${join(dir, 'inv.yaml')}:2:10: ssh: agent is true but SSH_AUTH_SOCK is not set`);
    } finally {
      if (saved !== undefined) process.env.SSH_AUTH_SOCK = saved;
    }
  });
});

describe('variable precedence', () => {
  test('global < parent group < child group < host, whatever order the groups are declared in', () => {
    const inv = loadInventory(fixture('precedence.yaml'));
    // `child` is declared before `parent`, yet its vars win over the parent's.
    expect(inv.hosts.get('a')!.vars).toMatchObject({ x: 'child', y: 'child', z: 'parent', w: 'host' });
  });

  test('among unrelated groups the one declared later wins', () => {
    const inv = loadInventory(fixture('precedence.yaml'));
    expect(inv.hosts.get('b')!.vars).toMatchObject({ x: 'child', y: 'other', z: 'parent', w: 'global' });
    expect(inv.hosts.get('b')!.groups).toEqual(['parent', 'child', 'other']);
  });

  test('hosts in two sibling groups take the later one; host vars beat all groups', () => {
    withEnv(SECRET_ENV);
    const inv = loadInventory(fixture('runbook.yaml'));
    expect(inv.hosts.get('node2')!.vars.level).toBe('datanodes');
    expect(inv.hosts.get('node1')!.vars).toMatchObject({ level: 'host', role: 'seed', only_parent: 'p', port: 10710, cluster: 'demo' });
    expect(inv.hosts.get('ctl')!.vars.level).toBe('global');
  });

  test('vars carry inventory_hostname and address, which the inventory cannot override', () => {
    const dir = tempFiles({
      'inv.yaml': 'vars: { address: nope }\nhosts:\n  n1:\n    address: 10.1.1.1\n    vars: { inventory_hostname: nope }\n',
    });
    const n1 = loadInventory(join(dir, 'inv.yaml')).hosts.get('n1')!;
    expect(n1.vars).toMatchObject({ inventory_hostname: 'n1', address: '10.1.1.1' });
  });

  test('a mapping in a higher layer replaces the lower one rather than merging into it', () => {
    const dir = tempFiles({
      'inv.yaml': 'vars: { jvm: { heap: 1g, gc: g1 } }\nhosts:\n  n1:\n    vars: { jvm: { heap: 4g } }\n',
    });
    expect(loadInventory(join(dir, 'inv.yaml')).hosts.get('n1')!.vars.jvm).toEqual({ heap: '4g' });
  });

  test('global and group vars are kept on the inventory too', () => {
    const inv = loadInventory(fixture('precedence.yaml'));
    expect(inv.vars).toEqual({ x: 'global', y: 'global', z: 'global', w: 'global' });
    expect(inv.groups.get('parent')!.vars).toEqual({ x: 'parent', z: 'parent' });
  });
});

describe('problems are all reported at once, each at its file:line:col', () => {
  const file = fixture('problems.yaml');
  const all = () => problems(() => loadInventory(file));

  test('every problem in the file is in one InputErrors, in file order', () => {
    const err = inputError(() => loadInventory(file));
    expect(err).toBeInstanceOf(InputErrors);
    expect(err.exitCode).toBe(2);
    expect(all().map((t) => t.split('\n')[0])).toEqual([
      `${file}:2:3: unknown key "usr" in ssh`,
      `${file}:5:5: unknown key "adress" in host "node1"`,
      `${file}:7:11: "port" in host "node2": expected number, got string "22"`,
      `${file}:8:17: "connection" in host "node2": expected one of "ssh", "local", got string "sssh"`,
      `${file}:11:20: group "web" lists host "nod2", which is not declared under hosts`,
      `${file}:14:16: groups form a cycle: web → db → web`,
      `${file}:15:3: "node1" is both a host and a group`,
    ]);
  });

  test('an unknown key shows the line, a caret under the key, and did-you-mean', () => {
    expect(all()[1]).toBe(
      [`${file}:5:5: unknown key "adress" in host "node1"`, '  5 |     adress: 10.0.0.1', '          ^', 'hint: did you mean "address"?'].join('\n'),
    );
    expect(all()[0]).toContain('hint: did you mean "user"?');
  });

  test('an unknown key with no close match lists the keys allowed there', () => {
    const dir = tempFiles({ 'inv.yaml': 'hosts:\n  a:\n    flavour: x\n' });
    const [text] = problems(() => loadInventory(join(dir, 'inv.yaml')));
    expect(text).toContain(`${join(dir, 'inv.yaml')}:3:5: unknown key "flavour" in host "a"`);
    expect(text).toContain('hint: allowed keys: address, user, port, private_key_file, passphrase, password, agent, known_hosts, connection, vars');
  });

  test('quoted numbers and misspelt choices get hints', () => {
    expect(all()[2]).toContain('hint: write numbers without quotes');
    expect(all()[3]).toContain('hint: did you mean "ssh"?');
  });

  test('a group naming an unknown host suggests the close one', () => {
    expect(all()[4]).toContain('hint: did you mean "node2"?');
  });

  test('misplaced names: a group under hosts, a host under children', () => {
    const dir = tempFiles({
      'inv.yaml': 'hosts:\n  h1:\ngroups:\n  g1:\n    hosts: [g2]\n  g2:\n    children: [h1]\n',
    });
    const path = join(dir, 'inv.yaml');
    const texts = problems(() => loadInventory(path));
    expect(texts[0]).toContain(`${path}:5:13: group "g1" lists host "g2", which is not declared under hosts`);
    expect(texts[0]).toContain('hint: "g2" is a group; list it under children');
    expect(texts[1]).toContain(`${path}:7:16: group "g2" has child group "h1", which is not declared under groups`);
    expect(texts[1]).toContain('hint: "h1" is a host; list it under hosts');
  });

  test('a group that contains itself is a cycle too', () => {
    const dir = tempFiles({ 'inv.yaml': 'hosts:\n  h1:\ngroups:\n  g:\n    hosts: [h1]\n    children: [g]\n' });
    const [text] = problems(() => loadInventory(join(dir, 'inv.yaml')));
    expect(text).toContain(`${join(dir, 'inv.yaml')}:6:16: groups form a cycle: g → g`);
  });

  test('"all" cannot be declared, and names that would break host patterns are refused', () => {
    const dir = tempFiles({ 'inv.yaml': 'hosts:\n  "a,b":\n  "!c":\ngroups:\n  all:\n    hosts: []\n' });
    const path = join(dir, 'inv.yaml');
    const texts = problems(() => loadInventory(path)).map((t) => t.split('\n')[0]);
    expect(texts).toEqual([
      `${path}:2:3: host name "a,b" cannot be used in host patterns`,
      `${path}:3:3: host name "!c" cannot be used in host patterns`,
      `${path}:5:3: "all" cannot be declared as a group: it is the implicit group of every host`,
    ]);
  });

  test('a misspelt top-level key is still read as runbook form, with did-you-mean', () => {
    const dir = tempFiles({ 'inv.yaml': 'host:\n  a:\n' });
    const [text] = problems(() => loadInventory(join(dir, 'inv.yaml')));
    expect(text).toContain(`${join(dir, 'inv.yaml')}:1:1: unknown key "host" in the inventory`);
    expect(text).toContain('hint: did you mean "hosts"?');
  });

  test('hosts written as a list get a hint about the mapping form', () => {
    const dir = tempFiles({ 'inv.yaml': 'hosts: [a, b]\n' });
    const [text] = problems(() => loadInventory(join(dir, 'inv.yaml')));
    expect(text).toContain(`${join(dir, 'inv.yaml')}:1:8: hosts must be a mapping, not a list`);
  });
});
