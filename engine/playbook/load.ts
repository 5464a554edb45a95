// Parses a playbook and everything it imports into Play/Task objects, checking
// every key, every module name and every statically known module argument.
// All problems are collected and thrown together as InputErrors, each at its
// file:line:col, before any host is contacted.

import { dirname, isAbsolute, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { z } from 'zod';
import type { ModuleDef } from '../api.js';
import { didYouMean, InputError, InputErrors } from '../errors.js';
import { compileExpression } from '../expr.js';
import { SourceFile, type YamlPath } from '../source.js';
import { hasTemplate } from '../template.js';
import { localPathCandidates, type TemplatedLocalPath } from '../local-paths.js';
import { checkKeys, schemaErrors } from '../validate.js';
import { IMPORT_KEYS, PLAY_KEYS, TASK_KEYS, type Play, type Playbook, type Task } from './types.js';

export type ModuleRegistry = ReadonlyMap<string, ModuleDef>;

export interface LoadOptions {
  modules: ModuleRegistry;
}

interface Inherited {
  tags: string[];
  vars: Record<string, unknown>;
  when: string[];
}

const NONE: Inherited = { tags: [], vars: {}, when: [] };

export function loadPlaybook(path: string, opts: LoadOptions): Playbook {
  const loader = new Loader(opts);
  const abs = resolve(path);
  const plays = loader.playbookFile(abs, NONE, []);
  if (loader.errors.length) throw new InputErrors(loader.errors);
  const source = loader.sources.get(abs);
  return { path: abs, description: source ? describe(source) : undefined, plays, files: [...loader.sources.keys()] };
}

/** The first comment line of a playbook file is its description. */
export function describe(source: SourceFile): string | undefined {
  const first = source.lines.find((l) => l.trim() !== '' && !l.startsWith('---'));
  const m = first ? /^#\s*(.+)$/.exec(first.trim()) : null;
  return m?.[1]?.replace(/^description:\s*/i, '');
}

class Loader {
  readonly errors: InputError[] = [];
  readonly sources = new Map<string, SourceFile>();

  constructor(private readonly opts: LoadOptions) {}

  private load(path: string): SourceFile | undefined {
    const cached = this.sources.get(path);
    if (cached) return cached;
    try {
      const src = SourceFile.load(path);
      this.sources.set(path, src);
      return src;
    } catch (err) {
      if (err instanceof InputError) this.errors.push(err);
      else throw err;
      return undefined;
    }
  }

  playbookFile(path: string, inherited: Inherited, stack: string[]): Play[] {
    const src = this.load(path);
    if (!src) return [];
    const doc = src.toJS();
    if (doc === null || doc === undefined) {
      this.errors.push(src.error([], 'the playbook is empty', 'a playbook is a YAML list of plays, e.g.\n- hosts: all\n  tasks:\n    - print: { msg: hello }'));
      return [];
    }
    if (!Array.isArray(doc)) {
      this.errors.push(
        src.error([], 'a playbook must be a YAML list of plays and imports', 'start each play with "- hosts: …" (or "- import: other.yaml")'),
      );
      return [];
    }
    const plays: Play[] = [];
    doc.forEach((item, i) => {
      if (!isMap(item)) {
        this.errors.push(src.error([i], `item ${i + 1} of the playbook is not a mapping`, 'each item is a play (with hosts: and tasks:) or an import'));
        return;
      }
      if ('import' in item) {
        const imp = this.importEntry(src, [i], item, inherited);
        if (!imp) return;
        if (stack.includes(imp.path) || imp.path === path) {
          this.errors.push(src.error([i, 'import'], `import cycle: ${[...stack, path, imp.path].join(' -> ')}`, 'a file cannot import itself, directly or through others; remove one of these imports'));
          return;
        }
        plays.push(...this.playbookFile(imp.path, imp.inherited, [...stack, path]));
        return;
      }
      const play = this.play(src, [i], item, inherited, stack.concat(path));
      if (play) plays.push(play);
    });
    return plays;
  }

  private importEntry(
    src: SourceFile,
    at: YamlPath,
    item: Record<string, unknown>,
    inherited: Inherited,
  ): { path: string; inherited: Inherited } | undefined {
    this.errors.push(...checkKeys(item, IMPORT_KEYS, src, at, 'an import'));
    const target = item['import'];
    if (typeof target !== 'string' || target === '') {
      this.errors.push(src.error([...at, 'import'], 'import needs a file name', 'e.g. "- import: stop.yaml"'));
      return undefined;
    }
    const path = isAbsolute(target) ? target : resolve(dirname(src.path), target);
    if (!existsSync(path)) {
      this.errors.push(src.error([...at, 'import'], `imported file ${target} does not exist (looked for ${path})`, 'paths are relative to the importing file'));
      return undefined;
    }
    const tags = this.stringList(src, [...at, 'tags'], item['tags'], 'tags');
    const when = this.conditions(src, [...at, 'when'], item['when']);
    const vars = this.vars(src, [...at, 'vars'], item['vars']);
    return {
      path,
      inherited: { tags: union(inherited.tags, tags), vars: { ...inherited.vars, ...vars }, when: [...inherited.when, ...when] },
    };
  }

  private play(src: SourceFile, at: YamlPath, item: Record<string, unknown>, inherited: Inherited, stack: string[]): Play | undefined {
    const before = this.errors.length;
    this.errors.push(...checkKeys(item, PLAY_KEYS, src, at, 'a play'));
    let hosts = item['hosts'];
    if (Array.isArray(hosts)) hosts = hosts.join(',');
    if (typeof hosts !== 'string' || hosts.trim() === '') {
      this.errors.push(src.error(at, 'a play needs "hosts:" (host names, group names or all)', 'e.g. "hosts: all"'));
    }
    const tags = union(inherited.tags, this.stringList(src, [...at, 'tags'], item['tags'], 'tags'));
    const vars = { ...this.vars(src, [...at, 'vars'], item['vars']), ...inherited.vars };
    const serial = item['serial'];
    if (serial !== undefined && !(typeof serial === 'number' && serial > 0 && Number.isInteger(serial)) && !(typeof serial === 'string' && /^\d+%$/.test(serial))) {
      this.errors.push(src.error([...at, 'serial'], 'serial must be a whole number of hosts or a percentage like "30%"', 'e.g. serial: 2 (two hosts at a time) or serial: "30%"'));
    }
    const strategy = item['strategy'] ?? 'linear';
    if (strategy !== 'linear' && strategy !== 'free') {
      this.errors.push(
        src.error([...at, 'strategy'], `strategy must be "linear" or "free", not ${JSON.stringify(strategy)}`, 'linear: each task on every host before the next task; free: each host through the tasks on its own'),
      );
    }
    const playInherited: Inherited = { tags, vars: {}, when: inherited.when };
    const baseDir = dirname(src.path);
    const tasks = this.taskList(src, [...at, 'tasks'], item['tasks'], playInherited, stack, false);
    const handlers = this.taskList(src, [...at, 'handlers'], item['handlers'], { tags: [], vars: {}, when: [] }, stack, true);
    if (item['tasks'] === undefined && item['handlers'] === undefined) {
      this.errors.push(src.error(at, 'the play has no tasks', 'add "tasks:" with a list of tasks'));
    }
    this.checkNotify(src, at, tasks, handlers);
    if (this.errors.length > before) return undefined;
    return {
      name: typeof item['name'] === 'string' ? item['name'] : String(hosts),
      hosts: String(hosts).trim(),
      serial: serial as number | string | undefined,
      strategy: strategy as Play['strategy'],
      anyErrorsFatal: this.bool(src, [...at, 'any_errors_fatal'], item['any_errors_fatal']) ?? false,
      vars,
      tags,
      tasks,
      handlers,
      become: this.bool(src, [...at, 'become'], item['become']),
      location: src.locate(at),
      baseDir,
    };
  }

  private taskList(src: SourceFile, at: YamlPath, value: unknown, inherited: Inherited, stack: string[], handlers: boolean): Task[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      this.errors.push(src.error(at, `${handlers ? 'handlers' : 'tasks'} must be a list`, 'start each task with "- "'));
      return [];
    }
    const out: Task[] = [];
    value.forEach((item, i) => {
      const p = [...at, i];
      if (!isMap(item)) {
        this.errors.push(src.error(p, 'a task must be a mapping', 'e.g. "- name: say hello\n    print: { msg: hello }"'));
        return;
      }
      if ('import' in item) {
        const imp = this.importEntry(src, p, item, inherited);
        if (!imp) return;
        if (stack.includes(imp.path)) {
          this.errors.push(src.error([...p, 'import'], `import cycle: ${[...stack, imp.path].join(' -> ')}`, 'a file cannot import itself, directly or through others; remove one of these imports'));
          return;
        }
        out.push(...this.taskFile(imp.path, imp.inherited, stack, handlers));
        return;
      }
      const task = this.task(src, p, item, inherited, handlers);
      if (task) out.push(task);
    });
    return out;
  }

  /** A file imported from a task list is itself a list of tasks. */
  private taskFile(path: string, inherited: Inherited, stack: string[], handlers: boolean): Task[] {
    const src = this.load(path);
    if (!src) return [];
    const doc = src.toJS();
    if (Array.isArray(doc) && doc.some((d) => isMap(d) && 'hosts' in d)) {
      this.errors.push(src.error([], 'this file holds plays, but it is imported inside a task list', 'import playbooks at the top level of a playbook, and task files inside tasks:'));
      return [];
    }
    return this.taskList(src, [], doc, inherited, [...stack, path], handlers);
  }

  private task(src: SourceFile, at: YamlPath, item: Record<string, unknown>, inherited: Inherited, handler: boolean): Task | undefined {
    const before = this.errors.length;
    const moduleKeys = Object.keys(item).filter((k) => !(TASK_KEYS as readonly string[]).includes(k));
    const known = this.opts.modules;
    const modules = moduleKeys.filter((k) => known.has(k));
    for (const k of moduleKeys.filter((k) => !known.has(k))) {
      const guess = didYouMean(k, [...TASK_KEYS, ...known.keys()]);
      this.errors.push(
        src.error([...at, k], `unknown module or task key "${k}"`, guess ? `did you mean "${guess}"?` : 'run `runbook modules` to list the modules', true),
      );
    }
    if (modules.length === 0 && moduleKeys.length === 0) {
      this.errors.push(src.error(at, 'the task names no module', `add one module, e.g. "run: echo hello"; modules: ${[...known.keys()].sort().join(', ')}`));
    }
    if (modules.length > 1) {
      this.errors.push(src.error([...at, modules[1]!], `a task runs exactly one module, this one names ${modules.join(' and ')}`, 'split it into two tasks', true));
    }
    const module = modules[0];
    const name = typeof item['name'] === 'string' ? item['name'] : (module ?? 'task');
    const tags = union(inherited.tags, this.stringList(src, [...at, 'tags'], item['tags'], 'tags'));
    const when = [...inherited.when, ...this.conditions(src, [...at, 'when'], item['when'])];
    const until = this.condition(src, [...at, 'until'], item['until']);
    const changedWhen = this.boolOrCondition(src, [...at, 'changed_when'], item['changed_when']);
    const failedWhen = this.boolOrCondition(src, [...at, 'failed_when'], item['failed_when']);
    const retries = this.number(src, [...at, 'retries'], item['retries'], 'retries');
    const delay = this.number(src, [...at, 'delay'], item['delay'], 'delay');
    const timeout = this.number(src, [...at, 'timeout'], item['timeout'], 'timeout');
    const throttle = this.number(src, [...at, 'throttle'], item['throttle'], 'throttle');
    const perMachine = item['per_machine'];
    if (perMachine !== undefined && perMachine !== 'serial') {
      this.errors.push(src.error([...at, 'per_machine'], 'per_machine takes "serial" (hosts on one machine run the task one after another)'));
    }
    const register = item['register'];
    if (register !== undefined && (typeof register !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(register))) {
      const fixed = typeof register === 'string' ? register.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(?=\d)/, '_') : 'result';
      this.errors.push(src.error([...at, 'register'], 'register takes a variable name (letters, digits, _)', `e.g. register: ${fixed}`));
    }
    const delegateTo = item['delegate_to'];
    if (delegateTo !== undefined && typeof delegateTo !== 'string') this.errors.push(src.error([...at, 'delegate_to'], 'delegate_to takes a host name (or localhost)'));
    const loopVar = item['loop_var'] ?? 'item';
    if (typeof loopVar !== 'string') this.errors.push(src.error([...at, 'loop_var'], 'loop_var takes a variable name'));
    const args = module ? this.moduleArgs(src, [...at, module], known.get(module)!, item[module]) : undefined;
    if (this.errors.length > before) return undefined;
    return {
      name,
      module: module!,
      args,
      tags,
      when,
      register: register as string | undefined,
      loop: item['loop'],
      loopVar: loopVar as string,
      retries,
      delay,
      until,
      ignoreErrors: this.bool(src, [...at, 'ignore_errors'], item['ignore_errors']) ?? false,
      runOnce: this.bool(src, [...at, 'run_once'], item['run_once']) ?? false,
      delegateTo: delegateTo as string | undefined,
      changedWhen,
      failedWhen,
      notify: this.stringList(src, [...at, 'notify'], item['notify'], 'notify'),
      timeout,
      throttle: throttle === undefined ? undefined : Math.max(1, Math.floor(throttle)),
      perMachine: perMachine === 'serial' ? 'serial' : undefined,
      noLog: this.bool(src, [...at, 'no_log'], item['no_log']) ?? false,
      become: this.bool(src, [...at, 'become'], item['become']),
      vars: { ...inherited.vars, ...this.vars(src, [...at, 'vars'], item['vars']) },
      listen: handler ? this.stringList(src, [...at, 'listen'], item['listen'], 'listen') : [],
      location: src.locate(at),
      baseDir: dirname(src.path),
      localPathArgs: module && args !== undefined ? this.templatedLocalPaths(src, [...at, module], known.get(module)!, args) : undefined,
    };
  }

  /** Check a module's arguments as far as they are known before run time. */
  private moduleArgs(src: SourceFile, at: YamlPath, mod: ModuleDef, raw: unknown): unknown {
    let args = raw ?? {};
    if (typeof args === 'string' || typeof args === 'number') {
      if (!mod.freeForm) {
        this.errors.push(src.error(at, `module "${mod.name}" takes a mapping of arguments, not a single value`, `see \`runbook modules ${mod.name}\``));
        return undefined;
      }
      args = { [mod.freeForm]: String(args) };
    }
    const what = `the arguments of ${mod.name}`;
    if (isMap(args)) {
      const unquoted = Object.keys(args).find((k) => /^\{.*\}$/.test(k));
      if (unquoted !== undefined) {
        this.errors.push(
          src.error(at, `the value of ${mod.name} looks like an unquoted template {${unquoted}}`, 'a value that starts with {{ must be quoted, e.g. print: "{{ x }}"'),
        );
        return undefined;
      }
    }
    if (hasTemplateDeep(args)) {
      // Templated values are only known per host; check what is literal now.
      this.errors.push(...partialCheck(mod.schema, args, src, at, what));
      this.checkLocalPaths(src, at, mod, args);
      return args;
    }
    const res = mod.schema.safeParse(args);
    if (res.success) {
      this.checkLocalPaths(src, at, mod, args);
      return args;
    }
    const shape = objectShape(mod.schema);
    // With the schema and the value, messages can say what was found ("got string "30"") and hint at the fix.
    const context = { schema: mod.schema, value: args };
    if (!shape || !isMap(args)) {
      this.errors.push(...withHint(schemaErrors(res.error, src, at, what, context), mod));
      return args;
    }
    // Unknown keys get "did you mean"; a field reported missing because its name
    // was misspelt is not reported twice.
    const unknown = partialCheck(mod.schema, Object.fromEntries(Object.keys(args).filter((k) => !shape[k]).map((k) => [k, args[k as never]])), src, at, what);
    const meant = new Set(Object.keys(args).filter((k) => !shape[k]).map((k) => didYouMean(k, Object.keys(shape))));
    const rest = new z.ZodError(
      res.error.issues.filter((i) => i.code !== 'unrecognized_keys' && !(i.path.length === 1 && meant.has(String(i.path[0])) && (i as { input?: unknown }).input === undefined)),
    );
    this.errors.push(...unknown, ...withHint(schemaErrors(rest, src, at, what, context), mod));
    return args;
  }

  /** A literal local path that does not exist is an input error now, not a failure on a host later. */
  private checkLocalPaths(src: SourceFile, at: YamlPath, mod: ModuleDef, args: unknown): void {
    if (!mod.localPaths || !isMap(args)) return;
    const baseDir = dirname(src.path);
    for (const [name, kind] of Object.entries(mod.localPaths)) {
      const value = args[name];
      if (typeof value !== 'string' || value === '' || hasTemplate(value)) continue;
      const candidates = localPathCandidates(value, kind, baseDir);
      if (candidates.some((c) => existsSync(c))) continue;
      this.errors.push(
        src.error([...at, name], `${mod.name}'s ${name} "${value}" does not exist on this machine (looked for ${candidates.join(', ')})`, 'paths are relative to the playbook\'s folder; check the name, or create the file first'),
      );
    }
  }

  /** Templated local paths, with their positions: runner.ts checks them once the inventory's values are known. */
  private templatedLocalPaths(src: SourceFile, at: YamlPath, mod: ModuleDef, args: unknown): TemplatedLocalPath[] {
    if (!mod.localPaths || !isMap(args)) return [];
    return Object.entries(mod.localPaths)
      .filter(([name]) => typeof args[name] === 'string' && hasTemplate(args[name]))
      .map(([name, kind]) => ({ arg: name, kind, location: src.locate([...at, name]) }));
  }

  private checkNotify(src: SourceFile, at: YamlPath, tasks: Task[], handlers: Task[]): void {
    const names = new Set(handlers.flatMap((h) => [h.name, ...h.listen]));
    for (const t of tasks) {
      for (const n of t.notify) {
        if (!names.has(n)) {
          const guess = didYouMean(n, names);
          this.errors.push(
            new InputError(`task "${t.name}" notifies "${n}", but the play has no handler of that name`, {
              location: t.location,
              hint: guess ? `did you mean "${guess}"?` : 'add a handler with that name under the play\'s handlers:',
            }),
          );
        }
      }
    }
    void src;
    void at;
  }

  private vars(src: SourceFile, at: YamlPath, value: unknown): Record<string, unknown> {
    if (value === undefined || value === null) return {};
    if (!isMap(value)) {
      this.errors.push(src.error(at, 'vars must be a mapping of names to values'));
      return {};
    }
    return value;
  }

  private stringList(src: SourceFile, at: YamlPath, value: unknown, what: string): string[] {
    if (value === undefined || value === null) return [];
    if (typeof value === 'string') return value.split(',').map((s) => s.trim()).filter(Boolean);
    if (Array.isArray(value) && value.every((v) => typeof v === 'string' || typeof v === 'number')) return value.map(String);
    this.errors.push(src.error(at, `${what} must be a name or a list of names`, `e.g. ${what}: [a, b] or ${what}: a`));
    return [];
  }

  private condition(src: SourceFile, at: YamlPath, value: unknown): string | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') {
      this.errors.push(src.error(at, 'a condition must be a CEL expression string', 'e.g. result.rc == 0'));
      return undefined;
    }
    this.checkExpression(src, at, value);
    return value;
  }

  private conditions(src: SourceFile, at: YamlPath, value: unknown): string[] {
    if (value === undefined || value === null) return [];
    if (typeof value === 'boolean') return [String(value)];
    if (typeof value === 'string') {
      this.checkExpression(src, at, value);
      return [value];
    }
    if (Array.isArray(value)) return value.flatMap((v, i) => this.conditions(src, [...at, i], v));
    this.errors.push(src.error(at, 'when takes a condition or a list of conditions (all must hold)'));
    return [];
  }

  private boolOrCondition(src: SourceFile, at: YamlPath, value: unknown): string | boolean | undefined {
    if (typeof value === 'boolean') return value;
    return this.condition(src, at, value);
  }

  private checkExpression(src: SourceFile, at: YamlPath, expr: string): void {
    if (/^\s*\{\{.*\}\}\s*$/s.test(expr)) {
      const bare = expr.replace(/^\s*\{\{\s*|\s*\}\}\s*$/g, '');
      this.errors.push(src.error(at, `conditions are not templates: write ${bare} without {{ }}`, `conditions are CEL expressions over the variables, e.g. when: ${bare}`));
      return;
    }
    try {
      compileExpression(expr, src.locate(at));
    } catch (err) {
      if (err instanceof InputError) this.errors.push(err);
      else throw err;
    }
  }

  private bool(src: SourceFile, at: YamlPath, value: unknown): boolean | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'boolean') return value;
    this.errors.push(src.error(at, `expected true or false, got ${JSON.stringify(value)}`));
    return undefined;
  }

  private number(src: SourceFile, at: YamlPath, value: unknown, what: string): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'number' && value >= 0) return value;
    this.errors.push(src.error(at, `${what} must be a number ≥ 0, got ${JSON.stringify(value)}`, 'write numbers without quotes'));
    return undefined;
  }
}

/** Every argument error says where to read about the arguments, when it has no more specific hint. */
function withHint(errors: InputError[], mod: ModuleDef): InputError[] {
  return errors.map((e) =>
    e.hint !== undefined ? e : new InputError(e.message, { location: e.location, hint: `see \`runbook modules ${mod.name}\` for its arguments and examples` }),
  );
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])];
}

export function hasTemplateDeep(v: unknown): boolean {
  if (typeof v === 'string') return hasTemplate(v);
  if (Array.isArray(v)) return v.some(hasTemplateDeep);
  if (isMap(v)) return Object.values(v).some(hasTemplateDeep);
  return false;
}

/** Check literal fields and unknown keys of an object schema whose other fields are templated. */
function partialCheck(schema: z.ZodType, args: unknown, src: SourceFile, at: YamlPath, what: string): InputError[] {
  const shape = objectShape(schema);
  if (!shape || !isMap(args)) return [];
  const out: InputError[] = [];
  for (const [key, value] of Object.entries(args)) {
    const field = shape[key];
    if (!field) {
      const guess = didYouMean(key, Object.keys(shape));
      out.push(src.error([...at, key], `unknown key "${key}" in ${what}`, guess ? `did you mean "${guess}"?` : `arguments: ${Object.keys(shape).join(', ')}`, true));
      continue;
    }
    if (hasTemplateDeep(value)) continue;
    const res = field.safeParse(value);
    if (!res.success) out.push(...schemaErrors(res.error, src, [...at, key], `"${key}" of ${what}`, { schema: field, value }));
  }
  return out;
}

export function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  let s: unknown = schema;
  // Unwrap effects/pipes/optionals until an object schema shows its shape.
  for (let i = 0; i < 5 && s; i++) {
    const shape = (s as { shape?: Record<string, z.ZodType> }).shape;
    if (shape) return shape;
    const def = (s as { def?: { in?: unknown; innerType?: unknown; schema?: unknown } }).def;
    s = def?.in ?? def?.innerType ?? def?.schema;
  }
  return undefined;
}
