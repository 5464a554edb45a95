// How a command travels to a host and how its output comes back.
//
// The text handed to a host's shell: the user's login shell (bash, dash,
// zsh) only ever parses `exec sh -c '<one word>'`, so the command's meaning
// never depends on which shell the account happens to have. Layers, from the
// outside in:
//   exec sh -c '<supervisor>'                (ssh only: a process group to kill,
//                                            and a timeout when one is set)
//   [sudo -n] sh [-l] -c '<script>'          (become, login shell)
//   <script> = secret env read from stdin, cd, exports, then the command
//              on its own lines
//
// Environment values that hold a secret never appear in the command text:
// every command line on a host is world-readable (ps, /proc/PID/cmdline) for
// as long as the process lives. They travel on the channel's stdin, ahead of
// the command's own input, and the script reads them first (secretEnvInput).
//
// On the way back: the supervisor's process-group line is split off stderr,
// each stream keeps its tail, and a sudo password refusal is explained.

import { InputError, InterruptedError } from '../errors.js';
import { quote } from '../quote.js';
import { secretMasker } from '../secret.js';
import type { ExecOptions } from './types.js';

export interface CommandOptions extends Pick<ExecOptions, 'cwd' | 'env' | 'become' | 'loginShell'> {
  /**
   * Where environment values holding a secret come from. 'stdin' (the
   * default): the script reads them from its standard input, and the caller
   * sends secretEnvInput() ahead of the command's own input (commandInput()
   * does both). 'inherited': the script leaves them alone, because the caller
   * put them in the shell's own environment (a local spawn without sudo).
   */
  secretEnv?: 'stdin' | 'inherited' | undefined;
}

const SHELL_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

type EnvEntry = [name: string, value: string];

/**
 * The environment split in two: values safe to write into the command text,
 * and values that contain a secret the masker knows (a password, or a
 * connection string with one inside), which must stay out of it. Names are
 * checked here, once for both halves.
 */
export function partitionEnv(env: Readonly<Record<string, string>> | undefined): { plain: EnvEntry[]; secret: EnvEntry[] } {
  const plain: EnvEntry[] = [];
  const secret: EnvEntry[] = [];
  for (const [name, value] of Object.entries(env ?? {})) {
    if (!SHELL_IDENTIFIER.test(name)) {
      throw new InputError(`invalid environment variable name ${JSON.stringify(name)}`, {
        hint: 'names must be letters, digits and _ and must not start with a digit (a POSIX shell cannot export anything else)',
      });
    }
    if (value.includes('\0')) {
      throw new InputError(`the value of environment variable ${name} contains a NUL byte`, {
        hint: 'no process environment can hold a NUL byte; pass binary data in a file or on stdin instead',
      });
    }
    (secretMasker.contains(value) ? secret : plain).push([name, value]);
  }
  return { plain, secret };
}

/**
 * Shell lines that read secret values from stdin into exported variables,
 * using only builtins (read, [, arithmetic), so a value never becomes any
 * process's argument. Each value comes as its number of lines, then those
 * lines (see secretEnvInput): `read` stops at a newline, and this is the one
 * encoding that needs no decoder on the host. `read` takes its input a byte
 * at a time from a pipe, so the command's own stdin starts exactly after the
 * last value. Helper names are removed again before the command runs.
 */
function secretEnvPrelude(names: readonly string[]): string[] {
  const failed = quote('runbook: the command did not receive its secret environment values on stdin (a login profile may have read them)');
  return [
    `__rb_nl='\n'`,
    '__rb_read() {',
    '  IFS= read -r __rb_n || return 1',
    '  case $__rb_n in ""|*[!0-9]*) return 1;; esac',
    '  __rb_v= __rb_i=0',
    '  while [ "$__rb_i" -lt "$__rb_n" ]; do',
    '    IFS= read -r __rb_l || return 1',
    '    if [ "$__rb_i" -gt 0 ]; then __rb_v=$__rb_v$__rb_nl$__rb_l; else __rb_v=$__rb_l; fi',
    '    __rb_i=$((__rb_i + 1))',
    '  done',
    '}',
    ...names.map((name) => `__rb_read && ${name}=$__rb_v && export ${name} || { echo ${failed} >&2; exit 125; }`),
    'unset -f __rb_read; unset __rb_nl __rb_n __rb_v __rb_i __rb_l',
  ];
}

/**
 * The bytes the script's secret prelude reads, in the order it reads them:
 * for each secret value, its line count and its lines. Empty when nothing
 * in `env` is secret.
 */
export function secretEnvInput(env: Readonly<Record<string, string>> | undefined): Buffer {
  const { secret } = partitionEnv(env);
  const parts: string[] = [];
  for (const [, value] of secret) {
    const lines = value.split('\n');
    parts.push(`${lines.length}\n`, ...lines.map((line) => `${line}\n`));
  }
  return Buffer.from(parts.join(''), 'utf8');
}

/** What to write to the channel's stdin: the secret values the script reads first, then the command's own input. */
export function commandInput(opts: Pick<ExecOptions, 'env' | 'stdin'>): string | Buffer | undefined {
  const secret = secretEnvInput(opts.env);
  if (secret.length === 0) return opts.stdin;
  return opts.stdin === undefined ? secret : Buffer.concat([secret, typeof opts.stdin === 'string' ? Buffer.from(opts.stdin, 'utf8') : opts.stdin]);
}

/**
 * The command with its working directory and environment applied, as a
 * script for `sh -c`. The prefix lines are complete commands, so whatever
 * the user's command contains (`a; b`, `x || y`, a here-document) it cannot
 * change how the prefix is parsed, and a failing `cd` stops the script
 * before the command runs somewhere unintended.
 */
export function buildScript(command: string, opts: Pick<CommandOptions, 'cwd' | 'env' | 'secretEnv'> = {}): string {
  const lines: string[] = [];
  const { plain, secret } = partitionEnv(opts.env);
  // Read before anything else can touch stdin (cd cannot, but keep the order obvious).
  if (secret.length > 0 && (opts.secretEnv ?? 'stdin') === 'stdin') lines.push(...secretEnvPrelude(secret.map(([name]) => name)));
  if (opts.cwd !== undefined) lines.push(`cd ${quote(opts.cwd)} || exit 1`);
  if (plain.length > 0) lines.push(`export ${plain.map(([name, value]) => `${name}=${quote(value)}`).join(' ')}`);
  lines.push(command);
  return lines.join('\n');
}

/** `[sudo -n] sh [-l] -c '<script>'`: the command as argv words. */
function shellInvocation(script: string, opts: CommandOptions): string {
  const sh = opts.loginShell ? 'sh -l -c' : 'sh -c';
  // Environment goes inside the script rather than before sudo: sudo's
  // env_reset would drop it, and the directory may be readable only by root.
  return `${opts.become ? 'sudo -n ' : ''}${sh} ${quote(script)}`;
}

/**
 * The exact command line for a host's shell: always `exec sh -c '…'` (or
 * `exec sh -l -c '…'`), whatever the login shell is. The `exec` matters:
 * dash run by sshd does not replace itself with the last command of `-c`, so
 * without it the login shell stays in between, turns a signal death into exit
 * status 143 and keeps one more process alive.
 */
export function buildCommand(command: string, opts: CommandOptions = {}): string {
  const inner = shellInvocation(buildScript(command, opts), opts);
  return opts.become ? `exec sh -c ${quote(`exec ${inner}`)}` : `exec ${inner}`;
}

/** First line on stderr of a supervised command: the id of its process group. */
export const PGID_MARKER = 'runbook-pgid:';

/**
 * How a supervised command gets a process group the controller can kill:
 * - 'timeout': under timeout(1), which makes itself the head of a fresh
 *   group (and also ends the command after the backstop).
 * - 'session': the shell's own group. OpenSSH's sshd starts every session's
 *   command in a new session (setsid), so the shell it runs already heads a
 *   group of its own and can report `$$`; no extra processes are needed.
 * - 'probe': the shell checks in /proc whether it heads its own group; if it
 *   does it goes on as 'session' and says so on the marker line
 *   ("runbook-pgid:<n> session"), otherwise it falls back to 'timeout'. The
 *   transport probes with a connection's first commands and then uses the
 *   form it learnt, since the server does the same for every session.
 */
export type GroupForm = 'timeout' | 'session' | 'probe';

export interface SupervisedCommandOptions extends CommandOptions {
  /**
   * Seconds after which the host itself ends the command, as a backstop for
   * when the controller cannot (it vanished, the link is down). 0 = never.
   */
  backstopSeconds?: number | undefined;
  /** Default 'timeout'. Only 'timeout' has a backstop, a group under sudo and a marker ahead of a login profile, so it is used whenever one of those is asked for. */
  group?: GroupForm | undefined;
}

/** Shell: true when this shell heads its own process group. Reads /proc with builtins only; false where there is no /proc. Clobbers $l and the positional parameters. */
const HEADS_OWN_GROUP = `{ read -r l </proc/$$/stat; } 2>/dev/null && set -- \${l##*) } && [ "$3" = "$$" ]`;

const NO_TIMEOUT = `command -v timeout >/dev/null 2>&1 || { echo 'runbook: this host has no timeout command (GNU coreutils), which runbook needs to stop commands' >&2; exit 127; }`;

/** The form buildSupervisedCommand uses: 'timeout' whenever a backstop, become or a login shell needs it, else the one asked for. */
export function groupFormFor(opts: SupervisedCommandOptions): GroupForm {
  const backstop = Math.max(0, Math.ceil(opts.backstopSeconds ?? 0));
  return backstop > 0 || opts.become || opts.loginShell ? 'timeout' : (opts.group ?? 'timeout');
}

/**
 * The command under a supervisor that lets the controller stop it for real.
 *
 * OpenSSH ignores or mishandles channel "signal" requests, and closing the
 * channel leaves a quiet `sleep 300` running. So the command runs at the head
 * of a process group of its own, and the first thing on its stderr is that
 * group's id: "runbook-pgid:<n>". Printed from inside the group, the group
 * already exists when the controller learns its id, and the line comes
 * before anything a login profile might print. The transport strips the
 * line and, to stop the command, kills the whole group from a second
 * channel (buildKillCommand). See GroupForm for where the group comes from.
 *
 * With become the supervisor itself runs under sudo, so the group belongs to
 * root and a root `kill` (also via sudo) can end every process in it.
 */
export function buildSupervisedCommand(command: string, opts: SupervisedCommandOptions = {}): string {
  const backstop = Math.max(0, Math.ceil(opts.backstopSeconds ?? 0));
  const script = buildScript(command, opts);
  const form = groupFormFor(opts);
  const session = `printf '${PGID_MARKER}%s session\\n' "$$" >&2`;
  if (form === 'session') return `exec sh -c ${quote(`${session}\n${script}`)}`;
  // "$@" carries the real invocation, so the script is quoted once more only
  // by the outer layer, not by this one too.
  const reportGroup = quote(`printf '${PGID_MARKER}%s\\n' "$PPID" >&2; exec "$@"`);
  if (form === 'probe') {
    const probe = [
      's=$1',
      `if ${HEADS_OWN_GROUP}; then ${session}; exec sh -c "$s"; fi`,
      NO_TIMEOUT,
      `exec timeout -k 5 0 sh -c ${reportGroup} runbook-supervisor sh -c "$s"`,
    ].join('\n');
    return `exec sh -c ${quote(probe)} runbook-supervisor ${quote(script)}`;
  }
  const run = shellInvocation(script, { loginShell: opts.loginShell });
  const supervisor = [NO_TIMEOUT, `exec timeout -k 5 ${backstop} sh -c ${reportGroup} runbook-supervisor ${run}`].join('\n');
  return opts.become ? `exec sh -c ${quote(`exec sudo -n sh -c ${quote(supervisor)}`)}` : `exec sh -c ${quote(supervisor)}`;
}

/**
 * Ends a process group: TERM, up to 2 s to exit, then KILL. `kill -s SIG --
 * -PGID` is the form both dash and bash accept for a group.
 *
 * "Gone" means no live process left: a killed child whose parent died first
 * is a zombie until init reaps it, which some inits (containers) take seconds
 * to do, and `kill -0` still finds zombies. Where /proc exists the wait looks
 * at process states instead.
 */
export function buildKillCommand(pgid: number, opts: Pick<ExecOptions, 'become'> = {}): string {
  if (!Number.isSafeInteger(pgid) || pgid <= 1) throw new RangeError(`not a process group id: ${pgid}`);
  const script = [
    `p=${pgid}`,
    'alive() {',
    '  kill -s 0 -- -$p 2>/dev/null || return 1',
    '  [ -r /proc/self/stat ] || return 0',
    '  for f in /proc/[0-9]*/stat; do',
    '    { read -r line < "$f"; } 2>/dev/null || continue',
    // Fields after the command name, which is in parentheses and may hold spaces: state, ppid, pgrp.
    '    set -- ${line##*) }',
    '    [ "$3" = "$p" ] && [ "$1" != Z ] && return 0',
    '  done',
    '  return 1',
    '}',
    'kill -s TERM -- -$p 2>/dev/null || exit 0',
    'i=0',
    'while alive; do',
    '  if [ $i -ge 20 ]; then kill -s KILL -- -$p 2>/dev/null; exit 0; fi',
    '  sleep 0.1; i=$((i+1))',
    'done',
  ].join('\n');
  return opts.become ? `exec sudo -n sh -c ${quote(script)}` : `exec sh -c ${quote(script)}`;
}

/**
 * Splits the supervisor's first stderr line from the command's own stderr.
 * Feed it stderr chunks; it holds back bytes only until the first newline.
 */
export class PgidMarkerParser {
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #done = false;
  pgid: number | undefined;
  /** The marker said the group is the session's own (the 'session' form, or 'probe' that found it so). */
  session = false;

  /** Returns the bytes that belong to the command's stderr (maybe empty). */
  push(chunk: Buffer): Buffer {
    if (this.#done) return chunk;
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    const joined = Buffer.concat(this.#pending, this.#pendingBytes);
    const newline = joined.indexOf(0x0a);
    if (newline === -1) {
      // The marker is short; anything longer without a newline is not it.
      if (joined.length > 64) return this.#finish(joined);
      this.#pending = [joined];
      return Buffer.alloc(0);
    }
    const firstLine = joined.subarray(0, newline).toString('latin1');
    const match = firstLine.startsWith(PGID_MARKER) ? /^(\d+)( session)?$/.exec(firstLine.slice(PGID_MARKER.length)) : null;
    if (match) {
      this.pgid = Number(match[1]);
      this.session = match[2] !== undefined;
      return this.#finish(joined.subarray(newline + 1));
    }
    return this.#finish(joined);
  }

  /** Whatever is still held back, once the stream has ended. */
  end(): Buffer {
    return this.#done ? Buffer.alloc(0) : this.#finish(Buffer.concat(this.#pending));
  }

  #finish(rest: Buffer): Buffer {
    this.#done = true;
    this.#pending = [];
    return rest;
  }
}

const SUDO_NEEDS_PASSWORD = /^sudo: (a password is required|a terminal is required)/m;

/**
 * When sudo refused to run without a password, a sentence that says so and
 * how to fix it; undefined otherwise. runbook never types sudo passwords:
 * `sudo -n` fails fast instead of hanging on a prompt nobody can answer.
 */
export function explainSudoFailure(stderr: string, user?: string): string | undefined {
  if (!SUDO_NEEDS_PASSWORD.test(stderr)) return undefined;
  const who = user ?? 'the remote user';
  return (
    `runbook: become failed: sudo asks ${who} for a password, and runbook runs sudo without a terminal (sudo -n). ` +
    `Allow passwordless sudo for ${who} (a NOPASSWD rule in /etc/sudoers.d/), or connect as a user that does not need become.`
  );
}

/**
 * Keeps the last `limit` bytes of a stream. Chunks are kept as they came and
 * joined once at the end, so a command printing 50 MB costs O(n) time and at
 * most `limit` (plus one chunk) of memory.
 */
export class OutputTail {
  #chunks: Buffer[] = [];
  #head = 0;
  #bytes = 0;
  truncated = false;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`maxOutputBytes must be a whole number ≥ 0, not ${limit}`);
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (chunk.length >= this.limit) {
      this.truncated ||= chunk.length > this.limit || this.#bytes > 0;
      // Copy: a slice would pin the whole (possibly large) chunk in memory.
      this.#chunks = this.limit === 0 ? [] : [Buffer.from(chunk.subarray(chunk.length - this.limit))];
      this.#head = 0;
      this.#bytes = this.limit;
      return;
    }
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    while (this.#bytes > this.limit) {
      this.truncated = true;
      const first = this.#chunks[this.#head]!;
      const excess = this.#bytes - this.limit;
      if (first.length <= excess) {
        this.#head++;
        this.#bytes -= first.length;
      } else {
        this.#chunks[this.#head] = first.subarray(excess);
        this.#bytes -= excess;
      }
    }
    // Drop consumed entries now and then, not on every shift (which would be quadratic).
    if (this.#head > 1024 && this.#head * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.#chunks.slice(this.#head), this.#bytes);
  }

  toString(): string {
    return this.toBuffer().toString('utf8');
  }
}

export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;

/** The error an aborted operation rejects with: the signal's reason when it is an Error. */
export function abortError(signal: AbortSignal, what: string): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new InterruptedError(`${what} was interrupted`);
}
