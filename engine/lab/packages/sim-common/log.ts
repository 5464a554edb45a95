// How the simulators write their logs. The line formats are each product's
// own (playbooks and operators grep them) and stay in its sim/; what is shared
// is how a line reaches the disk and the terminal: synchronously, so the last
// line before a failed start's exit is on disk, and without ever taking the
// process down, since the real programs keep running when their log folder
// fills up or their terminal goes away.

import { appendFileSync } from 'node:fs';

export const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** The fields of a local time, zero-padded (the year as is), for each product's own stamp. */
export interface Clock {
  year: string;
  month: string;
  day: string;
  hour: string;
  minute: string;
  second: string;
  milli: string;
}

export function clock(d = new Date()): Clock {
  return {
    year: String(d.getFullYear()),
    month: pad(d.getMonth() + 1),
    day: pad(d.getDate()),
    hour: pad(d.getHours()),
    minute: pad(d.getMinutes()),
    second: pad(d.getSeconds()),
    milli: pad(d.getMilliseconds(), 3),
  };
}

/**
 * Append `line` to each file in order, synchronously. False when a write
 * failed (the files after it are not tried), for the caller to decide what a
 * lost line means; it never throws.
 */
export function appendLine(files: readonly string[], line: string): boolean {
  try {
    for (const f of files) appendFileSync(f, line);
    return true;
  } catch {
    return false;
  }
}

/**
 * Log lines copied to stdout, as a program in the foreground prints them.
 * Stops copying, instead of failing, once stdout is gone (ssh channel
 * closed, pipe reader exited).
 */
export class Echo {
  constructor(private on: boolean) {
    if (on) process.stdout.on('error', () => (this.on = false));
  }

  write(line: string): void {
    if (!this.on) return;
    try {
      process.stdout.write(line);
    } catch {
      this.on = false;
    }
  }
}
