// Log lines in the shape of DolphinDB's (`2024-01-31 10:26:41.612048 <INFO> :text`),
// written synchronously to the -logFile, so the line that explains a failed
// start is on disk before the process exits. The document's troubleshooting
// starts with "open the node's log under clusterDemo/log".

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { appendLine, clock } from '../../sim-common/log.js';

function stamp(d = new Date()): string {
  const c = clock(d);
  return `${c.year}-${c.month}-${c.day} ${c.hour}:${c.minute}:${c.second}.${c.milli}000`;
}

export class Log {
  private readonly seen = new Set<string>();

  constructor(readonly path: string) {
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch {
      // Reported by the first write.
    }
  }

  write(level: 'INFO' | 'WARNING' | 'ERROR', text: string): void {
    const line = `${stamp()} <${level}> :${text}\n`;
    // A missing log folder must not hide the message entirely.
    if (!appendLine([this.path], line)) process.stderr.write(line);
  }

  info(text: string): void {
    this.write('INFO', text);
  }
  warn(text: string): void {
    this.write('WARNING', text);
  }
  error(text: string): void {
    this.write('ERROR', text);
  }

  /** Log `text` only the first time it comes up until `forget(key)` (heartbeat failures repeat every beat). */
  once(key: string, level: 'INFO' | 'WARNING' | 'ERROR', text: string): void {
    if (this.seen.has(`${key}\0${text}`)) return;
    this.forget(key);
    this.seen.add(`${key}\0${text}`);
    this.write(level, text);
  }

  forget(key: string): void {
    for (const k of this.seen) if (k.startsWith(`${key}\0`)) this.seen.delete(k);
  }
}
