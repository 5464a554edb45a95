import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { createModuleContext } from '../../../engine/context.js';
import unzip from '../../../modules/unzip.js';
import upload from '../../../modules/upload.js';
import { FakeConnection, sha256 } from '../../support/fake-connection.js';

test('unzip does not hash again an archive that upload verified earlier in the run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runbook-reuse-'));
  try {
    writeFileSync(join(dir, 'pkg.zip'), 'zip bytes');
    const sum = sha256('zip bytes');
    const runCache = new Map<string, unknown>();
    const ctx = (conn: FakeConnection) =>
      createModuleContext({ host: { name: 'h1', address: '198.19.0.11' }, vars: {}, conn, baseDir: dir, runCache });

    // upload finds the remote file already there, by sha256 (the one hash on the host).
    const up = new FakeConnection([{ match: '^p=/opt/pkg\\.zip; .*sha256sum', stdout: `regular file|644|root|root|0|0|9\n${sum}  -\n` }]);
    expect((await upload.run(ctx(up), upload.schema.parse({ src: 'pkg.zip', dest: '/opt/pkg.zip' }))).status).toBe('ok');
    up.assertDone();

    // unzip's look at the archive uses that sum instead of running sha256sum.
    const un = new FakeConnection([{ match: `h=${sum}; echo "sha256 \\$h"`, stdout: `sha256 ${sum}\n/opt/app/.runbook-unzip\n` }]);
    const r = await unzip.run(ctx(un), unzip.schema.parse({ src: '/opt/pkg.zip', dest: '/opt', rename_to: 'app' }));
    expect(r.status).toBe('ok');
    expect(un.executed[0]!.command).not.toContain('sha256sum');
    un.assertDone();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
