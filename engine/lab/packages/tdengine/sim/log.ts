// Log lines in the shape of taosd's (`MM/DD hh:mm:ss.uuuuuu PID MODULE level
// message`), written to <logDir>/taosdlog.0, because the document's
// troubleshooting starts with "check the log" and playbooks show its tail.
// Writes are synchronous so the last line before a failed start is on disk.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { appendLine, clock, Echo, pad } from '../../sim-common/log.js';

export function logTime(d = new Date()): string {
  const c = clock(d);
  return `${c.month}/${c.day} ${c.hour}:${c.minute}:${c.second}.${c.milli}000`;
}

/** `2024-05-01 10:50:42.673`, as show dnodes prints create_time. */
export function tableTime(ms: number): string {
  const c = clock(new Date(ms));
  return `${c.year}-${c.month}-${c.day} ${c.hour}:${c.minute}:${c.second}.${c.milli}`;
}

export class Log {
  private readonly file: string;
  private readonly echo: Echo;

  constructor(dir: string, name: string, echo: boolean) {
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, name);
    // A daemon whose terminal went away must keep running.
    this.echo = new Echo(echo);
  }

  get path(): string {
    return this.file;
  }

  write(level: 'INFO' | 'WARN' | 'ERROR', module: string, message: string): void {
    const line = `${logTime()} ${pad(process.pid, 8)} ${module.padEnd(3)} ${level.padEnd(5)} ${message}\n`;
    // A full or removed log folder must not take the dnode down.
    appendLine([this.file], line);
    this.echo.write(line);
  }

  info(module: string, message: string): void {
    this.write('INFO', module, message);
  }
  warn(module: string, message: string): void {
    this.write('WARN', module, message);
  }
  error(module: string, message: string): void {
    this.write('ERROR', module, message);
  }
}
