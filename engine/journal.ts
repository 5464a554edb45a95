// The run journal: every `play` appends one JSON line per event to
// <runbook home>/runs/<run-id>/journal.ndjson (~/.runbook/runs/… unless
// RUNBOOK_HOME says otherwise). Its first line is a header that says what the
// run was made of (the sha256 of the playbook, of every file it imports and of
// the inventory, and the tag/limit/-e selection), so that `--resume` can tell
// whether the journal still describes the same work (engine/resume.ts).
//
// Like the log file it is only a listener on the event bus. Every line is
// written with write(2) when its event arrives, so a crash or kill of runbook
// loses nothing already reported; task results are also fdatasync'd, at most
// every SYNC_INTERVAL_MS (a sync per result costs ~0.5 ms, which adds up to
// seconds over thousands of host×task results) and off the event loop, and
// run_end and close() always sync before they return.
// Values are masked before they are serialised: masking the JSON text instead
// would miss a secret whose quotes or backslashes JSON escapes.

import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fdatasync, fdatasyncSync, mkdirSync, openSync, readFileSync, readSync, realpathSync, writeSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import type { RunEvent } from './events.js';
import { runbookHome } from './paths.js';
import { isSecret, secretMasker } from './secret.js';

export const JOURNAL_VERSION = 1;
export const JOURNAL_FILE = 'journal.ndjson';
const SYNC_INTERVAL_MS = 100;

export interface FileDigest {
  path: string;
  sha256: string;
}

/** What a run was asked to do; a resumed run must be asked the same. */
export interface RunSelection {
  tags: string[];
  skip_tags: string[];
  limit: string[];
  check: boolean;
  /** --force and --yes change what playbooks do (`when: runbook.force`, confirmations). */
  force: boolean;
  yes: boolean;
  /**
   * -e is kept as names and a salted digest of the values: the values may be
   * passwords, and the journal must never hold one.
   */
  extra_vars: { names: string[]; digest: string };
}

export interface JournalHeader {
  type: 'journal';
  version: number;
  run_id: string;
  started: string;
  pid: number;
  user: string;
  host: string;
  playbook: { path: string; files: FileDigest[] };
  inventory: FileDigest;
  selection: RunSelection;
  /** Random salt of the -e digest. */
  salt: string;
  resumed_from?: string | undefined;
}

/** A journal line after the header: an event with the time it was written. */
export type JournalRecord = RunEvent & { at: string };

export function runsDir(home = runbookHome()): string {
  return join(home, 'runs');
}

/** Sortable by time (UTC), unique enough for one controller: 20261122-080550-3f2a. */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}

export const RUN_ID = /^\d{8}-\d{6}-[0-9a-f]{4}$/;

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export function digestFile(path: string): FileDigest {
  const real = realPath(path);
  return { path: real, sha256: sha256File(real) };
}

export function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/** JSON with sorted keys, so equal values always give the same text (and digest). Secrets count by their value. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value, 0));
}

function canonical(v: unknown, depth: number): unknown {
  // Checked before JSON.stringify sees the value: it would call Secret.toJSON first and hash the mask.
  if (isSecret(v)) return { secret: v.reveal() };
  if (depth > 100 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => canonical(x, depth + 1));
  const o = v as Record<string, unknown>;
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, canonical(o[k], depth + 1)]));
}

export function extraVarsDigest(extraVars: Record<string, unknown>, salt: string): string {
  return createHash('sha256').update(salt).update('\0').update(canonicalJson(extraVars)).digest('hex');
}

export interface SelectionInput {
  tags?: string[] | undefined;
  skipTags?: string[] | undefined;
  limit?: string[] | undefined;
  check?: boolean | undefined;
  force?: boolean | undefined;
  yes?: boolean | undefined;
  extraVars?: Record<string, unknown> | undefined;
}

export function selectionOf(input: SelectionInput, salt: string): RunSelection {
  const sorted = (v: string[] | undefined) => [...new Set(v ?? [])].sort();
  const extra = input.extraVars ?? {};
  return {
    tags: sorted(input.tags),
    skip_tags: sorted(input.skipTags),
    limit: sorted(input.limit),
    check: input.check ?? false,
    force: input.force ?? false,
    yes: input.yes ?? false,
    extra_vars: { names: Object.keys(extra).sort(), digest: extraVarsDigest(extra, salt) },
  };
}

export interface JournalOptions {
  runId?: string | undefined;
  home?: string | undefined;
  playbookPath: string;
  /** The playbook and every file it imports. */
  playbookFiles: string[];
  inventoryPath: string;
  selection: SelectionInput;
  resumedFrom?: string | undefined;
}

/** Does the value hold a secret, as a Secret or as text the masker would hide? */
export function holdsSecret(value: unknown, depth = 0): boolean {
  if (depth > 100) return false;
  if (isSecret(value)) return true;
  if (typeof value === 'string') return secretMasker.mask(value) !== value;
  if (Array.isArray(value)) return value.some((v) => holdsSecret(v, depth + 1));
  if (value && typeof value === 'object') return Object.values(value).some((v) => holdsSecret(v, depth + 1));
  return false;
}

export class RunJournal {
  readonly runId: string;
  readonly dir: string;
  readonly path: string;
  readonly header: JournalHeader;
  #fd: number | undefined;
  #lastSync = 0;
  #syncTimer: NodeJS.Timeout | undefined;
  /** A background fdatasync is running; #syncAgain: results arrived since it started. */
  #syncing = false;
  #syncAgain = false;

  private constructor(runId: string, dir: string, header: JournalHeader, fd: number) {
    this.runId = runId;
    this.dir = dir;
    this.path = join(dir, JOURNAL_FILE);
    this.header = header;
    this.#fd = fd;
  }

  /** Creates runs/<run-id>/ and writes the header, synced, before the first task runs. */
  static create(o: JournalOptions): RunJournal {
    const runId = o.runId ?? newRunId();
    const dir = join(runsDir(o.home), runId);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const salt = randomBytes(16).toString('hex');
    const header: JournalHeader = {
      type: 'journal',
      version: JOURNAL_VERSION,
      run_id: runId,
      started: new Date().toISOString(),
      pid: process.pid,
      user: currentUser(),
      host: hostname(),
      playbook: { path: realPath(o.playbookPath), files: [...new Set(o.playbookFiles.map(realPath))].sort().map(digestFile) },
      inventory: digestFile(o.inventoryPath),
      selection: selectionOf(o.selection, salt),
      salt,
      resumed_from: o.resumedFrom,
    };
    // 'wx': a run id is never reused, not even by a clock that went backwards.
    const fd = openSync(join(dir, JOURNAL_FILE), 'wx', 0o600);
    const journal = new RunJournal(runId, dir, header, fd);
    journal.#write(header);
    fdatasyncSync(fd);
    journal.#lastSync = Date.now();
    return journal;
  }

  /** The bus listener. */
  handle(e: RunEvent): void {
    // Transfer progress is display only, and there can be thousands of them per upload.
    if (e.type === 'progress' || this.#fd === undefined) return;
    this.#write({ ...e, at: new Date().toISOString() });
    if (e.type === 'task_result' || e.type === 'task_state' || e.type === 'run_end') this.#sync(e.type === 'run_end');
  }

  /** Sync and close; safe to call twice and from a signal handler (everything here is synchronous). */
  close(): void {
    if (this.#fd === undefined) return;
    clearTimeout(this.#syncTimer);
    try {
      fdatasyncSync(this.#fd);
    } catch {
      // Closing anyway: the lines were written; only their trip to the disk is in doubt.
    }
    closeSync(this.#fd);
    this.#fd = undefined;
  }

  #write(value: unknown): void {
    if (this.#fd === undefined) return;
    const line = secretMasker.mask(JSON.stringify(secretMasker.maskValue(value))) + '\n';
    writeSync(this.#fd, line);
  }

  /**
   * fdatasync now (run_end, close) or soon. The periodic ones run on libuv's
   * thread pool: a sync waits for the disk, and while six lab hosts unpacked
   * 100 MB each onto the same disk the syncs held the event loop (every
   * connection's traffic) for 139 ms in all. The lines themselves are already
   * written; only their trip to the disk is deferred.
   */
  #sync(now: boolean): void {
    if (this.#fd === undefined) return;
    if (now) {
      clearTimeout(this.#syncTimer);
      this.#syncTimer = undefined;
      fdatasyncSync(this.#fd);
      this.#lastSync = Date.now();
      return;
    }
    if (this.#syncing) {
      this.#syncAgain = true;
      return;
    }
    const since = Date.now() - this.#lastSync;
    if (since >= SYNC_INTERVAL_MS) {
      clearTimeout(this.#syncTimer);
      this.#syncTimer = undefined;
      this.#syncInBackground();
      return;
    }
    this.#syncTimer ??= setTimeout(() => {
      this.#syncTimer = undefined;
      this.#syncInBackground();
    }, SYNC_INTERVAL_MS - since).unref();
  }

  #syncInBackground(): void {
    if (this.#fd === undefined) return;
    this.#syncing = true;
    this.#lastSync = Date.now();
    fdatasync(this.#fd, () => {
      // An error here (the journal closed meanwhile) changes nothing: close() syncs itself.
      this.#syncing = false;
      if (this.#syncAgain) {
        this.#syncAgain = false;
        this.#sync(false);
      }
    });
  }
}

export interface JournalFile {
  path: string;
  header: JournalHeader;
  records: JournalRecord[];
  /** The last line could not be read (runbook died while writing it); everything before it is used. */
  truncated: boolean;
}

/** Reads a journal; a torn last line (a crash mid-write) is dropped, any other bad line is an error. */
export function readJournal(path: string): JournalFile {
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const header = parseLine(lines[0], path, 1);
  if (!isHeader(header)) throw new Error(`${path}:1: not a runbook run journal (no header line)`);
  if (header.version !== JOURNAL_VERSION) throw new Error(`${path}:1: journal version ${header.version}; this runbook reads version ${JOURNAL_VERSION}`);
  const records: JournalRecord[] = [];
  let truncated = false;
  for (let i = 1; i < lines.length; i++) {
    const last = i === lines.length - 1;
    try {
      records.push(JSON.parse(lines[i]!) as JournalRecord);
    } catch (err) {
      if (!last || text.endsWith('\n')) throw new Error(`${path}:${i + 1}: unreadable journal line: ${(err as Error).message}`);
      truncated = true;
    }
  }
  return { path, header, records, truncated };
}

/** Only the header (the first line), for scanning many runs cheaply. */
export function readJournalHeader(path: string): JournalHeader | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const buf = Buffer.alloc(256 * 1024);
    const n = readSync(fd, buf);
    const first = buf.subarray(0, n).toString('utf8').split('\n')[0];
    const header = first ? (JSON.parse(first) as unknown) : undefined;
    return isHeader(header) ? header : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function parseLine(line: string | undefined, path: string, n: number): unknown {
  if (line === undefined) throw new Error(`${path} is empty`);
  try {
    return JSON.parse(line) as unknown;
  } catch (err) {
    throw new Error(`${path}:${n}: unreadable journal line: ${(err as Error).message}`);
  }
}

function isHeader(v: unknown): v is JournalHeader {
  return typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'journal' && typeof (v as { run_id?: unknown }).run_id === 'string';
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? String(process.getuid?.() ?? 'unknown');
  }
}
