// demo-server: the server of the simulated `demo` product. Compiled by
// `npm run build` and shipped in the archive as lib/demo-server.mjs; it may
// import node builtins only, since the archive carries nothing else.
//
// It reads port=… from conf/demo.conf, listens on it, and answers one command
// per line: `version` (a string saying "simulated"), `ping`, `quit`. Like a
// real server it refuses to start when its port is taken, and says so in
// logs/demo.log.

import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const VERSION = 'demo-server 1.0.0-simulated (a runbook lab test double, not a real product)';

// lib/demo-server.mjs → the product's home folder; DEMO_HOME overrides it.
const home = process.env.DEMO_HOME ?? resolve(dirname(fileURLToPath(import.meta.url)), '..');
const confFile = join(home, 'conf', 'demo.conf');
const logFile = join(home, 'logs', 'demo.log');

function log(level: 'INFO' | 'ERROR', message: string): void {
  mkdirSync(dirname(logFile), { recursive: true });
  appendFileSync(logFile, `${new Date().toISOString()} ${level} ${message} (pid ${process.pid})\n`);
}

function fail(message: string, code: number): never {
  log('ERROR', message);
  process.stderr.write(`demo-server: ${message}\n`);
  process.exit(code);
}

function readPort(): number {
  let text: string;
  try {
    text = readFileSync(confFile, 'utf8');
  } catch (err) {
    return fail(`cannot read ${confFile}: ${(err as Error).message}; demo-server not started`, 2);
  }
  const settings = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_.]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m && !line.trimStart().startsWith('#')) settings.set(m[1]!, m[2]!);
  }
  const raw = settings.get('port');
  const port = Number(raw);
  if (raw === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
    return fail(`${confFile}: port must be a number from 1 to 65535 (found ${raw === undefined ? 'no port=' : JSON.stringify(raw)}); demo-server not started`, 2);
  }
  return port;
}

function main(): void {
  if (process.argv.includes('--version')) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  const port = readPort();
  const server = createServer((socket) => {
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const command = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (command === 'version') socket.write(`${VERSION}\n`);
        else if (command === 'ping') socket.write('pong\n');
        else if (command === 'quit') socket.end();
        else if (command !== '') socket.write(`error: unknown command ${JSON.stringify(command)}; try version, ping or quit\n`);
      }
    });
    socket.on('error', () => socket.destroy());
  });
  server.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE') fail(`port ${port} is already in use; demo-server not started`, 1);
    fail(`cannot listen on port ${port}: ${err.message}; demo-server not started`, 1);
  });
  server.listen(port, '0.0.0.0', () => log('INFO', `${VERSION} listening on 0.0.0.0:${port}`));
  const stop = (signal: string): void => {
    log('INFO', `stopping on ${signal}`);
    server.close(() => process.exit(0));
    // Open client connections would keep close() waiting forever.
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main();
