// Time-series data in the simulated IoTDB: enough of `insert into` and
// `select … from` for a test to write rows on one instance and read them on
// another, and the write log that pipes (pipes.ts) transfer from.
//
// Where the data lives: IoTDB keeps data in the DataNodes' data regions; the
// simulator keeps, per DataNode, an append-only log of the writes that
// DataNode accepted, in the replicated ClusterState.extensions on the
// ConfigNodes (key `data:dn<NodeID>`). Only that DataNode's process writes its
// key, so two DataNodes never overwrite each other's rows, and any DataNode
// can answer a `select` by merging every DataNode's log. Each write remembers
// whether it arrived through a pipe, which is what
// 'source.forwarding-pipe-requests' looks at.
//
// What is left out: databases and schemas (paths are created on first write,
// as IoTDB's auto-create does), aggregations, `where`, `delete`. Statement
// text reaches the simulator with whitespace collapsed (statements.ts
// normalise()), so runs of spaces inside quoted text become one space.

import type { Json, Message } from './rpc.js';
import { StatementError, type StatementContext, type StatementHandler, type StatementResult } from './statements.js';

export type Value = number | string | boolean;

/** Where a row came from when a pipe wrote it: the sending pipe and its cluster. */
export interface PipeOrigin {
  pipe: string;
  clusterId: string;
}

export interface WriteEvent {
  /** Position in the accepting DataNode's log, from 1. */
  seq: number;
  /** When the DataNode accepted it (ms); orders writes of different DataNodes for last-write-wins. */
  at: number;
  device: string;
  time: number;
  values: Record<string, Value>;
  /** null for a client's write; set when a pipe receiver wrote it. */
  origin: PipeOrigin | null;
}

interface WriteLog {
  next: number;
  events: WriteEvent[];
}

export const dataKey = (dataNodeId: number): string => `data:dn${dataNodeId}`;

/**
 * The replicated key/value store of ClusterState.extensions, through whatever
 * reaches a ConfigNode: a statement's ctx.askConfigNode, or the pipe agent's
 * own client.
 */
export class ClusterStore {
  constructor(private readonly ask: (req: Message) => Promise<Message>) {}

  async get(key: string): Promise<Json> {
    const resp = await this.ask({ op: 'getExtension', key });
    if (resp.ok !== true) throw new StatementError(1000, `Failed to read ${key} from the ConfigNodes: ${String(resp.message ?? resp.code)}`);
    return resp.value ?? null;
  }

  async set(key: string, value: Json): Promise<void> {
    const resp = await this.ask({ op: 'setExtension', key, value });
    if (resp.ok !== true) throw new StatementError(1000, `Failed to write ${key} through the ConfigNode-leader: ${String(resp.message ?? resp.code)}`);
  }
}

export function storeOf(ctx: StatementContext): ClusterStore {
  return new ClusterStore((req) => ctx.askConfigNode(req));
}

/**
 * One writer at a time per key inside this process: a read-modify-write of a
 * replicated key must not interleave with another (a client's insert and a
 * pipe receiver's, or two pipe progress updates).
 */
const chains = new Map<string, Promise<unknown>>();

export function serialised<T>(key: string, work: () => Promise<T>): Promise<T> {
  const before = chains.get(key) ?? Promise.resolve();
  const run = before.then(work, work);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  chains.set(key, settled);
  void settled.then(() => {
    if (chains.get(key) === settled) chains.delete(key);
  });
  return run;
}

function asLog(v: Json): WriteLog {
  if (v && typeof v === 'object' && !Array.isArray(v) && Array.isArray(v.events) && typeof v.next === 'number') {
    return v as unknown as WriteLog;
  }
  return { next: 1, events: [] };
}

export async function readWrites(store: ClusterStore, dataNodeId: number): Promise<WriteEvent[]> {
  return asLog(await store.get(dataKey(dataNodeId))).events;
}

export type NewWrite = Omit<WriteEvent, 'seq' | 'at'>;

/** Called after every stored write (the pipe agent sends it at once instead of at its next round). */
const writeListeners = new Set<() => void>();

export function onWrites(listener: () => void): void {
  writeListeners.add(listener);
}

/** Append writes to this DataNode's log; returns them with their sequence numbers. */
export function appendWrites(store: ClusterStore, dataNodeId: number, writes: NewWrite[]): Promise<WriteEvent[]> {
  const key = dataKey(dataNodeId);
  return serialised(key, async () => {
    const log = asLog(await store.get(key));
    const at = Date.now();
    const added = writes.map((w, i) => ({ ...w, seq: log.next + i, at }));
    const next: WriteLog = { next: log.next + added.length, events: [...log.events, ...added] };
    await store.set(key, next as unknown as Json);
    for (const l of writeListeners) l();
    return added;
  });
}

// ---------------------------------------------------------------------------
// Parsing

const IDENT = /^(?:[A-Za-z_][A-Za-z0-9_]*|`[^`]+`|[0-9]+)$/;

/** A device path such as root.dual.d1: `root` and at least one more node. */
export function checkDevice(path: string): string {
  const nodes = path.split('.');
  if (nodes[0]?.toLowerCase() !== 'root' || nodes.length < 2 || !nodes.slice(1).every((n) => IDENT.test(n))) {
    throw new StatementError(700, `Error occurred while parsing SQL to physical plan: ${path} is not a legal path, because a path starts with root and its nodes are names (e.g. root.sg.d1)`);
  }
  return ['root', ...nodes.slice(1)].join('.');
}

/** Split on commas outside quotes and parentheses. */
export function splitTopLevel(text: string, sep = ','): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  let depth = 0;
  for (const c of text) {
    if (quote) {
      if (c === quote) quote = null;
      cur += c;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    if (c === sep && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  if (quote) throw new StatementError(700, `Error occurred while parsing SQL to physical plan: unterminated quote ${quote} in ${text}`);
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

function parseValue(text: string): Value | null {
  const t = text.trim();
  if (/^'.*'$/s.test(t) || /^".*"$/s.test(t)) return t.slice(1, -1);
  if (/^null$/i.test(t)) return null;
  if (/^true$/i.test(t)) return true;
  if (/^false$/i.test(t)) return false;
  if (/^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i.test(t)) return Number(t);
  throw new StatementError(700, `Error occurred while parsing SQL to physical plan: ${t} is not a value (numbers, true/false, or text in quotes)`);
}

function parseTime(text: string, now: number): number {
  const t = text.trim();
  if (/^now\(\)$/i.test(t)) return now;
  if (/^[+-]?\d+$/.test(t)) return Number(t);
  throw new StatementError(700, `Error occurred while parsing SQL to physical plan: the timestamp ${t} is not a whole number of milliseconds or now()`);
}

/** The parenthesised groups of a VALUES clause: `(1, 2), (3, 4)`. */
function valueGroups(text: string): string[] {
  const groups = splitTopLevel(text);
  return groups.map((g) => {
    const m = /^\((.*)\)$/s.exec(g.trim());
    if (!m) throw new StatementError(700, `Error occurred while parsing SQL to physical plan: expected (value, …) after VALUES, not ${g}`);
    return m[1]!;
  });
}

export function parseInsert(m: RegExpMatchArray, now = Date.now()): NewWrite[] {
  const device = checkDevice(m[1]!);
  const columns = splitTopLevel(m[2]!).map((c) => c.replace(/^`|`$/g, ''));
  if (columns.length === 0) throw new StatementError(700, 'Error occurred while parsing SQL to physical plan: INSERT needs at least one measurement');
  const timed = /^(time|timestamp)$/i.test(columns[0]!);
  const measurements = timed ? columns.slice(1) : columns;
  if (measurements.length === 0) throw new StatementError(701, 'InsertStatement should contain at least one measurement besides the time');
  for (const s of measurements) {
    if (!IDENT.test(s) || /^(time|timestamp)$/i.test(s)) throw new StatementError(700, `Error occurred while parsing SQL to physical plan: ${s} is not a legal measurement name`);
  }
  return valueGroups(m[3]!).map((group) => {
    const cells = splitTopLevel(group);
    if (cells.length !== columns.length) {
      throw new StatementError(701, `the measurementList's size ${measurements.length} is not consistent with the valueList's size ${cells.length - (timed ? 1 : 0)}`);
    }
    const values: Record<string, Value> = {};
    measurements.forEach((s, i) => {
      const v = parseValue(cells[i + (timed ? 1 : 0)]!);
      if (v !== null) values[s] = v;
    });
    return { device, time: timed ? parseTime(cells[0]!, now) : now, values, origin: null };
  });
}

// ---------------------------------------------------------------------------
// Reading

/** Rows of one device: time → measurement → value, the last write of each cell winning. */
async function deviceRows(ctx: StatementContext, device: string): Promise<Map<number, Record<string, Value>>> {
  const view = await ctx.cluster();
  const store = storeOf(ctx);
  const writes: Array<WriteEvent & { dn: number }> = [];
  for (const n of view.nodes) {
    if (n.type !== 'DataNode') continue;
    for (const w of await readWrites(store, n.id)) if (w.device === device) writes.push({ ...w, dn: n.id });
  }
  writes.sort((a, b) => a.at - b.at || a.dn - b.dn || a.seq - b.seq);
  const rows = new Map<number, Record<string, Value>>();
  for (const w of writes) rows.set(w.time, { ...(rows.get(w.time) ?? {}), ...w.values });
  return rows;
}

function pad(n: number, width = 2): string {
  return String(Math.abs(n)).padStart(width, '0');
}

/** The CLI's default time format: ISO 8601 in the server's zone, with milliseconds and offset. */
export function isoTime(ms: number): string {
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}` +
    `${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`
  );
}

async function select(ctx: StatementContext, what: string, from: string): Promise<StatementResult> {
  const device = checkDevice(from);
  const rows = await deviceRows(ctx, device);
  const seen = new Set<string>();
  for (const r of rows.values()) for (const k of Object.keys(r)) seen.add(k);
  const asked = what.trim() === '*' ? [...seen].sort() : splitTopLevel(what).map((c) => c.replace(/^`|`$/g, ''));
  for (const c of asked) {
    if (!IDENT.test(c)) throw new StatementError(700, `Error occurred while parsing SQL to physical plan: ${c} is not a measurement name (the simulator supports plain columns and *)`);
  }
  // IoTDB leaves out columns of series that do not exist, and rows with no value in any asked column.
  const columns = asked.filter((c) => seen.has(c));
  const times = [...rows.keys()].sort((a, b) => a - b).filter((t) => columns.some((c) => rows.get(t)![c] !== undefined));
  return {
    kind: 'table',
    headers: ['Time', ...columns.map((c) => `${device}.${c}`)],
    rows: times.map((t) => [isoTime(t), ...columns.map((c) => (rows.get(t)![c] === undefined ? 'null' : String(rows.get(t)![c])))]),
  };
}

export const DATA_STATEMENTS: StatementHandler[] = [
  {
    syntax: 'INSERT INTO <device>([TIME|TIMESTAMP, ]<measurement>, …) VALUES(<value>, …)[, (…)]',
    match: /^insert\s+into\s+(\S+?)\s*\(([^)]*)\)\s*values\s*(\(.*\))$/i,
    async run(ctx, m) {
      const writes = parseInsert(m);
      await appendWrites(storeOf(ctx), ctx.nodeId, writes);
      return { kind: 'ok' };
    },
  },
  {
    syntax: 'SELECT <measurement>, … | * FROM <device>',
    match: /^select\s+(.+?)\s+from\s+(\S+)$/i,
    run: (ctx, m) => select(ctx, m[1]!, m[2]!),
  },
];
