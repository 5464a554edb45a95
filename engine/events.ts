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
  | { type: 'run_start'; playbook: string; inventory: string; hosts: string[]; check: boolean; time: string }
  | { type: 'play_start'; play: string; hosts: string[]; tasks: string[]; batch?: { index: number; count: number; hosts: string[] } | undefined }
  | { type: 'task_start'; play: string; task: string; module: string; hosts: string[] }
  | {
      type: 'task_result';
      play: string;
      task: string;
      host: string;
      status: HostStatus;
      msg: string;
      duration_ms: number;
      ignored?: boolean | undefined;
      diff?: string | undefined;
      /** Registered data (masked), only with -v. */
      data?: Record<string, unknown> | undefined;
      item?: unknown;
    }
  | { type: 'handler_start'; play: string; handler: string; hosts: string[] }
  | { type: 'progress'; host: string; task: string; bytes: number; total: number; label?: string | undefined }
  | { type: 'log'; host: string; task: string; message: string }
  | { type: 'play_end'; play: string }
  | { type: 'recap'; hosts: Record<string, HostCounts>; duration_ms: number }
  | { type: 'run_end'; exit_code: number; duration_ms: number; log_file?: string | undefined; error?: string | undefined };

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
