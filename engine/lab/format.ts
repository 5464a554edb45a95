// The text the CLI prints for each lab command. Plain lines, no colour: the
// CLI decides about terminals.

import { DEFAULT_LAB } from './layout.js';
import type { LabPackageResult } from './package.js';
import type { LabDownResult, LabState, LabStatus } from './types.js';

export function formatLabUp(state: LabState): string {
  const out: string[] = [];
  const count = state.hosts.length;
  const where = `on ${state.subnet} (bridge ${state.bridge}, controller ${state.controllerAddress})`;
  if (state.added.length === 0 && state.restarted.length === 0) {
    out.push(`lab ${state.name} already has ${plural(count, 'host')} ${where}; nothing changed (asked for ${state.requested})`);
  } else {
    const did = [state.added.length > 0 && `added ${state.added.join(', ')}`, state.restarted.length > 0 && `restarted ${state.restarted.join(', ')}`]
      .filter(Boolean)
      .join('; ');
    out.push(`lab ${state.name} is up with ${plural(count, 'host')} ${where}: ${did}`);
  }
  out.push(
    ...table(
      ['HOST', 'ADDRESS', 'FQDN', 'SSHD PID', 'STATUS'],
      state.hosts.map((h) => [
        h.name,
        h.address,
        h.fqdn,
        String(h.sshdPid),
        state.added.includes(h.name) ? 'added' : state.restarted.includes(h.name) ? 'restarted' : 'already running',
      ]),
    ),
  );
  const first = state.hosts[0];
  out.push(`names:     <host>.${state.name}.runbook, resolved by every lab host and, while the lab is up, by this machine (${state.controllerHostsFile})`);
  out.push(`inventory: ${state.inventoryPath}`);
  if (first) out.push(`try:       ssh -i ${state.privateKeyFile} -o UserKnownHostsFile=${state.knownHostsFile} root@${first.fqdn}`);
  return out.join('\n');
}

export function formatLabStatus(status: LabStatus): string {
  if (!status.exists) return `lab ${status.name} is not up (no state in ${status.stateDir}); start it with \`runbook lab up${nameFlag(status.name)} --hosts N\``;
  const healthy = status.hosts.filter((h) => h.healthy).length;
  const summary =
    healthy === status.hosts.length
      ? `all ${plural(healthy, 'host')} up`
      : `${healthy} of ${plural(status.hosts.length, 'host')} up; run \`runbook lab up${nameFlag(status.name)} --hosts ${status.hosts.length}\` to restart the others`;
  return [
    `lab ${status.name} on ${status.subnet ?? '?'} (bridge ${status.bridge ?? '?'}): ${summary}`,
    ...table(
      ['HOST', 'ADDRESS', 'FQDN', 'HOSTNAME', 'SSHD', 'PORT 22'],
      status.hosts.map((h) => [
        h.name,
        h.address,
        h.fqdn,
        h.hostname ?? `? (expected ${h.expectedHostname})`,
        `${h.sshdAlive ? `alive (pid ${h.sshdPid})` : `dead (was pid ${h.sshdPid})`}${h.netnsPresent ? '' : `, namespace ${h.netns} missing`}`,
        h.port22Reachable ? 'reachable' : 'unreachable',
      ]),
    ),
    status.controllerNames
      ? `names:     <host>.${status.name}.runbook, also in ${status.controllerHostsFile} on this machine`
      : `names:     <host>.${status.name}.runbook, missing from ${status.controllerHostsFile} on this machine; run \`runbook lab up${nameFlag(status.name)} --hosts ${status.hosts.length}\` to add them`,
    `inventory: ${status.inventoryPath ?? '?'}`,
  ].join('\n');
}

export function formatLabDown(name: string, result: LabDownResult): string {
  if (result.removed.length === 0) return `lab ${name}: nothing to remove (it is not up)`;
  return [`lab ${name} is down; removed:`, ...result.removed.map((r) => `  - ${r}`)].join('\n');
}

export function formatLabPackage(result: LabPackageResult): string {
  return [
    `${result.path}`,
    `  ${result.product} ${result.version} (${result.format}, top folder ${result.topDir}/)`,
    `  sha256 ${result.sha256}`,
    `  ${result.rebuilt ? 'built' : 'unchanged'}: ${result.reason}`,
    ...result.besides.map((f) => `  beside it: ${f}`),
  ].join('\n');
}

function nameFlag(name: string): string {
  return name === DEFAULT_LAB ? '' : ` --name ${name}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => `  ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}`.trimEnd();
  return [line(header), ...rows.map(line)];
}
