// Tag selection, as Ansible users expect it: --tags runs tasks carrying any of
// the named tags (own or inherited); `always` runs unless skipped by name;
// `never` runs only when one of its tags is named; --skip-tags wins.

import type { Task } from './playbook/types.js';

export interface TagFilter {
  only?: string[] | undefined;
  skip?: string[] | undefined;
}

export function taskSelected(task: { tags: string[] }, filter: TagFilter | undefined): boolean {
  const tags = task.tags;
  const only = filter?.only?.filter((t) => t !== 'all') ?? [];
  const skip = filter?.skip ?? [];
  if (tags.some((t) => skip.includes(t))) return false;
  const named = only.length > 0 && tags.some((t) => only.includes(t));
  if (tags.includes('never')) return named || only.includes('never');
  if (tags.includes('always')) return true;
  if (only.length === 0) return true;
  if (only.includes('tagged')) return tags.length > 0;
  if (only.includes('untagged') && tags.length === 0) return true;
  return named;
}

export function selectTasks(tasks: Task[], filter: TagFilter | undefined): Task[] {
  return tasks.filter((t) => taskSelected(t, filter));
}

/** Every tag used in a set of tasks, for `runbook list`. */
export function tagsOf(tasks: Iterable<{ tags: string[] }>): string[] {
  const set = new Set<string>();
  for (const t of tasks) for (const tag of t.tags) set.add(tag);
  return [...set].sort();
}
