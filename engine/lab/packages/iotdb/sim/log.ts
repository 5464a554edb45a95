// Log lines in the shape of IoTDB's logback pattern
// (`2024-01-02 03:04:05,678 [thread] LEVEL logger - message`), written to
// logs/log_<role>_all.log plus the warn/error files, because playbooks and
// operators grep these files to decide whether a node started.
//
// Writes are synchronous so the last line before a failed start's exit is
// always on disk.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { appendLine, clock, Echo } from '../../sim-common/log.js';

export type Level = 'INFO' | 'WARN' | 'ERROR';
export type Role = 'confignode' | 'datanode';

export function timestamp(d = new Date()): string {
  const c = clock(d);
  return `${c.year}-${c.month}-${c.day} ${c.hour}:${c.minute}:${c.second},${c.milli}`;
}

export class NodeLog {
  private readonly all: string;
  private readonly warnFile: string;
  private readonly errorFile: string;
  /** Foreground nodes also print to stdout, as IoTDB's console appender does. */
  private readonly echo: Echo;

  constructor(
    logsDir: string,
    role: Role,
    private readonly logger: string,
    echo: boolean,
  ) {
    // Java swallows write errors on System.out; a node whose terminal went
    // away (ssh channel closed, pipe reader gone) must keep running too.
    this.echo = new Echo(echo);
    mkdirSync(logsDir, { recursive: true });
    this.all = join(logsDir, `log_${role}_all.log`);
    this.warnFile = join(logsDir, `log_${role}_warn.log`);
    this.errorFile = join(logsDir, `log_${role}_error.log`);
  }

  write(level: Level, message: string, thread = 'main'): void {
    const line = `${timestamp()} [${thread}] ${level.padEnd(5)} ${this.logger} - ${message}\n`;
    const also = level === 'WARN' ? [this.warnFile] : level === 'ERROR' ? [this.errorFile] : [];
    // A full or removed logs/ must not take the node down; IoTDB keeps running too.
    appendLine([this.all, ...also], line);
    this.echo.write(line);
  }

  info(message: string, thread?: string): void {
    this.write('INFO', message, thread);
  }
  warn(message: string, thread?: string): void {
    this.write('WARN', message, thread);
  }
  error(message: string, thread?: string): void {
    this.write('ERROR', message, thread);
  }
}
