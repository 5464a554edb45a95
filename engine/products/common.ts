// What the product topology adapters share. Each adapter owns its document's
// form and its product's rules; the steps here are the ones every topology
// takes the same way: schema building blocks and the shape check with zod,
// local files the document names, the product's public factory password,
// port and folder clashes on one machine, and the end of loading (every
// problem thrown together, or the inventory).

import { statSync } from 'node:fs';
import { basename, dirname, posix, resolve } from 'node:path';
import { z } from 'zod';
import { buildInventory } from '../inventory/load.js';
import { optionalConnectionDraft, type ConnectionDraft, type HostDraft, type InventoryDraft, type SshInput } from '../inventory/runbook-form.js';
import { newLoadContext, readSecretField, resolveInventoryPath, type LoadContext } from '../inventory/secrets.js';
import type { Inventory } from '../inventory/types.js';
import { Secret } from '../secret.js';
import type { SourceFile, YamlPath } from '../source.js';
import { schemaErrors } from '../validate.js';
import { isInside } from './paths.js';

// ---------------------------------------------------------------------------
// Building blocks of the topology schemas.

/** A TCP port. */
export const portSchema = z.number().int().min(1).max(65535);

/** key: value settings runbook writes into a product's config file (taos.cfg, gflags, …): scalars only; an empty value is none. */
export const settingsSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).nullable().optional();

/** A path on the product's machines, which must be absolute; `where` ends the message ("the machine", "the servers"). */
export function absolutePath(what: string, where = 'the machine') {
  return z
    .string()
    .min(1)
    .refine((p) => posix.isAbsolute(p), { message: `${what} must be an absolute path on ${where}` });
}

// ---------------------------------------------------------------------------
// Reading the document.

/** The document's shape checked: the load context, the parsed document, and the top-level ssh defaults. */
export interface ParsedTopology<T> {
  ctx: LoadContext;
  t: T;
  sshDefaults: ConnectionDraft;
}

/**
 * Check a topology document against its schema. `what` names it in messages
 * ("the TDengine topology"). `prepare` may take keys out before the check,
 * reporting them itself; schema messages still quote the document as written.
 * A document that does not fit throws every problem at once.
 */
export function parseTopology<S extends z.ZodType<{ ssh?: SshInput | undefined }>>(
  source: SourceFile,
  doc: Record<string, unknown>,
  schema: S,
  what: string,
  prepare?: (doc: Record<string, unknown>, ctx: LoadContext) => Record<string, unknown>,
): ParsedTopology<z.output<S>> {
  const ctx = newLoadContext(source, dirname(resolve(source.path)));
  const parsed = schema.safeParse(prepare ? prepare(doc, ctx) : doc);
  if (!parsed.success) {
    ctx.errors.push(...schemaErrors(parsed.error, source, [], what, { schema, value: doc }));
    return failTopology(ctx, what, [], {});
  }
  const t = parsed.data;
  return { ctx, t, sshDefaults: optionalConnectionDraft(t.ssh, ['ssh'], 'ssh', ctx) };
}

/**
 * Throw what ctx.errors holds (or that `what` could not be read). The hosts
 * that were read still go through the generic checks first, so one run
 * reports everything.
 */
export function failTopology(ctx: LoadContext, what: string, hosts: HostDraft[], defaults: ConnectionDraft): never {
  if (ctx.errors.length === 0) ctx.errors.push(ctx.source.error([], `${what} could not be read`));
  buildInventory({ form: 'runbook', defaults, vars: [], hosts, groups: [] }, ctx);
  throw new Error('buildInventory accepted a topology with errors');
}

/** The inventory of a topology that holds: the generic checks and precedence, labelled with its product. */
export function topologyInventory(product: string, draft: InventoryDraft, ctx: LoadContext): Inventory {
  const inv = buildInventory(draft, ctx);
  inv.product = product;
  return inv;
}

/** Why a local path cannot be used, or undefined when it is a readable file (or, with 'file-or-dir', a folder). */
export function localFileProblem(full: string, must: 'file' | 'file-or-dir' = 'file'): string | undefined {
  try {
    const st = statSync(full);
    if (must === 'file' && !st.isFile()) return 'is not a file';
    if (must === 'file-or-dir' && !st.isFile() && !st.isDirectory()) return 'is neither a file nor a folder';
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be read (permission denied)' : 'cannot be read';
  }
}

export interface LocalFile {
  /** The full path and its last part. */
  path: string;
  name: string;
  /** Why it cannot be used (already reported), or undefined. */
  problem: string | undefined;
}

/**
 * A local file the topology names (`~` is home; relative paths start at the
 * topology's folder). One that is missing or not a file is reported at `at`
 * as "`what` names <path>, which <problem>", with `hint`.
 */
export function localFile(value: string, at: YamlPath, what: string, hint: string, ctx: LoadContext): LocalFile {
  const path = resolveInventoryPath(value, ctx.baseDir);
  const problem = localFileProblem(path);
  if (problem) ctx.errors.push(ctx.source.error(at, `${what} names ${path}, which ${problem}`, hint));
  return { path, name: basename(path), problem };
}

/** cluster.package: the product's release archive, which `runbook lab package <labPackage>` builds simulated. */
export function clusterPackage(value: string, labPackage: string, ctx: LoadContext): LocalFile {
  return localFile(value, ['cluster', 'package'], 'cluster.package', `fix the path; relative paths start at the topology file's folder; \`runbook lab package ${labPackage}\` builds the simulated one`, ctx);
}

/**
 * A product's factory password is public, and short or common ("root",
 * "taosdata", "123456"): registered with the secret masker it would mask
 * every occurrence in the output (the ssh user, host names, numbers). This
 * one prints as a mask and reveals the factory password without registering
 * it; a password the user gives is an ordinary Secret.
 */
export class FactoryDefaultPassword extends Secret {
  readonly #password: string;

  /** `origin` names it safely ("TDengine default"). */
  constructor(password: string, origin: string) {
    super('', origin);
    this.#password = password;
  }

  override reveal(): string {
    return this.#password;
  }
}

/** cluster.password: text, { env } or { file } (undefined after a reported problem), else the factory password. */
export function clusterPassword(value: unknown, factoryDefault: () => Secret, ctx: LoadContext): Secret | undefined {
  return value === undefined || value === null ? factoryDefault() : readSecretField(value, ['cluster', 'password'], 'cluster.password', ctx);
}

/** A program's listening port on a machine, as the clash checks see it. */
export interface PortUse {
  port: number;
}

export interface PortClash<L> {
  listener: L;
  /** The earlier listener on that machine and port. */
  first: L;
  /** The next port above the clash that nothing on the machine uses, for the hint. */
  free: number;
}

/** Each listener that takes a port an earlier one on the same machine (by `machine`) already has. */
export function portClashes<L extends PortUse>(listeners: readonly L[], machine: (l: L) => string): Array<PortClash<L>> {
  const taken = new Map<string, L>();
  const clashes: Array<PortClash<L>> = [];
  for (const l of listeners) {
    const k = `${machine(l)}\0${l.port}`;
    const first = taken.get(k);
    if (!first) {
      taken.set(k, l);
      continue;
    }
    const used = new Set(listeners.filter((x) => machine(x) === machine(l)).map((x) => x.port));
    let free = l.port + 1;
    while (used.has(free)) free++;
    clashes.push({ listener: l, first, free });
  }
  return clashes;
}

/** A folder a host owns on a machine: clean and destroy of that host delete it. */
export interface FolderUse {
  owner: string;
  address: string;
  dir: string;
}

export interface FolderClash<D> {
  /** The later folder, where the problem is reported, and the first earlier one of another owner it overlaps. */
  later: D;
  earlier: D;
  /** "both use /x", or "use /x/y and /x, one inside the other". */
  how: string;
}

/** Folders of different owners on one machine that are one folder or one inside the other; one clash per later folder. */
export function folderClashes<D extends FolderUse>(dirs: readonly D[]): Array<FolderClash<D>> {
  const clashes: Array<FolderClash<D>> = [];
  for (let j = 1; j < dirs.length; j++) {
    const later = dirs[j]!;
    const earlier = dirs.slice(0, j).find((a) => a.owner !== later.owner && a.address === later.address && (isInside(later.dir, a.dir) || isInside(a.dir, later.dir)));
    if (!earlier) continue;
    const how = earlier.dir === later.dir ? `both use ${later.dir}` : `use ${later.dir} and ${earlier.dir}, one inside the other`;
    clashes.push({ later, earlier, how });
  }
  return clashes;
}
