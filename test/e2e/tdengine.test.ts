// TDengine end to end: the real runbook CLI drives the built-in playbooks
// against five lab hosts running the simulated TDengine package and Debian's
// real nginx. Every dnode is named by its FQDN, node<N>.<lab>.runbook: the
// host's `hostname -f`, resolved by every lab host and by the controller, which
// connects by that name too (the inventory has no addresses). The inventory
// is inventories/tdengine-lab.yaml aimed at this suite's lab; a second one
// adds node4 and node5.
//
// One lab for the whole file, so the steps run in order and build on each
// other: check, deploy (twice: the second changes nothing), start, show,
// mnodes, scaleout, a mismatched timezone, a dnode that formed its own
// cluster and repair-dnode, taosAdapters, taosKeeper and taos-Explorer behind
// nginx, distribute, mnode failover (status and show answered by another
// dnode while firstEp is down), restart, clean (which stops what runs first),
// destroy (confirmed by the cluster's name typed at a terminal).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLabPackage } from '../../engine/lab/package.js';
import { packageRoot } from '../../engine/paths.js';
import { parsePiped, type Table } from '../../modules/lib/cli-dialects.js';
import { results, runCli, totals, type CliResult } from '../support/cli.js';
import { useLab } from '../support/lab.js';
import { onTerminal } from '../support/tty.js';
import { waitFor } from '../support/wait.js';

const lab = useLab({ hosts: 5 });
let work = '';
let inv3 = '';
let inv5 = '';

/** One step runs a few playbooks; each takes seconds, a failing wait up to half a minute. */
const STEP_MS = 180_000;
const HOME = '/opt/tdengine/taos';
const TAOS = `${HOME}/bin/taos`;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'runbook-e2e-tdengine-'));
  const pkg = await buildLabPackage('tdengine', { outDir: join(work, 'packages') });
  // The shipped lab inventory, pointed at this suite's lab and package.
  const shipped = readFileSync(join(packageRoot, 'inventories', 'tdengine-lab.yaml'), 'utf8');
  const text = shipped
    .replace(/^(\s*private_key_file: ).*$/m, `$1${lab.keyPath}`)
    .replace(/^(\s*known_hosts: ).*$/m, `$1${lab.knownHostsPath}`)
    .replace(/^(\s*package: ).*$/m, `$1${pkg.path}`)
    .replace(/\.default\.runbook\b/g, `.${lab.name}.runbook`);
  expect(text).not.toContain('.default.');
  expect(text).not.toMatch(/^\s*address:/m);
  inv3 = join(work, 'tdengine-lab.yaml');
  writeFileSync(inv3, text);
  const more = [4, 5].map((n) => `  - name: node${n}\n    fqdn: ${fq(`node${n}`)}\n    dataDir: /data/taos/data\n    logDir: /data/taos/log\n`).join('');
  inv5 = join(work, 'tdengine-lab-5.yaml');
  writeFileSync(inv5, text.replace(/\nadapters:/, `${more}\nadapters:`));
}, 240_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A lab host's FQDN, which is also its dnode's fqdn. */
const fq = (host: string): string => `${host}.${lab.name}.runbook`;
/** A dnode's endpoint, as show dnodes writes it. */
const ep = (host: string): string => `${fq(host)}:6030`;

function play(name: string, inventory: string, ...extra: string[]): Promise<CliResult> {
  return runCli(['play', name, '-i', inventory, '-o', 'json', ...extra], { timeoutMs: 170_000 });
}

/** The CLI's output, for assertion messages. */
const shown = (r: CliResult): string => `${r.stdout}\n${r.stderr}`;

function failures(r: CliResult): string[] {
  return results(r).filter((e) => e.status === 'failed' && !e.ignored).map((e) => `${e.host}: ${e.msg}`);
}

async function taos(host: string, sql: string, server = 'node1'): Promise<{ stdout: string; table: Table }> {
  const r = await lab.sshExec(host, `${TAOS} -h ${fq(server)} -P 6030 -s '${sql}'`);
  return { stdout: r.stdout, table: parsePiped(r.stdout) };
}

function httpPost(host: string, port: number, path: string, body: string): Promise<{ status: number; instance: string; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host, port, path, method: 'POST', auth: 'root:taosdata', headers: { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) }, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, instance: String(res.headers['x-simulated-instance'] ?? ''), json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`POST ${host}:${port}${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The pids of each dnode's taosd (node1-node3), to tell a restart from none. */
async function taosdPids(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const node of ['node1', 'node2', 'node3']) out[node] = (await lab.sshExec(node, `pgrep -f '${HOME}/bin/[t]aosd -c' | sort | tr '\\n' ' '`)).stdout.trim();
  return out;
}

function httpGet(host: string, port: number, path: string): Promise<{ status: number; instance: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method: 'GET', timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, instance: String(res.headers['x-simulated-instance'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${host}:${port}${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

const ready = (t: Table, endpoint: string): boolean => t.rows.some((r) => r.endpoint === endpoint && r.status === 'ready');

describe('a TDengine cluster on lab hosts', () => {
  it('check: every hostname -f is its fqdn, every dnode resolves and answers by name, the ports are free', async () => {
    const r = await play('check', inv3);
    expect(r.code, shown(r)).toBe(0);
    expect(results(r, 'verdict')[0]?.msg).toBe('tdlab: every machine passed the check');
  }, STEP_MS);

  it('deploy unpacks the package and writes taos.cfg; a second deploy changes nothing', async () => {
    const first = await play('deploy', inv3);
    expect(first.code, shown(first)).toBe(0);
    expect(totals(first).changed).toBeGreaterThan(0);
    const cfg = await lab.sshExec('node2', `cat ${HOME}/cfg/taos.cfg`);
    expect(cfg.stdout).toMatch(new RegExp(`^firstEp\\s+${escape(ep('node1'))}$`, 'm'));
    expect(cfg.stdout).toMatch(new RegExp(`^fqdn\\s+${escape(fq('node2'))}$`, 'm'));
    expect(cfg.stdout).toMatch(/^timezone\s+UTC$/m);

    const again = await play('deploy', inv3);
    expect(again.code, shown(again)).toBe(0);
    expect(totals(again).changed, shown(again)).toBe(0);
  }, STEP_MS);

  it('start: the firstEp dnode, then create dnode for each other one; show has all three ready', async () => {
    const r = await play('start', inv3);
    expect(r.code, shown(r)).toBe(0);
    // The document's order: the other dnodes were created through the cluster.
    expect(results(r, 'create dnode').filter((e) => e.status === 'changed').map((e) => e.host)).toEqual(['node2', 'node3']);

    const show = await play('show', inv3);
    expect(show.code, shown(show)).toBe(0);
    expect(results(show, 'every dnode is ready')[0]?.msg).toBe('all 3 dnodes are ready');
    const { table } = await taos('node3', 'show dnodes');
    expect(table.rows.map((row) => [row.id, row.endpoint, row.status])).toEqual([
      ['1', ep('node1'), 'ready'],
      ['2', ep('node2'), 'ready'],
      ['3', ep('node3'), 'ready'],
    ]);
  }, STEP_MS);

  it('mnodes: three mnodes, one per dnode, all ready in show mnodes', async () => {
    const r = await play('mnodes', inv3);
    expect(r.code, shown(r)).toBe(0);
    const { table } = await taos('node2', 'show mnodes');
    expect(table.rows.map((row) => [row.endpoint, row.role, row.status])).toEqual([
      [ep('node1'), 'leader', 'ready'],
      [ep('node2'), 'follower', 'ready'],
      [ep('node3'), 'follower', 'ready'],
    ]);
    // One mnode per dnode, as the document says.
    const again = await taos('node1', 'create mnode on dnode 1');
    expect(again.stdout).toMatch(/DB error: Mnode already exists/);
  }, STEP_MS);

  it('scaleout adds a fourth dnode; the others keep their config and process', async () => {
    const r = await play('scaleout', inv5, '-N', 'node4');
    expect(r.code, shown(r)).toBe(0);
    expect(results(r, 'create dnode').map((e) => [e.host, e.status])).toEqual([['node4', 'changed']]);
    const { table } = await taos('node4', 'show dnodes');
    expect(table.rows).toHaveLength(4);
    expect(table.rows.every((row) => row.status === 'ready'), JSON.stringify(table.rows)).toBe(true);
    // At most 3 mnodes, as the document says.
    const fourth = await taos('node4', 'create mnode on dnode 4');
    expect(fourth.stdout).toMatch(/DB error: The replica of mnode cannot exceed 3/);
  }, STEP_MS);

  it('a dnode whose timezone differs is refused, with the difference in the error and its log', async () => {
    const deploy = await play('deploy', inv5, '-N', 'node5');
    expect(deploy.code, shown(deploy)).toBe(0);
    // Someone edits the dnode's taos.cfg by hand.
    const edit = await lab.sshExec('node5', `sed -i 's|^timezone .*|timezone Asia/Shanghai|' ${HOME}/cfg/taos.cfg`);
    expect(edit.code, edit.stderr).toBe(0);

    const r = await play('start', inv5, '-N', 'node5');
    expect(r.code, shown(r)).toBe(1);
    const [why] = failures(r);
    expect(why).toMatch(new RegExp(`^node5: dnode ${escape(ep('node5'))} did not become ready in show dnodes \\(offline: timezone not match\\)`));
    expect(why).toContain('timezone not match: the cluster has "UTC", this dnode has "Asia/Shanghai"');
    const log = await lab.sshExec('node5', 'cat /data/taos/log/taosdlog.0');
    expect(log.stdout).toContain(`ERROR dnode:0, failed to join the cluster at ${ep('node1')} since timezone not match`);

    const stop = await play('stop', inv5, '-N', 'node5');
    expect(stop.code, shown(stop)).toBe(0);
  }, STEP_MS);

  it('a dnode started without firstEp forms its own cluster; repair-dnode brings it back', async () => {
    const stop = await play('stop', inv3, '-N', 'node3');
    expect(stop.code, shown(stop)).toBe(0);
    // A reinstall that lost firstEp: empty data, no firstEp, taosd started by hand.
    const setup = await lab.sshExec(
      'node3',
      // Two lines: a `&` after an && list would background the whole list, whose shell keeps ssh's output open.
      `rm -rf /data/taos/data && sed -i '/^firstEp/d' ${HOME}/cfg/taos.cfg || exit 1\n` +
        `(cd ${HOME} && exec setsid bin/taosd -c ${HOME}/cfg) >/dev/null 2>&1 </dev/null &`,
    );
    expect(setup.code, setup.stderr).toBe(0);
    // The document's step 3: asked directly, it shows a cluster of its own.
    const own = await waitFor('node3 to form its own cluster', async () => {
      const { table } = await taos('node3', 'show dnodes', 'node3');
      return table.rows.length === 1 && ready(table, ep('node3')) ? table : undefined;
    });
    expect(own.rows[0]!.id).toBe('1');
    const main = await waitFor('the cluster to see node3 offline', async () => {
      const { table } = await taos('node1', 'show dnodes');
      return table.rows.some((row) => row.endpoint === ep('node3') && row.status === 'offline') ? table : undefined;
    });
    expect(main.rows).toHaveLength(5);

    const refused = await play('repair-dnode', inv3, '-N', 'node3');
    expect(refused.code, shown(refused)).toBe(1);
    expect(failures(refused)).toEqual([expect.stringMatching(/^node3: repairing node3 stops taosd and deletes everything in \/data\/taos\/data .*Run again with --yes/)]);
    expect(results(refused, 'its own view matches the cluster\'s')[0]?.msg).toBe(`${ep('node3')} formed a cluster of its own (its show dnodes differs from the cluster's)`);

    const r = await play('repair-dnode', inv3, '-N', 'node3', '--yes');
    expect(r.code, shown(r)).toBe(0);
    expect(results(r, 'empty the dataDir').map((e) => e.status)).toEqual(['changed']);
    const { table } = await taos('node3', 'show dnodes', 'node3');
    expect(ready(table, ep('node3'))).toBe(true);
    expect(table.rows.find((row) => row.endpoint === ep('node3'))!.id).toBe('3');
    expect(table.rows).toHaveLength(5);
  }, STEP_MS);

  it('adapter: two taosAdapters behind nginx, which balances requests across them', async () => {
    const r = await play('adapter', inv3);
    expect(r.code, shown(r)).toBe(0);
    const conf = await lab.sshExec('node3', 'cat /data/nginx/nginx.conf');
    expect(conf.stdout).toMatch(new RegExp(`upstream dbserver \\{\\n\\s+least_conn;\\n\\s+server ${escape(fq('node1'))}:6041 max_fails=0;\\n\\s+server ${escape(fq('node2'))}:6041 max_fails=0;`));

    const nginx = lab.host('node3').address;
    const seen = new Map<string, number>();
    for (let i = 0; i < 6; i++) {
      const res = await httpPost(nginx, 6041, '/rest/sql', 'show dnodes');
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ code: 0, rows: 5 });
      seen.set(res.instance, (seen.get(res.instance) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual(['node1:6041', 'node2:6041']);
    // Each adapter logged the requests nginx sent it.
    for (const node of ['node1', 'node2']) {
      const log = await lab.sshExec(node, 'grep -c "POST /rest/sql" /data/taosadapter/log/taosadapter.log');
      expect(Number(log.stdout.trim())).toBe(seen.get(`${node}:6041`));
    }
  }, STEP_MS);

  it('taosKeeper and taos-Explorer answer behind nginx on 6043 and 6060, with the cluster asked through their taosAdapter', async () => {
    const conf = (await lab.sshExec('node3', 'cat /data/nginx/nginx.conf')).stdout;
    expect(conf).toContain(`upstream keeper {\n        ip_hash;\n        server ${fq('node1')}:6043 ;\n    }`);
    expect(conf).toContain(`upstream explorer{\n        ip_hash;\n        server ${fq('node2')}:6060 ;\n    }`);
    // taoskeeper.toml holds the cluster's password: readable by root only.
    expect((await lab.sshExec('node1', 'stat -c %a /opt/tdengine/taoskeeper/cfg/taoskeeper.toml')).stdout.trim()).toBe('600');

    const nginx = lab.host('node3').address;
    const metrics = await httpGet(nginx, 6043, '/metrics');
    expect(metrics).toMatchObject({ status: 200, instance: 'node1:6043' });
    expect(metrics.body).toMatch(/^# simulated taosKeeper/);
    expect(metrics.body).toMatch(/^taoskeeper_up 1$/m);
    expect(metrics.body).toMatch(/^taos_dnodes_total 5$/m);
    expect(metrics.body).toMatch(/^taos_dnodes_alive 4$/m);
    const page = await httpGet(nginx, 6060, '/');
    expect(page).toMatchObject({ status: 200, instance: 'node2:6060' });
    expect(page.body).toContain('TDengine Explorer — simulated by runbook');
    expect(page.body).toContain(`<li>${ep('node1')}: ready</li>`);
    // Each asked the cluster through the taosAdapter on its own machine.
    expect((await lab.sshExec('node1', 'grep -c "GET /metrics" /data/taoskeeper/log/taoskeeper.log')).stdout.trim()).toBe('1');
    expect((await lab.sshExec('node2', 'grep -c "GET / " /data/taos-explorer/log/explorer.log')).stdout.trim()).toBe('1');

    // A second adapter run changes nothing and restarts nothing.
    const again = await play('adapter', inv3);
    expect(again.code, shown(again)).toBe(0);
    expect(totals(again).changed, shown(again)).toBe(0);
  }, STEP_MS);

  it('distribute uploads the changed taos.cfg and says which running dnodes need a restart; restart -N makes it read it', async () => {
    // node2 gets a per-dnode parameter the others do not have.
    const invNew = join(work, 'tdengine-lab-vnodes.yaml');
    writeFileSync(invNew, readFileSync(inv3, 'utf8').replace(/(  - name: node2\n(?:    .*\n)*?    mnode: true\n)/, "$1    taos.cfg: { supportVnodes: 20 }\n"));
    expect(readFileSync(invNew, 'utf8')).toContain('supportVnodes: 20');
    const pidsBefore = await taosdPids();

    const r = await play('distribute', invNew);
    expect(r.code, shown(r)).toBe(0);
    expect(results(r, 'write taos.cfg').map((e) => [e.host, e.status]).sort()).toEqual([['node1', 'ok'], ['node2', 'changed'], ['node3', 'ok']]);
    expect(results(r, 'needs a restart?').find((e) => e.host === 'node2')?.msg).toMatch(new RegExp(`^node2 \\(${escape(ep('node2'))}\\): taos\\.cfg changed while taosd runs \\(pid [0-9,]+\\): it needs a restart to read it$`));
    expect(results(r, 'needs a restart?').find((e) => e.host === 'node1')?.msg).toBe(`node1 (${ep('node1')}): taos.cfg unchanged; no restart needed`);
    expect(results(r, 'restart needed')[0]?.msg).toBe(`taos.cfg changed on running dnodes; restart them, one at a time, to read it: runbook play restart -i ${invNew} -N node2`);
    expect((await lab.sshExec('node2', `grep supportVnodes ${HOME}/cfg/taos.cfg`)).stdout).toMatch(/^supportVnodes\s+20$/m);
    // Nothing was restarted: the running taosd still reports the old value.
    expect(await taosdPids()).toEqual(pidsBefore);
    const vnodes = async (): Promise<string | undefined> => (await taos('node1', 'show dnodes')).table.rows.find((row) => row.endpoint === ep('node2'))?.support_vnodes;
    expect(await vnodes()).toBe('16');

    const restart = await play('restart', invNew, '-N', 'node2');
    expect(restart.code, shown(restart)).toBe(0);
    const after = await taosdPids();
    expect(after.node2).not.toEqual(pidsBefore.node2);
    expect([after.node1, after.node3]).toEqual([pidsBefore.node1, pidsBefore.node3]);
    expect(await waitFor('node2 to report its new supportVnodes', async () => ((await vnodes()) === '20' ? true : undefined))).toBe(true);

    const again = await play('distribute', invNew);
    expect(again.code, shown(again)).toBe(0);
    expect(totals(again).changed, shown(again)).toBe(0);
    expect(results(again, 'no restart needed')[0]?.msg).toBe('no running dnode needs a restart');
  }, STEP_MS);

  it('mnode failover: with the leader\'s dnode stopped another mnode leads and the cluster answers; started again it follows', async () => {
    const roles = async (asked: string): Promise<string[][]> => (await taos(asked, 'show mnodes', asked)).table.rows.map((row) => [row.endpoint!, row.role!, row.status!]);
    // The previous test restarted dnodes: wait until every mnode reports ready again.
    const before = await waitFor('every mnode ready', async () => {
      const now = await roles('node2');
      return now.every((r) => r[2] === 'ready') ? now : undefined;
    });
    expect(before).toEqual([
      [ep('node1'), 'leader', 'ready'],
      [ep('node2'), 'follower', 'ready'],
      [ep('node3'), 'follower', 'ready'],
    ]);
    const stop = await play('stop', inv3, '-N', 'node1');
    expect(stop.code, shown(stop)).toBe(0);

    const elected = await waitFor('another mnode to lead', async () => {
      const now = await roles('node3');
      return now.some((r) => r[1] === 'leader') && now.every((r) => r[2] === 'ready' || r[0] === ep('node1')) ? now : undefined;
    });
    expect(elected).toEqual([
      [ep('node1'), 'offline', 'offline'],
      [ep('node2'), 'leader', 'ready'],
      [ep('node3'), 'follower', 'ready'],
    ]);
    // The cluster keeps answering, through any dnode, and sees node1 gone.
    // A new leader knows a dnode as ready only once that dnode's next status
    // message has reached it (statusInterval), and until then lists it as
    // offline like node1: wait for node1 offline and the other three ready.
    const dnodes = await waitFor('show dnodes to see node1 offline and the others ready', async () => {
      const { table } = await taos('node4', 'show dnodes', 'node4');
      const offline = table.rows.find((row) => row.endpoint === ep('node1'))?.status === 'offline';
      return offline && table.rows.filter((row) => row.status === 'ready').length === 3 ? table : undefined;
    });
    expect(dnodes.rows.filter((row) => row.status === 'ready').map((row) => row.endpoint)).toEqual([ep('node2'), ep('node3'), ep('node4')]);
    expect((await lab.sshExec('node2', 'grep -c "mnode is the leader" /data/taos/log/taosdlog.0')).stdout.trim()).toBe('1');

    // runbook asks the cluster through any dnode too, firstEp's first: with node1 down, node2 answers.
    const status = await play('status', inv3);
    expect(status.code, shown(status)).toBe(0);
    expect(results(status, 'status').find((e) => e.host === 'node1')?.msg).toBe(`dnode node1 ${ep('node1')}: stopped; listening: none`);
    const view = results(status, 'dnodes')[0]?.msg ?? '';
    expect(view, shown(status)).toMatch(new RegExp(`^${escape(ep('node2'))} answered:\n`));
    expect(parsePiped(view).rows.map((row) => [row.endpoint, row.status]).slice(0, 3)).toEqual([
      [ep('node1'), 'offline'],
      [ep('node2'), 'ready'],
      [ep('node3'), 'ready'],
    ]);
    const show = await play('show', inv3);
    expect(show.code, shown(show)).toBe(1);
    expect(results(show, 'dnodes table')[0]?.msg).toMatch(new RegExp(`^${escape(ep('node2'))} answered:\n`));
    // node1 fails the dnodes check; the next run_once task goes on from node2 and fails the mnodes check.
    expect(failures(show)).toEqual([
      expect.stringMatching(new RegExp(`^node1: not every dnode is ready: ${escape(ep('node1'))} offline( \\([^)]+\\))?; ${escape(ep('node2'))} ready; ${escape(ep('node3'))} ready; `)),
      `node2: not every mnode is ready: ${ep('node1')} offline offline; ${ep('node2')} leader ready; ${ep('node3')} follower ready; `,
    ]);

    const start = await play('start', inv3, '-N', 'node1');
    expect(start.code, shown(start)).toBe(0);
    const back = await waitFor('node1 to follow', async () => {
      const now = await roles('node1');
      return now.every((r) => r[2] === 'ready') ? now : undefined;
    });
    expect(back).toEqual([
      [ep('node1'), 'follower', 'ready'],
      [ep('node2'), 'leader', 'ready'],
      [ep('node3'), 'follower', 'ready'],
    ]);
  }, STEP_MS);

  it('restart: every dnode in turn, then the adapters and nginx; the cluster and nginx answer afterwards', async () => {
    // A stopped explorer is left stopped: restart does not deploy or start what was not running.
    const stopExplorer = await play('stop', inv3, '-N', 'explorer1');
    expect(stopExplorer.code, shown(stopExplorer)).toBe(0);
    const before = await taosdPids();
    const r = await play('restart', inv3);
    expect(r.code, shown(r)).toBe(0);
    // One dnode at a time, the firstEp dnode last.
    expect(results(r, 'start taosd').map((e) => e.host)).toEqual(['node2', 'node3', 'node1']);
    const after = await taosdPids();
    for (const node of ['node1', 'node2', 'node3']) expect(after[node], node).not.toEqual(before[node]);
    const { table } = await taos('node2', 'show mnodes', 'node2');
    expect(table.rows.filter((row) => row.role === 'leader')).toHaveLength(1);
    expect(table.rows.every((row) => row.status === 'ready'), JSON.stringify(table.rows)).toBe(true);
    const res = await httpPost(lab.host('node3').address, 6041, '/rest/sql', 'show dnodes');
    expect(res).toMatchObject({ status: 200, json: { code: 0, rows: 5 } });
    expect(results(r, 'start it').map((e) => [e.host, e.status])).toEqual([['keeper1', 'changed'], ['explorer1', 'skipped']]);
    expect(results(r, 'not running, left stopped').find((e) => e.status === 'ok')).toMatchObject({ host: 'explorer1', msg: 'explorer1 (explorer) was not running, so it was not restarted; runbook play adapter deploys and starts it' });
    expect(await httpGet(lab.host('node3').address, 6043, '/metrics')).toMatchObject({ status: 200, instance: 'node1:6043' });
    const startExplorer = await play('adapter', inv3, '-N', 'explorer1');
    expect(startExplorer.code, shown(startExplorer)).toBe(0);
    expect(await httpGet(lab.host('node3').address, 6060, '/')).toMatchObject({ status: 200, instance: 'node2:6060' });
  }, STEP_MS);

  it('clean without --yes says what it stops and deletes, and touches nothing', async () => {
    const before = await taosdPids();
    const r = await play('clean', inv5);
    expect(r.code, shown(r)).toBe(1);
    expect(results(r, 'what will be stopped').find((e) => e.host === 'node1')?.msg).toMatch(new RegExp(`^node1 \\(${escape(fq('node1'))}\\): dnode running \\(pid [0-9,]+\\), stopped first$`));
    expect(results(r, 'what will be stopped').find((e) => e.host === 'node5')?.msg).toBe(`node5 (${fq('node5')}): nothing runs`);
    expect(results(r, 'what will be deleted').find((e) => e.host === 'node2')?.msg).toBe(`node2 (${fq('node2')}): /data/taos/data, /data/taos/log`);
    expect(failures(r)).toEqual([expect.stringContaining('clean stops every program listed as running and deletes the folders listed above; nothing was touched. Run it again with --yes to go ahead.')]);
    expect(await taosdPids()).toEqual(before);
    expect((await lab.sshExec('node2', 'test -d /data/taos/data && echo kept')).stdout.trim()).toBe('kept');
  }, STEP_MS);

  it('clean --yes stops everything that runs, then empties the data folders; destroy, confirmed by the cluster name typed at a terminal, removes the deployment', async () => {
    const clean = await play('clean', inv5, '--yes');
    expect(clean.code, shown(clean)).toBe(0);
    expect(results(clean, 'stop it').filter((e) => e.status === 'changed').map((e) => e.host).sort()).toEqual(['adapter1', 'adapter2', 'explorer1', 'keeper1', 'nginx', 'node1', 'node2', 'node3', 'node4']);
    const status = await play('status', inv5);
    expect(results(status, 'status').every((e) => /: stopped; listening: none$/.test(e.msg)), shown(status)).toBe(true);
    for (const node of ['node1', 'node2', 'node5']) expect((await lab.sshExec(node, 'test -e /data/taos/data || echo gone')).stdout.trim(), node).toBe('gone');
    expect((await lab.sshExec('node2', `test -x ${TAOS} && echo kept`)).stdout.trim()).toBe('kept');

    // destroy confirmed by the cluster's name typed at a terminal (issue 8): a wrong name deletes nothing.
    const deployed = async (): Promise<Record<string, string>> => {
      const out: Record<string, string> = {};
      for (const node of ['node1', 'node3']) out[node] = (await lab.sshExec(node, 'ls -A /opt/tdengine; test -e /data/nginx && echo /data/nginx; true')).stdout.trim();
      return out;
    };
    const before = await deployed();
    expect(before.node1).toMatch(/^taos\b/m);
    expect(before.node3).toContain('/data/nginx');
    const question = 'destroy deletes the folders listed above. Type the cluster name (tdlab) to go ahead: ';
    const destroy = ['play', 'destroy', '-i', inv5, '-o', 'plain'];
    const wrong = onTerminal(destroy);
    await wrong.shows(question);
    // What will go is listed before the question.
    expect(wrong.screen).toContain(`${fq('node3')}): /data/nginx`);
    wrong.type('tdlab2\r');
    const refused = await wrong.exited;
    expect(refused.code, refused.screen).toBe(1);
    expect(refused.screen).toContain('"tdlab2" is not the cluster\'s name (tdlab); nothing was touched.');
    expect(refused.screen).not.toContain('delete the folders');
    expect(await deployed()).toEqual(before);

    const right = onTerminal(destroy);
    await right.shows(question);
    right.type('tdlab\r');
    const done = await right.exited;
    expect(done.code, done.screen).toBe(0);
    expect(done.screen).toContain("tdlab is the cluster's name; going ahead");
    expect(done.screen).toContain('delete the folders');
    expect(await deployed()).toEqual({ node1: '', node3: '' });
  }, STEP_MS);
});
