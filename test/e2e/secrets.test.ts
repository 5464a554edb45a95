// Issue 8, the secret grep: a playbook that uses an SSH password, a key
// passphrase and a database password (in run env, cli-sql, print, a failing
// command's message, a template shown with --diff) runs in all three output
// modes against a real sshd on loopback, and none of the three values may
// appear in stdout, stderr, the log files or the run journals (every file
// under the run's RUNBOOK_HOME), nor in the argument list of any process on
// the target while the commands run.

import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RunEvent } from '../../engine/events.js';
import { results, runCli, type CliResult } from '../support/cli.js';
import { startSshd, type TestSshd } from '../support/sshd.js';
import { useScratch } from './helpers.js';

const MODES = ['plain', 'json', 'tree'] as const;

/** Every file under a folder, recursively. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Command lines of every process we may read, right now. */
function commandLines(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      out.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

describe('secrets in every artifact of a run (issue 8)', () => {
  let sshd: TestSshd | undefined;
  const scratch = useScratch();
  beforeAll(async () => {
    // Two ports: one connection logs in with the password, the other with the protected key.
    sshd = await startSshd({ ports: 2 });
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  test('the SSH password, the key passphrase and the database password never appear', async () => {
    const s = sshd!;
    // Quotes and a backslash: a secret that JSON escapes must be masked before escaping, not after.
    const dbPassword = `db"pw\\${randomBytes(6).toString('hex')}'x`;
    const secrets = { 'ssh password': s.password, 'key passphrase': s.passphrase, 'db password': dbPassword };
    const dir = join(scratch.dir, 'secrets');
    mkdirSync(join(dir, 'files'), { recursive: true });
    writeFileSync(join(dir, 'files', 'db.conf.hbs'), 'user=app\npassword={{ db_password }}\n');
    const knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, s.ports.flatMap((port) => s.hostKeys.map((k) => `[127.0.0.1]:${port} ${k.publicLine}`)).join('\n') + '\n');
    const inventory = join(dir, 'inventory.yaml');
    writeFileSync(
      inventory,
      `ssh:
  user: ${s.user}
  known_hosts: ${knownHosts}
  agent: false
vars:
  db_password: { env: RB_DB_PASSWORD }
hosts:
  by-password:
    address: 127.0.0.1
    port: ${s.ports[0]}
    password: { env: RB_SSH_PASSWORD }
  by-passphrase:
    address: 127.0.0.1
    port: ${s.ports[1]}
    private_key_file: ${s.protectedKeyFile}
    passphrase: { env: RB_KEY_PASSPHRASE }
`,
    );
    const playbook = join(dir, 'playbook.yaml');
    writeFileSync(
      playbook,
      `- hosts: all
  tasks:
    - name: start from no config file
      file: { path: "db-{{ inventory_hostname }}.conf", state: absent }
    - name: the password reaches the command
      run: { cmd: 'test "\${#DB_PASSWORD}" -gt 8 && echo delivered', env: { DB_PASSWORD: "{{ db_password }}" } }
      register: delivered
    - name: a command that prints it
      run: { cmd: 'printf "%s\\n" "$DB_PASSWORD"; printf "on stderr: %s\\n" "$DB_PASSWORD" >&2', env: { DB_PASSWORD: "{{ db_password }}" } }
      register: printed
    - name: a message holding it
      print: { msg: "the password is {{ db_password }}" }
    - name: a failure that quotes it
      # printf, not echo: dash's echo would eat the backslash, and a secret that is no longer itself cannot be recognised.
      run: { cmd: 'printf "login refused for password %s\\n" "$DB_PASSWORD" >&2; exit 3', env: { DB_PASSWORD: "{{ db_password }}" } }
      ignore_errors: true
    - name: the database client is given it
      cli-sql: { dialect: iotdb, statements: ["show cluster"], home: /nonexistent/iotdb, user: root, password: "{{ db_password }}", timeout: 5 }
      ignore_errors: true
    - name: a config file holding it, shown with --diff
      template: { src: files/db.conf.hbs, dest: "db-{{ inventory_hostname }}.conf", mode: "0600" }
    - name: a command that runs a while with it in its environment
      run: { cmd: 'sleep 2', env: { DB_PASSWORD: "{{ db_password }}" } }
`,
    );
    const env = { ...scratch.env, RB_SSH_PASSWORD: s.password, RB_KEY_PASSPHRASE: s.passphrase, RB_DB_PASSWORD: dbPassword };

    const outputs: Array<[string, string]> = [];
    const seenInArgv = new Set<string>();
    for (const mode of MODES) {
      let done = false;
      const run = runCli(['play', playbook, '-i', inventory, '-o', mode, '-v', '--diff'], { env }).finally(() => (done = true));
      // Watch the process table while the run lasts: the target is this machine, and no secret may be in an argv.
      while (!done) {
        for (const line of commandLines()) for (const [name, value] of Object.entries(secrets)) if (line.includes(value)) seenInArgv.add(name);
        await new Promise((r) => setTimeout(r, 50));
      }
      const r: CliResult = await run;
      outputs.push([`stdout (-o ${mode})`, r.stdout], [`stderr (-o ${mode})`, r.stderr]);
      expect(r.code, `-o ${mode}\n${r.stdout}\n${r.stderr}`).toBe(0);
      if (mode === 'json') checkJsonRun(r);
    }

    // The runs used what they were given: logged in both ways, delivered and wrote the password.
    const conf = readFileSync(join(s.home, 'db-by-password.conf'), 'utf8');
    expect(conf).toBe(`user=app\npassword=${dbPassword}\n`);
    expect(statSync(join(s.home, 'db-by-password.conf')).mode & 0o777).toBe(0o600);

    const home = scratch.env.RUNBOOK_HOME!;
    const files = filesUnder(home);
    expect(files.filter((f) => f.includes('/logs/')).length).toBe(MODES.length);
    expect(files.filter((f) => f.endsWith('journal.ndjson')).length).toBe(MODES.length);
    const artifacts: Array<[string, string]> = [...outputs, ...files.map((f): [string, string] => [f, readFileSync(f, 'utf8')])];

    const leaks: string[] = [];
    for (const [where, text] of artifacts) {
      for (const [name, value] of Object.entries(secrets)) {
        // Also as JSON writes it, and as a shell or a diff might quote it.
        for (const form of new Set([value, JSON.stringify(value).slice(1, -1), value.replace(/'/g, "'\\''")])) {
          if (text.includes(form)) leaks.push(`${name} in ${where}`);
        }
      }
    }
    expect(leaks).toEqual([]);
    expect([...seenInArgv]).toEqual([]);
    // And the places that held the password show the mask instead.
    const plain = outputs.find(([w]) => w === 'stdout (-o plain)')![1];
    expect(plain).toContain('the password is ********');
    expect(plain).toMatch(/login refused for password \*{8}/);
    expect(plain).toMatch(/\+password=\*{8}/);
  });
});

/** In the NDJSON stream: the masked values are where they should be, and the tasks did what they say. */
function checkJsonRun(r: CliResult): void {
  const by = (task: string) => results(r, task);
  expect(by('the password reaches the command').map((e) => e.data?.['stdout'])).toEqual(['delivered\n', 'delivered\n']);
  for (const e of by('a command that prints it')) {
    expect(e.data?.['stdout']).toBe('********\n');
    expect(e.data?.['stderr']).toBe('on stderr: ********\n');
  }
  for (const e of by('a failure that quotes it')) expect(e).toMatchObject({ status: 'failed', ignored: true, msg: expect.stringContaining('********') });
  const end = r.events.find((e): e is Extract<RunEvent, { type: 'run_end' }> => e.type === 'run_end');
  expect(end?.journal).toBeDefined();
}
