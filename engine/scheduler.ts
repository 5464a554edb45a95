// The linear strategy: each task runs on all of a play's (batch's) hosts before
// the next task starts; hosts run in parallel up to --forks. A play with
// `strategy: free` lets each host go through the tasks on its own (freeBatch). A failing host
// stops for that host only (unless any_errors_fatal); an unreachable host is
// reported as unreachable. Handlers run once at the end of each batch for the
// hosts that notified them. Everything observable is an event on the bus.
//
// Interrupts: when the run's signal aborts, no new task or host is started;
// modules in flight see the abort through their context's signal (the
// transport kills the remote process group) and get `graceMs` to wind down,
// then the recap is emitted and the run returns exit code 130.
//
// Resume: with a ResumePlan, a host×task (or loop item) that an earlier run
// finished is not run again; its registered data and facts are restored and
// it is reported as skipped, naming that run.

import { createHash } from 'node:crypto';
import type { ModuleDef, ModuleResult } from './api.js';
import { delay, Semaphore } from './concurrency.js';
import type { Connection } from './connection/types.js';
import { createModuleContext, type Prompter } from './context.js';
import { InputError, InterruptedError, RunbookError, UnreachableError, errorMessage } from './errors.js';
import { emptyCounts, type EventBus, type HostCounts, type HostStatus } from './events.js';
import { evaluate, evaluateBool } from './expr.js';
import type { Inventory, InventoryHost } from './inventory/types.js';
import type { ModuleRegistry } from './playbook/load.js';
import type { Play, Playbook, Task } from './playbook/types.js';
import { secretMasker } from './secret.js';
import { selectTasks, type TagFilter } from './tags.js';
import { renderDeep, renderShell, renderString, type RenderContext } from './template.js';
import { resolvePlayHosts, selectHosts } from './inventory/select.js';
import { canonicalJson, holdsSecret } from './journal.js';
import { succeeded, type PriorResult, type ResumePlan } from './resume.js';

export const DEFAULT_FORKS = 50;
/** Seconds a task may run when neither it nor --task-timeout says otherwise. */
export const DEFAULT_TASK_TIMEOUT_S = 3600;
/** After an interrupt, how long modules in flight may take to stop before the recap. */
export const DEFAULT_GRACE_MS = 1500;

export interface RunOptions {
  inventory: Inventory;
  playbook: Playbook;
  modules: ModuleRegistry;
  bus: EventBus;
  /** Opens (or reuses) the connection to a host. */
  connect: (host: InventoryHost) => Promise<Connection>;
  tags?: TagFilter | undefined;
  limit?: string[] | undefined;
  extraVars?: Record<string, unknown> | undefined;
  check?: boolean | undefined;
  diff?: boolean | undefined;
  forks?: number | undefined;
  /** Seconds any task may run unless it sets its own timeout (default an hour; 0: no limit). */
  taskTimeout?: number | undefined;
  yes?: boolean | undefined;
  force?: boolean | undefined;
  verbose?: boolean | undefined;
  prompter?: Prompter | undefined;
  signal?: AbortSignal | undefined;
  /**
   * Called once with every host the run will touch, before the first task:
   * the CLI dials them all in parallel here, so unknown host keys are
   * recorded together before any parallel work starts.
   */
  beforeTasks?: ((hosts: InventoryHost[]) => Promise<unknown>) | undefined;
  /** Results of an earlier run to skip (`--resume`). */
  resume?: ResumePlan | undefined;
  /** Recorded in run_start, so listeners (the journal) know the run. */
  runId?: string | undefined;
  /** See DEFAULT_GRACE_MS. */
  graceMs?: number | undefined;
}

export interface RunSummary {
  exitCode: number;
  counts: Record<string, HostCounts>;
  durationMs: number;
}

interface HostState {
  host: InventoryHost;
  /** set_fact, facts and registered results: above play vars, below -e. */
  facts: Record<string, unknown>;
  failed: boolean;
  unreachable: boolean;
  notified: Set<string>;
  counts: HostCounts;
}

interface Outcome {
  status: HostStatus;
  msg: string;
  ignored?: boolean;
  registered: Record<string, unknown>;
  diff?: string | undefined;
  facts?: Record<string, unknown> | undefined;
  /** Taken from an earlier run's journal instead of being run: that run and what it reported then. */
  restored?: { runId: string; status: HostStatus; msg: string } | undefined;
}

export const LOCALHOST: InventoryHost = {
  name: 'localhost',
  address: '127.0.0.1',
  port: 0,
  user: process.env.USER ?? 'root',
  auth: {},
  connection: 'local',
  groups: [],
  vars: {},
  aliases: [],
};

export async function runPlaybook(o: RunOptions): Promise<RunSummary> {
  return new Scheduler(o).run();
}

class Scheduler {
  private readonly states = new Map<string, HostState>();
  private readonly runCache = new Map<string, unknown>();
  private readonly started = Date.now();
  private readonly signal: AbortSignal;
  private hostvarsSnapshot: Record<string, Record<string, unknown>> | undefined;
  /** An any_errors_fatal play failed: no further play runs. */
  private fatal = false;
  /** Each task's identity: see taskIds(). */
  private readonly ids: Map<Task, string>;
  private graceOver: Promise<void> | undefined;

  constructor(private readonly o: RunOptions) {
    this.signal = o.signal ?? new AbortController().signal;
    for (const h of o.inventory.hosts.values()) {
      this.states.set(h.name, { host: h, facts: {}, failed: false, unreachable: false, notified: new Set(), counts: emptyCounts() });
    }
    this.ids = taskIds(o.playbook);
  }

  async run(): Promise<RunSummary> {
    const { bus } = this.o;
    const limited = this.o.limit?.length ? new Set(selectHosts(this.o.inventory, this.o.limit)) : undefined;
    const playHosts = this.o.playbook.plays.map((p) => resolvePlayHosts(this.o.inventory, p.hosts).filter((h) => !limited || limited.has(h)));
    const allHosts = [...new Set(playHosts.flat())];
    bus.emit({
      type: 'run_start',
      playbook: this.o.playbook.path,
      inventory: this.o.inventory.path,
      hosts: allHosts,
      check: this.o.check ?? false,
      time: new Date(this.started).toISOString(),
      run_id: this.o.runId,
      resumed_from: this.o.resume?.fromRunId,
    });
    let interrupted = false;
    try {
      if (this.o.beforeTasks) {
        const dial = allHosts.filter((h) => this.needsConnection(h, playHosts));
        // Dialing is not abortable; an interrupt stops the wait, and the CLI closes what did connect.
        if (dial.length > 0) await Promise.race([this.o.beforeTasks(dial.map((h) => this.states.get(h)!.host)), this.afterAbort(0)]);
        this.checkInterrupted();
      }
      for (const [i, play] of this.o.playbook.plays.entries()) {
        await this.play(play, playHosts[i]!);
        // any_errors_fatal ends the run, not just its play: later plays often
        // act on the hosts the failed play was guarding (as in Ansible).
        if (this.fatal) break;
      }
    } catch (err) {
      if (!(err instanceof InterruptedError) && !this.signal.aborted) throw err;
      interrupted = true;
    }
    const counts = Object.fromEntries(allHosts.map((h) => [h, this.states.get(h)!.counts]));
    const durationMs = Date.now() - this.started;
    bus.emit({ type: 'recap', hosts: counts, duration_ms: durationMs });
    const anyBad = allHosts.some((h) => {
      const s = this.states.get(h)!;
      return s.failed || s.unreachable;
    });
    const exitCode = interrupted || this.signal.aborted ? 130 : anyBad ? 1 : 0;
    return { exitCode, counts, durationMs };
  }

  /**
   * Whether a host has a task that reaches it: one whose module is not local
   * and that a resumed run cannot restore. A host whose work is all in the
   * journal is not dialed, so resuming does not wait on a host that is down
   * but already done. Nor does a task delegated elsewhere, or one whose
   * `when` is already false before any task ran (e.g. `!runbook.force`):
   * a forced scale-in of a lost machine must not wait on dialing it.
   */
  private needsConnection(host: string, playHosts: string[][]): boolean {
    const state = this.states.get(host)!;
    return this.o.playbook.plays.some(
      (play, i) =>
        playHosts[i]!.includes(host) &&
        selectTasks(play.tasks, this.o.tags).some((t) => {
          if (this.o.modules.get(t.module)?.local || t.delegateTo) return false;
          const prior = this.o.resume?.task(host, this.id(t));
          if (prior && succeeded(prior) && prior.restorable) return false;
          return !this.falseFromTheStart(play, t, state);
        }),
    );
  }

  /** Whether one of the task's conditions is false with nothing run yet; one that needs results counts as not false. */
  private falseFromTheStart(play: Play, task: Task, state: HostState): boolean {
    if (task.when.length === 0) return false;
    try {
      const vars = this.varsFor(play, task, state);
      return task.when.some((c) => {
        try {
          return evaluateBool(c, vars, task.location) === false;
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  }

  private async play(play: Play, hosts: string[]): Promise<void> {
    const tasks = selectTasks(play.tasks, this.o.tags);
    const batches = batchesOf(hosts, play.serial);
    for (const [bi, batch] of batches.entries()) {
      this.o.bus.emit({
        type: 'play_start',
        play: play.name,
        hosts: batch,
        tasks: tasks.map((t) => t.name),
        batch: batches.length > 1 ? { index: bi + 1, count: batches.length, hosts: batch } : undefined,
        strategy: play.strategy === 'free' ? 'free' : undefined,
      });
      const aborted = play.strategy === 'free' ? await this.freeBatch(play, tasks, batch) : await this.linearBatch(play, tasks, batch);
      if (aborted) {
        // One failure ends the play for every host, as documented for rolling work.
        for (const h of batch) this.states.get(h)!.failed ||= !this.states.get(h)!.unreachable;
        this.fatal = true;
      }
      if (!aborted) await this.handlers(play, batch);
      this.o.bus.emit({ type: 'play_end', play: play.name });
      if (aborted) break;
    }
  }

  /** Each task on every host of the batch before the next task. Returns whether any_errors_fatal ended the play. */
  private async linearBatch(play: Play, tasks: Task[], batch: string[]): Promise<boolean> {
    for (const task of tasks) {
      const active = this.active(batch);
      if (active.length === 0) break;
      const failedBefore = new Set(batch.filter((h) => this.states.get(h)!.failed));
      await this.task(play, task, active);
      if (play.anyErrorsFatal && batch.some((h) => this.states.get(h)!.failed && !failedBefore.has(h))) return true;
    }
    return false;
  }

  /**
   * The free strategy: every host of the batch goes through the task list on
   * its own (up to --forks hosts at once), so a host that finished its upload
   * unpacks while others still upload. A task is announced when its first
   * host reaches it. What stays shared: `run_once` runs on the first host to
   * get there, and the hosts behind it wait for that result; `throttle` and
   * `per_machine: serial` hold per task; with any_errors_fatal a failure stops
   * every host before its next task. Handlers run once every host is through.
   */
  private async freeBatch(play: Play, tasks: Task[], batch: string[]): Promise<boolean> {
    const announced = new Set<Task>();
    const once = new Map<Task, Promise<Outcome>>();
    const throttles = new Map<Task, Semaphore>();
    const machines = new Map<string, Semaphore>();
    let fatal = false;
    const announce = (task: Task) => {
      if (announced.has(task)) return;
      announced.add(task);
      const hosts = task.runOnce ? this.active(batch).slice(0, 1) : this.active(batch);
      this.o.bus.emit({ type: 'task_start', play: play.name, task: task.name, task_id: this.id(task), module: task.module, hosts });
    };
    const runTask = async (task: Task, h: string): Promise<void> => {
      const state = this.states.get(h)!;
      if (task.runOnce) {
        const first = !once.has(task);
        if (first) once.set(task, this.onHost(play, task, h));
        const outcome = await once.get(task)!;
        if (!first) {
          if (task.register) state.facts[task.register] = outcome.registered;
          if (outcome.facts) mergeFacts(state.facts, outcome.facts);
        }
        return;
      }
      const gates: Semaphore[] = [];
      if (task.throttle !== undefined) gates.push(gateFor(throttles, task, task.throttle));
      if (task.perMachine === 'serial') gates.push(gateFor(machines, `${this.id(task)}\0${machineKey(state.host)}`, 1));
      const releases: Array<() => void> = [];
      try {
        for (const g of gates) releases.push(await g.acquire(this.signal));
        this.checkInterrupted();
        await this.onHost(play, task, h);
      } finally {
        for (const r of releases) r();
      }
    };
    await this.forEach(batch, this.o.forks ?? DEFAULT_FORKS, async (h) => {
      const state = this.states.get(h)!;
      for (const task of tasks) {
        if (fatal || state.failed || state.unreachable) return;
        this.checkInterrupted();
        announce(task);
        // Cached hostvars are only good until the next result lands, and in a free play that is any moment.
        this.hostvarsSnapshot = undefined;
        const failedBefore = state.failed;
        await runTask(task, h);
        if (play.anyErrorsFatal && state.failed && !failedBefore) fatal = true;
      }
    });
    return fatal;
  }

  private active(hosts: string[]): string[] {
    return hosts.filter((h) => {
      const s = this.states.get(h)!;
      return !s.failed && !s.unreachable;
    });
  }

  private async handlers(play: Play, batch: string[]): Promise<void> {
    for (const handler of play.handlers) {
      const names = [handler.name, ...handler.listen];
      const hosts = this.active(batch).filter((h) => names.some((n) => this.states.get(h)!.notified.has(n)));
      if (hosts.length === 0) continue;
      this.o.bus.emit({ type: 'handler_start', play: play.name, handler: handler.name, hosts });
      await this.task(play, handler, hosts, false);
    }
    for (const h of batch) this.states.get(h)!.notified.clear();
  }

  private async task(play: Play, task: Task, hosts: string[], announce = true): Promise<void> {
    this.checkInterrupted();
    this.hostvarsSnapshot = undefined;
    if (announce) {
      this.o.bus.emit({ type: 'task_start', play: play.name, task: task.name, task_id: this.id(task), module: task.module, hosts: task.runOnce ? hosts.slice(0, 1) : hosts });
    }
    if (task.runOnce) {
      const first = hosts[0]!;
      const outcome = await this.onHost(play, task, first);
      // The one result stands for every host: register it everywhere.
      if (task.register) for (const h of hosts) this.states.get(h)!.facts[task.register] = outcome.registered;
      for (const h of hosts.slice(1)) if (outcome.facts) mergeFacts(this.states.get(h)!.facts, outcome.facts);
      return;
    }
    const forks = Math.min(this.o.forks ?? DEFAULT_FORKS, task.throttle ?? Infinity);
    if (task.perMachine === 'serial') {
      // Nodes that share a machine take turns (one upload, one unzip); machines run in parallel.
      const byMachine = new Map<string, string[]>();
      for (const h of hosts) {
        const key = machineKey(this.states.get(h)!.host);
        byMachine.set(key, [...(byMachine.get(key) ?? []), h]);
      }
      await this.forEach([...byMachine.values()], forks, async (group) => {
        for (const h of group) {
          this.checkInterrupted();
          await this.onHost(play, task, h);
        }
      });
      return;
    }
    await this.forEach(hosts, forks, (h) => this.onHost(play, task, h));
  }

  /**
   * `fn` over items, at most `limit` at once. Unlike a plain parallel map it
   * does not return while calls are still running: after an interrupt it
   * starts nothing new and waits for the calls in flight to stop, but no
   * longer than the grace period.
   */
  private async forEach<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
    let next = 0;
    let failure: { err: unknown } | undefined;
    const worker = async (): Promise<void> => {
      while (next < items.length && !failure && !this.signal.aborted) {
        const item = items[next++]!;
        try {
          await fn(item);
        } catch (err) {
          failure ??= { err };
        }
      }
    };
    const workers = Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
    await Promise.race([workers, this.afterAbort(this.o.graceMs ?? DEFAULT_GRACE_MS)]);
    this.checkInterrupted();
    if (failure) throw failure.err;
  }

  /** Resolves `ms` after the run's signal aborts (never, if it does not). */
  private afterAbort(ms: number): Promise<void> {
    if (ms === 0) {
      return new Promise((resolve) => {
        if (this.signal.aborted) resolve();
        else this.signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    this.graceOver ??= new Promise((resolve) => {
      const start = () => void setTimeout(resolve, ms).unref();
      if (this.signal.aborted) start();
      else this.signal.addEventListener('abort', start, { once: true });
    });
    return this.graceOver;
  }

  private id(task: Task): string {
    return this.ids.get(task) ?? '?';
  }

  private async onHost(play: Play, task: Task, hostName: string): Promise<Outcome> {
    const state = this.states.get(hostName)!;
    const started = Date.now();
    const prior = this.o.resume?.task(hostName, this.id(task));
    if (prior && succeeded(prior) && prior.restorable) {
      const outcome = restoredOutcome(prior);
      this.record(play, task, state, outcome, 0);
      return outcome;
    }
    let outcome: Outcome;
    try {
      outcome = await this.execute(play, task, state);
    } catch (err) {
      if (this.signal.aborted) {
        // Cut off in the middle: reported (and journaled) as not done, so a resume runs it again.
        const msg = 'interrupted before it finished';
        this.record(play, task, state, { status: 'failed', msg, registered: { status: 'failed', failed: true, changed: false, skipped: false, msg } }, Date.now() - started);
        throw new InterruptedError('interrupted');
      }
      outcome = { status: err instanceof UnreachableError ? 'unreachable' : 'failed', msg: errorMessage(err), registered: {} };
      outcome.registered = { status: outcome.status, failed: true, changed: false, skipped: false, msg: outcome.msg };
    }
    if (outcome.status === 'failed' && task.ignoreErrors) outcome.ignored = true;
    if (prior && succeeded(prior) && !prior.restorable) {
      outcome.msg = `run again, not restored from run ${prior.runId} (${prior.whyNot ?? 'its result was not kept'}): ${outcome.msg}`;
    }
    this.record(play, task, state, outcome, Date.now() - started);
    return outcome;
  }

  private record(play: Play, task: Task, state: HostState, outcome: Outcome, durationMs: number): void {
    if (task.register) state.facts[task.register] = outcome.registered;
    if (outcome.facts) mergeFacts(state.facts, outcome.facts);
    // A restored change still owes its handlers, unless the journal shows they ran (then they are restored too).
    if ((outcome.restored?.status ?? outcome.status) === 'changed') for (const n of task.notify) state.notified.add(n);
    if (outcome.status === 'unreachable') state.unreachable = true;
    if (outcome.status === 'failed' && !outcome.ignored) state.failed = true;
    if (outcome.ignored) state.counts.ignored++;
    else state.counts[outcome.status]++;
    const hidden = task.noLog;
    this.emitState(play, task, state, outcome, undefined);
    this.o.bus.emit({
      type: 'task_result',
      play: play.name,
      task: task.name,
      task_id: this.id(task),
      host: state.host.name,
      status: outcome.status,
      msg: hidden ? '(output hidden by no_log)' : secretMasker.mask(outcome.msg),
      duration_ms: durationMs,
      ignored: outcome.ignored,
      diff: hidden || !outcome.diff ? undefined : secretMasker.mask(outcome.diff),
      data: this.o.verbose && !hidden ? (secretMasker.maskValue(outcome.registered) as Record<string, unknown>) : undefined,
      restored_from: outcome.restored?.runId,
    });
  }

  /** What the journal needs to restore this result later (see the task_state event). */
  private emitState(play: Play, task: Task, state: HostState, outcome: Outcome, item: { index: number; key: string; value: unknown } | undefined): void {
    const status = outcome.restored?.status ?? outcome.status;
    const msg = outcome.restored?.msg ?? outcome.msg;
    const registered = task.register || item ? outcome.registered : undefined;
    let whyNot: string | undefined;
    if (!succeeded({ status, ignored: outcome.ignored ?? false })) whyNot = outcome.ignored ? 'its failure was ignored' : `it ${status === 'unreachable' ? 'was unreachable' : 'failed'}`;
    else if (task.noLog && (registered !== undefined || !isEmpty(outcome.facts))) whyNot = 'no_log keeps its registered data out of the journal';
    else if (holdsSecret(registered) || holdsSecret(outcome.facts) || (item && holdsSecret(item.value))) {
      whyNot = 'it registered a secret value, which the journal never keeps';
    }
    const keep = whyNot === undefined;
    this.o.bus.emit({
      type: 'task_state',
      play: play.name,
      task: task.name,
      task_id: this.id(task),
      host: state.host.name,
      item: item ? { index: item.index, key: item.key } : undefined,
      status,
      ignored: outcome.ignored,
      msg: task.noLog ? '(output hidden by no_log)' : secretMasker.mask(msg),
      restorable: keep,
      why_not: whyNot,
      registered: keep && registered ? (secretMasker.maskValue(registered) as Record<string, unknown>) : undefined,
      facts: keep && !isEmpty(outcome.facts) ? (secretMasker.maskValue(outcome.facts) as Record<string, unknown>) : undefined,
      restored_from: outcome.restored?.runId,
    });
  }

  /** The variables a task sees on a host, lowest precedence first. */
  private varsFor(play: Play, task: Task, state: HostState): Record<string, unknown> {
    const inv = this.o.inventory;
    const base: Record<string, unknown> = {
      ...state.host.vars,
      inventory_hostname: state.host.name,
      groups: groupsVar(inv),
      hostvars: this.allHostvars(),
      runbook: {
        check: this.o.check ?? false,
        diff: this.o.diff ?? false,
        yes: this.o.yes ?? false,
        force: this.o.force ?? false,
        /** Someone is at a terminal to answer prompts. */
        interactive: this.o.prompter !== undefined,
        playbook_dir: play.baseDir,
        inventory_file: inv.path,
        product: inv.product ?? null,
        limit: this.o.limit ?? [],
      },
    };
    // In declaration order, so a play var may use the ones above it (validation already accepts that).
    const playVars: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(play.vars)) {
      playVars[name] = renderDeep(value, { ...base, ...playVars, ...state.facts, ...(this.o.extraVars ?? {}) }, { source: `vars of play "${play.name}"`, location: play.location });
    }
    const mid = { ...base, ...playVars, ...state.facts, ...(this.o.extraVars ?? {}) };
    const taskVars = Object.keys(task.vars).length
      ? (renderDeep(task.vars, mid, { source: `vars of task "${task.name}"`, location: task.location }) as Record<string, unknown>)
      : {};
    return { ...base, ...playVars, ...taskVars, ...state.facts, ...(this.o.extraVars ?? {}) };
  }

  /** Every host's vars and facts as they stood when the current task started. */
  private allHostvars(): Record<string, Record<string, unknown>> {
    if (!this.hostvarsSnapshot) {
      this.hostvarsSnapshot = {};
      for (const [name, s] of this.states) this.hostvarsSnapshot[name] = { ...s.host.vars, inventory_hostname: name, ...s.facts };
    }
    return this.hostvarsSnapshot;
  }

  private async execute(play: Play, task: Task, state: HostState): Promise<Outcome> {
    const vars = this.varsFor(play, task, state);
    for (const cond of task.when) {
      if (!evaluateBool(cond, vars, task.location)) {
        return skippedOutcome(`condition is false: ${cond}`);
      }
    }
    if (task.loop === undefined) return this.attempts(play, task, state, vars);
    const items = renderDeep(task.loop, vars, { source: `loop of task "${task.name}"`, location: task.location });
    if (!Array.isArray(items)) {
      throw new InputError(`loop of task "${task.name}" must give a list, got ${typeof items}`, { location: task.location, hint: 'loop: [a, b] or loop: "{{ list_var }}"' });
    }
    const results: Outcome[] = [];
    for (const [index, item] of (items as unknown[]).entries()) {
      const key = itemKey(item);
      const prior = this.o.resume?.item(state.host.name, this.id(task), index, key);
      let r: Outcome;
      if (prior && succeeded(prior) && prior.restorable) {
        // The item's own status counts in the loop's result; the loop as a whole ran now.
        r = { ...restoredOutcome(prior), status: prior.status, msg: `done in run ${prior.runId}: ${prior.msg}` };
      } else {
        this.checkInterrupted();
        r = await this.attempts(play, task, state, { ...vars, [task.loopVar]: item });
      }
      // Each item is journaled as it finishes, so an interrupted loop resumes at the item it was on.
      this.emitState(play, task, state, r, { index, key, value: item });
      results.push(r);
      if (r.status === 'failed' || r.status === 'unreachable') break;
    }
    return aggregateLoop(results, items.length);
  }

  /** One run of the module, repeated per retries/until. */
  private async attempts(play: Play, task: Task, state: HostState, vars: Record<string, unknown>): Promise<Outcome> {
    const max = (task.until !== undefined ? (task.retries ?? 3) : (task.retries ?? 0)) + 1;
    const pause = (task.delay ?? 1) * 1000;
    let last: Outcome | undefined;
    for (let attempt = 1; attempt <= max; attempt++) {
      this.checkInterrupted();
      last = await this.once(play, task, state, vars);
      if (last.status === 'unreachable') return last;
      const done =
        task.until !== undefined
          ? last.status !== 'failed' && evaluateBool(task.until, { ...vars, ...bindResult(task, last.registered) }, task.location)
          : last.status !== 'failed';
      if (done) return attempt > 1 ? { ...last, msg: `${last.msg} (after ${attempt} attempts)` } : last;
      if (attempt < max) await delay(pause, this.signal).catch(() => this.checkInterrupted());
    }
    const l = last!;
    if (task.until !== undefined && l.status !== 'failed') {
      return { ...l, status: 'failed', msg: `"${task.until}" still false after ${max} attempts; last result: ${l.msg}`, registered: { ...l.registered, failed: true } };
    }
    return max > 1 ? { ...l, msg: `${l.msg} (gave up after ${max} attempts)` } : l;
  }

  private async once(play: Play, task: Task, state: HostState, vars: Record<string, unknown>): Promise<Outcome> {
    const mod = this.o.modules.get(task.module)!;
    const rendered = renderArgs(mod, task.args, vars, { source: `arguments of task "${task.name}"`, location: task.location });
    const parsed = mod.schema.safeParse(rendered);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new InputError(`arguments of task "${task.name}" after templating: ${issue.path.join('.') || 'args'}: ${issue.message}`, {
        location: task.location,
        hint: `see \`runbook modules ${mod.name}\``,
      });
    }
    const conn = mod.local ? undefined : await this.connectionFor(task, state, vars);
    const timeoutMs = task.timeout !== undefined ? task.timeout * 1000 : undefined;
    // Every task has a deadline, so a hung command cannot hold the run forever:
    // its own timeout, else --task-timeout, else an hour; 0 means none.
    const limitS = task.timeout ?? this.o.taskTimeout ?? DEFAULT_TASK_TIMEOUT_S;
    const limitMs = limitS > 0 ? limitS * 1000 : undefined;
    const controller = new AbortController();
    const onAbort = () => controller.abort(this.signal.reason);
    this.signal.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const ctx = createModuleContext({
      host: { name: state.host.name, address: state.host.address },
      vars,
      conn,
      check: this.o.check,
      diff: this.o.diff,
      signal: controller.signal,
      become: task.become ?? play.become,
      timeoutMs,
      baseDir: task.baseDir,
      prompter: this.o.prompter,
      runCache: this.runCache,
      onEvent: (e) =>
        e.type === 'log'
          ? this.o.bus.emit({ type: 'log', host: e.host, task: task.name, message: e.message })
          : this.o.bus.emit({ type: 'progress', host: e.host, task: task.name, bytes: e.bytes, total: e.total, label: e.label }),
    });
    let result: ModuleResult;
    try {
      const running = mod.run(ctx, parsed.data);
      result = limitMs
        ? await Promise.race([
            running,
            new Promise<ModuleResult>((resolve) => {
              timer = setTimeout(() => {
                const why = task.timeout !== undefined ? 'its timeout' : this.o.taskTimeout !== undefined ? '--task-timeout' : 'the default task timeout';
                // Settle first: a module that returns as soon as it is cancelled must not win the race.
                resolve({ status: 'failed', msg: `timed out after ${limitS} s (${why}); the task was cancelled on the host. Set timeout: on the task, or --task-timeout, if it needs longer` });
                controller.abort(new Error('timeout'));
              }, limitMs);
            }),
          ])
        : await running;
    } catch (err) {
      if (err instanceof UnreachableError) throw err;
      if (this.signal.aborted) throw new InterruptedError('interrupted');
      result = { status: 'failed', msg: err instanceof RunbookError ? err.message : errorMessage(err) };
    } finally {
      if (timer) clearTimeout(timer);
      this.signal.removeEventListener('abort', onAbort);
    }
    return this.judge(task, vars, result);
  }

  /** Apply changed_when / failed_when to a module's result. */
  private judge(task: Task, vars: Record<string, unknown>, result: ModuleResult): Outcome {
    let status: HostStatus = result.status;
    let msg = result.msg;
    const registered = (s: HostStatus): Record<string, unknown> => ({
      ...(result.data ?? {}),
      status: s,
      changed: s === 'changed',
      failed: s === 'failed',
      skipped: s === 'skipped',
      msg,
    });
    const scope = () => ({ ...vars, ...bindResult(task, registered(status)) });
    if (task.changedWhen !== undefined && status !== 'failed' && status !== 'skipped') {
      const c = typeof task.changedWhen === 'boolean' ? task.changedWhen : evaluateBool(task.changedWhen, scope(), task.location);
      status = c ? 'changed' : 'ok';
    }
    if (task.failedWhen !== undefined && status !== 'skipped') {
      const wasFailed = status === 'failed';
      const f = typeof task.failedWhen === 'boolean' ? task.failedWhen : evaluateBool(task.failedWhen, scope(), task.location);
      if (f && !wasFailed) {
        status = 'failed';
        msg = `failed_when is true (${task.failedWhen}): ${msg}`;
      } else if (!f && wasFailed) {
        status = 'ok';
        msg = `failure accepted by failed_when (${task.failedWhen}): ${msg}`;
      }
    }
    return { status, msg, registered: registered(status), diff: result.diff, facts: result.facts };
  }

  private async connectionFor(task: Task, state: HostState, vars: Record<string, unknown>): Promise<Connection> {
    if (task.delegateTo) {
      // A template picks the host per run (as in Ansible): e.g. a live node to act from for one that is lost.
      const name = renderString(task.delegateTo, vars, { source: `delegate_to of task "${task.name}"`, location: task.location }).trim();
      const target = name === 'localhost' || name === '127.0.0.1' ? this.o.inventory.hosts.get('localhost') ?? LOCALHOST : this.o.inventory.hosts.get(name);
      if (!target) throw new RunbookError(`delegate_to names "${name}", which is not in the inventory`, { location: task.location });
      return this.o.connect(target);
    }
    return this.o.connect(state.host);
  }

  private checkInterrupted(): void {
    if (this.signal.aborted) throw new InterruptedError('interrupted');
  }
}

/**
 * A task's identity, stable for as long as the playbook's files are: the
 * play's position and the task's position in the play's task list after
 * imports are expanded, both from 1 ("2.7"); handlers "2.h1". Names are not
 * identities: they repeat, and an imported file brings the same names twice.
 */
export function taskIds(playbook: Playbook): Map<Task, string> {
  const ids = new Map<Task, string>();
  playbook.plays.forEach((play, p) => {
    play.tasks.forEach((t, i) => ids.set(t, `${p + 1}.${i + 1}`));
    play.handlers.forEach((t, i) => ids.set(t, `${p + 1}.h${i + 1}`));
  });
  return ids;
}

/** A loop item's digest, to tell whether the item at a position is still the same value. Secrets count masked: a digest must not stand in for one. */
function itemKey(item: unknown): string {
  return createHash('sha256').update(canonicalJson(secretMasker.maskValue(item))).digest('hex').slice(0, 16);
}

function restoredOutcome(prior: PriorResult): Outcome {
  return {
    status: 'skipped',
    msg: `done in run ${prior.runId} (${prior.status}): ${prior.msg}`,
    registered: prior.registered,
    facts: prior.facts,
    restored: { runId: prior.runId, status: prior.status, msg: prior.msg },
  };
}

function isEmpty(v: Record<string, unknown> | undefined): boolean {
  return v === undefined || Object.keys(v).length === 0;
}

function bindResult(task: Task, registered: Record<string, unknown>): Record<string, unknown> {
  return task.register ? { result: registered, [task.register]: registered } : { result: registered };
}

function skippedOutcome(msg: string): Outcome {
  return { status: 'skipped', msg, registered: { status: 'skipped', skipped: true, changed: false, failed: false, msg } };
}

function aggregateLoop(results: Outcome[], total: number): Outcome {
  const rank: HostStatus[] = ['skipped', 'ok', 'changed', 'failed', 'unreachable'];
  let status: HostStatus = results.length ? 'skipped' : 'skipped';
  for (const r of results) if (rank.indexOf(r.status) > rank.indexOf(status)) status = r.status;
  const bad = results.find((r) => r.status === 'failed' || r.status === 'unreachable');
  const changedN = results.filter((r) => r.status === 'changed').length;
  const msg = bad
    ? `item ${results.indexOf(bad) + 1} of ${total}: ${bad.msg}`
    : total === 0
      ? 'loop over an empty list'
      : `${total} item${total === 1 ? '' : 's'}: ${changedN} changed` + (results.length === 1 ? ` (${results[0]!.msg})` : '');
  const facts = Object.assign({}, ...results.map((r) => r.facts ?? {})) as Record<string, unknown>;
  return {
    status,
    msg,
    registered: { status, changed: status === 'changed', failed: status === 'failed', skipped: status === 'skipped', msg, results: results.map((r) => r.registered) },
    facts,
  };
}

/**
 * Facts gathered in pieces add up: a second `facts` task that gathers other
 * sections keeps the first one's. Plain mappings merge; anything else replaces.
 */
export function mergeFacts(into: Record<string, unknown>, add: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(add)) {
    const cur = into[k];
    if (isPlainObject(cur) && isPlainObject(v)) {
      const merged = { ...cur };
      mergeFacts(merged, v);
      into[k] = merged;
    } else {
      into[k] = v;
    }
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;
}

/** Hosts with the same key are one machine (one SSH connection). */
export function machineKey(h: InventoryHost): string {
  return h.connection === 'local' ? 'local' : `${h.user}@${h.address}:${h.port}`;
}

function groupsVar(inv: Inventory): Record<string, string[]> {
  const out: Record<string, string[]> = { all: [...inv.hosts.keys()] };
  for (const g of inv.groups.values()) out[g.name] = [...g.hosts];
  return out;
}

/** A task's arguments for one host: shell-code arguments get their values quoted. */
export function renderArgs(mod: ModuleDef, args: unknown, vars: Record<string, unknown>, ctx: RenderContext): unknown {
  const shellArgs = mod.shellArgs ?? [];
  if (shellArgs.length === 0 || !args || typeof args !== 'object' || Array.isArray(args)) return renderDeep(args, vars, ctx);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) {
    out[k] = shellArgs.includes(k) && typeof v === 'string' ? renderShell(v, vars, ctx) : renderDeep(v, vars, ctx);
  }
  return out;
}

/** Split hosts into rolling batches: `serial: 2` or `serial: "30%"`. */
export function batchesOf(hosts: string[], serial: number | string | undefined): string[][] {
  if (serial === undefined || hosts.length === 0) return [hosts];
  const size =
    typeof serial === 'number' ? serial : Math.max(1, Math.floor((hosts.length * Number.parseInt(serial, 10)) / 100));
  const out: string[][] = [];
  for (let i = 0; i < hosts.length; i += size) out.push(hosts.slice(i, i + size));
  return out;
}

function gateFor<K>(gates: Map<K, Semaphore>, key: K, limit: number): Semaphore {
  let g = gates.get(key);
  if (!g) gates.set(key, (g = new Semaphore(limit)));
  return g;
}

export { evaluate };
