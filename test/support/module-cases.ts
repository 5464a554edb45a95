// Table-driven module tests: one YAML file per case under
// test/unit/modules/<module>/. Each case gives the args, the commands the fake
// host expects (in order) with their canned answers, and the result expected.
// `@TMP@` in args, vars, commands and file names stands for the case's own
// temporary folder (the playbook folder the module sees).

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { expect, test } from 'vitest';
import type { ModuleDef } from '../../engine/api.js';
import { createModuleContext } from '../../engine/context.js';
import { FakeConnection, type ExpectedCommand } from './fake-connection.js';

export interface ModuleCase {
  description: string;
  args: unknown;
  vars?: Record<string, unknown>;
  check?: boolean;
  diff?: boolean;
  /** Files created in the case's temporary folder before the module runs. */
  localFiles?: Record<string, string>;
  commands?: ExpectedCommand[];
  /** Files the fake host holds for download(). */
  remoteFiles?: Record<string, string>;
  /** Uploads the module must make: remote path regex and exact content; makeParents (default false) is always checked. */
  uploads?: Array<{ path: string; content?: string; mode?: number; makeParents?: boolean }>;
  /** The task's become. */
  become?: boolean;
  /** Answers for ctx.prompt, in order. */
  answers?: string[];
  result?: {
    status: string;
    msg?: string;
    msgMatch?: string;
    data?: Record<string, unknown>;
    diff?: string;
    facts?: Record<string, unknown>;
    /** Texts that must appear nowhere in the result (msg, data, diff), e.g. a password. */
    not_contains?: string[];
  };
  /** The module must throw (or its schema must reject the args) with text containing this. */
  error?: string;
  /** Local files that must exist afterwards with this content. */
  localAfter?: Record<string, string>;
}

const subst = <T>(value: T, tmp: string): T => JSON.parse(JSON.stringify(value ?? null).replaceAll('@TMP@', tmp)) as T;

export function runModuleCases(mod: ModuleDef, casesDir: string): void {
  const files = readdirSync(casesDir).filter((f) => f.endsWith('.yaml')).sort();
  if (files.length === 0) throw new Error(`no cases in ${casesDir}`);
  for (const file of files) {
    const raw = parse(readFileSync(join(casesDir, file), 'utf8')) as ModuleCase;
    test(`${mod.name}: ${raw.description} (${file})`, async () => {
      const tmp = mkdtempSync(join(tmpdir(), `runbook-case-`));
      try {
        const c = subst(raw, tmp);
        for (const [name, content] of Object.entries(c.localFiles ?? {})) {
          mkdirSync(dirname(join(tmp, name)), { recursive: true });
          writeFileSync(join(tmp, name), content);
        }
        const conn = new FakeConnection(c.commands ?? []);
        for (const [p, content] of Object.entries(c.remoteFiles ?? {})) conn.remoteFiles.set(p, Buffer.from(content));
        const answers = [...(c.answers ?? [])];
        const ctx = createModuleContext({
          host: { name: 'h1', address: '198.19.0.10' },
          vars: c.vars ?? {},
          conn,
          check: c.check ?? false,
          diff: c.diff ?? false,
          become: c.become ?? false,
          baseDir: tmp,
          prompter: c.answers ? async () => answers.shift() ?? '' : undefined,
        });
        const run = async () => {
          const input = typeof c.args === 'string' && mod.freeForm ? { [mod.freeForm]: c.args } : c.args;
          const parsed = mod.schema.safeParse(input);
          if (!parsed.success) throw new Error(`invalid args: ${parsed.error.message}`);
          return mod.run(ctx, parsed.data);
        };
        if (c.error !== undefined) {
          await expect(run()).rejects.toThrow(c.error);
          return;
        }
        const result = await run();
        const want = c.result;
        if (!want) throw new Error(`case ${file} has neither result nor error`);
        expect(result.status, `status (msg: ${result.msg})`).toBe(want.status);
        if (want.msg !== undefined) expect(result.msg).toContain(want.msg);
        if (want.msgMatch !== undefined) expect(result.msg).toMatch(new RegExp(want.msgMatch));
        if (want.data !== undefined) expect(result.data).toMatchObject(want.data);
        if (want.facts !== undefined) expect(result.facts).toMatchObject(want.facts);
        if (want.diff !== undefined) expect(result.diff ?? '').toContain(want.diff);
        for (const secret of want.not_contains ?? []) expect(JSON.stringify(result)).not.toContain(secret);
        conn.assertDone();
        const wantUploads = c.uploads ?? [];
        expect(conn.uploads.length, 'number of uploads').toBe(wantUploads.length);
        wantUploads.forEach((u, i) => {
          const got = conn.uploads[i]!;
          expect(got.remotePath).toMatch(new RegExp(u.path));
          if (u.content !== undefined) expect(got.content.toString()).toBe(u.content);
          if (u.mode !== undefined) expect(got.mode).toBe(u.mode);
          expect(got.makeParents, 'makeParents').toBe(u.makeParents ?? false);
        });
        for (const [name, content] of Object.entries(c.localAfter ?? {})) {
          expect(readFileSync(join(tmp, name), 'utf8')).toBe(content);
        }
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });
  }
}
