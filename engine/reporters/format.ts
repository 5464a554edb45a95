// Shared text formatting for the human reporters: colours (honouring NO_COLOR
// and non-TTY output), durations, byte counts and the recap table.

import type { HostCounts, HostStatus } from '../events.js';

export interface Style {
  color: boolean;
}

const CODES: Record<string, [number, number]> = {
  green: [32, 39],
  yellow: [33, 39],
  red: [31, 39],
  cyan: [36, 39],
  gray: [90, 39],
  bold: [1, 22],
  magenta: [35, 39],
};

export function paint(style: Style, color: keyof typeof CODES, text: string): string {
  if (!style.color) return text;
  const [a, b] = CODES[color]!;
  return `\u001b[${a}m${text}\u001b[${b}m`;
}

export function useColor(stream: NodeJS.WriteStream): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR) return true;
  return Boolean(stream.isTTY);
}

export const STATUS_COLOR: Record<HostStatus, keyof typeof CODES> = {
  ok: 'green',
  changed: 'yellow',
  skipped: 'cyan',
  failed: 'red',
  unreachable: 'magenta',
};

export function duration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function recapLines(style: Style, hosts: Record<string, HostCounts>, durationMs: number): string[] {
  const names = Object.keys(hosts);
  const width = Math.max(4, ...names.map((n) => n.length));
  const lines = [paint(style, 'bold', `RECAP`) + `  (${duration(durationMs)})`];
  for (const name of names) {
    const c = hosts[name]!;
    const bad = c.failed > 0 || c.unreachable > 0;
    const cell = (k: keyof HostCounts, color: keyof typeof CODES) => {
      const text = `${k}=${c[k]}`;
      return c[k] > 0 ? paint(style, color, text) : text;
    };
    lines.push(
      `  ${paint(style, bad ? 'red' : 'green', name.padEnd(width))}  ${[
        cell('ok', 'green'),
        cell('changed', 'yellow'),
        cell('skipped', 'cyan'),
        cell('failed', 'red'),
        cell('unreachable', 'magenta'),
      ].join('  ')}${c.ignored ? `  ignored=${c.ignored}` : ''}`,
    );
  }
  if (names.length === 0) lines.push('  no hosts matched');
  return lines;
}
