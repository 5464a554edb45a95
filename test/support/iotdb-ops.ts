// What the IoTDB operations suites (test/e2e/iotdb-ops*.test.ts) share: a
// scratch folder per suite (also RUNBOOK_HOME of every CLI run), the simulated
// package built into it, topologies written in the iotdbctl form for any set
// of nodes on the suite's lab, `runbook play` with NDJSON events, and the
// cluster as the simulated CLI shows it, asked from this machine over the
// lab's bridge (the same client a user would run against a remote DataNode).

import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { stringify } from 'yaml';
import { compiledSimulatorDir } from '../../engine/lab/packages/iotdb/index.js';
import { iotdb as iotdbDialect, type Table } from '../../modules/lib/cli-dialects.js';
import { runCli, type CliResult, type TaskResultEvent } from './cli.js';
import { ensureSimulatorCompiled } from './sim-iotdb.js';
import type { LabHandle } from './lab.js';
import { useScratch, type Scratch } from './scratch.js';

export type OpsScratch = Scratch;

/** A scratch folder with the simulated IoTDB package, removed after the suite even when it fails. */
export function useOpsScratch(): OpsScratch {
  // The simulator's sources change under other work in this tree; a stale dist/ would refuse to package.
  return useScratch({ iotdbPackage: true, before: ensureSimulatorCompiled });
}

export type NodeType = 'confignode' | 'datanode';

export interface OpsNodeSpec {
  name: string;
  type: NodeType;
  /** Lab host name (node1, …). */
  host: string;
}

export interface OpsNode extends OpsNodeSpec {
  address: string;
  home: string;
  dataDir: string;
  /** -N by address: cn_internal_address:cn_internal_port or dn_rpc_address:dn_rpc_port. */
  endpoint: string;
  internalPort: number;
  logFile: string;
}

export interface OpsTopologyOptions {
  lab: LabHandle;
  scratch: OpsScratch;
  nodes: OpsNodeSpec[];
  /** File name in the scratch folder; writing the same name again replaces the topology. */
  file: string;
  clusterName?: string;
  replication?: { schema: number; data: number };
  /** Extra `global` keys (iotdb_lib_dir, …). */
  global?: Record<string, unknown>;
  deployDir?: string;
}

export interface OpsTopology {
  path: string;
  nodes: OpsNode[];
  node(name: string): OpsNode;
}

/**
 * Every node gets its own installation, <deploy_dir>/<name>, and data folders
 * under /data/<cluster>/<name>. Nodes of one type need different lab hosts
 * (they use IoTDB's default ports).
 */
export function writeOpsTopology(o: OpsTopologyOptions): OpsTopology {
  const cluster = o.clusterName ?? 'opsCluster';
  const deployDir = o.deployDir ?? `/opt/${cluster}`;
  const nodes: OpsNode[] = o.nodes.map((n) => {
    const address = o.lab.host(n.host).address;
    const cn = n.type === 'confignode';
    return {
      ...n,
      address,
      home: `${deployDir}/${n.name}`,
      dataDir: `/data/${cluster}/${n.name}`,
      endpoint: `${address}:${cn ? 10710 : 6667}`,
      internalPort: cn ? 10710 : 10730,
      logFile: `${deployDir}/${n.name}/logs/log_${n.type}_all.log`,
    };
  });
  const seed = nodes.find((n) => n.type === 'confignode');
  if (!seed) throw new Error('a topology needs a ConfigNode');
  const server = (n: OpsNode): Record<string, unknown> =>
    n.type === 'confignode'
      ? {
          name: n.name,
          iotdb_dir_name: n.name,
          cn_internal_address: n.address,
          'iotdb-system.properties': { cn_system_dir: `${n.dataDir}/system`, cn_consensus_dir: `${n.dataDir}/consensus` },
        }
      : {
          name: n.name,
          iotdb_dir_name: n.name,
          dn_rpc_address: n.address,
          dn_internal_address: n.address,
          'iotdb-system.properties': {
            dn_data_dirs: `${n.dataDir}/data`,
            dn_consensus_dir: `${n.dataDir}/consensus`,
            dn_system_dir: `${n.dataDir}/system`,
            dn_wal_dirs: `${n.dataDir}/wal`,
          },
        };
  const topology = {
    ssh: { known_hosts: o.lab.knownHostsPath },
    global: {
      user: 'root',
      pkey: o.lab.keyPath,
      ssh_port: 22,
      deploy_dir: deployDir,
      iotdb_zip_dir: o.scratch.packagePath,
      cn_seed_config_node: `${seed.address}:10710`,
      dn_seed_config_node: `${seed.address}:10710`,
      ...(o.global ?? {}),
      'iotdb-system.properties': {
        cluster_name: cluster,
        schema_replication_factor: o.replication?.schema ?? 1,
        data_replication_factor: o.replication?.data ?? 1,
        heartbeat_interval_in_ms: 200,
      },
    },
    confignode_servers: nodes.filter((n) => n.type === 'confignode').map(server),
    datanode_servers: nodes.filter((n) => n.type === 'datanode').map(server),
  };
  mkdirSync(o.scratch.dir, { recursive: true });
  const path = join(o.scratch.dir, o.file);
  writeFileSync(path, `# written by test/support/iotdb-ops.ts\n${stringify(topology)}`);
  return {
    path,
    nodes,
    node(name: string): OpsNode {
      const n = nodes.find((x) => x.name === name);
      if (!n) throw new Error(`the topology has no node ${name}`);
      return n;
    },
  };
}

/**
 * The topology written, deployed and started by the first test that asks for
 * it; later tests get the same cluster without deploying again.
 */
export function deployedOnce(o: OpsTopologyOptions): () => Promise<OpsTopology> {
  let cluster: OpsTopology | undefined;
  return async () => {
    if (cluster) return cluster;
    const t = writeOpsTopology(o);
    for (const pb of ['deploy', 'start']) {
      const r = await play(o.scratch, pb, t.path);
      expect(r.code, transcript(r)).toBe(0);
    }
    cluster = t;
    return t;
  };
}

/** `runbook play <playbook> -i <topology> -o json <args…>`. */
export function play(scratch: OpsScratch, playbook: string, topology: string, args: string[] = []): Promise<CliResult> {
  return runCli(['play', playbook, '-i', topology, '-o', 'json', ...args], { env: scratch.env });
}

/** What a run printed, for assertion messages. */
export function transcript(r: CliResult): string {
  const lines = r.events
    .filter((e): e is TaskResultEvent => e.type === 'task_result')
    .map((e) => `${e.status.padEnd(9)} ${e.host}: ${e.task}: ${e.msg}`);
  return `exit ${String(r.code)}\n${lines.join('\n')}\n${r.stderr}`;
}

/** The messages of one task's results, leaving out hosts it skipped. */
export function messages(r: CliResult, task: string): string[] {
  return r.events.filter((e): e is TaskResultEvent => e.type === 'task_result' && e.task === task && e.status !== 'skipped').map((e) => e.msg);
}

export interface ClientResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The simulated start-cli.sh, run on this machine against a DataNode's rpc endpoint. */
export function simCli(endpoint: string, statement: string, timeoutMs = 10_000): Promise<ClientResult> {
  const at = endpoint.lastIndexOf(':');
  const args = [join(compiledSimulatorDir(), 'main.js'), 'cli', '-h', endpoint.slice(0, at), '-p', endpoint.slice(at + 1), '-u', 'root', '-pw', 'root', '-e', statement];
  return new Promise((resolve) => {
    execFile(process.execPath, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/**
 * Ask the DataNodes in turn, as iotdbctl's `show` does; undefined when none
 * answers. Rows come back as the CLI printed them.
 */
export async function askCluster(endpoints: string[], statement = 'show cluster'): Promise<Table | undefined> {
  for (const e of endpoints) {
    const r = await simCli(e, statement);
    if (r.code === 0 && r.stdout.includes('+--')) return iotdbDialect.parse(r.stdout);
  }
  return undefined;
}

/**
 * Ask `probe` again until it returns something other than undefined, failing
 * after `timeoutMs`. Each probe is a real request (a CLI run), which paces it.
 */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`);
  }
}
