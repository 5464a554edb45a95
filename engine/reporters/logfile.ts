// Every run writes a timestamped log (plain format, verbose, no colour).

import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { RunEvent } from '../events.js';
import { runbookHome } from '../paths.js';
import { secretMasker } from '../secret.js';
import { PlainReporter } from './plain.js';

export class LogFileReporter {
  readonly path: string;
  private readonly fd: number;
  private readonly plain: PlainReporter;

  constructor(playbookPath: string, dir = join(runbookHome(), 'logs')) {
    mkdirSync(dir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 23);
    this.path = join(dir, `${stamp}-${basename(playbookPath).replace(/\.ya?ml$/, '')}.log`);
    this.fd = openSync(this.path, 'a', 0o600);
    this.plain = new PlainReporter((line) => writeSync(this.fd, secretMasker.mask(line) + '\n'), { color: false }, true);
  }

  handle(e: RunEvent): void {
    if (e.type === 'run_start') writeSync(this.fd, `# ${e.time} runbook run of ${e.playbook} with inventory ${e.inventory}\n`);
    this.plain.handle(e);
  }

  close(): void {
    closeSync(this.fd);
  }
}
