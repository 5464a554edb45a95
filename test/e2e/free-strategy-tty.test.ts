// A free play (`strategy: free`) as a person sees it: on a terminal the tree
// shows one row per host, which ends as a summary of that host's results or
// as the failure that stopped it; without a terminal (or on one that reports
// no width) each plain line names its host and task. Hosts are the
// controller itself (connection: local), so no lab is needed.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../support/cli.js';
import { useScratch } from '../support/scratch.js';
import { onTerminal } from '../support/tty.js';

describe('a free play on a terminal and in a pipe', () => {
  const scratch = useScratch();
  let playbook: string;
  let inventory: string;

  beforeAll(() => {
    inventory = join(scratch.dir, 'hosts.yaml');
    writeFileSync(inventory, 'hosts:\n  alpha:\n    connection: local\n  beta:\n    connection: local\n');
    playbook = join(scratch.dir, 'free.yaml');
    writeFileSync(
      playbook,
      [
        '- hosts: all',
        '  strategy: free',
        '  tasks:',
        '    - name: say hello',
        '      print: "hello from {{ inventory_hostname }}"',
        '    - name: only alpha passes',
        "      assert: { that: ['inventory_hostname == \"alpha\"'] }",
        '    - name: after the check',
        '      print: done',
        '',
      ].join('\n'),
    );
  });

  test('the tree has a row per host: a summary for the host that got through, the failing task for the one that did not', async () => {
    const run = onTerminal(['play', playbook, '-i', inventory], scratch.env, { columns: 150 });
    const { code, screen } = await run.exited;
    expect(code).toBe(1);
    expect(screen).toContain('PLAY all (strategy: free)');
    expect(screen).toMatch(/alpha {2}done: 3 ok/);
    expect(screen).toMatch(/beta {2}only alpha passes: failed /);
    // beta never reached the task after the one that failed; alpha did.
    expect(screen).toMatch(/alpha\s+ok=3\s+changed=0\s+skipped=0\s+failed=0/);
    expect(screen).toMatch(/beta\s+ok=1\s+changed=0\s+skipped=0\s+failed=1/);
  });

  test('a terminal that reports no width gets plain lines, each naming its host and task', async () => {
    const run = onTerminal(['play', playbook, '-i', inventory], scratch.env);
    const { code, screen } = await run.exited;
    expect(code).toBe(1);
    expect(screen).toContain('PLAY all [alpha, beta] (strategy: free, each host at its own pace)');
    expect(screen).toMatch(/ok {10}alpha \[after the check\]: done/);
    expect(screen).toMatch(/failed {6}beta \[only alpha passes\]: /);
    expect(screen).not.toContain('TASK ');
  });

  test('in a pipe the same plain lines', async () => {
    const r = await runCli(['play', playbook, '-i', inventory], { env: scratch.env });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/ok {10}beta \[say hello\]: hello from beta/);
    expect(r.stdout).toMatch(/ok {10}alpha \[after the check\]: done/);
    expect(r.stdout).not.toMatch(/beta \[after the check\]/);
  });
});
