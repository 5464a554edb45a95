// Local files a task needs on the controller (upload's src, template's src):
// where a path given in a playbook is looked for, and the check that a
// templated one exists, made before any host is touched whenever its value is
// already known then.
//
// A templated path is known before the run when it renders from what exists
// before a host is contacted: the inventory's vars for the host, the play's
// and the task's vars, -e, and runbook's own (inventory_hostname, groups,
// hostvars, runbook.playbook_dir …). Anything a run produces (registered
// results, set_fact, prompt answers, gathered facts) is left out, so a path
// built from it is left to run time, as is a task whose `when` cannot be
// decided yet, whose loop is not known yet, or that is a handler.

import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { ModuleDef } from './api.js';
import { InputError, type SourceLocation } from './errors.js';
import { evaluateBool } from './expr.js';
import type { Inventory } from './inventory/types.js';
import { builtinTemplatesDir } from './paths.js';
import type { Play, Playbook, Task } from './playbook/types.js';
import { hasTemplate, renderDeep, renderValue } from './template.js';

export type LocalPathKind = 'file' | 'template';

/** A local-path argument whose value is a template, with where it is written. */
export interface TemplatedLocalPath {
  arg: string;
  kind: LocalPathKind;
  location: SourceLocation;
}

/** Where a local path is looked for, in order: `file` from the playbook's folder, `template` also in its templates/ and the built-in templates. */
export function localPathCandidates(value: string, kind: LocalPathKind, baseDir: string): string[] {
  if (isAbsolute(value)) return [value];
  return kind === 'template' ? [resolve(baseDir, value), resolve(baseDir, 'templates', value), join(builtinTemplatesDir, value)] : [resolve(baseDir, value)];
}

export interface TemplatedPathCheck {
  playbook: Playbook;
  inventory: Inventory;
  modules: ReadonlyMap<string, ModuleDef>;
  /** Each play's hosts after --limit, in the order of playbook.plays. */
  playHosts: string[][];
  extraVars: Record<string, unknown>;
  limit: string[];
}

/** Templated local paths that render now, for some targeted host, to a file that does not exist. */
export function checkTemplatedLocalPaths(o: TemplatedPathCheck): InputError[] {
  const runtime = namesSetAtRunTime(o.playbook);
  for (const k of Object.keys(o.extraVars)) runtime.delete(k); // -e wins over anything a run sets
  const hostvars: Record<string, Record<string, unknown>> = {};
  for (const h of o.inventory.hosts.values()) hostvars[h.name] = { ...h.vars, inventory_hostname: h.name };
  const groups: Record<string, string[]> = { all: [...o.inventory.hosts.keys()] };
  for (const g of o.inventory.groups.values()) groups[g.name] = [...g.hosts];

  // One error per place and missing file, naming every host it was rendered for.
  const missing = new Map<string, { task: Task; path: TemplatedLocalPath; value: string; looked: string[]; hosts: string[] }>();
  o.playbook.plays.forEach((play, i) => {
    const hosts = o.playHosts[i] ?? [];
    for (const task of play.tasks) {
      const paths = task.localPathArgs ?? [];
      if (paths.length === 0 || !o.modules.has(task.module)) continue;
      for (const hostName of task.runOnce ? hosts.slice(0, 1) : hosts) {
        const host = o.inventory.hosts.get(hostName);
        if (!host) continue;
        const base: Record<string, unknown> = {
          ...host.vars,
          inventory_hostname: host.name,
          groups,
          hostvars,
          // Only what is fixed before the run; runbook.yes, .check and the like stay unknown.
          runbook: { playbook_dir: play.baseDir, inventory_file: o.inventory.path, product: o.inventory.product ?? null, limit: o.limit },
        };
        for (const name of runtime) delete base[name];
        const vars = knownVars(play, task, base, o.extraVars, runtime);
        if (!vars || !task.when.every((c) => decided(c, vars) === true)) continue;
        for (const itemVars of loopVars(task, vars)) {
          for (const p of paths) {
            const value = renderPath((task.args as Record<string, unknown>)[p.arg], itemVars);
            if (value === undefined) continue;
            const looked = localPathCandidates(value, p.kind, task.baseDir);
            if (looked.some((c) => existsSync(c))) continue;
            const key = `${p.location.file}:${p.location.line}:${p.location.col}\0${looked[0]}`;
            const seen = missing.get(key);
            if (seen) {
              if (!seen.hosts.includes(host.name)) seen.hosts.push(host.name);
            } else {
              missing.set(key, { task, path: p, value, looked, hosts: [host.name] });
            }
          }
        }
      }
    }
  });
  return [...missing.values()].map(({ task, path, value, looked, hosts }) => {
    const template = String((task.args as Record<string, unknown>)[path.arg]);
    const who = hosts.length === 1 ? `host ${hosts[0]}` : `hosts ${hosts.join(', ')}`;
    return new InputError(
      `${task.module}'s ${path.arg} "${template}" is "${value}" for ${who}, which does not exist on this machine (looked for ${looked.join(', ')})`,
      {
        location: path.location,
        hint: `the value comes from the inventory, the play's or task's vars or -e: correct it there, or put the file in place first (a relative path starts at the playbook's folder)`,
      },
    );
  });
}

/** Names a run defines as it goes: registered results, set_fact, prompt answers, facts, loop variables. */
function namesSetAtRunTime(playbook: Playbook): Set<string> {
  const names = new Set<string>(['facts', 'result']);
  for (const play of playbook.plays) {
    for (const t of [...play.tasks, ...play.handlers]) {
      if (t.register) names.add(t.register);
      if (t.loop !== undefined) names.add(t.loopVar);
      const args = t.args && typeof t.args === 'object' ? (t.args as Record<string, unknown>) : undefined;
      if (t.module === 'set_fact' && args) for (const k of Object.keys(args)) names.add(k);
      if (t.module === 'prompt' && typeof args?.['var'] === 'string') names.add(args['var']);
    }
  }
  return names;
}

/** The task's variables as the scheduler builds them, where they are known now; a var that needs run-time values is left out. */
function knownVars(play: Play, task: Task, base: Record<string, unknown>, extraVars: Record<string, unknown>, runtime: Set<string>): Record<string, unknown> | undefined {
  const playVars: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(play.vars)) {
    if (runtime.has(name)) continue;
    const v = tryRender(value, { ...base, ...playVars, ...extraVars });
    if (v.ok) playVars[name] = v.value;
  }
  const mid = { ...base, ...playVars, ...extraVars };
  const taskVars: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(task.vars)) {
    if (runtime.has(name)) continue;
    const v = tryRender(value, mid);
    if (v.ok) taskVars[name] = v.value;
  }
  return { ...base, ...playVars, ...taskVars, ...extraVars };
}

/** A condition's value now: true, false, or undefined when it needs what only the run knows. */
function decided(condition: string, vars: Record<string, unknown>): boolean | undefined {
  try {
    return evaluateBool(condition, vars);
  } catch {
    return undefined;
  }
}

/** The vars for each loop item (one set without a loop); none when the loop is not known yet. */
function loopVars(task: Task, vars: Record<string, unknown>): Array<Record<string, unknown>> {
  if (task.loop === undefined) return [vars];
  const items = tryRender(task.loop, vars);
  if (!items.ok || !Array.isArray(items.value)) return [];
  return items.value.map((item) => ({ ...vars, [task.loopVar]: item }));
}

/** The rendered path, or undefined when it cannot be known now (or is not a plain string). */
function renderPath(template: unknown, vars: Record<string, unknown>): string | undefined {
  if (typeof template !== 'string' || !hasTemplate(template)) return undefined;
  try {
    const v = renderValue(template, vars);
    // A secret or a non-string is no path to check here; the module says so at run time.
    return typeof v === 'string' && v !== '' ? v : undefined;
  } catch {
    return undefined;
  }
}

function tryRender(value: unknown, vars: Record<string, unknown>): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: renderDeep(value, vars) };
  } catch {
    return { ok: false };
  }
}
