// OpenSSH known_hosts: parse, look a host's key up, and record new keys.
//
// Lines are `[marker] patterns keytype base64-key [comment]`. Patterns are a
// comma list of names with `*`/`?` wildcards and `!` negation, or one hashed
// name `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`. A host on a port
// other than 22 is named `[address]:port`, and OpenSSH never falls back to
// the bare address for it.

import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';

export interface KnownHostEntry {
  /** 1-based line number in the file. */
  line: number;
  marker: '@revoked' | '@cert-authority' | undefined;
  /** The host field as written (patterns, or one hashed name). */
  hosts: string;
  keyType: string;
  /** The decoded key blob (what the server sends). */
  key: Buffer;
}

export interface HostKey {
  address: string;
  port: number;
  /** The key blob as the server presented it. */
  key: Buffer;
}

export type HostKeyCheck =
  | { status: 'known'; entry: KnownHostEntry }
  | { status: 'unknown'; knownTypes: string[] }
  | { status: 'changed'; entries: KnownHostEntry[] }
  | { status: 'revoked'; entry: KnownHostEntry };

export function defaultKnownHostsFile(): string {
  return join(homedir(), '.ssh', 'known_hosts');
}

/** The name known_hosts uses for a host: `address`, or `[address]:port` off port 22. */
export function knownHostName(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

/** OpenSSH's fingerprint form: `SHA256:` and unpadded base64 of the blob's hash. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The key type a blob declares in its first field (`ssh-ed25519`, `ssh-rsa`, …). */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return 'unknown';
  const length = key.readUInt32BE(0);
  return length > 0 && length <= 64 && key.length >= 4 + length ? key.toString('latin1', 4, 4 + length) : 'unknown';
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((rawLine, index) => {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') marker = fields.shift() as KnownHostEntry['marker'];
    const [hosts, keyType, base64] = fields;
    // Malformed lines are skipped, as ssh does; they can never match anything.
    if (hosts === undefined || keyType === undefined || base64 === undefined || !/^[A-Za-z0-9+/]+=*$/.test(base64)) return;
    const key = Buffer.from(base64, 'base64');
    if (keyTypeOf(key) !== keyType) return;
    entries.push({ line: index + 1, marker, hosts, keyType, key });
  });
  return entries;
}

export async function loadKnownHosts(file: string): Promise<KnownHostEntry[]> {
  try {
    return parseKnownHosts(await readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Whether an entry's host field names `hostName` (already in `[addr]:port` form). */
export function entryMatchesHost(entry: Pick<KnownHostEntry, 'hosts'>, hostName: string): boolean {
  const name = hostName.toLowerCase();
  if (entry.hosts.startsWith('|1|')) return hashedNameMatches(entry.hosts, name);
  let matched = false;
  for (const pattern of entry.hosts.toLowerCase().split(',')) {
    if (pattern.startsWith('!')) {
      if (wildcardMatches(pattern.slice(1), name)) return false;
    } else if (wildcardMatches(pattern, name)) {
      matched = true;
    }
  }
  return matched;
}

function hashedNameMatches(field: string, name: string): boolean {
  const [, , salt, hash] = field.split('|');
  if (salt === undefined || hash === undefined) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
  return expected.length === actual.length && expected.equals(actual);
}

function wildcardMatches(pattern: string, name: string): boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) return pattern === name;
  const regex = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${regex}$`).test(name);
}

/** Looks a presented key up among the entries for `address:port`. */
export function checkHostKey(entries: readonly KnownHostEntry[], hostKey: HostKey): HostKeyCheck {
  const name = knownHostName(hostKey.address, hostKey.port);
  const presentedType = keyTypeOf(hostKey.key);
  const forHost = entries.filter((e) => e.marker !== '@cert-authority' && entryMatchesHost(e, name));
  const revoked = forHost.find((e) => e.marker === '@revoked' && e.key.equals(hostKey.key));
  if (revoked) return { status: 'revoked', entry: revoked };
  const plain = forHost.filter((e) => e.marker === undefined);
  const same = plain.find((e) => e.key.equals(hostKey.key));
  if (same) return { status: 'known', entry: same };
  const changed = plain.filter((e) => keyTypeOf(e.key) === presentedType);
  if (changed.length > 0) return { status: 'changed', entries: changed };
  return { status: 'unknown', knownTypes: [...new Set(plain.map((e) => keyTypeOf(e.key)))] };
}

/** Key types recorded for a host, so the client can ask the server for one of those. */
export function knownKeyTypes(entries: readonly KnownHostEntry[], address: string, port: number): string[] {
  const name = knownHostName(address, port);
  const types = entries.filter((e) => e.marker === undefined && entryMatchesHost(e, name)).map((e) => keyTypeOf(e.key));
  return [...new Set(types)];
}

export function formatKnownHostLine(hostKey: HostKey): string {
  return `${knownHostName(hostKey.address, hostKey.port)} ${keyTypeOf(hostKey.key)} ${hostKey.key.toString('base64')}`;
}

/** Appends serialised per file: a read-modify-write must not lose a concurrent one's lines. */
const fileQueues = new Map<string, Promise<unknown>>();

/**
 * Records host keys in one atomic write (temp file + rename): a reader never
 * sees half a file, and keys for many hosts land together. Keys already in
 * the file (or repeated in the list) are written once.
 */
export async function appendKnownHosts(file: string, hostKeys: readonly HostKey[]): Promise<void> {
  if (hostKeys.length === 0) return;
  const target = await resolveTarget(file);
  const previous = fileQueues.get(target) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(() => writeAppended(target, hostKeys));
  fileQueues.set(target, next);
  try {
    await next;
  } finally {
    if (fileQueues.get(target) === next) fileQueues.delete(target);
  }
}

/** Write through a symlinked known_hosts to the real file, not over the link. */
async function resolveTarget(file: string): Promise<string> {
  try {
    return await realpath(file);
  } catch {
    return file;
  }
}

async function writeAppended(file: string, hostKeys: readonly HostKey[]): Promise<void> {
  let existing = '';
  let mode = 0o600;
  try {
    existing = await readFile(file, 'utf8');
    mode = (await stat(file)).mode & 0o7777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  }
  const entries = parseKnownHosts(existing);
  const lines: string[] = [];
  for (const hostKey of hostKeys) {
    if (checkHostKey(entries, hostKey).status === 'known') continue;
    const line = formatKnownHostLine(hostKey);
    entries.push(...parseKnownHosts(line));
    lines.push(line);
  }
  if (lines.length === 0) return;
  const separator = existing === '' || existing.endsWith('\n') ? '' : '\n';
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(`${existing}${separator}${lines.join('\n')}\n`);
    // open()'s mode passes through the umask; keep the file's own mode exactly.
    await handle.chmod(mode);
    await handle.sync();
    await handle.close();
    await rename(temp, file);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw err;
  }
}
