// The simulated taosAdapter: TDengine's REST gateway on port 6041. It reads
// taosadapter.toml (port, taosConfigDir, [log] path), finds the cluster
// through firstEp in that folder's taos.cfg, and answers
//   GET  /-/ping     200, for load balancers and checks
//   POST /rest/sql   Basic auth, the body is one SQL statement; the reply is
//                    TDengine's REST JSON ({code, column_meta, data, rows} or
//                    {code, desc}).
// Every reply carries X-Simulated-Instance: <hostname>:<port> and every
// request is logged, so tests can see which instance nginx chose.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { dnodeSettings, readCfg, readVersion, SIMULATED_NOTICE } from './cfg.js';
import type { SqlResult } from './dnode.js';
import { Log } from './log.js';
import { call, parseEndpoint } from './rpc.js';
import { readToml, tomlPort } from './toml.js';

interface AdapterConfig {
  port: number;
  taosConfigDir: string;
  logPath: string;
}

/** The few taosadapter.toml keys the simulator uses. */
export function readAdapterConfig(file: string): AdapterConfig {
  const values = readToml(file);
  const port = tomlPort(values, 'port', 6041, file);
  const base = dirname(resolve(file));
  return {
    port,
    taosConfigDir: resolve(base, values.get('taosConfigDir') || '/etc/taos'),
    logPath: resolve(base, values.get('log.path') || '/var/log/taos'),
  };
}

function send(res: ServerResponse, status: number, body: unknown, instance: string): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'X-Simulated-Instance': instance });
  res.end(text);
}

function credentials(req: IncomingMessage): { user: string; password: string } | null {
  const auth = req.headers.authorization ?? '';
  const m = /^Basic\s+(\S+)$/i.exec(auth);
  if (!m) return null;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const at = text.indexOf(':');
  return at < 0 ? null : { user: text.slice(0, at), password: text.slice(at + 1) };
}

export async function runAdapter(home: string, configFile: string): Promise<void> {
  const cfg = readAdapterConfig(configFile);
  const taos = dnodeSettings(readCfg(cfg.taosConfigDir));
  const first = parseEndpoint(taos.firstEp, 6030);
  if (!first) throw new Error(`firstEp "${taos.firstEp}" in ${cfg.taosConfigDir}/taos.cfg is not fqdn:port`);
  const log = new Log(cfg.logPath, 'taosadapter.log', false);
  const instance = `${hostname()}:${cfg.port}`;
  const v = readVersion(home);
  log.info('ADP', `taosAdapter ${v.version} is starting on port ${cfg.port}, cluster firstEp ${taos.firstEp} — ${SIMULATED_NOTICE}`);

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0];
      const done = (status: number, body: unknown): void => {
        log.info('ADP', `${req.method} ${path} from ${req.socket.remoteAddress ?? '?'} ${status}`);
        send(res, status, body, instance);
      };
      if (path === '/-/ping') return done(200, { code: 0, message: '' });
      if (path !== '/rest/sql' || req.method !== 'POST') return done(404, { code: 65535, desc: `no route for ${req.method} ${path}` });
      const who = credentials(req);
      if (!who) return done(401, { code: 65535, desc: 'authorization required: send Basic auth (user:password)' });
      const sql = Buffer.concat(chunks).toString('utf8').trim();
      call(first.fqdn, first.port, { op: 'sql', sql, user: who.user, password: who.password }, 30_000).then(
        (r) => {
          if (r.ok !== true) return done(r.code === 'AUTH' ? 401 : 200, { code: r.code === 'AUTH' ? 0x0357 : 0x000b, desc: String(r.message ?? r.code) });
          const result = r.result as unknown as SqlResult;
          if (result.kind === 'error') return done(200, { code: 0x2600, desc: result.message });
          if (result.kind === 'affected') return done(200, { code: 0, column_meta: [['affected_rows', 'INT', 4]], data: [[result.rows]], rows: 1 });
          const t = result.table;
          done(200, {
            code: 0,
            column_meta: t.columns.map((c) => [c.name, c.align === 'right' ? 'INT' : 'VARCHAR', c.align === 'right' ? 4 : 64]),
            data: t.rows.map((row) => row.map((cell, i) => (t.columns[i]!.align === 'right' ? Number(cell) : cell))),
            rows: t.rows.length,
          });
        },
        (e: unknown) => done(200, { code: 0x000b, desc: `Unable to establish connection (${e instanceof Error ? e.message : String(e)})` }),
      );
    });
  });
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(`taosAdapter cannot listen on port ${cfg.port} since ${e.code === 'EADDRINUSE' ? 'Address already in use' : e.message}`)),
    );
    server.listen({ host: '0.0.0.0', port: cfg.port, exclusive: true }, () => resolvePromise());
  });
  log.info('ADP', `taosAdapter is listening on 0.0.0.0:${cfg.port}`);
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      log.info('ADP', `received ${sig}, taosAdapter is stopping`);
      server.close(() => process.exit(0));
      server.closeAllConnections();
    });
  }
}
