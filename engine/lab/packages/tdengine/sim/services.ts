// The simulated taosKeeper (monitoring, port 6043) and taos-Explorer (web
// console, port 6060). Both reach the cluster only through a taosAdapter's
// REST API, as the real ones do, so they answer with the cluster's state
// only while that adapter and the cluster answer.
//
// taosKeeper reads taoskeeper.toml (port, [tdengine] host/port/username/
// password, [log] path) and answers
//   GET /-/ping    200 {"code":0}, for load balancers and checks
//   GET /metrics   Prometheus text: taoskeeper_up, and the cluster's dnodes
//                  (taos_dnodes_total, taos_dnodes_alive) from `show dnodes`
//                  asked through the adapter; 502 when it cannot ask.
// taos-Explorer reads explorer.toml (port, cluster = "http://host:port" of a
// taosAdapter, [log] path) and answers
//   GET /-/ping    200 {"code":0}
//   GET /          an HTML page naming the cluster's dnodes, or 502.
// Every reply carries X-Simulated-Instance: <hostname>:<port>, and every
// request is logged, so tests can see which instance nginx chose.

import { createServer, request, type ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { readVersion, SIMULATED_NOTICE } from './cfg.js';
import { Log } from './log.js';
import { readToml, tomlPort } from './toml.js';

interface ServiceConfig {
  port: number;
  adapter: { host: string; port: number };
  user: string;
  password: string;
  logPath: string;
}

export function readKeeperConfig(file: string): ServiceConfig {
  const v = readToml(file);
  return {
    port: tomlPort(v, 'port', 6043, file),
    adapter: { host: v.get('tdengine.host') || '127.0.0.1', port: tomlPort(v, 'tdengine.port', 6041, file) },
    user: v.get('tdengine.username') || 'root',
    password: v.get('tdengine.password') ?? 'taosdata',
    logPath: resolve(dirname(resolve(file)), v.get('log.path') || '/var/log/taos'),
  };
}

export function readExplorerConfig(file: string): ServiceConfig {
  const v = readToml(file);
  const cluster = v.get('cluster') || 'http://localhost:6041';
  const m = /^https?:\/\/([^:/]+)(?::(\d+))?\/?$/.exec(cluster);
  if (!m) throw new Error(`${file}: cluster must be the taosAdapter's URL, like http://localhost:6041, not ${cluster}`);
  return {
    port: tomlPort(v, 'port', 6060, file),
    adapter: { host: m[1]!, port: Number(m[2] ?? '6041') },
    // The real console asks the user to log in; the simulated one uses the factory account.
    user: 'root',
    password: 'taosdata',
    logPath: resolve(dirname(resolve(file)), v.get('log.path') || '/var/log/taos'),
  };
}

interface DnodeRow {
  endpoint: string;
  status: string;
}

/** `show dnodes` through the adapter's REST API. */
function showDnodes(cfg: ServiceConfig): Promise<DnodeRow[]> {
  return new Promise((resolvePromise, reject) => {
    const body = 'show dnodes';
    const req = request(
      {
        host: cfg.adapter.host,
        port: cfg.adapter.port,
        path: '/rest/sql',
        method: 'POST',
        auth: `${cfg.user}:${cfg.password}`,
        headers: { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            const json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { code: number; desc?: string; column_meta?: Array<[string]>; data?: unknown[][] };
            if (json.code !== 0) return reject(new Error(`taosAdapter answered code ${json.code}: ${json.desc ?? ''}`));
            const names = (json.column_meta ?? []).map((c) => c[0]);
            const at = (n: string): number => names.indexOf(n);
            resolvePromise((json.data ?? []).map((row) => ({ endpoint: String(row[at('endpoint')]), status: String(row[at('status')]) })));
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`taosAdapter ${cfg.adapter.host}:${cfg.adapter.port} did not answer`)));
    req.on('error', reject);
    req.end(body);
  });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

export async function runService(role: 'keeper' | 'explorer', home: string, configFile: string): Promise<void> {
  const cfg = role === 'keeper' ? readKeeperConfig(configFile) : readExplorerConfig(configFile);
  const title = role === 'keeper' ? 'taosKeeper' : 'taos-Explorer';
  const log = new Log(cfg.logPath, role === 'keeper' ? 'taoskeeper.log' : 'explorer.log', false);
  const instance = `${hostname()}:${cfg.port}`;
  const v = readVersion(home);
  log.info(role === 'keeper' ? 'KPR' : 'EXP', `${title} ${v.version} is starting on port ${cfg.port}, taosAdapter ${cfg.adapter.host}:${cfg.adapter.port} — ${SIMULATED_NOTICE}`);

  const send = (res: ServerResponse, status: number, type: string, text: string): void => {
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text), 'X-Simulated-Instance': instance });
    res.end(text);
  };
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const done = (status: number, type: string, text: string): void => {
      log.info(role === 'keeper' ? 'KPR' : 'EXP', `${req.method} ${path} from ${req.socket.remoteAddress ?? '?'} ${status}`);
      send(res, status, type, text);
    };
    const json = (status: number, body: unknown): void => done(status, 'application/json', JSON.stringify(body));
    if (req.method !== 'GET') return json(405, { code: 65535, desc: `${title} answers GET only` });
    if (path === '/-/ping') return json(200, { code: 0, message: '' });
    const page = role === 'keeper' ? path === '/metrics' : path === '/';
    if (!page) return json(404, { code: 65535, desc: `no route for GET ${path}` });
    showDnodes(cfg).then(
      (rows) => {
        const alive = rows.filter((r) => r.status === 'ready').length;
        if (role === 'keeper') {
          done(
            200,
            'text/plain; version=0.0.4',
            [
              `# simulated taosKeeper (${v.version}): ${SIMULATED_NOTICE}`,
              '# TYPE taoskeeper_up gauge',
              'taoskeeper_up 1',
              '# TYPE taos_dnodes_total gauge',
              `taos_dnodes_total ${rows.length}`,
              '# TYPE taos_dnodes_alive gauge',
              `taos_dnodes_alive ${alive}`,
              '',
            ].join('\n'),
          );
        } else {
          const items = rows.map((r) => `<li>${escapeHtml(r.endpoint)}: ${escapeHtml(r.status)}</li>`).join('');
          done(200, 'text/html; charset=utf-8', `<!doctype html><title>TDengine Explorer (simulated)</title><h1>TDengine Explorer — simulated by runbook</h1><p>${alive} of ${rows.length} dnodes ready</p><ul>${items}</ul>\n`);
        }
      },
      (e: unknown) => json(502, { code: 0x000b, desc: `cannot reach the cluster through taosAdapter ${cfg.adapter.host}:${cfg.adapter.port}: ${e instanceof Error ? e.message : String(e)}` }),
    );
  });
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new Error(`${title} cannot listen on port ${cfg.port} since ${e.code === 'EADDRINUSE' ? 'Address already in use' : e.message}`)));
    server.listen({ host: '0.0.0.0', port: cfg.port, exclusive: true }, () => resolvePromise());
  });
  log.info(role === 'keeper' ? 'KPR' : 'EXP', `${title} is listening on 0.0.0.0:${cfg.port}`);
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      log.info(role === 'keeper' ? 'KPR' : 'EXP', `received ${sig}, ${title} is stopping`);
      server.close(() => process.exit(0));
      server.closeAllConnections();
    });
  }
}
