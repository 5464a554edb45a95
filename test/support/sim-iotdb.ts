// Helpers for tests that run the simulated IoTDB package on this machine:
// build and unzip it per node, give every node its own loopback ports, run its
// sbin scripts, and clean up exactly the processes the test started.

import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../engine/paths.js';
import { compiledSimulatorDir, iotdbPackage } from '../../engine/lab/packages/iotdb/index.js';
import { waitFor } from './wait.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      { cwd: opts.cwd, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    // A command may exit before reading its stdin; that is not the test's error.
    child.stdin?.on('error', () => undefined);
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Compile the simulator (and the sim-common it imports) when dist/ lacks it or is older than its source (npm test compiles first anyway). */
export async function ensureSimulatorCompiled(): Promise<void> {
  const folders = [
    { src: join(packageRoot, 'engine', 'lab', 'packages', 'iotdb', 'sim'), dist: compiledSimulatorDir() },
    { src: join(packageRoot, 'engine', 'lab', 'packages', 'sim-common'), dist: join(packageRoot, 'dist', 'engine', 'lab', 'packages', 'sim-common') },
  ];
  const stale = (): boolean =>
    folders.some(({ src, dist }) =>
      readdirSync(src)
        .filter((f) => f.endsWith('.ts'))
        .some((f) => {
          const js = join(dist, f.replace(/\.ts$/, '.js'));
          return !existsSync(js) || statSync(join(src, f)).mtimeMs > statSync(js).mtimeMs;
        }),
    );
  if (!stale()) return;
  // tsc still emits when files owned by others fail to typecheck; only our output matters here.
  await run(join(packageRoot, 'node_modules', '.bin', 'tsc'), ['-p', join(packageRoot, 'tsconfig.json')], { cwd: packageRoot, timeoutMs: 170_000 });
  if (stale()) throw new Error(`compiling the simulated IoTDB failed; run \`npm run build\` in ${packageRoot}`);
}

export function sleepMs(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export { waitFor };

/** Rows of a boxed CLI table, keyed by header, cells trimmed. */
export function parseTable(stdout: string): Array<Record<string, string>> {
  const lines = stdout.split('\n').filter((l) => l.startsWith('|'));
  const header = lines[0];
  if (header === undefined) return [];
  const cells = (l: string): string[] => l.slice(1, -1).split('|').map((c) => c.trim());
  const names = cells(header);
  return lines.slice(1).map((l) => Object.fromEntries(cells(l).map((c, i) => [names[i] ?? String(i), c])));
}

// Ports are reserved with a lock file per port, so labs in parallel vitest
// workers (or other people's runs on this machine) never pick the same one.
const RESERVATIONS = join(tmpdir(), 'runbook-sim-iotdb-ports');

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function reservePort(port: number): boolean {
  mkdirSync(RESERVATIONS, { recursive: true });
  const file = join(RESERVATIONS, String(port));
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx' });
    return true;
  } catch {
    // Taken; reclaim it only if the run that reserved it is gone.
    try {
      const owner = Number(readFileSync(file, 'utf8'));
      if (Number.isInteger(owner) && owner > 0 && !processAlive(owner)) {
        rmSync(file, { force: true });
        writeFileSync(file, String(process.pid), { flag: 'wx' });
        return true;
      }
    } catch {
      // lost a race for it: try another port
    }
    return false;
  }
}

function releasePort(port: number): void {
  const file = join(RESERVATIONS, String(port));
  try {
    if (readFileSync(file, 'utf8') === String(process.pid)) rmSync(file, { force: true });
  } catch {
    // already released
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

export interface SimNode {
  name: string;
  role: 'confignode' | 'datanode';
  home: string;
  ports: Record<string, number>;
  /** address:port other nodes and scripts use: cn internal endpoint or dn rpc endpoint. */
  endpoint: string;
}

const CN_PORT_KEYS = ['cn_internal_port', 'cn_consensus_port'];
const DN_PORT_KEYS = ['dn_rpc_port', 'dn_internal_port', 'dn_mpp_data_exchange_port', 'dn_data_region_consensus_port', 'dn_schema_region_consensus_port'];

/**
 * One temp folder holding a built package and any number of node folders.
 * Nodes use 127.0.0.1 and ports 20000-32000, below the kernel's ephemeral
 * range (32768+), so the heartbeats' own outgoing connections never hold a
 * port a node needs.
 */
export class SimIotdbLab {
  readonly nodes: SimNode[] = [];
  private nextPort: number;
  private readonly pids = new Set<number>();
  private readonly reserved: number[] = [];
  readonly env: NodeJS.ProcessEnv;

  private constructor(
    readonly root: string,
    readonly zip: string,
    heartbeatMs: number,
  ) {
    this.nextPort = 20_000 + Math.floor(Math.random() * 400) * 25;
    this.env = { ...process.env, IOTDB_SIM_HEARTBEAT_MS: String(heartbeatMs) };
    delete this.env.IOTDB_HOME;
  }

  static async create(heartbeatMs = 200): Promise<SimIotdbLab> {
    await ensureSimulatorCompiled();
    const root = await mkdtemp(join(tmpdir(), 'runbook-sim-iotdb-'));
    const pkg = iotdbPackage();
    await pkg.build(join(root, 'build', pkg.topDir));
    const zip = join(root, pkg.archiveName);
    const z = await run('zip', ['-qr', zip, pkg.topDir], { cwd: join(root, 'build') });
    if (z.code !== 0) throw new Error(`zip failed: ${z.stderr}`);
    return new SimIotdbLab(root, zip, heartbeatMs);
  }

  async ports(n: number): Promise<number[]> {
    const out: number[] = [];
    while (out.length < n) {
      const p = this.nextPort++;
      if (p > 32_000) throw new Error('no free loopback ports below 32000');
      if (!reservePort(p)) continue;
      if (await portFree(p)) {
        this.reserved.push(p);
        out.push(p);
      } else releasePort(p);
    }
    return out;
  }

  /** Unzip the package into <root>/<name> and append `props` to its iotdb-system.properties. */
  async addNode(name: string, role: 'confignode' | 'datanode', props: Record<string, string>): Promise<SimNode> {
    const dir = join(this.root, name);
    await mkdir(dir, { recursive: true });
    const u = await run('unzip', ['-q', this.zip, '-d', dir]);
    if (u.code !== 0) throw new Error(`unzip failed: ${u.stderr}`);
    const home = join(dir, 'apache-iotdb-1.3.0-all-bin');
    const keys = role === 'confignode' ? CN_PORT_KEYS : DN_PORT_KEYS;
    const missing = keys.filter((k) => props[k] === undefined);
    const allocated = await this.ports(missing.length);
    const all: Record<string, string> = { ...Object.fromEntries(missing.map((k, i) => [k, String(allocated[i]!)])), ...props };
    await appendFile(join(home, 'conf', 'iotdb-system.properties'), '\n# test settings\n' + Object.entries(all).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
    const node: SimNode = {
      name,
      role,
      home,
      ports: Object.fromEntries(Object.entries(all).filter(([k]) => keys.includes(k)).map(([k, v]) => [k, Number(v)])),
      endpoint: role === 'confignode' ? `127.0.0.1:${all.cn_internal_port}` : `127.0.0.1:${all.dn_rpc_port}`,
    };
    this.nodes.push(node);
    return node;
  }

  /** A ConfigNode; without `seed` it is the Seed-ConfigNode (seed = itself). */
  async configNode(name: string, seed?: SimNode, props: Record<string, string> = {}): Promise<SimNode> {
    const [internal] = await this.ports(1);
    return this.addNode(name, 'confignode', {
      cn_internal_port: String(internal),
      cn_seed_config_node: seed ? seed.endpoint : `127.0.0.1:${internal}`,
      ...props,
    });
  }

  /** A DataNode whose dn_seed_config_node lists `seeds` (nodes or address:port strings). */
  async dataNode(name: string, seeds: Array<SimNode | string>, props: Record<string, string> = {}): Promise<SimNode> {
    const list = seeds.map((s) => (typeof s === 'string' ? s : s.endpoint)).join(',');
    return this.addNode(name, 'datanode', { dn_seed_config_node: list, ...props });
  }

  async sh(node: SimNode, script: string, args: string[] = []): Promise<RunResult> {
    const r = await run('sh', [join(node.home, 'sbin', script), ...args], { cwd: node.home, env: this.env });
    this.recordPids(node);
    return r;
  }

  /** start-<role>.sh -d */
  start(node: SimNode): Promise<RunResult> {
    return this.sh(node, `start-${node.role}.sh`, ['-d']);
  }

  /** The document's background start: `nohup bash ./sbin/start-<role>.sh >/dev/null 2>&1 &` (the node writes its own pid file). */
  async startNohup(node: SimNode): Promise<RunResult> {
    const script = join(node.home, 'sbin', `start-${node.role}.sh`);
    return run('sh', ['-c', 'nohup sh "$0" >/dev/null 2>&1 &', script], { cwd: node.home, env: this.env });
  }

  stop(node: SimNode): Promise<RunResult> {
    return this.sh(node, `stop-${node.role}.sh`);
  }

  /** start-cli.sh against `via`'s rpc port: with -e `sql`, or with `sql` on stdin when `stdin` is set. */
  cli(via: SimNode, sql: string, extra: string[] = [], stdin = false): Promise<RunResult> {
    const port = via.ports.dn_rpc_port;
    if (port === undefined) throw new Error(`${via.name} is not a DataNode`);
    const args = [join(via.home, 'sbin', 'start-cli.sh'), '-h', '127.0.0.1', '-p', String(port), ...extra];
    return stdin ? run('sh', args, { env: this.env, input: sql }) : run('sh', [...args, '-e', sql], { env: this.env });
  }

  async log(node: SimNode): Promise<string> {
    try {
      return await readFile(join(node.home, 'logs', `log_${node.role}_all.log`), 'utf8');
    } catch {
      return '';
    }
  }

  pidOf(node: SimNode, role: 'confignode' | 'datanode' = node.role): number | null {
    try {
      const pid = Number(readFileSync(join(node.home, 'data', `iotdb-${role}.pid`), 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    } catch {
      return null;
    }
  }

  /** Both roles: start-standalone.sh runs a ConfigNode and a DataNode from one folder. */
  private recordPids(node: SimNode): void {
    for (const role of ['confignode', 'datanode'] as const) {
      const pid = this.pidOf(node, role);
      if (pid !== null) this.pids.add(pid);
    }
  }

  /** True while the process is alive and still one of this lab's simulator processes. */
  isOurs(pid: number): boolean {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (/\)\s+Z\s/.test(stat)) return false;
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(this.root);
    } catch {
      return false;
    }
  }

  /** Kill every node process this lab started (by pid), then delete the folder. */
  async cleanup(): Promise<void> {
    for (const n of this.nodes) this.recordPids(n);
    for (const pid of this.pids) {
      if (this.isOurs(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    await waitFor('lab processes to exit', async () => [...this.pids].every((p) => !this.isOurs(p)), 10_000).catch(() => undefined);
    await rm(this.root, { recursive: true, force: true });
    for (const p of this.reserved) releasePort(p);
  }
}
