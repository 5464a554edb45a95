// How the simulated servers talk to each other and to the clients: one JSON
// request line, one JSON reply line (sim-common's mechanism), on the
// component's own endpoint (where OpenMLDB speaks brpc). A connection per
// call, so a stopped server is noticed at the next call the way a refused
// brpc connection is.

import type { Server } from 'node:net';
import { callLine, serveLines, type LineRules, type Message } from '../../sim-common/rpc.js';

export type { Json, Message } from '../../sim-common/rpc.js';
export type Handler = (req: Message) => Promise<Message>;

export class RpcError extends Error {}

// A line the peer ends unterminated is no request and no reply.
const LINES: LineRules = { maxLine: 1 << 22, unterminatedAtEnd: false };

/** Listen on host:port; rejects with the bind error (EADDRINUSE …) so the server can report it. */
export function serve(host: string, port: number, handler: Handler): Promise<Server> {
  return serveLines({ ...LINES, host, port, idleMs: 30_000, failureReply: (_code, message) => ({ ok: false, message }) }, handler);
}

export function call(endpoint: string, req: Message, timeoutMs = 10_000): Promise<Message> {
  const at = endpoint.lastIndexOf(':');
  return callLine(endpoint.slice(0, at), Number(endpoint.slice(at + 1)), req, {
    ...LINES,
    timeoutMs,
    failure: (f) => {
      switch (f.kind) {
        case 'timeout':
          return new RpcError(`${endpoint} did not answer within ${timeoutMs} ms`);
        case 'socket':
          return new RpcError(`cannot reach ${endpoint}: ${f.error.message}`);
        case 'no-reply':
          return new RpcError(`${endpoint} closed the connection without answering`);
        case 'malformed':
          return new RpcError(`${endpoint} answered with something that is not JSON`);
      }
    },
  });
}
