// Playbook objects after parsing: imports resolved, tags inherited, every
// task's module known. Nothing here is templated yet; that happens per host.

import type { SourceLocation } from '../errors.js';
import type { TemplatedLocalPath } from '../local-paths.js';

export interface Task {
  /** Display name: the task's `name`, or `<module>` when it has none. */
  name: string;
  module: string;
  /** Raw module arguments, possibly containing {{ }} templates. */
  args: unknown;
  /** Own tags plus every tag inherited from imports and the play. */
  tags: string[];
  when: string[];
  register?: string | undefined;
  loop?: unknown;
  loopVar: string;
  retries?: number | undefined;
  /** Seconds between retries. */
  delay?: number | undefined;
  until?: string | undefined;
  ignoreErrors: boolean;
  runOnce: boolean;
  delegateTo?: string | undefined;
  changedWhen?: string | boolean | undefined;
  failedWhen?: string | boolean | undefined;
  notify: string[];
  /** Seconds. */
  timeout?: number | undefined;
  noLog: boolean;
  become?: boolean | undefined;
  /** Vars given to this task (and by the imports that brought it in). */
  vars: Record<string, unknown>;
  /** At most this many hosts run the task at once (below --forks). */
  throttle?: number | undefined;
  /** `serial`: hosts on the same machine run the task one after another. */
  perMachine?: 'serial' | undefined;
  /** For handlers: extra names the handler answers to. */
  listen: string[];
  location: SourceLocation;
  /** Folder of the file that declared the task; relative local paths start here. */
  baseDir: string;
  /** Local-path arguments (upload's src, …) given as templates: checked once the inventory is known (engine/local-paths.ts). */
  localPathArgs?: TemplatedLocalPath[] | undefined;
}

export interface Play {
  name: string;
  hosts: string;
  serial?: number | string | undefined;
  /**
   * linear (default): each task runs on every host before the next starts.
   * free: each host goes through the tasks on its own, as fast as it can.
   */
  strategy: 'linear' | 'free';
  anyErrorsFatal: boolean;
  vars: Record<string, unknown>;
  tags: string[];
  tasks: Task[];
  handlers: Task[];
  become?: boolean | undefined;
  location: SourceLocation;
  baseDir: string;
}

export interface Playbook {
  path: string;
  /** The description at the top of a built-in playbook (`# description: …`). */
  description?: string | undefined;
  plays: Play[];
  /** Every file read (the playbook and its imports), for `runbook list`. */
  files: string[];
}

/** Keys a task may have besides its module. */
export const TASK_KEYS = [
  'name',
  'tags',
  'when',
  'register',
  'loop',
  'loop_var',
  'retries',
  'delay',
  'until',
  'ignore_errors',
  'run_once',
  'delegate_to',
  'changed_when',
  'failed_when',
  'notify',
  'timeout',
  'no_log',
  'become',
  'vars',
  'listen',
  'throttle',
  'per_machine',
] as const;

export const PLAY_KEYS = ['name', 'hosts', 'serial', 'strategy', 'any_errors_fatal', 'vars', 'tags', 'tasks', 'handlers', 'become'] as const;

export const IMPORT_KEYS = ['import', 'vars', 'tags', 'when'] as const;
