// TDengine end to end: the real runbook CLI drives the built-in playbooks
// against five lab hosts (node1-node5, each its own `hostname -f`, resolved
// through the lab's shared /etc/hosts) running the simulated TDengine package
// and Debian's real nginx. The inventory is inventories/tdengine-lab.yaml
// aimed at this suite's lab; a second one adds node4 and node5.
//
// One lab for the whole file, so the steps run in order and build on each
// other: check, deploy (twice: the second changes nothing), start, show,
// mnodes, scaleout, a mismatched timezone, a dnode that formed its own
// cluster and repair-dnode, taosAdapters behind nginx, stop, clean, destroy.

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
  const addr = (n: number): string => lab.host(`node${n}`).address;
  // The shipped lab inventory, pointed at this suite's lab and package.
  const shipped = readFileSync(join(packageRoot, 'inventories', 'tdengine-lab.yaml'), 'utf8');
  const text = shipped
    .replace(/^(\s*private_key_file: ).*$/m, `$1${lab.keyPath}`)
    .replace(/^(\s*known_hosts: ).*$/m, `$1${lab.knownHostsPath}`)
    .replace(/^(\s*package: ).*$/m, `$1${pkg.path}`)
    .replace(/198\.19\.0\.1([1-3])/g, (_m, i: string) => addr(Number(i)));
  expect(text).not.toContain('198.19.0.');
  inv3 = join(work, 'tdengine-lab.yaml');
  writeFileSync(inv3, text);
  const more = [4, 5].map((n) => `  - name: node${n}\n    fqdn: node${n}\n    address: ${addr(n)}\n    dataDir: /data/taos/data\n    logDir: /data/taos/log\n`).join('');
  inv5 = join(work, 'tdengine-lab-5.yaml');
  writeFileSync(inv5, text.replace(/\nadapters:/, `${more}\nadapters:`));
}, 240_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function play(name: string, inventory: string, ...extra: string[]): Promise<CliResult> {
  return runCli(['play', name, '-i', inventory, '-o', 'json', ...extra], { timeoutMs: 170_000 });
}

/** The CLI's output, for assertion messages. */
const shown = (r: CliResult): string => `${r.stdout}\n${r.stderr}`;

function failures(r: CliResult): string[] {
  return results(r).filter((e) => e.status === 'failed' && !e.ignored).map((e) => `${e.host}: ${e.msg}`);
}

async function taos(host: string, sql: string, server = 'node1'): Promise<{ stdout: string; table: Table }> {
  const r = await lab.sshExec(host, `${TAOS} -h ${server} -P 6030 -s '${sql}'`);
  return { stdout: r.stdout, table: parsePiped(r.stdout) };
}

/** Poll `probe` until it returns a value, at most `timeoutMs`. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
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
    expect(cfg.stdout).toMatch(/^firstEp\s+node1:6030$/m);
    expect(cfg.stdout).toMatch(/^fqdn\s+node2$/m);
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
      ['1', 'node1:6030', 'ready'],
      ['2', 'node2:6030', 'ready'],
      ['3', 'node3:6030', 'ready'],
    ]);
  }, STEP_MS);

  it('mnodes: three mnodes, one per dnode, all ready in show mnodes', async () => {
    const r = await play('mnodes', inv3);
    expect(r.code, shown(r)).toBe(0);
    const { table } = await taos('node2', 'show mnodes');
    expect(table.rows.map((row) => [row.endpoint, row.role, row.status])).toEqual([
      ['node1:6030', 'leader', 'ready'],
      ['node2:6030', 'follower', 'ready'],
      ['node3:6030', 'follower', 'ready'],
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
    expect(why).toMatch(/^node5: dnode node5:6030 did not become ready in show dnodes \(offline: timezone not match\)/);
    expect(why).toContain('timezone not match: the cluster has "UTC", this dnode has "Asia/Shanghai"');
    const log = await lab.sshExec('node5', 'cat /data/taos/log/taosdlog.0');
    expect(log.stdout).toMatch(/ERROR dnode:0, failed to join the cluster at node1:6030 since timezone not match/);

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
    const own = await until('node3 to form its own cluster', async () => {
      const { table } = await taos('node3', 'show dnodes', 'node3');
      return table.rows.length === 1 && ready(table, 'node3:6030') ? table : undefined;
    });
    expect(own.rows[0]!.id).toBe('1');
    const main = await until('the cluster to see node3 offline', async () => {
      const { table } = await taos('node1', 'show dnodes');
      return table.rows.some((row) => row.endpoint === 'node3:6030' && row.status === 'offline') ? table : undefined;
    });
    expect(main.rows).toHaveLength(5);

    const refused = await play('repair-dnode', inv3, '-N', 'node3');
    expect(refused.code, shown(refused)).toBe(1);
    expect(failures(refused)).toEqual([expect.stringMatching(/^node3: repairing node3 stops taosd and deletes everything in \/data\/taos\/data .*Run again with --yes/)]);
    expect(results(refused, 'its own view matches the cluster\'s')[0]?.msg).toBe('node3:6030 formed a cluster of its own (its show dnodes differs from the cluster\'s)');

    const r = await play('repair-dnode', inv3, '-N', 'node3', '--yes');
    expect(r.code, shown(r)).toBe(0);
    expect(results(r, 'empty the dataDir').map((e) => e.status)).toEqual(['changed']);
    const { table } = await taos('node3', 'show dnodes', 'node3');
    expect(ready(table, 'node3:6030')).toBe(true);
    expect(table.rows.find((row) => row.endpoint === 'node3:6030')!.id).toBe('3');
    expect(table.rows).toHaveLength(5);
  }, STEP_MS);

  it('adapter: two taosAdapters behind nginx, which balances requests across them', async () => {
    const r = await play('adapter', inv3);
    expect(r.code, shown(r)).toBe(0);
    const conf = await lab.sshExec('node3', 'cat /data/nginx/nginx.conf');
    expect(conf.stdout).toMatch(/upstream dbserver \{\n\s+least_conn;\n\s+server node1:6041 max_fails=0;\n\s+server node2:6041 max_fails=0;/);

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

  it('clean refuses while anything runs', async () => {
    const r = await play('clean', inv5, '--yes');
    expect(r.code, shown(r)).toBe(1);
    const running = failures(r);
    expect(running.find((f) => f.startsWith('node1: '))).toContain(`node1 is running; stop the cluster first: runbook play stop -i ${inv5}`);
    // Nothing was deleted.
    expect((await lab.sshExec('node1', 'test -d /data/taos/data && echo kept')).stdout.trim()).toBe('kept');
  }, STEP_MS);

  it('stop, then clean lists what it deletes and needs --yes; destroy removes the deployment', async () => {
    const stop = await play('stop', inv5);
    expect(stop.code, shown(stop)).toBe(0);
    const status = await play('status', inv5);
    expect(results(status, 'status').every((e) => /: stopped; listening: none$/.test(e.msg)), shown(status)).toBe(true);

    const refused = await play('clean', inv5);
    expect(refused.code, shown(refused)).toBe(1);
    expect(results(refused, 'what will be deleted').find((e) => e.host === 'node2')?.msg).toBe(`node2 (${lab.host('node2').address}): /data/taos/data, /data/taos/log`);
    expect((await lab.sshExec('node2', 'test -d /data/taos/data')).code).toBe(0);

    const clean = await play('clean', inv5, '--yes');
    expect(clean.code, shown(clean)).toBe(0);
    expect((await lab.sshExec('node2', 'test -e /data/taos/data || echo gone')).stdout.trim()).toBe('gone');
    expect((await lab.sshExec('node2', `test -x ${TAOS} && echo kept`)).stdout.trim()).toBe('kept');

    const destroy = await play('destroy', inv5, '--yes');
    expect(destroy.code, shown(destroy)).toBe(0);
    for (const node of ['node1', 'node3']) {
      const left = await lab.sshExec(node, 'ls -A /opt/tdengine; test -e /data/nginx && echo /data/nginx; true');
      expect(left.stdout.trim(), node).toBe('');
    }
  }, STEP_MS);
});
