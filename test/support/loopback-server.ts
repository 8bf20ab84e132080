/**
 * The HTTP plumbing every loopback stand-in shares (Bot API, webhook receiver, healthchecks): a
 * real server on 127.0.0.1 that reads each request's whole body, hands it to a handler, and closes
 * for good.
 *
 * ```ts
 * const server = await startLoopbackServer((request, body, response) => {
 *   response.writeHead(200, { 'content-type': 'text/plain' });
 *   response.end(`got ${body.length} bytes at ${request.url}`);
 * });
 * server.origin;      // http://127.0.0.1:<port>
 * await server.close();
 * ```
 *
 * - `options.port`: listen there (e.g. to come back on the port of a closed server); default a free one.
 * - `options.dropConnection`: asked as each connection opens; true resets it before any request
 *   (a server that is down, as a client sees it: ECONNRESET).
 * - The handler gets the body as UTF-8 text and as the bytes that arrived (for byte limits).
 * - The handler may leave a request unanswered (a hung server) or `request.socket.destroy()` it
 *   (a dropped connection). A request whose body fails to arrive, or whose handler throws or
 *   rejects, has its connection destroyed.
 * - `close()` stops listening, so the port refuses, and destroys every open connection, hung ones
 *   included; calling it again does nothing.
 */

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type LoopbackHandler = (
  request: IncomingMessage,
  body: string,
  response: ServerResponse,
  bytes: Buffer,
) => void | Promise<void>;

export interface LoopbackServerOptions {
  /** Listen on this port; default a free one. */
  readonly port?: number;
  /** Whether to reset a connection as it opens; default never. */
  readonly dropConnection?: () => boolean;
}

export interface LoopbackServer {
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly origin: string;
  /** Stops listening and destroys every open connection. */
  close(): Promise<void>;
}

export async function startLoopbackServer(
  handler: LoopbackHandler,
  options: LoopbackServerOptions = {},
): Promise<LoopbackServer> {
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    readBody(request)
      .then((bytes) => handler(request, bytes.toString('utf8'), response, bytes))
      .catch(() => request.socket.destroy());
  });
  server.on('connection', (socket) => {
    if (options.dropConnection?.()) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        if (!server.listening) {
          resolve();
          return;
        }
        server.close((error) => (error ? reject(error) : resolve()));
        for (const socket of sockets) socket.destroy();
      }),
  };
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}
