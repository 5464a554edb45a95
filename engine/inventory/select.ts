// Host patterns, for --limit and a play's `hosts:`. A pattern is a list of
// terms (comma-separated, or a YAML list): a host name, a group name, `all`,
// a host alias (`198.19.0.11:6667`), or a glob with * and ? over all of those.
// `!term` removes hosts, `&term` keeps only hosts also in term. Terms without
// a prefix add up; when every term is an exclusion they start from all hosts.
// The result is always in inventory order, whatever the pattern's order.
//
// A name that matches nothing is an error, with the close matches: a typo in
// `!node3` must not quietly run on node3. A glob that matches nothing is not.

import { editDistance, InputError, type SourceLocation } from '../errors.js';
import type { Inventory } from './types.js';

interface Term {
  op: 'add' | 'remove' | 'keep';
  text: string;
}

export function selectHosts(inv: Inventory, pattern: string | string[], within?: string[]): string[] {
  return select(inv, pattern, within, undefined, 'pattern');
}

/** The hosts of a play: its `hosts:` value (already templated), reported at `location` when it names something unknown. */
export function resolvePlayHosts(inv: Inventory, hostsField: string | string[], location?: SourceLocation): string[] {
  return select(inv, hostsField, undefined, location, 'hosts');
}

function select(inv: Inventory, pattern: string | string[], within: string[] | undefined, location: SourceLocation | undefined, what: string): string[] {
  const terms = parse(pattern);
  if (terms.length === 0) {
    throw new InputError(`the ${what} "${[pattern].flat().join(',')}" names no hosts`, {
      location,
      hint: 'use all, a group name, a host name, or a comma-separated list of them',
    });
  }
  const unknown: string[] = [];
  const sets = terms.map((t) => {
    const hosts = match(inv, t.text);
    if (hosts === undefined) unknown.push(t.text);
    return { ...t, hosts: hosts ?? new Set<string>() };
  });
  if (unknown.length > 0) throw unknownNames(inv, unknown, location);

  const adds = sets.filter((s) => s.op === 'add');
  const chosen = new Set<string>(adds.length > 0 ? adds.flatMap((s) => [...s.hosts]) : inv.hosts.keys());
  for (const s of sets) {
    if (s.op === 'remove') for (const h of s.hosts) chosen.delete(h);
    if (s.op === 'keep') for (const h of [...chosen]) if (!s.hosts.has(h)) chosen.delete(h);
  }
  const limit = within === undefined ? undefined : new Set(within);
  return [...inv.hosts.keys()].filter((h) => chosen.has(h) && (limit === undefined || limit.has(h)));
}

function parse(pattern: string | string[]): Term[] {
  const out: Term[] = [];
  for (const part of [pattern].flat().flatMap((p) => p.split(','))) {
    const text = part.trim();
    if (text === '') continue;
    if (text.startsWith('!')) out.push({ op: 'remove', text: text.slice(1).trim() });
    else if (text.startsWith('&')) out.push({ op: 'keep', text: text.slice(1).trim() });
    else out.push({ op: 'add', text });
  }
  return out;
}

/** The hosts one term stands for, or undefined when the name is unknown. */
function match(inv: Inventory, text: string): Set<string> | undefined {
  if (text === 'all' || text === '*') return new Set(inv.hosts.keys());
  if (inv.hosts.has(text)) return new Set([text]);
  const group = inv.groups.get(text);
  if (group) return new Set(group.hosts);
  const byAlias = [...inv.hosts.values()].filter((h) => h.aliases.includes(text)).map((h) => h.name);
  if (byAlias.length > 0) return new Set(byAlias);
  if (!/[*?]/.test(text)) return undefined;

  const re = globToRegExp(text);
  const out = new Set<string>();
  for (const h of inv.hosts.values()) if (re.test(h.name) || h.aliases.some((a) => re.test(a))) out.add(h.name);
  for (const g of inv.groups.values()) if (re.test(g.name)) for (const h of g.hosts) out.add(h);
  return out;
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

function unknownNames(inv: Inventory, names: string[], location: SourceLocation | undefined): InputError {
  const candidates = ['all', ...inv.groups.keys(), ...inv.hosts.keys(), ...[...inv.hosts.values()].flatMap((h) => h.aliases)];
  const suggestions = names.flatMap((n) => {
    const close = closeMatches(n, candidates).map((c) => `"${c}"`);
    if (close.length === 0) return [];
    const alternatives = close.length === 1 ? close[0]! : `${close.slice(0, -1).join(', ')} or ${close[close.length - 1]!}`;
    return [names.length === 1 ? alternatives : `${alternatives} for "${n}"`];
  });
  const groups = [...inv.groups.keys()];
  return new InputError(`no host, group or alias named ${names.map((n) => `"${n}"`).join(', ')} in the inventory ${inv.path}`, {
    location,
    hint:
      suggestions.length > 0
        ? `did you mean ${suggestions.join('; ')}?`
        : `groups: ${groups.length > 0 ? groups.slice(0, 12).join(', ') : '(none)'}; hosts: ${[...inv.hosts.keys()].slice(0, 12).join(', ')}`,
  });
}

/** Up to three candidates within typo distance, closest first. */
function closeMatches(word: string, candidates: string[]): string[] {
  const limit = Math.max(1, Math.floor(word.length / 3));
  const scored = [...new Set(candidates)]
    .map((c) => ({ c, d: editDistance(word.toLowerCase(), c.toLowerCase()) }))
    .filter((x) => x.d <= limit)
    .sort((a, b) => a.d - b.d);
  return scored.slice(0, 3).map((x) => x.c);
}
