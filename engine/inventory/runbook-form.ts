// runbook's own inventory form: `ssh` connection defaults, global `vars`,
// `hosts` and `groups`. This file checks the document's shape and turns it into
// an InventoryDraft; load.ts then checks cross-references and applies variable
// precedence, the same way for every form (the Ansible reader produces drafts
// too, which is why the draft types live here).

import { z } from 'zod';
import type { InputError } from '../errors.js';
import type { Secret } from '../secret.js';
import type { YamlPath } from '../source.js';
import { checkKeys, schemaErrors } from '../validate.js';
import { isPlainMapping, readSecretField, resolveInventoryPath, resolveVarSecrets, type LoadContext } from './secrets.js';

/** Connection settings as written; anything left out falls back to `ssh:` defaults, then built-in defaults. */
export interface ConnectionDraft {
  address?: string | undefined;
  port?: number | undefined;
  user?: string | undefined;
  privateKeyFile?: string | undefined;
  password?: Secret | undefined;
  passphrase?: Secret | undefined;
  /** A socket path, or false for "do not use an agent". */
  agent?: string | false | undefined;
  knownHostsFile?: string | undefined;
  connection?: 'ssh' | 'local' | undefined;
}

/** One mapping of vars and where it is, so later checks can point at a var's line. */
export interface VarsLayer {
  values: Record<string, unknown>;
  path: YamlPath;
}

export interface NameRef {
  name: string;
  path: YamlPath;
  /** The name is a mapping key (Ansible), so errors point at the key rather than at its empty value. */
  isKey?: boolean | undefined;
}

export interface HostDraft {
  name: string;
  /** Path of the host's key (for "declared here" positions). */
  path: YamlPath;
  connection: ConnectionDraft;
  /** Host vars; several layers when a host is declared more than once (Ansible), later wins. */
  vars: VarsLayer[];
  aliases?: string[] | undefined;
}

export interface GroupDraft {
  name: string;
  path: YamlPath;
  hosts: NameRef[];
  children: NameRef[];
  vars: VarsLayer[];
}

/** Merged vars of one host with the YAML path each value came from. */
export interface MergedVars {
  values: Record<string, unknown>;
  origins: Map<string, YamlPath>;
}

export interface InventoryDraft {
  form: 'runbook' | 'ansible';
  defaults: ConnectionDraft;
  vars: VarsLayer[];
  hosts: HostDraft[];
  groups: GroupDraft[];
  /**
   * For forms that carry connection settings as vars (Ansible's ansible_host,
   * ansible_user, …): take them out of a host's merged vars. Runs after
   * precedence, so a group's ansible_user applies to its hosts.
   */
  connectionFromVars?: ((host: HostDraft, merged: MergedVars, ctx: LoadContext) => ConnectionDraft) | undefined;
  /** Vars that connectionFromVars consumes, left out of the global and group vars the inventory exposes. */
  connectionVarNames?: ReadonlySet<string> | undefined;
}

// The schemas are the documentation of the form: every field says what it is.
const connectionFields = {
  user: z.string().min(1).optional().describe('login user (default: the user running runbook)'),
  port: z.number().int().min(1).max(65535).optional().describe('ssh port (default 22)'),
  private_key_file: z.string().min(1).optional().describe('private key; ~ expands, relative paths start at the inventory file'),
  passphrase: z.unknown().optional().describe('passphrase of the private key: text, { env: NAME } or { file: path }'),
  password: z.unknown().optional().describe('login password: text, { env: NAME } or { file: path }'),
  agent: z.union([z.boolean(), z.string().min(1)]).optional().describe('use ssh-agent: true for $SSH_AUTH_SOCK, false for none, or a socket path'),
  known_hosts: z.string().min(1).optional().describe('known_hosts file to check host keys against (default ~/.ssh/known_hosts)'),
};

const varsSchema = z.record(z.string(), z.unknown()).nullable().optional().describe('variables');

export const sshSchema = z.strictObject(connectionFields).nullable();

export const hostSchema = z
  .strictObject({
    address: z.string().min(1).optional().describe('address to connect to (default: the host name)'),
    ...connectionFields,
    connection: z.enum(['ssh', 'local']).optional().describe('ssh (default) or local: run on the controller'),
    vars: varsSchema,
  })
  .nullable();

export const groupSchema = z
  .strictObject({
    hosts: z.array(z.string().min(1)).nullable().optional().describe('names of member hosts'),
    children: z.array(z.string().min(1)).nullable().optional().describe('names of child groups; their hosts are members too'),
    vars: varsSchema,
  })
  .nullable();

export const RUNBOOK_FORM_KEYS = ['ssh', 'vars', 'hosts', 'groups'] as const;

/** Check a runbook-form document and turn it into a draft; problems go to ctx.errors. */
export function parseRunbookForm(doc: Record<string, unknown>, ctx: LoadContext): InventoryDraft {
  const { source } = ctx;
  const errors = ctx.errors;
  errors.push(...checkKeys(doc, RUNBOOK_FORM_KEYS, source, [], 'the inventory'));

  const draft: InventoryDraft = { form: 'runbook', defaults: {}, vars: [], hosts: [], groups: [] };

  const ssh = check(sshSchema, doc.ssh ?? null, ['ssh'], 'ssh', ctx);
  if (ssh) draft.defaults = connectionDraft(ssh, ['ssh'], 'ssh', ctx);

  const globals = mappingAt(doc.vars, ['vars'], 'vars', errors, ctx);
  if (globals) draft.vars.push({ values: resolveVarSecrets(globals, ['vars'], ctx), path: ['vars'] });

  const hosts = mappingAt(doc.hosts, ['hosts'], 'hosts', errors, ctx, 'list hosts as a mapping: each host name followed by ":"');
  for (const [name, raw] of Object.entries(hosts ?? {})) {
    const path = ['hosts', name];
    const host = check(hostSchema, raw, path, `host "${name}"`, ctx);
    // A host whose settings are wrong still exists, so references to it are not reported as well.
    const conn = host ? connectionDraft(host, path, `host "${name}"`, ctx) : {};
    if (host?.address !== undefined) conn.address = host.address;
    if (host?.connection !== undefined) conn.connection = host.connection;
    const vars = host?.vars ? [{ values: resolveVarSecrets(host.vars, [...path, 'vars'], ctx), path: [...path, 'vars'] }] : [];
    draft.hosts.push({ name, path, connection: conn, vars });
  }

  const groups = mappingAt(doc.groups, ['groups'], 'groups', errors, ctx);
  for (const [name, raw] of Object.entries(groups ?? {})) {
    const path = ['groups', name];
    const group = check(groupSchema, raw, path, `group "${name}"`, ctx);
    const refs = (list: string[] | null | undefined, key: string): NameRef[] =>
      (list ?? []).map((n, i) => ({ name: n, path: [...path, key, i] }));
    draft.groups.push({
      name,
      path,
      hosts: refs(group?.hosts, 'hosts'),
      children: refs(group?.children, 'children'),
      vars: group?.vars ? [{ values: resolveVarSecrets(group.vars, [...path, 'vars'], ctx), path: [...path, 'vars'] }] : [],
    });
  }
  return draft;
}

/** An `ssh:` mapping as parsed: null or absent when it is empty or left out. */
export type SshInput = z.output<typeof sshSchema>;
type ConnectionInput = SshInput & {};

export function connectionDraft(input: ConnectionInput, path: YamlPath, what: string, ctx: LoadContext): ConnectionDraft {
  const out: ConnectionDraft = {};
  if (input.user !== undefined) out.user = input.user;
  if (input.port !== undefined) out.port = input.port;
  if (input.private_key_file !== undefined) out.privateKeyFile = resolveInventoryPath(input.private_key_file, ctx.baseDir);
  if (input.known_hosts !== undefined) out.knownHostsFile = resolveInventoryPath(input.known_hosts, ctx.baseDir);
  if (input.agent !== undefined) {
    if (input.agent === false) out.agent = false;
    else if (typeof input.agent === 'string') out.agent = resolveInventoryPath(input.agent, ctx.baseDir);
    else {
      const sock = process.env.SSH_AUTH_SOCK;
      if (sock) out.agent = sock;
      else {
        ctx.errors.push(
          ctx.source.error([...path, 'agent'], `${what}: agent is true but SSH_AUTH_SOCK is not set`, 'start ssh-agent (eval "$(ssh-agent)"; ssh-add) or give the socket path'),
        );
      }
    }
  }
  const password = readSecretField(input.password, [...path, 'password'], `${what} password`, ctx);
  if (password) out.password = password;
  const passphrase = readSecretField(input.passphrase, [...path, 'passphrase'], `${what} passphrase`, ctx);
  if (passphrase) out.passphrase = passphrase;
  return out;
}

/** connectionDraft of an `ssh:` that may be left out (or empty): then nothing is set, and the defaults apply. */
export function optionalConnectionDraft(input: SshInput | undefined, path: YamlPath, what: string, ctx: LoadContext): ConnectionDraft {
  return input ? connectionDraft(input, path, what, ctx) : {};
}

function check<S extends z.ZodType>(schema: S, value: unknown, path: YamlPath, what: string, ctx: LoadContext): z.output<S> | undefined {
  const res = schema.safeParse(value);
  if (res.success) return res.data;
  ctx.errors.push(...schemaErrors(res.error, ctx.source, path, what, { schema, value }));
  return undefined;
}

/** A section that must be a mapping; YAML's empty value (`hosts:` with nothing under it) counts as empty. */
function mappingAt(
  value: unknown,
  path: YamlPath,
  what: string,
  errors: InputError[],
  ctx: LoadContext,
  hint?: string,
): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (isPlainMapping(value)) return value;
  errors.push(ctx.source.error(path, `${what} must be a mapping, not ${Array.isArray(value) ? 'a list' : typeof value}`, hint));
  return undefined;
}
