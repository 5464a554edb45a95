// TimechoDB's activation, simulated. The real product ties a license to the
// machine: each ConfigNode writes the machine's code to activation/system_info
// when it starts; Timecho returns an activation code (the license) for it,
// which sbin/start-activate.sh reads and stores as activation/license.
//
// Here the machine code comes from the host name (lab hosts each have their
// own), and the one activation code that fits it is
//
//   base64(HMAC-SHA256(key = SIM_ACTIVATION_KEY, message = machine code))
//
// so a test can compute it and a wrong code is refused, as a real license
// for another machine would be. Nothing else in the simulator depends on it.
//
// Run as a program (sbin/start-activate.sh): activation.js --home <IOTDB_HOME>

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Public on purpose: the simulator is a test double, and tests compute codes with it. */
export const SIM_ACTIVATION_KEY = 'runbook simulated IoTDB activation key';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Buffer, chars: number): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

/** This machine's code, in the shape of the vendor's samples: 01-XXXXXXXX-XXXXXXXX. */
export function machineCode(host: string = hostname()): string {
  const digest = createHash('sha256').update(`runbook simulated IoTDB machine:${host}`).digest();
  const text = base32(digest, 16);
  return `01-${text.slice(0, 8)}-${text.slice(8, 16)}`;
}

/** The activation code that fits a machine code. */
export function activationCodeFor(code: string): string {
  return createHmac('sha256', SIM_ACTIVATION_KEY).update(code).digest('base64');
}

export function activationDir(home: string): string {
  return join(home, 'activation');
}

/** Written by a ConfigNode when it starts, as TimechoDB does; returns the code. */
export function writeSystemInfo(home: string): string {
  const dir = activationDir(home);
  mkdirSync(dir, { recursive: true });
  const code = machineCode();
  const file = join(dir, 'system_info');
  if (!existsSync(file) || readFileSync(file, 'utf8').trim() !== code) writeFileSync(file, `${code}\n`);
  return code;
}

function fits(code: string, license: string): boolean {
  const want = Buffer.from(activationCodeFor(code));
  const got = Buffer.from(license.trim());
  return want.length === got.length && timingSafeEqual(want, got);
}

/** ACTIVATED when activation/license fits this machine's system_info. */
export function activationStatus(home: string): 'ACTIVATED' | 'UNACTIVATED' {
  try {
    const code = readFileSync(join(activationDir(home), 'system_info'), 'utf8').trim();
    const license = readFileSync(join(activationDir(home), 'license'), 'utf8');
    return fits(code, license) ? 'ACTIVATED' : 'UNACTIVATED';
  } catch {
    return 'UNACTIVATED';
  }
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function readLine(): Promise<string | undefined> {
  const rl = createInterface({ input: process.stdin, terminal: false });
  try {
    for await (const line of rl) return line;
    return undefined;
  } finally {
    rl.close();
  }
}

/** sbin/start-activate.sh: show the machine code, read the license, store it when it fits. */
export async function runActivate(home: string): Promise<number> {
  const dir = activationDir(home);
  const infoFile = join(dir, 'system_info');
  if (!existsSync(infoFile)) {
    out(`${infoFile} does not exist: the ConfigNode writes it when it starts. Start the ConfigNode of ${home} first. (simulated TimechoDB activation)`);
    return 1;
  }
  const code = readFileSync(infoFile, 'utf8').trim();
  out("Please copy the system_info's content and send it to Timecho:");
  out(code);
  out('Please enter license:');
  const license = (await readLine())?.trim() ?? '';
  if (license === '') {
    out('No license was entered; nothing was stored.');
    return 1;
  }
  if (!fits(code, license)) {
    out(`Activation failed: the license does not match the machine code ${code} of this machine; nothing was stored.`);
    return 1;
  }
  const tmp = join(dir, `.license.tmp-${process.pid}`);
  writeFileSync(tmp, `${license}\n`);
  renameSync(tmp, join(dir, 'license'));
  out('License has been stored to sbin/../activation/license');
  out("Import completed. Please start cluster and excute 'show cluster' to verify activation status");
  return 0;
}

function isEntryPoint(): boolean {
  const arg = process.argv[1];
  if (arg === undefined) return false;
  try {
    return realpathSync(resolve(arg)) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const at = process.argv.indexOf('--home');
  const home = resolve(at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : (process.env.IOTDB_HOME ?? resolve(fileURLToPath(import.meta.url), '../../..')));
  runActivate(home).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
