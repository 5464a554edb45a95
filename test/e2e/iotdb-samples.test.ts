// Issue 5: the three documented iotdbctl samples in inventories/ pass
// `runbook validate` for every built-in IoTDB playbook. The samples name
// archives on the user's machine (/home/data/…zip, the Grafana and Prometheus
// tarballs), and validation rightly insists that local archives exist; so each
// sample is copied to a scratch folder with only those archive paths changed,
// to empty files there. The copy is made with the yaml Document API, which
// keeps every other line (comments included) as the sample has it, and the
// test checks that nothing else differs. No host is contacted.

import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { builtinInventoriesDir } from '../../engine/paths.js';
import { runCli } from '../support/cli.js';
import { useScratch } from './helpers.js';

const SAMPLES = ['1c1d', '3c3d', '3c3d-grafana-prometheus'];

/** Archive paths a sample may name, by yaml path. */
const ARCHIVE_KEYS: Array<{ path: string[]; file: string }> = [
  { path: ['global', 'iotdb_zip_dir'], file: 'apache-iotdb-1.3.0-all-bin.zip' },
  { path: ['grafana_server', 'grafana_tar_dir'], file: 'grafana-10.0.3.linux-amd64.tar.gz' },
  { path: ['prometheus_server', 'prometheus_tar_dir'], file: 'prometheus-2.45.0.linux-amd64.tar.gz' },
];

/** The IoTDB playbooks every sample must validate against (list may show more). */
const CORE_PLAYBOOKS = ['check', 'clean', 'deploy', 'destroy', 'distribute', 'list', 'reload', 'restart', 'show', 'start', 'status', 'stop'];

/** One CLI process per playbook (about 0.7 s of CPU each); generous for a loaded machine. */
const PER_SAMPLE_TIMEOUT_MS = 180_000;

/** Run `work` over `items`, at most `limit` at a time (2 cores, each CLI run is a node process). */
async function inBatches<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

describe('the documented sample topologies validate (issue 5)', () => {
  const scratch = useScratch();

  /** Copy a sample with its archive paths pointing at empty files in the scratch folder. */
  function copySample(name: string): { path: string; replaced: string[] } {
    const original = readFileSync(join(builtinInventoriesDir, `${name}.yaml`), 'utf8');
    const doc = parseDocument(original);
    const replaced: string[] = [];
    for (const key of ARCHIVE_KEYS) {
      if (!doc.hasIn(key.path)) continue;
      const local = join(scratch.dir, key.file);
      writeFileSync(local, '');
      doc.setIn(key.path, local);
      replaced.push(key.path.join('.'));
    }
    const path = join(scratch.dir, `${name}.yaml`);
    writeFileSync(path, String(doc));

    // Nothing but the archive paths differs from the documented sample.
    const strip = (text: string) => {
      const v = parse(text) as Record<string, Record<string, unknown>>;
      for (const key of ARCHIVE_KEYS) if (v[key.path[0]!]) delete v[key.path[0]!]![key.path[1]!];
      return v;
    };
    expect(strip(String(doc))).toEqual(strip(original));
    return { path, replaced };
  }

  test('as published, each sample fails only because its archive is not on this machine', async () => {
    const r = await runCli(['validate', 'deploy', '-i', join(builtinInventoriesDir, '1c1d.yaml')], { env: scratch.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/1c1d\.yaml:\d+:\d+: iotdb_zip_dir in global names \/home\/data\/apache-iotdb-1\.3\.0-all-bin\.zip, which does not exist/);
  });

  test.each(SAMPLES)('%s validates for every built-in IoTDB playbook', async (name) => {
    const sample = copySample(name);
    expect(sample.replaced).toContain('global.iotdb_zip_dir');
    if (name.includes('grafana')) expect(sample.replaced).toHaveLength(3);

    const listed = await runCli(['list', '-i', sample.path], { env: scratch.env });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).not.toContain('(invalid:');
    const playbooks = [...listed.stdout.matchAll(/^ {2}(\S+) /gm)].map((m) => m[1]!);
    expect(playbooks).toEqual(expect.arrayContaining(CORE_PLAYBOOKS));

    const runs = await inBatches(playbooks, 2, async (pb) => ({ pb, r: await runCli(['validate', pb, '-i', sample.path], { env: scratch.env }) }));
    for (const { pb, r } of runs) {
      expect(r.code, `${name} / ${pb}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^valid: .*/playbooks/iotdb/${pb}\\.yaml: `));
    }
  }, PER_SAMPLE_TIMEOUT_MS);
});
