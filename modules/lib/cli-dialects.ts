// What runbook knows about each product's own SQL client: how to call it, how
// its tables look, and which lines mean "the statement failed" even when the
// client exits 0 (IoTDB and TDengine both do that). The table formats come from
// the vendors' deployment documents in shared/product-docs; the fixtures in
// test/fixtures/cli-dialects are copied from them.

import { quote } from '../../engine/api.js';

export interface Table {
  columns: string[];
  /** One object per row, keyed by column header; cells are the client's text, trimmed. */
  rows: Array<Record<string, string>>;
}

export type DialectName = 'iotdb' | 'tdengine' | 'openmldb' | 'dolphindb';

export interface ClientOptions {
  home?: string | undefined;
  host?: string | undefined;
  port?: number | undefined;
  user?: string | undefined;
  /** Set when a password is given; the command then reads it from this variable. */
  passwordEnv?: string | undefined;
  zkCluster?: string | undefined;
  zkRootPath?: string | undefined;
  role?: 'sql_client' | 'ns_client' | undefined;
}

export interface ClientCall {
  /** The command line: secrets appear only as a shell variable reference. */
  command: string;
  /** Bytes for the client's standard input (OpenMLDB reads its statements there). */
  stdin?: string;
  /** The client's program name, for "not found" messages. */
  program: string;
}

export interface Dialect {
  name: DialectName;
  /** A product name for messages. */
  product: string;
  /** Why this dialect cannot run anything, when that is the case. */
  unsupported?: string;
  /** The remote command that runs one statement. */
  call(statement: string, o: ClientOptions): ClientCall;
  /** The client's own error text, if its output says the statement failed. */
  errorText(stdout: string, stderr: string, o: ClientOptions): string | undefined;
  /** The first table in the client's output (no columns and no rows when there is none). */
  parse(stdout: string): Table;
  /**
   * True when a failed call's output shows the server itself answered (it
   * rejected the statement), so cli-sql must not try the next endpoint with it.
   * Default: never sure, so any failure moves on.
   */
  answered?(stdout: string, stderr: string): boolean;
  /** True when the statement only reads (safe in check mode); default: isReadOnly. */
  readOnly?(statement: string): boolean;
}

const EMPTY: Table = { columns: [], rows: [] };

function lines(text: string): string[] {
  return text.replace(/\r\n?/g, '\n').split('\n');
}

function toRows(columns: string[], cells: string[][]): Array<Record<string, string>> {
  return cells.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i] ?? ''])));
}

/**
 * Cells of one line, cut at the given character positions of the column
 * separators. Cutting by position (not by splitting on `|`) keeps a `|` inside
 * a value; when a line does not line up with the border (wide characters, a
 * client that did not pad) it falls back to splitting.
 */
function cutAt(line: string, seps: number[], sepChar: string): string[] {
  const aligned = line.length === (seps.at(-1) ?? -1) + 1 && seps.every((p) => line[p] === sepChar);
  if (aligned) {
    const out: string[] = [];
    for (let i = 0; i + 1 < seps.length; i++) out.push(line.slice(seps[i]! + 1, seps[i + 1]).trim());
    return out;
  }
  const parts = line.trim().split(sepChar);
  return parts.slice(1, -1).map((p) => p.trim());
}

const BOX_BORDER = /^\+(?:-+\+)+$/;

/** `+----+----+` boxed tables: IoTDB's CLI, and OpenMLDB's for some statements. */
export function parseBoxed(stdout: string): Table {
  const ls = lines(stdout).map((l) => l.trimEnd());
  const start = ls.findIndex((l) => BOX_BORDER.test(l.trim()));
  if (start < 0) return EMPTY;
  const border = ls[start]!.trim();
  const seps = [...border].flatMap((ch, i) => (ch === '+' ? [i] : []));
  const indent = ls[start]!.indexOf('+');
  const body = (l: string) => l.slice(indent);
  const header = ls[start + 1];
  if (header === undefined || !header.trim().startsWith('|')) return EMPTY;
  const columns = cutAt(body(header), seps, '|');
  const cells: string[][] = [];
  let i = start + 2;
  // The border under the header; an empty result may have none and end here.
  if (ls[i] !== undefined && BOX_BORDER.test(ls[i]!.trim())) i++;
  for (; i < ls.length; i++) {
    const l = ls[i]!;
    if (!l.trim().startsWith('|')) break;
    cells.push(cutAt(body(l), seps, '|'));
  }
  return { columns, rows: toRows(columns, cells) };
}

/**
 * TDengine's `taos` tables: a `|`-separated header, a line of `=`, then
 * `|`-separated rows (each line usually ends with `|`) and `Query OK, N row(s)`.
 */
export function parsePiped(stdout: string): Table {
  const ls = lines(stdout);
  const rule = ls.findIndex((l) => /^=+$/.test(l.trim()));
  if (rule < 1) return EMPTY;
  const header = ls[rule - 1]!;
  if (!header.includes('|')) return EMPTY;
  const split = (l: string): string[] => {
    const parts = l.split('|').map((p) => p.trim());
    if (l.trim().endsWith('|')) parts.pop();
    return parts;
  };
  const columns = split(header);
  const cells: string[][] = [];
  for (let i = rule + 1; i < ls.length; i++) {
    const l = ls[i]!;
    if (!l.includes('|') || /^Query OK\b/.test(l.trim())) break;
    cells.push(split(l));
  }
  return { columns, rows: toRows(columns, cells) };
}

const DASH_RULE = /^-+(?: +-+)*$/;

/** Start positions of the runs of dashes in a rule line, and where each ends. */
function dashRuns(rule: string): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  for (const m of rule.matchAll(/-+/g)) runs.push([m.index, m.index + m[0].length]);
  return runs;
}

function cutRuns(line: string, runs: Array<[number, number]>): string[] {
  return runs.map(([s], i) => line.slice(s, i + 1 < runs.length ? runs[i + 1]![0] : undefined).trim());
}

/**
 * OpenMLDB's sql_client tables (see `show components` in the OpenMLDB doc):
 * a rule of dash runs, the header, the same rule, rows, the rule again, then
 * `N rows in set`. Columns are cut at the dash runs because values have spaces
 * ("2023-09-01 11:36:58").
 */
export function parseDashed(stdout: string): Table {
  const ls = lines(stdout);
  for (let i = 0; i + 2 < ls.length; i++) {
    const top = ls[i]!.trim();
    const mid = ls[i + 2]!;
    if (top === '' || !DASH_RULE.test(top) || mid.trim() !== top) continue;
    const runs = dashRuns(mid);
    const columns = cutRuns(ls[i + 1]!, runs);
    const cells: string[][] = [];
    for (let j = i + 3; j < ls.length; j++) {
      const l = ls[j]!;
      if (l.trim() === top || l.trim() === '') break;
      cells.push(cutRuns(l, runs));
    }
    return { columns, rows: toRows(columns, cells) };
  }
  return EMPTY;
}

/**
 * A header line followed by one unbroken line of dashes (OpenMLDB's ns_client,
 * e.g. `showtablet`). Columns start where the header's words start, so values
 * must not be wider than their column; anything else yields no rows.
 */
export function parseHeaderRule(stdout: string): Table {
  const ls = lines(stdout);
  for (let i = 1; i < ls.length; i++) {
    if (!/^-{3,}$/.test(ls[i]!.trim())) continue;
    const header = ls[i - 1]!;
    if (header.trim() === '') continue;
    const starts = [...header.matchAll(/\S+/g)].map((m) => m.index);
    const runs = starts.map((s, k): [number, number] => [s, starts[k + 1] ?? header.length]);
    const columns = cutRuns(header, runs);
    const cells: string[][] = [];
    for (let j = i + 1; j < ls.length; j++) {
      const l = ls[j]!;
      if (l.trim() === '' || /^-{3,}$/.test(l.trim())) break;
      cells.push(cutRuns(l, runs));
    }
    return { columns, rows: toRows(columns, cells) };
  }
  return EMPTY;
}

/** The first line of text that matches, trimmed. */
function firstMatch(text: string, re: RegExp): string | undefined {
  return lines(text)
    .map((l) => l.trim())
    .find((l) => re.test(l));
}

const join = (...parts: Array<string | undefined | false>): string => parts.filter(Boolean).join(' ');
const program = (home: string | undefined, rel: string, bare: string): string =>
  home ? quote(`${home.replace(/\/+$/, '')}/${rel}`) : bare;
const pwRef = (o: ClientOptions): string | undefined => o.passwordEnv && `"$${o.passwordEnv}"`;

export const iotdb: Dialect = {
  name: 'iotdb',
  product: 'IoTDB',
  call(statement, o) {
    const prog = program(o.home, 'sbin/start-cli.sh', 'start-cli.sh');
    const command = join(
      prog,
      o.host !== undefined && `-h ${quote(o.host)}`,
      o.port !== undefined && `-p ${quote(o.port)}`,
      o.user !== undefined && `-u ${quote(o.user)}`,
      o.passwordEnv !== undefined && `-pw ${pwRef(o)}`,
      `-e ${quote(statement)}`,
    );
    return { command, program: 'start-cli.sh' };
  },
  errorText(stdout, stderr) {
    // "Msg: The statement is executed successfully." is IoTDB's success line;
    // failures carry a status code: "Msg: 301: ...".
    const both = `${stdout}\n${stderr}`;
    return firstMatch(both, /^Msg: \d+/) ?? firstMatch(both, /^Connection Error\b/i);
  },
  // "Msg: 301: ..." carries the server's status code.
  answered: (stdout, stderr) => /^\s*Msg: \d+/m.test(`${stdout}\n${stderr}`),
  parse: parseBoxed,
};

export const tdengine: Dialect = {
  name: 'tdengine',
  product: 'TDengine',
  call(statement, o) {
    const prog = program(o.home, 'bin/taos', 'taos');
    const command = join(
      prog,
      o.host !== undefined && `-h ${quote(o.host)}`,
      o.port !== undefined && `-P ${quote(o.port)}`,
      o.user !== undefined && `-u ${quote(o.user)}`,
      // taos wants the password glued to -p; a bare -p would prompt for it.
      o.passwordEnv !== undefined && `-p${pwRef(o)}`,
      `-s ${quote(statement)}`,
    );
    return { command, program: 'taos' };
  },
  errorText(stdout, stderr) {
    const both = `${stdout}\n${stderr}`;
    return firstMatch(both, /^DB error:/) ?? firstMatch(both, /failed to connect|Unable to establish connection/i);
  },
  // taos says "DB error: Unable to establish connection" too; only other DB errors come from a server.
  answered: (stdout, stderr) => {
    const both = `${stdout}\n${stderr}`;
    return /^\s*DB error:/m.test(both) && !/failed to connect|Unable to establish connection|Unable to resolve FQDN/i.test(both);
  },
  parse: parsePiped,
};

export const openmldb: Dialect = {
  name: 'openmldb',
  product: 'OpenMLDB',
  call(statement, o) {
    const prog = program(o.home, 'bin/openmldb', 'openmldb');
    // Without zk_cluster the client talks to a standalone server at host:port.
    const target =
      o.zkCluster !== undefined
        ? [`--zk_cluster=${quote(o.zkCluster)}`, o.zkRootPath !== undefined && `--zk_root_path=${quote(o.zkRootPath)}`]
        : [o.host !== undefined && `--host=${quote(o.host)}`, o.port !== undefined && `--port=${quote(o.port)}`];
    const command = join(
      prog,
      ...target,
      o.user !== undefined && `--user=${quote(o.user)}`,
      o.passwordEnv !== undefined && `--password=${pwRef(o)}`,
      `--role=${o.role ?? 'sql_client'}`,
    );
    const stmt = statement.trimEnd();
    // sql_client statements end with `;`; ns_client commands (confset …) have none.
    const text = (o.role ?? 'sql_client') === 'sql_client' && !stmt.endsWith(';') ? `${stmt};` : stmt;
    return { command, stdin: `${text}\n`, program: 'openmldb' };
  },
  errorText(stdout, stderr, o) {
    const both = `${stdout}\n${stderr}`;
    const err = firstMatch(both, /^Error:/i);
    if (err !== undefined || o.role !== 'ns_client') return err;
    return firstMatch(both, /^(?:fail(?:ed)? to)\b/i);
  },
  parse(stdout) {
    for (const p of [parseBoxed, parseDashed, parseHeaderRule]) {
      const t = p(stdout);
      if (t.columns.length > 0) return t;
    }
    return EMPTY;
  },
};

/**
 * DolphinDB's console output as the server's terminal mode prints it: each
 * result on its own, separated by a blank line; a table is a header line, a
 * line of dash runs (one per column, one space apart) and its rows. Columns
 * are cut at the dash runs, so values with spaces stay whole. Without a table,
 * every non-empty line is a row `{ value }` (scalars such as `version()`).
 */
export function parseDolphinDB(stdout: string): Table {
  const ls = lines(stdout);
  for (let i = 1; i < ls.length; i++) {
    const rule = ls[i]!.trimEnd();
    if (!DASH_RULE.test(rule) || rule.startsWith(' ') || ls[i - 1]!.trim() === '') continue;
    const runs = dashRuns(rule);
    const columns = cutRuns(ls[i - 1]!, runs);
    const cells: string[][] = [];
    for (let j = i + 1; j < ls.length && ls[j]!.trim() !== ''; j++) cells.push(cutRuns(ls[j]!, runs));
    return { columns, rows: toRows(columns, cells) };
  }
  const values = ls.map((l) => l.trim()).filter((l) => l !== '');
  return values.length === 0 ? EMPTY : { columns: ['value'], rows: values.map((value) => ({ value })) };
}

/** DolphinDB functions that only read; a script of these (and login, use) is safe in check mode. */
const DOLPHINDB_READS =
  /^(?:login\s*\(.*\)|use\s+\w+|(?:version|getNodeAlias|getNodeType|getControllerAlias|getClusterPerf|getAllLicenses|getLicenseExpiration|existsDatabase|getDFSDatabases|getConfig)\s*\([^;]*\)|select\b.*)$/i;

export const dolphindb: Dialect = {
  name: 'dolphindb',
  product: 'DolphinDB',
  // The product's own binary in terminal mode: it needs nothing else on the
  // host, and the script goes on stdin, where a login line built on the host
  // from the password variable keeps the password out of every argv.
  call(statement, o) {
    const prog = program(o.home, 'dolphindb', 'dolphindb');
    const client = join(prog, o.host !== undefined && `-remoteHost ${quote(o.host)}`, o.port !== undefined && `-remotePort ${quote(o.port)}`);
    const stdin = `${statement.trimEnd()}\n`;
    if (o.passwordEnv === undefined) return { command: client, stdin, program: 'dolphindb' };
    const user = o.user ?? 'admin';
    if (/["\\\n]/.test(user)) {
      return { command: `echo ${quote('runbook: the DolphinDB user name contains a double quote, a backslash or a line break, which cannot go into login("user", "password")')} >&2; exit 2`, stdin, program: 'dolphindb' };
    }
    const pw = `"$${o.passwordEnv}"`;
    const refuse = quote(
      'runbook: the DolphinDB password contains a double quote, a backslash or a line break, which runbook does not put into the login("user", "password") line; change the password or run the script another way',
    );
    // printf is a shell builtin: the password is expanded inside the shell and written to the pipe, never to an argument list.
    const command = `case ${pw} in *'"'*|*'\\'*|*'\n'*) echo ${refuse} >&2; exit 2;; esac; { printf 'login("%s", "%s")\\n' ${quote(user)} ${pw}; cat; } | ${client}`;
    return { command, stdin, program: 'dolphindb' };
  },
  errorText(stdout, stderr) {
    const both = `${stdout}\n${stderr}`;
    return firstMatch(both, /^Server response:/) ?? firstMatch(both, /^Failed to connect to /) ?? firstMatch(both, /^runbook: the DolphinDB /);
  },
  answered: (stdout, stderr) => /^\s*Server response:/m.test(`${stdout}\n${stderr}`),
  parse: parseDolphinDB,
  readOnly(statement) {
    const parts = statement
      .split(/[;\n]/)
      .map((p) => p.trim())
      .filter((p) => p !== '' && !p.startsWith('//'));
    return parts.length > 0 && parts.every((p) => DOLPHINDB_READS.test(p));
  },
};

export const dialects: Record<DialectName, Dialect> = { iotdb, tdengine, openmldb, dolphindb };

/** True for statements that only read (show, select, …): they are safe to run in check mode. */
export function isReadOnly(statement: string): boolean {
  return /^\s*(?:show|select|desc|describe|explain|list|count|help|showtablet|showns|showopstatus|gettablepartition|confget)\b/i.test(statement);
}
