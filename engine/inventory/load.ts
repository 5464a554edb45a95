// Loading an inventory: detect which of the three accepted forms a file is,
// read it into a draft, check every cross-reference, apply variable
// precedence, and hand back the normalised Inventory, or throw InputErrors
// naming every problem at its file:line:col before any host is touched.
//
// Variable precedence, lowest first (later wins, whole values: a mapping in a
// higher layer replaces the lower one, it is not merged into it):
//   1. global `vars` (runbook form) / `all: vars:` (Ansible);
//   2. group vars, in one order for the whole inventory: a parent group before
//      its children; groups not related by parenthood in the order they are
//      declared in the file. A host gets the vars of every group it belongs to,
//      directly or through a child group. `all` is the implicit group of every
//      host and its vars are layer 1;
//   3. host `vars` (Ansible: the variables written under the host; a host
//      declared in several groups merges those, the later declaration winning);
//   4. `inventory_hostname` (the host's name) and `address` (where runbook
//      connects), which nothing in the inventory can override.
// Connection settings (address, port, user, keys, passwords) are not vars. In
// runbook form they come from the host, else `ssh:`, else built-in defaults;
// in Ansible form from the ansible_* vars after the precedence above, so a
// group's ansible_user applies to its hosts unless a host sets its own.

import { userInfo, homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { didYouMean, InputError, InputErrors } from '../errors.js';
import { secretMasker } from '../secret.js';
import { SourceFile, type YamlPath } from '../source.js';
import { findAdapter, registeredAdapters } from './adapters.js';
import { looksLikeAnsible, parseAnsibleInventory } from './ansible.js';
import {
  parseRunbookForm,
  RUNBOOK_FORM_KEYS,
  type ConnectionDraft,
  type GroupDraft,
  type HostDraft,
  type InventoryDraft,
  type MergedVars,
  type NameRef,
  type VarsLayer,
} from './runbook-form.js';
import { isPlainMapping, newLoadContext, type LoadContext } from './secrets.js';
import type { Inventory, InventoryGroup, InventoryHost, ProductAdapter } from './types.js';

export interface LoadInventoryOptions {
  /** Adapters tried before the registered ones (and overriding them for the same product). */
  extraAdapters?: ProductAdapter[] | undefined;
}

export function loadInventory(path: string, opts: LoadInventoryOptions = {}): Inventory {
  return inventoryFromSource(SourceFile.load(path), opts);
}

/** Same as loadInventory for an already parsed file (tests, inventories that are not on disk). */
export function inventoryFromSource(source: SourceFile, opts: LoadInventoryOptions = {}): Inventory {
  const doc = source.toJS();
  if (doc === null || doc === undefined) throw unrecognised(source, 'the inventory is empty');
  if (!isPlainMapping(doc)) throw unrecognised(source, `the inventory must be a mapping, not ${Array.isArray(doc) ? 'a list' : typeof doc}`);

  const extra = opts.extraAdapters ?? [];
  const adapter = findAdapter(doc, extra);
  if (adapter) return finish(adapter.load(source, doc), source, adapter.product);
  // In an Ansible inventory every top-level key is a group, even one called `product`.
  if ('product' in doc && !looksLikeAnsible(doc)) throw unknownProduct(source, doc.product, extra);

  const ctx = newLoadContext(source, dirname(resolve(source.path)));
  let draft: InventoryDraft;
  if (looksLikeAnsible(doc)) draft = parseAnsibleInventory(doc, ctx);
  else if (looksLikeRunbookForm(doc)) draft = parseRunbookForm(doc, ctx);
  else throw unrecognised(source, 'runbook cannot tell what kind of inventory this is');
  return finish(buildInventory(draft, ctx), source);
}

function looksLikeRunbookForm(doc: Record<string, unknown>): boolean {
  // A misspelt top-level key (`host:`) still means runbook form, so the user
  // gets "did you mean hosts" rather than "unknown kind of file".
  const keys: readonly string[] = RUNBOOK_FORM_KEYS;
  return Object.keys(doc).some((k) => keys.includes(k) || didYouMean(k, keys) !== undefined);
}

/**
 * Check a draft's cross-references and apply precedence (see the top of this
 * file). Product adapters may use this too: build a draft, get the same checks.
 * Throws InputErrors with everything found, including what the readers put in
 * ctx.errors.
 */
export function buildInventory(draft: InventoryDraft, ctx: LoadContext): Inventory {
  const { source } = ctx;
  const errors = ctx.errors;
  const hostIndex = new Map<string, number>(draft.hosts.map((h, i) => [h.name, i]));
  const groupByName = new Map<string, GroupDraft>(draft.groups.map((g) => [g.name, g]));

  for (const host of draft.hosts) checkName(host.name, host.path, 'host', ctx);
  for (const group of draft.groups) {
    checkName(group.name, group.path, 'group', ctx);
    if (hostIndex.has(group.name)) {
      errors.push(
        source.error(group.path, `"${group.name}" is both a host and a group`, 'host and group names share one namespace (both select hosts); rename one of them', true),
      );
    }
  }
  checkReferences(draft, hostIndex, groupByName, ctx);
  const broken = checkCycles(draft, groupByName, ctx);
  const live = (group: GroupDraft): GroupDraft[] =>
    group.children.filter((r) => !broken.has(r)).flatMap((r) => groupByName.get(r.name) ?? []);

  const order = precedenceOrder(draft.groups, live);
  const members = groupMembers(order, live, hostIndex);

  const exposed = (layers: VarsLayer[]): Record<string, unknown> => {
    const values = mergeLayers(layers).values;
    for (const name of draft.connectionVarNames ?? []) delete values[name];
    return values;
  };
  const hosts = new Map<string, InventoryHost>();
  for (const draftHost of draft.hosts) {
    const groups = order.filter((g) => members.get(g.name)!.has(draftHost.name));
    const merged = mergeLayers([...draft.vars, ...groups.flatMap((g) => g.vars), ...draftHost.vars]);
    const conn = draft.connectionFromVars ? draft.connectionFromVars(draftHost, merged, ctx) : draftHost.connection;
    const host = resolveHost(draftHost, draft.defaults, conn, ctx);
    host.groups = groups.map((g) => g.name);
    host.vars = { ...merged.values, inventory_hostname: host.name, address: host.address };
    hosts.set(host.name, host);
  }

  if (errors.length > 0) throw new InputErrors(sortByPosition(errors));

  const groups = new Map<string, InventoryGroup>();
  for (const g of draft.groups) {
    groups.set(g.name, {
      name: g.name,
      hosts: [...members.get(g.name)!].sort((a, b) => hostIndex.get(a)! - hostIndex.get(b)!),
      vars: exposed(g.vars),
      children: g.children.map((r) => r.name),
      location: source.locate(g.path, true),
    });
  }
  const inventory: Inventory = { path: source.path, source, vars: exposed(draft.vars), hosts, groups };
  const warnings = dedupeWarnings(ctx.warnings);
  if (warnings.length > 0) inventory.warnings = warnings;
  return inventory;
}

const BAD_NAME = /[,\s*?]|^[!&]/;

function checkName(name: string, path: YamlPath, kind: 'host' | 'group', ctx: LoadContext): void {
  if (name === 'all') {
    ctx.errors.push(
      ctx.source.error(
        path,
        `"all" cannot be declared as a ${kind}: it is the implicit group of every host`,
        kind === 'group' ? 'put variables for every host under the top-level vars' : 'rename the host',
        true,
      ),
    );
  } else if (name === '' || BAD_NAME.test(name)) {
    ctx.errors.push(
      ctx.source.error(path, `${kind} name "${name}" cannot be used in host patterns`, 'names may not contain commas, spaces, * or ?, nor start with ! or &', true),
    );
  }
}

function checkReferences(draft: InventoryDraft, hostIndex: Map<string, number>, groupByName: Map<string, GroupDraft>, ctx: LoadContext): void {
  const hostNames = [...hostIndex.keys()];
  const groupNames = [...groupByName.keys()];
  for (const group of draft.groups) {
    for (const ref of group.hosts) {
      if (hostIndex.has(ref.name)) continue;
      const hint = groupByName.has(ref.name)
        ? `"${ref.name}" is a group; list it under children`
        : suggestion(ref.name, hostNames, 'hosts');
      ctx.errors.push(ctx.source.error(ref.path, `group "${group.name}" lists host "${ref.name}", which is not declared under hosts`, hint, ref.isKey));
    }
    for (const ref of group.children) {
      if (groupByName.has(ref.name)) continue;
      const hint = hostIndex.has(ref.name)
        ? `"${ref.name}" is a host; list it under hosts`
        : suggestion(ref.name, groupNames.filter((n) => n !== group.name), 'groups');
      ctx.errors.push(ctx.source.error(ref.path, `group "${group.name}" has child group "${ref.name}", which is not declared under groups`, hint, ref.isKey));
    }
  }
}

function suggestion(name: string, candidates: string[], what: string): string {
  const guess = didYouMean(name, candidates);
  if (guess) return `did you mean "${guess}"?`;
  if (candidates.length === 0) return `there are no ${what} declared`;
  const shown = candidates.slice(0, 10).join(', ');
  return `declared ${what}: ${shown}${candidates.length > 10 ? ', …' : ''}`;
}

/** Report each cycle once, at the reference that closes it; return those references so later steps can ignore them. */
function checkCycles(draft: InventoryDraft, groupByName: Map<string, GroupDraft>, ctx: LoadContext): Set<NameRef> {
  const broken = new Set<NameRef>();
  const state = new Map<string, 'active' | 'done'>();
  const stack: string[] = [];
  const visit = (group: GroupDraft): void => {
    state.set(group.name, 'active');
    stack.push(group.name);
    for (const ref of group.children) {
      const child = groupByName.get(ref.name);
      if (!child) continue;
      const s = state.get(child.name);
      if (s === 'active') {
        broken.add(ref);
        const cycle = [...stack.slice(stack.indexOf(child.name)), child.name].join(' → ');
        ctx.errors.push(ctx.source.error(ref.path, `groups form a cycle: ${cycle}`, 'a group cannot contain itself; remove one of these children', ref.isKey));
      } else if (s === undefined) {
        visit(child);
      }
    }
    stack.pop();
    state.set(group.name, 'done');
  };
  for (const group of draft.groups) if (!state.has(group.name)) visit(group);
  return broken;
}

/** Parents before children; otherwise declaration order (a topological sort that always takes the earliest-declared ready group). */
function precedenceOrder(groups: GroupDraft[], children: (g: GroupDraft) => GroupDraft[]): GroupDraft[] {
  const index = new Map(groups.map((g, i) => [g, i]));
  const parents = new Map<GroupDraft, number>(groups.map((g) => [g, 0]));
  for (const g of groups) for (const c of new Set(children(g))) parents.set(c, parents.get(c)! + 1);
  const ready = groups.filter((g) => parents.get(g) === 0);
  const out: GroupDraft[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => index.get(a)! - index.get(b)!);
    const next = ready.shift()!;
    out.push(next);
    for (const c of new Set(children(next))) {
      const left = parents.get(c)! - 1;
      parents.set(c, left);
      if (left === 0) ready.push(c);
    }
  }
  return out;
}

/** Each group's hosts including those of its descendants. `order` has parents first, so walk it backwards. */
function groupMembers(order: GroupDraft[], children: (g: GroupDraft) => GroupDraft[], hostIndex: Map<string, number>): Map<string, Set<string>> {
  const members = new Map<string, Set<string>>();
  for (const g of [...order].reverse()) {
    const set = new Set(g.hosts.map((r) => r.name).filter((n) => hostIndex.has(n)));
    for (const c of children(g)) for (const h of members.get(c.name) ?? []) set.add(h);
    members.set(g.name, set);
  }
  return members;
}

function mergeLayers(layers: VarsLayer[]): MergedVars {
  const values: Record<string, unknown> = {};
  const origins = new Map<string, YamlPath>();
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer.values)) {
      values[k] = v;
      origins.set(k, [...layer.path, k]);
    }
  }
  return { values, origins };
}

function resolveHost(draft: HostDraft, defaults: ConnectionDraft, own: ConnectionDraft, ctx: LoadContext): InventoryHost {
  const pick = <K extends keyof ConnectionDraft>(key: K): ConnectionDraft[K] => (own[key] !== undefined ? own[key] : defaults[key]);
  const address = own.address ?? draft.name;
  const agent = pick('agent');
  const aliases = [...(draft.aliases ?? [])];
  if (address !== draft.name && !aliases.includes(address)) aliases.push(address);
  return {
    name: draft.name,
    address,
    port: pick('port') ?? 22,
    user: pick('user') ?? currentUser(),
    auth: {
      privateKeyFile: pick('privateKeyFile'),
      password: pick('password'),
      passphrase: pick('passphrase'),
      // `agent: false` switches the agent off; not saying anything uses it when one runs.
      agent: agent === false ? undefined : (agent ?? (process.env.SSH_AUTH_SOCK || undefined)),
    },
    connection: own.connection ?? 'ssh',
    knownHostsFile: pick('knownHostsFile') ?? join(homedir(), '.ssh', 'known_hosts'),
    groups: [],
    vars: {},
    aliases,
    location: ctx.source.locate(draft.path, true),
  };
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    // userInfo() throws for a uid with no passwd entry (some containers).
    return process.env.USER ?? process.env.LOGNAME ?? 'root';
  }
}

function sortByPosition(errors: InputError[]): InputError[] {
  const key = (e: InputError): [number, number] => [e.location?.line ?? 0, e.location?.col ?? 0];
  return [...errors].sort((a, b) => key(a)[0] - key(b)[0] || key(a)[1] - key(b)[1]);
}

function dedupeWarnings(warnings: LoadContext['warnings']): LoadContext['warnings'] {
  const seen = new Set<string>();
  return warnings.filter((w) => {
    const k = `${w.message}@${w.location?.line}:${w.location?.col}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * The inventory keeps its SourceFile for error positions, but not as an
 * enumerable field: its text may hold plaintext passwords and would otherwise
 * turn up in any JSON dump. toJSON gives hosts and groups as lists (Maps
 * serialise to `{}`), with secrets masked.
 */
function finish(inv: Inventory, source: SourceFile, product?: string): Inventory {
  if (product !== undefined && inv.product === undefined) inv.product = product;
  Object.defineProperty(inv, 'source', { value: inv.source ?? source, enumerable: false, writable: true, configurable: true });
  Object.defineProperty(inv, 'toJSON', {
    enumerable: false,
    configurable: true,
    // maskValue also catches a plaintext secret quoted in a location's lineText.
    value: () =>
      secretMasker.maskValue({
        path: inv.path,
        product: inv.product,
        vars: inv.vars,
        hosts: [...inv.hosts.values()],
        groups: [...inv.groups.values()],
        warnings: inv.warnings,
      }),
  });
  return inv;
}

function unrecognised(source: SourceFile, why: string): InputError {
  const adapters = registeredAdapters().map((a) => a.product);
  return new InputError(`${why}; an inventory is one of three forms`, {
    location: { file: source.path, line: 1, col: 1, lineText: source.lines[0] ?? '' },
    hint: [
      'runbook form: top-level hosts:, groups:, ssh: and vars:',
      'Ansible YAML inventory: top-level all: with hosts:, children: and vars:',
      `product topology: product: <name>${adapters.length ? ` (known: ${adapters.join(', ')})` : ''}, or a topology file a product recognises`,
    ].join('; '),
  });
}

function unknownProduct(source: SourceFile, product: unknown, extra: readonly ProductAdapter[]): InputError {
  const known = registeredAdapters(extra).map((a) => a.product);
  if (typeof product !== 'string') {
    return source.error(['product'], 'product must be the name of a product', known.length ? `known products: ${known.join(', ')}` : undefined);
  }
  const guess = didYouMean(product, known);
  return source.error(
    ['product'],
    `no adapter for product "${product}"`,
    guess ? `did you mean "${guess}"?` : known.length ? `known products: ${known.join(', ')}` : 'no product adapters are registered',
  );
}
