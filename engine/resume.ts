// `runbook play … --resume [run-id]`: pick up an earlier run's journal, check
// that it still describes the same work, and tell the scheduler which
// host×task results it may skip.
//
// A task is known by its position, not its name (names repeat, imports bring
// the same file in twice): "<play>.<task>" over the play's task list after
// imports are expanded, "<play>.h<handler>" for handlers, both counted from 1,
// and for one item of a loop also the item's position and a digest of its
// value. Positions only mean the same thing while the files are the same, so a
// resume is refused when the playbook, any file it imports or the inventory
// has a different sha256 than the journal recorded, and when the run is asked
// for a different selection (tags, limit, -e, --check, --force, --yes).
//
// What may be skipped: results that succeeded (ok, changed, skipped). Their
// registered data and facts come back from the journal, so later tasks that
// read them still work. A result that holds a secret (or that no_log hid) was
// never written to the journal, so that task runs again and says why.

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from './errors.js';
import type { HostStatus } from './events.js';
import {
  digestFile,
  extraVarsDigest,
  JOURNAL_FILE,
  readJournal,
  readJournalHeader,
  realPath,
  RUN_ID,
  runsDir,
  selectionOf,
  type JournalFile,
  type JournalHeader,
  type RunSelection,
  type SelectionInput,
} from './journal.js';

/** What an earlier run left for one host×task (or one loop item). */
export interface PriorResult {
  runId: string;
  status: HostStatus;
  ignored: boolean;
  msg: string;
  restorable: boolean;
  whyNot?: string | undefined;
  registered: Record<string, unknown>;
  facts?: Record<string, unknown> | undefined;
}

export interface ResumeRequest {
  /** A run id, or undefined for the last run of this playbook with this inventory. */
  runId?: string | undefined;
  home?: string | undefined;
  playbookPath: string;
  playbookFiles: string[];
  inventoryPath: string;
  selection: SelectionInput;
}

export class ResumePlan {
  readonly fromRunId: string;
  readonly journalPath: string;
  /** How many host×task results the journal holds as done. */
  readonly done: number;
  readonly #tasks = new Map<string, PriorResult>();
  readonly #items = new Map<string, PriorResult & { key: string }>();

  constructor(journal: JournalFile) {
    this.fromRunId = journal.header.run_id;
    this.journalPath = journal.path;
    for (const r of journal.records) {
      if (r.type !== 'task_state') continue;
      const prior: PriorResult = {
        // A restored result keeps naming the run that really did the work.
        runId: r.restored_from ?? journal.header.run_id,
        status: r.status,
        ignored: r.ignored ?? false,
        msg: r.msg,
        restorable: r.restorable,
        whyNot: r.why_not,
        registered: r.registered ?? {},
        facts: r.facts,
      };
      if (r.item) this.#items.set(itemSlot(r.host, r.task_id, r.item.index), { ...prior, key: r.item.key });
      else this.#tasks.set(taskSlot(r.host, r.task_id), prior);
    }
    this.done = [...this.#tasks.values()].filter(succeeded).length;
  }

  /** The earlier result of a task on a host, if the journal has one. */
  task(host: string, taskId: string): PriorResult | undefined {
    return this.#tasks.get(taskSlot(host, taskId));
  }

  /** The earlier result of loop item `index`, if the item is still the same value. */
  item(host: string, taskId: string, index: number, key: string): PriorResult | undefined {
    const prior = this.#items.get(itemSlot(host, taskId, index));
    return prior && prior.key === key ? prior : undefined;
  }
}

/** Ok, changed or skipped, and not a failure that ignore_errors let pass. */
export function succeeded(p: Pick<PriorResult, 'status' | 'ignored'>): boolean {
  return (p.status === 'ok' || p.status === 'changed' || p.status === 'skipped') && !p.ignored;
}

const taskSlot = (host: string, taskId: string) => `${host}\0${taskId}`;
const itemSlot = (host: string, taskId: string, index: number) => `${host}\0${taskId}\0${index}`;

/** Finds the journal to resume and checks that it is safe to reuse; InputError (exit 2) when not. */
export function planResume(req: ResumeRequest): ResumePlan {
  const journal = findJournal(req);
  checkSameWork(journal, req);
  return new ResumePlan(journal);
}

function findJournal(req: ResumeRequest): JournalFile {
  const dir = runsDir(req.home);
  const playbook = realPath(req.playbookPath);
  const inventory = realPath(req.inventoryPath);
  if (req.runId !== undefined) {
    const id = req.runId;
    const path = join(dir, id, JOURNAL_FILE);
    if (!RUN_ID.test(id) || !existsSync(path)) {
      const mine = runsOf(dir, playbook, inventory).slice(0, 5).map((h) => h.run_id);
      throw new InputError(`--resume ${id}: there is no run ${id} in ${dir}`, {
        hint: mine.length
          ? `recent runs of this playbook with this inventory: ${mine.join(', ')} (or give --resume alone for the last one)`
          : 'give --resume without an id to resume the last run of this playbook with this inventory',
      });
    }
    const journal = load(path);
    if (journal.header.playbook.path !== playbook || journal.header.inventory.path !== inventory) {
      throw new InputError(
        `cannot resume run ${id}: it ran ${journal.header.playbook.path} with inventory ${journal.header.inventory.path}, ` +
          `not ${playbook} with ${inventory}`,
        { hint: 'resume a run with the same playbook and inventory it was started with' },
      );
    }
    return journal;
  }
  const last = runsOf(dir, playbook, inventory)[0];
  if (!last) {
    throw new InputError(`nothing to resume: no earlier run of ${playbook} with inventory ${inventory} in ${dir}`, {
      hint: 'run it without --resume',
    });
  }
  return load(join(dir, last.run_id, JOURNAL_FILE));
}

/** Runs of this playbook and inventory, newest first. */
export function runsOf(dir: string, playbook: string, inventory: string): JournalHeader[] {
  if (!existsSync(dir)) return [];
  const out: JournalHeader[] = [];
  for (const id of readdirSync(dir)) {
    if (!RUN_ID.test(id)) continue;
    const h = readJournalHeader(join(dir, id, JOURNAL_FILE));
    if (h && h.playbook.path === playbook && h.inventory.path === inventory) out.push(h);
  }
  return out.sort((a, b) => b.started.localeCompare(a.started) || b.run_id.localeCompare(a.run_id));
}

function load(path: string): JournalFile {
  try {
    return readJournal(path);
  } catch (err) {
    throw new InputError(`cannot resume from ${path}: ${(err as Error).message}`, {
      hint: 'the journal is damaged; run without --resume to start over',
    });
  }
}

/** Refuses, naming every difference, when the journal's run was made of other files or asked for other things. */
function checkSameWork(journal: JournalFile, req: ResumeRequest): void {
  const h = journal.header;
  const changed: string[] = [];
  const now = new Map(req.playbookFiles.map((f) => [realPath(f), f]));
  for (const f of h.playbook.files) {
    if (!existsSync(f.path)) {
      changed.push(`${f.path} was removed (sha256 ${short(f.sha256)} then)`);
      continue;
    }
    const cur = digestFile(f.path).sha256;
    if (cur !== f.sha256) changed.push(`${f.path} changed (sha256 ${short(f.sha256)} then, ${short(cur)} now)`);
    now.delete(f.path);
  }
  for (const f of now.keys()) changed.push(`${f} is imported now but was not then`);
  const inv = existsSync(h.inventory.path) ? digestFile(h.inventory.path).sha256 : undefined;
  if (inv !== h.inventory.sha256) {
    changed.push(`inventory ${h.inventory.path} ${inv ? `changed (sha256 ${short(h.inventory.sha256)} then, ${short(inv)} now)` : 'was removed'}`);
  }
  if (changed.length > 0) {
    throw new InputError(`cannot resume run ${h.run_id}: ${changed.length === 1 ? 'a file it ran from has' : `${changed.length} files it ran from have`} changed since:\n  ${changed.join('\n  ')}`, {
      hint:
        'the journal records task results by their position in these files, so it cannot be matched to the tasks any more; ' +
        'run without --resume to start over (or put the files back as they were)',
    });
  }

  const want = selectionOf(req.selection, h.salt);
  const diffs = selectionDiffs(h.selection, want, req.selection.extraVars ?? {}, h.salt);
  if (diffs.length > 0) {
    throw new InputError(`cannot resume run ${h.run_id}: it was started with other options:\n  ${diffs.join('\n  ')}`, {
      hint: `resume with the same options as the run you resume: ${describeSelection(h.selection)}`,
    });
  }
}

function selectionDiffs(then: RunSelection, now: RunSelection, extraVars: Record<string, unknown>, salt: string): string[] {
  const out: string[] = [];
  const list = (v: string[]) => (v.length ? v.join(',') : '(none)');
  const cmp = (name: string, a: string[], b: string[]) => {
    if (a.join('\0') !== b.join('\0')) out.push(`${name}: ${list(a)} then, ${list(b)} now`);
  };
  cmp('--tags', then.tags, now.tags);
  cmp('--skip-tags', then.skip_tags, now.skip_tags);
  cmp('--limit', then.limit, now.limit);
  for (const flag of ['check', 'force', 'yes'] as const) {
    if (then[flag] !== now[flag]) out.push(`--${flag}: ${then[flag] ? 'given' : 'not given'} then, ${now[flag] ? 'given' : 'not given'} now`);
  }
  if (then.extra_vars.names.join('\0') !== now.extra_vars.names.join('\0')) {
    out.push(`-e names: ${list(then.extra_vars.names)} then, ${list(now.extra_vars.names)} now`);
  } else if (then.extra_vars.digest !== extraVarsDigest(extraVars, salt)) {
    out.push(`-e values differ (${list(then.extra_vars.names)}; the journal keeps only a digest of them)`);
  }
  return out;
}

function describeSelection(s: RunSelection): string {
  const parts: string[] = [];
  if (s.tags.length) parts.push(`--tags ${s.tags.join(',')}`);
  if (s.skip_tags.length) parts.push(`--skip-tags ${s.skip_tags.join(',')}`);
  if (s.limit.length) parts.push(`--limit ${s.limit.join(',')}`);
  if (s.check) parts.push('--check');
  if (s.force) parts.push('--force');
  if (s.yes) parts.push('--yes');
  for (const n of s.extra_vars.names) parts.push(`-e ${n}=…`);
  return parts.length ? parts.join(' ') : 'no --tags, --skip-tags, --limit, -e, --check, --force or --yes';
}

const short = (sha: string) => `${sha.slice(0, 12)}…`;
