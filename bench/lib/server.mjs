// @ts-check
// bench-server: the "small server" inside the benchmark's product archive
// (shipped as lib/bench-server.mjs). It stands in for a product's daemon: it
// reads conf/server.properties, which the playbooks template, listens on
// server.port and answers one command per line (version, ping, status, quit).
// Node builtins only, because the archive carries nothing else.

import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const VERSION = 'bench-server 1.0.0 (runbook benchmark stand-in, not a real product)';

const home = process.env['BENCH_HOME'] ?? resolve(dirname(fileURLToPath(import.meta.url)), '..');
const confFile = join(home, 'conf', 'server.properties');
const logFile = join(home, 'logs', 'server.log');
const started = Date.now();

/** @param {string} message */
function log(message) {
  mkdirSync(dirname(logFile), { recursive: true });
  appendFileSync(logFile, `${new Date().toISOString()} ${message} (pid ${process.pid})\n`);
}

/** @param {string} message @returns {never} */
function fail(message) {
  log(`ERROR ${message}`);
  process.stderr.write(`bench-server: ${message}\n`);
  process.exit(2);
}

/** @returns {Map<string, string>} */
function readSettings() {
  let text = '';
  try {
    text = readFileSync(confFile, 'utf8');
  } catch (err) {
    fail(`cannot read ${confFile}: ${/** @type {Error} */ (err).message}`);
  }
  const settings = new Map();
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_.]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m && m[1] !== undefined && m[2] !== undefined && !line.trimStart().startsWith('#')) settings.set(m[1], m[2]);
  }
  return settings;
}

const settings = readSettings();
const port = Number(settings.get('server.port'));
if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`${confFile}: server.port must be a port number (found ${JSON.stringify(settings.get('server.port') ?? null)})`);
const name = settings.get('server.name') ?? 'unnamed';
const listen = settings.get('server.listen') ?? '0.0.0.0';

const server = createServer((socket) => {
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('data', (/** @type {string} */ chunk) => {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const command = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (command === 'version') socket.write(`${VERSION}\n`);
      else if (command === 'ping') socket.write('pong\n');
      else if (command === 'status') socket.write(`name=${name} state=running uptime_ms=${Date.now() - started}\n`);
      else if (command === 'quit') socket.end();
      else if (command !== '') socket.write(`error: unknown command ${JSON.stringify(command)}; try version, ping, status or quit\n`);
    }
  });
  socket.on('error', () => socket.destroy());
});
server.on('error', (err) => fail(`cannot listen on ${listen}:${port}: ${err.message}`));
server.listen(port, listen, () => log(`INFO ${VERSION} ${name} listening on ${listen}:${port}`));
for (const signal of /** @type {const} */ (['SIGTERM', 'SIGINT'])) {
  process.on(signal, () => {
    log(`INFO stopping on ${signal}`);
    server.close(() => process.exit(0));
    // Open client connections would keep close() waiting.
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
