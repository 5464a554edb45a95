// The simulator's wire protocol on sim-common's JSON-line mechanism: a fresh
// connection per call, so a stopped node refuses the next connect as a stopped
// IoTDB refuses Thrift connections. IoTDB's side: its limits, its error
// replies (with a code) and the wording of failed calls.

import { createServer, type Server } from 'node:net';
import { callLine, failureAt, serveLines, type LineRules, type SocketReasons, type Message } from '../../sim-common/rpc.js';

export { CallError } from '../../sim-common/rpc.js';
export type { Json, Message } from '../../sim-common/rpc.js';

export type Handler = (req: Message) => Promise<Message>;

const LINES: LineRules = { maxLine: 4 * 1024 * 1024, unterminatedAtEnd: true };

/** Listen on host:port; rejects with the bind error (EADDRINUSE, EADDRNOTAVAIL…). */
export function serve(host: string, port: number, handler: Handler): Promise<Server> {
  return serveLines({ ...LINES, host, port, exclusive: true, idleMs: 30_000, failureReply: (code, message) => ({ ok: false, code, message }) }, handler);
}

/** Bind and release at once: null when the port is free right now, else the bind error. */
export function probePort(host: string, port: number): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e));
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(null)));
  });
}

const unknownHost = (err: NodeJS.ErrnoException): string => `Unknown host (${err.message})`;

const REASONS: SocketReasons = {
  ECONNREFUSED: 'Connection refused',
  EHOSTUNREACH: 'No route to host',
  ENOTFOUND: unknownHost,
  EAI_AGAIN: unknownHost,
  ETIMEDOUT: 'Connection timed out',
};

export function call(host: string, port: number, req: Message, timeoutMs: number): Promise<Message> {
  return callLine(host, port, req, { ...LINES, timeoutMs, failure: failureAt(host, port, timeoutMs, REASONS) });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

export interface Endpoint {
  host: string;
  port: number;
}

export function parseEndpoint(text: string): Endpoint | null {
  const m = /^\s*(\[[^\]]+\]|[^:\s]+):(\d{1,5})\s*$/.exec(text);
  if (!m) return null;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return null;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

export function formatEndpoint(e: Endpoint): string {
  return `${e.host}:${e.port}`;
}
