// What upload, template, unzip, file and fetch share: looking at a remote path
// in one round trip (type, mode, owner, sha256), putting new content in place
// atomically (temporary name in the same directory, then rename), local
// hashing cached for the whole run, and unified diffs that never show secrets.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync, type BigIntStats } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, posix, resolve } from 'node:path';
import { z } from 'zod';
import { failed, quote, sh, UploadFollowUpError, type DownloadOptions, type ExecOptions, type ExecResult, type ModuleContext, type ModuleResult, type UploadOptions } from '../../engine/api.js';

// ---------------------------------------------------------------------------
// Failures on the host

/** Something on the host went wrong; the module reports it as `failed` with this message. */
export class HostFailure extends Error {}

/** Run a module body, turning host failures into a `failed` result whose text is masked. */
export async function guard(ctx: ModuleContext, body: () => Promise<ModuleResult>): Promise<ModuleResult> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof HostFailure) return failed(ctx.mask(err.message));
    throw err;
  }
}

/** Why a command failed, in one line: exit code or signal, and the end of its stderr. */
export function explain(res: ExecResult): string {
  const how = res.timedOut ? 'timed out' : res.exitCode === null ? `killed by ${res.signal ?? 'a signal'}` : `exit ${res.exitCode}`;
  const said = (res.stderr.trim() || res.stdout.trim()).split('\n').slice(-3).join(' / ');
  return said ? `${how}: ${said}` : how;
}

/** Run a command that must succeed; `what` completes "… failed on host". */
export async function mustRun(ctx: ModuleContext, command: string, what: string, opts?: ExecOptions): Promise<ExecResult> {
  const res = await ctx.exec(command, opts);
  if (res.exitCode !== 0) throw new HostFailure(`${what} failed on ${ctx.host.name} (${explain(res)})`);
  return res;
}

/**
 * Best-effort removal of temporary paths after a failure. Runs with its own
 * signal: the task's signal is often the very thing that was aborted.
 */
export async function removeQuietly(ctx: ModuleContext, paths: string[], opts: { recursive?: boolean } = {}): Promise<void> {
  if (paths.length === 0) return;
  try {
    await ctx.exec(opts.recursive ? sh`rm -rf -- ${paths}` : sh`rm -f -- ${paths}`, { signal: AbortSignal.timeout(30_000), timeoutMs: 30_000 });
  } catch {
    // The connection may be gone; the temporary name starts with a dot and says runbook-tmp, so it is easy to find.
  }
}

// ---------------------------------------------------------------------------
// Arguments shared by several modules

/** An octal mode. Numbers are refused: YAML reads an unquoted 0644 as the decimal 644. */
export const modeArg = () =>
  z
    .string({ error: 'mode must be quoted octal text like "0644": unquoted, YAML reads 0644 as the number 644' })
    .regex(/^0?[0-7]{3,4}$/, 'mode must be octal digits like "0644" or "0755"');

/**
 * A path on the host. `~` is refused rather than guessed at: neither SFTP nor
 * a quoted shell word expands it, and under become it would mean root's home.
 * Relative paths start in the SSH user's home, for transfers and commands alike.
 */
export const remotePathArg = () =>
  z
    .string()
    .min(1)
    .refine((p) => !p.startsWith('~'), 'write the path in full: "~" is not expanded (a relative path already starts in the SSH user\'s home)')
    .refine((p) => !/[\r\n\0]/.test(p), 'a path may not contain line breaks or NUL');

/** "644" → "0644", the form written in messages and to chmod. */
export function normMode(mode: string | number): string {
  const n = typeof mode === 'number' ? mode : parseInt(mode, 8);
  return n.toString(8).padStart(4, '0');
}

/** A remote path safe to pass to tools that have no `--` (unzip, find): one starting with "-" gets "./". */
export function safePath(path: string): string {
  return path.startsWith('-') ? `./${path}` : path;
}

// ---------------------------------------------------------------------------
// Looking at a remote path

export interface RemoteStat {
  kind: 'file' | 'directory' | 'link' | 'other';
  /** What stat calls it ("regular file", "fifo", …), for messages. */
  typeName: string;
  mode: number;
  owner: string;
  group: string;
  uid: string;
  gid: string;
  size: number;
  /** For regular files, when asked for. */
  sha256?: string | undefined;
  /** For symlinks, when asked for. */
  target?: string | undefined;
}

export interface StatOptions {
  /** Also print the sha256 of a regular file. */
  hash?: boolean | undefined;
  /**
   * With hash: take the sha256 from the host's record of this path when the
   * file's identity still matches it (see "Hash records" below), and record
   * a freshly computed one unless `'use'` (check mode writes nothing).
   */
  records?: 'use' | 'use-and-save' | undefined;
  /** Also print where a symlink points. */
  link?: boolean | undefined;
  /** Look through symlinks (fetch reads what the link points to). */
  follow?: boolean | undefined;
  /**
   * A command run when the path is absent, after the line "absent": its
   * outcome is the whole command's (file's state directory creates that way,
   * in one round trip).
   */
  ifAbsent?: string | undefined;
}

const STAT_FORMAT = '%F|%a|%U|%G|%u|%g|%s';

/**
 * One read-only command that says whether a path exists and, if so, its type,
 * mode, owner and size, plus its sha256 or link target when asked. Runs under
 * LC_ALL=C because stat translates the type name (%F).
 */
export function statCommand(path: string, opts: StatOptions = {}): string {
  const exists = opts.follow ? '[ -e "$p" ]' : '[ -e "$p" ] || [ -L "$p" ]';
  const absent = opts.ifAbsent === undefined ? 'echo absent; exit 0;' : `echo absent; ${opts.ifAbsent}; exit;`;
  let cmd = sh`p=${path}; ` + `${exists} || { ${absent} }; LC_ALL=C stat ${opts.follow ? '-L ' : ''}-c '${STAT_FORMAT}' -- "$p"`;
  if (opts.hash) {
    const hash = opts.records ? `{ ${sha256Script('p', path, { save: opts.records === 'use-and-save' })}; echo "$h"; }` : 'sha256sum < "$p"';
    cmd += opts.follow ? ` && { [ ! -f "$p" ] || ${hash}; }` : ` && { [ -L "$p" ] || [ ! -f "$p" ] || ${hash}; }`;
  }
  if (opts.link) cmd += ' && { [ ! -L "$p" ] || readlink -- "$p"; }';
  return cmd;
}

function kindOf(typeName: string): RemoteStat['kind'] {
  if (typeName === 'directory') return 'directory';
  if (typeName === 'symbolic link') return 'link';
  // GNU stat says "regular empty file" for an empty one.
  return typeName.startsWith('regular') ? 'file' : 'other';
}

function parseStatLine(line: string): RemoteStat {
  const [typeName = '', mode = '', owner = '', group = '', uid = '', gid = '', size = ''] = line.split('|');
  if (!/^[0-7]+$/.test(mode)) throw new HostFailure(`could not read stat output ${JSON.stringify(line)}`);
  return { kind: kindOf(typeName), typeName, mode: parseInt(mode, 8), owner, group, uid, gid, size: Number(size) };
}

/** Parse statCommand's output; undefined means the path does not exist. */
export function parseStat(stdout: string, opts: StatOptions = {}): RemoteStat | undefined {
  const text = stdout.endsWith('\n') ? stdout.slice(0, -1) : stdout;
  const [first = '', ...rest] = text.split('\n');
  if (first === 'absent') return undefined;
  const st = parseStatLine(first);
  if (opts.hash && st.kind === 'file') {
    const m = /^([0-9a-f]{64})\b/.exec(rest[0] ?? '');
    if (!m) throw new HostFailure(`could not read the sha256 of a remote file from ${JSON.stringify(rest[0] ?? '')}`);
    st.sha256 = m[1];
  }
  if (opts.link && st.kind === 'link') st.target = rest.join('\n');
  return st;
}

export async function remoteStat(ctx: ModuleContext, path: string, opts: StatOptions = {}): Promise<RemoteStat | undefined> {
  const res = await mustRun(ctx, statCommand(path, opts), `looking at ${path}`);
  return parseStat(res.stdout, opts);
}

// ---------------------------------------------------------------------------
// Trees (directory upload and fetch)

export interface RemoteTreeEntry extends RemoteStat {
  /** Path relative to the tree's root, "" for the root itself. */
  rel: string;
}

export type RemoteTree = { state: 'absent' } | { state: 'not-directory' } | { state: 'directory'; entries: Map<string, RemoteTreeEntry> };

/**
 * Everything under a remote directory in one command: stat of every entry,
 * then the sha256 of every regular file. Names containing line breaks are not
 * supported (the output is line-based).
 */
export function treeCommand(dir: string): string {
  return (
    sh`d=${dir}; ` +
    `[ -e "$d" ] || { echo absent; exit 0; }; [ -d "$d" ] || { echo not-directory; exit 0; }; cd -- "$d" && ` +
    `LC_ALL=C find . -exec stat -c '${STAT_FORMAT}|%n' -- {} + && echo '--sha256--' && find . -type f -exec sha256sum -- {} +`
  );
}

function relOf(name: string): string {
  return name === '.' ? '' : name.replace(/^\.\//, '');
}

export function parseTree(stdout: string): RemoteTree {
  const lines = stdout.split('\n').filter((l) => l !== '');
  if (lines[0] === 'absent') return { state: 'absent' };
  if (lines[0] === 'not-directory') return { state: 'not-directory' };
  const entries = new Map<string, RemoteTreeEntry>();
  let i = 0;
  for (; i < lines.length && lines[i] !== '--sha256--'; i++) {
    const line = lines[i]!;
    // The name is the last field and may itself contain "|".
    const parts = line.split('|');
    const name = parts.slice(7).join('|');
    entries.set(relOf(name), { ...parseStatLine(parts.slice(0, 7).join('|')), rel: relOf(name) });
  }
  for (i++; i < lines.length; i++) {
    let line = lines[i]!;
    // sha256sum marks a line whose name it had to escape with a leading backslash.
    const escaped = line.startsWith('\\');
    if (escaped) line = line.slice(1);
    const m = /^([0-9a-f]{64}) [ *](.*)$/.exec(line);
    if (!m) continue;
    const name = escaped ? m[2]!.replace(/\\(\\|n|r)/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : '\\')) : m[2]!;
    const entry = entries.get(relOf(name));
    if (entry) entry.sha256 = m[1];
  }
  return { state: 'directory', entries };
}

export async function remoteTree(ctx: ModuleContext, dir: string): Promise<RemoteTree> {
  // A tree listing can be long; the default 1 MiB would keep only its tail.
  const res = await mustRun(ctx, treeCommand(dir), `listing ${dir}`, { maxOutputBytes: 256 * 1024 * 1024 });
  if (res.truncated) throw new HostFailure(`the listing of ${dir} on ${ctx.host.name} is too long to compare`);
  return parseTree(res.stdout);
}

export interface LocalEntry {
  /** Path relative to the root, with "/" separators; "" for the root. */
  rel: string;
  abs: string;
  kind: 'file' | 'directory';
  size: number;
}

/** A local tree, parents before children, following symlinks (but not in circles). */
export function walkLocal(root: string): LocalEntry[] {
  const out: LocalEntry[] = [];
  const seen = new Set<string>();
  const visit = (abs: string, rel: string): void => {
    const st = statSync(abs);
    if (st.isDirectory()) {
      const real = realpathSync(abs);
      if (seen.has(real)) return;
      seen.add(real);
      out.push({ rel, abs, kind: 'directory', size: 0 });
      for (const name of readdirSync(abs).sort()) {
        if (/[\r\n]/.test(name)) throw new HostFailure(`cannot copy ${join(abs, name)}: file names with line breaks are not supported`);
        visit(join(abs, name), rel === '' ? name : `${rel}/${name}`);
      }
    } else if (st.isFile()) {
      out.push({ rel, abs, kind: 'file', size: st.size });
    }
    // Sockets, fifos and devices are not content; they are left out.
  };
  visit(root, '');
  return out;
}

// ---------------------------------------------------------------------------
// Hashing

export function sha256Text(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * The sha256 of a local file, computed once per run however many hosts ask:
 * the promise is cached, so hosts that ask at the same moment share one read.
 * Keyed by size and mtime so a file edited mid-run is hashed again. Across
 * runs, a record on the controller stands for the hash while the file's
 * identity is unchanged, by the same rules as on the hosts (see "Hash
 * records" below): a warm run does not read a 100 MB package either.
 */
export function localSha256(ctx: ModuleContext, path: string): Promise<string> {
  const st = statSync(path, { bigint: true });
  const key = `sha256:${path}:${st.size}:${st.mtimeNs}`;
  const cached = ctx.runCache.get(key);
  if (cached instanceof Promise) return cached as Promise<string>;
  const pending = recordedLocalSha256(path, st);
  ctx.runCache.set(key, pending);
  pending.catch(() => ctx.runCache.delete(key));
  return pending;
}

/** The controller's hash records: under RUNBOOK_HOME (default ~/.runbook, as engine/paths.ts has it), one file per absolute path. */
function localRecordPath(path: string): string {
  const home = resolve(process.env['RUNBOOK_HOME'] ?? join(process.env['HOME'] ?? '/root', '.runbook'));
  return join(home, 'cache', 'sha256', sha256Text(resolve(path)));
}

async function recordedLocalSha256(path: string, st: BigIntStats): Promise<string> {
  // Read before hashing, like the host side: a change during the hash leaves a record that will not match.
  const now = BigInt(Math.floor(Date.now() / 1000));
  const identity = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  const record = localRecordPath(path);
  try {
    const rec = statSync(record);
    if (rec.uid === process.getuid?.()) {
      const [have, sum] = readFileSync(record, 'utf8').trim().split(' ');
      if (have === identity && sum !== undefined && /^[0-9a-f]{64}$/.test(sum)) return sum;
    }
  } catch {
    // No record yet (or an unreadable one): hash.
  }
  const sum = await sha256File(path);
  // Whole-second ctimes (a coarse filesystem) are recorded only once their second has passed.
  if (st.ctimeNs % 1_000_000_000n !== 0n || st.ctimeNs / 1_000_000_000n < now) {
    const tmp = `${record}.${process.pid}`;
    try {
      mkdirSync(dirname(record), { recursive: true, mode: 0o700 });
      writeFileSync(tmp, `${identity} ${sum}\n`, { mode: 0o600 });
      renameSync(tmp, record);
    } catch {
      // A cache: a record that cannot be written only means hashing next time.
      rmSync(tmp, { force: true });
    }
  }
  return sum;
}

/**
 * Within one run, a remote file's sha256 that a module has just checked or
 * written, so the next module that reads the same file (unzip after upload)
 * need not hash 100 MB again. Keyed by the machine's address: nodes that share
 * a machine share its files.
 */
const remoteShaKey = (ctx: ModuleContext, path: string): string => `remote-sha256\0${ctx.host.address}\0${path}`;

export function rememberRemoteSha256(ctx: ModuleContext, path: string, sha256: string): void {
  ctx.runCache.set(remoteShaKey(ctx, path), sha256);
}

export function knownRemoteSha256(ctx: ModuleContext, path: string): string | undefined {
  const v = ctx.runCache.get(remoteShaKey(ctx, path));
  return typeof v === 'string' ? v : undefined;
}

// ---------------------------------------------------------------------------
// Hash records: skipping the hash of a remote file nobody has changed
//
// A warm run must not read a 100 MB archive again on every host just to learn
// that it is still what runbook put there. When runbook writes a file, or
// hashes one, it records on the host the file's identity (device, inode,
// size, mtime and ctime, both with nanoseconds, from `stat`) with its sha256,
// in "$HOME/.cache/runbook/sha256/<sha256 of the path>". Next time, one stat
// that gives the same identity stands for the hash, as in rsync's quick check.
//
// Why that is safe:
// - Every way of changing the file moves its ctime to the current time:
//   writing it (also via mmap), truncating, chmod, chown, links, renaming it,
//   and `touch -d`/utimensat, which can set mtime back but sets ctime to now.
//   Nothing in user space can set ctime back. Replacing the file (mv over it,
//   rm and create) gives a new inode or at least a new ctime. So a file whose
//   identity matches has not been changed since the record was made; when it
//   has, runbook hashes it as before.
// - Only root gets round that (setting the clock back to the exact
//   nanosecond, writing the block device), and root can rewrite the record
//   or change the file right after any check, hashing included.
// - Timestamps have a granularity: a change within the same tick as the
//   record would keep the identity. A filesystem whose ctime has no
//   sub-second part (whole seconds) is recorded only when its ctime is older
//   than the second in which runbook read the identity. With sub-second
//   timestamps the window is one kernel clock tick (a few ms) after runbook's
//   own write or stat: a writer racing runbook's install, which no check
//   after the fact could order either.
// - A record is trusted only when the user running the command owns it, in
//   a folder the user owns (made with umask 077) under a home the user owns:
//   only that user or root can forge one, and either could change the file.
// - The identity is read before hashing, so a change during the hash leaves a
//   record that will not match. When stat cannot print nanoseconds (busybox),
//   there is no identity and the file is hashed every time, as before.

const IDENTITY_FORMAT = '%d:%i:%s:%.9Y:%.9Z';

/** Shell: $r = the record of `path` on this host. */
const recordVar = (path: string): string => `r="$HOME/.cache/runbook/sha256/${sha256Text(path)}"`;

/**
 * Shell: $i = the identity of the file named in $<v>, or empty when stat
 * cannot give one with nanoseconds. $n is the host's clock (whole seconds),
 * read first, for the coarse-timestamp rule.
 */
const identityScript = (v: string): string =>
  `n=$(date +%s); i=$(LC_ALL=C stat -c '${IDENTITY_FORMAT}' -- "$${v}" 2>/dev/null) || i=; ` +
  `case $i in *[!0-9:.]*|'') i= ;; *:*:*:*.*:*.*) ;; *) i= ;; esac`;

/**
 * Shell, in a subshell that never fails its caller: record $i with the
 * sha256 at the start of $h, under the rules above (an owned home and
 * folder; whole-second ctimes only once their second has passed).
 */
const saveScript =
  `( [ -n "$i" ] && [ -O "$HOME" ] || exit 0; c=\${i##*:}; case $c in *.000000000) [ "\${c%.*}" -lt "$n" ] || exit 0 ;; esac; ` +
  `umask 077; d=\${r%/*}; mkdir -p -- "$d" && [ -O "$d" ] && printf '%s %s\\n' "$i" "\${h%% *}" > "$r.$$" && mv -f -- "$r.$$" "$r" || rm -f -- "$r.$$" ) 2>/dev/null`;

/**
 * Shell that sets $h to "<sha256> record" when the host's record for `path`
 * matches the identity of the file named in $<v>, else to sha256sum's
 * "<sha256>  -" (and, with save, records it). Exits 1 when hashing fails.
 */
export function sha256Script(v: string, path: string, opts: { save: boolean }): string {
  return (
    `${identityScript(v)}; ${recordVar(path)}; ` +
    `if [ -n "$i" ] && [ -O "$r" ] && { read -r ri rh < "$r"; } 2>/dev/null && [ "$ri" = "$i" ] && [ \${#rh} -eq 64 ] && case $rh in *[!0-9a-f]*) false ;; esac; ` +
    `then h="$rh record"; else h=$(sha256sum < "$${v}") || exit 1; ${opts.save ? `${saveScript}; ` : ''}fi`
  );
}

/** Shell that records `sha256` for the file runbook has just put at `path` (it never fails). */
export function recordScript(path: string, sha256: string): string {
  return `${sh`p=${path}; h=${sha256}`}; ${identityScript('p')}; ${recordVar(path)}; ${saveScript}`;
}

export const short = (sha256: string): string => `${sha256.slice(0, 12)}…`;

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

export const plural = (n: number, word: string, words = `${word}s`): string => `${n} ${n === 1 ? word : words}`;

// ---------------------------------------------------------------------------
// Attributes

export interface Attrs {
  mode?: string | undefined;
  owner?: string | undefined;
  group?: string | undefined;
}

const matchesId = (want: string, name: string, id: string): boolean => want === name || want === id;

/** What differs between the wanted attributes and what the host has, e.g. ["mode 0644 → 0600"]. */
export function attrDifferences(have: RemoteStat, want: Attrs): string[] {
  const out: string[] = [];
  if (want.mode !== undefined && parseInt(want.mode, 8) !== have.mode) out.push(`mode ${normMode(have.mode)} → ${normMode(want.mode)}`);
  if (want.owner !== undefined && !matchesId(want.owner, have.owner, have.uid)) out.push(`owner ${have.owner} → ${want.owner}`);
  if (want.group !== undefined && !matchesId(want.group, have.group, have.gid)) out.push(`group ${have.group} → ${want.group}`);
  return out;
}

function chownSpec(owner: string | undefined, group: string | undefined): string | undefined {
  if (owner !== undefined && group !== undefined) return `${owner}:${group}`;
  if (owner !== undefined) return owner;
  if (group !== undefined) return `:${group}`;
  return undefined;
}

/** chmod/chown commands that give `path` the wanted attributes (all of them, or only those that differ from `have`). */
export function attrCommands(path: string, want: Attrs, have?: RemoteStat, opts: { link?: boolean } = {}): string[] {
  const cmds: string[] = [];
  const differs = (field: 'mode' | 'owner' | 'group'): boolean => {
    if (want[field] === undefined) return false;
    if (!have) return true;
    if (field === 'mode') return parseInt(want.mode!, 8) !== have.mode;
    return field === 'owner' ? !matchesId(want.owner!, have.owner, have.uid) : !matchesId(want.group!, have.group, have.gid);
  };
  if (differs('mode') && !opts.link) cmds.push(sh`chmod ${normMode(want.mode!)} -- ${path}`);
  const spec = chownSpec(differs('owner') ? want.owner : undefined, differs('group') ? want.group : undefined);
  if (spec !== undefined) cmds.push(opts.link ? sh`chown -h ${spec} -- ${path}` : sh`chown ${spec} -- ${path}`);
  return cmds;
}

// ---------------------------------------------------------------------------
// Transfers under become

const PERMISSION_DENIED = /permission denied|EACCES/i;

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Upload to exactly `remotePath`. Transfers run as the SSH user (become does
 * not apply to them), so when that user may not write there, the file is
 * staged in a folder of the user's own and copied into place by a command,
 * which does run with the task's become (as do the folder's creation and
 * `then`, on that path). umask 077: the copy is private until the caller
 * gives it its final mode.
 */
export async function uploadAs(ctx: ModuleContext, source: string | Buffer, remotePath: string, opts: UploadOptions = {}): Promise<void> {
  try {
    await ctx.upload(source, remotePath, opts);
    return;
  } catch (err) {
    if (ctx.signal.aborted || !PERMISSION_DENIED.test(errorText(err))) throw err;
  }
  const { makeParents, then, ...transfer } = opts;
  const dir = (await mustRun(ctx, 'mktemp -d', 'making a staging folder for the upload', { become: false })).stdout.trim();
  try {
    const staged = posix.join(dir, 'upload');
    await ctx.upload(source, staged, transfer);
    const parent = makeParents ? `${sh`mkdir -p -- ${posix.dirname(remotePath)}`} && ` : '';
    await mustRun(ctx, `${parent}${sh`(umask 077 && cp -- ${staged} ${remotePath})`}`, `copying the staged upload to ${remotePath}`);
    if (then !== undefined) {
      const res = await ctx.exec(then);
      if (res.exitCode !== 0) throw new UploadFollowUpError(res);
    }
  } finally {
    await removeQuietly(ctx, [dir], { recursive: true });
  }
}

/** Download `remotePath`; when the SSH user may not read it, a become copy into a file of the user's is downloaded instead. */
export async function downloadAs(ctx: ModuleContext, remotePath: string, localPath: string, opts: DownloadOptions = {}): Promise<void> {
  try {
    await ctx.download(remotePath, localPath, opts);
    return;
  } catch (err) {
    if (ctx.signal.aborted || !PERMISSION_DENIED.test(errorText(err))) throw err;
  }
  const copy = (await mustRun(ctx, 'mktemp', 'making a staging file for the download', { become: false })).stdout.trim();
  try {
    // Written through the redirection, the copy stays owned by the SSH user, so SFTP can read it.
    await mustRun(ctx, sh`cat -- ${remotePath} > ${copy}`, `copying ${remotePath} for the download`);
    await ctx.download(copy, localPath, opts);
  } finally {
    await removeQuietly(ctx, [copy]);
  }
}

// ---------------------------------------------------------------------------
// Putting content in place

/** `.<name>.runbook-tmp-<random>` beside `dest`: same filesystem, so the final rename is atomic. */
export function tempPath(dest: string, tag = 'tmp'): string {
  return posix.join(posix.dirname(dest), `.${posix.basename(dest).slice(0, 100)}.runbook-${tag}-${randomBytes(4).toString('hex')}`);
}

export interface InstallStep extends Attrs {
  tmp: string;
  dest: string;
  /** The file being replaced: its mode and owner carry over unless given. */
  existing?: RemoteStat | undefined;
  /** Copy the file being replaced here first. */
  backup?: string | undefined;
  /** The sha256 of the new content: record it with the file's identity once in place (see "Hash records"). */
  record?: string | undefined;
}

/**
 * One command that gives each temporary file its final attributes and renames
 * it over its destination. If any step fails, every temporary file is removed
 * and the exit code kept, so the host is left as it was (apart from steps
 * already done, which are complete files).
 */
export function installCommand(steps: InstallStep[]): string {
  const parts: string[] = [];
  for (const s of steps) {
    // Only a regular file's mode and owner carry over: a symlink's own are meaningless (always 0777).
    const old = s.existing?.kind === 'file' ? s.existing : undefined;
    const mode = s.mode ?? (old ? normMode(old.mode) : undefined);
    if (mode !== undefined) parts.push(sh`chmod ${normMode(mode)} -- ${s.tmp}`);
    const spec = chownSpec(s.owner, s.group);
    if (spec !== undefined) parts.push(sh`chown ${spec} -- ${s.tmp}`);
    // A replaced file keeps its owner when we can give it (root can; anyone
    // else can only if it is already theirs), as editing it in place would.
    const keep = old ? chownSpec(s.owner === undefined ? old.uid : undefined, s.group === undefined ? old.gid : undefined) : undefined;
    if (keep !== undefined) parts.push(`{ ${sh`chown ${keep} -- ${s.tmp}`} 2>/dev/null || :; }`);
    if (s.backup !== undefined) parts.push(sh`cp -p -- ${s.dest} ${s.backup}`);
    parts.push(sh`mv -f -- ${s.tmp} ${s.dest}`);
    if (s.record !== undefined) parts.push(`{ ${recordScript(s.dest, s.record)}; :; }`);
  }
  return `{ ${parts.join(' && ')}; } || { rc=$?; ${sh`rm -f -- ${steps.map((s) => s.tmp)}`}; exit $rc; }`;
}

/** Split items into batches whose joined commands stay well under the kernel's 128 KiB limit for one argument. */
export function batches<T>(items: T[], size: (item: T) => number, limit = 32 * 1024): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let len = 0;
  for (const item of items) {
    const n = size(item);
    if (cur.length > 0 && len + n > limit) {
      out.push(cur);
      cur = [];
      len = 0;
    }
    cur.push(item);
    len += n;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

export interface PutOptions extends Attrs {
  /** A local file path (streamed) or the content itself. */
  source: string | Buffer;
  dest: string;
  existing?: RemoteStat | undefined;
  backup?: boolean | undefined;
  /** A command with %s for the temporary file; it must succeed before the file replaces dest. */
  validate?: string | undefined;
  /** Size for progress reports. */
  size: number;
  /** The sha256 of source, to record on the host with the new file's identity (see "Hash records"). */
  record?: string | undefined;
}

/**
 * Upload to a temporary name beside dest, validate, then rename into place.
 * Returns the backup's path, if one was made.
 *
 * Without become or validate, creating the folder and the final rename ride in
 * the upload's own session (see UploadOptions.then): two round trips fewer,
 * which on six busy lab hosts is about 80 ms of every new file. With become
 * they are commands of their own, run under sudo like every other.
 */
export async function putFile(ctx: ModuleContext, o: PutOptions): Promise<{ backup?: string }> {
  const tmp = tempPath(o.dest);
  const backup = o.backup && o.existing ? `${o.dest}.${timestamp()}.bak` : undefined;
  const install = installCommand([{ tmp, dest: o.dest, mode: o.mode, owner: o.owner, group: o.group, existing: o.existing, backup, record: o.record }]);
  const along = !ctx.become && o.validate === undefined;
  if (!o.existing && !along) await mustRun(ctx, sh`mkdir -p -- ${posix.dirname(o.dest)}`, `creating the folder of ${o.dest}`);
  try {
    await uploadAs(ctx, o.source, tmp, {
      mode: o.mode === undefined ? undefined : parseInt(o.mode, 8),
      makeParents: along && !o.existing,
      then: along ? install : undefined,
      onProgress: (p) => ctx.progress({ bytes: p.bytes, total: p.total || o.size, label: o.dest }),
    });
  } catch (err) {
    // installCommand removes the temporary file itself when it fails.
    if (err instanceof UploadFollowUpError) throw new HostFailure(`putting ${o.dest} in place failed on ${ctx.host.name} (${explain(err.result)})`);
    await removeQuietly(ctx, [tmp]);
    throw err;
  }
  if (!along) {
    if (o.validate !== undefined) {
      const command = o.validate.replaceAll('%s', quote(tmp));
      const res = await ctx.exec(command);
      if (res.exitCode !== 0) {
        await removeQuietly(ctx, [tmp]);
        throw new HostFailure(`validation failed, so ${o.dest} was left as it was: \`${o.validate}\` (${explain(res)})`);
      }
    }
    await mustRun(ctx, install, `putting ${o.dest} in place`);
  }
  return backup === undefined ? {} : { backup };
}

/** 20250102T030405Z: sorts by time, and has no characters a shell or a file name minds. */
function timestamp(now = new Date()): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

// ---------------------------------------------------------------------------
// Diffs

/** Text of a remote file for a diff; undefined when it is too big or not text. */
export async function remoteText(ctx: ModuleContext, path: string, maxBytes = 1024 * 1024): Promise<string | undefined> {
  const res = await mustRun(ctx, sh`cat -- ${path}`, `reading ${path} for the diff`, { maxOutputBytes: maxBytes });
  if (res.truncated || res.stdout.includes('\0')) return undefined;
  return res.stdout;
}

/**
 * The diff library, loaded the first time a diff is made (--diff is rare; its
 * ES build is 19 modules that every start-up would otherwise load). Its
 * CommonJS build, so that this stays synchronous.
 */
let diffLib: typeof import('diff') | undefined;

/** A unified diff with every known secret masked. */
export function unifiedDiff(ctx: ModuleContext, path: string, before: string, after: string): string {
  diffLib ??= createRequire(import.meta.url)('diff') as typeof import('diff');
  return ctx.mask(diffLib.createTwoFilesPatch(path, path, before, after, 'before', 'after'));
}
