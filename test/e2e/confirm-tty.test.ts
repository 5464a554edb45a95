// Issue 8, end to end: the typed confirmation of destructive playbooks.
// Without --yes, destroy (like clean and scalein, through
// playbooks/iotdb/_confirm-delete.yaml) asks for the cluster's name when a
// person sits at a terminal, and refuses, naming --yes, when nobody does.
//
// The real CLI runs under a pseudo-terminal made by util-linux `script` (in
// bin/install-system-deps), so process.stdin.isTTY is true exactly as in a
// user's shell; the test types into the terminal only after the question has
// appeared on it. The cluster is a 1C1D deployed on one lab host and never
// started: destroy's cheapest path that still reaches the question.

import { beforeAll, describe, expect, test } from 'vitest';
import { quote } from '../../engine/quote.js';
import { results } from '../support/cli.js';
import { useLab } from '../support/lab.js';
import { onTerminal } from '../support/tty.js';
import { writeIotdbTopology, type IotdbTopology } from '../support/iotdb-topology.js';
import { existing, play, startedTasks, transcript, useScratch } from './helpers.js';

describe('typed confirmation on a terminal (issue 8)', () => {
  const lab = useLab({ hosts: 1 });
  const scratch = useScratch({ iotdbPackage: true });
  let topo: IotdbTopology;
  /** What destroy deletes: both installations and their data folders. */
  let targets: string[];

  beforeAll(async () => {
    topo = writeIotdbTopology({ lab, layout: '1c1d', packagePath: scratch.packagePath, dir: scratch.dir, clusterName: 'tty_cluster', deployDir: '/opt/iotdb-tty', dataDir: '/data/iotdb-tty' });
    const deployed = await play(scratch, 'deploy', topo.path);
    if (deployed.code !== 0) throw new Error(`deploy failed\n${transcript(deployed)}`);
    targets = topo.nodes.flatMap((n) => [n.home, `${n.home}/conf/iotdb-system.properties`, ...n.dataDirs]);
    // Deploy creates the installations; the data folders appear when a node first starts. Make them, so "touches nothing" covers them too.
    const r = await lab.sshExec('node1', `mkdir -p ${topo.nodes.flatMap((n) => n.dataDirs).map(quote).join(' ')}`);
    if (r.code !== 0) throw new Error(r.stderr);
  });

  const question = 'Type the cluster name (tty_cluster) to go ahead: ';
  const destroy = ['play', 'destroy', '-i', () => topo.path, '-o', 'plain'] as const;
  const args = () => destroy.map((a) => (typeof a === 'function' ? a() : a));

  test('without a terminal and without --yes, destroy refuses, names --yes and deletes nothing', async () => {
    const r = await play(scratch, 'destroy', topo.path);
    expect(r.code, transcript(r)).toBe(1);
    expect(results(r, 'needs --yes')[0]!.msg).toContain('nothing was touched. Run it again with --yes to go ahead.');
    // Nobody was asked: the question belongs to terminals.
    expect(startedTasks(r)).not.toContain('type the cluster name to go ahead');
    expect(startedTasks(r)).not.toContain("delete the node's folders");
    expect(await existing(lab, 'node1', targets)).toEqual(targets);
  });

  test('a wrong name at the prompt refuses and deletes nothing', async () => {
    const run = onTerminal(args(), scratch.env);
    await run.shows(question);
    // What will go is listed before the question.
    for (const n of topo.nodes) expect(run.screen).toContain(n.home);
    run.type('not_the_cluster\r');
    const { code, screen } = await run.exited;
    expect(code, screen).toBe(1);
    expect(screen).toContain('the answer for typed_cluster_name is not "tty_cluster"');
    expect(screen).not.toMatch(/delete the node's folders/);
    expect(await existing(lab, 'node1', targets)).toEqual(targets);
  });

  test('Ctrl-C at the prompt exits 130 and deletes nothing', async () => {
    const run = onTerminal(args(), scratch.env);
    await run.shows(question);
    const pressed = Date.now();
    run.type('\x03');
    const { code, screen } = await run.exited;
    // Within the 3 s every interrupt must take (issue 8).
    expect(Date.now() - pressed, screen).toBeLessThan(3000);
    expect(code, screen).toBe(130);
    expect(screen).toContain('SIGINT received');
    // The question gave up at once: the run stopped in order (recap and journal), not by the 2.7 s backstop.
    expect(screen).not.toContain('still stopping');
    expect(screen).toContain('RECAP');
    expect(screen).toMatch(/--resume \d{8}-\d{6}-[0-9a-f]+/);
    expect(screen).not.toMatch(/delete the node's folders/);
    expect(await existing(lab, 'node1', targets)).toEqual(targets);
  });

  test('the right name at the prompt goes ahead and deletes the folders it listed', async () => {
    const run = onTerminal(args(), scratch.env);
    await run.shows(question);
    run.type('tty_cluster\r');
    const { code, screen } = await run.exited;
    expect(code, screen).toBe(0);
    expect(screen).toContain('typed_cluster_name answered');
    expect(screen).toMatch(/delete the node's folders/);
    expect(await existing(lab, 'node1', targets)).toEqual([]);
  });
});
