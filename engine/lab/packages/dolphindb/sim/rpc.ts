// The simulator's wire protocol, on sim-common's JSON-line mechanism: one
// JSON request line, one JSON reply line, then the connection closes. It runs
// on each process's localSite port, the one port a real DolphinDB node
// listens on for its peers, its clients and the terminal-mode `dolphindb
// -remoteHost`, so a wrong port or a firewall breaks the simulated cluster the
// same way.

import type { Server } from 'node:net';
import { callLine, CallError, serveLines, socketReason, type LineRules, type Message } from '../../sim-common/rpc.js';

export { CallError } from '../../sim-common/rpc.js';
export type { Json, Message } from '../../sim-common/rpc.js';
export type Handler = (req: Message) => Promise<Message>;

const LINES: LineRules = { maxLine: 16 * 1024 * 1024, unterminatedAtEnd: true };

/** Listen on all addresses; rejects with the bind error (EADDRINUSE, …). */
export function serve(port: number, handler: Handler): Promise<Server> {
  return serveLines({ ...LINES, port, exclusive: true, idleMs: 60_000, failureReply: (_code, message) => ({ ok: false, message }) }, handler);
}

const REASONS = {
  ECONNREFUSED: 'Connection refused',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  ENOTFOUND: 'Unknown host',
  EAI_AGAIN: 'Unknown host',
  ETIMEDOUT: 'Connection timed out',
};

export function call(host: string, port: number, req: Message, timeoutMs = 10_000): Promise<Message> {
  return callLine(host, port, req, {
    ...LINES,
    timeoutMs,
    failure: (f) => {
      switch (f.kind) {
        case 'timeout':
          return new CallError(`Connection timed out after ${timeoutMs} ms`);
        case 'socket':
          return new CallError(socketReason(f.error, REASONS));
        case 'no-reply':
          return new CallError(f.reason);
        case 'malformed':
          return new CallError('malformed reply');
      }
    },
  });
}
