// Log lines in the shape of taosd's (`MM/DD hh:mm:ss.uuuuuu PID MODULE level
// message`), written to <logDir>/taosdlog.0, because the document's
// troubleshooting starts with "check the log" and playbooks show its tail.
// Writes are synchronous so the last line before a failed start is on disk.

import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

export function logTime(d = new Date()): string {
  return `${pad(d.getMonth() + 1)}/${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}000`;
}

/** `2024-05-01 10:50:42.673`, as show dnodes prints create_time. */
export function tableTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export class Log {
  private readonly file: string;

  constructor(
    dir: string,
    name: string,
    private echo: boolean,
  ) {
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, name);
    // A daemon whose terminal went away must keep running.
    if (echo) process.stdout.on('error', () => (this.echo = false));
  }

  get path(): string {
    return this.file;
  }

  write(level: 'INFO' | 'WARN' | 'ERROR', module: string, message: string): void {
    const line = `${logTime()} ${pad(process.pid, 8)} ${module.padEnd(3)} ${level.padEnd(5)} ${message}\n`;
    try {
      appendFileSync(this.file, line);
    } catch {
      // A full or removed log folder must not take the dnode down.
    }
    if (this.echo) {
      try {
        process.stdout.write(line);
      } catch {
        this.echo = false;
      }
    }
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
