// Ansible's YAML inventory layout (`all:` with hosts / children / vars), read
// into the same draft as runbook's own form. Ansible semantics kept: every
// top-level key is a group under `all`; a group or host may be declared in
// several places and the declarations merge; `web[01:03]` declares three
// hosts; connection settings are ansible_* vars and may come from any level
// (a group's ansible_user applies to its hosts), so they are taken out of each
// host's vars after precedence has been applied.

import { didYouMean, type InputError } from '../errors.js';
import type { YamlPath } from '../source.js';
import { Secret } from '../secret.js';
import type { ConnectionDraft, GroupDraft, HostDraft, InventoryDraft, MergedVars } from './runbook-form.js';
import { isPlainMapping, readSecretField, resolveInventoryPath, resolveVarSecrets, type LoadContext } from './secrets.js';

const GROUP_KEYS = ['hosts', 'children', 'vars'];

/** Ansible's connection vars and the connection field each one sets (several spellings per field). */
const CONNECTION_VARS: Record<string, keyof ConnectionDraft> = {
  ansible_host: 'address',
  ansible_ssh_host: 'address',
  ansible_port: 'port',
  ansible_ssh_port: 'port',
  ansible_user: 'user',
  ansible_ssh_user: 'user',
  ansible_ssh_private_key_file: 'privateKeyFile',
  ansible_private_key_file: 'privateKeyFile',
  ansible_password: 'password',
  ansible_ssh_pass: 'password',
  ansible_ssh_password: 'password',
  ansible_connection: 'connection',
};

export function looksLikeAnsible(doc: Record<string, unknown>): boolean {
  return 'all' in doc;
}

export function parseAnsibleInventory(doc: Record<string, unknown>, ctx: LoadContext): InventoryDraft {
  const reader = new AnsibleReader(ctx);
  for (const [name, value] of Object.entries(doc)) reader.group(name, value, [name]);
  return {
    form: 'ansible',
    defaults: {},
    vars: reader.globals,
    hosts: [...reader.hosts.values()],
    groups: [...reader.groups.values()],
    connectionFromVars,
    connectionVarNames: new Set(Object.keys(CONNECTION_VARS)),
  };
}

class AnsibleReader {
  readonly hosts = new Map<string, HostDraft>();
  readonly groups = new Map<string, GroupDraft>();
  readonly globals: InventoryDraft['vars'] = [];
  private readonly errors: InputError[];
  /** Group bodies being read, innermost last. */
  private readonly open = new Set<object>();

  constructor(private readonly ctx: LoadContext) {
    this.errors = ctx.errors;
  }

  /** Read a group's body; returns nothing, records into hosts/groups. `all` feeds the globals instead of a group. */
  group(name: string, value: unknown, path: YamlPath): void {
    const isAll = name === 'all';
    let group: GroupDraft | undefined;
    if (!isAll) {
      group = this.groups.get(name);
      if (!group) {
        group = { name, path, hosts: [], children: [], vars: [] };
        this.groups.set(name, group);
      }
    }
    if (value === null || value === undefined) return;
    if (!isPlainMapping(value)) {
      this.errors.push(this.ctx.source.error(path, `group "${name}" must be a mapping with hosts, children or vars`));
      return;
    }
    // A YAML alias can make a group's body contain itself; nesting is otherwise finite.
    if (this.open.has(value)) {
      this.errors.push(this.ctx.source.error(path, `group "${name}" contains itself through a YAML alias`, 'replace the alias (*name) with the group\'s name under children'));
      return;
    }
    this.open.add(value);
    try {
      this.groupBody(name, value, path, group);
    } finally {
      this.open.delete(value);
    }
  }

  private groupBody(name: string, value: Record<string, unknown>, path: YamlPath, group: GroupDraft | undefined): void {
    for (const key of Object.keys(value)) {
      if (GROUP_KEYS.includes(key)) continue;
      const guess = didYouMean(key, GROUP_KEYS);
      this.errors.push(
        this.ctx.source.error(
          [...path, key],
          `unknown key "${key}" in group "${name}"`,
          guess ? `did you mean "${guess}"?` : 'a group has hosts, children and vars; put host variables under the host, group variables under vars',
          true,
        ),
      );
    }

    const hosts = this.mapping(value.hosts, [...path, 'hosts'], `hosts of group "${name}"`, 'in Ansible YAML, hosts is a mapping: write each host as "name:" on its own line');
    for (const [pattern, hostValue] of Object.entries(hosts ?? {})) {
      const hostPath = [...path, 'hosts', pattern];
      for (const hostName of this.expand(pattern, hostPath)) {
        this.host(hostName, hostValue, hostPath);
        if (group && !group.hosts.some((r) => r.name === hostName)) group.hosts.push({ name: hostName, path: hostPath, isKey: true });
      }
    }

    const children = this.mapping(value.children, [...path, 'children'], `children of group "${name}"`, 'children is a mapping of group names, each followed by ":"');
    for (const [childName, childValue] of Object.entries(children ?? {})) {
      const childPath = [...path, 'children', childName];
      if (childName === 'all') {
        this.errors.push(this.ctx.source.error(childPath, '"all" cannot be a child group: it is the group of every host', 'move its hosts and vars to the top-level all:', true));
        continue;
      }
      // Under `all`, a child group is simply a top-level group.
      if (group && !group.children.some((r) => r.name === childName)) group.children.push({ name: childName, path: childPath, isKey: true });
      this.group(childName, childValue, childPath);
    }

    const vars = this.mapping(value.vars, [...path, 'vars'], `vars of group "${name}"`);
    if (vars) {
      const layer = { values: resolveVarSecrets(vars, [...path, 'vars'], this.ctx), path: [...path, 'vars'] };
      if (group) group.vars.push(layer);
      else this.globals.push(layer);
    }
  }

  private host(name: string, value: unknown, path: YamlPath): void {
    let host = this.hosts.get(name);
    if (!host) {
      host = { name, path, connection: {}, vars: [] };
      this.hosts.set(name, host);
    }
    if (value === null || value === undefined) return;
    if (!isPlainMapping(value)) {
      this.errors.push(this.ctx.source.error(path, `host "${name}" must be a mapping of variables (or nothing)`, `write "${name}:" alone, or indent its variables under it`));
      return;
    }
    host.vars.push({ values: resolveVarSecrets(value, path, this.ctx), path });
  }

  private mapping(value: unknown, path: YamlPath, what: string, hint?: string): Record<string, unknown> | undefined {
    if (value === null || value === undefined) return undefined;
    if (isPlainMapping(value)) return value;
    this.errors.push(this.ctx.source.error(path, `${what} must be a mapping, not ${Array.isArray(value) ? 'a list' : typeof value}`, hint));
    return undefined;
  }

  /** Ansible host ranges: `node[1:3]`, `db-[a:c]`, `web[01:10:2]` (leading zeros keep the width). */
  private expand(pattern: string, path: YamlPath): string[] {
    const m = /^(.*?)\[([^\]:]+):([^\]:]+)(?::(\d+))?\](.*)$/.exec(pattern);
    if (!m) return [pattern];
    const [, head = '', from = '', to = '', stepText, tail = ''] = m;
    const step = stepText === undefined ? 1 : Number(stepText);
    const bad = (why: string): string[] => {
      this.errors.push(this.ctx.source.error(path, `host range "${pattern}": ${why}`, 'ranges look like node[1:3], node[01:10:2] or node[a:c]', true));
      return [];
    };
    if (step < 1) return bad('the step must be at least 1');
    const out: string[] = [];
    if (/^\d+$/.test(from) && /^\d+$/.test(to)) {
      const a = Number(from);
      const b = Number(to);
      if (a > b) return bad('the start is after the end');
      const width = from.startsWith('0') && from.length > 1 ? from.length : 0;
      for (let i = a; i <= b; i += step) out.push(`${head}${String(i).padStart(width, '0')}${tail}`);
    } else if (/^[a-zA-Z]$/.test(from) && /^[a-zA-Z]$/.test(to)) {
      const a = from.charCodeAt(0);
      const b = to.charCodeAt(0);
      if (a > b) return bad('the start is after the end');
      for (let i = a; i <= b; i += step) out.push(`${head}${String.fromCharCode(i)}${tail}`);
    } else {
      return bad('the bounds must be two numbers or two letters');
    }
    // Further ranges in the tail (`rack[1:2]-node[1:3]`).
    return out.flatMap((name) => (name.includes('[') ? this.expand(name, path) : [name]));
  }
}

/** Take ansible_* connection vars out of a host's merged vars (host > group > all, already applied). */
function connectionFromVars(host: HostDraft, merged: MergedVars, ctx: LoadContext): ConnectionDraft {
  const conn: ConnectionDraft = {};
  for (const [key, field] of Object.entries(CONNECTION_VARS)) {
    if (!(key in merged.values)) continue;
    const value = merged.values[key];
    delete merged.values[key];
    const at = [...(merged.origins.get(key) ?? host.path)];
    const where = `${key} of host "${host.name}"`;
    const fail = (msg: string, hint?: string): void => {
      ctx.errors.push(ctx.source.error(at, `${where}: ${msg}`, hint));
    };
    if (value === null || value === undefined) continue;
    switch (field) {
      case 'address':
      case 'user':
        if (typeof value === 'string' && value !== '') conn[field] = value;
        else fail('must be text');
        break;
      case 'port': {
        const port = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
        if (Number.isInteger(port) && port >= 1 && port <= 65535) conn.port = port;
        else fail('must be a port number (1-65535)');
        break;
      }
      case 'privateKeyFile':
        if (typeof value === 'string' && value !== '') conn.privateKeyFile = resolveInventoryPath(value, ctx.baseDir);
        else fail('must be a path');
        break;
      case 'password':
        // Already a Secret when written as { env } / { file } (vars secrets are read on load).
        if (value instanceof Secret) conn.password = value;
        else {
          const secret = readSecretField(value, at, where, ctx);
          if (secret) conn.password = secret;
        }
        break;
      case 'connection':
        if (value === 'local') conn.connection = 'local';
        else if (value === 'ssh' || value === 'smart' || value === 'paramiko') conn.connection = 'ssh';
        else fail(`"${String(value)}" is not supported`, 'runbook connects with ssh or local');
        break;
      default:
        break;
    }
  }
  return conn;
}
