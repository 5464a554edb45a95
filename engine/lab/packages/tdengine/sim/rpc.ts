// The simulator's wire protocol on serverPort, on sim-common's JSON-line
// mechanism (one request line, one reply line, a connection per call). Real
// TDengine speaks its own RPC on 6030 to dnodes and clients alike; one port
// for both is kept, so a firewall or a wrong serverPort breaks the simulated
// cluster the same way.

import type { Server } from 'node:net';
import { callLine, failureAt, serveLines, type LineHandler, type LineRules, type Message, type SocketReasons } from '../../sim-common/rpc.js';

export { CallError } from '../../sim-common/rpc.js';
export type { Json, Message } from '../../sim-common/rpc.js';
export type Handler = LineHandler;

const LINES: LineRules = { maxLine: 1024 * 1024, unterminatedAtEnd: true };

/** Listen on host:port; rejects with the bind error (EADDRINUSE, …). */
export function serve(host: string, port: number, handler: Handler): Promise<Server> {
  return serveLines({ ...LINES, host, port, exclusive: true, idleMs: 30_000, failureReply: (code, message) => ({ ok: false, code, message }) }, handler);
}

const REASONS: SocketReasons = {
  ECONNREFUSED: 'Connection refused',
  EHOSTUNREACH: 'No route to host',
  ENOTFOUND: 'Unable to resolve FQDN',
  EAI_AGAIN: 'Unable to resolve FQDN',
  ETIMEDOUT: 'Connection timed out',
};

export function call(host: string, port: number, req: Message, timeoutMs: number): Promise<Message> {
  return callLine(host, port, req, { ...LINES, timeoutMs, failure: failureAt(host, port, timeoutMs, REASONS) });
}

export interface Endpoint {
  fqdn: string;
  port: number;
}

export function parseEndpoint(text: string, defaultPort?: number): Endpoint | null {
  const t = text.trim();
  const m = /^([^:\s]+)(?::(\d{1,5}))?$/.exec(t);
  if (!m) return null;
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port === undefined || port < 1 || port > 65535) return null;
  return { fqdn: m[1]!, port };
}

export const epText = (e: Endpoint): string => `${e.fqdn}:${e.port}`;
