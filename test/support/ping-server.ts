/**
 * A stand-in for a healthchecks ping endpoint on 127.0.0.1, for tests: a real HTTP server that
 * speaks the ping protocol and records every ping.
 *
 * - `GET|HEAD|POST /<check>`: success; `/<check>/start`; `/<check>/fail`; `/<check>/log`;
 *   `/<check>/<0-255>`: an exit status (0 is success, anything else a failure);
 * - `?rid=<uuid>` pairs a start with its end; a rid that is not a UUID is refused (400), as
 *   healthchecks does;
 * - answers `200 OK` (text/plain), or as `setMode` says:
 *
 * ```ts
 * const hc = await startPingServer();
 * const url = hc.url('cronwatch');       // http://127.0.0.1:<port>/cronwatch
 * hc.setMode('hang');                     // read the request, record it, never answer
 * hc.setMode({ status: 500 });            // answer with this status
 * hc.failNext(503, 2);                    // the next two pings get a 503, then the mode applies
 * hc.pings;                               // every ping received, in order
 * await hc.close();                       // stops listening (the port then refuses) and drops hung connections
 * ```
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type PingKind = 'start' | 'success' | 'fail' | 'log' | 'exit';

export interface RecordedPing {
  readonly method: string;
  /** The request path without the query, e.g. `/cronwatch/start`. */
  readonly path: string;
  /** The check's id or slug: the path's first segment. */
  readonly check: string;
  readonly kind: PingKind;
  /** For `/<check>/<n>` pings. */
  readonly exitStatus: number | null;
  readonly rid: string | null;
  readonly contentType: string | null;
  readonly body: string;
  /** The status answered; null when the ping was left hanging. */
  readonly answered: number | null;
}

export type PingMode = 'ok' | 'hang' | { readonly status: number };

export interface PingServer {
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly origin: string;
  /** The ping URL of a check. */
  url(check: string): string;
  readonly pings: readonly RecordedPing[];
  /** The pings of one check, in order. */
  pingsOf(check: string): RecordedPing[];
  setMode(mode: PingMode): void;
  /** The next `count` pings (default 1) are answered with `status`. */
  failNext(status: number, count?: number): void;
  close(): Promise<void>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PATH = /^\/([A-Za-z0-9_.-]+)(?:\/(start|fail|log|\d{1,3}))?\/?$/;

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

export async function startPingServer(): Promise<PingServer> {
  const pings: RecordedPing[] = [];
  const queued: number[] = [];
  let mode: PingMode = 'ok';
  const sockets = new Set<Socket>();

  const server = createServer((request, response) => {
    const answer = (status: number, text: string) => {
      response.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
      response.end(text);
    };
    readBody(request)
      .then((body) => {
        const url = new URL(request.url ?? '/', 'http://127.0.0.1');
        const match = PATH.exec(url.pathname);
        const rid = url.searchParams.get('rid');
        const suffix = match?.[2];
        const exitStatus = suffix !== undefined && /^\d+$/.test(suffix) ? Number(suffix) : null;
        let status = 200;
        let text = 'OK';
        if (!match || !['GET', 'HEAD', 'POST'].includes(request.method ?? '')) {
          status = 400;
          text = 'invalid url format';
        } else if (rid !== null && !UUID.test(rid)) {
          status = 400;
          text = 'invalid rid';
        } else if (exitStatus !== null && exitStatus > 255) {
          status = 400;
          text = 'invalid url format';
        }
        const fault = status === 200 ? (queued.shift() ?? null) : null;
        const hang = status === 200 && fault === null && mode === 'hang';
        if (status === 200 && fault !== null) status = fault;
        else if (status === 200 && typeof mode === 'object') status = mode.status;
        if (status !== 200) text = status >= 500 ? 'server error' : text;
        pings.push({
          method: request.method ?? '',
          path: url.pathname,
          check: match?.[1] ?? '',
          kind:
            suffix === undefined
              ? 'success'
              : exitStatus !== null
                ? 'exit'
                : (suffix as 'start' | 'fail' | 'log'),
          exitStatus,
          rid,
          contentType: request.headers['content-type'] ?? null,
          body,
          answered: hang ? null : status,
        });
        if (!hang) answer(status, text);
      })
      .catch(() => request.socket.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    port,
    origin,
    url: (check) => `${origin}/${check}`,
    pings,
    pingsOf: (check) => pings.filter((ping) => ping.check === check),
    setMode: (next) => {
      mode = next;
    },
    failNext: (status, count = 1) => {
      for (let i = 0; i < count; i += 1) queued.push(status);
    },
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
