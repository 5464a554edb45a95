// The simulated grafana-server (runbook test double): reads conf/defaults.ini
// and the --config file the way Grafana layers them, provisions data sources
// and file-based dashboards from the provisioning folder, and answers the
// HTTP API calls a deployment check makes: /api/health (no login), and with
// the admin's basic auth /api/search, /api/datasources and
// /api/dashboards/uid/<uid>. It logs in Grafana's logfmt to
// <paths.logs>/grafana.log. Node builtins only: it runs on the lab hosts
// from the unpacked archive, without node_modules.
//
// Provisioning files are YAML to Grafana. The simulator reads the JSON form
// of YAML (JSON is valid YAML, and runbook's templates write that form), with
// `#` comment lines allowed; anything else is refused with a message saying so.

import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';

const NOTICE = 'simulated by runbook: a test double of Grafana, not the real product';

type Ini = Map<string, Map<string, string>>;

interface Args {
  homepath: string;
  config: string | null;
  pidfile: string | null;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { homepath: process.cwd(), config: null, pidfile: null };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    const eq = x.indexOf('=');
    const [flag, inline] = x.startsWith('--') && eq > 0 ? [x.slice(0, eq), x.slice(eq + 1)] : [x, undefined];
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw new Error(`flag needs an argument: ${flag}`);
      return v;
    };
    if (flag === '--homepath' || flag === '-homepath') a.homepath = value();
    else if (flag === '--config' || flag === '-config') a.config = value();
    else if (flag === '--pidfile' || flag === '-pidfile') a.pidfile = value();
    else if (flag === 'server') continue;
    // cfg:section.key=value overrides and other flags change nothing the simulator models.
    else if (x.startsWith('cfg:')) continue;
    else throw new Error(`flag provided but not defined: ${x}`);
  }
  a.homepath = resolve(a.homepath);
  return a;
}

/** Grafana's ini: [sections], `key = value`, `;` and `#` comments, ${ENV} expansion. */
function readIni(file: string, into: Ini): void {
  let section = '';
  for (const raw of readFileSync(file, 'utf8').split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue;
    const sec = /^\[([^\]]+)\]$/.exec(line);
    if (sec) {
      section = sec[1]!.trim();
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    let value = line.slice(eq + 1).trim().replace(/\$\{(\w+)\}|\$__env\{(\w+)\}/g, (_m, a: string | undefined, b: string | undefined) => process.env[a ?? b ?? ''] ?? '');
    if (/^"(.*)"$/.test(value)) value = value.slice(1, -1);
    if (!into.has(section)) into.set(section, new Map());
    into.get(section)!.set(key, value);
  }
}

class Log {
  constructor(private readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
  }

  write(level: 'info' | 'warn' | 'error', logger: string, msg: string, extra = ''): void {
    const line = `logger=${logger} t=${new Date().toISOString()} level=${level} msg=${JSON.stringify(msg)}${extra ? ` ${extra}` : ''}\n`;
    try {
      appendFileSync(this.file, line);
    } catch {
      // A full disk must not take the server down.
    }
    process.stdout.write(line);
  }
}

interface Dashboard {
  id: number;
  uid: string;
  title: string;
  tags: string[];
  folder: string;
  file: string;
  json: unknown;
}

interface DataSource {
  id: number;
  uid: string;
  name: string;
  type: string;
  access: string;
  url: string;
  isDefault: boolean;
}

/** A provisioning file: YAML to Grafana; the JSON form of YAML to the simulator. */
function readProvisioning(file: string): Record<string, unknown> {
  const text = readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .filter((l) => !/^\s*#/.test(l))
    .join('\n');
  // A file of comments only (like the shipped samples) is an empty YAML document.
  if (text.trim() === '') return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new Error(
    `cannot read provisioning file ${file}: the simulated Grafana reads provisioning YAML written in its JSON form (as runbook's templates write it), with # comment lines`,
  );
}

function yamlFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(dir, f));
}

function jsonFilesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (name.endsWith('.json')) out.push(p);
    }
  };
  if (existsSync(dir) && statSync(dir).isDirectory()) walk(dir);
  return out;
}

function slug(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

function provision(home: string, provisioningDir: string, log: Log): { dashboards: Dashboard[]; datasources: DataSource[] } {
  const datasources: DataSource[] = [];
  for (const file of yamlFiles(join(provisioningDir, 'datasources'))) {
    const doc = readProvisioning(file);
    for (const d of (doc.datasources as Array<Record<string, unknown>> | undefined) ?? []) {
      if (typeof d.name !== 'string' || typeof d.type !== 'string') throw new Error(`data source in ${file} needs a name and a type`);
      datasources.push({
        id: datasources.length + 1,
        uid: typeof d.uid === 'string' ? d.uid : slug(d.name),
        name: d.name,
        type: d.type,
        access: typeof d.access === 'string' ? d.access : 'proxy',
        url: typeof d.url === 'string' ? d.url : '',
        isDefault: d.isDefault === true,
      });
      log.write('info', 'provisioning.datasources', 'inserting datasource from configuration', `name=${JSON.stringify(d.name)} uid=${datasources.at(-1)!.uid}`);
    }
  }

  const byUid = new Map<string, Dashboard>();
  for (const file of yamlFiles(join(provisioningDir, 'dashboards'))) {
    const doc = readProvisioning(file);
    for (const p of (doc.providers as Array<Record<string, unknown>> | undefined) ?? []) {
      const options = (p.options ?? {}) as Record<string, unknown>;
      if (typeof options.path !== 'string') throw new Error(`dashboard provider ${String(p.name)} in ${file} has no options.path`);
      const path = isAbsolute(options.path) ? options.path : resolve(home, options.path);
      if (!existsSync(path)) log.write('warn', 'provisioning.dashboard', 'Cannot read directory', `path=${path} error="no such file or directory"`);
      for (const f of jsonFilesUnder(path)) {
        let json: Record<string, unknown>;
        try {
          json = JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>;
        } catch (e) {
          log.write('error', 'provisioning.dashboard', 'failed to load dashboard from', `file=${f} error=${JSON.stringify(e instanceof Error ? e.message : String(e))}`);
          continue;
        }
        if (typeof json.title !== 'string' || json.title === '') {
          log.write('error', 'provisioning.dashboard', 'failed to load dashboard from', `file=${f} error="Dashboard title cannot be empty"`);
          continue;
        }
        const uid = typeof json.uid === 'string' && json.uid !== '' ? json.uid : slug(basename(f, '.json'));
        // Grafana keeps one dashboard per uid: a later file with the same uid replaces the earlier one.
        if (byUid.has(uid)) log.write('warn', 'provisioning.dashboard', 'dashboards provisioning provider has more than one dashboard with the same uid; the last one wins', `uid=${uid} file=${f}`);
        byUid.set(uid, {
          id: 0,
          uid,
          title: json.title,
          tags: Array.isArray(json.tags) ? json.tags.filter((t): t is string => typeof t === 'string') : [],
          folder: typeof p.folder === 'string' ? p.folder : '',
          file: f,
          json,
        });
      }
    }
  }
  const dashboards = [...byUid.values()].sort((a, b) => a.title.localeCompare(b.title));
  dashboards.forEach((d, i) => (d.id = i + 1));
  return { dashboards, datasources };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

function authorised(req: IncomingMessage, user: string, password: string): boolean {
  const h = req.headers.authorization ?? '';
  if (!h.startsWith('Basic ')) return false;
  const [u, ...rest] = Buffer.from(h.slice(6), 'base64').toString('utf8').split(':');
  return u === user && rest.join(':') === password;
}

function main(): void {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  }
  const home = args.homepath;
  const ini: Ini = new Map();
  const defaults = join(home, 'conf', 'defaults.ini');
  if (!existsSync(defaults)) {
    process.stderr.write(`Grafana-server Init Failed: Could not find config defaults, make sure homepath command line parameter is set or working directory is homepath (looked for ${defaults})\n`);
    process.exit(1);
  }
  readIni(defaults, ini);
  const custom = args.config ?? join(home, 'conf', 'custom.ini');
  if (args.config !== null && !existsSync(args.config)) {
    process.stderr.write(`Grafana-server Init Failed: Could not load config file ${args.config}: no such file\n`);
    process.exit(1);
  }
  if (existsSync(custom)) readIni(custom, ini);
  const get = (section: string, key: string, dflt: string): string => ini.get(section)?.get(key) ?? dflt;
  const under = (p: string): string => (isAbsolute(p) ? p : resolve(home, p));

  const dataDir = under(get('paths', 'data', 'data'));
  const log = new Log(join(under(get('paths', 'logs', 'data/log')), 'grafana.log'));
  const version = existsSync(join(home, 'VERSION')) ? readFileSync(join(home, 'VERSION'), 'utf8').trim() : 'unknown';
  log.write('info', 'settings', 'Starting Grafana', `version=${JSON.stringify(`${version} (${NOTICE})`)} commit=simulated`);
  log.write('info', 'settings', 'Config loaded from', `file=${defaults}`);
  if (existsSync(custom)) log.write('info', 'settings', 'Config overridden from', `file=${custom}`);
  mkdirSync(dataDir, { recursive: true });

  let provisioned: ReturnType<typeof provision>;
  try {
    provisioned = provision(home, under(get('paths', 'provisioning', 'conf/provisioning')), log);
  } catch (e) {
    log.write('error', 'server', 'Failed to provision', `error=${JSON.stringify(e instanceof Error ? e.message : String(e))}`);
    process.exit(1);
  }
  const { dashboards, datasources } = provisioned;
  const adminUser = get('security', 'admin_user', 'admin');
  const adminPassword = get('security', 'admin_password', 'admin');

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://grafana');
    if (req.method !== 'GET') return send(res, 405, { message: 'the simulated Grafana serves GET only' });
    if (url.pathname === '/api/health') return send(res, 200, { commit: 'simulated', database: 'ok', version });
    if (url.pathname === '/' || url.pathname === '/login') {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(`<!doctype html><title>Grafana</title><p>Grafana ${version} — ${NOTICE}.</p>\n`);
      return;
    }
    if (!url.pathname.startsWith('/api/')) return send(res, 404, { message: 'Not found' });
    if (!authorised(req, adminUser, adminPassword)) return send(res, 401, { message: 'Unauthorized' });
    if (url.pathname === '/api/search') {
      const q = (url.searchParams.get('query') ?? '').toLowerCase();
      const type = url.searchParams.get('type');
      if (type !== null && type !== 'dash-db') return send(res, 200, []);
      return send(
        res,
        200,
        dashboards
          .filter((d) => d.title.toLowerCase().includes(q))
          .map((d) => ({
            id: d.id,
            uid: d.uid,
            title: d.title,
            uri: `db/${slug(d.title)}`,
            url: `/d/${d.uid}/${slug(d.title)}`,
            slug: '',
            type: 'dash-db',
            tags: d.tags,
            isStarred: false,
            ...(d.folder ? { folderTitle: d.folder } : {}),
          })),
      );
    }
    if (url.pathname === '/api/datasources') return send(res, 200, datasources.map((d) => ({ ...d, orgId: 1, readOnly: true })));
    const byUid = /^\/api\/dashboards\/uid\/([^/]+)$/.exec(url.pathname);
    if (byUid) {
      const d = dashboards.find((x) => x.uid === decodeURIComponent(byUid[1]!));
      if (!d) return send(res, 404, { message: 'Dashboard not found' });
      return send(res, 200, { dashboard: d.json, meta: { provisioned: true, provisionedExternalId: basename(d.file), folderTitle: d.folder } });
    }
    return send(res, 404, { message: 'Not found' });
  });

  const host = get('server', 'http_addr', '');
  const port = Number(get('server', 'http_port', '3000'));
  server.once('error', (e: NodeJS.ErrnoException) => {
    log.write('error', 'server', 'Stopped Server', `reason=${JSON.stringify(`failed to open listener on address ${host}:${port}: ${e.message}`)}`);
    process.exit(1);
  });
  server.listen({ host: host === '' ? undefined : host, port, exclusive: true }, () => {
    if (args.pidfile !== null) writeFileSync(args.pidfile, `${process.pid}\n`);
    log.write('info', 'http.server', 'HTTP Server Listen', `address=${host === '' ? '[::]' : host}:${port} protocol=http`);
  });

  const stop = (sig: string): void => {
    log.write('info', 'server', 'Shutdown started', `reason="System signal: ${sig}"`);
    server.close();
    if (args.pidfile !== null) rmSync(args.pidfile, { force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('terminated'));
  process.on('SIGINT', () => stop('interrupt'));
}

main();
