// The API for programs that embed runbook: resolve and validate everything
// (inventory, playbook, imports, module args, host references, variables)
// before any connection is opened, then run with the connection pool and
// reporters the caller chooses.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ModuleDef } from './api.js';
import { didYouMean, InputError, InputErrors } from './errors.js';
import { EventBus } from './events.js';
import { loadInventory } from './inventory/load.js';
import { resolvePlayHosts, selectHosts } from './inventory/select.js';
import type { Inventory, InventoryHost } from './inventory/types.js';
import { checkTemplatedLocalPaths } from './local-paths.js';
import { loadPlaybook, type ModuleRegistry } from './playbook/load.js';
import type { Playbook, Task } from './playbook/types.js';
import { builtinPlaybooksDir } from './paths.js';
import { runPlaybook, type RunOptions, type RunSummary } from './scheduler.js';
import { referencedVariables } from './template.js';
import type { Connection } from './connection/types.js';
import type { TagFilter } from './tags.js';
import { registerBuiltinProducts } from './products/index.js';
import { SourceFile } from './source.js';

export interface PrepareRequest {
  playbook: string;
  inventory: string;
  modules: ModuleRegistry;
  limit?: string[] | undefined;
  extraVars?: Record<string, unknown> | undefined;
}

export interface Prepared {
  inventory: Inventory;
  playbook: Playbook;
  /** Hosts that some play will run on (after --limit). */
  hosts: InventoryHost[];
}

/** Everything that can be checked without a host. Throws InputError(s), exit code 2. */
export function prepare(req: PrepareRequest): Prepared {
  registerBuiltinProducts();
  const inventory = loadInventory(req.inventory);
  const playbookPath = resolvePlaybookPath(req.playbook, inventory);
  const playbook = loadPlaybook(playbookPath, { modules: req.modules });
  const errors: InputError[] = [];
  const limited = req.limit?.length ? new Set(selectHosts(inventory, req.limit)) : undefined;
  const hostNames = new Set<string>();
  const playHosts: string[][] = [];
  for (const play of playbook.plays) {
    try {
      const hosts = resolvePlayHosts(inventory, play.hosts).filter((h) => !limited || limited.has(h));
      playHosts.push(hosts);
      for (const h of hosts) hostNames.add(h);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      playHosts.push([]);
      errors.push(new InputError(`play "${play.name}": ${err.message}`, { location: play.location, hint: err.hint }));
    }
  }
  const variableErrors = checkVariables(playbook, inventory, req.extraVars ?? {});
  errors.push(...variableErrors);
  // Templated local paths render only with every variable defined.
  if (variableErrors.length === 0) {
    errors.push(...checkTemplatedLocalPaths({ playbook, inventory, modules: req.modules, playHosts, extraVars: req.extraVars ?? {}, limit: req.limit ?? [] }));
  }
  if (errors.length) throw new InputErrors(errors);
  return { inventory, playbook, hosts: [...hostNames].map((n) => inventory.hosts.get(n)!) };
}

export interface PlayRequest extends Omit<RunOptions, 'inventory' | 'playbook' | 'bus' | 'connect'> {
  bus?: EventBus | undefined;
  connect: (host: InventoryHost) => Promise<Connection>;
}

export async function play(prepared: Prepared, req: PlayRequest): Promise<RunSummary> {
  return runPlaybook({ ...req, inventory: prepared.inventory, playbook: prepared.playbook, bus: req.bus ?? new EventBus() });
}

/** A path to a YAML file, or the name of a built-in playbook for the inventory's product. */
export function resolvePlaybookPath(name: string, inventory?: Inventory): string {
  if (existsSync(name) && statSync(name).isFile()) return resolve(name);
  const product = inventory?.product;
  const file = name.endsWith('.yaml') || name.endsWith('.yml') ? name : `${name}.yaml`;
  const candidates = [product ? join(builtinPlaybooksDir, product, file) : undefined, join(builtinPlaybooksDir, file)].filter(
    (c): c is string => c !== undefined,
  );
  const found = candidates.find((c) => existsSync(c));
  if (found) return found;
  const builtins = listBuiltinPlaybooks(product).map((p) => p.name);
  const guess = didYouMean(name, builtins);
  throw new InputError(`no playbook file "${name}"${product ? `, and no built-in ${product} playbook of that name` : ''}`, {
    hint: guess
      ? `did you mean "${guess}"?`
      : builtins.length
        ? `built-in playbooks${product ? ` for ${product}` : ''}: ${builtins.join(', ')}`
        : 'give the path to a playbook YAML file',
  });
}

export interface PlaybookInfo {
  name: string;
  product: string | undefined;
  path: string;
  description: string | undefined;
}

/** Built-in playbooks: playbooks/<product>/<name>.yaml. Files starting with _ are parts for import. */
export function listBuiltinPlaybooks(product?: string): PlaybookInfo[] {
  const out: PlaybookInfo[] = [];
  if (!existsSync(builtinPlaybooksDir)) return out;
  for (const entry of readdirSync(builtinPlaybooksDir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.isDirectory()) {
      if (product && entry.name !== product) continue;
      for (const f of readdirSync(join(builtinPlaybooksDir, entry.name)).sort()) {
        if (!/\.ya?ml$/.test(f) || f.startsWith('_')) continue;
        const path = join(builtinPlaybooksDir, entry.name, f);
        out.push({ name: f.replace(/\.ya?ml$/, ''), product: entry.name, path, description: firstComment(path) });
      }
    } else if (/\.ya?ml$/.test(entry.name) && !entry.name.startsWith('_') && !product) {
      const path = join(builtinPlaybooksDir, entry.name);
      out.push({ name: basename(entry.name).replace(/\.ya?ml$/, ''), product: undefined, path, description: firstComment(path) });
    }
  }
  return out;
}

function firstComment(path: string): string | undefined {
  const first = readFileSync(path, 'utf8').split('\n').find((l) => l.trim() !== '' && !l.startsWith('---'));
  return first?.startsWith('#') ? first.replace(/^#\s*/, '') : undefined;
}

const MAGIC = ['inventory_hostname', 'groups', 'hostvars', 'runbook', 'result', 'facts'];

/**
 * Templates that name a variable nobody can define are errors now, not an empty
 * string on a host later. A name counts as defined if the inventory, a play,
 * a task, -e, a register, set_fact, prompt or a loop could provide it.
 */
function checkVariables(playbook: Playbook, inventory: Inventory, extraVars: Record<string, unknown>): InputError[] {
  const known = new Set<string>([...MAGIC, ...Object.keys(extraVars), ...Object.keys(inventory.vars)]);
  for (const h of inventory.hosts.values()) for (const k of Object.keys(h.vars)) known.add(k);
  for (const g of inventory.groups.values()) for (const k of Object.keys(g.vars)) known.add(k);
  // Registered results, set_fact and prompt answers live on the host for the
  // whole run, so a later play may use what an earlier one defined.
  for (const play of playbook.plays) {
    for (const t of [...play.tasks, ...play.handlers]) {
      if (t.register) known.add(t.register);
      for (const k of definedBy(t)) known.add(k);
    }
  }
  const errors: InputError[] = [...shadowingRegisters(playbook, inventory, extraVars)];
  for (const play of playbook.plays) {
    const playKnown = new Set(known);
    for (const k of Object.keys(play.vars)) playKnown.add(k);
    const all = [...play.tasks, ...play.handlers];
    for (const t of all) for (const k of Object.keys(t.vars)) playKnown.add(k);
    for (const t of all) {
      const scope = new Set(playKnown);
      scope.add(t.loopVar);
      for (const text of strings([t.args, t.loop, t.vars, play.vars, t.delegateTo])) {
        for (const name of referencedVariables(text)) {
          if (scope.has(name)) continue;
          const guess = didYouMean(name, scope);
          errors.push(
            new InputError(`task "${t.name}" uses undefined variable "${name}"`, {
              location: t.location,
              hint: guess ? `did you mean "${guess}"?` : `define it in the inventory, the play's vars, or pass -e ${name}=…`,
            }),
          );
        }
      }
    }
  }
  return dedupe(errors);
}

/**
 * A registered result outranks play, task, inventory and -e variables of the
 * same name for the rest of the run, so `register: x` silently replaces the
 * `x` a later task meant. Nobody wants that; the name must differ.
 */
function shadowingRegisters(playbook: Playbook, inventory: Inventory, extraVars: Record<string, unknown>): InputError[] {
  const from = new Map<string, string>();
  const note = (names: Iterable<string>, where: string) => {
    for (const n of names) if (!from.has(n)) from.set(n, where);
  };
  note(Object.keys(extraVars), '-e');
  note(Object.keys(inventory.vars), 'the inventory');
  for (const g of inventory.groups.values()) note(Object.keys(g.vars), `the inventory (group ${g.name})`);
  for (const h of inventory.hosts.values()) note(Object.keys(h.vars), `the inventory (host ${h.name})`);
  const errors: InputError[] = [];
  for (const play of playbook.plays) {
    const local = new Map<string, string>();
    for (const k of Object.keys(play.vars)) local.set(k, `the vars of play "${play.name}"`);
    const all = [...play.tasks, ...play.handlers];
    for (const t of all) for (const k of Object.keys(t.vars)) if (!local.has(k)) local.set(k, `the vars of task "${t.name}"`);
    for (const t of all) {
      if (!t.register || MAGIC.includes(t.register)) continue;
      const where = local.get(t.register) ?? from.get(t.register);
      if (where === undefined) continue;
      errors.push(
        new InputError(`task "${t.name}" registers its result as "${t.register}", which would replace the variable "${t.register}" from ${where} for the rest of the run`, {
          location: t.location,
          hint: `registered results outrank variables; give the register another name, e.g. "${t.register}_result"`,
        }),
      );
    }
  }
  return errors;
}

function definedBy(t: Task): string[] {
  if (t.module === 'set_fact' && t.args && typeof t.args === 'object') return Object.keys(t.args);
  if (t.module === 'prompt' && t.args && typeof t.args === 'object') {
    const v = (t.args as Record<string, unknown>)['var'];
    return typeof v === 'string' ? [v] : [];
  }
  if (t.module === 'facts') return ['facts'];
  return [];
}

function strings(values: unknown[]): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  values.forEach(walk);
  return out;
}

function dedupe(errors: InputError[]): InputError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const k = e.format();
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** -e key=value (value parsed as YAML scalar) or -e @file.yaml. */
export function parseExtraVars(items: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of items) {
    if (item.startsWith('@')) {
      const path = item.slice(1);
      if (!existsSync(path)) throw new InputError(`-e ${item}: no such file ${path}`, { hint: 'relative paths start at the current directory' });
      // Read like a playbook: syntax errors, size and nesting limits, alias bombs all reported at file:line:col.
      const src = SourceFile.load(path);
      const doc = src.toJS();
      if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
        throw src.error([], `-e ${item}: the file must hold a mapping of variables`, 'e.g. "version: 1.3.0", one variable per line');
      }
      Object.assign(out, doc);
      continue;
    }
    const eq = item.indexOf('=');
    if (eq <= 0) throw new InputError(`-e ${item}: expected NAME=value or @file.yaml`);
    const name = item.slice(0, eq);
    const raw = item.slice(eq + 1);
    let value: unknown = raw;
    try {
      const parsed = parseYaml(raw) as unknown;
      if (parsed === null || ['number', 'boolean'].includes(typeof parsed) || Array.isArray(parsed)) value = parsed ?? raw;
    } catch {
      value = raw;
    }
    out[name] = value;
  }
  return out;
}

export type { TagFilter, ModuleDef, RunSummary };
