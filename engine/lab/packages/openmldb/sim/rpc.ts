// How the simulated servers talk to each other and to the clients: one JSON
// request line, one JSON reply line, on the component's own endpoint (where
// OpenMLDB speaks brpc). A connection per call, so a stopped server is
// noticed at the next call the way a refused brpc connection is.

import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Message = { [k: string]: Json };
export type Handler = (req: Message) => Promise<Message>;

export class RpcError extends Error {}

function onLine(sock: Socket, cb: (line: string) => void): void {
  let buf = '';
  let done = false;
  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => {
    if (done) return;
    buf += chunk;
    const nl = buf.indexOf('\n');
    if (nl >= 0) {
      done = true;
      cb(buf.slice(0, nl));
    } else if (buf.length > 1 << 22) {
      done = true;
      sock.destroy();
    }
  });
}

/** Listen on host:port; rejects with the bind error (EADDRINUSE …) so the server can report it. */
export function serve(host: string, port: number, handler: Handler): Promise<Server> {
  const server = createServer((sock) => {
    sock.on('error', () => sock.destroy());
    sock.setTimeout(30_000, () => sock.destroy());
    onLine(sock, (line) => {
      let req: Message;
      try {
        req = JSON.parse(line) as Message;
      } catch {
        sock.end(JSON.stringify({ ok: false, message: 'malformed request' }) + '\n');
        return;
      }
      handler(req).then(
        (resp) => sock.end(JSON.stringify(resp) + '\n'),
        (e: unknown) => sock.end(JSON.stringify({ ok: false, message: e instanceof Error ? e.message : String(e) }) + '\n'),
      );
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.removeListener('error', reject);
      resolve(server);
    });
  });
}

export function call(endpoint: string, req: Message, timeoutMs = 10_000): Promise<Message> {
  const at = endpoint.lastIndexOf(':');
  const host = endpoint.slice(0, at);
  const port = Number(endpoint.slice(at + 1));
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host, port });
    let settled = false;
    const finish = (err: Error | null, value?: Message): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(() => finish(new RpcError(`${endpoint} did not answer within ${timeoutMs} ms`)), timeoutMs);
    sock.on('error', (e) => finish(new RpcError(`cannot reach ${endpoint}: ${e.message}`)));
    sock.on('close', () => finish(new RpcError(`${endpoint} closed the connection without answering`)));
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    onLine(sock, (line) => {
      try {
        finish(null, JSON.parse(line) as Message);
      } catch {
        finish(new RpcError(`${endpoint} answered with something that is not JSON`));
      }
    });
  });
}
