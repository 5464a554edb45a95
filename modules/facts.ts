// facts: what a deployment needs to know about a host before it touches it
// (java version, needed commands, free ports, hostname, disk, memory, OS),
// gathered by one script in one round trip. The script prints sections that
// start with a "::rb:: NAME" line; everything is parsed here, not remotely,
// so the parsing is testable and the remote side needs only POSIX sh.

import { z } from 'zod';
import { defineModule, failed, quote, type ModuleResult } from '../engine/api.js';

const SECTIONS = ['java', 'commands', 'ports', 'hostname', 'disk', 'memory', 'os'] as const;
type Section = (typeof SECTIONS)[number];

const schema = z
  .object({
    gather: z
      .array(z.enum(SECTIONS))
      .min(1)
      .default([...SECTIONS])
      .describe('Which facts to gather (default all): java, commands, ports, hostname, disk, memory, os.'),
    commands: z
      .array(z.string().regex(/^[A-Za-z0-9_.+-]+$/, 'a command name, without a path or arguments'))
      .default([])
      .describe('Commands whose presence on PATH is reported as facts.commands.NAME (true/false).'),
    ports: z
      .array(z.coerce.number().int().min(1).max(65535))
      .default([])
      .describe('TCP ports to check: facts.ports.free / in_use list them (found with ss, netstat or lsof, whichever exists).'),
    paths: z
      .array(z.string().min(1))
      .default(['/'])
      .describe("Paths whose free disk space is reported as facts.disk[PATH]; a path that does not exist yet is measured at its nearest existing parent."),
    login_shell: z.boolean().optional().describe('Gather in a login shell, so that java is found through the PATH/JAVA_HOME set in the profile.'),
  })
  .strict();

type Args = z.output<typeof schema>;

export interface JavaFacts {
  present: boolean;
  path?: string;
  /** As printed: 1.8.0_392, 17.0.15, 21. */
  version?: string | null;
  /** 8 for 1.8.x, else the first number. */
  major?: number | null;
  runtime?: string;
}

export interface HostFacts {
  hostname?: string;
  java?: JavaFacts;
  commands?: Record<string, boolean>;
  ports?: { tool: string | null; free: number[]; in_use: number[]; listening: number[] };
  disk?: Record<string, { path_measured: string; mount: string; total_bytes: number; free_bytes: number; used_percent: number } | null>;
  memory?: { total_bytes: number | null; available_bytes: number | null; swap_total_bytes: number | null };
  os?: { id: string | null; version_id: string | null; pretty_name: string | null; kernel: string | null; arch: string | null; cpus: number | null };
}

const MARK = '::rb::';

export function factsScript(a: Args): string {
  const want = new Set<Section>(a.gather);
  const out: string[] = [];
  if (want.has('hostname')) {
    out.push(`echo '${MARK} hostname'`, 'hostname -f 2>/dev/null || hostname 2>/dev/null || uname -n');
  }
  if (want.has('java')) {
    // JAVA_HOME counts when java is not on PATH: product start scripts use it the same way.
    out.push(
      `echo '${MARK} java'`,
      'if command -v java >/dev/null 2>&1; then rb_j=$(command -v java); elif [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then rb_j=$JAVA_HOME/bin/java; else rb_j=; fi',
      'if [ -n "$rb_j" ]; then echo "path=$rb_j"; "$rb_j" -version 2>&1 | head -n 3; fi',
    );
  }
  if (want.has('commands') && a.commands.length > 0) {
    out.push(`echo '${MARK} commands'`, `for c in ${a.commands.map(quote).join(' ')}; do printf '%s=%s\\n' "$c" "$(command -v "$c" 2>/dev/null)"; done`);
  }
  if (want.has('ports') && a.ports.length > 0) {
    out.push(
      `echo '${MARK} ports'`,
      'if command -v ss >/dev/null 2>&1; then echo tool=ss; ss -Htln 2>/dev/null || ss -tln',
      'elif command -v netstat >/dev/null 2>&1; then echo tool=netstat; netstat -tln',
      'elif command -v lsof >/dev/null 2>&1; then echo tool=lsof; lsof -nP -iTCP -sTCP:LISTEN',
      'else echo tool=none; fi',
    );
  }
  if (want.has('disk')) {
    a.paths.forEach((p, i) => {
      out.push(
        `echo '${MARK} disk ${i}'`,
        `rb_p=${quote(p)}; while [ ! -e "$rb_p" ]; do rb_p=$(dirname -- "$rb_p"); done; echo "measured=$rb_p"; df -Pk -- "$rb_p" | tail -n 1`,
      );
    });
  }
  if (want.has('memory')) {
    out.push(`echo '${MARK} memory'`, "grep -E '^(MemTotal|MemAvailable|MemFree|SwapTotal):' /proc/meminfo 2>/dev/null");
  }
  if (want.has('os')) {
    out.push(
      `echo '${MARK} os'`,
      'cat /etc/os-release 2>/dev/null',
      'echo "uname_s=$(uname -s)"; echo "uname_r=$(uname -r)"; echo "uname_m=$(uname -m)"',
      'echo "cpus=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null)"',
    );
  }
  out.push('exit 0');
  return out.join('\n');
}

function splitSections(stdout: string): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of stdout.replace(/\r\n?/g, '\n').split('\n')) {
    if (line.startsWith(`${MARK} `)) {
      current = [];
      sections.set(line.slice(MARK.length + 1).trim(), current);
    } else if (current && line !== '') {
      current.push(line);
    }
  }
  return sections;
}

function keyValues(lines: string[]): Map<string, string> {
  const kv = new Map<string, string>();
  for (const l of lines) {
    const i = l.indexOf('=');
    if (i > 0) kv.set(l.slice(0, i), l.slice(i + 1).replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1'));
  }
  return kv;
}

/** `java -version` output: `openjdk version "17.0.15" 2025-04-15`, `java version "1.8.0_392"`. */
export function parseJava(lines: string[]): JavaFacts {
  const path = lines.find((l) => l.startsWith('path='))?.slice(5);
  if (path === undefined) return { present: false };
  const text = lines.filter((l) => !l.startsWith('path='));
  const vline = text.find((l) => /version "[^"]*"/.test(l));
  const version = vline ? /version "([^"]*)"/.exec(vline)![1]! : null;
  let major: number | null = null;
  if (version !== null) {
    const parts = version.split(/[._+-]/);
    const n = Number(parts[0] === '1' ? parts[1] : parts[0]);
    major = Number.isInteger(n) ? n : null;
  }
  const runtime = text.find((l) => /Runtime Environment/.test(l))?.trim();
  return { present: true, path, version, major, ...(runtime !== undefined ? { runtime } : {}) };
}

/** Listening TCP ports from ss -tln / netstat -tln (4th field) or lsof (9th field). */
export function parseListening(lines: string[]): { tool: string | null; listening: number[] } {
  const tool = lines.find((l) => l.startsWith('tool='))?.slice(5) ?? null;
  const ports = new Set<number>();
  for (const l of lines) {
    if (l.startsWith('tool=')) continue;
    const f = l.trim().split(/\s+/);
    const addr = tool === 'lsof' ? f[8] : f[3];
    const m = addr !== undefined ? /:(\d+)$/.exec(addr) : null;
    if (m) ports.add(Number(m[1]));
  }
  return { tool: tool === 'none' ? null : tool, listening: [...ports].sort((x, y) => x - y) };
}

function parseDisk(lines: string[]): NonNullable<HostFacts['disk']>[string] {
  const measured = lines.find((l) => l.startsWith('measured='))?.slice(9);
  const row = lines.find((l) => !l.startsWith('measured='));
  const m = row ? /^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)%\s+(.*)$/.exec(row.trim()) : null;
  if (!m || measured === undefined) return null;
  return {
    path_measured: measured,
    mount: m[6]!,
    total_bytes: Number(m[2]) * 1024,
    free_bytes: Number(m[4]) * 1024,
    used_percent: Number(m[5]),
  };
}

function parseMemory(lines: string[]): NonNullable<HostFacts['memory']> {
  const kb = (key: string): number | null => {
    const l = lines.find((x) => x.startsWith(`${key}:`));
    const m = l ? /(\d+)/.exec(l) : null;
    return m ? Number(m[1]) * 1024 : null;
  };
  return { total_bytes: kb('MemTotal'), available_bytes: kb('MemAvailable') ?? kb('MemFree'), swap_total_bytes: kb('SwapTotal') };
}

function parseOs(lines: string[]): NonNullable<HostFacts['os']> {
  const kv = keyValues(lines);
  const s = kv.get('uname_s');
  const r = kv.get('uname_r');
  const cpus = Number(kv.get('cpus'));
  return {
    id: kv.get('ID') ?? null,
    version_id: kv.get('VERSION_ID') ?? null,
    pretty_name: kv.get('PRETTY_NAME') ?? null,
    kernel: s !== undefined && r !== undefined ? `${s} ${r}` : null,
    arch: kv.get('uname_m') ?? null,
    cpus: Number.isInteger(cpus) && cpus > 0 ? cpus : null,
  };
}

export function parseFacts(stdout: string, a: Args): HostFacts {
  const s = splitSections(stdout);
  const facts: HostFacts = {};
  const hostname = s.get('hostname');
  if (hostname) facts.hostname = hostname[0]?.trim() ?? '';
  const java = s.get('java');
  if (java) facts.java = parseJava(java);
  const commands = s.get('commands');
  if (commands) {
    const kv = keyValues(commands);
    facts.commands = Object.fromEntries(a.commands.map((c) => [c, (kv.get(c) ?? '') !== '']));
  }
  const ports = s.get('ports');
  if (ports) {
    const { tool, listening } = parseListening(ports);
    const busy = new Set(listening);
    facts.ports = {
      tool,
      free: a.ports.filter((p) => !busy.has(p)),
      in_use: a.ports.filter((p) => busy.has(p)),
      listening,
    };
  }
  if (a.gather.includes('disk')) {
    facts.disk = Object.fromEntries(a.paths.map((p, i) => [p, parseDisk(s.get(`disk ${i}`) ?? [])]));
  }
  const memory = s.get('memory');
  if (memory) facts.memory = parseMemory(memory);
  const os = s.get('os');
  if (os) facts.os = parseOs(os);
  return facts;
}

const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;

function summary(f: HostFacts): string {
  const parts: string[] = [];
  if (f.hostname !== undefined) parts.push(f.hostname);
  if (f.os?.id) parts.push(`${f.os.id} ${f.os.version_id ?? ''}`.trim());
  if (f.java) parts.push(f.java.present ? `java ${f.java.version ?? '(unknown version)'}` : 'no java');
  if (f.commands) {
    const missing = Object.entries(f.commands).filter(([, v]) => !v).map(([k]) => k);
    parts.push(missing.length === 0 ? 'all commands present' : `missing ${missing.join(', ')}`);
  }
  if (f.ports) {
    if (f.ports.tool === null) parts.push('ports unknown (no ss, netstat or lsof)');
    else parts.push(f.ports.in_use.length === 0 ? 'ports free' : `in use: ${f.ports.in_use.join(', ')}`);
  }
  for (const [p, d] of Object.entries(f.disk ?? {})) parts.push(d ? `${gib(d.free_bytes)} free on ${p}` : `disk of ${p} unknown`);
  if (f.memory?.total_bytes != null) parts.push(`${gib(f.memory.total_bytes)} memory`);
  return parts.join(', ');
}

export default defineModule({
  name: 'facts',
  description: 'Gather host facts in one round trip: java version, commands present, free ports, hostname -f, free disk, memory, OS.',
  schema,
  examples: [
    {
      title: 'Check a host before deploying IoTDB',
      yaml: `- facts:
    commands: [unzip, lsof]
    ports: [10710, 10720, 6667, 10730, 10740, 10750, 10760]
    paths: [/opt/iotdb, /data/iotdb]
- assert:
    that: ["facts.java.major >= 8", "size(facts.ports.in_use) == 0"]`,
    },
    {
      title: 'Only the Java version, from the login profile',
      yaml: `- facts: { gather: [java], login_shell: true }`,
    },
  ],
  async run(ctx, a): Promise<ModuleResult> {
    const r = await ctx.exec(factsScript(a), { loginShell: a.login_shell });
    if (r.exitCode !== 0) {
      return failed(`could not gather facts on ${ctx.host.name} (exit ${r.exitCode ?? r.signal}): ${r.stderr.trim().split('\n').at(-1) ?? ''}`);
    }
    const facts = parseFacts(r.stdout, a);
    return { status: 'ok', msg: `gathered: ${summary(facts)}`, data: { ...facts }, facts: { facts } };
  },
});
