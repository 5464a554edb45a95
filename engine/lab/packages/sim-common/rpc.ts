// The mechanism under every simulator's wire protocol: one JSON request line,
// one JSON reply line, then the connection closes. A connection per call keeps
// failure detection honest (a stopped process refuses the next connect, as the
// real product's port does) and needs no pool. What the products differ in
// (the line limit, the idle timeout, the address they bind, the error replies
// and the messages a failed call gives) is passed in by each product's own
// sim/rpc.ts, so their failures read as the product's do.

import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Message = { [k: string]: Json };

export interface LineRules {
  /** The longest line taken; a longer one fails as `message too long`. */
  maxLine: number;
  /**
   * Whether text the peer ends without a newline counts as its line. Without
   * it such a peer fails as `connection closed by peer`, as one that sent nothing.
   */
  unterminatedAtEnd: boolean;
}

/** Calls `done` once: with the peer's first line, or with the Error that stands for none. */
export function readLine(sock: Socket, rules: LineRules, done: (line: string | Error) => void): void {
  let buf = '';
  let finished = false;
  const finish = (v: string | Error): void => {
    if (finished) return;
    finished = true;
    done(v);
  };
  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => {
    if (finished) return;
    buf += chunk;
    const nl = buf.indexOf('\n');
    if (nl >= 0) finish(buf.slice(0, nl));
    else if (buf.length > rules.maxLine) finish(new Error('message too long'));
  });
  sock.on('end', () => finish(rules.unterminatedAtEnd && buf.length > 0 ? buf : new Error('connection closed by peer')));
}

export type RequestFailure = 'BAD_REQUEST' | 'INTERNAL';

export interface ServeOptions extends LineRules {
  /** The address to bind; none binds all addresses. */
  host?: string;
  port: number;
  exclusive?: boolean;
  /** A peer that connects and never speaks must not pin the server open. */
  idleMs: number;
  /** The reply to a line that is not JSON (BAD_REQUEST) and to a handler that threw (INTERNAL). */
  failureReply: (code: RequestFailure, message: string) => Message;
}

export type LineHandler = (req: Message, peer: string) => Promise<Message>;

/** Listen as `o` says; rejects with the bind error (EADDRINUSE, EADDRNOTAVAIL…) so the caller can report it. */
export function serveLines(o: ServeOptions, handler: LineHandler): Promise<Server> {
  const server = createServer((sock) => {
    sock.on('error', () => sock.destroy());
    sock.setTimeout(o.idleMs, () => sock.destroy());
    readLine(sock, o, (line) => {
      if (line instanceof Error) return void sock.destroy();
      let req: Message;
      try {
        req = JSON.parse(line) as Message;
      } catch {
        sock.end(JSON.stringify(o.failureReply('BAD_REQUEST', 'malformed request')) + '\n');
        return;
      }
      handler(req, sock.remoteAddress ?? '').then(
        (resp) => sock.end(JSON.stringify(resp) + '\n'),
        (err: unknown) => sock.end(JSON.stringify(o.failureReply('INTERNAL', err instanceof Error ? err.message : String(err))) + '\n'),
      );
    });
  });
  const listen = { port: o.port, ...(o.host !== undefined ? { host: o.host } : {}), ...(o.exclusive !== undefined ? { exclusive: o.exclusive } : {}) };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** Why a call got no reply; each product words it as its own client would. */
export type CallFailure =
  /** No reply within the time allowed (connecting included). */
  | { kind: 'timeout' }
  /** The connection failed: refused, unroutable, unresolvable, reset. */
  | { kind: 'socket'; error: NodeJS.ErrnoException }
  /** The peer closed or overflowed before a whole line (`reason` says which). */
  | { kind: 'no-reply'; reason: string }
  /** The reply line is not JSON. */
  | { kind: 'malformed' };

/** A failed call. */
export class CallError extends Error {
  constructor(
    message: string,
    /** True when the peer could not be reached at all (refused, timeout, unresolvable). */
    readonly unreachable = true,
  ) {
    super(message);
  }
}

/** Words for socket error codes (ECONNREFUSED …); a code without one keeps node's message. */
export type SocketReasons = Readonly<Record<string, string | ((err: NodeJS.ErrnoException) => string)>>;

export function socketReason(err: NodeJS.ErrnoException, reasons: SocketReasons): string {
  const r = reasons[err.code ?? ''];
  return r === undefined ? err.message : typeof r === 'string' ? r : r(err);
}

/**
 * Failures worded with the peer's host:port (`Timed out after 500ms talking
 * to h:6030`, `connection closed by peer (h:6030)`, `Malformed reply from
 * h:6030`), socket errors by `reasons`; only a malformed reply counts as reached.
 */
export function failureAt(host: string, port: number, timeoutMs: number, reasons: SocketReasons): (f: CallFailure) => CallError {
  return (f) => {
    switch (f.kind) {
      case 'timeout':
        return new CallError(`Timed out after ${timeoutMs}ms talking to ${host}:${port}`);
      case 'socket':
        return new CallError(socketReason(f.error, reasons));
      case 'no-reply':
        return new CallError(`${f.reason} (${host}:${port})`);
      case 'malformed':
        return new CallError(`Malformed reply from ${host}:${port}`, false);
    }
  };
}

export interface CallOptions extends LineRules {
  timeoutMs: number;
  failure: (f: CallFailure) => Error;
}

/** Send `req` to host:port and resolve with the reply; rejects with `o.failure(…)`. */
export function callLine(host: string, port: number, req: Message, o: CallOptions): Promise<Message> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const sock = createConnection({ host, port });
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      fn();
    };
    const fail = (f: CallFailure): void => finish(() => reject(o.failure(f)));
    const timer = setTimeout(() => fail({ kind: 'timeout' }), o.timeoutMs);
    sock.on('error', (error: NodeJS.ErrnoException) => fail({ kind: 'socket', error }));
    // A close that neither ended the stream nor failed it still leaves no reply.
    sock.on('close', () => fail({ kind: 'no-reply', reason: 'connection closed by peer' }));
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    readLine(sock, o, (line) => {
      if (line instanceof Error) return fail({ kind: 'no-reply', reason: line.message });
      let reply: Message;
      try {
        reply = JSON.parse(line) as Message;
      } catch {
        return fail({ kind: 'malformed' });
      }
      finish(() => resolve(reply));
    });
  });
}
