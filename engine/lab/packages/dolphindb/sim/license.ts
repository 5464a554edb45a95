// The simulated license file. Real dolphindb.lic files are signed binary
// blobs; the simulator's is plain `key=value` text that says it is simulated,
// carrying what the document's rules look at: the customer, the type
// (trial / commercial / free), the limits (nodes, cores, memory) and the
// expiry. The same module writes licenses (index.ts, tests) and reads them
// (every simulated process, at start and on updateLicense).

import { readFileSync } from 'node:fs';

export type LicenseType = 'trial' | 'commercial' | 'free';

export interface License {
  type: LicenseType;
  customer: string;
  /** Data and compute nodes that may run at once. */
  maxNodes: number;
  maxCores: number;
  /** GB per node. */
  maxMemoryPerNode: number;
  /** `YYYY.MM.DD`, DolphinDB's date literal. */
  expiration: string;
}

export const LICENSE_HEADER =
  '# SIMULATED DolphinDB license (runbook test double). This is not a DolphinDB license:\n' +
  '# only the simulated package built by `runbook lab package dolphindb` reads it.\n';

const pad = (n: number): string => String(n).padStart(2, '0');

/** A Date as DolphinDB's `2024.01.31` (UTC). */
export function ddbDate(d: Date): string {
  return `${d.getUTCFullYear()}.${pad(d.getUTCMonth() + 1)}.${pad(d.getUTCDate())}`;
}

export function licenseText(l: License): string {
  for (const [k, v] of Object.entries(l)) {
    if (typeof v === 'string' && /[\r\n]/.test(v)) throw new Error(`license ${k} must be one line`);
  }
  if (!/^\d{4}\.\d{2}\.\d{2}$/.test(l.expiration)) throw new Error(`license expiration must be YYYY.MM.DD, not ${JSON.stringify(l.expiration)}`);
  return (
    LICENSE_HEADER +
    `type=${l.type}\ncustomer=${l.customer}\nmaxNodes=${l.maxNodes}\nmaxCores=${l.maxCores}\nmaxMemoryPerNode=${l.maxMemoryPerNode}\nexpiration=${l.expiration}\n`
  );
}

export class LicenseError extends Error {}

export function parseLicense(text: string, where: string): License {
  if (!text.includes('SIMULATED DolphinDB license')) throw new LicenseError(`${where} is not a license the simulated DolphinDB can read (no "SIMULATED DolphinDB license" header)`);
  const kv = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq > 0) kv.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const need = (k: string): string => {
    const v = kv.get(k);
    if (v === undefined || v === '') throw new LicenseError(`${where} has no ${k}`);
    return v;
  };
  const num = (k: string): number => {
    const v = Number(need(k));
    if (!Number.isInteger(v) || v < 0) throw new LicenseError(`${where}: ${k} must be a whole number`);
    return v;
  };
  const type = need('type');
  if (type !== 'trial' && type !== 'commercial' && type !== 'free') throw new LicenseError(`${where}: type must be trial, commercial or free, not ${type}`);
  const expiration = need('expiration');
  if (!/^\d{4}\.\d{2}\.\d{2}$/.test(expiration)) throw new LicenseError(`${where}: expiration must be YYYY.MM.DD`);
  return { type, customer: need('customer'), maxNodes: num('maxNodes'), maxCores: num('maxCores'), maxMemoryPerNode: num('maxMemoryPerNode'), expiration };
}

export function readLicense(path: string): License {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new LicenseError(`Failed to read the license file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return parseLicense(text, path);
}

/** True once the expiry day is over (UTC). */
export function expired(l: License, now = new Date()): boolean {
  return l.expiration < ddbDate(now);
}

/**
 * Why `updateLicense` refuses to swap `current` for `next` online (the
 * document's four rules), or undefined when it may.
 */
export function onlineUpdateRefusal(current: License, next: License): string | undefined {
  if (next.customer !== current.customer) {
    return `the customer of the new license (${next.customer}) differs from the current one (${current.customer}); an online update needs the same customer`;
  }
  for (const [k, what] of [
    ['maxNodes', 'nodes'],
    ['maxMemoryPerNode', 'memory per node'],
    ['maxCores', 'CPU cores'],
  ] as const) {
    if (next[k] < current[k]) return `the new license allows fewer ${what} (${k} ${next[k]}) than the current one (${current[k]}); an online update cannot lower a limit`;
  }
  if (next.type === 'trial') return 'the new license is a trial license; only commercial and free licenses can be updated online';
  if (current.type === 'trial') return 'the current license is a trial license; a trial license cannot be updated online (restart the nodes instead)';
  return undefined;
}
