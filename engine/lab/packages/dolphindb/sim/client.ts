// Terminal mode: `dolphindb -remoteHost <host> -remotePort <port>` reads a
// script on standard input, runs it on that node in one session and exits at
// the end of input. Results go to standard output, one per statement that
// returns something (tables as header, dashes and rows); an error ends the
// script with `Server response: '<statement> => <message>'` on standard
// error and exit 1. A node that cannot be reached gives
// `Failed to connect to <host>:<port>: <reason>` and exit 2.
//
// The script goes on stdin, never on the command line, so `login("admin",
// "<password>")` as its first line keeps the password out of any argv.

import { call, CallError } from './rpc.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function runClient(args: Map<string, string>): Promise<number> {
  const host = args.get('remoteHost') ?? '127.0.0.1';
  const port = Number(args.get('remotePort') ?? '8848');
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    process.stderr.write(`Invalid -remotePort ${JSON.stringify(args.get('remotePort'))}\n`);
    return 2;
  }
  const script = await readStdin();
  let r;
  try {
    r = await call(host, port, { op: 'run', script }, Number(process.env['DDB_SIM_CLIENT_TIMEOUT_MS']) || 120_000);
  } catch (e) {
    process.stderr.write(`Failed to connect to ${host}:${port}: ${e instanceof CallError ? e.message : String(e)}\n`);
    return 2;
  }
  const output = Array.isArray(r['output']) ? r['output'].map(String) : [];
  // A blank line between results, so each table ends before the next result starts.
  if (output.length > 0) process.stdout.write(output.join('\n\n') + '\n');
  if (r['ok'] !== true) {
    process.stderr.write(`Server response: '${String(r['message'])}'\n`);
    return 1;
  }
  return 0;
}
