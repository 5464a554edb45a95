// Log lines in the shape of IoTDB's logback pattern
// (`2024-01-02 03:04:05,678 [thread] LEVEL logger - message`), written to
// logs/log_<role>_all.log plus the warn/error files, because playbooks and
// operators grep these files to decide whether a node started.
//
// Writes are synchronous so the last line before a failed start's exit is
// always on disk.

import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export type Level = 'INFO' | 'WARN' | 'ERROR';
export type Role = 'confignode' | 'datanode';

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

export function timestamp(d = new Date()): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())},${pad(d.getMilliseconds(), 3)}`;
}

export class NodeLog {
  private readonly all: string;
  private readonly warnFile: string;
  private readonly errorFile: string;

  constructor(
    logsDir: string,
    role: Role,
    private readonly logger: string,
    /** Foreground nodes also print to stdout, as IoTDB's console appender does. */
    private echo: boolean,
  ) {
    // Java swallows write errors on System.out; a node whose terminal went
    // away (ssh channel closed, pipe reader gone) must keep running too.
    if (echo) process.stdout.on('error', () => (this.echo = false));
    mkdirSync(logsDir, { recursive: true });
    this.all = join(logsDir, `log_${role}_all.log`);
    this.warnFile = join(logsDir, `log_${role}_warn.log`);
    this.errorFile = join(logsDir, `log_${role}_error.log`);
  }

  write(level: Level, message: string, thread = 'main'): void {
    const line = `${timestamp()} [${thread}] ${level.padEnd(5)} ${this.logger} - ${message}\n`;
    try {
      appendFileSync(this.all, line);
      if (level === 'WARN') appendFileSync(this.warnFile, line);
      if (level === 'ERROR') appendFileSync(this.errorFile, line);
    } catch {
      // A full or removed logs/ must not take the node down; IoTDB keeps running too.
    }
    if (this.echo) {
      try {
        process.stdout.write(line);
      } catch {
        this.echo = false;
      }
    }
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
