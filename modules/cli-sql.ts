// cli-sql: run statements through a product's own command-line client on the
// target (IoTDB start-cli.sh, TDengine taos, OpenMLDB openmldb, DolphinDB's
// dolphindb in terminal mode) and turn its
// table output into rows. How each client is called and how its tables look
// lives in lib/cli-dialects.ts.

import { z } from 'zod';
import { changed, defineModule, failed, ok, reveal, Secret, secretArg, skipped, type ModuleContext, type ModuleResult } from '../engine/api.js';
import { dialects, isReadOnly, type ClientOptions, type Dialect, type Table } from './lib/cli-dialects.js';

/** The variable the remote shell expands into the client's password flag; the value never enters the command text. */
const PASSWORD_ENV = 'RUNBOOK_PW';

const cell = z.union([z.string(), z.number(), z.boolean()]);

const schema = z
  .object({
    dialect: z.enum(['iotdb', 'tdengine', 'openmldb', 'dolphindb']).describe('Which product\'s client to use. dolphindb runs `<home>/dolphindb -remoteHost <host> -remotePort <port>` with the script on stdin, after a login line built on the host from the password.'),
    statements: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .describe('One statement, or a list run in order (one client call each); the first failure stops the rest. A DolphinDB statement may be a whole script (lines or `;`), run in one session, e.g. "use ops; getAllLicenses()".'),
    host: z.string().optional().describe("Server address given to the client (default: the client's own default, e.g. 127.0.0.1 for IoTDB, taos.cfg's firstEp for TDengine)."),
    port: z.coerce.number().int().min(1).max(65535).optional().describe('Server port given to the client (IoTDB -p, TDengine -P, OpenMLDB standalone --port, DolphinDB -remotePort).'),
    endpoints: z
      .array(z.string().regex(/^[^\s:]+:\d+$/, 'host:port'))
      .min(1)
      .optional()
      .describe('Servers to try in order, as host:port, instead of host and port; the first that answers the first statement is used (as iotdbctl asks each DataNode in turn).'),
    user: z.string().optional().describe('User name given to the client (DolphinDB: in the login line; default admin when a password is given).'),
    password: secretArg()
      .optional()
      .describe('Password; passed through an environment variable the remote shell expands, so it is never in the command text, and masked in all output.'),
    home: z.string().optional().describe("The product's install folder on the target; without it the client is looked up on PATH."),
    zk_cluster: z.string().optional().describe('OpenMLDB: ZooKeeper endpoints (--zk_cluster); without it the client connects to a standalone server at host:port.'),
    zk_root_path: z.string().optional().describe('OpenMLDB: ZooKeeper root path (--zk_root_path), e.g. /openmldb.'),
    role: z.enum(['sql_client', 'ns_client']).optional().describe('OpenMLDB: sql_client (SQL, the default) or ns_client (nameserver commands such as confset auto_failover true).'),
    expect: z
      .object({
        all: z.record(z.string(), cell).optional().describe('Every row of the last statement\'s result must have these column values, e.g. {Status: Running}.'),
        rows: z.number().int().min(0).optional().describe('The last statement must return exactly this many rows.'),
      })
      .strict()
      .optional()
      .describe('Conditions on the last statement\'s rows; the task fails, naming the first row that breaks them.'),
    timeout: z.coerce.number().positive().default(120).describe('Seconds each client call may take.'),
    login_shell: z.boolean().optional().describe('Run the client in a login shell (for JAVA_HOME/PATH set in the profile; IoTDB\'s CLI needs java).'),
  })
  .strict()
  .refine((a) => a.endpoints === undefined || (a.host === undefined && a.port === undefined), { message: 'give endpoints, or host and port, not both' })
  .refine((a) => a.dialect === 'openmldb' || (a.zk_cluster === undefined && a.zk_root_path === undefined && a.role === undefined), {
    message: 'zk_cluster, zk_root_path and role are OpenMLDB settings',
  });

type Args = z.output<typeof schema>;

function withEndpoint(o: ClientOptions, endpoint: string | undefined): ClientOptions {
  if (endpoint === undefined) return o;
  const at = endpoint.lastIndexOf(':');
  return { ...o, host: endpoint.slice(0, at), port: Number(endpoint.slice(at + 1)) };
}

interface StatementResult extends Table {
  statement: string;
  stdout: string;
  stderr: string;
  rc: number | null;
}

const lastLine = (text: string): string =>
  text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .at(-1) ?? '';

const shortStmt = (s: string): string => {
  const one = s.replace(/\s+/g, ' ').trim();
  return JSON.stringify(one.length > 80 ? `${one.slice(0, 77)}…` : one);
};

/** Why the expectation fails, or undefined when it holds. */
function checkExpect(t: Table, e: NonNullable<Args['expect']>): string | undefined {
  if (e.rows !== undefined && t.rows.length !== e.rows) return `expected ${e.rows} rows, got ${t.rows.length}`;
  const all = Object.entries(e.all ?? {});
  if (all.length === 0) return undefined;
  const missing = all.map(([k]) => k).filter((k) => !t.columns.includes(k));
  if (missing.length > 0) return `no column ${missing.join(', ')} in the output (columns: ${t.columns.join(', ') || 'none'})`;
  if (t.rows.length === 0) return `no rows to check ${all.map(([k, v]) => `${k}=${v}`).join(', ')} against`;
  const bad = t.rows.filter((r) => all.some(([k, v]) => r[k] !== String(v)));
  if (bad.length === 0) return undefined;
  const first = bad[0]!;
  const key = t.columns[0]!;
  const diffs = all.filter(([k, v]) => first[k] !== String(v)).map(([k]) => `${k}=${first[k] === '' ? '""' : first[k]}`);
  const want = all.map(([k, v]) => `${k}=${v}`).join(', ');
  return `${bad.length} of ${t.rows.length} rows do not have ${want}: first is ${key}=${first[key]} with ${diffs.join(', ')}`;
}

/** Failures where the client never reached the server: only these move on to the next endpoint. */
const unreached = new WeakSet<ModuleResult>();

async function runOne(ctx: ModuleContext, d: Dialect, stmt: string, o: ClientOptions, a: Args, env: Record<string, string> | undefined): Promise<StatementResult | ModuleResult> {
  const call = d.call(stmt, o);
  const r = await ctx.exec(call.command, { env, stdin: call.stdin, loginShell: a.login_shell, timeoutMs: Math.round(a.timeout * 1000) });
  const out = { statement: stmt, stdout: ctx.mask(r.stdout), stderr: ctx.mask(r.stderr), rc: r.exitCode };
  const say = (why: string, reached = true) => {
    const res = failed(ctx.mask(why), { ...out, rows: [], columns: [] });
    if (!reached) unreached.add(res);
    return res;
  };
  if (r.timedOut) return say(`${d.product} client timed out after ${a.timeout} s on ${shortStmt(stmt)}`, false);
  if (r.exitCode === 127) {
    const hint = a.home === undefined ? `set home to the ${d.product} install folder` : `check home (${a.home})`;
    return say(`${call.program} not found on ${ctx.host.name} (exit 127: ${lastLine(r.stderr)}); ${hint}`);
  }
  // Without the dialect's word that the server answered, any failure may mean it was not reached.
  const reached = d.answered?.(r.stdout, r.stderr) ?? false;
  const err = d.errorText(r.stdout, r.stderr, o);
  if (err !== undefined) return say(`${d.product} rejected ${shortStmt(stmt)}: ${err}`, reached);
  if (r.exitCode !== 0) {
    const why = lastLine(r.stderr) || lastLine(r.stdout) || 'no output';
    return say(`${d.product} client exited with ${r.exitCode ?? r.signal} on ${shortStmt(stmt)}: ${why}`, reached);
  }
  const t = d.parse(r.stdout);
  return { ...out, columns: t.columns, rows: t.rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, ctx.mask(v)]))) };
}

export default defineModule({
  name: 'cli-sql',
  description: "Run SQL through a product's own CLI on the target (IoTDB, TDengine, OpenMLDB, DolphinDB) and parse its tables into rows.",
  schema,
  examples: [
    {
      title: 'Check that every IoTDB node is Running',
      yaml: `- cli-sql:
    dialect: iotdb
    home: /opt/iotdb
    host: "{{ dn_rpc_address }}"
    password: "{{ iotdb_password }}"
    statements: show cluster
    expect: { all: { Status: Running } }
  retries: 10
  delay: 3`,
    },
    {
      title: 'Add a TDengine dnode, then list them',
      yaml: `- cli-sql:
    dialect: tdengine
    statements: ['create dnode "h2.taosdata.com:6030"', 'show dnodes']
  register: dnodes`,
    },
    {
      title: 'Start DolphinDB data nodes through the controller, then list the cluster',
      yaml: `- cli-sql:
    dialect: dolphindb
    home: /DolphinDB/server
    host: 10.0.0.80
    port: 8900
    user: admin
    password: "{{ dolphindb_password }}"
    statements: ['startDataNode(["P1-datanode", "P2-datanode"])', 'getClusterPerf()']
  register: perf`,
    },
    {
      title: 'Turn on OpenMLDB auto failover through the nameserver client',
      yaml: `- cli-sql:
    dialect: openmldb
    home: /work/openmldb
    zk_cluster: 172.27.2.52:12200
    zk_root_path: /openmldb
    role: ns_client
    statements: confset auto_failover true`,
    },
  ],
  async run(ctx, a) {
    const d = dialects[a.dialect];
    if (d.unsupported !== undefined) return failed(d.unsupported);

    const statements = typeof a.statements === 'string' ? [a.statements] : a.statements;
    const readOnly = statements.every((s) => (d.readOnly ? d.readOnly(s) : isReadOnly(s)));
    if (ctx.check && !readOnly) {
      const n = statements.length;
      return skipped(ctx.mask(`would run ${n} statement${n === 1 ? '' : 's'} with the ${d.product} client, starting with ${shortStmt(statements[0]!)}`));
    }

    // A password given as plain text is a secret all the same: wrapping it
    // registers it with the masker, so no output or message can show it.
    const password = a.password === undefined ? undefined : a.password instanceof Secret ? a.password : new Secret(a.password, 'cli-sql password');
    const env = password === undefined ? undefined : { [PASSWORD_ENV]: reveal(password) };
    const o: ClientOptions = {
      home: a.home,
      host: a.host,
      port: a.port,
      user: a.user,
      passwordEnv: password === undefined ? undefined : PASSWORD_ENV,
      zkCluster: a.zk_cluster,
      zkRootPath: a.zk_root_path,
      role: a.role,
    };

    const results: StatementResult[] = [];
    const endpoints = a.endpoints ?? [undefined];
    let answered: string | undefined;
    const tried: string[] = [];
    for (const [i, stmt] of statements.entries()) {
      let r = await runOne(ctx, d, stmt, i === 0 ? withEndpoint(o, endpoints[0]) : o, a, env);
      // The first statement picks the server: the first endpoint that answers it.
      // A server that answered with an error has answered: "Dnode already exists"
      // must not be sent again to every other server.
      for (let e = 1; i === 0 && 'status' in r && unreached.has(r) && e < endpoints.length; e++) {
        tried.push(`${endpoints[e - 1]}: ${r.msg.split('\n')[0]}`);
        r = await runOne(ctx, d, stmt, withEndpoint(o, endpoints[e]), a, env);
        if (!('status' in r)) {
          Object.assign(o, withEndpoint(o, endpoints[e]));
          answered = endpoints[e];
        }
      }
      if (i === 0 && !('status' in r) && answered === undefined) {
        Object.assign(o, withEndpoint(o, endpoints[0]));
        answered = endpoints[0];
      }
      if ('status' in r) {
        if (tried.length && unreached.has(r)) r = { ...r, msg: `no server answered; ${[...tried, `${endpoints.at(-1)}: ${r.msg.split('\n')[0]}`].join('; ')}` };
        else if (tried.length) r = { ...r, msg: `${r.msg} (after ${tried.length} that did not answer: ${tried.join('; ')})` };
        if (statements.length === 1) return r;
        const msg = `statement ${i + 1} of ${statements.length}: ${r.msg}`;
        return { ...r, msg, data: { results: [...results, r.data] } };
      }
      results.push(r);
    }

    const last = results.at(-1)!;
    const data: Record<string, unknown> =
      results.length === 1 ? { rows: last.rows, columns: last.columns, stdout: last.stdout, stderr: last.stderr, rc: last.rc } : { results };
    if (answered !== undefined) data['endpoint'] = answered;
    if (a.expect !== undefined) {
      const why = checkExpect(last, a.expect);
      if (why !== undefined) return failed(ctx.mask(`${shortStmt(last.statement)}: ${why}`), data);
    }
    const rows = `${last.rows.length} row${last.rows.length === 1 ? '' : 's'}`;
    const held = a.expect?.all ? `; all have ${Object.entries(a.expect.all).map(([k, v]) => `${k}=${v}`).join(', ')}` : '';
    if (readOnly) return ok(ctx.mask(`${shortStmt(last.statement)} returned ${rows}${held}`), data);
    const n = statements.length;
    return changed(ctx.mask(`ran ${n} statement${n === 1 ? '' : 's'} with the ${d.product} client; the last returned ${rows}${held}`), data);
  },
});
