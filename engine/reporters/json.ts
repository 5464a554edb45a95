// One JSON object per line for every event (the format is documented in the README).

import type { RunEvent } from '../events.js';

export class JsonReporter {
  constructor(private readonly write: (line: string) => void) {}

  handle(e: RunEvent): void {
    this.write(JSON.stringify(e));
  }
}
