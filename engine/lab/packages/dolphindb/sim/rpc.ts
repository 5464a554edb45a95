// The simulator's wire protocol: one JSON request line, one JSON reply line,
// then the connection closes. It runs on each process's localSite port, the
// one port a real DolphinDB node listens on for its peers, its clients and
// the terminal-mode `dolphindb -remoteHost`, so a wrong port or a firewall
// breaks the simulated cluster the same way.

import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Message = { [k: string]: Json };
export type Handler = (req: Message) => Promise<Message>;

const MAX_MESSAGE = 16 * 1024 * 1024;

function onLine(sock: Socket, done: (line: string | Error) => void): void {
  let buf = '';
  let finished = false;
  const finish = (v: string | Error): void => {
    if (finished) return;
    finished = true;
    done(v);
  };
  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => {
    buf += chunk;
    const nl = buf.indexOf('\n');
    if (nl >= 0) finish(buf.slice(0, nl));
    else if (buf.length > MAX_MESSAGE) finish(new Error('message too long'));
  });
  sock.on('end', () => finish(buf.length > 0 ? buf : new Error('connection closed by peer')));
}

/** Listen on all addresses; rejects with the bind error (EADDRINUSE, …). */
export function serve(port: number, handler: Handler): Promise<Server> {
  const server = createServer((sock) => {
    sock.on('error', () => sock.destroy());
    sock.setTimeout(60_000, () => sock.destroy());
    onLine(sock, (line) => {
      if (line instanceof Error) return void sock.destroy();
      let req: Message;
      try {
        req = JSON.parse(line) as Message;
      } catch {
        sock.end(JSON.stringify({ ok: false, message: 'malformed request' }) + '\n');
        return;
      }
      handler(req).then(
        (resp) => sock.end(JSON.stringify(resp) + '\n'),
        (err: unknown) => sock.end(JSON.stringify({ ok: false, message: err instanceof Error ? err.message : String(err) }) + '\n'),
      );
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, exclusive: true }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

export class CallError extends Error {}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'Connection refused',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  ENOTFOUND: 'Unknown host',
  EAI_AGAIN: 'Unknown host',
  ETIMEDOUT: 'Connection timed out',
};

export function call(host: string, port: number, req: Message, timeoutMs = 10_000): Promise<Message> {
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
    const timer = setTimeout(() => finish(() => reject(new CallError(`Connection timed out after ${timeoutMs} ms`))), timeoutMs);
    sock.on('error', (e: NodeJS.ErrnoException) => finish(() => reject(new CallError(REASONS[e.code ?? ''] ?? e.message))));
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    onLine(sock, (line) =>
      finish(() => {
        if (line instanceof Error) return reject(new CallError(line.message));
        try {
          resolve(JSON.parse(line) as Message);
        } catch {
          reject(new CallError('malformed reply'));
        }
      }),
    );
  });
}
