// The scheduler's typed event stream. Reporters (tree, plain, json, log file)
// only listen; nothing in the scheduler knows how output looks.

export type HostStatus = 'ok' | 'changed' | 'skipped' | 'failed' | 'unreachable';

export interface HostCounts {
  ok: number;
  changed: number;
  skipped: number;
  failed: number;
  unreachable: number;
  /** Failures that `ignore_errors` let pass (also counted in failed? no: counted here only). */
  ignored: number;
}

export type RunEvent =
  | {
      type: 'run_start';
      playbook: string;
      inventory: string;
      hosts: string[];
      check: boolean;
      time: string;
      /** The run's id in the journal (runs/<id>/), when one is kept. */
      run_id?: string | undefined;
      /** The run whose journal this one resumes. */
      resumed_from?: string | undefined;
    }
  | {
      type: 'play_start';
      play: string;
      hosts: string[];
      tasks: string[];
      batch?: { index: number; count: number; hosts: string[] } | undefined;
      /** Only for a free play: its hosts' results interleave, and a task starts when its first host reaches it. */
      strategy?: 'free' | undefined;
    }
  | { type: 'task_start'; play: string; task: string; task_id: string; module: string; hosts: string[] }
  | {
      type: 'task_result';
      play: string;
      task: string;
      /** Stable identity of the task in the playbook: "<play>.<task>" or "<play>.h<handler>" (see taskIds in scheduler.ts). */
      task_id: string;
      host: string;
      status: HostStatus;
      msg: string;
      duration_ms: number;
      ignored?: boolean | undefined;
      diff?: string | undefined;
      /** Registered data (masked), only with -v. */
      data?: Record<string, unknown> | undefined;
      item?: unknown;
      /** Not run now: an earlier run (this id) already did it; msg says what it did then. */
      restored_from?: string | undefined;
    }
  | {
      /**
       * What a host×task (or one loop item) left behind: its registered data
       * and facts, masked. The run journal keeps these so that --resume can
       * skip the task and still give later tasks what they read from it.
       * Reporters ignore this event.
       */
      type: 'task_state';
      play: string;
      task: string;
      task_id: string;
      host: string;
      /** Set for one item of a loop: its position and a digest of its value. */
      item?: { index: number; key: string } | undefined;
      status: HostStatus;
      ignored?: boolean | undefined;
      msg: string;
      /** Whether a resumed run may skip this task and restore what follows from the journal. */
      restorable: boolean;
      /** Why it may not be restored (a secret or no_log data that the journal never keeps). */
      why_not?: string | undefined;
      registered?: Record<string, unknown> | undefined;
      facts?: Record<string, unknown> | undefined;
      restored_from?: string | undefined;
    }
  | { type: 'handler_start'; play: string; handler: string; hosts: string[] }
  | { type: 'progress'; host: string; task: string; bytes: number; total: number; label?: string | undefined }
  | { type: 'log'; host: string; task: string; message: string }
  | { type: 'play_end'; play: string }
  | { type: 'recap'; hosts: Record<string, HostCounts>; duration_ms: number }
  | {
      type: 'run_end';
      exit_code: number;
      duration_ms: number;
      log_file?: string | undefined;
      error?: string | undefined;
      run_id?: string | undefined;
      /** The run journal's path (runs/<run-id>/journal.ndjson under the runbook home). */
      journal?: string | undefined;
      /** The run was stopped by SIGINT/SIGTERM. */
      interrupted?: boolean | undefined;
    }

export type EventListener = (e: RunEvent) => void;

export class EventBus {
  private readonly listeners: EventListener[] = [];

  on(listener: EventListener): void {
    this.listeners.push(listener);
  }

  emit(e: RunEvent): void {
    for (const l of this.listeners) l(e);
  }
}

export function emptyCounts(): HostCounts {
  return { ok: 0, changed: 0, skipped: 0, failed: 0, unreachable: 0, ignored: 0 };
}
