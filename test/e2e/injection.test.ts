// Issue 8, injection canaries, end to end on a lab host: values from the
// inventory, from play vars and from -e that hold ;, $(…), backticks, quotes,
// newlines, spaces, globs and redirections reach the host as literal strings
// through every module that takes strings to the host. Each hostile value
// carries `touch <canary>` commands; the test proves the values arrived
// unchanged (the host echoes them back, or the file they name exists) and
// that no canary file was made, on the host or on the controller.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { RunEvent } from '../../engine/events.js';
import { hostPaths } from '../../engine/lab/layout.js';
import { packageRoot } from '../../engine/paths.js';
import { useLab } from '../support/lab.js';
import { onHost, play, transcript, useScratch } from './helpers.js';

const TAG = randomBytes(4).toString('hex');
/** A canary with no "/" works wherever the shell happens to be (cwd), and in a file name. */
const canary = (n: number) => `rbcanary-${TAG}-${n}`;
const ABS = (n: number) => `/tmp/${canary(n)}`;

/** For arguments that are not paths: every metacharacter a shell acts on, a newline and a NUL-free tab. */
const hostileValue = (from: string) =>
  [
    `${from}'"; touch ${ABS(1)}; echo '`,
    `$(touch ${ABS(2)})`,
    '`touch ' + ABS(3) + '`',
    `"; touch ${ABS(4)} #`,
    `\ntouch ${ABS(5)}\n`,
    `&& touch ${ABS(6)} || touch ${ABS(7)} & `,
    `| touch ${ABS(8)} > ${ABS(9)} < /dev/null`,
    ' two  spaces\tand a tab ',
    '$HOME ${PATH} * ? ~ [a] {b,c} \\ \\n %s %n',
  ].join(' ');

/** For paths: the same without "/" and newlines (which no path argument accepts), short enough for a file name. */
const hostilePath = (from: string) => `${from} ';touch ${canary(10)};' "$(touch ${canary(11)})" \`touch ${canary(12)}\` & | > * ? ~ $HOME  sp`;

const SOURCES = ['inv', 'play', 'cli'] as const;

describe('injection canaries (issue 8)', () => {
  const lab = useLab({ hosts: 1 });
  const scratch = useScratch();

  test('hostile values reach every module as literal strings, and no canary runs', async () => {
    const dir = join(scratch.dir, 'inject');
    mkdirSync(join(dir, 'files'), { recursive: true });
    writeFileSync(join(dir, 'files', 'payload.txt'), 'uploaded payload\n');
    writeFileSync(join(dir, 'files', 'config.hbs'), 'value={{ item.v }}\n');
    // A tar.gz for unzip (remote_src: false): one top folder with one file.
    mkdirSync(join(dir, 'pkg', 'top'), { recursive: true });
    writeFileSync(join(dir, 'pkg', 'top', 'inside.txt'), 'inside\n');
    execFileSync('tar', ['-czf', join(dir, 'files', 'pkg.tar.gz'), '-C', join(dir, 'pkg'), 'top']);

    const node1 = lab.host('node1');
    const vals = { inv: hostileValue('inv'), play: hostileValue('play'), cli: hostileValue('cli') };
    const paths = { inv: hostilePath('inv'), play: hostilePath('play'), cli: hostilePath('cli') };
    // JSON is YAML: the hostile strings go into the files exactly, whatever they hold.
    const inventory = join(dir, 'inventory.yaml');
    writeFileSync(
      inventory,
      [
        'ssh:',
        '  user: root',
        `  private_key_file: ${JSON.stringify(lab.keyPath)}`,
        `  known_hosts: ${JSON.stringify(lab.knownHostsPath)}`,
        'hosts:',
        '  node1:',
        `    address: ${node1.address}`,
        '    vars:',
        `      inv_v: ${JSON.stringify(vals.inv)}`,
        `      inv_p: ${JSON.stringify(paths.inv)}`,
        '',
      ].join('\n'),
    );
    const items = `[${SOURCES.map((s) => `{ v: "{{ ${s}_v }}", p: "{{ ${s}_p }}" }`).join(', ')}]`;
    const playbook = join(dir, 'playbook.yaml');
    writeFileSync(
      playbook,
      `- hosts: all
  vars:
    play_v: ${JSON.stringify(vals.play)}
    play_p: ${JSON.stringify(paths.play)}
    sources: ${items}
  tasks:
    - name: a clean folder
      file: { path: /opt/inj, state: absent }
    - name: folders with hostile names (file)
      file: { path: "/opt/inj/{{ item.p }}", state: directory }
      loop: "{{ sources }}"
    - name: argv words (run argv)
      run: { argv: [printf, "%s", "{{ item.v }}"] }
      loop: "{{ sources }}"
      register: argv_out
    - name: environment (run env)
      run: { cmd: 'printf %s "$V"', env: { V: "{{ item.v }}" } }
      loop: "{{ sources }}"
      register: env_out
    - name: standard input (run stdin)
      run: { cmd: cat, stdin: "{{ item.v }}" }
      loop: "{{ sources }}"
      register: stdin_out
    - name: working folder (run cwd)
      run: { cmd: pwd, cwd: "/opt/inj/{{ item.p }}" }
      loop: "{{ sources }}"
      register: cwd_out
    - name: creates (run creates)
      run: { cmd: "touch /opt/inj/creates-ran", creates: "/opt/inj/{{ item.p }}" }
      loop: "{{ sources }}"
      register: creates_out
    - name: a file (file touch)
      file: { path: "/opt/inj/{{ item.p }}/touched", state: touch }
      loop: "{{ sources }}"
    - name: a symlink (file symlink)
      file: { path: "/opt/inj/{{ item.p }}/link", src: "{{ item.p }}", state: symlink }
      loop: "{{ sources }}"
    - name: upload
      upload: { src: files/payload.txt, dest: "/opt/inj/{{ item.p }}/uploaded {{ item.p }}" }
      loop: "{{ sources }}"
    - name: template
      template: { src: files/config.hbs, dest: "/opt/inj/{{ item.p }}/config {{ item.p }}" }
      loop: "{{ sources }}"
    - name: blockinfile
      blockinfile: { path: "/opt/inj/{{ item.p }}/block {{ item.p }}", block: "{{ item.v }}", create: true }
      loop: "{{ sources }}"
    - name: unzip
      unzip: { src: files/pkg.tar.gz, remote_src: false, dest: "/opt/inj/{{ item.p }}/unpacked" }
      loop: "{{ sources }}"
    - name: fetch
      fetch: { src: "/opt/inj/{{ item.p }}/uploaded {{ item.p }}", dest: "fetched/{{ item.p }}", flat: true }
      loop: "{{ sources }}"
    - name: process pattern (nothing matches)
      process: { pattern: "{{ item.v }}", state: absent, timeout: 1 }
      loop: "{{ sources }}"
      # The value is also an (invalid) extended regex, which pgrep may refuse: that is fine, running it is not.
      ignore_errors: true
    - name: wait-port host (cannot resolve)
      wait-port: { host: "{{ item.p }}", port: 1, state: started, timeout: 1 }
      loop: "{{ sources }}"
      ignore_errors: true
    - name: cli-sql statement and home (no client there)
      cli-sql: { dialect: iotdb, statements: ["{{ item.v }}"], home: "/opt/inj/{{ item.p }}", user: "{{ item.p }}", password: "{{ item.v }}", timeout: 5 }
      loop: "{{ sources }}"
      ignore_errors: true
`,
    );

    const r = await play(scratch, playbook, inventory, ['-v', '-e', `cli_v=${vals.cli}`, '-e', `cli_p=${paths.cli}`]);
    expect(r.code, transcript(r)).toBe(0);
    const data = (task: string) => {
      const e = r.events.find((x): x is Extract<RunEvent, { type: 'task_result' }> => x.type === 'task_result' && x.task === task);
      expect(e, `no result for ${task}\n${transcript(r)}`).toBeDefined();
      return ((e!.data?.['results'] ?? []) as Array<Record<string, unknown>>).map((x) => x['stdout']);
    };
    const expected = SOURCES.map((s) => vals[s]);
    // What the host received is exactly what was written, for all three sources.
    expect(data('argv words (run argv)')).toEqual(expected);
    expect(data('environment (run env)')).toEqual(expected);
    expect(data('standard input (run stdin)')).toEqual(expected);
    expect(data('working folder (run cwd)')).toEqual(SOURCES.map((s) => `/opt/inj/${paths[s]}\n`));
    const creates = r.events.find((e) => e.type === 'task_result' && e.task === 'creates (run creates)') as { status: string } | undefined;
    expect(creates?.status).toBe('skipped');

    // Files with the hostile names exist, with the content that was meant for them.
    const opt = join(hostPaths(lab.name, 'node1').opt, 'inj');
    expect(readdirSync(opt).sort()).toEqual(SOURCES.map((s) => paths[s]).sort());
    for (const s of SOURCES) {
      const d = join(opt, paths[s]);
      expect(readdirSync(d).sort()).toEqual(['block ' + paths[s], 'config ' + paths[s], 'link', 'touched', 'unpacked', 'uploaded ' + paths[s]].sort());
      expect(readFileSync(join(d, `uploaded ${paths[s]}`), 'utf8')).toBe('uploaded payload\n');
      expect(readFileSync(join(d, `config ${paths[s]}`), 'utf8')).toContain(`value=${vals[s]}\n`);
      expect(readFileSync(join(d, `block ${paths[s]}`), 'utf8')).toContain(vals[s]);
      expect(readdirSync(join(d, 'unpacked'))).toEqual(['top']);
      expect(readFileSync(join(dir, 'fetched', paths[s]), 'utf8')).toBe('uploaded payload\n');
    }
    expect(existsSync(join(opt, 'creates-ran'))).toBe(false);

    // No canary anywhere a command could have run: the host's private folders and the controller's.
    const found = (await onHost(lab, 'node1', `find /tmp /root /opt /data \\( ${[...Array(13).keys()].map((n) => `-name ${canary(n)}`).join(' -o ')} \\) -print`)).trim();
    expect(found).toBe('');
    for (const where of ['/tmp', packageRoot, dir, join(dir, 'fetched')]) {
      const local = readdirSync(where).filter((f) => f.startsWith(`rbcanary-${TAG}`));
      expect(local, where).toEqual([]);
    }
    // The modules that cannot succeed here (nothing to match, nothing listening, no client) failed for that reason only.
    for (const task of ['process pattern (nothing matches)', 'wait-port host (cannot resolve)', 'cli-sql statement and home (no client there)']) {
      for (const e of r.events.filter((x): x is Extract<RunEvent, { type: 'task_result' }> => x.type === 'task_result' && x.task === task)) {
        expect(e.status === 'failed' ? e.ignored : true, `${task}: ${e.msg}`).toBe(true);
      }
    }
  });

  test("a value templated into run's cmd is quoted: it stays one word and runs nothing", async () => {
    const dir = join(scratch.dir, 'cmd');
    mkdirSync(dir, { recursive: true });
    const playbook = join(dir, 'playbook.yaml');
    writeFileSync(playbook, '- hosts: node1\n  tasks:\n    - run: "echo {{ v }}"\n      register: out\n    - assert: { that: out.stdout.startsWith(v) }\n');
    const r = await play(scratch, playbook, lab.inventoryPath, ['-e', `v=x; touch ${ABS(0)}`]);
    expect(r.code, transcript(r)).toBe(0);
    expect(await onHost(lab, 'node1', `ls ${ABS(0)} 2>/dev/null || echo absent`)).toBe('absent\n');
  });

  test('control: the canary check does see a command run, when trusted shell text is inserted with {{{ }}}', async () => {
    // {{{ }}} is the explicit way to put shell text into run's cmd; this proves
    // the detector above would have caught an injection.
    const dir = join(scratch.dir, 'control');
    mkdirSync(dir, { recursive: true });
    const playbook = join(dir, 'playbook.yaml');
    writeFileSync(playbook, '- hosts: node1\n  tasks:\n    - run: "echo {{{ v }}}"\n');
    const r = await play(scratch, playbook, lab.inventoryPath, ['-e', `v=x; touch ${ABS(0)}`]);
    expect(r.code, transcript(r)).toBe(0);
    expect(await onHost(lab, 'node1', `ls ${ABS(0)}`)).toBe(`${ABS(0)}\n`);
    await onHost(lab, 'node1', `rm ${ABS(0)}`);
  });
});
