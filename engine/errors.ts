// One error hierarchy. Every error says what failed, where (file:line:col or
// host/task), why, and how to fix it. Messages never carry secrets: format()
// passes all text through the secret masker.

import { secretMasker } from './secret.js';

export interface SourceLocation {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  col: number;
  /** The text of the offending line, for the caret display. */
  lineText?: string;
}

export interface ErrorDetails {
  location?: SourceLocation | undefined;
  hint?: string | undefined;
  host?: string | undefined;
  task?: string | undefined;
  cause?: unknown;
}

export class RunbookError extends Error {
  readonly exitCode: number = 1;
  readonly location: SourceLocation | undefined;
  readonly hint: string | undefined;
  readonly host: string | undefined;
  readonly task: string | undefined;

  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.location = details.location;
    this.hint = details.hint;
    this.host = details.host;
    this.task = details.task;
  }

  /** The multi-line form shown to a person. */
  format(): string {
    const lines: string[] = [];
    const where = this.location ? `${this.location.file}:${this.location.line}:${this.location.col}: ` : '';
    const who = [this.host && `host ${this.host}`, this.task && `task "${this.task}"`].filter(Boolean).join(', ');
    lines.push(`${where}${who ? `[${who}] ` : ''}${this.message}`);
    if (this.location?.lineText !== undefined) {
      const gutter = `${this.location.line} | `;
      lines.push(`  ${gutter}${this.location.lineText}`);
      lines.push(`  ${' '.repeat(gutter.length)}${caretPad(this.location.lineText, this.location.col)}^`);
    }
    if (this.hint) lines.push(`hint: ${this.hint}`);
    return secretMasker.mask(lines.join('\n'));
  }
}

/** Keep tabs in the caret line so the caret sits under the right column. */
function caretPad(lineText: string, col: number): string {
  return lineText.slice(0, Math.max(0, col - 1)).replace(/[^\t]/g, ' ');
}

/** Bad input: a playbook, inventory, template or argument. Nothing was touched. */
export class InputError extends RunbookError {
  override readonly exitCode = 2;
}

/** Several input errors found in one validation pass, reported together. */
export class InputErrors extends InputError {
  constructor(readonly errors: InputError[]) {
    super(`${errors.length} problem${errors.length === 1 ? '' : 's'} found before connecting to any host`);
  }

  override format(): string {
    return this.errors.map((e) => e.format()).join('\n\n') + `\n\n${this.message}; nothing was touched.`;
  }
}

/** A host could not be reached or authenticated. */
export class UnreachableError extends RunbookError {}

/** A host key is unknown or changed. Never retried. */
export class HostKeyError extends UnreachableError {}

/** A task failed on a host. */
export class TaskFailedError extends RunbookError {}

/** The run was interrupted (SIGINT/SIGTERM). */
export class InterruptedError extends RunbookError {
  override readonly exitCode = 130;
}

/** Closest candidate to a misspelt word, if it is close enough to be a likely typo. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestScore) {
      bestScore = d;
      best = c;
    }
  }
  const limit = Math.max(1, Math.floor(word.length / 3));
  return best !== undefined && bestScore <= limit ? best : undefined;
}

export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

export function errorMessage(err: unknown): string {
  if (err instanceof RunbookError) return err.format();
  if (err instanceof Error) return secretMasker.mask(err.message);
  return secretMasker.mask(String(err));
}
