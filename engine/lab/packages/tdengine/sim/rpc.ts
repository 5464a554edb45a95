// The simulator's wire protocol on serverPort: one JSON request line, one
// JSON reply line, then the connection closes. Real TDengine speaks its own
// RPC on 6030 to dnodes and clients alike; one port for both is kept, so a
// firewall or a wrong serverPort breaks the simulated cluster the same way.

import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Message = { [k: string]: Json };
export type Handler = (req: Message, peer: string) => Promise<Message>;

const MAX_LINE = 1024 * 1024;

function readLine(sock: Socket, onLine: (line: string) => void, onFail: (err: Error) => void): void {
  let buf = '';
  let done = false;
  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => {
    if (done) return;
    buf += chunk;
    const nl = buf.indexOf('\n');
    if (nl >= 0) {
      done = true;
      onLine(buf.slice(0, nl));
    } else if (buf.length > MAX_LINE) {
      done = true;
      onFail(new Error('message too long'));
    }
  });
  sock.on('end', () => {
    if (done) return;
    done = true;
    if (buf.length > 0) onLine(buf);
    else onFail(new Error('connection closed by peer'));
  });
}

/** Listen on host:port; rejects with the bind error (EADDRINUSE, …). */
export function serve(host: string, port: number, handler: Handler): Promise<Server> {
  const server = createServer((sock) => {
    sock.on('error', () => sock.destroy());
    // A peer that connects and never speaks must not pin the server open.
    sock.setTimeout(30_000, () => sock.destroy());
    readLine(
      sock,
      (line) => {
        let req: Message;
        try {
          req = JSON.parse(line) as Message;
        } catch {
          sock.end(JSON.stringify({ ok: false, code: 'BAD_REQUEST', message: 'malformed request' }) + '\n');
          return;
        }
        handler(req, sock.remoteAddress ?? '').then(
          (resp) => sock.end(JSON.stringify(resp) + '\n'),
          (err: unknown) => sock.end(JSON.stringify({ ok: false, code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) }) + '\n'),
        );
      },
      () => sock.destroy(),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

export class CallError extends Error {
  constructor(
    message: string,
    /** The peer could not be reached at all (refused, timed out, unresolvable). */
    readonly unreachable: boolean,
  ) {
    super(message);
  }
}

function describe(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'Connection refused';
    case 'EHOSTUNREACH':
      return 'No route to host';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'Unable to resolve FQDN';
    case 'ETIMEDOUT':
      return 'Connection timed out';
    default:
      return err.message;
  }
}

export function call(host: string, port: number, req: Message, timeoutMs: number): Promise<Message> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      fn();
    };
    const sock = createConnection({ host, port });
    const timer = setTimeout(() => finish(() => reject(new CallError(`Timed out after ${timeoutMs}ms talking to ${host}:${port}`, true))), timeoutMs);
    sock.on('error', (err: NodeJS.ErrnoException) => finish(() => reject(new CallError(describe(err), true))));
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    readLine(
      sock,
      (line) =>
        finish(() => {
          try {
            resolve(JSON.parse(line) as Message);
          } catch {
            reject(new CallError(`Malformed reply from ${host}:${port}`, false));
          }
        }),
      (err) => finish(() => reject(new CallError(`${err.message} (${host}:${port})`, true))),
    );
  });
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
